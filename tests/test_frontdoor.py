"""The HTTP front door under attack: slow clients, too many connections, no fds left.

HOSTILE-INPUTS.md section 3.G (cases 59, 60, 61, 66) and the ``max_connections``
limit. Tests that watch the server as a process (its memory, CPU time and
descriptors) run it in a subprocess (``_SERVER_SCRIPT``, which inherits the
``EMBEDTORNADO_*`` switches, so it runs the same implementation as the test);
the others run it in the test's own loop (``rawhttp.ServerHarness``).

No test asserts that something happened *quickly*: timeouts are only checked
from below (a connection is never closed before its deadline) and waited for
with generous limits.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import subprocess
import sys
import time
from typing import Self

import pytest

import embedtornado
from embedtornado.httputil import HTTPHeaders, ResponseStartLine
from rawhttp import ServerHarness, read_response, simple_handler

GET = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
WAIT = 30.0  # generous upper bound for anything that must happen "eventually"

_SERVER_SCRIPT = r'''
import json, logging, resource, socket, sys
kwargs = json.loads(sys.argv[1])
if len(sys.argv) > 2:
    n = int(sys.argv[2])
    resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                    format="%(levelname)s %(name)s %(message)s")
import embedtornado
from embedtornado import netutil
from embedtornado.httpserver import HTTPServer
from embedtornado.httputil import HTTPHeaders, ResponseStartLine
from embedtornado.ioloop import IOLoop

def handle(request):
    body = b"ok" if request.method != "POST" else str(len(request.body)).encode()
    conn = request.connection
    conn.write_headers(ResponseStartLine("HTTP/1.1", 200, "OK"),
                       HTTPHeaders({"Content-Length": str(len(body))}))
    conn.write(body)
    conn.finish()

io_loop = IOLoop.current()
socks = netutil.bind_sockets(0, "127.0.0.1", family=socket.AF_INET, backlog=512)
server = HTTPServer(handle, **kwargs)
server.add_sockets(socks)
print(socks[0].getsockname()[1], json.dumps(embedtornado.speedups()), flush=True)
io_loop.start()
'''


class ServerProcess:
    """An HTTPServer in a child process; its stderr goes to *log_path*."""

    def __init__(self, log_path: str, nofile: int | None = None, **kwargs: object) -> None:
        args = [sys.executable, "-c", _SERVER_SCRIPT, json.dumps(kwargs)]
        if nofile is not None:
            args.append(str(nofile))
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 (kept for the child's lifetime)
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self._log)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode()
        if not line:
            self.close()
            raise AssertionError("server did not start: " + self.log())
        port, kinds = line.split(" ", 1)
        self.port = int(port)
        # The child runs the implementation this test run is about.
        assert json.loads(kinds) == embedtornado.speedups()

    def log(self) -> str:
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def rss(self) -> int:
        """Resident memory in bytes."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")

    def cpu_seconds(self) -> float:
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        self._log.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run(coro, timeout: float = 120.0):
    async def bounded():
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


async def get_ok(port: int) -> int:
    """One GET on a new connection; returns the status code."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(GET)
        return (await asyncio.wait_for(read_response(reader), WAIT)).code
    finally:
        writer.close()


async def read_until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes (a reset counts as a close)."""
    data = b""
    while True:
        try:
            chunk = await reader.read(65536)
        except ConnectionError:
            return data
        if not chunk:
            return data
        data += chunk


class Attacker:
    """One slow client: records what it got and when the server closed it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.started = 0.0
        self.closed_after: float | None = None
        self.answer = b""
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self, first: bytes) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.started = time.monotonic()
        self.writer.write(first)
        await self.writer.drain()

    async def trickle(self, byte: bytes, every: float) -> None:
        """Send *byte* every *every* seconds until the server closes."""
        assert self.reader is not None and self.writer is not None
        watch = asyncio.ensure_future(read_until_closed(self.reader))
        try:
            while not watch.done():
                try:
                    self.writer.write(byte)
                except (ConnectionError, RuntimeError):
                    pass
                await asyncio.wait([watch], timeout=every)
            self.answer = watch.result()
            self.closed_after = time.monotonic() - self.started
        finally:
            watch.cancel()
            self.writer.close()


# --- case 59: slowloris, and memory per connection --------------------------------

HEADER_TIMEOUT = 3.0
ATTACKERS = 300
HEAD_BYTES = 60 * 1024


def slow_head() -> bytes:
    """A request line and ~60 KiB of header lines, ending inside a header value."""
    lines = [b"GET / HTTP/1.1\r\n", b"Host: a\r\n"]
    size = sum(map(len, lines))
    i = 0
    while size < HEAD_BYTES - 1100:
        line = b"X-Pad-%d: %s\r\n" % (i, b"p" * 1000)
        lines.append(line)
        size += len(line)
        i += 1
    lines.append(b"X-Slow: ")
    return b"".join(lines)


def test_slowloris_closed_at_head_deadline_others_served_memory_bounded(tmp_path):
    with ServerProcess(str(tmp_path / "server.log"),
                       idle_connection_timeout=HEADER_TIMEOUT) as server:
        async def attack() -> None:
            for _ in range(3):
                assert await get_ok(server.port) == 200
            before = server.rss()
            head = slow_head()
            attackers = [Attacker(server.port) for _ in range(ATTACKERS)]
            await asyncio.gather(*(a.connect(head) for a in attackers))
            tasks = [asyncio.ensure_future(a.trickle(b"s", 0.5)) for a in attackers]
            # While every attacker holds a connection with ~60 KiB of head
            # buffered: other clients are answered, and the server's memory
            # grew by about what the attackers sent (each is capped by
            # max_header_size, 64 KiB), not more.
            codes = [await get_ok(server.port) for _ in range(5)]
            grown = server.rss() - before
            await asyncio.gather(*tasks)
            assert codes == [200] * 5
            bound = 3 * ATTACKERS * 64 * 1024 + 32 * 1024 * 1024
            assert grown < bound, (grown, bound)
            for a in attackers:
                # The documented answer for an incomplete head: 408, then a close,
                # and never before the head deadline.
                assert a.answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), a.answer[:80]
                assert b"Connection: close" in a.answer
                assert a.closed_after is not None
                assert a.closed_after >= HEADER_TIMEOUT - 0.25, a.closed_after
            assert await get_ok(server.port) == 200

        run(attack())


# --- case 60: slow and stalled bodies -------------------------------------------------

BODY_TIMEOUT = 1.5
STALL_TIMEOUT = 3.0


def test_slow_body_closed_at_body_timeout_and_stalled_body_at_idle_timeout(tmp_path):
    with ServerProcess(str(tmp_path / "server.log"), idle_connection_timeout=STALL_TIMEOUT,
                       body_timeout=BODY_TIMEOUT) as server:
        async def attack() -> None:
            head = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\n"
            tricklers = [Attacker(server.port) for _ in range(50)]
            stallers = [Attacker(server.port) for _ in range(10)]
            await asyncio.gather(*(a.connect(head + b"x") for a in tricklers))
            await asyncio.gather(*(a.connect(head + b"y" * 100) for a in stallers))
            tasks = [asyncio.ensure_future(a.trickle(b"x", 0.2)) for a in tricklers]
            # A staller sends nothing more ("trickling" never: every > timeout).
            tasks += [asyncio.ensure_future(a.trickle(b"", WAIT)) for a in stallers]
            codes = [await get_ok(server.port) for _ in range(5)]
            # A normal POST still goes through meanwhile.
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello")
            posted = await read_response(reader)
            writer.close()
            await asyncio.gather(*tasks)
            assert codes == [200] * 5
            assert posted.code == 200 and posted.body == b"5"
            for a in tricklers:
                assert a.answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), a.answer[:80]
                assert a.closed_after is not None and a.closed_after >= BODY_TIMEOUT - 0.25
            for a in stallers:
                assert a.answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), a.answer[:80]
                assert a.closed_after is not None and a.closed_after >= STALL_TIMEOUT - 0.25

        run(attack())
        log = server.log()
        assert "Timeout reading body" in log
        # Sixty timeouts do not write sixty lines (rate-limited, with a count).
        assert log.count("Timeout reading body") <= 10


# --- max_connections ------------------------------------------------------------------

BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\n"
        b"Content-Type: text/plain\r\nContent-Length: 20\r\n\r\nToo many connections")


def test_max_connections_refuses_the_extra_connection_with_503(caplog):
    limit = 3
    with ServerHarness(simple_handler(), max_connections=limit) as h:
        async def go() -> None:
            held = []
            for _ in range(limit):
                reader, writer = await h.connect()
                writer.write(GET)
                assert (await read_response(reader)).code == 200
                held.append((reader, writer))
            # One more, and a few more: each gets the canned 503 and a close,
            # without its request being read (even one sent before the accept).
            for _ in range(4):
                reader, writer = await h.connect()
                writer.write(GET)
                assert await read_until_closed(reader) == BUSY
            # The first ones keep working.
            for reader, writer in held:
                writer.write(GET)
                assert (await read_response(reader)).code == 200
            # Once one closes, a new connection is accepted.
            held.pop()[1].close()
            deadline = time.monotonic() + WAIT
            while True:
                reader, writer = await h.connect()
                writer.write(GET)
                resp = await read_response(reader)
                if resp.code == 200:
                    break
                assert resp.code == 503 and time.monotonic() < deadline
                await asyncio.sleep(0.05)

        with caplog.at_level(logging.WARNING, logger="embedtornado.general"):
            h.run(go(), timeout=WAIT + 10)
    warnings = [r for r in caplog.records if "max_connections" in r.getMessage()]
    assert len(warnings) == 1, warnings  # four refusals, one warning
    assert "max_connections=3" in warnings[0].getMessage()


def test_max_connections_counts_detached_connections_until_closed():
    # Like nginx's worker_connections: a connection that left HTTP (a WebSocket
    # after its upgrade, or detach()) is still an open socket and still counts.
    detached = []

    def handle(request):
        if request.path == "/detach":
            detached.append(request.connection.detach())
            return
        simple_handler()(request)

    with ServerHarness(handle, max_connections=2) as h:
        async def go() -> None:
            reader, writer = await h.connect()
            writer.write(b"GET /detach HTTP/1.1\r\nHost: a\r\n\r\n")
            while not detached:
                await asyncio.sleep(0.01)
            assert h.server is not None and not h.server._connections
            r2, w2 = await h.connect()
            w2.write(GET)
            assert (await read_response(r2)).code == 200
            r3, w3 = await h.connect()
            w3.write(GET)
            assert await read_until_closed(r3) == BUSY
            # The detached transport closes: its slot is free again.
            detached[0].close()
            assert await read_until_closed(reader) == b""
            deadline = time.monotonic() + WAIT
            while True:
                r4, w4 = await h.connect()
                w4.write(GET)
                resp = await read_response(r4)
                if resp.code == 200:
                    break
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)

        h.run(go(), timeout=WAIT + 10)


def test_max_connections_argument_checked():
    from embedtornado.httpserver import HTTPServer

    with pytest.raises(ValueError):
        HTTPServer(simple_handler(), max_connections=-1)
    assert HTTPServer(simple_handler()).max_connections is None
    assert HTTPServer(simple_handler(), max_connections=0).max_connections == 0


# --- case 66: a pipelining client that never reads ------------------------------------

def test_unread_pipelined_responses_do_not_grow_the_write_buffer():
    body = b"b" * 65536
    handled = []

    def handle(request):
        handled.append(request.uri)
        request.connection.write_headers(
            ResponseStartLine("HTTP/1.1", 200, "OK"),
            HTTPHeaders({"Content-Length": str(len(body))}))
        request.connection.write(body)
        request.connection.finish()

    max_write_buffer = 65536
    total = 1000  # 64 MiB of answers, if nothing stopped them
    with ServerHarness(handle, max_write_buffer=max_write_buffer,
                       idle_connection_timeout=2.0) as h:
        async def go() -> None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.setblocking(False)
            loop = asyncio.get_running_loop()
            try:
                await loop.sock_connect(sock, ("127.0.0.1", h.port))
                requests = b"".join(b"GET /%d HTTP/1.1\r\nHost: a\r\n\r\n" % i
                                    for i in range(total))
                sent = 0
                deadline = time.monotonic() + WAIT
                largest = 0
                # Send what the server will take; never read.
                while time.monotonic() < deadline:
                    try:
                        sent += sock.send(requests[sent:sent + 65536])
                    except BlockingIOError:
                        pass
                    for proto in list(h.server._connections):  # type: ignore[union-attr]
                        if proto.transport is not None:
                            largest = max(largest, proto.transport.get_write_buffer_size())
                    if len(handled) > 0 and sent == len(requests):
                        break
                    await asyncio.sleep(0.01)
                # Let the server go as far as it will.
                stable_since = time.monotonic()
                seen = len(handled)
                while time.monotonic() - stable_since < 0.5 and h.server._connections:  # type: ignore[union-attr]
                    for proto in list(h.server._connections):  # type: ignore[union-attr]
                        if proto.transport is not None:
                            largest = max(largest, proto.transport.get_write_buffer_size())
                    if len(handled) != seen:
                        seen, stable_since = len(handled), time.monotonic()
                    await asyncio.sleep(0.01)
                # The kernel's socket buffers (a few MiB at most) plus the
                # 64 KiB write buffer hold the answers given so far; the rest
                # wait unparsed.
                assert 0 < len(handled) < total // 4, len(handled)
                assert largest <= max_write_buffer + len(body) + 1024, largest
                # A peer that stops reading is dropped after the idle timeout.
                deadline = time.monotonic() + WAIT
                while h.server._connections:  # type: ignore[union-attr]
                    assert time.monotonic() < deadline
                    await asyncio.sleep(0.05)
            finally:
                sock.close()

        h.run(go(), timeout=2 * WAIT + 10)


# --- case 61: out of file descriptors ---------------------------------------------------

def test_accept_backs_off_when_out_of_descriptors(tmp_path):
    with ServerProcess(str(tmp_path / "server.log"), nofile=64) as server:
        async def go() -> None:
            assert await get_ok(server.port) == 200
            # More idle connections than the server has descriptors: the
            # kernel completes them all (backlog 512); the server accepts
            # until accept() fails with EMFILE.
            clients = []
            for _ in range(100):
                clients.append(await asyncio.open_connection("127.0.0.1", server.port))
            deadline = time.monotonic() + WAIT
            while "Too many open files" not in server.log():
                assert time.monotonic() < deadline, server.log()
                await asyncio.sleep(0.05)
            # Out of descriptors, with connections waiting: the server backs
            # off instead of retrying accept() in a busy loop.
            cpu = server.cpu_seconds()
            await asyncio.sleep(2.0)
            assert server.cpu_seconds() - cpu < 0.5
            for _, writer in clients:
                writer.close()
            # Once descriptors are free again, new clients are answered.
            deadline = time.monotonic() + WAIT
            while True:
                try:
                    if await get_ok(server.port) == 200:
                        break
                except (ConnectionError, asyncio.IncompleteReadError):
                    pass
                assert time.monotonic() < deadline, server.log()
                await asyncio.sleep(0.1)

        run(go())
        log = server.log()
        # Logged once (at most a few times), not on every wake-up.
        assert 1 <= log.count("Too many open files") <= 3, log
