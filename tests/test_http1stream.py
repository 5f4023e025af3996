"""Tests for embedtornado._http1stream: HTTP1Connection / HTTP1ServerConnection over IOStreams.

Each scenario runs over a real TCP connection on embedtornado and, where the
outcome is deterministic, on Tornado 6.6.1's ``tornado.http1connection``, and
the results are compared: the bytes written for the same calls, the delegate
events for the same input bytes. Hostile requests are sent both to
`HTTP1ServerConnection` and to our `HTTPServer`, which must answer alike.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import socket
from typing import Any

import pytest
import tornado.http1connection
import tornado.httputil
import tornado.iostream

import embedtornado.http1connection
import embedtornado.httputil
import embedtornado.iostream
from embedtornado import _accel
from embedtornado._httpdefs import HTTP1ConnectionParameters

SIDES = {
    "embedtornado": (embedtornado.iostream, embedtornado.http1connection, embedtornado.httputil),
    "tornado": (tornado.iostream, tornado.http1connection, tornado.httputil),
}


def _tcp_pair() -> tuple[socket.socket, socket.socket]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    a = socket.create_connection(listener.getsockname())
    b, _ = listener.accept()
    listener.close()
    a.setblocking(False)
    b.setblocking(False)
    return a, b


async def _recv_all(sock: socket.socket, timeout: float = 5.0) -> bytes:
    """Everything the peer sends until it closes (or *timeout* passes)."""
    loop = asyncio.get_running_loop()
    out = bytearray()
    try:
        while True:
            data = await asyncio.wait_for(loop.sock_recv(sock, 65536), timeout)
            if not data:
                break
            out += data
    except (asyncio.TimeoutError, ConnectionResetError):
        pass
    return bytes(out)


def _record(httputil: Any, events: list[Any], **raise_in: bool) -> Any:
    class Delegate(httputil.HTTPMessageDelegate):
        def headers_received(self, start_line: Any, headers: Any) -> None:
            events.append(("headers", tuple(start_line), sorted(headers.get_all())))

        def data_received(self, chunk: bytes) -> None:
            if events and events[-1][0] == "data":
                events[-1] = ("data", events[-1][1] + chunk)
            else:
                events.append(("data", chunk))

        def finish(self) -> None:
            events.append(("finish",))

        def on_connection_close(self) -> None:
            events.append(("close",))

    return Delegate()


# --- client side ------------------------------------------------------------------


def client_read(side: str, response: bytes, *, method: str = "GET", close: bool = True,
                params: dict[str, Any] | None = None) -> tuple[Any, list[Any], bytes]:
    """Write a request, feed *response* from the peer; (result, events, request bytes)."""
    iostream, h1, httputil = SIDES[side]

    async def main() -> tuple[Any, list[Any], bytes]:
        a, b = _tcp_pair()
        stream = iostream.IOStream(a)
        p = h1.HTTP1ConnectionParameters(**(params or {}))
        conn = h1.HTTP1Connection(stream, True, p)
        conn.write_headers(httputil.RequestStartLine(method, "/x", "HTTP/1.1"),
                           httputil.HTTPHeaders({"Host": "h"}))
        conn.finish()
        loop = asyncio.get_running_loop()
        await loop.sock_sendall(b, response)
        if close:
            b.shutdown(socket.SHUT_WR)
        events: list[Any] = []
        try:
            result: Any = await asyncio.wait_for(conn.read_response(_record(httputil, events)), 5)
        except Exception as e:
            result = type(e).__name__
        stream.close()
        request = await _recv_all(b, 1)
        b.close()
        return result, events, request

    return asyncio.run(main())


CLIENT_CASES = {
    "length": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    "chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
    "http10-until-close": b"HTTP/1.0 200 OK\r\n\r\nhello there",
    "1xx-then-200": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "204": b"HTTP/1.1 204 No Content\r\n\r\n",
    "304-with-length": b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
    "connection-close": b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi",
    "bad-chunk-terminator": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nfooXX0\r\n\r\n",
    "bad-chunk-size": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1_a\r\nx\r\n0\r\n\r\n",
    "te-and-length": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
    "unequal-lengths": b"HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\nabc",
    "non-integer-length": b"HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\nabc",
    "1xx-with-body": b"HTTP/1.1 101 X\r\nContent-Length: 1\r\n\r\nx",
    "204-with-body": b"HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\nabc",
    "bad-status-line": b"HTTP/1.1 abc OK\r\n\r\n",
    "closed-mid-body": b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello",
    "closed-before-response": b"",
    "closed-mid-head": b"HTTP/1.1 200 OK\r\nContent-Le",
    "too-many-1xx": b"HTTP/1.1 100 Continue\r\n\r\n" * 11 + b"HTTP/1.1 200 OK\r\n\r\n",
}


@pytest.mark.parametrize("case", sorted(CLIENT_CASES))
def test_client_read_matches_tornado(case: str) -> None:
    ours = client_read("embedtornado", CLIENT_CASES[case])
    theirs = client_read("tornado", CLIENT_CASES[case])
    assert ours == theirs


def test_client_chunk_extensions_are_ignored() -> None:
    # Tornado rejects them; RFC 9112 section 7.1.1 says to ignore them, as our server does.
    resp = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;a=b\r\nabc\r\n0\r\n\r\n"
    result, events, _ = client_read("embedtornado", resp)
    assert result is True and events[1:] == [("data", b"abc"), ("finish",)]


def test_client_head_request_has_no_body() -> None:
    resp = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
    assert client_read("embedtornado", resp, method="HEAD") == client_read(
        "tornado", resp, method="HEAD")


def test_client_gzip() -> None:
    body = gzip.compress(b"hello gzip " * 100)
    resp = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s" % (
        len(body), body)
    ours = client_read("embedtornado", resp, params={"decompress": True})
    assert ours == client_read("tornado", resp, params={"decompress": True})
    assert ours[1][1] == ("data", b"hello gzip " * 100)
    assert ("X-Consumed-Content-Encoding", "gzip") in ours[1][0][2]


@pytest.mark.parametrize("size, ok", [(10, True), (9, False)])
def test_client_max_body_size(size: int, ok: bool) -> None:
    for resp in (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789",
                 b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n0\r\n\r\n",
                 b"HTTP/1.0 200 OK\r\n\r\n0123456789"):
        ours = client_read("embedtornado", resp, params={"max_body_size": size})
        assert ours == client_read("tornado", resp, params={"max_body_size": size})
        assert (ours[1][-1] == ("finish",)) is ok


def test_client_max_header_size() -> None:
    head = b"HTTP/1.1 200 OK\r\nX: " + b"a" * 100 + b"\r\n\r\n"
    result, events, _ = client_read("embedtornado", head, params={"max_header_size": len(head)})
    assert events[-1] == ("finish",)
    result, events, _ = client_read("embedtornado", head, params={"max_header_size": len(head) - 5})
    # Tornado closes the stream (UnsatisfiableReadError); we report malformed input.
    assert result is False and events == [("close",)]


def client_writes(side: str) -> list[Any]:
    iostream, h1, httputil = SIDES[side]

    async def main() -> list[Any]:
        a, b = _tcp_pair()
        stream = iostream.IOStream(a)
        out: list[Any] = []
        conn = h1.HTTP1Connection(stream, True)
        conn.write_headers(httputil.RequestStartLine("POST", "/p", "HTTP/1.1"),
                           httputil.HTTPHeaders({"Host": "h", "X-A": "1"}), b"first")
        conn.write(b"second")
        conn.write(b"")
        conn.finish()
        conn = h1.HTTP1Connection(stream, True)
        conn.write_headers(httputil.RequestStartLine("PUT", "/q", "HTTP/1.1"),
                           httputil.HTTPHeaders({"Content-Length": "3"}))
        conn.write(b"abc")
        conn.finish()
        conn = h1.HTTP1Connection(stream, True)
        try:
            conn.write_headers(httputil.RequestStartLine("GET", "/", "HTTP/1.1"),
                               httputil.HTTPHeaders({"X": "a\rb"}))
        except ValueError as e:
            out.append(str(e))
        conn = h1.HTTP1Connection(stream, True)
        conn.write_headers(httputil.RequestStartLine("PUT", "/q", "HTTP/1.1"),
                           httputil.HTTPHeaders({"Content-Length": "1"}))
        try:
            conn.write(b"ab")
        except Exception as e:
            out.append((type(e).__name__, str(e)))
        await asyncio.sleep(0.05)
        stream.close()
        out.append(await _recv_all(b, 1))
        b.close()
        return out

    return asyncio.run(main())


def test_client_request_bytes() -> None:
    ours = client_writes("embedtornado")
    assert ours == client_writes("tornado")
    assert ours[-1].startswith(b"POST /p HTTP/1.1\r\n")


def test_client_tiny_chunks_are_coalesced() -> None:
    resp = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"1\r\nx\r\n" * 5000
            + b"0\r\n\r\n")
    result, events, _ = client_read("embedtornado", resp)
    assert result is True and events[1] == ("data", b"x" * 5000)


def test_client_detach_returns_unread_bytes() -> None:
    async def main() -> bytes:
        a, b = _tcp_pair()
        stream = embedtornado.iostream.IOStream(a)
        conn = embedtornado.http1connection.HTTP1Connection(stream, True)
        conn.write_headers(embedtornado.httputil.RequestStartLine("GET", "/", "HTTP/1.1"),
                           embedtornado.httputil.HTTPHeaders())
        conn.finish()
        loop = asyncio.get_running_loop()
        await loop.sock_sendall(b, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiNEXT")
        events: list[Any] = []
        await conn.read_response(_record(embedtornado.httputil, events))
        rest = await stream.read_bytes(4)
        stream.close()
        b.close()
        return rest

    assert asyncio.run(main()) == b"NEXT"


def test_client_body_timeout(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> tuple[Any, list[Any]]:
        a, b = _tcp_pair()
        stream = embedtornado.iostream.IOStream(a)
        conn = embedtornado.http1connection.HTTP1Connection(
            stream, True, HTTP1ConnectionParameters(body_timeout=0.1))
        loop = asyncio.get_running_loop()
        await loop.sock_sendall(b, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhe")
        events: list[Any] = []
        result = await conn.read_response(_record(embedtornado.httputil, events))
        b.close()
        return result, events

    with caplog.at_level(logging.INFO, "embedtornado.general"):
        result, events = asyncio.run(main())
    assert result is False and events[-1] == ("close",)
    assert "Timeout reading body" in caplog.text


# --- server side ------------------------------------------------------------------


def serve(side: str, request: bytes, *, params: dict[str, Any] | None = None,
          close: bool = True) -> tuple[bytes, list[Any]]:
    """Feed *request* to an HTTP1ServerConnection that echoes; (response bytes, events)."""
    iostream, h1, httputil = SIDES[side]
    events: list[Any] = []

    class Message(httputil.HTTPMessageDelegate):
        def __init__(self, conn: Any) -> None:
            self.conn = conn
            self.body = b""

        def headers_received(self, start_line: Any, headers: Any) -> None:
            self.start_line = start_line
            events.append(("headers", tuple(start_line), sorted(headers.get_all())))

        def data_received(self, chunk: bytes) -> None:
            self.body += chunk

        def finish(self) -> None:
            events.append(("finish", self.body))
            body = b"%s %s %s" % (self.start_line.method.encode(), self.start_line.path.encode(),
                                  self.body)
            hdrs = httputil.HTTPHeaders({"X-Len": str(len(self.body))})
            if self.start_line.path == "/sized":
                hdrs["Content-Length"] = str(len(body))
            self.conn.write_headers(httputil.ResponseStartLine("HTTP/1.1", 200, "OK"), hdrs)
            self.conn.write(body)
            self.conn.finish()

        def on_connection_close(self) -> None:
            events.append(("close",))

    class Server(httputil.HTTPServerConnectionDelegate):
        def start_request(self, server_conn: Any, request_conn: Any) -> Any:
            return Message(request_conn)

        def on_close(self, server_conn: Any) -> None:
            events.append(("on_close",))

    async def main() -> bytes:
        a, b = _tcp_pair()
        stream = iostream.IOStream(b)
        p = h1.HTTP1ConnectionParameters(**(params or {}))
        h1.HTTP1ServerConnection(stream, p, "ctx").start_serving(Server())
        loop = asyncio.get_running_loop()
        await loop.sock_sendall(a, request)
        if close:
            a.shutdown(socket.SHUT_WR)
        out = await _recv_all(a, 2)
        a.close()
        await asyncio.sleep(0.01)
        stream.close()
        return out

    return asyncio.run(main()), events


SERVER_CASES = {
    "get": b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n",
    "get-sized": b"GET /sized HTTP/1.1\r\nHost: h\r\n\r\n",
    "post-length": b"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc",
    "post-chunked": (b"POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"),
    "keep-alive-pipelined": (b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
                             b"POST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi"
                             b"GET /3 HTTP/1.1\r\nHost: h\r\n\r\n"),
    "connection-close": (b"GET /1 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
                         b"GET /2 HTTP/1.1\r\nHost: h\r\n\r\n"),
    "http10": b"GET /a HTTP/1.0\r\n\r\nGET /b HTTP/1.0\r\n\r\n",
    "http10-keep-alive": (b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                          b"GET /sized HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
    "head": b"HEAD /sized HTTP/1.1\r\nHost: h\r\n\r\n",
    "closed-mid-body": b"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc",
    "closed-mid-head": b"GET /p HTTP/1.1\r\nHost",
    "empty-line-first": b"\r\nGET /a HTTP/1.1\r\nHost: h\r\n\r\n",
}


@pytest.mark.parametrize("case", sorted(SERVER_CASES))
def test_server_matches_tornado(case: str) -> None:
    assert serve("embedtornado", SERVER_CASES[case]) == serve("tornado", SERVER_CASES[case])


def test_server_skips_empty_lines_before_a_request() -> None:
    # Tornado answers 400 to two empty lines first; RFC 9112 section 2.2 and our server skip them.
    out, events = serve("embedtornado", b"\r\n\r\nGET /a HTTP/1.1\r\nHost: h\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200 OK\r\n") and ("finish", b"") in events


def test_server_gzip_request() -> None:
    body = gzip.compress(b"zipped " * 50)
    req = (b"POST /z HTTP/1.1\r\nHost: h\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s"
           % (len(body), body))
    ours = serve("embedtornado", req, params={"decompress": True})
    assert ours == serve("tornado", req, params={"decompress": True})
    assert ("finish", b"zipped " * 50) in ours[1]


def test_server_expect_continue() -> None:
    req = b"POST /p HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"

    async def main() -> bytes:
        a, b = _tcp_pair()
        stream = embedtornado.iostream.IOStream(b)

        class Server(embedtornado.httputil.HTTPServerConnectionDelegate):
            def start_request(self, server_conn: Any, request_conn: Any) -> Any:
                return embedtornado.httputil.HTTPMessageDelegate()

        embedtornado.http1connection.HTTP1ServerConnection(stream).start_serving(Server())
        loop = asyncio.get_running_loop()
        await loop.sock_sendall(a, req)
        got = await asyncio.wait_for(loop.sock_recv(a, 100), 5)
        a.close()
        stream.close()
        return got

    # Our server's interim line (Tornado's is "HTTP/1.1 100 (Continue)").
    assert asyncio.run(main()) == b"HTTP/1.1 100 Continue\r\n\r\n"


async def _our_server_answer(request: bytes, params: dict[str, Any]) -> bytes:
    from embedtornado.httpserver import HTTPServer

    def handle(req: Any) -> None:
        req.connection.write_headers(
            embedtornado.httputil.ResponseStartLine("HTTP/1.1", 200, "OK"),
            embedtornado.httputil.HTTPHeaders({"Content-Length": "0"}))
        req.connection.finish()

    server = HTTPServer(handle, **params)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(5)
    sock.setblocking(False)
    server.add_sockets([sock])
    port = sock.getsockname()[1]
    c = socket.create_connection(("127.0.0.1", port))
    c.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_sendall(c, request)
    out = await _recv_all(c, 2)
    c.close()
    server.stop()
    await server.close_all_connections()
    return out


HOSTILE = {
    "bare-lf": b"GET / HTTP/1.1\nHost: h\n\n",
    "http2-version": b"GET / HTTP/2.0\r\nHost: h\r\n\r\n",
    "bad-version": b"GET / HTTP/1.32\r\nHost: h\r\n\r\n",
    "no-host": b"GET / HTTP/1.1\r\n\r\n",
    "two-hosts": b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "te-gzip-chunked": b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
    "te-and-cl": (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                  b"Content-Length: 3\r\n\r\nabc"),
    "cl-plus": b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\na",
    "cl-huge": b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n",
    "chunk-bad-size": (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                       b"1_a\r\nx\r\n0\r\n\r\n"),
    "chunk-bare-lf": (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                      b"1\nx\r\n0\r\n\r\n"),
    "chunk-huge": (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"FFFFFFFFFFFFFFFF\r\n"),
    "obs-fold": b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n",
    "nul-in-target": b"GET /\x00 HTTP/1.1\r\nHost: h\r\n\r\n",
    "high-bit-value": b"GET / HTTP/1.1\r\nHost: h\r\nX: \xff\xfe\r\n\r\n",
    "space-before-colon": b"GET / HTTP/1.1\r\nHost: h\r\nX : a\r\n\r\n",
    "te-in-http10": b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "long-request-line": b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: h\r\n\r\n",
    "many-headers": b"GET / HTTP/1.1\r\nHost: h\r\n" + b"X: a\r\n" * 101 + b"\r\n",
    "body-over-limit": b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 101\r\n\r\n" + b"a" * 101,
    "body-at-limit": b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n" + b"a" * 100,
    "chunked-over-limit": (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                           b"64\r\n" + b"a" * 100 + b"\r\n1\r\na\r\n0\r\n\r\n"),
    "head-over-limit": b"GET / HTTP/1.1\r\nHost: h\r\nX: " + b"a" * 1100 + b"\r\n\r\n",
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_same_answer_as_our_server(case: str) -> None:
    request = HOSTILE[case]
    ours, _ = serve("embedtornado", request, close=False,
                    params={"max_body_size": 100, "max_header_size": 1024})

    async def main() -> bytes:
        return await _our_server_answer(request, {"max_body_size": 100,
                                                  "max_header_size": 1024})

    server = asyncio.run(main())
    assert ours.split(b"\r\n", 1)[0] == server.split(b"\r\n", 1)[0]
    if not ours.startswith(b"HTTP/1.1 200"):
        assert b"Connection: close\r\n" in ours and ours.endswith(b"\r\n\r\n")


def test_server_header_timeout_gives_408_for_partial_head() -> None:
    ours, events = serve("embedtornado", b"GET / HTTP/1.1\r\nHo", close=False,
                         params={"header_timeout": 0.1})
    assert ours.startswith(b"HTTP/1.1 408 ")
    ours, events = serve("embedtornado", b"", close=False, params={"header_timeout": 0.1})
    assert ours == b"" and events == [("on_close",)]


def test_server_set_max_body_size_per_request() -> None:
    iostream, h1, httputil = SIDES["embedtornado"]
    seen: list[Any] = []

    class Message(httputil.HTTPMessageDelegate):
        def __init__(self, conn: Any) -> None:
            self.conn = conn

        def headers_received(self, start_line: Any, headers: Any) -> None:
            if start_line.path == "/big":
                self.conn.set_max_body_size(1000)

        def finish(self) -> None:
            seen.append("finish")
            self.conn.write_headers(httputil.ResponseStartLine("HTTP/1.1", 200, "OK"),
                                    httputil.HTTPHeaders({"Content-Length": "0"}))
            self.conn.finish()

    class Server(httputil.HTTPServerConnectionDelegate):
        def start_request(self, server_conn: Any, request_conn: Any) -> Any:
            return Message(request_conn)

    async def main() -> bytes:
        a, b = _tcp_pair()
        stream = iostream.IOStream(b)
        h1.HTTP1ServerConnection(stream, h1.HTTP1ConnectionParameters(max_body_size=10)
                                 ).start_serving(Server())
        loop = asyncio.get_running_loop()
        await loop.sock_sendall(a, b"POST /big HTTP/1.1\r\nHost: h\r\nContent-Length: 20\r\n\r\n"
                                + b"a" * 20 + b"POST /small HTTP/1.1\r\nHost: h\r\n"
                                b"Content-Length: 20\r\n\r\n" + b"a" * 20)
        out = await _recv_all(a, 2)
        a.close()
        stream.close()
        return out

    out = asyncio.run(main())
    assert out.startswith(b"HTTP/1.1 200 OK") and b"HTTP/1.1 413 " in out
    assert seen == ["finish"]


def test_server_detach_returns_unread_bytes() -> None:
    iostream, h1, httputil = SIDES["embedtornado"]
    got: list[bytes] = []

    class Message(httputil.HTTPMessageDelegate):
        def __init__(self, conn: Any) -> None:
            self.conn = conn

        def headers_received(self, start_line: Any, headers: Any) -> None:
            stream = self.conn.detach()

            async def rest() -> None:
                got.append(await stream.read_bytes(7))
                stream.close()

            asyncio.ensure_future(rest())

    class Server(httputil.HTTPServerConnectionDelegate):
        def start_request(self, server_conn: Any, request_conn: Any) -> Any:
            return Message(request_conn)

    async def main() -> None:
        a, b = _tcp_pair()
        stream = iostream.IOStream(b)
        h1.HTTP1ServerConnection(stream).start_serving(Server())
        loop = asyncio.get_running_loop()
        await loop.sock_sendall(a, b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: x\r\n\r\nPAYLOAD")
        await _recv_all(a, 2)
        a.close()

    asyncio.run(main())
    assert got == [b"PAYLOAD"]


# --- the public names ---------------------------------------------------------------


def test_public_names_accept_compiled_server_objects() -> None:
    httpproto = _accel.load("httpproto")
    H = embedtornado.http1connection.HTTP1Connection
    S = embedtornado.http1connection.HTTP1ServerConnection
    assert H.__module__ == "embedtornado._http1stream"
    assert issubclass(httpproto.HTTP1Connection, H)
    assert issubclass(httpproto.HTTP1ServerProtocol, S)
    assert not issubclass(int, H) and not isinstance(object(), S)
    assert issubclass(H, embedtornado.httputil.HTTPConnection)


def test_request_connection_isinstance_over_our_server() -> None:
    from embedtornado.httpserver import HTTPServer

    seen: list[bool] = []

    def handle(req: Any) -> None:
        seen.append(isinstance(req.connection, embedtornado.http1connection.HTTP1Connection))
        req.connection.write_headers(
            embedtornado.httputil.ResponseStartLine("HTTP/1.1", 200, "OK"),
            embedtornado.httputil.HTTPHeaders({"Content-Length": "0"}))
        req.connection.finish()

    async def main() -> None:
        server = HTTPServer(handle)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(5)
        sock.setblocking(False)
        server.add_sockets([sock])
        c = socket.create_connection(sock.getsockname())
        c.setblocking(False)
        loop = asyncio.get_running_loop()
        await loop.sock_sendall(c, b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        await _recv_all(c, 2)
        c.close()
        server.stop()
        await server.close_all_connections()

    asyncio.run(main())
    assert seen == [True]
