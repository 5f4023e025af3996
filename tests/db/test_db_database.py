"""Database: the torndb API, rows, errors, paths, iteration, backup, close, backpressure."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import threading

import pytest

from embedtornado import db as dbmod
from embedtornado.db import (
    CorruptDatabaseError,
    Database,
    DatabaseClosedError,
    DatabaseOverloadedError,
    MultipleRowsError,
    Row,
)

SCHEMA = "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE, n INTEGER)"


async def _fresh(path: str, **kw) -> Database:
    db = Database(path, **kw)
    await db.execute(SCHEMA)
    return db


def test_row_access():
    r = Row(a=1, b="x")
    assert r.a == 1 and r["b"] == "x"
    with pytest.raises(AttributeError):
        r.missing  # noqa: B018
    with pytest.raises(KeyError):
        r["missing"]
    assert json.loads(json.dumps(r)) == {"a": 1, "b": "x"}
    assert isinstance(r, dict)


def test_query_get_execute(run, db_path):
    async def main():
        db = await _fresh(db_path)
        try:
            assert db.wal and db.readers == 2
            first = await db.execute("INSERT INTO t (name, n) VALUES (?, ?)", "a", 1)
            second = await db.insert("INSERT INTO t (name, n) VALUES (:name, :n)", name="b", n=2)
            assert (first, second) == (1, 2)
            rows = await db.query("SELECT * FROM t ORDER BY id")
            assert [type(r) for r in rows] == [Row, Row]
            assert [(r.id, r.name, r["n"]) for r in rows] == [(1, "a", 1), (2, "b", 2)]
            assert (await db.get("SELECT name FROM t WHERE id = ?", 2)).name == "b"
            assert await db.get("SELECT * FROM t WHERE id = ?", 99) is None
            assert await db.query("SELECT * FROM t WHERE id = ?", 99) == []
            assert await db.execute_rowcount("UPDATE t SET n = n + 1") == 2
            assert await db.update("UPDATE t SET n = 0 WHERE id = ?", 99) == 0
            last = await db.executemany("INSERT INTO t (name, n) VALUES (?, ?)",
                                        [("c", 3), ("d", 4)])
            assert last == 4
            assert await db.executemany_rowcount("UPDATE t SET n = ? WHERE id = ?",
                                                 [(0, 1), (0, 2), (0, 77)]) == 2
            # read-your-writes: an acknowledged write is visible to the next read
            await db.execute("INSERT INTO t (name, n) VALUES (?, ?)", "e", 5)
            assert (await db.get("SELECT count(*) AS c FROM t")).c == 5
        finally:
            await db.close()

    run(main())


def test_get_more_than_one_row(run1, db_path):
    async def main():
        db = await _fresh(db_path)
        try:
            await db.executemany("INSERT INTO t (name) VALUES (?)", [("a",), ("b",)])
            with pytest.raises(MultipleRowsError, match="more than one row"):
                await db.get("SELECT * FROM t")
            assert (await db.get("SELECT * FROM t WHERE name = ?", "a")).id == 1
        finally:
            await db.close()

    run1(main())


def test_parameters_are_bound_never_formatted(run1, db_path):
    async def main():
        db = await _fresh(db_path)
        try:
            evil = "x'); DROP TABLE t; --"
            await db.execute("INSERT INTO t (name) VALUES (?)", evil)
            assert (await db.get("SELECT name FROM t")).name == evil
            # one call runs one statement: a second one is refused, not run
            with pytest.raises(sqlite3.ProgrammingError):
                await db.execute("DELETE FROM t; DROP TABLE t")
            assert (await db.get("SELECT count(*) AS c FROM t")).c == 1
            with pytest.raises(TypeError, match="not both"):
                await db.query("SELECT * FROM t WHERE id = ?", 1, id=1)
            with pytest.raises(TypeError, match="SQL must be a str"):
                await db.query(b"SELECT 1")
            # torndb's MySQL placeholders get a hint
            with pytest.raises(sqlite3.Error, match="placeholders are"):
                await db.query("SELECT * FROM t WHERE id = %s", 1)
        finally:
            await db.close()

    run1(main())


def test_errors_reach_the_caller(run1, db_path):
    async def main():
        db = await _fresh(db_path)
        try:
            await db.execute("INSERT INTO t (name) VALUES (?)", "a")
            with pytest.raises(dbmod.IntegrityError):
                await db.execute("INSERT INTO t (name) VALUES (?)", "a")
            with pytest.raises(dbmod.OperationalError, match="no such table"):
                await db.query("SELECT * FROM nope")
            # readers are read-only
            with pytest.raises(dbmod.OperationalError, match="readonly|query_only"):
                await db.query("INSERT INTO t (name) VALUES ('z')")
            assert (await db.get("SELECT count(*) AS c FROM t")).c == 1
        finally:
            await db.close()

    run1(main())


def test_group_commit_isolates_a_failing_statement(run1, db_path):
    async def main():
        db = await _fresh(db_path)
        try:
            await db.execute("INSERT INTO t (name) VALUES (?)", "dup")
            names = [f"n{i}" for i in range(60)]
            names[30] = "dup"  # this one violates UNIQUE
            results = await asyncio.gather(
                *[db.execute("INSERT INTO t (name) VALUES (?)", n) for n in names],
                return_exceptions=True)
            errors = [r for r in results if isinstance(r, BaseException)]
            assert len(errors) == 1 and isinstance(errors[0], dbmod.IntegrityError)
            assert isinstance(results[30], dbmod.IntegrityError)
            assert (await db.get("SELECT count(*) AS c FROM t")).c == 60
        finally:
            await db.close()

    run1(main())


def test_begin_by_hand_is_rolled_back(run1, db_path, caplog):
    async def main():
        db = await _fresh(db_path)
        try:
            await db.execute("BEGIN")
            await db.execute("INSERT INTO t (name) VALUES (?)", "x")
            assert (await db.get("SELECT count(*) AS c FROM t")).c == 1
        finally:
            await db.close()

    run1(main())
    assert "left a transaction open" in caplog.text


def test_paths_and_urls(run1, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    async def main():
        for target in ("sqlite:///rel.db", f"sqlite:///{tmp_path}/abs.db", tmp_path / "p.db"):
            db = Database(target)
            await db.execute("CREATE TABLE x (a)")
            await db.close()
        assert (tmp_path / "rel.db").exists() and (tmp_path / "abs.db").exists()
        for mem in (":memory:", "sqlite://", "sqlite:///:memory:"):
            db = Database(mem)
            try:
                assert db.readers == 0 and not db.wal
                await db.execute("CREATE TABLE x (a)")
                await db.execute("INSERT INTO x VALUES (?)", 1)
                assert await db.query("SELECT a FROM x") == [{"a": 1}]
                async for row in db.iter("SELECT a FROM x"):
                    assert row.a == 1
            finally:
                await db.close()

    run1(main())
    for bad, exc in (("sqlite:rel.db", ValueError), ("sqlite:///x.db?mode=ro", ValueError),
                     ("", TypeError), (None, TypeError), ("a\x00b", ValueError)):
        with pytest.raises(exc):
            Database(bad)
    with pytest.raises(ValueError, match="synchronous"):
        Database(":memory:", synchronous="fast")
    with pytest.raises(ValueError, match="readers"):
        Database(":memory:", readers=-1)
    with pytest.raises(sqlite3.OperationalError, match="cannot open"):
        Database(str(tmp_path / "no" / "such" / "dir.db"))


def test_pragmas_applied(run1, db_path):
    async def main():
        db = Database(db_path, synchronous="NORMAL")
        try:
            # the writer's settings, read through a transaction (which runs on the writer)
            async with db.transaction():
                assert (await db.get("PRAGMA synchronous")).synchronous == 1
                assert (await db.get("PRAGMA foreign_keys")).foreign_keys == 1
                assert (await db.get("PRAGMA journal_mode")).journal_mode == "wal"
            assert (await db.get("PRAGMA foreign_keys")).foreign_keys == 1  # readers too
        finally:
            await db.close()
        db = Database(db_path)  # default FULL
        try:
            async with db.transaction():
                assert (await db.get("PRAGMA synchronous")).synchronous == 2
        finally:
            await db.close()

    run1(main())


def test_corrupt_file_is_reported(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not an sqlite database at all" * 200)
    with pytest.raises(CorruptDatabaseError, match="damaged") as info:
        Database(str(bad))
    assert info.value.path == str(bad)
    assert isinstance(info.value, sqlite3.DatabaseError)


def test_quick_check_finds_damage(tmp_path):
    path = tmp_path / "dmg.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA page_size = 1024")
    conn.execute("CREATE TABLE big (id INTEGER PRIMARY KEY, v TEXT)")
    conn.execute("CREATE INDEX big_v ON big (v)")
    conn.executemany("INSERT INTO big (v) VALUES (?)", [(f"value-{i:06d}" * 4,) for i in range(3000)])
    conn.commit()
    conn.close()
    data = bytearray(path.read_bytes())
    # scribble over pages in the middle of the file (b-tree pages of table and index)
    for page in range(10, len(data) // 1024 - 2, 7):
        off = page * 1024 + 100
        data[off:off + 200] = b"\xff" * 200
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptDatabaseError):
        Database(str(path))


def test_iter_batches_and_early_exit(run1, db_path):
    async def main():
        db = await _fresh(db_path, readers=1)
        try:
            await db.executemany("INSERT INTO t (n) VALUES (?)", [(i,) for i in range(1000)])
            seen = [row.n async for row in db.iter("SELECT n FROM t ORDER BY n", batch=64)]
            assert seen == list(range(1000))
            # exact multiple of the batch size
            seen = [row.n async for row in db.iter("SELECT n FROM t WHERE n < 128", batch=64)]
            assert len(seen) == 128
            assert [r async for r in db.iter("SELECT * FROM t WHERE n < 0")] == []
            # leaving early frees the only reader thread for the next query
            async with db.iter("SELECT n FROM t ORDER BY n", batch=10) as rows:
                async for row in rows:
                    if row.n == 15:
                        break
            assert (await db.get("SELECT count(*) AS c FROM t")).c == 1000
            it = db.iter("SELECT n FROM t", batch=10)
            await it.__anext__()
            del it  # dropped without closing: its thread is released too
            assert (await db.get("SELECT max(n) AS m FROM t")).m == 999
            with pytest.raises(ValueError):
                db.iter("SELECT 1", batch=0)
            with pytest.raises(dbmod.OperationalError):
                async for _ in db.iter("SELECT * FROM nope"):
                    pass
        finally:
            await db.close()

    run1(main())


def test_iter_abandoned_times_out(run1, db_path):
    async def main():
        db = await _fresh(db_path, readers=1, iter_timeout=0.2)
        try:
            await db.executemany("INSERT INTO t (n) VALUES (?)", [(i,) for i in range(100)])
            it = db.iter("SELECT n FROM t", batch=10)
            assert (await it.__anext__()).n is not None
            # the consumer stalls: after iter_timeout the reader serves others again
            assert (await db.get("SELECT count(*) AS c FROM t")).c == 100
            for _ in range(9):
                await it.__anext__()
            with pytest.raises(DatabaseClosedError, match="abandoned"):
                await it.__anext__()
        finally:
            await db.close()

    run1(main())


def test_close_ends_open_iteration(run1, db_path):
    async def main():
        db = await _fresh(db_path, readers=1)
        await db.executemany("INSERT INTO t (n) VALUES (?)", [(i,) for i in range(100)])
        it = db.iter("SELECT n FROM t", batch=10)
        await it.__anext__()
        await asyncio.wait_for(db.close(), 10)
        for _ in range(9):
            await it.__anext__()  # already buffered
        with pytest.raises(DatabaseClosedError):
            await it.__anext__()

    run1(main())


def test_loop_not_blocked_by_slow_query(run, db_path):
    """A timer keeps firing while a reader runs a query that takes a while."""
    slow = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?) "
            "SELECT count(*) AS n FROM c")

    async def main():
        db = Database(db_path)
        try:
            loop = asyncio.get_running_loop()
            ticks = 0
            done = False

            def tick():
                nonlocal ticks
                ticks += 1
                if not done:
                    loop.call_later(0.005, tick)

            n = 200_000
            while True:  # grow the query until it spans several ticks (machine speed varies)
                ticks = 0
                loop.call_soon(tick)
                row = await db.get(slow, n)
                assert row.n == n
                if ticks >= 5 or n >= 50_000_000:
                    break
                n *= 4
            done = True
            assert ticks >= 5
            # the same for a write on the writer thread
            ticks = 0
            done = False
            loop.call_soon(tick)
            await db.execute("CREATE TABLE big AS " + slow.replace("count(*) AS n", "x"), n)
            done = True
            assert ticks >= 5
        finally:
            await db.close()

    run(main())


def test_close_drains_queued_writes(run, db_path):
    async def main():
        db = await _fresh(db_path, queue_size=8)
        tasks = [asyncio.ensure_future(db.execute("INSERT INTO t (n) VALUES (?)", i))
                 for i in range(300)]
        await asyncio.sleep(0)  # every task has entered the database (most wait for a slot)
        await db.close()
        results = await asyncio.gather(*tasks)
        assert sorted(results) == list(range(1, 301))
        with pytest.raises(DatabaseClosedError):
            await db.execute("INSERT INTO t (n) VALUES (1)")
        with pytest.raises(DatabaseClosedError):
            await db.query("SELECT 1")
        await db.close()  # again: fine
        assert db.closed

    run(main())
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 300
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    assert not os.path.exists(db_path + "-wal") or os.path.getsize(db_path + "-wal") == 0


def test_backpressure_bounds_waiting(run1, db_path):
    async def main():
        db = await _fresh(db_path, readers=1, queue_size=2, max_waiting=5)
        try:
            gate = threading.Event()
            # hold the writer: a transaction keeps it busy until we let it go
            release = asyncio.Event()

            async def hold():
                async with db.transaction():
                    gate.set()
                    await release.wait()

            holder = asyncio.ensure_future(hold())
            while not gate.is_set():
                await asyncio.sleep(0.01)
            queued = [asyncio.ensure_future(db.execute("INSERT INTO t (n) VALUES (?)", i))
                      for i in range(7)]  # 2 in the queue, 5 waiting for a slot
            await asyncio.sleep(0.05)
            with pytest.raises(DatabaseOverloadedError):
                await db.execute("INSERT INTO t (n) VALUES (99)")
            # cancelled waiters give their place back
            queued[-1].cancel()
            release.set()
            await holder
            results = await asyncio.gather(*queued, return_exceptions=True)
            assert isinstance(results[-1], asyncio.CancelledError)
            assert all(isinstance(r, int) for r in results[:-1])
            assert (await db.get("SELECT count(*) AS c FROM t")).c == 6
            # and the gate is whole again: a burst bigger than the queue still completes
            await asyncio.gather(*[db.execute("INSERT INTO t (n) VALUES (?)", i)
                                   for i in range(5)])
        finally:
            await db.close()

    run1(main())


def test_backup(run1, db_path, tmp_path):
    async def main():
        db = await _fresh(db_path)
        try:
            await db.executemany("INSERT INTO t (n) VALUES (?)", [(i,) for i in range(500)])
            target = tmp_path / "copy.db"
            target.write_bytes(b"old backup")
            await db.backup(target)
            with pytest.raises(ValueError, match="itself"):
                await db.backup(db_path)
        finally:
            await db.close()
        copy = sqlite3.connect(target)
        assert copy.execute("SELECT count(*) FROM t").fetchone()[0] == 500
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        copy.close()
        assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []

    run1(main())


def test_open_coroutine_and_repr(run1, db_path):
    async def main():
        db = await Database.open(db_path, readers=1)
        assert "open" in repr(db) and db.readers == 1
        await db.close()
        assert "closed" in repr(db)

    run1(main())


def test_unclosed_database_warns(db_path):
    db = Database(db_path)
    with pytest.warns(ResourceWarning, match="unclosed"):
        db.__del__()
    db._closing = True  # the threads were told to stop by __del__


def test_open_for_app_and_default_path(run1, tmp_path, monkeypatch):
    monkeypatch.setenv("STATE_DIRECTORY", f"{tmp_path}:/elsewhere")
    assert dbmod.default_path() == str(tmp_path / "embedtornado.db")
    monkeypatch.delenv("STATE_DIRECTORY")
    assert dbmod.default_path("x.db") == "/var/lib/embedtornado/x.db"
    with pytest.raises(ValueError):
        dbmod.default_path("a/b.db")

    mig = tmp_path / "mig"
    mig.mkdir()
    (mig / "0001_t.sql").write_text(SCHEMA + ";")

    class App:
        def __init__(self):
            self.settings = {}

    app = App()
    db = dbmod.open_for_app(app, tmp_path / "app.db", migrations={"core": mig}, readers=1)

    async def main():
        assert app.db is db and app.settings["db"] is db
        await db.execute("INSERT INTO t (n) VALUES (1)")
        await db.close()

    run1(main())
