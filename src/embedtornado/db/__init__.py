"""embedtornado.db: an embedded SQLite database used from coroutines (torndb's API).

::

    from embedtornado.db import Database

    db = Database("app.db")                        # WAL, synchronous=FULL, quick_check
    uid = await db.execute("INSERT INTO users (name) VALUES (?)", "ada")
    row = await db.get("SELECT * FROM users WHERE id = ?", uid)
    row.name == row["name"]
    async with db.transaction():
        ...
    await db.close()

- `Database`, `Row`: ``embedtornado.db.database``
- migrations (numbered ``.sql`` files per namespace): ``embedtornado.db.migrations``
- `SQLiteSessionStore`: ``embedtornado.db.sessions``
- `open_for_app`, `default_path`: how the daemon opens the shared database
- errors: ``embedtornado.db.errors`` (SQLite's own under torndb's names)

Password hashing for stored users is in `embedtornado.auth_passwords`.
See ``docs/db.md`` for the guarantees (durability, backpressure, threads).
"""

from __future__ import annotations

from embedtornado.db._app import default_path, open_for_app
from embedtornado.db.database import Database, Row, RowIterator, Transaction
from embedtornado.db.errors import (
    CorruptDatabaseError,
    DatabaseClosedError,
    DatabaseError,
    DatabaseOverloadedError,
    Error,
    IntegrityError,
    InterfaceError,
    MigrationError,
    MultipleRowsError,
    OperationalError,
    ProgrammingError,
    TransactionError,
)
from embedtornado.db.migrations import Migration, load_migrations

__all__ = [
    "CorruptDatabaseError",
    "Database",
    "DatabaseClosedError",
    "DatabaseError",
    "DatabaseOverloadedError",
    "Error",
    "IntegrityError",
    "InterfaceError",
    "Migration",
    "MigrationError",
    "MultipleRowsError",
    "OperationalError",
    "ProgrammingError",
    "Row",
    "RowIterator",
    "SQLiteSessionStore",
    "Transaction",
    "TransactionError",
    "default_path",
    "load_migrations",
    "open_for_app",
]


def __getattr__(name: str) -> object:
    # The session store imports the web-side interface and the IOLoop; load it on demand.
    if name == "SQLiteSessionStore":
        from embedtornado.db.sessions import SQLiteSessionStore
        return SQLiteSessionStore
    raise AttributeError(f"module 'embedtornado.db' has no attribute {name!r}")
