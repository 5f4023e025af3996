"""Schema migrations: numbered SQL files, applied once each, in order, per namespace.

A plugin keeps its schema in a folder of files named ``<number>_<words>.sql``::

    myplugin/migrations/
        0001_create_users.sql
        0002_add_user_email.sql

and applies them at start-up, under its own namespace::

    await db.migrate(Path(__file__).parent / "migrations", namespace="myplugin")
    # or, for several plugins at once, before the loop runs:
    db.migrate_blocking({"core": core_dir, "myplugin": plugin_dir})

What happens:

- The numbers order the files (``2`` runs before ``10``); each number may
  appear once per namespace. Other files in the folder (``README``) are
  ignored; a ``.sql`` file without a number is an error.
- The table ``embedtornado_migrations`` records ``(namespace, version, name,
  checksum, applied_at)`` for each file applied. A file already recorded is
  skipped (if its text changed since, a warning is logged: edit schemas with a
  new file, not by changing an applied one).
- Everything pending in one call runs in **one transaction**; each statement
  runs on its own (split with SQLite's own ``sqlite3_complete``, so triggers
  and semicolons inside strings are fine). If any statement fails, the whole
  call is rolled back, the database is exactly as it was before the call, and
  `.MigrationError` names the file, the line and the statement.
- Foreign keys are switched off while migrations run, and checked as a whole
  (``PRAGMA foreign_key_check``) before ``COMMIT``: a migration can rebuild a
  table that others reference (SQLite's "12-step" ``ALTER TABLE`` recipe), and
  a violation left at the end fails the call like a failing statement.
- A database whose recorded version is newer than the newest file (software
  downgraded) and a new file numbered below an applied one (a merge gone wrong)
  are errors, not silently ignored.
- Do not write ``BEGIN``/``COMMIT`` in a migration (it already runs in a
  transaction), nor ``VACUUM`` or ``PRAGMA journal_mode`` (they cannot).

The folder may be a path, or an `importlib.resources` traversable
(``files("myplugin") / "migrations"``) for a plugin installed as a package;
or pass a list of `Migration` objects directly.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple, Union

from embedtornado.db._engine import first_keyword
from embedtornado.db.errors import MigrationError

__all__ = ["TABLE", "Migration", "MigrationSource", "load_migrations", "split_statements"]

gen_log = logging.getLogger("embedtornado.general")

#: The table recording applied migrations.
TABLE = "embedtornado_migrations"

_FILE = re.compile(r"^(\d+)(?:[_\-. ].*)?\.sql$", re.IGNORECASE)
_FORBIDDEN = frozenset({"BEGIN", "COMMIT", "END", "ROLLBACK", "VACUUM"})


class Migration(NamedTuple):
    """One migration: its *version* number, a *name* (the file name), and its SQL text."""

    version: int
    name: str
    sql: str
    #: where it was read from (the file's path), for error messages
    origin: str = ""


MigrationSource = Union[str, "os.PathLike[str]", Any, Iterable[Migration]]


def _describe(source: Any) -> str:
    return str(source)


def load_migrations(source: MigrationSource, namespace: str = "") -> list[Migration]:
    """Read a folder (path or traversable) or check a list; return migrations sorted by version.

    :raises MigrationError: for a missing folder, an unnumbered or duplicate
        file, or a file that is not UTF-8.
    """
    migrations: list[Migration] = []
    if isinstance(source, (str, os.PathLike)):
        source = Path(source)
    if hasattr(source, "iterdir") and hasattr(source, "read_text"):
        try:
            entries = sorted(source.iterdir(), key=lambda e: e.name)
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise MigrationError(f"migration folder {_describe(source)} not found",
                                 namespace=namespace) from exc
        for entry in entries:
            name = entry.name
            if not name.lower().endswith(".sql") or not entry.is_file():
                continue
            m = _FILE.match(name)
            if m is None:
                raise MigrationError("a migration file name must start with its number "
                                     "(0001_create_users.sql)", namespace=namespace,
                                     source=f"{_describe(source)}/{name}")
            try:
                text = entry.read_bytes().decode("utf-8")
            except UnicodeDecodeError as exc:
                raise MigrationError(f"not UTF-8 text: {exc}", namespace=namespace,
                                     source=f"{_describe(source)}/{name}") from exc
            migrations.append(Migration(int(m.group(1)), name, text,
                                        f"{_describe(source)}/{name}"))
    else:
        for item in source:
            if not isinstance(item, Migration):
                raise TypeError(f"expected a folder or Migration objects, got {item!r}")
            migrations.append(item)
    migrations.sort(key=lambda mig: mig.version)
    seen: dict[int, str] = {}
    for mig in migrations:
        if mig.version < 1:
            raise MigrationError("migration numbers start at 1", namespace=namespace,
                                 source=mig.name)
        if mig.version in seen:
            raise MigrationError(f"version {mig.version} appears twice ({seen[mig.version]} "
                                 f"and {mig.name})", namespace=namespace, source=mig.name)
        seen[mig.version] = mig.name
    return migrations


def split_statements(sql: str) -> list[tuple[int, str]]:
    """Split a script into ``(line, statement)`` pairs, skipping empty and comment-only ones.

    A statement ends at a ``;`` where SQLite says the text so far is complete
    (so ``;`` inside strings, comments and ``CREATE TRIGGER ... END`` bodies
    does not split). Text after the last ``;`` counts as a final statement.
    """
    out: list[tuple[int, str]] = []
    start = 0
    pos = 0
    while True:
        i = sql.find(";", pos)
        if i < 0:
            break
        chunk = sql[start:i + 1]
        pos = i + 1
        if sqlite3.complete_statement(chunk):
            _add(out, sql, start, chunk)
            start = pos
    rest = sql[start:]
    if first_keyword(rest):
        _add(out, sql, start, rest)
    return out


_LEAD = re.compile(r"(?:\s|--[^\n]*(?:\n|$)|/\*.*?\*/)*", re.DOTALL)


def _add(out: list[tuple[int, str]], sql: str, start: int, chunk: str) -> None:
    if not first_keyword(chunk):
        return
    lead = _LEAD.match(chunk)
    offset = lead.end() if lead else 0
    line = sql.count("\n", 0, start + offset) + 1
    out.append((line, chunk[offset:]))


def _checksum(sql: str) -> str:
    return hashlib.sha256(sql.encode("utf-8")).hexdigest()


def apply(conn: sqlite3.Connection, plan: list[tuple[str, MigrationSource]]) -> list[str]:
    """Apply every pending migration of *plan* in one transaction (runs on the writer)."""
    loaded: list[tuple[str, list[Migration]]] = []
    for namespace, source in plan:
        if not isinstance(namespace, str) or not namespace:
            raise ValueError(f"a migration namespace must be a non-empty str, not {namespace!r}")
        loaded.append((namespace, load_migrations(source, namespace)))
    done: list[str] = []
    conn.execute("PRAGMA foreign_keys = OFF")  # a no-op inside a transaction, so before BEGIN
    try:
        _apply_loaded(conn, loaded, done)
    finally:
        conn.execute("PRAGMA foreign_keys = ON")
    if done:
        gen_log.info("applied migrations: %s", ", ".join(done))
    return done


def _apply_loaded(conn: sqlite3.Connection, loaded: list[tuple[str, list[Migration]]],
                  done: list[str]) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} ("
                     "namespace TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL, "
                     "checksum TEXT NOT NULL, applied_at REAL NOT NULL, "
                     "PRIMARY KEY (namespace, version))")
        last = None
        for namespace, migrations in loaded:
            applied = {row[0]: (row[1], row[2]) for row in conn.execute(
                f"SELECT version, name, checksum FROM {TABLE} WHERE namespace = ?",
                (namespace,))}
            top = max(applied, default=0)
            newest = migrations[-1].version if migrations else 0
            if top > newest:
                raise MigrationError(
                    f"the database is at version {top} ({applied[top][0]}), newer than the "
                    f"newest migration available ({newest}); was the software downgraded?",
                    namespace=namespace)
            for mig in migrations:
                if mig.version in applied:
                    if applied[mig.version][1] != _checksum(mig.sql):
                        gen_log.warning("migration %s/%s changed after it was applied; the "
                                        "change is ignored (add a new migration instead)",
                                        namespace, mig.name)
                    continue
                if mig.version < top:
                    raise MigrationError(
                        f"this migration is new, but version {top} ({applied[top][0]}) is "
                        f"already applied: number new migrations above the last one",
                        namespace=namespace, source=mig.name)
                _run_one(conn, namespace, mig)
                conn.execute(f"INSERT INTO {TABLE} (namespace, version, name, checksum, "
                             f"applied_at) VALUES (?, ?, ?, ?, ?)",
                             (namespace, mig.version, mig.name, _checksum(mig.sql),
                              time.time()))
                done.append(f"{namespace}/{mig.name}")
                last = (namespace, mig.name)
        ns, name = last if last else ("", None)
        if last is not None:
            bad = conn.execute("PRAGMA foreign_key_check").fetchmany(5)
            if bad:
                shown = "; ".join(f"{r[0]} rowid {r[1]} -> {r[2]}" for r in bad)
                raise MigrationError(f"foreign key violations after the migrations: {shown}",
                                     namespace=ns, source=name)
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise MigrationError(f"COMMIT failed: {exc}", namespace=ns, source=name) from exc
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _run_one(conn: sqlite3.Connection, namespace: str, mig: Migration) -> None:
    for line, stmt in split_statements(mig.sql):
        if first_keyword(stmt) in _FORBIDDEN:
            raise MigrationError("migrations already run inside a transaction; remove "
                                 "BEGIN/COMMIT (and VACUUM cannot run in one)",
                                 namespace=namespace, source=mig.origin or mig.name,
                                 statement=stmt, line=line)
        try:
            cur = conn.execute(stmt)
            cur.fetchall()
            cur.close()
        except sqlite3.Error as exc:
            raise MigrationError(f"{type(exc).__name__}: {exc}", namespace=namespace,
                                 source=mig.origin or mig.name, statement=stmt,
                                 line=line) from exc
        if not conn.in_transaction:
            raise MigrationError("the statement ended the migration's transaction",
                                 namespace=namespace, source=mig.origin or mig.name,
                                 statement=stmt, line=line)
