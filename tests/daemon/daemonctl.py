"""Run the real daemon as a subprocess, with the test as its service manager.

`FakeManager` is the manager's side of sd_notify (an AF_UNIX datagram socket
with SO_PASSCRED, so each message carries the sender's pid); `Daemon` starts
``python -m embedtornado`` with a config written to a temporary directory,
optionally passing a listening socket as fd 3 with ``LISTEN_PID`` set to the
child's own pid (``sh -c 'exec'`` keeps the pid).
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

TIMEOUT = 30.0


class FakeManager:
    """The notify socket; `messages` are ``(pid, {KEY: VALUE})`` in arrival order."""

    def __init__(self, directory: Path) -> None:
        self.path = str(directory / "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.bind(self.path)
        self.messages: list[tuple[int | None, dict[str, str]]] = []

    def _receive(self, timeout: float) -> bool:
        self.sock.settimeout(timeout)
        try:
            data, ancdata, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
        except (socket.timeout, BlockingIOError):
            return False
        pid = None
        for level, kind, payload in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", payload[:12])[0]
        fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
        self.messages.append((pid, fields))
        return True

    def wait_for(self, key: str, value: str | None = None, after: int = 0,
                 timeout: float = TIMEOUT) -> dict[str, str]:
        """The first message from index ``after`` on that has ``key`` (= ``value``)."""
        deadline = time.monotonic() + timeout
        index = after
        while True:
            while index < len(self.messages):
                fields = self.messages[index][1]
                index += 1
                if key in fields and (value is None or fields[key] == value):
                    return fields
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {key}={value} notification; got {self.messages}")
            self._receive(remaining)

    def drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._receive(max(0.01, deadline - time.monotonic()))

    def close(self) -> None:
        self.sock.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


class Daemon:
    """One daemon process.

    :arg tmp: a directory for the config (``embedtornado.conf``) and plugins.
    :arg config: the config file's text (``plugins_dir`` etc.).
    :arg manager: a `FakeManager` whose socket becomes ``NOTIFY_SOCKET``.
    :arg sock: a listening socket to pass as fd 3 (socket activation); else
        the daemon binds ``port`` from the config (tests pass ``--port`` 0? no:
        tests always pass a socket or set port explicitly).
    """

    def __init__(self, tmp: Path, config: str, *, manager: FakeManager | None = None,
                 sock: socket.socket | None = None, args: list[str] | None = None,
                 env: dict[str, str] | None = None, fdname: str | None = "http") -> None:
        self.tmp = tmp
        self.conf = tmp / "embedtornado.conf"
        self.conf.write_text(config)
        self.sock = sock
        self.port = sock.getsockname()[1] if sock is not None else None
        environ = dict(os.environ)
        for key in ("NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES",
                    "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM", "EMBEDTORNADO_CONFIG"):
            environ.pop(key, None)
        if manager is not None:
            environ["NOTIFY_SOCKET"] = manager.path
        environ.update(env or {})
        cmd = [sys.executable, "-m", "embedtornado", f"--config={self.conf}", *(args or [])]
        preexec = None
        pass_fds: tuple[int, ...] = ()
        if sock is not None:
            environ["LISTEN_FDS"] = "1"
            if fdname:
                environ["LISTEN_FDNAMES"] = fdname
            cmd = ["/bin/sh", "-c", 'LISTEN_PID=$$; export LISTEN_PID; exec "$@"', "sh", *cmd]
            fd = sock.fileno()

            def preexec() -> None:
                os.dup2(fd, 3)

            pass_fds = (3,)
        self.proc = subprocess.Popen(cmd, env=environ, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, preexec_fn=preexec,
                                     pass_fds=pass_fds, cwd=str(tmp))
        self._output: tuple[str, str] | None = None
        if sock is not None:
            sock.close()  # the daemon has its copy

    def get(self, path: str, timeout: float = TIMEOUT, **kw) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(kw.pop("method", "GET"), path, **kw)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def healthz(self) -> dict:
        status, body = self.get("/healthz")
        assert status in (200, 503), body
        return json.loads(body)

    def wait_serving(self, timeout: float = TIMEOUT) -> None:
        """Poll until an HTTP request gets an answer (when no manager is used)."""
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited {self.proc.returncode}: {self.output()}")
            try:
                self.get("/healthz", timeout=2)
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float = TIMEOUT) -> int:
        code = self.proc.wait(timeout)
        self.output()
        return code

    def output(self) -> tuple[str, str]:
        if self._output is None:
            if self.proc.poll() is None:
                return ("", "(running)")
            out, err = self.proc.communicate(timeout=TIMEOUT)
            self._output = (out, err)
        return self._output

    def stop(self) -> None:
        """Kill the daemon (and its workers) if it is still running."""
        if self.proc.poll() is None:
            for pid in children(self.proc.pid):
                try:
                    os.kill(pid, 9)
                except OSError:
                    pass
            self.proc.kill()
            self.proc.wait(TIMEOUT)
        self.output()


def children(parent: int) -> list[int]:
    """Pids of ``parent``'s children (worker processes)."""
    from embedtornado.daemon.cli import _children

    return _children(parent)


def run_cli(args: list[str], cwd: Path, env: dict[str, str] | None = None,
            timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items()
               if k not in ("NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "EMBEDTORNADO_CONFIG")}
    environ.update(env or {})
    return subprocess.run([sys.executable, "-m", "embedtornado", *args], cwd=str(cwd),
                          env=environ, capture_output=True, text=True, timeout=timeout)


TEST_PLUGIN = '''
import asyncio
from embedtornado.web import RequestHandler

VERSION = "{version}"
inflight = [0]

class Hello(RequestHandler):
    def get(self):
        self.write("hello " + VERSION)

class Slow(RequestHandler):
    async def get(self):
        inflight[0] += 1
        try:
            await asyncio.sleep(float(self.get_argument("s", "1")))
        finally:
            inflight[0] -= 1
        self.write("slow done " + VERSION)

class Inflight(RequestHandler):
    def get(self):
        self.write(str(inflight[0]))

class Block(RequestHandler):
    def get(self):
        import time
        time.sleep(float(self.get_argument("s", "1")))
        self.write("unblocked")

routes = [(r"/hello", Hello), (r"/slow", Slow), (r"/inflight", Inflight), (r"/block", Block)]
'''


def write_plugin(directory: Path, name: str = "testapp", version: str = "v1") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.py"
    path.write_text(TEST_PLUGIN.format(version=version))
    return path


BASE_CONFIG = '''
plugins_dir = ["plugins"]
healthz = True
metrics = True
drain_timeout = 20.0
logging = "info"
'''
