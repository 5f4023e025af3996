"""HTTPS: ssl_options on HTTPServer, the handshake, client certificates, plain HTTP on a TLS port.

Certificates are made for this run (``embedtornado._tls.make_self_signed``:
the `cryptography` package, else the ``openssl`` command; skipped if neither).
Runs on the compiled loop or the stdlib loop, whichever is live.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import ssl
import warnings

import pytest

from embedtornado import _tls, netutil, web
from embedtornado.httpclient import AsyncHTTPClient, HTTPRequest
from embedtornado.httpserver import HTTPServer
from embedtornado.simple_httpclient import HTTPStreamClosedError
from embedtornado.websocket import WebSocketHandler, websocket_connect
from streamtools import run


def _can_make_certs() -> bool:
    try:
        import cryptography  # noqa: F401
    except ImportError:
        return shutil.which("openssl") is not None
    return True


pytestmark = pytest.mark.skipif(not _can_make_certs(),
                                reason="neither cryptography nor openssl is installed")


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    out = {}
    out["cert"], out["key"] = str(d / "server.crt"), str(d / "server.key")
    _tls.make_self_signed(out["cert"], out["key"], ["localhost"], ["127.0.0.1"])
    out["ccert"], out["ckey"] = str(d / "client.crt"), str(d / "client.key")
    _tls.make_self_signed(out["ccert"], out["ckey"], ["device-admin"], [], client=True)
    out["ocert"], out["okey"] = str(d / "other.crt"), str(d / "other.key")
    _tls.make_self_signed(out["ocert"], out["okey"], ["intruder"], [], client=True)
    return out


class Info(web.RequestHandler):
    def get(self):
        cert = self.request.get_ssl_certificate()
        der = self.request.get_ssl_certificate(binary_form=True)
        subject = None
        if cert:
            subject = dict(item[0] for item in cert["subject"])["commonName"]
        self.write({"protocol": self.request.protocol, "url": self.request.full_url(),
                    "client": subject, "der": len(der) if der else 0})


class Echo(WebSocketHandler):
    def on_message(self, message):
        self.write_message("echo:" + message)


def make_app():
    return web.Application([(r"/info", Info), (r"/ws", Echo)])


class Server:
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

    def url(self, path, scheme="https"):
        return f"{scheme}://localhost:{self.port}{path}"


def client():
    return AsyncHTTPClient(force_instance=True)


async def fetch_json(c, url, **kwargs):
    import json

    r = await c.fetch(url, allow_ipv6=False, **kwargs)
    return json.loads(r.body)


# --- defaults ------------------------------------------------------------------------


def test_dict_options_get_secure_defaults(certs):
    ctx = netutil.ssl_options_to_context({"certfile": certs["cert"], "keyfile": certs["key"]},
                                         server_side=True)
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    assert ctx.options & ssl.OP_NO_COMPRESSION
    assert ctx.options & ssl.OP_CIPHER_SERVER_PREFERENCE
    assert ctx.options & ssl.OP_NO_RENEGOTIATION


def test_a_context_is_used_as_given(certs):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certs["cert"], certs["key"])
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    before = ctx.options
    server = HTTPServer(make_app(), ssl_options=ctx)
    assert server._ssl_context is ctx
    assert ctx.options == before
    assert ctx.maximum_version == ssl.TLSVersion.TLSv1_2


def test_explicit_ssl_version_is_not_hardened(certs):
    ctx = netutil.ssl_options_to_context(
        {"certfile": certs["cert"], "keyfile": certs["key"],
         "ssl_version": ssl.PROTOCOL_TLS_SERVER}, server_side=True)
    assert not ctx.options & ssl.OP_NO_RENEGOTIATION
    assert ctx.options & ssl.OP_NO_COMPRESSION


def test_handshake_timeout_option():
    assert HTTPServer(make_app()).ssl_handshake_timeout == _tls.DEFAULT_HANDSHAKE_TIMEOUT == 10.0
    assert HTTPServer(make_app(), ssl_handshake_timeout=2.5).ssl_handshake_timeout == 2.5


# --- handshake, protocol, full_url ---------------------------------------------------


def test_https_protocol_and_full_url(certs):
    async def go():
        async with Server(ssl_options={"certfile": certs["cert"], "keyfile": certs["key"]}) as s:
            c = client()
            info = await fetch_json(c, s.url("/info?x=1"), ca_certs=certs["cert"])
            assert info == {"protocol": "https", "url": f"https://localhost:{s.port}/info?x=1",
                            "client": None, "der": 0}
            # validate_cert is on by default: an unknown issuer is refused.
            with pytest.raises(ssl.SSLCertVerificationError):
                await c.fetch(s.url("/info"), allow_ipv6=False)
            info = await fetch_json(c, s.url("/info"), validate_cert=False)
            assert info["protocol"] == "https"
            c.close()
    run(go)


def test_http_port_still_says_http(certs):
    async def go():
        async with Server() as s:
            c = client()
            info = await fetch_json(c, s.url("/info", scheme="http"))
            assert info["protocol"] == "http"
            assert info["url"].startswith("http://localhost:")
            c.close()
    run(go)


def test_tls13_negotiated_and_tls11_refused(certs):
    async def go():
        async with Server(ssl_options={"certfile": certs["cert"], "keyfile": certs["key"]}) as s:
            ctx = ssl.create_default_context(cafile=certs["cert"])
            _reader, writer = await asyncio.open_connection(
                "127.0.0.1", s.port, ssl=ctx, server_hostname="localhost")
            assert writer.get_extra_info("ssl_object").version() == "TLSv1.3"
            assert writer.get_extra_info("compression") is None
            writer.close()
            await writer.wait_closed()
            old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            old.check_hostname = False
            old.verify_mode = ssl.CERT_NONE
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)
                    old.minimum_version = ssl.TLSVersion.TLSv1
                    old.maximum_version = ssl.TLSVersion.TLSv1_1
                old.set_ciphers("ALL:@SECLEVEL=0")
            except (ValueError, ssl.SSLError):
                return
            with pytest.raises((ssl.SSLError, ConnectionError)):
                await asyncio.open_connection("127.0.0.1", s.port, ssl=old)
    run(go)


# --- client certificates -------------------------------------------------------------


def test_client_certificate_accepted_and_refused(certs):
    opts = {"certfile": certs["cert"], "keyfile": certs["key"],
            "cert_reqs": ssl.CERT_REQUIRED, "ca_certs": certs["ccert"]}

    async def go():
        async with Server(ssl_options=opts) as s:
            c = client()
            info = await fetch_json(c, s.url("/info"), ca_certs=certs["cert"],
                                    client_cert=certs["ccert"], client_key=certs["ckey"])
            assert info["client"] == "device-admin"
            assert info["der"] > 100
            # No certificate, or one from an issuer the server does not trust.
            for kwargs in ({}, {"client_cert": certs["ocert"], "client_key": certs["okey"]}):
                with pytest.raises((ssl.SSLError, HTTPStreamClosedError, ConnectionError)):
                    await c.fetch(s.url("/info"), ca_certs=certs["cert"], allow_ipv6=False,
                                  **kwargs)
            # The server keeps serving after refusing.
            info = await fetch_json(c, s.url("/info"), ca_certs=certs["cert"],
                                    client_cert=certs["ccert"], client_key=certs["ckey"])
            assert info["client"] == "device-admin"
            c.close()
    run(go)


def test_optional_client_certificate(certs):
    opts = {"certfile": certs["cert"], "keyfile": certs["key"],
            "cert_reqs": ssl.CERT_OPTIONAL, "ca_certs": certs["ccert"]}

    async def go():
        async with Server(ssl_options=opts) as s:
            c = client()
            info = await fetch_json(c, s.url("/info"), ca_certs=certs["cert"])
            assert info["client"] is None and info["der"] == 0
            info = await fetch_json(c, s.url("/info"), ca_certs=certs["cert"],
                                    client_cert=certs["ccert"], client_key=certs["ckey"])
            assert info["client"] == "device-admin"
            c.close()
    run(go)


# --- plain HTTP on the TLS port, stalled handshakes ------------------------------------


async def read_all(reader, timeout=10):
    return await asyncio.wait_for(reader.read(), timeout)


@pytest.mark.parametrize("request_bytes", [
    b"GET /info HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"POST /info HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello",
    b"G",
])
def test_plain_http_to_tls_port_gets_400(certs, request_bytes):
    async def go():
        async with Server(ssl_options={"certfile": certs["cert"], "keyfile": certs["key"]}) as s:
            reader, writer = await asyncio.open_connection("127.0.0.1", s.port)
            writer.write(request_bytes)
            data = await read_all(reader)
            assert data.startswith(b"HTTP/1.1 400 Bad Request\r\n")
            assert b"Connection: close" in data
            assert data.endswith(b"plain HTTP request was sent to an HTTPS port\n")
            writer.close()
            # A TLS client is still served.
            c = client()
            info = await fetch_json(c, s.url("/info"), ca_certs=certs["cert"])
            assert info["protocol"] == "https"
            c.close()
    run(go)


def test_garbage_first_byte_is_closed(certs):
    async def go():
        async with Server(ssl_options={"certfile": certs["cert"], "keyfile": certs["key"]}) as s:
            reader, writer = await asyncio.open_connection("127.0.0.1", s.port)
            writer.write(b"\x00\x01\x02\x03" * 64)
            try:
                data = await read_all(reader)
            except ConnectionResetError:
                data = b""
            assert not data.startswith(b"HTTP/")
            writer.close()
    run(go)


def test_stalled_handshakes_time_out_while_others_are_served(certs):
    opts = {"certfile": certs["cert"], "keyfile": certs["key"]}

    async def go():
        async with Server(ssl_options=opts, ssl_handshake_timeout=0.5) as s:
            silent = await asyncio.open_connection("127.0.0.1", s.port)
            partial = await asyncio.open_connection("127.0.0.1", s.port)
            partial[1].write(b"\x16\x03\x01\x02\x00\x01")  # a ClientHello that stops
            c = client()
            for _ in range(3):
                info = await fetch_json(c, s.url("/info"), ca_certs=certs["cert"])
                assert info["protocol"] == "https"
            c.close()
            for reader, writer in (silent, partial):
                try:
                    assert await read_all(reader) == b""
                except ConnectionResetError:
                    pass
                writer.close()
    run(go)


def test_client_closing_before_first_byte(certs):
    async def go():
        async with Server(ssl_options={"certfile": certs["cert"], "keyfile": certs["key"]}) as s:
            for _ in range(5):
                _reader, writer = await asyncio.open_connection("127.0.0.1", s.port)
                writer.close()
            c = client()
            info = await fetch_json(c, s.url("/info"), ca_certs=certs["cert"])
            assert info["protocol"] == "https"
            c.close()
    run(go)


# --- WebSocket over TLS ---------------------------------------------------------------


def test_wss_echo_with_validation(certs):
    async def go():
        async with Server(ssl_options={"certfile": certs["cert"], "keyfile": certs["key"]}) as s:
            url = f"wss://localhost:{s.port}/ws"
            ctx = ssl.create_default_context(cafile=certs["cert"])
            conn = await websocket_connect(url, ssl_options=ctx)
            await conn.write_message("hi")
            assert await conn.read_message() == "echo:hi"
            conn.close()
            # ca_certs through an HTTPRequest, as in Tornado.
            conn = await websocket_connect(HTTPRequest(url, ca_certs=certs["cert"]))
            await conn.write_message("again")
            assert await conn.read_message() == "echo:again"
            conn.close()
            # The default validation refuses the self-signed certificate.
            with pytest.raises(ssl.SSLCertVerificationError):
                await websocket_connect(url)
    run(go)


# --- openssl s_client ---------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl command not installed")
def test_openssl_s_client_reports_tls13(certs):
    async def go():
        async with Server(ssl_options={"certfile": certs["cert"], "keyfile": certs["key"]}) as s:
            proc = await asyncio.create_subprocess_exec(
                "openssl", "s_client", "-connect", f"127.0.0.1:{s.port}",
                "-servername", "localhost", "-CAfile", certs["cert"], "-brief",
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT)
            out, _ = await proc.communicate(b"GET /info HTTP/1.0\r\nHost: localhost\r\n\r\n")
            text = out.decode("utf-8", "replace")
            assert "Protocol version: TLSv1.3" in text, text
            assert "Verification: OK" in text, text
            proc = await asyncio.create_subprocess_exec(
                "openssl", "s_client", "-connect", f"127.0.0.1:{s.port}", "-tls1_1", "-brief",
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT)
            out, _ = await proc.communicate()
            assert proc.returncode != 0
            assert "Protocol version: TLSv1.1" not in out.decode("utf-8", "replace")
    run(go, timeout=30)


# --- self-signed certificates ------------------------------------------------------------


@pytest.mark.parametrize("use_cryptography", [True, False], ids=["cryptography", "openssl"])
def test_make_self_signed(tmp_path, use_cryptography):
    if use_cryptography:
        pytest.importorskip("cryptography")
    elif shutil.which("openssl") is None:
        pytest.skip("openssl command not installed")
    cert, key = str(tmp_path / "d" / "c.pem"), str(tmp_path / "d" / "k.pem")
    how = _tls.make_self_signed(cert, key, ["device.test", "localhost"], ["127.0.0.1", "::1"],
                                use_cryptography=use_cryptography)
    assert how == ("cryptography" if use_cryptography else "openssl")
    assert os.stat(key).st_mode & 0o777 == 0o600
    assert sorted(os.listdir(tmp_path / "d")) == ["c.pem", "k.pem"]  # no temporary left
    info = ssl._ssl._test_decode_cert(cert)  # type: ignore[attr-defined]
    assert ("DNS", "device.test") in info["subjectAltName"]
    assert ("IP Address", "127.0.0.1") in info["subjectAltName"]
    assert dict(x[0] for x in info["subject"])["commonName"] == "device.test"
    ctx = _tls.load_server_context(cert, key)
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2


def test_make_self_signed_without_tools_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(_tls.shutil, "which", lambda name: None)
    with pytest.raises(_tls.CertificateError, match="neither .*cryptography.* nor the 'openssl'"):
        _tls.make_self_signed(str(tmp_path / "c.pem"), str(tmp_path / "k.pem"), ["x"],
                              use_cryptography=False)
    assert os.listdir(tmp_path) == []


def test_device_names_do_not_include_unspecified_addresses():
    names, addresses = _tls.device_names(["0.0.0.0", "::", "not-an-ip", "10.9.8.7"])
    assert "localhost" in names
    assert "127.0.0.1" in addresses and "10.9.8.7" in addresses
    assert "0.0.0.0" not in addresses and "::" not in addresses


def test_shutdown_with_a_client_that_never_spoke_leaks_no_socket(certs):
    import gc

    silent = socket.socket()

    async def go():
        async with Server(ssl_options={"certfile": certs["cert"], "keyfile": certs["key"]}) as s:
            silent.connect(("127.0.0.1", s.port))  # stays open, says nothing
            reader2, writer2 = await asyncio.open_connection("127.0.0.1", s.port)
            writer2.write(b"GET / HTTP/1.1\r\n\r\n")
            assert (await reader2.readline()).startswith(b"HTTP/1.1 400")
            writer2.transport.abort()
            await asyncio.sleep(0)

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            run(go)  # the loop closes while the server waits for the silent client
            gc.collect()
    finally:
        silent.close()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


# --- TCPServer.handle_stream servers -------------------------------------------------------


def test_stream_server_first_byte_check_and_handshake_timeout(certs):
    from embedtornado.iostream import StreamClosedError
    from embedtornado.tcpserver import TCPServer

    class EchoServer(TCPServer):
        async def handle_stream(self, stream, address):
            try:
                while True:
                    line = await stream.read_until(b"\n", max_bytes=1024)
                    await stream.write(b"echo:" + line)
            except StreamClosedError:
                pass

    async def go():
        server = EchoServer(ssl_options={"certfile": certs["cert"], "keyfile": certs["key"]})
        server.ssl_handshake_timeout = 0.5
        socks = netutil.bind_sockets(0, "127.0.0.1", family=socket.AF_INET)
        port = socks[0].getsockname()[1]
        server.add_sockets(socks)
        try:
            silent = await asyncio.open_connection("127.0.0.1", port)
            partial = await asyncio.open_connection("127.0.0.1", port)
            partial[1].write(b"\x16\x03\x01\x02\x00\x01")
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert (await read_all(reader)).startswith(b"HTTP/1.1 400 Bad Request")
            writer.close()
            ctx = ssl.create_default_context(cafile=certs["cert"])
            reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx,
                                                           server_hostname="localhost")
            writer.write(b"hello\n")
            assert await asyncio.wait_for(reader.readline(), 10) == b"echo:hello\n"
            writer.close()
            for r, w in (silent, partial):
                try:
                    assert await read_all(r) == b""
                except ConnectionResetError:
                    pass
                w.close()
        finally:
            server.stop()
    run(go)


def test_application_listen_with_ssl_options(certs):
    async def go():
        server = make_app().listen(0, "127.0.0.1", ssl_options={
            "certfile": certs["cert"], "keyfile": certs["key"]}, ssl_handshake_timeout=3.0)
        try:
            assert server.ssl_handshake_timeout == 3.0
            port = next(iter(server._sockets.values())).getsockname()[1]
            c = client()
            info = await fetch_json(c, f"https://localhost:{port}/info", ca_certs=certs["cert"])
            assert info["protocol"] == "https"
            c.close()
        finally:
            server.stop()
            await server.close_all_connections()
    run(go)
