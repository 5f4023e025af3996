"""AsyncHTTPClient against our server, scripted raw servers and real Tornado's server.

Tests marked with the ``client`` fixture run with our client and with the
real Tornado 6.6.1 client, to show the same observable behaviour.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import socket
import ssl
import subprocess
import sys
import threading

import pytest

from embedtornado import netutil, web
from embedtornado.httpclient import (
    AsyncHTTPClient,
    HTTPClient,
    HTTPClientError,
    HTTPError,
    HTTPRequest,
    HTTPResponse,
)
from embedtornado.httpserver import HTTPServer
from embedtornado.simple_httpclient import HTTPStreamClosedError, HTTPTimeoutError
from streamtools import IMPLS, RawServer, impl_module, read_head, run


class Hello(web.RequestHandler):
    def get(self):
        self.write("Hello, " + self.get_argument("name", "world"))

    def post(self):
        self.write(b"posted:" + self.request.body)

    def put(self):
        self.write(b"put:" + self.request.body)

    def head(self):
        self.set_header("Content-Length", "12")  # a body that HEAD does not send


class Echo(web.RequestHandler):
    def get(self):
        self.write({"headers": dict(self.request.headers), "method": self.request.method})

    post = get


class Redirect(web.RequestHandler):
    def get(self, code):
        self.redirect("/hello?name=redirected", status=int(code))

    def post(self, code):
        self.redirect("/echo", status=int(code))


class CrossHost(web.RequestHandler):
    def get(self):
        port = self.request.host.rsplit(":", 1)[1]
        self.redirect(f"http://localhost:{port}/echo")


class Loop(web.RequestHandler):
    def get(self):
        self.redirect("/loop")


class Big(web.RequestHandler):
    def get(self):
        self.set_header("Content-Type", "text/plain")
        self.write(b"0123456789" * 20000)


class Stream(web.RequestHandler):
    async def get(self):
        for i in range(5):
            self.write(b"chunk%d;" % i)
            await self.flush()


class NotFound(web.RequestHandler):
    def get(self):
        self.set_status(404)
        self.write("nope")


def make_app():
    return web.Application([
        (r"/hello", Hello), (r"/echo", Echo), (r"/redirect/(\d+)", Redirect),
        (r"/loop", Loop), (r"/crosshost", CrossHost), (r"/big", Big), (r"/stream", Stream), (r"/missing", NotFound),
    ], compress_response=True)


class ServerCtx:
    """Our HTTPServer with make_app() on the running loop."""

    def __init__(self, **kwargs):
        self.kwargs = kwargs

    async def __aenter__(self):
        socks = netutil.bind_sockets(0, "127.0.0.1", family=socket.AF_INET)
        self.port = socks[0].getsockname()[1]
        self.server = HTTPServer(make_app(), **self.kwargs)
        self.server.add_sockets(socks)
        return self

    async def __aexit__(self, *exc):
        self.server.stop()
        await self.server.close_all_connections()

    def url(self, path, scheme="http"):
        return f"{scheme}://127.0.0.1:{self.port}{path}"


@pytest.fixture(params=IMPLS)
def client_impl(request):
    return request.param


def new_client(impl, **kwargs):
    mod = impl_module(impl, "httpclient")
    return mod.AsyncHTTPClient(force_instance=True, **kwargs), mod


# -- basics ---------------------------------------------------------------------------


def test_get_post_put_head(client_impl):
    async def go():
        async with ServerCtx() as s:
            client, _ = new_client(client_impl)
            r = await client.fetch(s.url("/hello?name=x"))
            assert (r.code, r.reason, r.body) == (200, "OK", b"Hello, x")
            assert r.headers["Content-Type"].startswith("text/html")
            assert r.effective_url == s.url("/hello?name=x")
            assert r.request_time >= 0 and r.error is None
            r = await client.fetch(s.url("/hello"), method="POST", body="a=1")
            assert r.body == b"posted:a=1"
            r = await client.fetch(s.url("/hello"), method="PUT", body=b"\x00\xff")
            assert r.body == b"put:\x00\xff"
            r = await client.fetch(s.url("/hello"), method="HEAD")
            assert r.code == 200 and r.body == b"" and r.headers["Content-Length"] == "12"
            # and the connection (if reused) is still in step
            r = await client.fetch(s.url("/hello?name=again"))
            assert r.body == b"Hello, again"
            client.close()
    run(go)


def test_error_codes_and_raise_error(client_impl):
    async def go():
        async with ServerCtx() as s:
            client, mod = new_client(client_impl)
            with pytest.raises(mod.HTTPClientError) as info:
                await client.fetch(s.url("/missing"))
            assert info.value.code == 404 and info.value.response.body == b"nope"
            assert str(info.value) == "HTTP 404: Not Found"
            r = await client.fetch(s.url("/missing"), raise_error=False)
            assert r.code == 404 and isinstance(r.error, mod.HTTPClientError)
            with pytest.raises(mod.HTTPClientError):
                r.rethrow()
            # Network errors are raised even with raise_error=False.
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                dead = sock.getsockname()[1]
            with pytest.raises(ConnectionRefusedError):
                await client.fetch(f"http://127.0.0.1:{dead}/", raise_error=False)
            client.close()
    run(go)


def test_request_validation(client_impl):
    async def go():
        async with ServerCtx() as s:
            client, _ = new_client(client_impl)
            with pytest.raises(ValueError):
                await client.fetch(s.url("/hello"), method="POST")  # body required
            with pytest.raises(ValueError):
                await client.fetch(s.url("/hello"), body="x")  # GET with a body
            with pytest.raises(KeyError):
                await client.fetch(s.url("/hello"), method="BREW")
            r = await client.fetch(s.url("/echo"), method="POST", body=None,
                                   allow_nonstandard_methods=True)
            assert r.code == 200
            with pytest.raises(ValueError):
                await client.fetch("ftp://127.0.0.1/")
            mod = impl_module(client_impl, "httpclient")
            with pytest.raises(ValueError):  # kwargs only go with a URL
                client.fetch(mod.HTTPRequest("http://127.0.0.1:1/"), method="GET")
            client.close()
    run(go)


def test_headers_user_agent_auth(client_impl):
    import json

    async def go():
        async with ServerCtx() as s:
            client, _ = new_client(client_impl, defaults=dict(user_agent="UA/1"))
            r = await client.fetch(s.url("/echo"), headers={"X-Custom": "v"},
                                   auth_username="user", auth_password="pässword")
            seen = json.loads(r.body)["headers"]
            assert seen["X-Custom"] == "v" and seen["User-Agent"] == "UA/1"
            assert seen["Authorization"] == "Basic dXNlcjpww6Rzc3dvcmQ="
            assert seen["Host"] == f"127.0.0.1:{s.port}"
            assert seen["Accept-Encoding"] == "gzip"
            r = await client.fetch(s.url("/echo").replace("//", "//ux:p@"))
            assert json.loads(r.body)["headers"]["Authorization"] == "Basic dXg6cA=="
            if client_impl == "embedtornado":
                # Ours percent-decodes userinfo (RFC 3986); Tornado sends it as is.
                r = await client.fetch(s.url("/echo").replace("//", "//u%40x:p@"))
                assert json.loads(r.body)["headers"]["Authorization"] == "Basic dUB4OnA="
            client.close()
    run(go)


def test_gzip_response(client_impl):
    async def go():
        async with ServerCtx() as s:
            client, _ = new_client(client_impl)
            r = await client.fetch(s.url("/big"))
            assert r.body == b"0123456789" * 20000
            assert r.headers.get("X-Consumed-Content-Encoding") == "gzip"
            r = await client.fetch(s.url("/big"), decompress_response=False,
                                   headers={"Accept-Encoding": "gzip"})
            assert r.headers["Content-Encoding"] == "gzip"
            assert gzip.decompress(r.body) == b"0123456789" * 20000
            client.close()
    run(go)


def test_streaming_and_header_callbacks(client_impl):
    async def go():
        async with ServerCtx() as s:
            client, _ = new_client(client_impl)
            chunks, lines = [], []
            r = await client.fetch(s.url("/stream"), streaming_callback=chunks.append,
                                   header_callback=lines.append, decompress_response=False)
            assert b"".join(chunks) == b"chunk0;chunk1;chunk2;chunk3;chunk4;"
            assert r.body == b""
            assert lines[0] == "HTTP/1.1 200 OK\r\n" and lines[-1] == "\r\n"
            assert any(line.lower().startswith("transfer-encoding: chunked") for line in lines)
            client.close()
    run(go)


def test_body_producer_chunked_upload(client_impl):
    async def go():
        async with ServerCtx() as s:
            client, _ = new_client(client_impl)

            async def producer(write):
                for i in range(3):
                    await write(b"part%d," % i)

            r = await client.fetch(s.url("/hello"), method="POST", body_producer=producer)
            assert r.body == b"posted:part0,part1,part2,"
            r = await client.fetch(s.url("/hello"), method="POST", body_producer=producer,
                                   headers={"Content-Length": "18"})
            assert r.body == b"posted:part0,part1,part2,"
            client.close()
    run(go)


def test_expect_100_continue(client_impl):
    async def go():
        async with ServerCtx() as s:
            client, _ = new_client(client_impl)
            r = await client.fetch(s.url("/hello"), method="POST", body=b"x" * 1000,
                                   expect_100_continue=True)
            assert r.body == b"posted:" + b"x" * 1000
            client.close()
    run(go)


# -- redirects ------------------------------------------------------------------------


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_redirect_followed(client_impl, code):
    async def go():
        async with ServerCtx() as s:
            client, _ = new_client(client_impl)
            r = await client.fetch(s.url(f"/redirect/{code}"))
            assert r.code == 200 and r.body == b"Hello, redirected"
            assert r.effective_url == s.url("/hello?name=redirected")
            assert r.request.url == s.url(f"/redirect/{code}")
            client.close()
    run(go)


def test_redirect_post_method_rules(client_impl):
    import json

    async def go():
        async with ServerCtx() as s:
            client, _ = new_client(client_impl)
            for code, method in [(301, "GET"), (302, "GET"), (303, "GET"), (307, "POST"),
                                 (308, "POST")]:
                r = await client.fetch(s.url(f"/redirect/{code}"), method="POST", body="b")
                assert json.loads(r.body)["method"] == method, code
            client.close()
    run(go)


def test_redirect_limits(client_impl):
    async def go():
        async with ServerCtx() as s:
            client, mod = new_client(client_impl)
            with pytest.raises(mod.HTTPClientError) as info:
                await client.fetch(s.url("/loop"), max_redirects=3)
            assert info.value.code == 302
            r = await client.fetch(s.url("/redirect/302"), follow_redirects=False,
                                   raise_error=False)
            assert r.code == 302 and r.headers["Location"] == "/hello?name=redirected"
            client.close()
    run(go)


def test_redirect_to_other_host_drops_credentials():
    import json

    async def go():
        async with ServerCtx() as s:
            client = AsyncHTTPClient(force_instance=True)
            r = await client.fetch(s.url("/crosshost"), auth_username="u", auth_password="p",
                                   headers={"X-Other": "kept"}, allow_ipv6=False)
            seen = json.loads(r.body)["headers"]
            assert r.effective_url.startswith("http://localhost:")
            assert "Authorization" not in seen and seen["X-Other"] == "kept"
            client.close()
    run(go)


# -- timeouts and queueing -----------------------------------------------------------


async def stall_after_head(reader, writer):
    await read_head(reader)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
    await writer.drain()
    await asyncio.sleep(30)


async def slow_drip(reader, writer):
    await read_head(reader)
    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    while True:
        writer.write(b"1\r\nx\r\n")
        await writer.drain()
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("behaviour", [stall_after_head, slow_drip])
def test_request_timeout(client_impl, behaviour, caplog):
    async def go():
        async with RawServer(behaviour) as srv:
            client, mod = new_client(client_impl)
            with pytest.raises(mod.HTTPClientError) as info:
                await client.fetch(srv.url(), request_timeout=0.3)
            assert info.value.code == 599
            assert str(info.value) == "Timeout during request"
            await asyncio.sleep(0.05)
            client.close()
    with caplog.at_level("ERROR"):
        run(go)
    # The pending read fails quietly when the stream closes (it is not
    # cancelled under the stream, which would log an error on close).
    assert [r.getMessage() for r in caplog.records
            if r.name == f"{client_impl}.application"] == []


async def cut_short_fixed(reader, writer):
    await read_head(reader)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
    await writer.drain()


async def cut_short_chunked(reader, writer):
    await read_head(reader)
    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel")
    await writer.drain()


async def cut_short_head(reader, writer):
    await read_head(reader)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Le")
    await writer.drain()


@pytest.mark.parametrize("behaviour, message", [(cut_short_fixed, "Connection closed"),
                                                (cut_short_chunked, "Connection closed"),
                                                (cut_short_head, "Stream closed")])
def test_response_cut_short_is_a_closed_stream(client_impl, behaviour, message):
    # The server closes before the response is complete: HTTPStreamClosedError
    # (599), an HTTPClientError, as Tornado's client raises.
    async def go():
        async with RawServer(behaviour) as srv:
            client, mod = new_client(client_impl)
            with pytest.raises(mod.HTTPClientError) as info:
                await client.fetch(srv.url())
            assert type(info.value).__name__ == "HTTPStreamClosedError"
            assert (info.value.code, str(info.value)) == (599, message)
            # raise_error=False only keeps HTTP error codes from raising.
            with pytest.raises(mod.HTTPClientError):
                await client.fetch(srv.url(), raise_error=False)
            client.close()
    run(go)


def test_bytes_header_values_are_sent_as_utf8_text(client_impl):
    async def go():
        async with ServerCtx() as s:
            client, mod = new_client(client_impl)
            r = await client.fetch(s.url("/echo"), headers={
                "X-Bytes": "caf\u00e9".encode(), "X-Text": "plain"})
            seen = json.loads(r.body)["headers"]
            # Decoded as UTF-8, then sent as Latin-1 like every header line.
            assert seen["X-Bytes"] == "caf\u00e9"
            assert seen["X-Text"] == "plain"
            client.close()
    run(go)


def test_connect_timeout(client_impl):
    class Hanging:
        async def resolve(self, host, port, family=socket.AF_UNSPEC):
            await asyncio.sleep(3600)

        def close(self):
            pass

    async def go():
        client, mod = new_client(client_impl, resolver=Hanging())
        with pytest.raises(mod.HTTPClientError) as info:
            await client.fetch("http://example.invalid/", connect_timeout=0.2)
        assert info.value.code == 599 and str(info.value).startswith("Timeout while")
        client.close()
    run(go)


def test_max_clients_queueing(client_impl):
    async def go():
        active = 0
        peak = 0
        release = asyncio.Event()

        async def handler(reader, writer):
            nonlocal active, peak
            while True:
                try:
                    await read_head(reader)
                except asyncio.IncompleteReadError:
                    return
                active += 1
                peak = max(peak, active)
                await release.wait()
                active -= 1
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()

        async with RawServer(handler) as srv:
            client, _ = new_client(client_impl, max_clients=2)
            futs = [asyncio.ensure_future(client.fetch(srv.url(f"/{i}"))) for i in range(6)]
            for _ in range(500):
                await asyncio.sleep(0.01)
                if active == 2:
                    break
            await asyncio.sleep(0.05)
            assert active == 2  # the other four wait in the client's queue
            release.set()
            responses = await asyncio.gather(*futs)
            assert [r.body for r in responses] == [b"ok"] * 6
            assert peak == 2
            client.close()
    run(go)


def test_timeout_in_request_queue(client_impl):
    async def go():
        async with RawServer(stall_after_head) as srv:
            client, mod = new_client(client_impl, max_clients=1)
            first = asyncio.ensure_future(client.fetch(srv.url(), request_timeout=5))
            await asyncio.sleep(0.05)
            with pytest.raises(mod.HTTPClientError) as info:
                await client.fetch(srv.url(), request_timeout=0.2)
            assert info.value.code == 599 and "in request queue" in str(info.value)
            first.cancel()
            client.close()
    run(go)


# -- keep-alive (ours only: Tornado's simple client does not reuse connections) -------


def keep_alive_server(close_after=None):
    async def handler(reader, writer):
        served = 0
        while True:
            try:
                head = await read_head(reader)
            except asyncio.IncompleteReadError:
                return
            served += 1
            body = head.split(b" ")[1]
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()
            if close_after is not None and served >= close_after:
                return  # close without saying so (Connection: close not sent)
    return handler


def test_keep_alive_reuses_connection():
    async def go():
        async with RawServer(keep_alive_server()) as srv:
            client = AsyncHTTPClient(force_instance=True)
            bodies = [(await client.fetch(srv.url(f"/{i}"))).body for i in range(5)]
            assert bodies == [b"/%d" % i for i in range(5)]
            assert srv.connections == 1
            client.close()
    run(go)


def test_keep_alive_against_our_server_and_gzip():
    async def go():
        async with ServerCtx() as s:
            client = AsyncHTTPClient(force_instance=True)
            for _ in range(3):
                assert len((await client.fetch(s.url("/big"))).body) == 200000
            assert sum(len(v) for v in client._idle.values()) == 1
            client.close()
    run(go)


def test_stale_connection_retried_for_idempotent_methods():
    async def go():
        async with RawServer(keep_alive_server(close_after=1)) as srv:
            client = AsyncHTTPClient(force_instance=True)
            assert (await client.fetch(srv.url("/a"))).body == b"/a"
            await asyncio.sleep(0)  # the server closes; the client may not have noticed yet
            assert (await client.fetch(srv.url("/b"))).body == b"/b"
            assert srv.connections == 2
            client.close()
    run(go)


def test_connection_close_and_http10_not_reused():
    async def handler(reader, writer):
        await read_head(reader)
        writer.write(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        await asyncio.sleep(0.5)

    async def go():
        async with RawServer(handler) as srv:
            client = AsyncHTTPClient(force_instance=True)
            for _ in range(3):
                assert (await client.fetch(srv.url())).body == b"ok"
            assert srv.connections == 3
            assert not client._idle
            client.close()
    run(go)


def test_close_delimited_response():
    async def handler(reader, writer):
        await read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
        for i in range(3):
            writer.write(b"piece%d" % i)
            await writer.drain()

    async def go():
        async with RawServer(handler) as srv:
            client = AsyncHTTPClient(force_instance=True)
            r = await client.fetch(srv.url())
            assert r.body == b"piece0piece1piece2"
            client.close()
    run(go)


# -- hostile servers ------------------------------------------------------------------


def hostile(payload_fn):
    async def handler(reader, writer):
        await read_head(reader)
        await payload_fn(writer)
        await asyncio.sleep(5)
    return handler


async def huge_header(writer):
    writer.write(b"HTTP/1.1 200 OK\r\nX-Big: " + b"h" * 200000 + b"\r\n\r\n")
    await writer.drain()


async def endless_chunked(writer):
    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    block = b"%x\r\n%s\r\n" % (65536, b"e" * 65536)
    for _ in range(200):
        writer.write(block)
        await writer.drain()


async def huge_length(writer):
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n")
    await writer.drain()


async def gzip_bomb(writer):
    bomb = gzip.compress(b"\0" * (16 << 20))
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
                 % len(bomb) + bomb)
    await writer.drain()


async def garbage(writer):
    writer.write(b"SSH-2.0-OpenSSH_9.0\r\n\r\n")
    await writer.drain()


async def close_immediately(writer):
    writer.close()


@pytest.mark.parametrize("payload", [huge_header, endless_chunked, huge_length, gzip_bomb,
                                     garbage])
def test_hostile_server_limits(payload):
    from embedtornado.httputil import HTTPInputError

    async def go():
        async with RawServer(hostile(payload)) as srv:
            client = AsyncHTTPClient(force_instance=True, max_body_size=1 << 20)
            with pytest.raises(HTTPInputError):
                await client.fetch(srv.url(), request_timeout=10)
            assert not client._idle
            client.close()
    run(go)


def test_server_closing_without_response():
    async def go():
        async with RawServer(hostile(close_immediately)) as srv:
            client = AsyncHTTPClient(force_instance=True)
            with pytest.raises(HTTPStreamClosedError) as info:
                await client.fetch(srv.url())
            assert info.value.code == 599
            client.close()
    run(go)


def test_streaming_callback_not_bounded_by_body_limit_but_buffer_is():
    """max_body_size bounds what is delivered, streamed or not."""
    from embedtornado.httputil import HTTPInputError

    async def go():
        async with RawServer(hostile(endless_chunked)) as srv:
            client = AsyncHTTPClient(force_instance=True, max_body_size=1 << 20)
            got = []
            with pytest.raises(HTTPInputError):
                await client.fetch(srv.url(), streaming_callback=got.append)
            assert sum(map(len, got)) <= 1 << 20
            client.close()
    run(go)


# -- https ----------------------------------------------------------------------------


def test_https_validation():
    from embedtornado import _testcert

    cert, key = _testcert.files()

    async def go():
        async with ServerCtx(ssl_options=dict(certfile=cert, keyfile=key)) as s:
            client = AsyncHTTPClient(force_instance=True)
            url = f"https://localhost:{s.port}/hello"
            with pytest.raises(ssl.SSLCertVerificationError):
                await client.fetch(url, allow_ipv6=False)
            r = await client.fetch(url, validate_cert=False, allow_ipv6=False)
            assert r.body == b"Hello, world"
            # TLS connections are kept alive and reused too.
            r = await client.fetch(url, validate_cert=False, allow_ipv6=False)
            assert r.body == b"Hello, world"
            assert [len(v) for v in client._idle.values()] == [1]
            r = await client.fetch(url, ca_certs=cert, allow_ipv6=False)
            assert r.body == b"Hello, world"
            ctx = ssl.create_default_context(cafile=cert)
            r = await client.fetch(url, ssl_options=ctx, allow_ipv6=False)
            assert r.body == b"Hello, world"
            client.close()
    run(go)


def test_https_client_certificate():
    from embedtornado import _testcert

    cert, key = _testcert.files()
    server_opts = dict(certfile=cert, keyfile=key, cert_reqs=ssl.CERT_REQUIRED, ca_certs=cert)

    async def go():
        async with ServerCtx(ssl_options=server_opts) as s:
            client = AsyncHTTPClient(force_instance=True)
            url = f"https://localhost:{s.port}/hello"
            r = await client.fetch(url, ca_certs=cert, client_cert=cert, client_key=key,
                                   allow_ipv6=False)
            assert r.body == b"Hello, world"
            # Without a client certificate the server refuses the handshake.
            with pytest.raises((ssl.SSLError, HTTPStreamClosedError, ConnectionError)):
                await client.fetch(url, ca_certs=cert, allow_ipv6=False)
            client.close()
    run(go)


# -- against real Tornado's server, and the blocking client ---------------------------


class TornadoThreadServer:
    """Real Tornado 6.6.1 serving an app in its own thread and loop."""

    def __enter__(self):
        import tornado.httpserver
        import tornado.ioloop
        import tornado.web

        class Main(tornado.web.RequestHandler):
            def get(self):
                self.write("tornado says hi")

        class Chunks(tornado.web.RequestHandler):
            async def get(self):
                for i in range(4):
                    self.write("c%d" % i)
                    await self.flush()

        class Big(tornado.web.RequestHandler):
            def get(self):
                self.write("z" * 100000)

        ready = threading.Event()

        def serve():
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self.loop = loop
            app = tornado.web.Application([("/", Main), ("/chunks", Chunks), ("/big", Big)],
                                          compress_response=True)
            self.server = tornado.httpserver.HTTPServer(app)
            sock = netutil.bind_sockets(0, "127.0.0.1", family=socket.AF_INET)
            self.port = sock[0].getsockname()[1]
            self.server.add_sockets(sock)
            ready.set()
            loop.run_forever()
            self.server.stop()
            loop.run_until_complete(self.server.close_all_connections())
            loop.close()

        self.thread = threading.Thread(target=serve, daemon=True)
        self.thread.start()
        ready.wait(10)
        return self

    def __exit__(self, *exc):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def url(self, path="/"):
        return f"http://127.0.0.1:{self.port}{path}"


def test_against_tornado_server():
    with TornadoThreadServer() as ts:
        async def go():
            client = AsyncHTTPClient(force_instance=True)
            assert (await client.fetch(ts.url())).body == b"tornado says hi"
            chunks = []
            await client.fetch(ts.url("/chunks"), streaming_callback=chunks.append)
            assert b"".join(chunks) == b"c0c1c2c3"
            r = await client.fetch(ts.url("/big"))
            assert r.body == b"z" * 100000
            assert r.headers["X-Consumed-Content-Encoding"] == "gzip"
            client.close()
        run(go)


def test_blocking_client():
    with TornadoThreadServer() as ts:
        client = HTTPClient()
        try:
            r = client.fetch(ts.url())
            assert isinstance(r, HTTPResponse) and r.body == b"tornado says hi"
            with pytest.raises(HTTPError) as info:
                client.fetch(ts.url("/nothing"))
            assert info.value.code == 404
            assert client.fetch(ts.url("/nothing"), raise_error=False).code == 404
        finally:
            client.close()


def test_main_fetches_url():
    with TornadoThreadServer() as ts:
        out = subprocess.run([sys.executable, "-m", "embedtornado.httpclient",
                              "--print_headers", ts.url()], capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert b"tornado says hi" in out.stdout and b"Content-Type" in out.stdout


# -- the instance cache and objects ---------------------------------------------------


def test_instance_cache_per_loop():
    async def go():
        a = AsyncHTTPClient()
        assert AsyncHTTPClient() is a
        b = AsyncHTTPClient(force_instance=True)
        assert b is not a
        b.close()
        a.close()
        c = AsyncHTTPClient()
        assert c is not a
        c.close()
        with pytest.raises(RuntimeError):
            await c.fetch("http://127.0.0.1:1/")
        return a

    first = run(go)

    async def other_loop():
        d = AsyncHTTPClient()
        assert d is not first
        d.close()
    run(other_loop)


def test_configure_impl():
    from embedtornado.simple_httpclient import SimpleAsyncHTTPClient

    class Mine(SimpleAsyncHTTPClient):
        pass

    saved = AsyncHTTPClient._save_configuration()
    try:
        AsyncHTTPClient.configure(Mine, max_clients=3)

        async def go():
            c = AsyncHTTPClient(force_instance=True)
            assert isinstance(c, Mine) and c.max_clients == 3
            c.close()
        run(go)
    finally:
        AsyncHTTPClient._restore_configuration(saved)


def test_request_and_response_objects():
    import datetime

    req = HTTPRequest("http://example.com/", method="POST", body="é",
                      headers={"A": "1"}, if_modified_since=datetime.datetime(2020, 1, 2))
    assert req.body == "é".encode() and req.headers["A"] == "1"
    assert req.headers["If-Modified-Since"] == "Thu, 02 Jan 2020 00:00:00 GMT"
    resp = HTTPResponse(req, 500)
    assert isinstance(resp.error, HTTPClientError) and resp.error.code == 500
    assert resp.reason == "Internal Server Error" and resp.body == b""
    assert resp.effective_url == "http://example.com/"
    assert HTTPError is HTTPClientError
    err = HTTPClientError(599, "Timeout")
    assert str(err) == "HTTP 599: Timeout" and repr(err) == "HTTP 599: Timeout"
    t = HTTPTimeoutError("Timeout while connecting")
    assert t.code == 599 and str(t) == "Timeout while connecting"



# -- behaviour found by running Tornado 6.6.1's own client tests ------------------------


def redirecting_to(target):
    """A raw server answering every request with a 302 to *target* (a callable -> URL)."""
    async def handler(reader, writer):
        await read_head(reader)
        writer.write(b"HTTP/1.1 302 Found\r\nLocation: %s\r\nContent-Length: 0\r\n"
                     b"Connection: close\r\n\r\n" % target().encode())
        await writer.drain()
    return handler


def head_echo(seen):
    """A raw server that records each request head in *seen* and answers 200."""
    async def handler(reader, writer):
        while True:
            head = await read_head(reader)
            if not head:
                return
            seen.append(head)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
    return handler


def header_lines(head):
    lines = head.decode("latin1").split("\r\n")[1:]
    return {k.lower(): v for k, _, v in (line.partition(": ") for line in lines if line)}


@pytest.mark.parametrize("kwargs, creds", [
    ({"headers": {"Cookie": "secret=1"}}, ""),
    ({"headers": {"Authorization": "Bearer secret"}}, ""),
    ({"auth_username": "me", "auth_password": "secret"}, ""),
    ({}, "me:secret@"),
])
def test_cross_origin_redirect_drops_cookie_and_authorization(client_impl, kwargs, creds):
    # Another port on the same host is another origin: Cookie and
    # Authorization (however set) are not sent there; other headers are.
    async def go():
        seen = []
        async with RawServer(head_echo(seen)) as target:
            async with RawServer(redirecting_to(lambda: target.url("/landed"))) as start:
                client, _ = new_client(client_impl)
                url = start.url("/go").replace("http://", "http://" + creds)
                r = await client.fetch(url, headers={**kwargs.pop("headers", {}),
                                                     "X-Other": "kept"}, **kwargs)
                assert r.code == 200 and r.effective_url == target.url("/landed")
                client.close()
        sent = header_lines(seen[0])
        assert "cookie" not in sent and "authorization" not in sent
        assert sent["x-other"] == "kept"
    run(go)


@pytest.mark.parametrize("header", ["Cookie", "Authorization"])
def test_same_origin_redirect_keeps_cookie_and_authorization(client_impl, header):
    async def go():
        seen = []

        async def handler(reader, writer):
            head = await read_head(reader)
            if head.startswith(b"GET /go "):
                writer.write(b"HTTP/1.1 302 Found\r\nLocation: /landed\r\n"
                             b"Content-Length: 0\r\n\r\n")
            else:
                seen.append(head)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
            await head_echo(seen)(reader, writer)

        async with RawServer(handler) as srv:
            client, _ = new_client(client_impl)
            r = await client.fetch(srv.url("/go"), headers={header: "secret"})
            assert r.code == 200
            client.close()
        assert header_lines(seen[0])[header.lower()] == "secret"
    run(go)


def test_redirect_method_rules_for_other_methods(client_impl):
    # 301/302 turn only POST into GET; 303 turns everything but HEAD into GET.
    async def go():
        seen = []

        async def handler(reader, writer):
            while True:
                head = await read_head(reader)
                if not head:
                    return
                first = head.split(b"\r\n", 1)[0].decode()
                method, target, _ = first.split(" ")
                if target.startswith("/r/"):
                    body = int(header_lines(head).get("content-length", "0"))
                    if body:
                        await reader.readexactly(body)
                    writer.write(b"HTTP/1.1 %s X\r\nLocation: /done\r\nContent-Length: 0\r\n\r\n"
                                 % target[3:].encode())
                else:
                    seen.append(method)
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()

        async with RawServer(handler) as srv:
            client, _ = new_client(client_impl)
            cases = [(301, "PUT", "PUT"), (302, "PUT", "PUT"), (303, "PUT", "GET"),
                     (303, "HEAD", "HEAD"), (301, "HEAD", "HEAD"), (307, "PUT", "PUT")]
            for code, method, expected in cases:
                body = b"x" if method == "PUT" else None
                await client.fetch(srv.url(f"/r/{code}"), method=method, body=body)
                assert seen[-1] == expected, (code, method)
            client.close()
    run(go)


@pytest.mark.parametrize("bad", ["foo\rbar:", "foo\nbar:", "foo\r\nbar:"])
@pytest.mark.parametrize("position", ["value", "name"])
def test_header_with_cr_or_lf_is_a_value_error(client_impl, bad, position):
    async def go():
        async with ServerCtx() as s:
            client, _ = new_client(client_impl)
            headers = {"foo": bad} if position == "value" else {bad: "foo"}
            with pytest.raises(ValueError) as info:
                await client.fetch(s.url("/hello"), headers=headers, raise_error=False)
            assert type(info.value) is ValueError
            assert str(info.value).startswith("Illegal characters (CR or LF) in header: b'")
            client.close()
    run(go)


@pytest.mark.parametrize("container", ["dict", "HTTPHeaders"])
@pytest.mark.parametrize("value", ["MyUserAgent", b"MyUserAgent"])
def test_header_types(client_impl, container, value):
    async def go():
        async with ServerCtx() as s:
            client, mod = new_client(client_impl)
            headers = {} if container == "dict" else impl_module(client_impl,
                                                                   "httputil").HTTPHeaders()
            headers["User-Agent"] = value
            r = await client.fetch(s.url("/echo"), headers=headers)
            assert json.loads(r.body)["headers"]["User-Agent"] == "MyUserAgent"
            client.close()
    run(go)


def test_request_keeps_the_headers_object_given(client_impl):
    mod = impl_module(client_impl, "httpclient")
    given = {"foo": "bar"}
    request = mod.HTTPRequest("http://example.com/", headers=given)
    assert request.headers is given and request.headers == {"foo": "bar"}
    request.headers = {"bar": "baz"}
    assert request.headers == {"bar": "baz"}
    request.headers = None
    assert isinstance(request.headers, impl_module(client_impl, "httputil").HTTPHeaders)


def _failing_header_callback(line):
    raise ValueError("error in header_callback")


def _failing_streaming_callback(chunk):
    raise ValueError("error in streaming_callback")


async def _cancelled_streaming_callback(chunk):
    fut = asyncio.get_running_loop().create_future()
    fut.cancel()
    await fut


@pytest.mark.parametrize("kwargs", [
    {"header_callback": _failing_header_callback},
    {"streaming_callback": _failing_streaming_callback},
    {"streaming_callback": _cancelled_streaming_callback},
], ids=["header_callback", "streaming_callback", "cancelled_coroutine"])
def test_callback_error_is_logged_and_fails_the_fetch(client_impl, kwargs, caplog):
    # Logged once ("Uncaught exception", with its traceback) on the
    # application log; the fetch fails with HTTPStreamClosedError.
    async def go():
        async with ServerCtx() as s:
            client, _ = new_client(client_impl)
            closed = impl_module(client_impl, "simple_httpclient").HTTPStreamClosedError
            with pytest.raises(closed) as info:
                await client.fetch(s.url("/hello"), **kwargs)
            assert (info.value.code, str(info.value)) == (599, "Connection closed")
            # The client still works.
            r = await client.fetch(s.url("/hello"))
            assert r.body == b"Hello, world"
            client.close()
    with caplog.at_level("ERROR"):
        run(go)
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert [(r.name, r.getMessage()) for r in errors] == [
        (f"{client_impl}.application", "Uncaught exception")]
    assert errors[0].exc_info is not None


def test_streamed_gzip_body_is_decoded_a_bit_at_a_time(client_impl):
    # A small gzip response that inflates to 32 MiB, taken through a
    # streaming_callback: the whole body arrives, but never much of it at once.
    import tracemalloc
    import zlib

    size = 32 << 20
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b"\0" * (1 << 20)
    bomb = b"".join([compressor.compress(block) for _ in range(size >> 20)]
                    + [compressor.flush()])

    async def handler(reader, writer):
        await read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
                     % len(bomb) + bomb)
        await writer.drain()

    async def go():
        received = 0
        largest = 0

        def on_chunk(chunk):
            nonlocal received, largest
            received += len(chunk)
            largest = max(largest, len(chunk))

        async with RawServer(handler) as srv:
            client, _ = new_client(client_impl)
            tracemalloc.start()
            try:
                r = await client.fetch(srv.url(), streaming_callback=on_chunk)
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
            assert r.code == 200 and r.body == b""
            assert received == size and largest <= 1 << 20
            assert peak < 8 << 20
            client.close()
    run(go, timeout=60)


def test_timeout_messages_name_the_phase(client_impl):
    class Hanging:
        async def resolve(self, host, port, family=socket.AF_UNSPEC):
            await asyncio.sleep(3600)

        def close(self):
            pass

    async def go():
        client, mod = new_client(client_impl, resolver=Hanging())
        timeout_error = impl_module(client_impl, "simple_httpclient").HTTPTimeoutError
        with pytest.raises(timeout_error) as info:
            await client.fetch("http://example.invalid/", connect_timeout=0.2)
        assert (info.value.code, str(info.value)) == (
            599, "Timeout while resolving example.invalid")
        # request_timeout shorter than connect_timeout bounds the connect the same way.
        with pytest.raises(timeout_error) as info:
            await client.fetch("http://example.invalid/", request_timeout=0.2)
        assert str(info.value) == "Timeout while resolving example.invalid"
        client.close()
    run(go)


def test_timeout_while_connecting_lists_addresses(client_impl):
    # A listener whose backlog is full: the SYN is dropped and connect hangs.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    filler = socket.create_connection(("127.0.0.1", port))

    async def go():
        client, _ = new_client(client_impl)
        timeout_error = impl_module(client_impl, "simple_httpclient").HTTPTimeoutError
        with pytest.raises(timeout_error) as info:
            await client.fetch(f"http://127.0.0.1:{port}/", connect_timeout=0.3)
        assert str(info.value) == f"Timeout while connecting to 127.0.0.1:{port}"
        client.close()
    try:
        run(go)
    finally:
        filler.close()
        listener.close()


def test_timeout_during_tls_handshake(client_impl):
    async def silent(reader, writer):
        await asyncio.sleep(5)

    async def go():
        async with RawServer(silent) as srv:
            client, _ = new_client(client_impl)
            timeout_error = impl_module(client_impl, "simple_httpclient").HTTPTimeoutError
            with pytest.raises(timeout_error) as info:
                await client.fetch(f"https://127.0.0.1:{srv.port}/", connect_timeout=0.3,
                                   validate_cert=False)
            assert str(info.value) == f"Timeout during TLS handshake with 127.0.0.1:{srv.port}"
            # After connecting, request_timeout's message.
            with pytest.raises(timeout_error) as info:
                await client.fetch(srv.url(), request_timeout=0.3)
            assert str(info.value) == "Timeout during request"
            client.close()
    run(go)


def test_network_interface_must_be_an_ip_address(client_impl):
    async def go():
        async with ServerCtx() as s:
            client, _ = new_client(client_impl)
            r = await client.fetch(s.url("/hello"), network_interface="127.0.0.1")
            assert r.code == 200
            with pytest.raises(ValueError) as info:
                await client.fetch(s.url("/hello"), network_interface="not-interface-or-ip")
            assert str(info.value) == ("Unrecognized IPv4 or IPv6 address for "
                                       "network_interface, got 'not-interface-or-ip'")
            client.close()
    run(go)


@pytest.mark.parametrize("payload", [huge_length, garbage])
def test_refused_response_is_an_http_client_error_as_in_tornado(client_impl, payload, caplog):
    # Tornado logs a malformed or over-limit response and fails the fetch with
    # HTTPStreamClosedError (599); handlers catching HTTPClientError must
    # catch ours too (which stays an HTTPInputError as well).
    async def go():
        async with RawServer(hostile(payload)) as srv:
            client, mod = new_client(client_impl, max_body_size=1 << 20)
            with pytest.raises(mod.HTTPClientError) as info:
                await client.fetch(srv.url(), request_timeout=10)
            assert info.value.code == 599
            client.close()
            return type(info.value)

    with caplog.at_level(logging.INFO):
        error_type = run(go)
    if client_impl == "embedtornado":
        from embedtornado.httputil import HTTPInputError
        from embedtornado.simple_httpclient import HTTPStreamClosedError as Closed

        assert issubclass(error_type, Closed) and issubclass(error_type, HTTPInputError)
    assert any("Malformed HTTP message" in r.getMessage() for r in caplog.records)
