"""TCPServer.handle_stream subclasses and TCPClient, beside Tornado 6.6.1's.

Behavioural tests are parametrized over ``impl`` (ours and the real
Tornado), on the live loop.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl

import pytest

from embedtornado import netutil
from streamtools import IMPLS, impl_module, run


@pytest.fixture(params=IMPLS)
def impl(request):
    return request.param


def make_echo_server(impl, **kwargs):
    tcpserver = impl_module(impl, "tcpserver")
    iostream = impl_module(impl, "iostream")

    class EchoServer(tcpserver.TCPServer):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.addresses = []

        async def handle_stream(self, stream, address):
            self.addresses.append(address)
            try:
                while True:
                    line = await stream.read_until(b"\n", max_bytes=1024)
                    if line == b"boom\n":
                        stream.close()  # Tornado would leave it open
                        raise RuntimeError("handler failed")
                    await stream.write(line.upper())
            except iostream.StreamClosedError:
                pass

    server = EchoServer(**kwargs)
    socks = netutil.bind_sockets(0, "127.0.0.1", family=socket.AF_INET)
    server.add_sockets(socks)
    return server, socks[0].getsockname()[1]


def test_echo_server_with_tcpclient(impl):
    tcpclient = impl_module(impl, "tcpclient")

    async def go():
        server, port = make_echo_server(impl)
        client = tcpclient.TCPClient()
        streams = [await client.connect("127.0.0.1", port) for _ in range(5)]
        for i, stream in enumerate(streams):
            await stream.write(b"hello %d\n" % i)
        replies = [await s.read_until(b"\n") for s in streams]
        assert replies == [b"HELLO %d\n" % i for i in range(5)]
        assert len(server.addresses) == 5
        assert all(a[0] == "127.0.0.1" for a in server.addresses)
        for s in streams:
            s.close()
        server.stop()
        client.close()
    run(go)


def test_sync_handle_stream_with_callbacks(impl):
    tcpserver = impl_module(impl, "tcpserver")
    tcpclient = impl_module(impl, "tcpclient")

    class Greeter(tcpserver.TCPServer):
        def handle_stream(self, stream, address):
            stream.write(b"hi\n").add_done_callback(lambda f: stream.close())

    async def go():
        server = Greeter()
        socks = netutil.bind_sockets(0, "127.0.0.1", family=socket.AF_INET)
        server.add_sockets(socks)
        stream = await tcpclient.TCPClient().connect("127.0.0.1", socks[0].getsockname()[1])
        assert await stream.read_until_close() == b"hi\n"
        server.stop()
    run(go)


def test_handle_stream_exception_is_logged(impl, caplog):
    tcpclient = impl_module(impl, "tcpclient")

    async def go():
        server, port = make_echo_server(impl)
        stream = await tcpclient.TCPClient().connect("127.0.0.1", port)
        with caplog.at_level(logging.ERROR):
            await stream.write(b"boom\n")
            assert await stream.read_until_close() == b""
            for _ in range(100):
                await asyncio.sleep(0.01)
                if any("handler failed" in str(r.exc_info) for r in caplog.records):
                    break
        stream.close()
        server.stop()
    run(go)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors and errors[0].name == f"{impl}.application"
    assert errors[0].getMessage().startswith("Exception in callback ")  # Tornado's text
    assert "handler failed" in str(errors[0].exc_info[1])


def test_failed_handler_stream_is_closed(caplog):
    """Ours closes the connection when handle_stream fails (Tornado leaks it)."""
    from embedtornado.tcpclient import TCPClient
    from embedtornado.tcpserver import TCPServer

    class Failing(TCPServer):
        async def handle_stream(self, stream, address):
            await stream.read_until(b"\n")
            raise ValueError("oops")

    async def go():
        server = Failing()
        socks = netutil.bind_sockets(0, "127.0.0.1", family=socket.AF_INET)
        server.add_sockets(socks)
        stream = await TCPClient().connect("127.0.0.1", socks[0].getsockname()[1])
        with caplog.at_level(logging.ERROR):
            await stream.write(b"go\n")
            assert await stream.read_until_close() == b""
        server.stop()
    run(go)
    assert any(r.name == "embedtornado.application" for r in caplog.records)


def test_tls_server_and_client(impl):
    from embedtornado import _testcert

    tcpclient = impl_module(impl, "tcpclient")
    iostream = impl_module(impl, "iostream")
    cert, key = _testcert.files()

    async def go():
        server, port = make_echo_server(impl, ssl_options=dict(certfile=cert, keyfile=key))
        ctx = ssl.create_default_context(cafile=cert)
        stream = await tcpclient.TCPClient().connect("localhost", port, af=socket.AF_INET,
                                                     ssl_options=ctx)
        assert isinstance(stream, iostream.SSLIOStream)
        await stream.write(b"over tls\n")
        assert await stream.read_until(b"\n") == b"OVER TLS\n"
        stream.close()
        # An untrusting client gets the certificate error itself.
        with pytest.raises(ssl.SSLError):
            await tcpclient.TCPClient().connect("localhost", port, af=socket.AF_INET,
                                                ssl_options=ssl.create_default_context())
        server.stop()
    run(go)


def test_connect_refused_and_fallthrough(impl):
    tcpclient = impl_module(impl, "tcpclient")

    class TwoAddresses:
        def __init__(self, addrs):
            self.addrs = addrs

        async def resolve(self, host, port, family=socket.AF_UNSPEC):
            return self.addrs

        def close(self):
            pass

    async def go():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            dead = s.getsockname()
        server, port = make_echo_server(impl)
        # The first address refuses; the client moves on to the next.
        client = tcpclient.TCPClient(resolver=TwoAddresses(
            [(socket.AF_INET, dead), (socket.AF_INET, ("127.0.0.1", port))]))
        stream = await client.connect("anything", 0)
        await stream.write(b"x\n")
        assert await stream.read_until(b"\n") == b"X\n"
        stream.close()
        only_dead = tcpclient.TCPClient(resolver=TwoAddresses([(socket.AF_INET, dead)]))
        with pytest.raises(OSError):
            await only_dead.connect("anything", 0)
        server.stop()
    run(go)


def test_connect_timeout(impl):
    tcpclient = impl_module(impl, "tcpclient")
    util = impl_module(impl, "util")

    class Hanging:
        async def resolve(self, host, port, family=socket.AF_UNSPEC):
            await asyncio.sleep(3600)

        def close(self):
            pass

    async def go():
        client = tcpclient.TCPClient(resolver=Hanging())
        with pytest.raises(util.TimeoutError):
            await client.connect("example.invalid", 80, timeout=0.2)
    run(go)


def test_source_ip_and_port(impl):
    tcpclient = impl_module(impl, "tcpclient")

    async def go():
        server, port = make_echo_server(impl)
        stream = await tcpclient.TCPClient().connect("127.0.0.1", port, source_ip="127.0.0.1")
        await stream.write(b"a\n")
        await stream.read_until(b"\n")
        assert stream.socket.getsockname()[0] == "127.0.0.1"
        local_port = stream.socket.getsockname()[1]
        assert server.addresses[-1][1] == local_port
        stream.close()
        server.stop()
    run(go)


def test_happy_eyeballs_starts_second_family_after_delay():
    """The secondary family is tried when the primary has not connected in time (ours)."""
    from embedtornado import tcpclient

    async def go():
        loop = asyncio.get_running_loop()
        attempts = []
        futures = {}

        class FakeStream:
            def __init__(self, addr):
                self.addr = addr
                self.closed_ = False

            def close(self):
                self.closed_ = True

        def connect(af, addr):
            attempts.append((af, addr, loop.time()))
            fut = loop.create_future()
            futures[addr] = fut
            return FakeStream(addr), fut

        conn = tcpclient._Connector([(socket.AF_INET6, "v6a"), (socket.AF_INET, "v4a"),
                                     (socket.AF_INET6, "v6b")], connect)
        task = asyncio.ensure_future(conn.start(timeout=0.05))
        await asyncio.sleep(0)
        assert [a[1] for a in attempts] == ["v6a"]  # primary first, alone
        while len(attempts) < 2:
            await asyncio.sleep(0.01)
        assert attempts[1][1] == "v4a"  # the other family after the delay
        futures["v4a"].set_result(None)
        af, addr, stream = await task
        assert (af, addr) == (socket.AF_INET, "v4a")
        # v6a's attempt was abandoned and its stream closed.
        assert not futures["v6a"].done()
        return stream

    run(go)


def test_happy_eyeballs_failure_moves_on_at_once():
    from embedtornado import tcpclient
    from embedtornado.iostream import StreamClosedError

    async def go():
        loop = asyncio.get_running_loop()
        order = []

        def connect(af, addr):
            order.append(addr)
            fut = loop.create_future()
            if addr == "v6a":
                fut.set_exception(StreamClosedError(real_error=ConnectionRefusedError()))
            else:
                fut.set_result(None)
            return type("S", (), {"close": lambda self: None})(), fut

        conn = tcpclient._Connector([(socket.AF_INET6, "v6a"), (socket.AF_INET, "v4a")], connect)
        af, addr, _ = await conn.start(timeout=30)
        assert addr == "v4a" and order == ["v6a", "v4a"]
    run(go)


def test_httpserver_keeps_protocol_path():
    """HTTPServer does not override handle_stream, so it never builds IOStreams."""
    from embedtornado.httpserver import HTTPServer
    from embedtornado.tcpserver import TCPServer

    assert HTTPServer.handle_stream is TCPServer.handle_stream
