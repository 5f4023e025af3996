"""Migrations: fresh, incremental, failing (database unchanged, error names file and statement)."""

from __future__ import annotations

import logging
import sqlite3
from importlib import resources

import pytest

from embedtornado import db as dbmod
from embedtornado.db import Database, Migration, MigrationError
from embedtornado.db.migrations import TABLE, load_migrations, split_statements

M1 = """-- users
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE   -- a comment; with a semicolon
);
INSERT INTO users (name) VALUES ('admin; root');
"""
M2 = """CREATE TABLE audit (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users (id), what TEXT);
CREATE TRIGGER users_audit AFTER INSERT ON users BEGIN
    INSERT INTO audit (user_id, what) VALUES (new.id, 'created; ok');
END;
"""
M3_BAD = """ALTER TABLE users ADD COLUMN email TEXT;
CREATE INDEX users_email ON users (email);

INSERT INTO nope VALUES (1);
"""


def _write(folder, files):
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def _dump(path):
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def test_split_statements():
    parts = split_statements(M1 + M2)
    assert [line for line, _ in parts] == [2, 6, 7, 8]
    assert parts[0][1].startswith("CREATE TABLE users")
    assert parts[1][1] == "INSERT INTO users (name) VALUES ('admin; root');"
    assert parts[3][1].startswith("CREATE TRIGGER") and parts[3][1].endswith("END;")
    assert split_statements("-- only a comment\n;\n  ") == []
    assert split_statements("SELECT 1; SELECT 2") == [(1, "SELECT 1;"), (1, "SELECT 2")]


def test_fresh_then_incremental(run1, tmp_path, db_path):
    folder = _write(tmp_path / "mig", {"0001_users.sql": M1, "README.txt": "not sql"})

    async def main():
        db = Database(db_path)
        try:
            assert await db.migrate(folder, namespace="core") == ["core/0001_users.sql"]
            assert await db.migrate(folder, namespace="core") == []  # nothing pending
            _write(folder, {"0002_audit.sql": M2})
            assert await db.migrate(folder, namespace="core") == ["core/0002_audit.sql"]
            await db.execute("INSERT INTO users (name) VALUES (?)", "ada")
            assert (await db.get("SELECT what FROM audit")).what == "created; ok"
            recorded = await db.query(f"SELECT namespace, version, name FROM {TABLE}")
            assert [(r.namespace, r.version, r.name) for r in recorded] == [
                ("core", 1, "0001_users.sql"), ("core", 2, "0002_audit.sql")]
            # another namespace, same numbers, independent
            other = _write(tmp_path / "plug", {"1_t.sql": "CREATE TABLE plug (a);"})
            assert await db.migrate(other, namespace="plugin") == ["plugin/1_t.sql"]
            # in-memory migration objects, and number order (2 before 10)
            objs = [Migration(10, "ten", "CREATE TABLE ten (a);"),
                    Migration(2, "two", "CREATE TABLE two (a);")]
            assert await db.migrate(objs, namespace="objs") == ["objs/two", "objs/ten"]
        finally:
            await db.close()

    run1(main())


def test_failing_migration_leaves_database_unchanged(run1, tmp_path, db_path):
    folder = _write(tmp_path / "mig", {"0001_users.sql": M1})

    async def main():
        db = Database(db_path)
        try:
            await db.migrate(folder, namespace="core")
        finally:
            await db.close()
        before = _dump(db_path)
        _write(folder, {"0002_audit.sql": M2, "0003_email.sql": M3_BAD})
        db = Database(db_path)
        try:
            with pytest.raises(MigrationError) as info:
                await db.migrate(folder, namespace="core")
            err = info.value
            assert err.source.endswith("0003_email.sql") and err.line == 4
            assert err.statement == "INSERT INTO nope VALUES (1);"
            text = str(err)
            assert "0003_email.sql" in text and "line 4" in text and "no such table: nope" in text
            assert "INSERT INTO nope" in text
        finally:
            await db.close()
        assert _dump(db_path) == before  # 0002 and 0003's first statements rolled back too

    run1(main())


def test_migration_set_errors(run1, tmp_path, db_path):
    async def main():
        db = Database(db_path)
        try:
            bad = _write(tmp_path / "a", {"users.sql": "SELECT 1;"})
            with pytest.raises(MigrationError, match="must start with its number"):
                await db.migrate(bad, namespace="a")
            dup = _write(tmp_path / "b", {"1_a.sql": "SELECT 1;", "01_b.sql": "SELECT 1;"})
            with pytest.raises(MigrationError, match="appears twice"):
                await db.migrate(dup, namespace="b")
            with pytest.raises(MigrationError, match="not found"):
                await db.migrate(tmp_path / "missing", namespace="c")
            tx = _write(tmp_path / "d", {"1_a.sql": "BEGIN; CREATE TABLE x (a); COMMIT;"})
            with pytest.raises(MigrationError, match="remove BEGIN/COMMIT"):
                await db.migrate(tx, namespace="d")
            latin = tmp_path / "e"
            latin.mkdir()
            (latin / "1_a.sql").write_bytes(b"SELECT '\xe9';")
            with pytest.raises(MigrationError, match="UTF-8"):
                await db.migrate(latin, namespace="e")
            with pytest.raises(ValueError, match="namespace"):
                await db.migrate([], namespace="")
            # downgrade: the database knows version 2, the code only 1
            await db.migrate([Migration(1, "a", "CREATE TABLE f1 (a);"),
                              Migration(2, "b", "CREATE TABLE f2 (a);")], namespace="f")
            with pytest.raises(MigrationError, match="downgraded"):
                await db.migrate([Migration(1, "a", "CREATE TABLE f1 (a);")], namespace="f")
            # a new migration numbered below an applied one
            await db.migrate([Migration(1, "a", "SELECT 1;"), Migration(3, "c", "SELECT 1;")],
                             namespace="g")
            with pytest.raises(MigrationError, match="number new migrations above"):
                await db.migrate([Migration(1, "a", "SELECT 1;"), Migration(2, "b", "SELECT 1;"),
                                  Migration(3, "c", "SELECT 1;")], namespace="g")
            with pytest.raises(MigrationError, match="start at 1"):
                await db.migrate([Migration(0, "z", "SELECT 1;")], namespace="h")
        finally:
            await db.close()

    run1(main())


def test_changed_applied_migration_warns(run1, db_path, caplog):
    async def main():
        db = Database(db_path)
        try:
            await db.migrate([Migration(1, "a", "CREATE TABLE a (x);")], namespace="n")
            with caplog.at_level(logging.WARNING, logger="embedtornado.general"):
                assert await db.migrate([Migration(1, "a", "CREATE TABLE a (x, y);")],
                                        namespace="n") == []
        finally:
            await db.close()

    run1(main())
    assert "changed after it was applied" in caplog.text


def test_foreign_keys_deferred_for_table_rebuild(run1, db_path):
    rebuild = """
        CREATE TABLE parent_new (id INTEGER PRIMARY KEY, label TEXT NOT NULL DEFAULT '');
        INSERT INTO parent_new (id) SELECT id FROM parent;
        DROP TABLE parent;
        ALTER TABLE parent_new RENAME TO parent;
    """

    async def main():
        db = Database(db_path)
        try:
            await db.migrate([Migration(1, "base", """
                CREATE TABLE parent (id INTEGER PRIMARY KEY);
                CREATE TABLE child (id INTEGER PRIMARY KEY,
                                    parent_id INTEGER NOT NULL REFERENCES parent (id));
                INSERT INTO parent (id) VALUES (1);
                INSERT INTO child (parent_id) VALUES (1);
            """), Migration(2, "rebuild", rebuild)], namespace="fk")
            assert (await db.get("SELECT count(*) AS c FROM child")).c == 1
            with pytest.raises(dbmod.IntegrityError):
                await db.execute("INSERT INTO child (parent_id) VALUES (99)")
            # a violation left behind fails the migration
            with pytest.raises(MigrationError, match="foreign key violations"):
                await db.migrate([Migration(1, "orphan",
                                            "INSERT INTO child (parent_id) VALUES (42);")],
                                 namespace="fk2")
            assert (await db.get("SELECT count(*) AS c FROM child")).c == 1
        finally:
            await db.close()

    run1(main())


def test_migrate_blocking_and_traversable(tmp_path):
    db = Database(str(tmp_path / "b.db"))
    try:
        folder = resources.files("embedtornado.db")  # a traversable without .sql files
        assert load_migrations(folder) == []
        a = _write(tmp_path / "a", {"1_a.sql": "CREATE TABLE a (x);"})
        b = _write(tmp_path / "b", {"1_b.sql": "CREATE TABLE b (x);",
                                    "2_b.sql": "INSERT INTO nope VALUES (1);"})
        with pytest.raises(MigrationError, match="2_b.sql"):
            db.migrate_blocking({"a": a, "b": b})
        # one transaction for the whole plan: namespace a was not applied either
        assert db.migrate_blocking({"a": a}) == ["a/1_a.sql"]
    finally:
        db.close_blocking()


def test_open_for_app_failure_closes(tmp_path):
    bad = _write(tmp_path / "bad", {"1_x.sql": "CREATE TABLE;"})

    class App:
        pass

    app = App()
    with pytest.raises(MigrationError, match="1_x.sql"):
        dbmod.open_for_app(app, tmp_path / "x.db", migrations=[("core", bad)])
    assert not hasattr(app, "db")
