"""SQLiteSessionStore: the SessionStore contract, expiry, purge (on demand and periodic)."""

from __future__ import annotations

import asyncio
import time

import pytest

from embedtornado.db import Database, SQLiteSessionStore, TransactionError
from embedtornado.sessions import SessionStore


def test_contract(run, db_path):
    async def main():
        db = Database(db_path)
        store = SQLiteSessionStore(db)
        try:
            assert isinstance(store, SessionStore)
            now = time.time()
            assert await store.load("nope") is None
            await store.save("s1", {"user": 7, "flags": ["a", "é"]}, now + 3600)
            assert await store.load("s1") == {"user": 7, "flags": ["a", "é"]}
            await store.save("s1", {"user": 8}, now + 3600)  # replace
            assert await store.load("s1") == {"user": 8}
            await store.delete("s1")
            await store.delete("s1")  # unknown: no error
            assert await store.load("s1") is None
            # expired sessions are invisible at once, before any purge
            await store.save("old", {"x": 1}, now - 1)
            await store.save("new", {"x": 2}, now + 3600)
            assert await store.load("old") is None
            assert await store.count() == 2
            assert await store.purge_expired(time.time()) == 1
            assert await store.count() == 1
            assert await store.load("new") == {"x": 2}
            assert await store.purge_expired(now + 7200) == 1
        finally:
            await store.close()
            assert not db.closed  # the store does not own the database
            await db.close()

    run(main())


def test_sessions_survive_reopen(run1, db_path):
    async def main():
        db = Database(db_path)
        store = SQLiteSessionStore(db, close_db=True)
        await store.save("keep", {"a": 1}, time.time() + 60)
        await store.close()
        assert db.closed
        db = Database(db_path)
        store = SQLiteSessionStore(db, close_db=True)
        try:
            assert await store.load("keep") == {"a": 1}
        finally:
            await store.close()

    run1(main())


def test_first_use_inside_a_transaction(run1, db_path):
    async def main():
        db = Database(db_path)
        store = SQLiteSessionStore(db)
        try:
            with pytest.raises(TransactionError, match="setup"):
                async with db.transaction():
                    await store.save("s", {}, time.time() + 60)
            await store.setup()
            async with db.transaction():
                await store.save("s", {"in": "tx"}, time.time() + 60)
                assert await store.load("s") == {"in": "tx"}
            assert await store.load("s") == {"in": "tx"}
        finally:
            await store.close()
            await db.close()

    run1(main())


def test_bad_input(run1, db_path):
    async def main():
        db = Database(db_path)
        store = SQLiteSessionStore(db, max_data_bytes=100)
        try:
            with pytest.raises(TypeError):
                await store.save("s", ["not", "a", "dict"], time.time() + 1)
            with pytest.raises(TypeError):
                await store.save("s", {"v": object()}, time.time() + 1)
            with pytest.raises(ValueError, match="larger than 100"):
                await store.save("s", {"v": "x" * 200}, time.time() + 1)
            with pytest.raises(ValueError):
                await store.save("s", {"v": float("nan")}, time.time() + 1)
            with pytest.raises(TypeError):
                await store.save("s", {}, "tomorrow")
            with pytest.raises(TypeError):
                await store.load(b"bytes-id")
            with pytest.raises(ValueError):
                await store.load("")
            with pytest.raises(ValueError):
                await store.load("x" * 257)
            assert await store.count() == 0
        finally:
            await store.close()
            await db.close()
        with pytest.raises(TypeError):
            SQLiteSessionStore(object())

    run1(main())


def test_periodic_purge(run, db_path):
    async def main():
        db = Database(db_path)
        store = SQLiteSessionStore(db)
        try:
            now = time.time()
            for i in range(10):
                await store.save(f"e{i}", {"i": i}, now - 1)
            await store.save("live", {}, now + 3600)
            store.start_purge(interval=0.05)
            assert store.purging
            for _ in range(400):
                if await store.count() == 1:
                    break
                await asyncio.sleep(0.05)
            assert await store.count() == 1
            store.stop_purge()
            assert not store.purging
            await store.save("e-late", {}, time.time() - 1)
            await asyncio.sleep(0.2)
            assert await store.count() == 2  # stopped: nothing purged any more
            with pytest.raises(ValueError):
                store.start_purge(interval=0)
            store.start_purge(interval=30)
        finally:
            await store.close()  # stops the purge
            assert not store.purging
            await db.close()

    run(main())
