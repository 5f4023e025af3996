"""Handlers using ``self.application.db`` under concurrent HTTP load: every request succeeds."""

from __future__ import annotations

import asyncio
import json

from embedtornado import web
from embedtornado import db as dbmod
from embedtornado.db import Migration
from rawhttp import ServerHarness

SCHEMA = [Migration(1, "0001_users", """
    CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, visits INTEGER NOT NULL);
""")]


class UserHandler(web.RequestHandler):
    async def get(self, uid):
        row = await self.application.db.get("SELECT * FROM users WHERE id = ?", int(uid))
        if row is None:
            raise web.HTTPError(404)
        self.write(row)

    async def post(self, name):
        try:
            uid = await self.application.db.execute(
                "INSERT INTO users (name, visits) VALUES (?, 0)", name)
        except dbmod.IntegrityError:
            raise web.HTTPError(409) from None
        self.write({"id": uid})


class VisitHandler(web.RequestHandler):
    async def post(self, uid):
        db = self.application.db
        async with db.transaction():
            await db.execute("UPDATE users SET visits = visits + 1 WHERE id = ?", int(uid))
            row = await db.get("SELECT visits FROM users WHERE id = ?", int(uid))
        self.write({"visits": row.visits})


def test_concurrent_handlers(tmp_path):
    app = web.Application([(r"/user/(\d+)", UserHandler), (r"/user/([a-z0-9]+)", UserHandler),
                           (r"/visit/(\d+)", VisitHandler)])
    db = dbmod.open_for_app(app, tmp_path / "web.db", migrations={"test": SCHEMA})
    with ServerHarness(app) as h:
        async def call(method, path):
            body = b"" if method == "GET" else b"x"
            resp = await h.request(f"{method} {path} HTTP/1.1\r\nHost: a\r\n"
                                   f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            return resp.code, (json.loads(resp.body) if resp.code == 200 else None)

        async def main():
            created = await asyncio.gather(*[call("POST", f"/user/u{i}") for i in range(20)])
            assert all(code == 200 for code, _ in created)
            assert (await call("POST", "/user/u0"))[0] == 409
            jobs = []
            for k in range(150):
                uid = 1 + k % 20
                if k % 3 == 0:
                    jobs.append(call("POST", f"/visit/{uid}"))
                elif k % 3 == 1:
                    jobs.append(call("GET", f"/user/{uid}"))
                else:
                    jobs.append(call("POST", f"/user/n{k}"))
            results = await asyncio.gather(*jobs)
            assert [code for code, _ in results] == [200] * 150
            assert (await call("GET", "/user/9999"))[0] == 404
            total = await db.get("SELECT sum(visits) AS v, count(*) AS n FROM users")
            assert (total.v, total.n) == (50, 20 + 50)
            await db.close()

        h.run(main(), timeout=60)
