"""The HTTP/1.1 server protocol's own bookkeeping, in whichever build is live.

``_pure/httpproto.py`` is compiled as ``_speedups.httpproto`` (single source),
so the server suites test both builds by running under both settings of
``EMBEDTORNADO_NO_EXTENSIONS``; these tests add what those suites do not see:
that the compiled build is really the extension type, and the per-connection
memory savings (parsers pooled while idle, one finished future per loop,
status lines and Host checks remembered within bounds).
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from embedtornado import _accel, httputil
from embedtornado._httpdefs import HTTP1ConnectionParameters
from embedtornado.httpserver import HTTPServer

httpproto = _accel.load("httpproto")

GET = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"


class FakeTransport:
    def __init__(self) -> None:
        self.out: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.out.append(bytes(data))

    def get_extra_info(self, name: str, default: object = None) -> object:
        return {"peername": ("127.0.0.1", 1)}.get(name, default)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


def answer(request: httputil.HTTPServerRequest) -> None:
    body = b"hi " + request.host_name.encode()
    request.connection.write_headers(  # type: ignore[union-attr]
        httputil.ResponseStartLine("HTTP/1.1", 200, "OK"),
        httputil.HTTPHeaders({"Content-Length": str(len(body))}), body)
    request.connection.finish()  # type: ignore[union-attr]


def connect(server: HTTPServer) -> tuple[object, FakeTransport]:
    proto = server._make_protocol()
    transport = FakeTransport()
    proto.connection_made(transport)  # type: ignore[attr-defined]
    return proto, transport


def test_compiled_protocol_is_an_extension_type() -> None:
    # Guard (falcon's test_cython): the REQUIRE run really serves with the compiled build.
    if _accel.speedups()["httpproto"] != "cython":
        pytest.skip("the twins are live")
    for cls in (httpproto.HTTP1ServerProtocol, httpproto.HTTP1Connection):
        assert hasattr(cls, "__pyx_vtable__")
        assert type(cls.__dict__["_closing" if cls is httpproto.HTTP1ServerProtocol
                                 else "_write_finished"]).__name__ == "getset_descriptor"


def test_idle_connection_gives_its_parser_back_and_takes_one_again() -> None:
    async def go() -> None:
        server = HTTPServer(answer)
        proto, transport = connect(server)
        assert proto._parser is None  # nothing read yet: no parser held
        proto.data_received(GET)
        assert transport.out and transport.out[-1].endswith(b"hi example.com")
        assert proto._parser is None  # answered and idle: given back
        pooled = httpproto._parser_pool[-1]
        assert pooled[0] is server.conn_params

        other, transport2 = connect(server)
        other.data_received(GET[:10])  # a partial head keeps the parser
        assert other._parser is pooled[1]
        other.data_received(GET[10:])
        assert transport2.out[-1].endswith(b"hi example.com")
        assert other._parser is None

        # Pipelined bytes keep the parser until they are answered.
        proto.data_received(GET + GET[:5])
        assert proto._parser is not None and proto._parser.pending() == 5
        proto._close()
        server.on_close(proto)
        other._close()

    asyncio.run(go())


def test_parser_pool_is_bounded_and_keyed_by_parameters() -> None:
    params = HTTP1ConnectionParameters()
    others = HTTP1ConnectionParameters()
    for _ in range(httpproto._PARSER_POOL_SIZE + 10):
        httpproto._give_back_parser(params, httpproto._take_parser(others))
    assert len(httpproto._parser_pool) <= httpproto._PARSER_POOL_SIZE
    # A parser made for other limits is never handed to these parameters.
    p = httpproto._take_parser(others)
    assert p.max_body_size == others.max_body_size
    small = HTTP1ConnectionParameters(max_body_size=10)
    q = httpproto._take_parser(small)
    assert q.max_body_size == 10


def test_writes_share_one_finished_future_per_loop() -> None:
    futures = []

    def capture(request: httputil.HTTPServerRequest) -> None:
        conn = request.connection
        futures.append(conn.write_headers(  # type: ignore[union-attr]
            httputil.ResponseStartLine("HTTP/1.1", 200, "OK"),
            httputil.HTTPHeaders({"Content-Length": "2"})))
        futures.append(conn.write(b"ok"))  # type: ignore[union-attr]
        conn.finish()  # type: ignore[union-attr]

    async def go() -> None:
        server = HTTPServer(capture)
        a, _ = connect(server)
        b, _ = connect(server)
        a.data_received(GET)
        b.data_received(GET)
        assert len(futures) == 4 and len({id(f) for f in futures}) == 1
        assert futures[0].done() and futures[0].result() is None
        assert futures[0].get_loop() is asyncio.get_running_loop()

    asyncio.run(go())
    first = futures[0]
    futures.clear()
    asyncio.run(go())  # a new loop gets its own future
    assert futures[0] is not first


def test_status_line_cache_is_bounded_and_still_checks() -> None:
    for i in range(httpproto._MAX_STATUS_LINES + 20):
        assert httpproto._status_line(299, f"R{i}") == b"HTTP/1.1 299 R%d\r\n" % i
    assert len(httpproto._status_lines) <= httpproto._MAX_STATUS_LINES
    with pytest.raises(ValueError):
        httpproto._status_line(200, "OK\r\nX-Evil: 1")
    with pytest.raises(ValueError):  # not remembered as valid by the first failure
        httpproto._status_line(200, "OK\r\nX-Evil: 1")
    assert httpproto._status_line(200, "Okay é") == "HTTP/1.1 200 Okay é\r\n".encode()


def test_host_names_are_remembered_within_bounds_and_checked_each_time() -> None:
    def request(host: str) -> httputil.HTTPServerRequest:
        headers = httputil.HTTPHeaders()
        headers.add("Host", host)
        return httputil.HTTPServerRequest(
            start_line=httputil.RequestStartLine("GET", "/", "HTTP/1.1"), headers=headers)

    for i in range(httputil._MAX_VALID_HOST_NAMES + 20):
        assert request(f"Host{i}.Example:80").host_name == f"host{i}.example"
    assert len(httputil._valid_host_names) <= httputil._MAX_VALID_HOST_NAMES
    assert request("Host1.Example:80").host_name == "host1.example"
    for bad in ("a b", "a,b"):
        for _ in range(2):
            with pytest.raises(httputil.HTTPInputError):
                request(bad)


def test_idle_keep_alive_connections_over_real_sockets_hold_no_parser() -> None:
    async def go() -> None:
        server = HTTPServer(answer)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        sock.setblocking(False)
        server.add_sockets([sock])
        port = sock.getsockname()[1]
        writers = []
        for _ in range(5):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            assert head.startswith(b"HTTP/1.1 200")
            assert await asyncio.wait_for(reader.readexactly(12), 10) == b"hi 127.0.0.1"
            writers.append(writer)
        await asyncio.sleep(0.05)
        assert len(server._connections) == 5
        assert all(p._parser is None for p in server._connections)
        for w in writers:
            w.close()
        server.stop()
        await server.close_all_connections()

    from embedtornado.loop import new_event_loop

    loop = new_event_loop()
    try:
        loop.run_until_complete(go())
    finally:
        loop.close()


# --- lingering close -------------------------------------------------------------------

#: A request head over the server's max_header_size (1 KiB below), not yet ended:
#: the client is still sending when the server answers 431.
BIG_HEAD = b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * 8192
LOOPS = pytest.mark.parametrize("new_loop", ["embedtornado", "stdlib"])


def run_on(new_loop: str, coro_fn) -> None:  # type: ignore[no-untyped-def]
    from embedtornado.loop import new_event_loop

    loop = new_event_loop() if new_loop == "embedtornado" else asyncio.new_event_loop()
    try:
        loop.run_until_complete(asyncio.wait_for(coro_fn(), 60))
    finally:
        loop.close()


@pytest.fixture
def linger(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A fresh set of lingering connections; the limits as each test sets them."""
    monkeypatch.setattr(httpproto, "_lingering", set())

    def configure(time: float = 60.0, nbytes: int = 1 << 20, most: int = 64) -> set:
        monkeypatch.setattr(httpproto, "_LINGER_TIME", time)
        monkeypatch.setattr(httpproto, "_LINGER_BYTES", nbytes)
        monkeypatch.setattr(httpproto, "_MAX_LINGERING", most)
        return httpproto._lingering

    return configure


async def serve(**kwargs: object) -> tuple[HTTPServer, int]:
    server = HTTPServer(answer, max_header_size=1024, **kwargs)  # type: ignore[arg-type]
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    sock.setblocking(False)
    server.add_sockets([sock])
    return server, sock.getsockname()[1]


async def client(port: int) -> socket.socket:
    s = socket.socket()
    s.setblocking(False)
    await asyncio.get_running_loop().sock_connect(s, ("127.0.0.1", port))
    return s


async def read_to_eof(s: socket.socket) -> bytes:
    """What the server sends until it shuts down its side (a reset fails the test)."""
    loop = asyncio.get_running_loop()
    parts = []
    while chunk := await asyncio.wait_for(loop.sock_recv(s, 65536), 20):
        parts.append(chunk)
    return b"".join(parts)


async def until(cond) -> None:  # type: ignore[no-untyped-def]
    for _ in range(2000):
        if cond():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached in 20 s")


async def send_until_refused(s: socket.socket, piece: bytes, pause: float) -> int:
    """Send *piece* every *pause* seconds until the server's close refuses it; bytes sent."""
    loop = asyncio.get_running_loop()
    sent = 0
    for _ in range(4000):
        try:
            await asyncio.wait_for(loop.sock_sendall(s, piece), 20)
        except (BrokenPipeError, ConnectionResetError):
            return sent
        sent += len(piece)
        await asyncio.sleep(pause)
    raise AssertionError("the server kept reading")


async def shut(server: HTTPServer, *socks: socket.socket) -> None:
    for s in socks:
        s.close()
    server.stop()
    await server.close_all_connections()


@LOOPS
def test_error_close_lingers_until_the_client_closes(new_loop: str, linger) -> None:  # type: ignore[no-untyped-def]
    lingering = linger(time=60.0)

    async def go() -> None:
        server, port = await serve()
        s = await client(port)
        await asyncio.get_running_loop().sock_sendall(s, BIG_HEAD)
        out = await read_to_eof(s)  # the answer, then the server's half-close
        assert out.startswith(b"HTTP/1.1 431 ") and out.endswith(b"\r\n\r\n")
        (proto,) = server._connections
        assert lingering == {proto} and proto._linger_timer is not None
        assert proto._parser is None  # no request buffer held meanwhile
        # What the client still sends is read and dropped.
        await asyncio.get_running_loop().sock_sendall(s, b"b" * 100_000)
        s.shutdown(socket.SHUT_WR)
        await until(lambda: not server._connections)
        assert not lingering
        await shut(server, s)

    run_on(new_loop, go)


@LOOPS
def test_lingering_ends_at_its_deadline_while_the_client_keeps_sending(new_loop: str,  # type: ignore[no-untyped-def]
                                                                        linger) -> None:
    lingering = linger(time=0.3)

    async def go() -> None:
        server, port = await serve()
        s = await client(port)
        await asyncio.get_running_loop().sock_sendall(s, BIG_HEAD)
        out = await read_to_eof(s)
        assert out.startswith(b"HTTP/1.1 431 ")
        # A byte every 20 ms: each read would re-arm a per-read timeout; the
        # deadline counts from the start.
        await send_until_refused(s, b"b", 0.02)
        await until(lambda: not server._connections)
        assert not lingering
        await shut(server, s)

    run_on(new_loop, go)


@LOOPS
def test_lingering_ends_after_its_byte_limit(new_loop: str, linger) -> None:  # type: ignore[no-untyped-def]
    lingering = linger(time=60.0, nbytes=64 * 1024)

    async def go() -> None:
        server, port = await serve()
        s = await client(port)
        await asyncio.get_running_loop().sock_sendall(s, BIG_HEAD)
        assert (await read_to_eof(s)).startswith(b"HTTP/1.1 431 ")
        sent = await send_until_refused(s, b"b" * 8192, 0)
        assert sent >= 64 * 1024 - len(BIG_HEAD)  # the limit, not an early close
        await until(lambda: not server._connections)
        assert not lingering
        await shut(server, s)

    run_on(new_loop, go)


def test_lingering_connections_are_capped(linger) -> None:  # type: ignore[no-untyped-def]
    lingering = linger(time=60.0, most=2)

    async def go() -> None:
        server, port = await serve()
        socks = [await client(port) for _ in range(5)]
        loop = asyncio.get_running_loop()
        for s in socks:
            await loop.sock_sendall(s, BIG_HEAD)
        # Every one is answered; two linger, the others are closed at once.
        await until(lambda: len(server._connections) == 2)
        assert len(lingering) == 2 and lingering == set(server._connections)
        for s in socks:
            s.shutdown(socket.SHUT_WR)
        await until(lambda: not server._connections)
        assert not lingering
        # A slot is free again: the next error close lingers.
        s = await client(port)
        await loop.sock_sendall(s, BIG_HEAD)
        assert (await read_to_eof(s)).startswith(b"HTTP/1.1 431 ")
        assert len(lingering) == 1
        await shut(server, s, *socks)
        assert not lingering

    run_on("embedtornado", go)


def test_connections_left_lingering_on_a_closed_loop_free_their_slots(linger) -> None:  # type: ignore[no-untyped-def]
    lingering = linger(time=60.0, most=1)

    class Stale:  # a connection whose loop was closed while it lingered
        _loop = asyncio.new_event_loop()

    Stale._loop.close()
    stale = Stale()
    lingering.add(stale)

    async def go() -> None:
        server, port = await serve()
        s = await client(port)
        await asyncio.get_running_loop().sock_sendall(s, BIG_HEAD)
        assert (await read_to_eof(s)).startswith(b"HTTP/1.1 431 ")
        assert lingering == set(server._connections) and stale not in lingering
        await shut(server, s)

    run_on("embedtornado", go)


def test_a_close_with_the_request_read_does_not_linger(linger) -> None:  # type: ignore[no-untyped-def]
    lingering = linger(time=60.0)

    async def go() -> None:
        server, port = await serve()
        s = await client(port)
        loop = asyncio.get_running_loop()
        # Keep-alive first: served, the connection stays.
        await loop.sock_sendall(s, GET)
        assert (await asyncio.wait_for(loop.sock_recv(s, 65536), 20)).endswith(b"hi example.com")
        assert not lingering and len(server._connections) == 1
        await loop.sock_sendall(s, b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        assert (await read_to_eof(s)).endswith(b"hi a")
        await until(lambda: not server._connections)  # closed, not lingering
        assert not lingering
        await shut(server, s)

    run_on("embedtornado", go)


def test_tls_error_close_does_not_linger(linger) -> None:  # type: ignore[no-untyped-def]
    import ssl

    from embedtornado import _testcert

    lingering = linger(time=60.0)

    async def go() -> None:
        cert, key = _testcert.files()
        sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        sctx.load_cert_chain(cert, key)
        server, port = await serve(ssl_options=sctx)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx)
        writer.write(BIG_HEAD)
        out = await asyncio.wait_for(reader.read(), 20)
        assert out.startswith(b"HTTP/1.1 431 ")
        assert not lingering  # (TLS cannot half-close: closed after the answer)
        writer.close()
        server.stop()
        await server.close_all_connections()

    run_on("embedtornado", go)
