"""The README's first command runs the daemon on the demo config, and the
demo plugins serve what they promise.

The command's install steps are the CI's job (.ci/run); this runs its last
step -- ``.venv/bin/embedtornado --config=device/embedtornado.conf`` -- with
this interpreter's installed package, from the repository root, on a free port
(``--port=0``; the port is read from the daemon's READY status).
"""

from __future__ import annotations

import http.client
import json
import re
import shlex
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from daemonctl import TIMEOUT, FakeManager

ROOT = Path(__file__).resolve().parents[2]


def readme_first_command() -> str:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```sh\n(.*?)\n```", text, re.DOTALL)[0].strip()


def test_first_command_installs_then_runs_the_daemon_on_the_demo_config():
    cmd = readme_first_command()
    steps = [s.strip() for s in cmd.split("&&")]
    assert "\n" not in cmd  # one pasteable line
    assert any(s.startswith(".venv/bin/pip install .") for s in steps)
    assert shlex.split(steps[-1]) == [".venv/bin/embedtornado",
                                      "--config=device/embedtornado.conf"]


class Client:
    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict | None = None) -> tuple[int, dict, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
        h = dict(headers or {})
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn.request(method, path, body=body, headers=h)
        resp = conn.getresponse()
        data = resp.read()
        for value in resp.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            self.cookies[name] = rest.split(";")[0]
        out = resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        conn.close()
        return out

    def xsrf(self, page: str) -> str:
        status, _, body = self.request("GET", page)
        assert status == 200
        m = re.search(rb'name="_xsrf" value="([^"]+)"', body)
        assert m, body
        return m.group(1).decode()

    def post_form(self, path: str, fields: dict) -> tuple[int, dict, bytes]:
        from urllib.parse import urlencode

        return self.request("POST", path, urlencode(fields).encode(),
                            {"Content-Type": "application/x-www-form-urlencoded"})


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("readme")
    manager = FakeManager(tmp)
    argv = shlex.split(readme_first_command().split("&&")[-1])
    cmd = [sys.executable, "-m", "embedtornado", *argv[1:], "--port=0"]
    env = {"PATH": "/usr/bin:/bin", "NOTIFY_SOCKET": manager.path, "HOME": str(tmp)}
    import os

    for key in ("PYTHONPATH", "EMBEDTORNADO_NO_EXTENSIONS", "EMBEDTORNADO_REQUIRE_EXTENSIONS",
                "SYSTEMROOT"):
        if key in os.environ:
            env[key] = os.environ[key]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        ready = manager.wait_for("READY", "1")
        port = int(re.search(r"127\.0\.0\.1:(\d+)", ready["STATUS"]).group(1))
        yield Client(port), proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=TIMEOUT)
        manager.close()


def test_status_page_template_and_static_assets(demo):
    client, _ = demo
    status, headers, body = client.request("GET", "/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert b"<h2>Plugins</h2>" in body
    for name in (b"status", b"api", b"upload", b"settings", b"livelog"):
        assert b'<li class="loaded"><b>' + name + b"</b>" in body
    css = re.search(rb'href="(/plugins/status/static/style\.css\?v=[0-9a-f]+)"', body)
    assert css, body
    status, headers, data = client.request("GET", css.group(1).decode())
    assert status == 200 and headers["content-type"].startswith("text/css")
    assert b"font-family" in data


def test_json_api(demo):
    client, _ = demo
    status, headers, body = client.request("GET", "/api/v1/info")
    assert status == 200 and headers["content-type"].startswith("application/json")
    assert json.loads(body)["version"]
    status, _, body = client.request("POST", "/api/v1/items", b'{"name": "sensor"}',
                                     {"Content-Type": "application/json"})
    assert status == 201
    item = json.loads(body)
    assert client.request("GET", f"/api/v1/items/{item['id']}")[2] == body
    # not JSON, no token: refused by XSRF protection
    assert client.request("POST", "/api/v1/items", b"name=x")[0] == 403
    status, _, body = client.request("POST", "/api/v1/items", b"[1]",
                                     {"Content-Type": "application/json"})
    assert status == 400 and json.loads(body)["error"] == "Body must be a JSON object"


def test_file_upload_with_xsrf(demo):
    client = Client(demo[0].port)
    token = client.xsrf("/upload")
    boundary = uuid.uuid4().hex
    content = b"\x00binary\xffdata"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"_xsrf\"\r\n\r\n{token}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"blob.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            ).encode() + content + f"\r\n--{boundary}--\r\n".encode()
    ctype = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    status, headers, _ = client.request("POST", "/upload", body, ctype)
    assert status == 302 and headers["location"] == "/upload"
    assert b"blob.bin" in client.request("GET", "/upload")[2]
    assert client.request("GET", "/upload/files/blob.bin")[2] == content
    # without the token
    assert Client(client.port).request("POST", "/upload", body, ctype)[0] == 403


def test_settings_login_signed_cookie_and_xsrf(demo):
    client = Client(demo[0].port)
    status, headers, _ = client.request("GET", "/settings")
    assert status == 302 and headers["location"].startswith("/settings/login")
    token = client.xsrf("/settings/login")
    status, _, body = client.post_form("/settings/login", {"_xsrf": token, "password": "nope"})
    assert status == 403 and b"Wrong password" in body
    status, headers, _ = client.post_form("/settings/login",
                                          {"_xsrf": token, "password": "demo"})
    assert status == 302 and "user" in client.cookies
    assert client.cookies["user"].count("|") >= 4  # a signed value, not a plain name
    token = client.xsrf("/settings")
    status, headers, _ = client.post_form(
        "/settings", {"_xsrf": token, "device_name": "bench-7", "ntp_server": "10.0.0.1"})
    assert status == 302
    assert b'value="bench-7"' in client.request("GET", "/settings")[2]
    # a forged cookie is not a login
    forged = Client(client.port)
    forged.cookies["user"] = "admin"
    assert forged.request("GET", "/settings")[0] == 302
    # and a form without the token is refused
    assert client.post_form("/settings", {"device_name": "x", "ntp_server": "y"})[0] == 403


def test_live_log_websocket(demo):
    client, _ = demo
    from websockets.sync.client import connect

    client.request("GET", "/api/v1/info?marker=livelog-test")
    with connect(f"ws://127.0.0.1:{client.port}/logs/ws", open_timeout=TIMEOUT) as ws:
        lines = []
        while not any("livelog-test" in line for line in lines):
            lines.append(ws.recv(timeout=TIMEOUT))  # replayed history
        client.request("GET", "/api/v1/info?marker=second-line")
        while not any("second-line" in line for line in lines):
            lines.append(ws.recv(timeout=TIMEOUT))  # live
    assert client.request("GET", "/logs")[0] == 200


def test_healthz_and_metrics(demo):
    client, _ = demo
    health = json.loads(client.request("GET", "/healthz")[2])
    assert health["status"] == "ok"
    assert {n: p["state"] for n, p in health["plugins"].items()} == {
        "api": "loaded", "livelog": "loaded", "settings": "loaded", "status": "loaded",
        "upload": "loaded"}
    status, headers, body = client.request("GET", "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain; version=0.0.4")
    text = body.decode()
    assert re.search(r'embedtornado_http_requests_total\{handler="api.InfoHandler",code="200"\} '
                     r"\d+", text)
    assert 'embedtornado_http_request_duration_seconds_bucket{le="+Inf"}' in text
    assert "embedtornado_resident_memory_bytes " in text


def test_demo_files_are_all_in_git():
    """A fresh checkout (the README's starting point) has every demo file: none
    is untracked or ignored (``*.html`` is ignored for Cython's annotate output)."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    r = subprocess.run(["git", "ls-files", "--others", "--exclude-standard", "--ignored",
                        "--", "device", "systemd", "src/embedtornado/daemon"],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    leftover = [f for f in r.stdout.splitlines() if "__pycache__" not in f]
    assert r.returncode == 0 and leftover == [], leftover
    r = subprocess.run(["git", "ls-files", "--others", "--exclude-standard", "--",
                        "device", "systemd", "src/embedtornado/daemon"],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.stdout.split() == [], r.stdout
