"""Transactions and concurrency: commit, rollback, isolation, savepoints, timeouts, many tasks."""

from __future__ import annotations

import asyncio
import contextvars
import random
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from embedtornado.db import Database, DatabaseClosedError, TransactionError

SCHEMA = "CREATE TABLE acct (id INTEGER PRIMARY KEY, owner TEXT, balance INTEGER NOT NULL)"


async def _count(db, where="1"):
    return (await db.get(f"SELECT count(*) AS c FROM acct WHERE {where}")).c


def test_commit_and_rollback(run, db_path):
    async def main():
        db = Database(db_path)
        try:
            await db.execute(SCHEMA)
            async with db.transaction() as tx:
                await db.execute("INSERT INTO acct (owner, balance) VALUES (?, ?)", "a", 10)
                await tx.execute("INSERT INTO acct (owner, balance) VALUES (?, ?)", "b", 20)
                # inside: the transaction sees its own writes ...
                assert await _count(db) == 2
                # ... a reader outside it does not (other task, other context)
                loop = asyncio.get_running_loop()
                outside = await contextvars.Context().run(loop.create_task, _count(db))
                assert outside == 0
            assert await _count(db) == 2

            with pytest.raises(ZeroDivisionError):
                async with db.transaction():
                    await db.execute("UPDATE acct SET balance = balance - 5 WHERE owner = 'a'")
                    await db.execute("DELETE FROM acct WHERE owner = 'b'")
                    1 / 0  # noqa: B018
            rows = await db.query("SELECT owner, balance FROM acct ORDER BY owner")
            assert [(r.owner, r.balance) for r in rows] == [("a", 10), ("b", 20)]

            # a failing statement inside: the caller sees it and decides; raising rolls back
            with pytest.raises(sqlite3.IntegrityError):
                async with db.transaction():
                    await db.execute("INSERT INTO acct (owner, balance) VALUES ('c', 1)")
                    await db.execute("INSERT INTO acct (owner, balance) VALUES ('d', NULL)")
            assert await _count(db) == 2
        finally:
            await db.close()

    run(main())


def test_task_outside_the_transaction_does_not_join(run1, db_path):
    async def main():
        db = Database(db_path)
        try:
            await db.execute(SCHEMA)
            other_done = asyncio.Event()

            async def other():
                await db.execute("INSERT INTO acct (owner, balance) VALUES ('other', 1)")
                other_done.set()

            async with db.transaction():
                await db.execute("INSERT INTO acct (owner, balance) VALUES ('tx', 1)")
                # a task created here would inherit the transaction: start the
                # outsider in an empty context
                loop = asyncio.get_running_loop()
                t = contextvars.Context().run(loop.create_task, other())
                await asyncio.sleep(0.05)
                assert not other_done.is_set()  # it waits for the writer
            await t
            assert await _count(db) == 2
        finally:
            await db.close()

    run1(main())


def test_tx_methods_join_from_any_task(run1, db_path):
    async def main():
        db = Database(db_path)
        try:
            await db.execute(SCHEMA)
            with pytest.raises(RuntimeError):
                async with db.transaction() as tx:
                    loop = asyncio.get_running_loop()
                    # a task with an empty context still joins through the tx object
                    await contextvars.Context().run(
                        loop.create_task,
                        tx.execute("INSERT INTO acct (owner, balance) VALUES ('t', 1)"))
                    assert (await tx.get("SELECT count(*) AS c FROM acct")).c == 1
                    assert [r.owner async for r in tx.iter("SELECT owner FROM acct")] == ["t"]
                    raise RuntimeError("roll back")
            assert await _count(db) == 0
            with pytest.raises(AttributeError):
                tx.backup  # noqa: B018
        finally:
            await db.close()

    run1(main())


def test_nested_transaction_is_a_savepoint(run1, db_path):
    async def main():
        db = Database(db_path)
        try:
            await db.execute(SCHEMA)
            async with db.transaction():
                await db.execute("INSERT INTO acct (owner, balance) VALUES ('outer', 1)")
                with pytest.raises(KeyError):
                    async with db.transaction():
                        await db.execute("INSERT INTO acct (owner, balance) VALUES ('in', 1)")
                        raise KeyError
                async with db.transaction():
                    await db.execute("INSERT INTO acct (owner, balance) VALUES ('in2', 1)")
            rows = await db.query("SELECT owner FROM acct ORDER BY id")
            assert [r.owner for r in rows] == ["outer", "in2"]
        finally:
            await db.close()

    run1(main())


def test_transaction_misuse(run1, db_path):
    async def main():
        db = Database(db_path)
        try:
            await db.execute(SCHEMA)
            tx = db.transaction()
            async with tx:
                await db.execute("INSERT INTO acct (owner, balance) VALUES ('a', 1)")
                with pytest.raises(TransactionError, match="itself"):
                    await db.close()
                rows = [r async for r in db.iter("SELECT * FROM acct")]
                assert len(rows) == 1
            with pytest.raises(TransactionError, match="only once"):
                async with tx:
                    pass
        finally:
            await db.close()
        db = Database(db_path, transaction_timeout=0.5)
        try:
            # idle for longer than transaction_timeout: rolled back, writer freed
            with pytest.raises(TransactionError, match="timed out"):
                async with db.transaction():
                    await db.execute("INSERT INTO acct (owner, balance) VALUES ('b', 1)")
                    await asyncio.sleep(1.5)
                    await db.execute("INSERT INTO acct (owner, balance) VALUES ('c', 1)")
            assert await _count(db) == 1
            await db.execute("INSERT INTO acct (owner, balance) VALUES ('d', 1)")
            assert await _count(db) == 2
        finally:
            await db.close()
        with pytest.raises(DatabaseClosedError):
            async with db.transaction():
                pass

    run1(main())


def test_close_does_not_wait_for_a_stuck_transaction(run1, db_path):
    async def main():
        db = Database(db_path, transaction_timeout=0.3)
        await db.execute(SCHEMA)
        inside = asyncio.Event()

        async def stuck():
            async with db.transaction():
                await db.execute("INSERT INTO acct (owner, balance) VALUES ('x', 1)")
                inside.set()
                await asyncio.Event().wait()  # never resumes on its own

        t = asyncio.ensure_future(stuck())
        await inside.wait()
        await asyncio.wait_for(db.close(), 20)  # the writer gave up on it after 0.3 s
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t

    run1(main())
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT count(*) FROM acct").fetchone()[0] == 0
    conn.close()


def test_cancelled_transaction_rolls_back(run1, db_path):
    async def main():
        db = Database(db_path)
        try:
            await db.execute(SCHEMA)
            started = asyncio.Event()

            async def work():
                async with db.transaction():
                    await db.execute("INSERT INTO acct (owner, balance) VALUES ('x', 1)")
                    started.set()
                    await asyncio.sleep(30)

            t = asyncio.ensure_future(work())
            await started.wait()
            t.cancel()
            with pytest.raises(asyncio.CancelledError):
                await t
            assert await _count(db) == 0
            await db.execute("INSERT INTO acct (owner, balance) VALUES ('y', 1)")
            assert await _count(db) == 1
        finally:
            await db.close()

    run1(main())


def test_many_tasks_read_and_write_at_once(run, db_path):
    """200 concurrent 'handlers' mixing reads, writes and transfers: no error reaches them."""

    async def main():
        db = Database(db_path, queue_size=32)
        try:
            await db.execute(SCHEMA)
            await db.executemany("INSERT INTO acct (owner, balance) VALUES (?, ?)",
                                 [(f"o{i}", 100) for i in range(20)])
            rng = random.Random(7)

            async def handler(k):
                kind = k % 4
                if kind == 0:
                    await db.execute("INSERT INTO acct (owner, balance) VALUES (?, 0)", f"n{k}")
                elif kind == 1:
                    rows = await db.query("SELECT * FROM acct WHERE balance >= ?", 0)
                    assert rows
                elif kind == 2:
                    a, b = rng.sample(range(1, 21), 2)
                    async with db.transaction():
                        await db.execute("UPDATE acct SET balance = balance - 1 WHERE id = ?", a)
                        await asyncio.sleep(0)
                        await db.execute("UPDATE acct SET balance = balance + 1 WHERE id = ?", b)
                else:
                    total = await db.get("SELECT sum(balance) AS s FROM acct")
                    assert total.s == 2000  # transfers are atomic: the sum never drifts
                return k

            done = await asyncio.gather(*[handler(k) for k in range(200)])
            assert done == list(range(200))
            assert await _count(db) == 20 + 50
            assert (await db.get("SELECT sum(balance) AS s FROM acct")).s == 2000
        finally:
            await db.close()

    run(main())


def test_other_process_holding_the_lock(run1, db_path):
    """Another process writing (SQLite's file lock) only delays us: busy_timeout absorbs it."""
    sqlite3.connect(db_path).close()

    async def main():
        db = Database(db_path, busy_timeout=20)
        try:
            await db.execute(SCHEMA)
            child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
                import sqlite3, sys, time
                c = sqlite3.connect({db_path!r}, isolation_level=None, timeout=20)
                c.execute("BEGIN IMMEDIATE")
                c.execute("INSERT INTO acct (owner, balance) VALUES ('child', 1)")
                print("locked", flush=True)
                time.sleep(0.5)
                c.execute("COMMIT")
            """)], stdout=subprocess.PIPE, text=True)
            try:
                loop = asyncio.get_running_loop()
                line = await loop.run_in_executor(None, child.stdout.readline)
                assert line.strip() == "locked"
                results = await asyncio.gather(
                    *[db.execute("INSERT INTO acct (owner, balance) VALUES (?, 1)", f"p{i}")
                      for i in range(20)],
                    *[db.query("SELECT * FROM acct") for _ in range(20)])
                assert all(r is not None for r in results)
            finally:
                assert await loop.run_in_executor(None, child.wait) == 0
                child.stdout.close()
            assert await _count(db) == 21
        finally:
            await db.close()

    run1(main())
