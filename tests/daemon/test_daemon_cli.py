"""The command line: --help, --check-config, and every documented error outcome."""

from __future__ import annotations

import os
import re
import signal
import stat

import pytest
from daemonctl import BASE_CONFIG, Daemon, FakeManager, listening_socket, run_cli, write_plugin

EX_CONFIG = 78


def test_help_lists_every_daemon_option_with_default_and_help(tmp_path):
    r = run_cli(["--help"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: embedtornado")
    from embedtornado.daemon.config import define_daemon_options
    from embedtornado.options import OptionParser

    parser = OptionParser()
    define_daemon_options(parser)
    flags = re.findall(r"^  --([a-z0-9-]+)", r.stdout, re.MULTILINE)
    for name in parser:
        assert name.replace("_", "-") in flags, name
    # defaults and help text are shown
    assert re.search(r"--drain-timeout=SECONDS\s+on SIGTERM/SIGINT.*\(default 10\.0\)",
                     r.stdout, re.DOTALL)
    assert "--log-file-prefix" in r.stdout  # the logging options too


def test_help_includes_plugin_options(tmp_path):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "greet.py").write_text(
        "from embedtornado.options import define\n"
        "define('greeting', default='hi', group='greet', help='what to say')\n")
    (tmp_path / "c.conf").write_text('plugins_dir = ["plugins"]\n')
    r = run_cli([f"--config={tmp_path / 'c.conf'}", "--help"], tmp_path)
    assert r.returncode == 0
    assert re.search(r"greet options:\s+--greeting\s+what to say \(default hi\)", r.stdout)


def test_check_config_ok(tmp_path):
    write_plugin(tmp_path / "plugins")
    (tmp_path / "c.conf").write_text(BASE_CONFIG)
    r = run_cli([f"--config={tmp_path / 'c.conf'}", "--check-config"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "configuration OK" in r.stdout and "testapp" in r.stdout


@pytest.mark.parametrize("text, line, option, words", [
    ('port = 8000\nmax_body_size = "lots"\n', 2, "max_body_size", "int"),
    ('port = 8000\n\ndrain_timeout = [1]\n', 3, "drain_timeout", "float"),
    ('port = 70000\n', 1, "port", "0-65535"),
    ('unix_socket_mode = "0999"\n', 1, "unix_socket_mode", "octal"),
    ('plugins_dir = ["nowhere"]\n', 1, "plugins_dir", "does not exist"),
])
def test_config_errors_name_file_line_and_option(tmp_path, text, line, option, words):
    conf = tmp_path / "bad.conf"
    conf.write_text(text)
    for extra in (["--check-config"], []) if option == "max_body_size" else (["--check-config"],):
        r = run_cli([f"--config={conf}", *extra, "--port=0"] if option != "port"
                    else [f"--config={conf}", *extra], tmp_path)
        assert r.returncode == EX_CONFIG, (r.stdout, r.stderr)
        assert f"{conf} line {line}" in r.stderr, r.stderr
        assert option in r.stderr and words in r.stderr, r.stderr


def test_config_syntax_and_runtime_errors(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("port = 8000\nmax_body_size = (\n")
    r = run_cli([f"--config={conf}", "--check-config"], tmp_path)
    assert r.returncode == EX_CONFIG and f"{conf} line 2" in r.stderr, r.stderr
    conf.write_text("port = 8000\n\nmax_body_size = undefined_name * 2\n")
    r = run_cli([f"--config={conf}", "--check-config"], tmp_path)
    assert r.returncode == EX_CONFIG and f"{conf} line 3" in r.stderr
    assert "NameError" in r.stderr


def test_command_line_errors(tmp_path):
    r = run_cli(["--config=/nonexistent/x.conf", "--check-config"], tmp_path)
    assert r.returncode == EX_CONFIG and "/nonexistent/x.conf does not exist" in r.stderr
    (tmp_path / "c.conf").write_text("")
    r = run_cli([f"--config={tmp_path / 'c.conf'}", "--no-such-option=1"], tmp_path)
    assert r.returncode == EX_CONFIG and "no_such_option" in r.stderr
    r = run_cli([f"--config={tmp_path / 'c.conf'}", "--port=eighty", "--check-config"],
                tmp_path)
    assert r.returncode == EX_CONFIG and "command line" in r.stderr and "port" in r.stderr


def test_config_from_environment_and_command_line_override(tmp_path):
    write_plugin(tmp_path / "plugins")
    (tmp_path / "c.conf").write_text(BASE_CONFIG + 'disable_plugins = ["testapp"]\n')
    r = run_cli(["--check-config"], tmp_path, env={"EMBEDTORNADO_CONFIG": str(tmp_path / "c.conf")})
    assert r.returncode == 0 and "plugins: none" in r.stdout, r.stdout
    r = run_cli(["--check-config", "--disable-plugins="], tmp_path,
                env={"EMBEDTORNADO_CONFIG": str(tmp_path / "c.conf")})
    assert r.returncode == 0 and "plugins: testapp" in r.stdout, r.stdout


BROKEN = "import os\n\nraise RuntimeError('boom at import')\n"


def test_plugin_import_error_check_config_and_strict(tmp_path):
    write_plugin(tmp_path / "plugins")
    (tmp_path / "plugins" / "broken.py").write_text(BROKEN)
    (tmp_path / "c.conf").write_text(BASE_CONFIG)
    r = run_cli([f"--config={tmp_path / 'c.conf'}", "--check-config"], tmp_path)
    assert r.returncode == EX_CONFIG
    assert "plugin 'broken'" in r.stderr and "RuntimeError: boom at import" in r.stderr
    assert "broken.py line 3" in r.stderr
    r = run_cli([f"--config={tmp_path / 'c.conf'}", "--strict", "--port=0"], tmp_path)
    assert r.returncode == EX_CONFIG and "plugin 'broken'" in r.stderr


def test_plugin_failures_non_strict_start_degraded(tmp_path):
    plugins = tmp_path / "plugins"
    write_plugin(plugins)
    (plugins / "broken.py").write_text(BROKEN)
    (plugins / "badsetup.py").write_text(
        "from embedtornado.web import RequestHandler\n"
        "class H(RequestHandler):\n    def get(self): self.write('x')\n"
        "routes = [('/badsetup', H)]\n"
        "def setup(app, options):\n    raise ValueError('no device')\n")
    (plugins / "dup.py").write_text(
        "from embedtornado.web import RequestHandler\n"
        "class H(RequestHandler):\n    def get(self): self.write('dup')\n"
        "routes = [('/hello', H)]\n")
    d = Daemon(tmp_path, BASE_CONFIG, sock=listening_socket())
    try:
        d.wait_serving()
        health = d.healthz()
        assert health["status"] == "degraded"
        p = health["plugins"]
        assert p["broken"]["state"] == "failed"
        assert "RuntimeError: boom at import" in p["broken"]["error"]
        assert p["badsetup"]["state"] == "failed"
        assert "setup() failed: ValueError: no device" in p["badsetup"]["error"]
        # Plugins load in name order: "dup" claims /hello first; "testapp", the
        # later claimant, fails with an error naming the first.
        assert p["dup"]["state"] == "loaded"
        assert p["testapp"]["state"] == "failed"
        assert "route /hello$ is already claimed by dup" in p["testapp"]["error"]
        assert d.get("/badsetup")[0] == 404  # its routes were removed again
        assert d.get("/hello") == (200, b"dup")
    finally:
        d.signal(signal.SIGTERM)
        assert d.wait() == 0
    err = d.output()[1]
    assert "plugin 'broken'" in err and "starting without it" in err


def test_cookie_secret_file_created_0600(tmp_path):
    write_plugin(tmp_path / "plugins")
    secret = tmp_path / "state" / "cookie_secret"
    d = Daemon(tmp_path, BASE_CONFIG + f'cookie_secret_file = "{secret}"\n',
               sock=listening_socket())
    try:
        d.wait_serving()
    finally:
        d.signal(signal.SIGTERM)
        assert d.wait() == 0
    assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600
    first = secret.read_text()
    assert len(first.strip()) >= 32
    # kept across starts
    d = Daemon(tmp_path, BASE_CONFIG + f'cookie_secret_file = "{secret}"\n',
               sock=listening_socket())
    try:
        d.wait_serving()
    finally:
        d.signal(signal.SIGTERM)
        assert d.wait() == 0
    assert secret.read_text() == first


def test_unix_socket_with_mode(tmp_path):
    import http.client
    import socket as socketmod

    write_plugin(tmp_path / "plugins")
    path = tmp_path / "http.sock"
    manager = FakeManager(tmp_path)
    d = Daemon(tmp_path, BASE_CONFIG + f'unix_socket = "{path}"\nunix_socket_mode = "0640"\n',
               manager=manager)
    try:
        manager.wait_for("READY", "1")
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o640

        class UnixConnection(http.client.HTTPConnection):
            def connect(self):
                self.sock = socketmod.socket(socketmod.AF_UNIX, socketmod.SOCK_STREAM)
                self.sock.connect(str(path))

        conn = UnixConnection("localhost", timeout=30)
        conn.request("GET", "/hello")
        assert conn.getresponse().read() == b"hello v1"
        conn.close()
    finally:
        d.signal(signal.SIGTERM)
        assert d.wait() == 0
        manager.close()
