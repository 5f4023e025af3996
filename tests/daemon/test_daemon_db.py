"""The daemon's shared database: the ``database`` option, plugin migrations,
``app.db`` in handlers and setup(), reloads, and failures."""

from __future__ import annotations

import signal
import sqlite3
import textwrap

from daemonctl import BASE_CONFIG, TIMEOUT, Daemon, FakeManager, listening_socket, run_cli

NOTES_PLUGIN = textwrap.dedent('''
    from embedtornado.web import RequestHandler

    seen = {}

    def setup(app, options):
        seen["db_at_setup"] = app.db is not None and app.db is app.settings["db"]

    class Notes(RequestHandler):
        async def get(self):
            rows = await self.application.db.query("SELECT body FROM notes ORDER BY id")
            self.write({"notes": [r.body for r in rows], "setup": seen["db_at_setup"]})

        async def post(self):
            await self.application.db.execute("INSERT INTO notes (body) VALUES (?)",
                                              self.get_argument("body"))
            self.write("ok")

        def check_xsrf_cookie(self):
            pass

    routes = [(r"/notes", Notes)]
''')

EXTRA_PLUGIN = textwrap.dedent('''
    from embedtornado.web import RequestHandler

    class Extra(RequestHandler):
        async def get(self):
            row = await self.application.db.get("SELECT count(*) AS n FROM extra")
            self.write(str(row.n))

    routes = [(r"/extra", Extra)]
''')

NEEDS_DB_PLUGIN = textwrap.dedent('''
    def setup(app, options):
        if app.db is None:
            raise RuntimeError("the needsdb plugin needs a database: set database = PATH")
''')


def make_package(root, name, code, migrations):
    pkg = root / "plugins" / name
    (pkg / "migrations").mkdir(parents=True)
    (pkg / "__init__.py").write_text(code)
    for filename, sql in migrations.items():
        (pkg / "migrations" / filename).write_text(sql)
    return pkg


def test_database_opened_migrated_shared_and_kept_across_reload_and_restart(tmp_path):
    make_package(tmp_path, "notes", NOTES_PLUGIN,
                 {"001_init.sql": "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);\n"})
    config = BASE_CONFIG + 'database = "state/app.db"\n'
    db_file = tmp_path / "state" / "app.db"
    manager = FakeManager(tmp_path)
    d = Daemon(tmp_path, config, manager=manager, sock=listening_socket())
    try:
        manager.wait_for("READY", "1")
        assert db_file.exists()  # relative to the config file's directory
        assert d.healthz()["database"] == str(db_file)
        status, body = d.get("/notes", method="POST", body="body=first",
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 200, body
        status, body = d.get("/notes")
        assert status == 200 and b'"notes": ["first"]' in body and b'"setup": true' in body

        # A reload adds a plugin: its migrations are applied to the same database.
        make_package(tmp_path, "extra", EXTRA_PLUGIN,
                     {"001_extra.sql": "CREATE TABLE extra (x);\nINSERT INTO extra VALUES (1);\n"})
        mark = len(manager.messages)
        d.signal(signal.SIGHUP)
        manager.wait_for("RELOADING", "1", after=mark)
        manager.wait_for("READY", "1", after=mark)
        assert d.healthz()["reloads"]["ok"] == 1
        assert d.get("/extra") == (200, b"1")
        assert b'"first"' in d.get("/notes")[1]  # the same database, still open

        # A failing migration refuses the reload; the old configuration serves on.
        (tmp_path / "plugins" / "extra" / "migrations" / "002_bad.sql").write_text(
            "INSERT INTO nowhere VALUES (1);\n")
        mark = len(manager.messages)
        d.signal(signal.SIGHUP)
        manager.wait_for("READY", "1", after=mark)
        health = d.healthz()
        assert health["reloads"]["failed"] == 1
        assert "002_bad.sql" in health["last_reload_error"]
        assert d.get("/extra") == (200, b"1")
        d.signal(signal.SIGTERM)
        assert d.wait() == 0
        assert f"Database {db_file} closed" in d.output()[1]
    finally:
        d.stop()
        manager.close()
    (tmp_path / "plugins" / "extra" / "migrations" / "002_bad.sql").unlink()
    with sqlite3.connect(db_file) as conn:
        applied = sorted(conn.execute("SELECT namespace, name FROM embedtornado_migrations"))
    assert applied == [("extra", "001_extra.sql"), ("notes", "001_init.sql")]

    # A restart finds what was written.
    d = Daemon(tmp_path, config, sock=listening_socket())
    try:
        d.wait_serving()
        assert b'"notes": ["first"]' in d.get("/notes")[1]
        d.signal(signal.SIGTERM)
        assert d.wait() == 0
    finally:
        d.stop()


def test_failing_migration_stops_the_start_naming_file_and_statement(tmp_path):
    make_package(tmp_path, "notes", NOTES_PLUGIN,
                 {"001_init.sql": "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);\n",
                  "002_oops.sql": "ALTER TABLE missing ADD COLUMN y;\n"})
    d = Daemon(tmp_path, BASE_CONFIG + 'database = "app.db"\n', sock=listening_socket())
    try:
        assert d.wait() == 78
        err = d.output()[1]
        assert "002_oops.sql" in err and "ALTER TABLE missing" in err, err
        assert "option 'database'" in err
    finally:
        d.stop()
    with sqlite3.connect(tmp_path / "app.db") as conn:  # left as it was: nothing applied
        assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'notes'").fetchall() == []


def test_no_database_configured(tmp_path):
    make_package(tmp_path, "notes", NOTES_PLUGIN, {})
    (tmp_path / "plugins" / "needsdb.py").write_text(NEEDS_DB_PLUGIN)
    d = Daemon(tmp_path, BASE_CONFIG, sock=listening_socket(), env={"STATE_DIRECTORY": ""})
    try:
        d.wait_serving()
        health = d.healthz()
        assert health["database"] is None
        assert health["plugins"]["needsdb"]["state"] == "failed"
        assert "needs a database" in health["plugins"]["needsdb"]["error"]
        status, _ = d.get("/notes")  # app.db is None: the handler fails with 500
        assert status == 500
        d.signal(signal.SIGTERM)
        assert d.wait() == 0
    finally:
        d.stop()
    assert "'NoneType' object has no attribute 'query'" in d.output()[1]


def test_default_path_under_state_directory_and_check_config_opens_nothing(tmp_path):
    make_package(tmp_path, "notes", NOTES_PLUGIN,
                 {"001_init.sql": "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);\n"})
    state = tmp_path / "var"
    (tmp_path / "embedtornado.conf").write_text(BASE_CONFIG)
    result = run_cli([f"--config={tmp_path / 'embedtornado.conf'}", "--check-config"],
                     tmp_path, env={"STATE_DIRECTORY": str(state)}, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    assert not (state / "embedtornado.db").exists()
    d = Daemon(tmp_path, BASE_CONFIG, sock=listening_socket(),
               env={"STATE_DIRECTORY": str(state)})
    try:
        d.wait_serving()
        assert d.healthz()["database"] == str(state / "embedtornado.db")
        d.signal(signal.SIGTERM)
        assert d.wait() == 0
    finally:
        d.stop()
    assert (state / "embedtornado.db").exists()


def test_bad_synchronous_value_is_a_config_error(tmp_path):
    (tmp_path / "plugins").mkdir()
    (tmp_path / "embedtornado.conf").write_text(BASE_CONFIG + 'database_synchronous = "fast"\n')
    result = run_cli([f"--config={tmp_path / 'embedtornado.conf'}", "--check-config"], tmp_path)
    assert result.returncode == 78
    assert "database_synchronous" in result.stderr and "line 7" in result.stderr


def test_demo_settings_and_password_persist_across_restart(tmp_path):
    from test_daemon_readme import ROOT, Client

    config = (f'plugins_dir = [{str(ROOT / "device" / "plugins")!r}]\n'
              'plugins = ["settings"]\nhealthz = True\ndatabase = "demo.db"\n'
              f'cookie_secret_file = {str(tmp_path / "secret")!r}\n')

    def login(d, password):
        client = Client(d.port)
        token = client.xsrf("/settings/login")
        status, _, _ = client.post_form("/settings/login",
                                        {"_xsrf": token, "password": password})
        return client if status == 302 else None

    d = Daemon(tmp_path, config, sock=listening_socket())
    try:
        d.wait_serving()
        client = login(d, "demo")  # the documented first password
        assert client is not None
        token = client.xsrf("/settings")
        status, _, _ = client.post_form("/settings", {
            "_xsrf": token, "device_name": "bench-9", "ntp_server": "10.1.1.1",
            "new_password": "correct horse"})
        assert status == 302
        status, _, body = client.post_form("/settings", {
            "_xsrf": token, "device_name": "x", "ntp_server": "y", "new_password": "short"})
        assert status == 400 and b"8-256" in body
        d.signal(signal.SIGTERM)
        assert d.wait() == 0
    finally:
        d.stop()
    with sqlite3.connect(tmp_path / "demo.db") as conn:
        stored = conn.execute("SELECT password FROM users WHERE name = 'admin'").fetchone()[0]
    assert "correct horse" not in stored and stored.startswith("$")

    d = Daemon(tmp_path, config, sock=listening_socket())
    try:
        d.wait_serving()
        assert login(d, "demo") is None  # the option only seeds the first user
        client = login(d, "correct horse")
        assert client is not None
        body = client.request("GET", "/settings")[2]
        assert b'value="bench-9"' in body and b'value="10.1.1.1"' in body
        d.signal(signal.SIGTERM)
        assert d.wait() == 0
    finally:
        d.stop()
