"""The exceptions of `embedtornado.db`.

Errors raised by SQLite itself reach the caller unchanged, as the standard
library's `sqlite3` exceptions (re-exported here under torndb's names:
`IntegrityError`, `OperationalError`, ...), so ``except db.IntegrityError``
works as it did with torndb and MySQLdb. The errors this package adds all
derive from `DatabaseError` (ours, not `sqlite3.DatabaseError`, except
`CorruptDatabaseError`, which is both)::

    from embedtornado import db

    try:
        await database.execute("INSERT INTO users (name) VALUES (?)", name)
    except db.IntegrityError:
        raise web.HTTPError(409, "name taken")
"""

from __future__ import annotations

import sqlite3

__all__ = [
    "CorruptDatabaseError",
    "DatabaseClosedError",
    "DatabaseError",
    "DatabaseOverloadedError",
    "Error",
    "IntegrityError",
    "InterfaceError",
    "MigrationError",
    "MultipleRowsError",
    "OperationalError",
    "ProgrammingError",
    "TransactionError",
]

# SQLite's own errors, under the names torndb exported from MySQLdb.
Error = sqlite3.Error
IntegrityError = sqlite3.IntegrityError
OperationalError = sqlite3.OperationalError
ProgrammingError = sqlite3.ProgrammingError
InterfaceError = sqlite3.InterfaceError


class DatabaseError(Exception):
    """Base class of the errors `embedtornado.db` raises itself."""


class DatabaseClosedError(DatabaseError):
    """The `.Database` is closed or closing; the call was not run."""


class DatabaseOverloadedError(DatabaseError):
    """Too many callers are already waiting for a queue slot; the call was not run.

    A handler can turn it into ``503 Service Unavailable``. See *max_waiting*
    in `.Database`.
    """


class MultipleRowsError(DatabaseError):
    """`.Database.get` found more than one row."""


class TransactionError(DatabaseError):
    """A transaction was misused or ended before this statement could run.

    Raised for a statement sent to a transaction that already committed,
    rolled back or timed out, for ``BEGIN``/``COMMIT`` issued by hand outside
    `.Database.transaction`, and for closing the database from inside one of
    its own transactions.
    """


class CorruptDatabaseError(DatabaseError, sqlite3.DatabaseError):
    """The file is not an SQLite database, or ``PRAGMA quick_check`` found damage.

    :attr path: the database file.
    :attr problems: the first lines SQLite reported (at most 20).
    """

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        shown = "; ".join(problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"SQLite database {path!r} is damaged: {shown}{more}. Restore it from "
                         f"a backup (Database.backup) or move it away to start empty.")


class MigrationError(DatabaseError):
    """A schema migration could not be applied; the database is as it was before.

    :attr namespace: the migration namespace (usually the plugin's name).
    :attr source: the file (or name) of the migration.
    :attr statement: the SQL statement that failed (None for a problem with
        the set of migrations itself, such as a duplicate version number).
    :attr line: the line in *source* where that statement starts, or None.
    """

    def __init__(self, message: str, *, namespace: str, source: str | None = None,
                 statement: str | None = None, line: int | None = None) -> None:
        self.namespace = namespace
        self.source = source
        self.statement = statement
        self.line = line
        where = f"migration {source}" if source else f"migrations of namespace {namespace!r}"
        if line is not None:
            where += f", line {line}"
        text = f"{where}: {message}"
        if statement is not None:
            shown = statement.strip()
            if len(shown) > 500:
                shown = shown[:500] + " ..."
            text += f"\n    statement: {shown}"
        super().__init__(text)
