"""Plugins: prefixes, templates and static files beside a package, their own
options, UI modules, selection, WebSockets at shutdown, max_connections."""

from __future__ import annotations

import re
import signal
import socket
import textwrap

import pytest
from daemonctl import BASE_CONFIG, TIMEOUT, Daemon, FakeManager, listening_socket, run_cli

PACKAGE_INIT = '''
from embedtornado.options import define, options
from embedtornado.web import RequestHandler, UIModule

define("board_title", default="Board", group="board", help="page title")

class Badge(UIModule):
    def render(self, text):
        return "<b class='badge'>%s</b>" % text

class Page(RequestHandler):
    def get(self):
        self.render("page.html", title=options.board_title)

class Own(RequestHandler):
    def get_template_path(self):
        return None  # its own choice is kept
    def get(self):
        self.write(self.static_url("app.css", include_version=False))

routes = [(r"/", Page), (r"/own", Own)]
url_prefix = "/board"
ui_modules = {"Badge": Badge}
'''

PAGE = ('<title>{{ title }}</title>{% module Badge("new") %}'
        '<link href="{{ static_url("app.css") }}">')


@pytest.fixture
def tree(tmp_path):
    board = tmp_path / "plugins" / "board"
    (board / "templates").mkdir(parents=True)
    (board / "static").mkdir()
    (board / "__init__.py").write_text(PACKAGE_INIT)
    (board / "templates" / "page.html").write_text(PAGE)
    (board / "static" / "app.css").write_text("body{}")
    (tmp_path / "plugins" / "plain.py").write_text(textwrap.dedent('''
        from embedtornado.web import RequestHandler
        class H(RequestHandler):
            def get(self, n):
                self.write("plain " + n)
        routes = [(r"/items/([0-9]+)", H), (r"^/x", H)]
    '''))
    return tmp_path


def test_prefix_templates_static_options_ui_modules(tree):
    d = Daemon(tree, BASE_CONFIG + 'board_title = "From the config"\n',
               sock=listening_socket(), args=["--plugin-prefix=plain=/p"])
    try:
        d.wait_serving()
        status, body = d.get("/board/")
        assert status == 200
        assert b"<title>From the config</title>" in body
        assert b"<b class='badge'>new</b>" in body
        assert b'href="/board/static/app.css?v=' in body
        assert d.get("/board/static/app.css") == (200, b"body{}")
        assert d.get("/board/own") == (200, b"/board/static/app.css")
        assert d.get("/p/items/7") == (200, b"plain 7")
        assert d.get("/items/7")[0] == 404
        health = d.healthz()
        assert health["plugins"]["plain"]["prefix"] == "/p"
        assert health["plugins"]["plain"]["routes"] == ["/p/items/([0-9]+)$", "^/p/x$"]
    finally:
        d.signal(signal.SIGTERM)
        assert d.wait() == 0


def test_plugin_option_from_command_line_and_selection(tree):
    conf = tree / "c.conf"
    conf.write_text(BASE_CONFIG)
    r = run_cli([f"--config={conf}", "--check-config", "--board-title=X", "--plugins=board"],
                tree)
    assert r.returncode == 0 and "plugins: board" in r.stdout, r.stderr
    r = run_cli([f"--config={conf}", "--check-config", "--plugins=nothere"], tree)
    assert r.returncode == 78 and "plugin 'nothere' not found" in r.stderr
    r = run_cli([f"--config={conf}", "--check-config", "--plugin-prefix=nothere=/a"], tree)
    assert r.returncode == 78 and "plugin_prefix" in r.stderr


def test_duplicate_ui_module_and_bad_routes_are_named(tree):
    (tree / "plugins" / "zz_other.py").write_text(
        "from embedtornado.web import UIModule\n"
        "class Badge(UIModule):\n    def render(self): return ''\n"
        "ui_modules = {'Badge': Badge}\n")
    (tree / "plugins" / "badroutes.py").write_text("routes = [('/a',)]\n")
    conf = tree / "c.conf"
    conf.write_text(BASE_CONFIG)
    r = run_cli([f"--config={conf}", "--check-config", "--disable-plugins=badroutes"], tree)
    assert r.returncode == 78
    assert "plugin 'zz_other': UI module 'Badge' is already provided by board" in r.stderr
    r = run_cli([f"--config={conf}", "--check-config", "--disable-plugins=zz_other"], tree)
    assert r.returncode == 78 and "plugin 'badroutes': routes[0] is not a valid route" \
        in r.stderr


def test_later_directory_replaces_plugin(tree):
    other = tree / "site"
    other.mkdir()
    (other / "plain.py").write_text(
        "from embedtornado.web import RequestHandler\n"
        "class H(RequestHandler):\n    def get(self): self.write('site')\n"
        "routes = [('/site', H)]\n")
    d = Daemon(tree, BASE_CONFIG.replace('["plugins"]', '["plugins", "site"]'),
               sock=listening_socket())
    try:
        d.wait_serving()
        assert d.get("/site") == (200, b"site")
        assert d.get("/items/1")[0] == 404
    finally:
        d.signal(signal.SIGTERM)
        assert d.wait() == 0


WS_PLUGIN = '''
from embedtornado.websocket import WebSocketHandler
class Echo(WebSocketHandler):
    def on_message(self, m):
        self.write_message(m)
routes = [(r"/ws", Echo)]
'''


def test_websockets_counted_and_closed_with_1001_on_stop(tmp_path):
    pytest.importorskip("embedtornado.websocket")
    from websockets.sync.client import connect

    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "echo.py").write_text(WS_PLUGIN)
    manager = FakeManager(tmp_path)
    d = Daemon(tmp_path, BASE_CONFIG, manager=manager, sock=listening_socket())
    try:
        manager.wait_for("READY", "1")
        with connect(f"ws://127.0.0.1:{d.port}/ws", open_timeout=TIMEOUT) as ws:
            ws.send("ping")
            assert ws.recv(timeout=TIMEOUT) == "ping"
            assert d.healthz()["websocket_connections"] == 1
            d.signal(signal.SIGTERM)
            from websockets.exceptions import ConnectionClosed

            with pytest.raises(ConnectionClosed) as info:
                ws.recv(timeout=TIMEOUT)
            assert info.value.rcvd.code == 1001
        assert d.wait() == 0
    finally:
        d.stop()
        manager.close()


def test_max_connections_answers_503(tmp_path):
    (tmp_path / "plugins").mkdir()
    manager = FakeManager(tmp_path)
    d = Daemon(tmp_path, BASE_CONFIG + "max_connections = 2\n", manager=manager,
               sock=listening_socket())
    held = []
    try:
        manager.wait_for("READY", "1")
        for _ in range(2):
            s = socket.create_connection(("127.0.0.1", d.port), timeout=TIMEOUT)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert s.recv(100).startswith(b"HTTP/1.1 200")
            held.append(s)
        extra = socket.create_connection(("127.0.0.1", d.port), timeout=TIMEOUT)
        data = b""
        while chunk := extra.recv(1000):
            data += chunk
        extra.close()
        assert data.startswith(b"HTTP/1.1 503 ") and data.endswith(b"Too many connections")
        for s in held:
            s.close()
        # once they are gone, connections are accepted again
        while True:
            status, body = d.get("/metrics")
            if status == 200:
                break
        # (the polling itself may have been refused while the server closed them)
        rejected = re.search(rb"embedtornado_rejected_connections_total (\d+)", body)
        assert rejected and int(rejected.group(1)) >= 1
    finally:
        for s in held:
            s.close()
        d.signal(signal.SIGTERM)
        d.wait()
        d.stop()
        manager.close()


def test_processes_two_workers_serve_and_stop(tmp_path):
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "pid.py").write_text(
        "import os\nfrom embedtornado.web import RequestHandler\n"
        "class H(RequestHandler):\n    def get(self): self.write(str(os.getpid()))\n"
        "routes = [('/pid', H)]\n")
    manager = FakeManager(tmp_path)
    d = Daemon(tmp_path, BASE_CONFIG + "processes = 2\n", manager=manager,
               sock=listening_socket())
    try:
        ready = manager.wait_for("READY", "1")
        assert "2 processes" in ready["STATUS"]
        d.wait_serving()
        pids = {d.get("/pid")[1] for _ in range(40)}
        assert str(d.proc.pid).encode() not in pids  # the parent only supervises
        d.signal(signal.SIGTERM)
        assert d.wait() == 0
    finally:
        d.stop()
        manager.close()


@pytest.mark.parametrize("processes", [1, 2])
def test_sigterm_during_start_up_exits_cleanly(tmp_path, processes):
    """A stop request while the plugins load is honoured once the loop runs
    (a worker killed by the signal instead would be restarted by its parent)."""
    (tmp_path / "plugins").mkdir()
    marker = tmp_path / "importing"
    (tmp_path / "plugins" / "slowimport.py").write_text(
        f"import os, time\nopen({str(marker)!r}, 'a').close()\ntime.sleep(0.5)\n")
    manager = FakeManager(tmp_path)
    d = Daemon(tmp_path, BASE_CONFIG + f"processes = {processes}\n", manager=manager,
               sock=listening_socket())
    try:
        import time

        deadline = time.monotonic() + TIMEOUT
        while not marker.exists():  # a plugin (of a worker) is being imported
            assert time.monotonic() < deadline and d.proc.poll() is None
            time.sleep(0.01)
        d.signal(signal.SIGTERM)
        assert d.wait() == 0
    finally:
        d.stop()
        manager.close()
    assert "restarting" not in d.output()[1]


def test_https_with_certfile_and_keyfile(tmp_path):
    import ssl

    from embedtornado import _testcert

    (tmp_path / "plugins").mkdir()
    (tmp_path / "cert.pem").write_text(_testcert.CERT_PEM)
    (tmp_path / "key.pem").write_text(_testcert.KEY_PEM)
    manager = FakeManager(tmp_path)
    d = Daemon(tmp_path, BASE_CONFIG + 'certfile = "cert.pem"\nkeyfile = "key.pem"\n',
               manager=manager, sock=listening_socket())
    try:
        manager.wait_for("READY", "1")
        ctx = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
        import http.client

        conn = http.client.HTTPSConnection("127.0.0.1", d.port, timeout=TIMEOUT, context=ctx)
        conn.request("GET", "/healthz")
        resp = conn.getresponse()
        assert resp.status == 200 and b'"status": "ok"' in resp.read()
        conn.close()
        d.signal(signal.SIGTERM)
        assert d.wait() == 0
    finally:
        d.stop()
        manager.close()
