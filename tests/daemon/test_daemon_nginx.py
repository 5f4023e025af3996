"""nginx (as in device/nginx/embedtornado.conf) in front of two daemon
instances: requests spread over both, and stopping one (SIGTERM: drain) under
load loses no request -- nginx retries what hit the closing instance."""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import subprocess
import threading
import time

import pytest
from daemonctl import BASE_CONFIG, TIMEOUT, Daemon, FakeManager, listening_socket

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed")

WHOAMI = (
    "import os\nfrom embedtornado.web import RequestHandler\n"
    "class H(RequestHandler):\n    def get(self): self.write(str(os.getpid()))\n"
    "routes = [('/whoami', H)]\n")

NGINX_CONF = """
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    upstream embedtornado {{
        server 127.0.0.1:{a} max_fails=1 fail_timeout=5s;
        server 127.0.0.1:{b} max_fails=1 fail_timeout=5s;
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://embedtornado;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_next_upstream error timeout http_503;
        }}
    }}
}}
"""


@pytest.fixture
def cluster(tmp_path):
    daemons, managers = [], []
    for name in ("a", "b"):
        home = tmp_path / name
        (home / "plugins").mkdir(parents=True)
        (home / "plugins" / "whoami.py").write_text(WHOAMI)
        manager = FakeManager(home)
        managers.append(manager)
        daemons.append(Daemon(home, BASE_CONFIG, manager=manager, sock=listening_socket()))
    for manager in managers:
        manager.wait_for("READY", "1")
    probe = listening_socket()
    port = probe.getsockname()[1]
    probe.close()
    conf = tmp_path / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp_path, a=daemons[0].port, b=daemons[1].port,
                                      port=port))
    os.chmod(tmp_path, 0o755)
    nginx = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(tmp_path)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            if get(port, "/whoami")[0] == 200:
                break
        except OSError:
            pass
        assert nginx.poll() is None, nginx.stderr.read()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    try:
        yield port, daemons
    finally:
        nginx.send_signal(signal.SIGQUIT)
        try:
            nginx.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            nginx.kill()
            nginx.wait()
        nginx.stderr.close()
        for d in daemons:
            if d.proc.poll() is None:
                d.signal(signal.SIGTERM)
            d.wait()
            d.stop()
        for m in managers:
            m.close()


def get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_requests_spread_over_both_instances(cluster):
    port, daemons = cluster
    pids = {get(port, "/whoami")[1] for _ in range(20)}
    assert pids == {str(d.proc.pid).encode() for d in daemons}


def test_stopping_one_instance_under_load_loses_no_request(cluster):
    port, daemons = cluster
    stop = threading.Event()
    results: list[tuple[int, bytes] | Exception] = []

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        while not stop.is_set():
            try:
                conn.request("GET", "/whoami")
                resp = conn.getresponse()
                results.append((resp.status, resp.read()))
            except Exception as exc:  # a lost request fails the test
                results.append(exc)
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        while len(results) < 100:
            time.sleep(0.01)
        daemons[0].signal(signal.SIGTERM)
        assert daemons[0].wait() == 0
        done = len(results)
        while len(results) < done + 100:
            time.sleep(0.01)
    finally:
        stop.set()
        for t in threads:
            t.join(TIMEOUT)
    errors = [r for r in results if not (isinstance(r, tuple) and r[0] == 200)]
    assert errors == []
    # after the stopped instance exited, only the other one answers (skipping
    # the answers each of the 4 clients may have read just before that)
    b = str(daemons[1].proc.pid).encode()
    assert {r[1] for r in results[done + 4:]} == {b}  # type: ignore[index]
