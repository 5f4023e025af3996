"""TCPClient.connect timeouts name the phase that ran out, as in Tornado 6.6.

Each test runs with our `embedtornado.tcpclient.TCPClient` and with Tornado's.
"""

from __future__ import annotations

import asyncio
import socket
import ssl

import pytest

from streamtools import IMPLS, RawServer, impl_module, run


@pytest.fixture(params=IMPLS)
def impl(request):
    return request.param


class HangingResolver:
    async def resolve(self, host, port, family=socket.AF_UNSPEC):
        await asyncio.sleep(3600)

    def close(self):
        pass


class FixedResolver:
    def __init__(self, addrinfo):
        self.addrinfo = addrinfo

    async def resolve(self, host, port, family=socket.AF_UNSPEC):
        return self.addrinfo

    def close(self):
        pass


def full_listener():
    """A listener whose backlog is full, so that a new connect hangs."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    filler = socket.create_connection(listener.getsockname())
    return listener, filler


def test_timeout_while_resolving(impl):
    async def go():
        tcpclient = impl_module(impl, "tcpclient")
        util = impl_module(impl, "util")
        client = tcpclient.TCPClient(resolver=HangingResolver())
        with pytest.raises(util.TimeoutError) as info:
            await client.connect("example.com", 80, timeout=0.2)
        assert str(info.value) == "Timeout while resolving example.com"
    run(go)


def test_timeout_while_connecting_lists_pending_addresses(impl):
    l1, f1 = full_listener()
    l2, f2 = full_listener()
    a1, a2 = l1.getsockname(), l2.getsockname()

    async def go():
        tcpclient = impl_module(impl, "tcpclient")
        util = impl_module(impl, "util")
        # Two addresses of one family: tried one after the other, so only the
        # first is in flight when the timeout comes.
        client = tcpclient.TCPClient(resolver=FixedResolver(
            [(socket.AF_INET, a1), (socket.AF_INET, a2)]))
        with pytest.raises(util.TimeoutError) as info:
            await client.connect("example.com", 80, timeout=0.2)
        assert str(info.value) == f"Timeout while connecting to {a1[0]}:{a1[1]}"
    try:
        run(go)
    finally:
        for s in (f1, f2, l1, l2):
            s.close()


def test_timeout_during_tls_handshake_closes_the_stream(impl):
    events = []

    async def silent(reader, writer):
        await reader.read()  # the ClientHello, then the end of the connection
        events[0].set()

    async def go():
        events.append(asyncio.Event())
        hung_up = events[0]
        tcpclient = impl_module(impl, "tcpclient")
        util = impl_module(impl, "util")
        async with RawServer(silent) as srv:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            client = tcpclient.TCPClient()
            with pytest.raises(util.TimeoutError) as info:
                await client.connect("127.0.0.1", srv.port, ssl_options=ctx, timeout=0.3)
            assert str(info.value) == f"Timeout during TLS handshake with 127.0.0.1:{srv.port}"
            # The socket the handshake ran on was closed.
            await asyncio.wait_for(hung_up.wait(), 5)
            client.close()
    run(go)


def test_no_timeout_connects(impl):
    async def go():
        async def hello(reader, writer):
            writer.write(b"hi")
            await writer.drain()

        tcpclient = impl_module(impl, "tcpclient")
        async with RawServer(hello) as srv:
            client = tcpclient.TCPClient()
            stream = await client.connect("127.0.0.1", srv.port, timeout=5)
            assert await stream.read_bytes(2) == b"hi"
            stream.close()
            client.close()
    run(go)
