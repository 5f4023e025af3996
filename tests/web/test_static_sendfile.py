"""StaticFileHandler's zero-copy path: ``connection.write_file`` and ``loop.sendfile``.

On a plain socket the body of a static file larger than one 64 KiB chunk goes
from the file to the socket with ``loop.sendfile`` (``sendfile(2)``: the compiled loop's own, or asyncio's
under ``EMBEDTORNADO_NO_EXTENSIONS=1``). These tests check that the path is
really taken (a spy on the loop's ``_sendfile_native``, with asyncio's
read/write fallback made to fail), that it is not taken where the bytes must
pass through Python (TLS, gzip, an overridden ``get_content``), that the
bytes are the file's and Tornado's, and that keep-alive, pipelining,
disconnects and timeouts behave as on the chunked path.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import socket
import ssl

import pytest
from webtools import LogCapture, dual_harness, req

import embedtornado.loop
from embedtornado import _accel, _testcert
from embedtornado.httputil import HTTPHeaders, ResponseStartLine
from embedtornado.web import Application, StaticFileHandler
from rawhttp import ServerHarness, read_response

BIG = 8 * 1024 * 1024 + 4321
SMALL = b"small file\n"


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    d = tmp_path_factory.mktemp("sendfile_root")
    (d / "big.bin").write_bytes(os.urandom(BIG))
    (d / "small.txt").write_bytes(SMALL)
    (d / "page.html").write_bytes(b"<p>" + b"compress me " * 20000 + b"</p>")
    with open(d / "sparse.bin", "wb") as f:
        f.truncate(64 * 1024 * 1024)
    return d


@pytest.fixture
def sendfile_calls(monkeypatch):
    """Every ``loop._sendfile_native(transport, file, offset, count)`` call, as (offset, count).

    asyncio's read/write fallback is made to fail, so a body that went
    through ``loop.sendfile`` went through ``sendfile(2)``.
    """
    cls = embedtornado.loop.Loop
    if _accel.REQUIRE_EXTENSIONS and not _accel.NO_EXTENSIONS:
        assert embedtornado.loop.COMPILED, "the compiled loop is required but not in use"
    calls: list[tuple[int, int]] = []
    native = cls._sendfile_native

    def spy(self, transp, file, offset, count):
        calls.append((offset, count))
        return native(self, transp, file, offset, count)

    async def no_fallback(*args, **kwargs):
        raise AssertionError("loop.sendfile fell back to reading and writing")

    monkeypatch.setattr(cls, "_sendfile_native", spy)
    monkeypatch.setattr(cls, "_sendfile_fallback", no_fallback)
    return calls


def get(path: str, **headers: str) -> bytes:
    return req("GET", path, {k.replace("_", "-"): v for k, v in headers.items()})


def static_app(root, **settings):
    return Application([(r"/s/(.*)", StaticFileHandler, {"path": str(root)})], **settings)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


# --- bytes, beside Tornado ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dual(root):
    def handlers(web):
        return [(r"/s/(.*)", web.StaticFileHandler, {"path": str(root)})]

    yield from dual_harness(handlers)


@pytest.mark.parametrize("range_header,start,end", [
    (None, 0, BIG),
    ("bytes=1000-5000000", 1000, 5000001),
    ("bytes=-12345", BIG - 12345, BIG),
    ("bytes=7000000-", 7000000, BIG),
    ("bytes=100-65635", 100, 65636),
    ("bytes=100-65636", 100, 65637),
    ("bytes=0-0", 0, 1),
])
def test_bytes_match_file_and_tornado(dual, root, sendfile_calls, range_header, start, end):
    data = (root / "big.bin").read_bytes()
    headers = {"Range": range_header} if range_header else {}
    ours = dual.same(req("GET", "/s/big.bin", headers))
    assert ours.code == (206 if range_header else 200)
    assert ours.body == data[start:end]
    if end - start <= 64 * 1024:
        # One chunk: read and sent with the headers in one write.
        assert sendfile_calls == []
        return
    assert sendfile_calls, "the zero-copy path was not taken"
    assert sendfile_calls[0][0] == start
    assert sum(count for _offset, count in sendfile_calls) == end - start


def test_small_file_and_head(dual, sendfile_calls):
    assert dual.same(get("/s/small.txt")).body == SMALL
    ours = dual.same(req("HEAD", "/s/big.bin"), "HEAD")
    assert ours.body == b"" and ours.headers["content-length"] == str(BIG)
    assert sendfile_calls == []  # a small file is one write; HEAD sends nothing


# --- where the bytes must pass through Python ------------------------------------------------------


def test_overridden_get_content_keeps_the_chunked_path(root, sendfile_calls):
    class Upper(StaticFileHandler):
        @classmethod
        def get_content(cls, abspath, start=None, end=None):
            for chunk in super().get_content(abspath, start, end):
                yield chunk.upper()

    app = Application([(r"/u/(.*)", Upper, {"path": str(root)})])
    with ServerHarness(app) as h:
        r = h.run(h.request(get("/u/small.txt")))
    assert r.body == SMALL.upper()
    assert sendfile_calls == []


def test_gzip_compresses_on_the_chunked_path(root, sendfile_calls):
    html = (root / "page.html").read_bytes()
    with ServerHarness(static_app(root, compress_response=True)) as h:
        r = h.run(h.request(get("/s/page.html", Accept_Encoding="gzip")))
        assert r.headers["content-encoding"] == "gzip"
        assert gzip.decompress(r.body) == html
        assert sendfile_calls == []
        # Types gzip leaves alone, and clients that do not accept it, get sendfile.
        r = h.run(h.request(get("/s/big.bin", Accept_Encoding="gzip")))
        assert "content-encoding" not in r.headers
        assert r.body == (root / "big.bin").read_bytes()
        assert sendfile_calls
        del sendfile_calls[:]
        r = h.run(h.request(get("/s/page.html")))
        assert r.body == html and sendfile_calls


def test_tls_reads_and_writes(root, sendfile_calls):
    cert, key = _testcert.files()
    data = (root / "big.bin").read_bytes()
    ctx = ssl.create_default_context(cafile=cert)
    with ServerHarness(static_app(root), ssl_options={"certfile": cert, "keyfile": key}) as h:
        async def fetch(path, headers=None):
            reader, writer = await asyncio.open_connection("127.0.0.1", h.port, ssl=ctx,
                                                           server_hostname="localhost",
                                                           limit=1 << 22)
            try:
                writer.write(req("GET", path, headers))
                return await read_response(reader)
            finally:
                writer.close()

        r = h.run(fetch("/s/big.bin"), timeout=60)
        assert r.code == 200 and r.body == data
        r = h.run(fetch("/s/big.bin", {"Range": "bytes=100-200"}))
        assert r.code == 206 and r.body == data[100:201]
    assert sendfile_calls == []


# --- connections -------------------------------------------------------------------------------------


def test_keep_alive_and_pipelining(root, sendfile_calls):
    data = (root / "big.bin").read_bytes()
    with ServerHarness(static_app(root)) as h:
        async def go():
            reader, writer = await h.connect()
            writer.write(get("/s/big.bin") + req("HEAD", "/s/big.bin")
                         + get("/s/big.bin", Range="bytes=10-19") + get("/s/small.txt"))
            responses = [await read_response(reader, m) for m in ("GET", "HEAD", "GET", "GET")]
            # Kept alive after all of them.
            writer.write(get("/s/big.bin", Range="bytes=-3"))
            responses.append(await read_response(reader))
            return responses

        full, head, part, small, tail = h.run(go(), timeout=60)
    assert (full.code, full.body) == (200, data)
    assert (head.code, head.body, head.headers["content-length"]) == (200, b"", str(BIG))
    assert (part.code, part.body) == (206, data[10:20])
    assert (small.code, small.body) == (200, SMALL)
    assert (tail.code, tail.body) == (206, data[-3:])
    assert sendfile_calls and sendfile_calls[0][0] == 0


def test_access_log_and_on_finish_after_sendfile(root, sendfile_calls):
    finished = []

    class Tracking(StaticFileHandler):
        def on_finish(self):
            finished.append(self.get_status())

    app = Application([(r"/t/(.*)", Tracking, {"path": str(root)})])
    with ServerHarness(app) as h, LogCapture("embedtornado.access") as logs:
        r = h.run(h.request(get("/t/big.bin", Range="bytes=5-1000004")))
        assert r.code == 206 and len(r.body) == 1_000_000
    assert finished == [206]
    assert [rec.getMessage().split()[0] for rec in logs.records] == ["206"]
    assert sendfile_calls


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_client_gone_mid_file(root, sendfile_calls):
    events = []

    class Tracking(StaticFileHandler):
        def on_connection_close(self):
            events.append("close")

        def on_finish(self):
            events.append("finish")

    app = Application([(r"/t/(.*)", Tracking, {"path": str(root)})])
    with ServerHarness(app) as h, LogCapture("embedtornado.application",
                                             "embedtornado.general") as logs:
        h.run(h.request(get("/t/small.txt")))  # warm up: sockets, caches
        events.clear()
        before = open_fds()

        async def go():
            reader, writer = await asyncio.open_connection("127.0.0.1", h.port)
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
            writer.write(get("/t/sparse.bin"))
            await reader.readuntil(b"\r\n\r\n")
            await reader.readexactly(1 << 20)
            writer.transport.abort()
            for _ in range(500):
                await asyncio.sleep(0.01)
                if "finish" in events and open_fds() <= before:
                    break

        h.run(go())
        assert open_fds() <= before, "a file or socket was left open"
        assert events == ["close", "finish"]
        # The server carries on.
        r = h.run(h.request(get("/t/big.bin", Range="bytes=0-9")))
        assert r.code == 206 and r.body == (root / "big.bin").read_bytes()[:10]
    assert [r for r in logs.records if r.levelno >= 40] == []
    assert sendfile_calls


def test_stalled_reader_times_out(root, sendfile_calls):
    # A client that stops reading: the zero-copy transfer makes no progress,
    # and the connection's write timeout ends it (as on the chunked path).
    with ServerHarness(static_app(root), idle_connection_timeout=0.5) as h, \
            LogCapture("embedtornado.general") as logs:
        before = open_fds()

        async def go():
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.setblocking(False)
            await asyncio.get_running_loop().sock_connect(s, ("127.0.0.1", h.port))
            s.sendall(get("/s/sparse.bin"))
            for _ in range(1000):
                await asyncio.sleep(0.01)
                if any("Timeout writing" in r.getMessage() for r in logs.records):
                    break
            s.close()

        h.run(go(), timeout=30)
        assert any("Timeout writing" in r.getMessage() for r in logs.records)
        for _ in range(100):
            if open_fds() <= before:
                break
            h.run(asyncio.sleep(0.01))
        assert open_fds() <= before
        assert h.run(h.request(get("/s/small.txt"))).body == SMALL
    assert sendfile_calls


def test_file_shorter_than_announced_closes_the_connection(root, sendfile_calls):
    class Lying(StaticFileHandler):
        def get_content_size(self):
            return BIG + 100

    data = (root / "big.bin").read_bytes()
    app = Application([(r"/l/(.*)", Lying, {"path": str(root)})])
    with ServerHarness(app) as h, LogCapture("embedtornado.application",
                                             "embedtornado.general"):
        raw = h.run(h.exchange(get("/l/big.bin")), timeout=30)
        head, _, body = raw.partition(b"\r\n\r\n")
        assert b"Content-Length: %d" % (BIG + 100) in head
        assert body == data  # then the connection closed, short of the length
        assert h.run(h.request(get("/l/big.bin", Range="bytes=0-3"))).body == data[:4]
    assert sendfile_calls


# --- the connection API ------------------------------------------------------------------------------


def test_write_file_chunked_and_queued_writes(root, sendfile_calls):
    # No Content-Length: the file is one chunk; writes made while it is being
    # sent (without waiting) go out after it, in order.
    data = (root / "big.bin").read_bytes()
    files = []

    def handle(request):
        conn = request.connection
        conn.write_headers(ResponseStartLine("HTTP/1.1", 200, "OK"), HTTPHeaders())
        conn.write(b"<")
        files.append(open(root / "big.bin", "rb"))
        conn.write_file(files[-1], 3, 2_000_000)
        conn.write(b">")
        files.append(open(root / "small.txt", "rb"))
        conn.write_file(files[-1], 0, 5)
        conn.finish()

    try:
        with ServerHarness(handle) as h:
            async def go():
                reader, writer = await h.connect()
                writer.write(get("/") + get("/"))
                return [await read_response(reader) for _ in range(2)]

            r1, r2 = h.run(go(), timeout=30)
    finally:
        for f in files:
            f.close()
    for r in (r1, r2):
        assert r.headers["transfer-encoding"] == "chunked"
        assert r.body == b"<" + data[3:2_000_003] + b">" + SMALL[:5]
    assert len(sendfile_calls) >= 4


def test_write_file_checks(root):
    errors = []

    def handle(request):
        conn = request.connection
        with open(root / "small.txt", "rb") as f:
            try:
                conn.write_file(f, 0, 5)
            except Exception as e:
                errors.append(type(e).__name__)
            conn.write_headers(ResponseStartLine("HTTP/1.1", 200, "OK"),
                               HTTPHeaders({"Content-Length": "4"}))
            for args in ((-1, 2), (0, 0)):
                try:
                    conn.write_file(f, *args)
                except ValueError:
                    errors.append("ValueError")
            try:
                conn.write_file(f, 0, 5)
            except Exception as e:
                errors.append(type(e).__name__)

    with ServerHarness(handle) as h:
        raw = h.run(h.exchange(get("/")))
    assert errors == ["HTTPOutputError", "ValueError", "ValueError", "HTTPOutputError"]
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n")  # then closed: too much for the length


def test_write_file_without_a_descriptor_reads_and_writes(root, sendfile_calls):
    # A file object with no fd: read and written in chunks, with flow control
    # (3 MiB is far over the transport's write buffer limit).
    import io

    data = os.urandom(3 * 1024 * 1024)

    def handle(request):
        conn = request.connection
        conn.write_headers(ResponseStartLine("HTTP/1.1", 200, "OK"),
                           HTTPHeaders({"Content-Length": str(len(data) - 7 + 2)}))
        conn.write(b"[")
        conn.write_file(io.BytesIO(data), 7, len(data) - 7)
        conn.write(b"]")
        conn.finish()

    with ServerHarness(handle) as h:
        async def go():
            reader, writer = await h.connect()
            writer.write(get("/"))
            head = await reader.readuntil(b"\r\n\r\n")
            body = bytearray()
            while len(body) < len(data) - 5:
                chunk = await reader.read(65536)
                assert chunk
                body += chunk
                await asyncio.sleep(0.0005)  # slower than the server
            return head, bytes(body)

        head, body = h.run(go(), timeout=30)
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert body == b"[" + data[7:] + b"]"
    assert sendfile_calls == []


def test_write_file_text_mode_file_fails_with_the_loops_error(root):
    # loop.sendfile refuses a file not opened in binary mode (ValueError); that
    # reaches the caller as it is, and the unfinishable response is cut off.
    seen = []

    async def handle(request):
        conn = request.connection
        conn.write_headers(ResponseStartLine("HTTP/1.1", 200, "OK"),
                           HTTPHeaders({"Content-Length": "5"}))
        with open(root / "small.txt") as f:
            try:
                await conn.write_file(f, 0, 5)
            except Exception as e:
                seen.append(type(e))
        conn.finish()

    with ServerHarness(handle) as h, LogCapture("embedtornado.application"):
        raw = h.run(h.exchange(get("/")))
    assert seen == [ValueError]
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n") and raw.endswith(b"\r\n\r\n")
