"""Database load benchmark: embedtornado.db beside Tornado 6.6.1 with blocking sqlite3 calls.

    python bench/bench_db.py                       # 5 s x 3 rounds per scenario (~2 min)
    python bench/bench_db.py --duration 3 --repeats 1

Two servers, each a subprocess of this script (``--serve ours|tornado``)
pinned to core 0 with ``taskset -c 0`` (the database threads of ours share
that core with its loop); ``wrk -t1`` runs pinned to core 1:

``ours``
    embedtornado.web on embedtornado's loop, ``embedtornado.db.Database``
    (WAL, ``synchronous=FULL``, one writer thread with group commit, two
    reader threads); handlers ``await db.get(...)`` / ``await db.execute(...)``.
``tornado``
    Tornado 6.6.1 on asyncio, one ``sqlite3`` connection (WAL,
    ``synchronous=FULL``, autocommit) called directly from the handler: the
    usual blocking way, since Tornado leaves databases to the application.

Each server gets a fresh database file in a temp directory (same file
system for both), pre-filled with 1,000 rows. Scenarios, each run
round-robin over the servers ``--repeats`` times after a 1 s warm-up:

``read``      ``GET /read``: one row by random primary key, answered as JSON (wrk -c50).
``insert``    ``GET /insert``: one INSERT, committed (and fsynced) before the answer (wrk -c50).
``hello+insert``  while ``wrk -c50`` drives ``/insert``, a second ``wrk -c1 --latency``
              measures ``GET /hello`` (no database): how long a request that does not
              touch the database waits while writes run. A blocking call stalls the
              whole loop; ours should stay near the idle figure (printed too).

Printed: median req/s and p99 per server, the ratio ours/Tornado, and the
hello latency percentiles. The machine may be shared with other work:
compare the ratios from one run, not absolute numbers across runs.
Timings live here, never in tests.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve()
SRC = HERE.parent.parent / "src"
SERVER_CORE = "0"
CLIENT_CORE = "1"
ROWS = 1000
SERVERS = ("ours", "tornado")
LABELS = {"ours": "embedtornado.db", "tornado": "Tornado 6.6.1 + blocking sqlite3"}


# --- the servers (run as ``bench_db.py --serve NAME --port P --db PATH``) ---------------


def serve_ours(port: int, path: str) -> None:
    sys.path.insert(0, str(SRC))
    import asyncio
    import random

    import embedtornado.loop
    import embedtornado.web as web
    from embedtornado.db import Database

    class Read(web.RequestHandler):
        async def get(self) -> None:
            row = await self.application.db.get(
                "SELECT id, name, value FROM items WHERE id = ?", random.randint(1, ROWS))
            self.write(row)

    class Insert(web.RequestHandler):
        async def get(self) -> None:
            rowid = await self.application.db.execute(
                "INSERT INTO log (t, msg) VALUES (?, ?)", time.time(), "request")
            self.write({"id": rowid})

    class Hello(web.RequestHandler):
        def get(self) -> None:
            self.write("Hello World!")

    async def main() -> None:
        app = web.Application([("/read", Read), ("/insert", Insert), ("/hello", Hello)])
        app.db = Database(path, synchronous="FULL")
        app.listen(port, "127.0.0.1")
        print("ready", flush=True)
        await asyncio.Event().wait()

    embedtornado.loop.run(main())


def serve_tornado(port: int, path: str) -> None:
    import asyncio
    import random

    import tornado.web

    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")

    class Read(tornado.web.RequestHandler):
        def get(self) -> None:
            cur = conn.execute("SELECT id, name, value FROM items WHERE id = ?",
                               (random.randint(1, ROWS),))
            names = [d[0] for d in cur.description]
            self.write(dict(zip(names, cur.fetchone())))

    class Insert(tornado.web.RequestHandler):
        def get(self) -> None:
            cur = conn.execute("INSERT INTO log (t, msg) VALUES (?, ?)", (time.time(), "request"))
            self.write({"id": cur.lastrowid})

    class Hello(tornado.web.RequestHandler):
        def get(self) -> None:
            self.write("Hello World!")

    async def main() -> None:
        app = tornado.web.Application([("/read", Read), ("/insert", Insert), ("/hello", Hello)])
        app.listen(port, "127.0.0.1")
        print("ready", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


# --- the driver ------------------------------------------------------------------------


def ensure_tools() -> None:
    if shutil.which("wrk") is None:
        if os.geteuid() == 0 and shutil.which("apt-get"):
            print("installing wrk from apt", flush=True)
            if subprocess.call(["apt-get", "install", "-y", "wrk"]) != 0:
                subprocess.call(["apt-get", "update"])
                subprocess.call(["apt-get", "install", "-y", "wrk"])
        if shutil.which("wrk") is None:
            sys.exit("bench_db: wrk is required (sudo apt-get install -y wrk)")
    try:
        import tornado
        ok = tornado.version == "6.6.1"
    except ImportError:
        ok = False
    if not ok:
        print("installing tornado==6.6.1 with pip", flush=True)
        subprocess.check_call([sys.executable, "-m", "pip", "install", "tornado==6.6.1"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare_db(path: str) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, value REAL)")
    conn.execute("CREATE TABLE log (id INTEGER PRIMARY KEY, t REAL, msg TEXT)")
    conn.executemany("INSERT INTO items (name, value) VALUES (?, ?)",
                     [(f"item-{i}", i * 1.5) for i in range(ROWS)])
    conn.commit()
    conn.close()


def pin(core: str) -> list[str]:
    if shutil.which("taskset") and len(os.sched_getaffinity(0)) > 1:
        return ["taskset", "-c", core]
    return []


class Server:
    def __init__(self, name: str, workdir: str) -> None:
        self.name = name
        self.port = free_port()
        self.db = os.path.join(workdir, f"{name}.db")
        prepare_db(self.db)
        self.log = open(os.path.join(workdir, f"{name}.log"), "w+")  # noqa: SIM115
        env = dict(os.environ, PYTHONPATH=str(SRC))
        self.proc = subprocess.Popen(
            [*pin(SERVER_CORE), sys.executable, str(HERE), "--serve", name,
             "--port", str(self.port), "--db", self.db],
            stdout=subprocess.PIPE, stderr=self.log, env=env, start_new_session=True, text=True)
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if line.strip() != "ready":
            self.stop()
            self.log.seek(0)
            raise RuntimeError(f"{name} did not start: {self.log.read()[-2000:]}")
        for path in ("/hello", "/read", "/insert"):
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as r:
                assert r.status == 200, (name, path, r.status)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if self.proc.poll() is not None:
                break
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                continue
        self.log.close()


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    if not m:
        raise ValueError(text)
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(out: str) -> dict[str, float]:
    res: dict[str, float] = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    res["rps"] = float(m.group(1)) if m else 0.0
    for pct in ("50", "90", "99"):
        m = re.search(rf"^\s+{pct}(?:\.000)?%\s+(\S+)", out, re.M)
        if m:
            res[f"p{pct}"] = _ms(m.group(1))
    m = re.search(r"Latency\s+\S+\s+\S+\s+(\S+)", out)
    if m:
        res["max"] = _ms(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    res["non2xx"] = float(m.group(1)) if m else 0.0
    m = re.search(r"Socket errors:.*", out)
    res["sockerr"] = 1.0 if m else 0.0
    return res


def wrk(url: str, seconds: float, connections: int) -> subprocess.Popen[str]:
    return subprocess.Popen([*pin(CLIENT_CORE), "wrk", "-t1", f"-c{connections}",
                             f"-d{seconds}s", "--latency", url],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def run_wrk(url: str, seconds: float, connections: int) -> dict[str, float]:
    out, _ = wrk(url, seconds, connections).communicate()
    return parse_wrk(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=float, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--serve", choices=SERVERS)
    ap.add_argument("--port", type=int)
    ap.add_argument("--db")
    args = ap.parse_args()
    if args.serve:
        (serve_ours if args.serve == "ours" else serve_tornado)(args.port, args.db)
        return

    ensure_tools()
    d, c = int(args.duration), args.connections
    load = subprocess.run(["cat", "/proc/loadavg"], capture_output=True, text=True).stdout
    print(f"bench_db: {d}s x {args.repeats} rounds, wrk -c{c}, server on core {SERVER_CORE}, "
          f"wrk on core {CLIENT_CORE}; load average {load.split()[:3]} (a shared machine: "
          f"read the ratios)", flush=True)
    workdir = tempfile.mkdtemp(prefix="bench_db-")
    servers: dict[str, Server] = {}
    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    try:
        for name in SERVERS:
            servers[name] = Server(name, workdir)
        # idle hello latency, for reference
        for name, srv in servers.items():
            run_wrk(srv.url("/hello"), 1, 1)
            results[("hello idle", name)] = [run_wrk(srv.url("/hello"), d, 1)]
        for scenario, path in (("read", "/read"), ("insert", "/insert")):
            for srv in servers.values():
                run_wrk(srv.url(path), 1, c)  # warm-up
            for _ in range(args.repeats):
                for name, srv in servers.items():
                    results.setdefault((scenario, name), []).append(run_wrk(srv.url(path), d, c))
        for _ in range(args.repeats):
            for name, srv in servers.items():
                writes = wrk(srv.url("/insert"), d + 1, c)
                time.sleep(0.5)
                hello = run_wrk(srv.url("/hello"), d - 1 if d > 2 else 1, 1)
                w_out, _ = writes.communicate()
                results.setdefault(("hello+insert", name), []).append(hello)
                results.setdefault(("insert under probe", name), []).append(parse_wrk(w_out))
    finally:
        for srv in servers.values():
            srv.stop()
        rows = {}
        for name in SERVERS:
            db = os.path.join(workdir, f"{name}.db")
            if os.path.exists(db):
                conn = sqlite3.connect(db)
                rows[name] = conn.execute("SELECT count(*) FROM log").fetchone()[0]
                conn.close()
        shutil.rmtree(workdir, ignore_errors=True)

    def med(scenario: str, name: str, key: str) -> float:
        vals = [r.get(key, float("nan")) for r in results.get((scenario, name), [])]
        return statistics.median(vals) if vals else float("nan")

    print()
    print(f"{'scenario':<22}{'server':<36}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}"
          f"{'max ms':>10}  runs req/s")
    for scenario in ("read", "insert", "hello idle", "hello+insert", "insert under probe"):
        for name in SERVERS:
            runs = results.get((scenario, name), [])
            flags = ""
            if any(r["non2xx"] or r["sockerr"] for r in runs):
                flags = "  (errors/non-2xx reported by wrk)"
            print(f"{scenario:<22}{LABELS[name]:<36}{med(scenario, name, 'rps'):>10.0f}"
                  f"{med(scenario, name, 'p50'):>10.2f}{med(scenario, name, 'p99'):>10.2f}"
                  f"{med(scenario, name, 'max'):>10.1f}  "
                  f"{', '.join(format(r['rps'], '.0f') for r in runs)}{flags}")
    print()
    for scenario in ("read", "insert"):
        ratio = med(scenario, "ours", "rps") / med(scenario, "tornado", "rps")
        print(f"{scenario}: embedtornado.db / Tornado req/s = {ratio:.2f}x")
    for key in ("p50", "p99"):
        ours, theirs = med("hello+insert", "ours", key), med("hello+insert", "tornado", key)
        print(f"hello {key} while inserts run: ours {ours:.2f} ms, Tornado {theirs:.2f} ms "
              f"(Tornado / ours = {theirs / ours:.1f}x)")
    print(f"rows inserted in total: {rows}")


if __name__ == "__main__":
    main()
