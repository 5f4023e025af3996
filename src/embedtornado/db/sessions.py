"""`SQLiteSessionStore`: server-side sessions kept in an `embedtornado.db.Database`.

Implements `embedtornado.sessions.SessionStore` (read its docstring for the
contract)::

    from embedtornado.db import Database, SQLiteSessionStore

    db = Database("/var/lib/embedtornado/app.db")
    store = SQLiteSessionStore(db)
    store.start_purge(interval=300)        # drop expired sessions every 5 minutes
    await store.save(sid, {"user": 7}, time.time() + 3600)
    data = await store.load(sid)           # None once expired
    ...
    await store.close()                    # stops the purge; the Database stays open

The table ``embedtornado_sessions (id, data, expires_at)`` is created on first
use through the migration runner (namespace ``embedtornado.sessions``). Data
is stored as compact JSON; `load` hides a session whose ``expires_at`` has
passed even before the purge removes it, so expiry never depends on the
purge's timing.
"""

from __future__ import annotations

import datetime
import json
import time
from typing import Any

from embedtornado.db.database import Database
from embedtornado.db.errors import TransactionError
from embedtornado.db.migrations import Migration
from embedtornado.ioloop import PeriodicCallback
from embedtornado.log import app_log
from embedtornado.sessions import SessionStore

__all__ = ["SQLiteSessionStore"]

TABLE = "embedtornado_sessions"
NAMESPACE = "embedtornado.sessions"
MIGRATIONS = [
    Migration(1, "0001_sessions", f"""
        CREATE TABLE {TABLE} (
            id TEXT PRIMARY KEY NOT NULL,
            data TEXT NOT NULL,
            expires_at REAL NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX {TABLE}_expires ON {TABLE} (expires_at);
    """),
]

#: Default largest session, as JSON bytes (a session is for ids and flags, not files).
MAX_DATA_BYTES = 64 * 1024
#: Longest accepted session id.
MAX_ID_LENGTH = 256


class SQLiteSessionStore(SessionStore):
    """Sessions in a table of *db*; see the module docstring.

    :arg db: the `.Database` (shared; the store never closes it unless
        *close_db* is true).
    :arg max_data_bytes: `save` rejects data whose JSON is larger
        (`ValueError`).
    :arg close_db: make `close` close *db* as well.
    """

    def __init__(self, db: Database, *, max_data_bytes: int = MAX_DATA_BYTES,
                 close_db: bool = False) -> None:
        if not isinstance(db, Database):
            raise TypeError(f"SQLiteSessionStore needs an embedtornado.db.Database, not {db!r}")
        self.db = db
        self.max_data_bytes = max_data_bytes
        self._close_db = close_db
        self._ready = False
        self._purger: PeriodicCallback | None = None

    async def setup(self) -> None:
        """Create (or upgrade) the sessions table; the first call of any method does it too.

        Call it at start-up if the store's first use may be inside a
        `.Database.transaction` (migrations cannot run inside one).
        """
        if not self._ready:
            if self.db._tx.get() is not None:
                raise TransactionError("SQLiteSessionStore first used inside a transaction: "
                                       "call `await store.setup()` at start-up")
            await self.db.migrate(MIGRATIONS, namespace=NAMESPACE)
            self._ready = True

    _setup = setup

    @staticmethod
    def _check_id(session_id: str) -> None:
        if not isinstance(session_id, str):
            raise TypeError(f"session ids are str, not {type(session_id).__name__}")
        if not session_id or len(session_id) > MAX_ID_LENGTH:
            raise ValueError(f"a session id must be 1 to {MAX_ID_LENGTH} characters")

    async def load(self, session_id: str) -> dict[str, Any] | None:
        """Return the data saved under *session_id*, or None if unknown or expired."""
        self._check_id(session_id)
        await self._setup()
        row = await self.db.get(f"SELECT data, expires_at FROM {TABLE} WHERE id = ?",
                                session_id)
        if row is None or row.expires_at <= time.time():
            return None
        data = json.loads(row.data)
        return data if isinstance(data, dict) else None

    async def save(self, session_id: str, data: dict[str, Any], expires_at: float) -> None:
        """Store *data* under *session_id* until *expires_at* (insert or replace).

        :raises TypeError: if *data* is not a JSON-serialisable dict.
        :raises ValueError: if its JSON is larger than *max_data_bytes*.
        """
        self._check_id(session_id)
        if not isinstance(data, dict):
            raise TypeError(f"session data must be a dict, not {type(data).__name__}")
        if isinstance(expires_at, bool) or not isinstance(expires_at, (int, float)):
            raise TypeError("expires_at must be a number (time.time() seconds)")
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        if len(text.encode("utf-8")) > self.max_data_bytes:
            raise ValueError(f"session data is larger than {self.max_data_bytes} bytes as JSON")
        await self._setup()
        await self.db.execute(
            f"INSERT INTO {TABLE} (id, data, expires_at) VALUES (?, ?, ?) "
            f"ON CONFLICT (id) DO UPDATE SET data = excluded.data, "
            f"expires_at = excluded.expires_at",
            session_id, text, float(expires_at))

    async def delete(self, session_id: str) -> None:
        """Forget *session_id* (no error if unknown)."""
        self._check_id(session_id)
        await self._setup()
        await self.db.execute(f"DELETE FROM {TABLE} WHERE id = ?", session_id)

    async def purge_expired(self, now: float) -> int:
        """Delete every session with ``expires_at <= now``; return how many."""
        await self._setup()
        return await self.db.execute_rowcount(f"DELETE FROM {TABLE} WHERE expires_at <= ?",
                                              float(now))

    async def count(self) -> int:
        """How many sessions are stored (expired ones not yet purged included)."""
        await self._setup()
        row = await self.db.get(f"SELECT count(*) AS n FROM {TABLE}")
        assert row is not None
        return int(row.n)

    # --- the periodic purge -----------------------------------------------------------

    def start_purge(self, interval: float = 300.0, jitter: float = 0.1) -> None:
        """Purge expired sessions every *interval* seconds on the current IOLoop.

        Errors are logged (``embedtornado.application``) and the next run goes
        ahead. Calling it again restarts with the new interval.
        """
        if not interval > 0:
            raise ValueError("the purge interval must be positive")
        self.stop_purge()
        self._purger = PeriodicCallback(self._purge_now,
                                        datetime.timedelta(seconds=interval), jitter=jitter)
        self._purger.start()

    def stop_purge(self) -> None:
        """Stop the periodic purge (a purge in progress finishes)."""
        if self._purger is not None:
            self._purger.stop()
            self._purger = None

    @property
    def purging(self) -> bool:
        """True while the periodic purge is started."""
        return self._purger is not None and self._purger.is_running()

    async def _purge_now(self) -> None:
        if self.db.closed:
            self.stop_purge()
            return
        n = await self.purge_expired(time.time())
        if n:
            app_log.debug("purged %d expired sessions", n)

    async def close(self) -> None:
        """Stop the purge; close the database too if the store was made with *close_db*."""
        self.stop_purge()
        if self._close_db:
            await self.db.close()
