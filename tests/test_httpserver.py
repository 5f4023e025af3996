"""HTTPServer with a plain request callback, over real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import gzip
import logging
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from typing import Any

import pytest

from embedtornado import netutil
from embedtornado.httputil import HTTPHeaders, ResponseStartLine
from rawhttp import ServerHarness, read_response, simple_handler

GET = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"


def echo(request):
    return b"%s %s %s %r" % (request.method.encode(), request.uri.encode(),
                             request.version.encode(), request.body)


def test_hello_plain_callback():
    with ServerHarness(simple_handler(lambda r: b"Hello world")) as h:
        resp = h.run(h.request(GET))
        assert resp.code == 200 and resp.reason == "OK"
        assert resp.body == b"Hello world"
        assert resp.header_list == [("Content-Length", "11")]


def test_request_fields():
    seen = {}

    def cb(request):
        seen.update(method=request.method, uri=request.uri, path=request.path,
                    query=request.query, version=request.version, host=request.host,
                    remote_ip=request.remote_ip, protocol=request.protocol,
                    args=request.query_arguments, body=request.body,
                    body_args=request.body_arguments, ua=request.headers["User-Agent"],
                    full_url=request.full_url())
        return b""

    body = b"x=1&y=2"
    with ServerHarness(simple_handler(cb)) as h:
        h.run(h.request(b"POST /p/q?a=1&a=2 HTTP/1.1\r\nHost: example.com:8000\r\n"
                        b"User-Agent: t\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)))
    assert seen["method"] == "POST" and seen["uri"] == "/p/q?a=1&a=2"
    assert seen["path"] == "/p/q" and seen["query"] == "a=1&a=2"
    assert seen["version"] == "HTTP/1.1" and seen["host"] == "example.com:8000"
    assert seen["remote_ip"] == "127.0.0.1" and seen["protocol"] == "http"
    assert seen["args"] == {"a": [b"1", b"2"]}
    assert seen["body"] == body and seen["body_args"] == {"x": [b"1"], "y": [b"2"]}
    assert seen["ua"] == "t"
    assert seen["full_url"] == "http://example.com:8000/p/q?a=1&a=2"


def test_keep_alive_http11_and_pipelining_in_order():
    with ServerHarness(simple_handler(echo)) as h:
        async def go():
            reader, writer = await h.connect()
            writer.write(b"".join(b"GET /%d HTTP/1.1\r\nHost: a\r\n\r\n" % i for i in range(20)))
            bodies = [(await read_response(reader)).body for _ in range(20)]
            # The connection is still open for more.
            writer.write(GET)
            last = await read_response(reader)
            return bodies, last
        bodies, last = h.run(go())
    assert bodies == [b"GET /%d HTTP/1.1 b''" % i for i in range(20)]
    assert last.code == 200


def test_http10_closes_unless_keep_alive():
    with ServerHarness(simple_handler()) as h:
        data = h.run(h.exchange(b"GET / HTTP/1.0\r\n\r\n"))
        assert data.startswith(b"HTTP/1.1 200 OK\r\n") and b"Connection" not in data

        async def keep():
            reader, writer = await h.connect()
            writer.write(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            r1 = await read_response(reader)
            writer.write(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            r2 = await read_response(reader)
            return r1, r2
        r1, r2 = h.run(keep())
        assert r1.headers["connection"] == "Keep-Alive" and r2.code == 200


def test_connection_close_header():
    with ServerHarness(simple_handler()) as h:
        data = h.run(h.exchange(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"))
        assert data == b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


def test_no_keep_alive_option():
    with ServerHarness(simple_handler(), no_keep_alive=True) as h:
        data = h.run(h.exchange(GET + GET))
        assert data.count(b"HTTP/1.1 200") == 1 and b"Connection: close" in data


def _streaming_handler(request):
    conn = request.connection
    conn.write_headers(ResponseStartLine("HTTP/1.1", 200, "OK"), HTTPHeaders())
    conn.write(b"hello ")
    conn.write(b"")
    conn.write(b"world")
    conn.finish()


def test_chunked_response_when_no_content_length():
    with ServerHarness(_streaming_handler) as h:
        async def go():
            reader, writer = await h.connect()
            writer.write(GET)
            head = await reader.readuntil(b"\r\n\r\n")
            body = await reader.readuntil(b"0\r\n\r\n")
            return head, body
        head, body = h.run(go())
    assert b"Transfer-Encoding: chunked\r\n" in head
    assert body == b"6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n"


def test_http10_response_without_length_closes():
    with ServerHarness(_streaming_handler) as h:
        data = h.run(h.exchange(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"))
    assert data.endswith(b"\r\n\r\nhello world")
    assert b"Keep-Alive" not in data and b"chunked" not in data


def test_head_response_has_no_body():
    def cb(request):
        conn = request.connection
        conn.write_headers(ResponseStartLine("HTTP/1.1", 200, "OK"),
                           HTTPHeaders({"Content-Length": "5"}))
        conn.finish()

    with ServerHarness(cb) as h:
        async def go():
            reader, writer = await h.connect()
            writer.write(b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n" + GET)
            r1 = await read_response(reader, "HEAD")
            head2 = await reader.readuntil(b"\r\n\r\n")
            return r1, head2
        r1, head2 = h.run(go())
    assert r1.headers["content-length"] == "5" and r1.body == b""
    assert head2.startswith(b"HTTP/1.1 200 OK")


@pytest.mark.parametrize("value", ["+10", "1_0", "foo", " 10", "\uff11\uff10", "-1", ""])
def test_write_headers_rejects_non_integer_content_length(value, caplog):
    # As Tornado's InvalidOutputContentLengthTest: int() would take "+10" and "1_0";
    # write_headers raises ValueError (logged as uncaught) and nothing is sent.
    def cb(request):
        request.connection.write_headers(ResponseStartLine("HTTP/1.1", 200, "OK"),
                                         HTTPHeaders({"Content-Length": value}))

    with caplog.at_level(logging.ERROR, logger="embedtornado.application"), ServerHarness(cb) as h:
        out = h.run(h.exchange(GET))
    assert out == b""
    assert any(r.getMessage().startswith("Uncaught exception") and r.exc_info
               and isinstance(r.exc_info[1], ValueError) for r in caplog.records)


def test_legacy_raw_write_without_write_headers():
    # Tornado's LegacyInterfaceTest: the first write() may carry the encoded head itself.
    def cb(request):
        conn = request.connection
        conn.write(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n")
        conn.write(b"Hello world")
        conn.finish()

    with ServerHarness(cb) as h:
        out = h.run(h.exchange(GET + GET))  # closed after the first answer (framing unknown)
    assert out == b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nHello world"


def test_writing_more_than_content_length_raises():
    errors = []

    def cb(request):
        conn = request.connection
        conn.write_headers(ResponseStartLine("HTTP/1.1", 200, "OK"),
                           HTTPHeaders({"Content-Length": "2"}))
        try:
            conn.write(b"abc")
        except Exception as e:
            errors.append(e)

    with ServerHarness(cb) as h:
        h.run(h.exchange(GET))
    assert type(errors[0]).__name__ == "HTTPOutputError"


def test_finish_short_of_content_length_raises():
    errors = []

    def cb(request):
        conn = request.connection
        conn.write_headers(ResponseStartLine("HTTP/1.1", 200, "OK"),
                           HTTPHeaders({"Content-Length": "5"}))
        conn.write(b"ab")
        try:
            conn.finish()
        except Exception as e:
            errors.append(e)

    with ServerHarness(cb) as h:
        h.run(h.exchange(GET))
    assert "3 bytes less than Content-Length" in str(errors[0])


def test_header_injection_rejected():
    errors = []

    def cb(request):
        try:
            request.connection.write_headers(ResponseStartLine("HTTP/1.1", 200, "OK"),
                                             HTTPHeaders({"X": "a\r\nInjected: 1"}))
        except ValueError as e:
            errors.append(e)
        request.connection.close()

    with ServerHarness(cb) as h:
        assert b"Injected" not in h.run(h.exchange(GET))
    assert errors


def test_expect_100_continue():
    with ServerHarness(simple_handler(echo)) as h:
        async def go():
            reader, writer = await h.connect()
            writer.write(b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
                         b"Content-Length: 4\r\n\r\n")
            interim = await reader.readuntil(b"\r\n\r\n")
            writer.write(b"body")
            final = await read_response(reader)
            return interim, final
        interim, final = h.run(go())
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert final.body == b"POST / HTTP/1.1 b'body'"


def test_expect_100_continue_over_limit_gets_413_without_100():
    # HOSTILE 64.
    with ServerHarness(simple_handler(echo), max_body_size=10) as h:
        data = h.run(h.exchange(b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
                                b"Content-Length: 11\r\n\r\n"))
    assert data == (b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\n"
                    b"Connection: close\r\n\r\n")


def test_chunked_request_body():
    with ServerHarness(simple_handler(echo)) as h:
        resp = h.run(h.request(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                               b"3\r\nabc\r\n4;x=y\r\ndefg\r\n0\r\nTrailer: t\r\n\r\n"))
    assert resp.body == b"POST / HTTP/1.1 b'abcdefg'"


def test_large_body_in_many_reads():
    body = os.urandom(300_000)
    with ServerHarness(simple_handler(lambda r: str(len(r.body)).encode() + r.body[-4:])) as h:
        resp = h.run(h.request(b"PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n"
                               % len(body) + body))
    assert resp.body == b"300000" + body[-4:]


def test_xheaders():
    seen = []

    def cb(request):
        seen.append((request.remote_ip, request.protocol))
        return b""

    with ServerHarness(simple_handler(cb), xheaders=True) as h:
        h.run(h.request(b"GET / HTTP/1.1\r\nHost: a\r\nX-Real-Ip: 10.1.2.3\r\n"
                        b"X-Scheme: https\r\n\r\n"))
        h.run(h.request(b"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.2.3.4, 5.6.7.8\r\n"
                        b"X-Forwarded-Proto: https\r\n\r\n"))
        h.run(h.request(b"GET / HTTP/1.1\r\nHost: a\r\nX-Real-Ip: not-an-ip\r\n"
                        b"X-Scheme: gopher\r\n\r\n"))
    assert seen == [("10.1.2.3", "https"), ("5.6.7.8", "https"), ("127.0.0.1", "http")]


def test_xheaders_trusted_downstream():
    seen = []
    with ServerHarness(simple_handler(lambda r: seen.append(r.remote_ip) or b""),
                       xheaders=True, trusted_downstream=["5.6.7.8"]) as h:
        h.run(h.request(b"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.2.3.4, 5.6.7.8\r\n\r\n"))
    assert seen == ["1.2.3.4"]


def test_xheaders_off_by_default():
    seen = []
    with ServerHarness(simple_handler(lambda r: seen.append(r.remote_ip) or b"")) as h:
        h.run(h.request(b"GET / HTTP/1.1\r\nHost: a\r\nX-Real-Ip: 10.1.2.3\r\n\r\n"))
    assert seen == ["127.0.0.1"]


def test_decompress_request():
    payload = b"a=" + b"x" * 5000
    with ServerHarness(simple_handler(lambda r: b"%d %s" % (
            len(r.body), r.headers.get("X-Consumed-Content-Encoding", "-").encode())),
            decompress_request=True) as h:
        gz = gzip.compress(payload)
        resp = h.run(h.request(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Encoding: gzip\r\n"
                               b"Content-Length: %d\r\n\r\n" % len(gz) + gz))
        assert resp.body == b"5002 gzip"


def test_decompress_request_bomb_is_413():
    # HOSTILE 65: the limit applies to the decompressed size.
    bomb = gzip.compress(b"\0" * 2_000_000)
    with ServerHarness(simple_handler(), decompress_request=True, max_body_size=100_000) as h:
        data = h.run(h.exchange(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Encoding: gzip\r\n"
                                b"Content-Length: %d\r\n\r\n" % len(bomb) + bomb))
    assert data.startswith(b"HTTP/1.1 413 ")


def test_decompress_trailing_garbage_is_400():
    gz = gzip.compress(b"hello") + b"garbage"
    with ServerHarness(simple_handler(), decompress_request=True) as h:
        data = h.run(h.exchange(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Encoding: gzip\r\n"
                                b"Content-Length: %d\r\n\r\n" % len(gz) + gz))
    assert data.startswith(b"HTTP/1.1 400 ")


def test_decompress_concatenated_members():
    # RFC 1952 section 2.2: a gzip stream may be several members; all are decoded (Tornado 6.6).
    gz = gzip.compress(b"foo=") + gzip.compress(b"") + gzip.compress(b"bar")
    with ServerHarness(simple_handler(lambda r: r.body), decompress_request=True,
                       chunk_size=7) as h:
        for data in (gz, b""):
            resp = h.run(h.request(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Encoding: gzip\r\n"
                                   b"Content-Length: %d\r\n\r\n" % len(data) + data))
            assert resp.code == 200 and resp.body == (b"foo=bar" if data else b"")


@pytest.mark.parametrize("data", [
    gzip.compress(b"foo=bar") + b"\0",
    gzip.compress(b"foo=bar")[:-1],
    gzip.compress(b"foo=bar")[:5],
    b"\x1f",
    b"not gzip",
], ids=["trailing-nul", "truncated", "header-only", "one-byte", "not-gzip"])
def test_decompress_invalid_is_400_logged_as_tornado(data, caplog, monkeypatch):
    from embedtornado import httpserver
    monkeypatch.setattr(httpserver.httpproto._malformed_log, "_window", 0.0)
    with (caplog.at_level(logging.INFO, logger="embedtornado.general"),
          ServerHarness(simple_handler(), decompress_request=True) as h):
        out = h.run(h.exchange(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Encoding: gzip\r\n"
                               b"Content-Length: %d\r\n\r\n" % len(data) + data))
    assert out.startswith(b"HTTP/1.1 400 ")
    assert any(r.getMessage().startswith("Malformed HTTP message from 127.0.0.1: invalid gzip data: ")
               for r in caplog.records), caplog.records


@pytest.mark.parametrize("data, status", [
    (b"GET / HTTP/1.1\r\nHost: a\r\nX : y\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\n\r\n", 400),
    (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414),
    (b"GET / HTTP/1.1\r\nHost: a\r\n" + b"X-Big: %s\r\n" % (b"a" * 70000) + b"\r\n", 431),
    (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
    (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 200000000\r\n\r\n", 413),
    (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
])
def test_bad_requests_get_status_then_close(data, status):
    with ServerHarness(simple_handler()) as h:
        out = h.run(h.exchange(data))
    reason = out.split(b"\r\n", 1)[0]
    assert reason.startswith(b"HTTP/1.1 %d " % status), out
    assert out.endswith(b"Content-Length: 0\r\nConnection: close\r\n\r\n")


def test_error_after_good_pipelined_request():
    with ServerHarness(simple_handler()) as h:
        out = h.run(h.exchange(GET + b"GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n" + GET))
    assert out.count(b"HTTP/1.1 200 OK") == 1 and out.count(b"HTTP/1.1 400") == 1


def test_malformed_logged_at_info_without_traceback(caplog, monkeypatch):
    # The log is rate-limited per process; earlier tests (the hostile set) may
    # have used this minute's burst, so start this test with a fresh window.
    from embedtornado import httpserver
    limiter = httpserver.httpproto._malformed_log
    monkeypatch.setattr(limiter, "_window", 0.0)
    monkeypatch.setattr(limiter, "_count", 0)
    monkeypatch.setattr(limiter, "_dropped", 0)
    with caplog.at_level(logging.INFO, logger="embedtornado.general"):
        with ServerHarness(simple_handler()) as h:
            h.run(h.exchange(b"GET / HTTP/1.1\r\nHost: a\r\nX : y\r\n\r\n"))
    recs = [r for r in caplog.records if "Malformed HTTP message" in r.getMessage()]
    assert recs and recs[0].levelno == logging.INFO and recs[0].exc_info is None


def test_idle_connection_timeout_closes_silently_when_nothing_sent():
    with ServerHarness(simple_handler(), idle_connection_timeout=0.2) as h:
        t0 = time.monotonic()
        out = h.run(h.exchange(b""))
        assert out == b"" and time.monotonic() - t0 < 5


def test_slowloris_head_gets_408():
    # HOSTILE 59: a head that never completes is cut at the header timeout.
    with ServerHarness(simple_handler(), idle_connection_timeout=0.3) as h:
        async def go():
            reader, writer = await h.connect()
            writer.write(b"GET / HTTP/1.1\r\n")
            for _ in range(3):
                await asyncio.sleep(0.15)
                writer.write(b"X")  # bytes keep coming, but the head never ends
            return await reader.read()
        out = h.run(go())
    assert out.startswith(b"HTTP/1.1 408 Request Timeout\r\n")


def test_keep_alive_idle_timeout():
    with ServerHarness(simple_handler(), idle_connection_timeout=0.2) as h:
        async def go():
            reader, writer = await h.connect()
            writer.write(GET)
            await read_response(reader)
            return await reader.read()  # closed by the server after 0.2 s idle
        assert h.run(go()) == b""


def test_stalled_body_times_out():
    with ServerHarness(simple_handler(), idle_connection_timeout=0.2) as h:
        out = h.run(h.exchange(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc"))
    assert out.startswith(b"HTTP/1.1 408 ")


def test_body_timeout_total():
    # HOSTILE 60: a body trickling in stays under the gap timeout but hits body_timeout.
    with ServerHarness(simple_handler(), idle_connection_timeout=5, body_timeout=0.3) as h:
        async def go():
            reader, writer = await h.connect()
            writer.write(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n")
            for _ in range(8):
                await asyncio.sleep(0.1)
                if writer.is_closing():
                    break
                writer.write(b"x")
            return await reader.read()
        out = h.run(go())
    assert out.startswith(b"HTTP/1.1 408 ")


def test_set_body_timeout_shorter_than_the_armed_timer():
    # The handler shortens the body timeout after the head (Tornado's BodyLimitsTest
    # test_timeout): it must apply now, not when the server's 3600 s timer fires.
    from embedtornado import web

    @web.stream_request_body
    class Streaming(web.RequestHandler):
        def prepare(self):
            self.request.connection.set_body_timeout(0.1)

        def data_received(self, data):
            pass

        def put(self):
            self.write("done")

    app = web.Application([("/", Streaming)])
    with ServerHarness(app, body_timeout=3600, idle_connection_timeout=3600) as h:
        out = h.run(h.exchange(b"PUT / HTTP/1.0\r\nContent-Length: 42\r\n\r\n"), timeout=5)
    assert out.startswith(b"HTTP/1.1 408 ")


def test_async_callback_and_long_request_does_not_block_others():
    from embedtornado.ioloop import IOLoop

    def cb(request):
        conn = request.connection

        def answer():
            body = b"slow" if request.path == "/slow" else b"fast"
            conn.write_headers(ResponseStartLine("HTTP/1.1", 200, "OK"),
                               HTTPHeaders({"Content-Length": "4"}))
            conn.write(body)
            conn.finish()
        if request.path == "/slow":
            IOLoop.current().call_later(0.3, answer)
        else:
            answer()

    with ServerHarness(cb) as h:
        async def go():
            order = []

            async def fetch(path):
                r = await h.request(b"GET %s HTTP/1.1\r\nHost: a\r\n\r\n" % path)
                order.append(r.body)
            await asyncio.gather(fetch(b"/slow"), fetch(b"/fast"))
            return order
        assert h.run(go()) == [b"fast", b"slow"]


def test_client_disconnect_calls_close_callback():
    closed = asyncio.Event()
    with ServerHarness(lambda request: request.connection.set_close_callback(closed.set)) as h:
        async def go():
            reader, writer = await h.connect()
            writer.write(GET)
            await asyncio.sleep(0.05)
            writer.close()
            await asyncio.wait_for(closed.wait(), 5)
        h.run(go())


def test_pipeline_flood_with_non_reading_client_is_bounded():
    # HOSTILE 66: a peer that pipelines but never reads cannot grow our buffers.
    big = b"x" * 60000
    with ServerHarness(simple_handler(lambda r: big), max_write_buffer=65536) as h:
        async def go():
            reader, writer = await h.connect()
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            for _ in range(200):
                writer.write(GET)
            await asyncio.sleep(0.5)
            conns = list(h.server._connections)
            assert len(conns) == 1
            proto = conns[0]
            assert proto.transport.get_write_buffer_size() < 65536 + 2 * len(big)
            assert proto._parser.pending() < 200 * len(GET)
        h.run(go())


def test_many_pipelined_requests_answered_in_order_and_others_served():
    # HOSTILE 58.
    n = 2000
    with ServerHarness(simple_handler(lambda r: r.path.encode())) as h:
        async def go():
            reader, writer = await h.connect()
            writer.write(b"".join(b"GET /%d HTTP/1.1\r\nHost: a\r\n\r\n" % i for i in range(n)))
            other = await h.request(GET)
            bodies = [(await read_response(reader)).body for _ in range(n)]
            return other, bodies
        other, bodies = h.run(go(), timeout=60)
    assert other.code == 200
    assert bodies == [b"/%d" % i for i in range(n)]


def test_stop_and_close_all_connections():
    with ServerHarness(simple_handler()) as h:
        async def go():
            reader, writer = await h.connect()
            writer.write(GET)
            await read_response(reader)
            h.server.stop()
            with pytest.raises(OSError):
                await asyncio.open_connection("127.0.0.1", h.port)
            await h.server.close_all_connections()
            assert await reader.read() == b""
            assert not h.server._connections
        h.run(go())


def test_listen_and_start_forked_processes(tmp_path):
    script = tmp_path / "srv.py"
    script.write_text(textwrap.dedent("""
        import os, sys
        from embedtornado.httpserver import HTTPServer
        from embedtornado.httputil import HTTPHeaders, ResponseStartLine
        from embedtornado.ioloop import IOLoop
        from embedtornado import process

        def cb(request):
            body = str(process.task_id()).encode()
            request.connection.write_headers(ResponseStartLine("HTTP/1.1", 200, "OK"),
                HTTPHeaders({"Content-Length": str(len(body))}))
            request.connection.write(body)
            request.connection.finish()

        server = HTTPServer(cb)
        server.bind(int(sys.argv[1]), "127.0.0.1")
        server.start(2)
        IOLoop.current().start()
    """))
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    proc = subprocess.Popen([sys.executable, str(script), str(port)], start_new_session=True)
    try:
        ids = set()
        deadline = time.monotonic() + 20
        while len(ids) < 2 and time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=2) as c:
                    c.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                    data = b""
                    while chunk := c.recv(4096):
                        data += chunk
                ids.add(data.rsplit(b"\r\n", 1)[-1])
            except OSError:
                time.sleep(0.05)
        assert ids == {b"0", b"1"}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)


# --- every hostile head from test_httpparse, over a real socket: status, then close ---

from test_httpparse import HOSTILE  # noqa: E402


@pytest.mark.parametrize("name, data, code", HOSTILE, ids=[c[0] for c in HOSTILE])
def test_hostile_input_over_socket(name, data, code):
    handled = []
    with ServerHarness(simple_handler(lambda r: handled.append(r.uri) or b"ok")) as h:
        out = h.run(h.exchange(data))  # returns only once the server has closed
    # Some cases are a valid request followed by a bad one (smuggling attempts):
    # the valid part may be answered, the bad part never is.
    statuses = [int(line.split(b" ")[1]) for line in out.split(b"\r\n")
                if line.startswith(b"HTTP/1.1 ")]
    assert statuses and statuses[-1] == code, out
    assert out.endswith(b"Connection: close\r\n\r\n")
    assert len(handled) == len(statuses) - 1


# --- HTTPServer is a Configurable, and checks a dict ssl_options at once (as Tornado) ---------


@pytest.mark.parametrize("package", ["embedtornado", "tornado"])
def test_configure_defaults_and_initialize_override(package):
    import importlib

    httpserver = importlib.import_module(package + ".httpserver")
    web = importlib.import_module(package + ".web")
    app = web.Application([])
    HTTPServer = httpserver.HTTPServer
    try:
        HTTPServer.configure(None, xheaders=True)
        assert HTTPServer(app).xheaders is True
        assert HTTPServer(app, xheaders=False).xheaders is False  # given arguments win
    finally:
        HTTPServer.configure(None)
    assert HTTPServer(app).xheaders is False

    class Counting(HTTPServer):
        def initialize(self, *args, **kwargs):
            self.initialized = getattr(self, "initialized", 0) + 1
            super().initialize(*args, **kwargs)

    server = Counting(app, no_keep_alive=True)
    assert type(server) is Counting and server.initialized == 1
    assert server.request_callback is app


@pytest.mark.parametrize("package", ["embedtornado", "tornado"])
def test_dict_ssl_options_checked_when_the_server_is_made(package, tmp_path):
    import importlib

    httpserver = importlib.import_module(package + ".httpserver")
    app = importlib.import_module(package + ".web").Application([])
    with pytest.raises(KeyError, match="certfile"):
        httpserver.HTTPServer(app, ssl_options={"keyfile": "k.pem"})
    missing = str(tmp_path / "missing.pem")
    with pytest.raises(ValueError, match=f'certfile "{missing}" does not exist'):
        httpserver.HTTPServer(app, ssl_options={"certfile": missing})
    cert = tmp_path / "cert.pem"
    cert.write_text("not used")
    with pytest.raises(ValueError, match="keyfile .* does not exist"):
        httpserver.HTTPServer(app, ssl_options={"certfile": str(cert), "keyfile": missing})


# --- the reason logged for a rejected request is Tornado's text (log filters match it) ---------

BOTH_REJECT = [
    ("request-line", b"asdf\r\n\r\n"),
    ("method-comma", b"FOO,BAR /echo HTTP/1.1\r\nHost: a\r\n\r\n"),
    ("version-2", b"GET / HTTP/2.0\r\nHost: a\r\n\r\n"),
    ("no-colon", b"GET / HTTP/1.0\r\nasdf\r\n\r\n"),
    ("name-space", b"GET / HTTP/1.1\r\nHost: a\r\nX : y\r\n\r\n"),
    ("name-empty", b"GET / HTTP/1.1\r\nHost: a\r\n: y\r\n\r\n"),
    ("folding", b"GET / HTTP/1.1\r\nHost: a\r\n x: y\r\n\r\n"),
    ("value-nul", b"GET / HTTP/1.1\r\nHost: a\r\nX:  a\x00b \r\n\r\n"),
    ("value-del", b"GET / HTTP/1.1\r\nHost: a\r\nX: \x7f\r\n\r\n"),
    ("no-host", b"GET / HTTP/1.1\r\n\r\n"),
    ("host-space", b"GET / HTTP/1.0\r\nHost: foo bar\r\n\r\n"),
    ("two-hosts", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
    ("cl-alpha", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: foo\r\n\r\n"),
    ("cl-plus", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +10\r\n\r\n0123456789"),
    ("cl-underscore", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1_0\r\n\r\n0123456789"),
    ("cl-same-alpha", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: x, x\r\n\r\n"),
    ("cl-unequal", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\nhello"),
    ("cl-nbsp", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,\xa05\r\n\r\nhello"),
    ("cl-two-lines", (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                      b"Content-Length: 6\r\n\r\nhello")),
    ("cl-too-long", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2000\r\n\r\n"),
    ("cl-huge", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n"),
    ("te-and-cl", (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                   b"Content-Length: 2\r\n\r\n")),
    ("te-two-lines", (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                      b"Transfer-encoding: chunked\r\n\r\n")),
    ("te-list", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
    ("te-chunked-twice", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"),
    ("te-identity", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n"),
    ("chunk-size", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
    ("chunk-size-lf", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\nok\r\n"),
    ("chunk-end", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokXY"),
    ("chunked-too-large", (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                           b"7d1\r\n")),
]


@pytest.fixture(scope="module")
def log_pair():
    import tornado.httpserver

    def theirs(request: Any) -> None:  # never reached: every case is rejected
        request.connection.finish()

    with ServerHarness(simple_handler(), max_body_size=1000) as h:
        async def start() -> Any:
            socks = netutil.bind_sockets(0, "127.0.0.1", family=socket.AF_INET)
            server = tornado.httpserver.HTTPServer(theirs, max_body_size=1000)
            server.add_sockets(socks)
            return server, socks[0].getsockname()[1]

        server, port = h.run(start())
        try:
            yield h, port
        finally:
            server.stop()
            h.run(server.close_all_connections())


@pytest.mark.parametrize("data", [c[1] for c in BOTH_REJECT], ids=[c[0] for c in BOTH_REJECT])
def test_rejection_reason_logged_as_tornado(log_pair, data, caplog, monkeypatch):
    from embedtornado import httpserver
    limiter = httpserver.httpproto._malformed_log  # start with this minute's burst unused
    monkeypatch.setattr(limiter, "_window", 0.0)
    h, tornado_port = log_pair

    async def exchange_tornado() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", tornado_port)
        writer.write(data)
        try:
            return await reader.read()
        finally:
            writer.close()

    def reasons(logger: str) -> list[str]:
        return [r.getMessage().split(": ", 1)[1] for r in caplog.records
                if r.name == logger and r.getMessage().startswith("Malformed HTTP message from")]

    with caplog.at_level(logging.INFO):
        ours = h.run(h.exchange(data))
        theirs = h.run(exchange_tornado())
    assert ours.startswith((b"HTTP/1.1 4", b"HTTP/1.1 5")), ours
    assert theirs.startswith(b"HTTP/1.1 400 "), theirs
    assert reasons("embedtornado.general") == reasons("tornado.general") != []
