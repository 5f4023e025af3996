"""The daemon under a (fake) service manager: sd_notify, watchdog, socket
activation, SIGHUP reload under load, SIGTERM drain, journal prefixes."""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from daemonctl import (
    BASE_CONFIG,
    TIMEOUT,
    Daemon,
    FakeManager,
    listening_socket,
    write_plugin,
)

from embedtornado.daemon.sdnotify import Notifier, monotonic_usec, watchdog_interval


@pytest.fixture
def manager(tmp_path):
    m = FakeManager(tmp_path)
    yield m
    m.close()


def test_notifier_never_raises(tmp_path):
    assert Notifier(None).send("READY=1") is False
    gone = Notifier(str(tmp_path / "nobody-listens.sock"))
    assert gone.send("READY=1") is False and gone.failed == 1
    gone.close()
    m = FakeManager(tmp_path)
    n = Notifier(m.path)
    assert n.send("STATUS=a\nb", "READY=1")
    assert m.wait_for("READY")["STATUS"] == "a b"  # a newline cannot split a field
    m.close()  # the manager goes away: still no exception
    assert n.send("STOPPING=1") is False
    n.close()


def test_abstract_socket_and_environment_unset(tmp_path):
    name = f"et-test-{os.getpid()}"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind("\0" + name)
    env = {"NOTIFY_SOCKET": "@" + name}
    n = Notifier.from_environment(env)
    assert "NOTIFY_SOCKET" not in env
    assert n.send("READY=1")
    assert server.recv(100) == b"READY=1"
    server.close()
    n.close()


def test_watchdog_interval_parsing():
    assert watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 15.0
    env = {"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": str(os.getpid())}
    assert watchdog_interval(env) == 0.5 and env == {}
    assert watchdog_interval({"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "x"}) is None
    assert watchdog_interval({}) is None


def _start(tmp_path, manager, extra="", **kw):
    write_plugin(tmp_path / "plugins")
    return Daemon(tmp_path, BASE_CONFIG + extra, manager=manager, sock=listening_socket(), **kw)


def test_ready_watchdog_reload_stop_messages(tmp_path, manager):
    d = _start(tmp_path, manager, env={"WATCHDOG_USEC": "200000"})
    try:
        ready = manager.wait_for("READY", "1")
        assert ready["STATUS"].startswith("serving on 127.0.0.1:")
        assert ready["MAINPID"] == str(d.proc.pid)
        assert manager.messages[0][0] == d.proc.pid  # sent by the main process itself
        assert d.get("/hello") == (200, b"hello v1")  # fd 3 was adopted
        # watchdog: pings at half of WATCHDOG_USEC, from the loop
        start = len(manager.messages)
        for _ in range(3):
            manager.wait_for("WATCHDOG", "1", after=start)
            start = len(manager.messages)
        # SIGHUP: RELOADING=1 with a current MONOTONIC_USEC, then READY=1
        mark = len(manager.messages)
        d.signal(signal.SIGHUP)
        reloading = manager.wait_for("RELOADING", "1", after=mark)
        age = monotonic_usec() - int(reloading["MONOTONIC_USEC"])
        assert 0 <= age < TIMEOUT * 1e6
        manager.wait_for("READY", "1", after=mark)
        metrics = d.get("/metrics")[1].decode()
        assert 'embedtornado_reloads_total{result="ok"} 1' in metrics
        assert "embedtornado_watchdog_pings_total" in metrics
        mark = len(manager.messages)
        d.signal(signal.SIGTERM)
        manager.wait_for("STOPPING", "1", after=mark)
        assert d.wait() == 0
    finally:
        d.stop()


def test_stop_when_manager_socket_is_gone(tmp_path, manager):
    d = _start(tmp_path, manager, env={"WATCHDOG_USEC": "100000"})
    try:
        manager.wait_for("READY", "1")
        manager.close()  # the manager vanishes; notifications now fail
        time.sleep(0.3)  # a few failing watchdog pings
        assert d.get("/hello")[0] == 200
        d.signal(signal.SIGTERM)
        assert d.wait() == 0
    finally:
        d.stop()


def test_blocked_loop_stops_watchdog_pings(tmp_path, manager):
    d = _start(tmp_path, manager, env={"WATCHDOG_USEC": "100000"})
    try:
        manager.wait_for("READY", "1")
        manager.wait_for("WATCHDOG", "1")
        result = {}
        t = threading.Thread(target=lambda: result.update(r=d.get("/block?s=1.5")))
        # Record when pings arrive: a few before the request, through the
        # block (when none may come: they are sent from the event loop), and
        # a few after it.
        times: list[float] = []
        deadline = time.monotonic() + TIMEOUT
        after_block = 0
        while after_block < 3 and time.monotonic() < deadline:
            before = len(manager.messages)
            manager.drain(0.02)
            now = time.monotonic()
            pings = sum(1 for m in manager.messages[before:] if "WATCHDOG" in m[1])
            times.extend([now] * pings)
            if len(times) >= 3 and not t.is_alive() and t.ident is None:
                t.start()
            elif t.ident is not None and not t.is_alive():
                after_block += pings
        t.join(TIMEOUT)
        assert result["r"] == (200, b"unblocked")
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert gaps and max(gaps) >= 0.9, gaps
    finally:
        d.signal(signal.SIGTERM)
        d.wait()
        d.stop()


class Load:
    """Clients hammering the daemon on keep-alive and fresh connections."""

    def __init__(self, port: int, path: str, threads: int = 4) -> None:
        self.port, self.path = port, path
        self.stop = threading.Event()
        self.ok = 0
        self.errors: list[str] = []
        self.bodies: set[bytes] = set()
        self.threads = [threading.Thread(target=self.run, args=(i % 2 == 0,))
                        for i in range(threads)]
        for t in self.threads:
            t.start()

    def run(self, keep_alive: bool) -> None:
        conn = None
        while not self.stop.is_set():
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
                conn.request("GET", self.path)
                resp = conn.getresponse()
                body = resp.read()
                if resp.status != 200:
                    self.errors.append(f"{resp.status} {body!r}")
                self.ok += 1
                self.bodies.add(body)
                if not keep_alive or resp.will_close:
                    conn.close()
                    conn = None
            except Exception as exc:  # any failed request is a test failure
                self.errors.append(repr(exc))
                conn = None
        if conn is not None:
            conn.close()

    def finish(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(TIMEOUT)


def test_reload_with_changed_plugin_under_load_loses_nothing(tmp_path, manager):
    d = _start(tmp_path, manager)
    try:
        manager.wait_for("READY", "1")
        load = Load(d.port, "/hello")
        try:
            while load.ok < 50:
                time.sleep(0.01)
            write_plugin(tmp_path / "plugins", version="v2")
            mark = len(manager.messages)
            d.signal(signal.SIGHUP)
            manager.wait_for("READY", "1", after=mark)
            seen = load.ok
            while load.ok < seen + 50:
                time.sleep(0.01)
        finally:
            load.finish()
        assert load.errors == []
        assert load.bodies == {b"hello v1", b"hello v2"}
        assert d.get("/hello") == (200, b"hello v2")
        # a broken edit: the old generation keeps serving, the error is reported
        (tmp_path / "plugins" / "testapp.py").write_text("raise ImportError('half-written')\n")
        mark = len(manager.messages)
        d.signal(signal.SIGHUP)
        ready = manager.wait_for("READY", "1", after=mark)
        assert "reload failed" in ready["STATUS"] and "half-written" in ready["STATUS"]
        assert d.get("/hello") == (200, b"hello v2")
        health = d.healthz()
        assert "half-written" in health["last_reload_error"]
        assert health["plugins"]["testapp"]["state"] == "loaded"
        # a config with a type error: also kept out
        d.conf.write_text(BASE_CONFIG + 'max_body_size = "big"\n')
        mark = len(manager.messages)
        d.signal(signal.SIGHUP)
        ready = manager.wait_for("READY", "1", after=mark)
        assert "reload failed" in ready["STATUS"] and "line" in ready["STATUS"]
        assert d.get("/hello") == (200, b"hello v2")
        d.signal(signal.SIGTERM)
        assert d.wait() == 0
    finally:
        d.stop()
    assert "Reload failed, still serving the previous configuration" in d.output()[1]


def test_sigterm_drains_in_flight_requests(tmp_path, manager):
    d = _start(tmp_path, manager)
    try:
        manager.wait_for("READY", "1")
        # an idle keep-alive connection, closed by the drain
        idle = http.client.HTTPConnection("127.0.0.1", d.port, timeout=TIMEOUT)
        idle.request("GET", "/hello")
        assert idle.getresponse().read() == b"hello v1"
        results: list = []

        def slow() -> None:
            try:
                results.append(d.get("/slow?s=1.5"))
            except Exception as exc:
                results.append(exc)

        threads = [threading.Thread(target=slow) for _ in range(6)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + TIMEOUT
        while d.get("/inflight")[1] != b"6":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        mark = len(manager.messages)
        d.signal(signal.SIGTERM)
        manager.wait_for("STOPPING", "1", after=mark)
        health_gone = False
        for t in threads:
            t.join(TIMEOUT)
        assert results == [(200, b"slow done v1")] * 6
        # the idle keep-alive connection was closed by the server
        idle.sock.settimeout(TIMEOUT)
        assert idle.sock.recv(1) == b""
        idle.close()
        assert d.wait() == 0
        try:
            socket.create_connection(("127.0.0.1", d.port), timeout=2).close()
        except OSError:
            health_gone = True
        assert health_gone
    finally:
        d.stop()


def test_drain_timeout_closes_what_is_left(tmp_path, manager):
    d = _start(tmp_path, manager, extra="drain_timeout = 0.3\n")
    try:
        manager.wait_for("READY", "1")
        results: list = []
        t = threading.Thread(target=lambda: results.append(_try(d, "/slow?s=30")))
        t.start()
        while d.get("/inflight")[1] != b"1":
            time.sleep(0.02)
        d.signal(signal.SIGTERM)
        assert d.wait() == 0
        t.join(TIMEOUT)
        assert isinstance(results[0], Exception)
    finally:
        d.stop()
    assert "still busy after drain_timeout" in d.output()[1]


def _try(d, path):
    try:
        return d.get(path)
    except Exception as exc:
        return exc


@pytest.mark.skipif(shutil.which("systemd-socket-activate") is None,
                    reason="systemd-socket-activate not installed")
def test_systemd_socket_activate(tmp_path, manager):
    write_plugin(tmp_path / "plugins")
    conf = tmp_path / "c.conf"
    conf.write_text(BASE_CONFIG)
    probe = listening_socket()
    port = probe.getsockname()[1]
    probe.close()
    env = dict(os.environ, NOTIFY_SOCKET=manager.path)
    proc = subprocess.Popen(
        ["systemd-socket-activate", "-l", f"127.0.0.1:{port}", "--fdname=http",
         "-E", "NOTIFY_SOCKET", "-E", "PYTHONPATH", sys.executable, "-m", "embedtornado",
         f"--config={conf}"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        # The first connection triggers the exec; it waits in the backlog.
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
                conn.request("GET", "/hello")
                break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        resp = conn.getresponse()
        assert (resp.status, resp.read()) == (200, b"hello v1")
        conn.close()
        ready = manager.wait_for("READY", "1")
        assert f"127.0.0.1:{port}" in ready["STATUS"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(TIMEOUT) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=TIMEOUT)


def test_ops_socket_passed_separately_and_journal_prefixes(tmp_path, manager):
    """Two passed sockets (http, ops); stderr is the 'journal'."""
    write_plugin(tmp_path / "plugins")
    conf = tmp_path / "c.conf"
    conf.write_text(BASE_CONFIG)
    main, ops = listening_socket(), listening_socket()
    log = open(tmp_path / "stderr.log", "w+")
    st = os.fstat(log.fileno())
    env = dict(os.environ, NOTIFY_SOCKET=manager.path, LISTEN_FDS="2",
               LISTEN_FDNAMES="http:ops", JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}")
    for k in ("LISTEN_PID", "EMBEDTORNADO_CONFIG"):
        env.pop(k, None)
    fds = (main.fileno(), ops.fileno())

    def preexec():
        os.dup2(fds[0], 3)
        os.dup2(fds[1], 4)

    proc = subprocess.Popen(
        ["/bin/sh", "-c", 'LISTEN_PID=$$; export LISTEN_PID; exec "$@"', "sh",
         sys.executable, "-m", "embedtornado", f"--config={conf}"],
        env=env, stderr=log, stdout=subprocess.DEVNULL, preexec_fn=preexec, pass_fds=(3, 4))
    main_port, ops_port = main.getsockname()[1], ops.getsockname()[1]
    main.close()
    ops.close()
    try:
        manager.wait_for("READY", "1")

        def get(port, path):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
            c.request("GET", path)
            r = c.getresponse()
            out = r.status, r.read()
            c.close()
            return out

        assert get(main_port, "/hello") == (200, b"hello v1")
        assert get(main_port, "/healthz")[0] == 404  # not on the main listener
        assert get(ops_port, "/healthz")[0] == 200
        assert get(ops_port, "/metrics")[1].count(b"embedtornado_http_requests_total{") >= 1
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(TIMEOUT) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log.seek(0)
    lines = log.read().splitlines()
    log.close()
    assert any(line.startswith("<6>access: 200 GET /hello") for line in lines), lines
    assert any(line.startswith("<4>access: 404 GET /healthz") for line in lines), lines
    assert all(line[:1] == "<" and line[2:3] == ">" for line in lines), lines


def test_reload_applies_limits_to_new_connections(tmp_path, manager):
    d = _start(tmp_path, manager, extra="max_body_size = 1000\n")
    try:
        manager.wait_for("READY", "1")
        body = b"x" * 2000
        assert d.get("/hello", method="POST", body=body)[0] == 413
        d.conf.write_text(BASE_CONFIG + "max_body_size = 100000\n")
        mark = len(manager.messages)
        d.signal(signal.SIGHUP)
        ready = manager.wait_for("READY", "1", after=mark)
        assert "reload failed" not in ready["STATUS"]
        assert d.get("/hello", method="POST", body=body)[0] == 403  # read; no XSRF token
        d.signal(signal.SIGTERM)
        assert d.wait() == 0
    finally:
        d.stop()
