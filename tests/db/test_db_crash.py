"""A process killed with SIGKILL mid-burst leaves an intact database with every acknowledged write."""

from __future__ import annotations

import os
import select
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from embedtornado.db import Database

CHILD = textwrap.dedent("""
    import asyncio, itertools, os, sys
    import embedtornado.loop
    from embedtornado.db import Database

    async def main(path):
        db = Database(path, synchronous="FULL")
        await db.execute("CREATE TABLE IF NOT EXISTS w (id INTEGER PRIMARY KEY, payload TEXT)")
        await db.execute("CREATE TABLE IF NOT EXISTS pairs (grp INTEGER, side TEXT)")
        counter = itertools.count(1)

        async def writer():
            while True:
                n = next(counter)
                if n % 5 == 0:
                    async with db.transaction():
                        await db.execute("INSERT INTO pairs VALUES (?, 'a')", n)
                        await db.execute("INSERT INTO pairs VALUES (?, 'b')", n)
                    os.write(1, b"pair %d\\n" % n)
                else:
                    rowid = await db.execute("INSERT INTO w (id, payload) VALUES (?, ?)",
                                             n, "x" * 200)
                    os.write(1, b"row %d\\n" % rowid)

        await asyncio.gather(*[writer() for _ in range(40)])

    embedtornado.loop.run(main(sys.argv[1]))
""")

ACKS_BEFORE_KILL = 400


def test_sigkill_mid_write_burst(tmp_path):
    path = str(tmp_path / "crash.db")
    child = subprocess.Popen([sys.executable, "-c", CHILD, path], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    rows: set[int] = set()
    pairs: set[int] = set()
    buf = b""
    deadline = time.monotonic() + 60
    try:
        while len(rows) + len(pairs) < ACKS_BEFORE_KILL:
            assert time.monotonic() < deadline, "the child acknowledged too few writes"
            ready, _, _ = select.select([child.stdout], [], [], 1.0)
            if not ready:
                assert child.poll() is None, child.stderr.read().decode()
                continue
            chunk = os.read(child.stdout.fileno(), 65536)
            assert chunk, child.stderr.read().decode()
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                kind, n = line.split()
                (rows if kind == b"row" else pairs).add(int(n))
        os.kill(child.pid, signal.SIGKILL)  # in the middle of the burst
        # what was acknowledged before the kill landed still counts
        rest = child.stdout.read()
        for line in (buf + rest).split(b"\n"):
            if line.strip():
                kind, n = line.split()
                (rows if kind == b"row" else pairs).add(int(n))
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
        child.stdout.close()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL

    conn = sqlite3.connect(path)  # recovers the WAL as any reader would
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        stored = {r[0] for r in conn.execute("SELECT id FROM w")}
        assert rows <= stored, f"lost acknowledged writes: {sorted(rows - stored)[:10]}"
        groups = dict(conn.execute("SELECT grp, count(*) FROM pairs GROUP BY grp").fetchall())
        assert all(c == 2 for c in groups.values()), "a transaction was half applied"
        assert pairs <= set(groups), "lost acknowledged transactions"
    finally:
        conn.close()
    db = Database(path, integrity_check="full")  # opens cleanly after the crash
    db.close_blocking()


@pytest.mark.parametrize("level", ["NORMAL", "OFF"])
def test_synchronous_levels_open(tmp_path, level):
    db = Database(str(tmp_path / "s.db"), synchronous=level)
    db.close_blocking()
