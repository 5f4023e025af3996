"""When a stream transport's writes go out.

asyncio-protocol, WriteTransport.write: "This method does not block; it
buffers the data and arranges for it to be sent out asynchronously." The
stdlib loop and uvloop try a send at once; the compiled loop keeps small
writes made from a loop callback until the end of that loop iteration and
sends each transport's share in one call (docs/compat-notes.md, "The event
loop", write batching). The first group of tests holds for every loop; the second pins
down the compiled loop's own timing.
"""

from __future__ import annotations

import asyncio
import socket

import pytest
from conformance import (
    RecordingProtocol,
    is_uvloop,
    close_transport,
    recv_until_eof,
    run,
    tls_client_context,
    tls_server_context,
)

from embedtornado.loop import send_now_hook


class Burst(RecordingProtocol):
    """On its first data, writes *chunks* in one callback, then runs *after*."""

    def __init__(self, loop, chunks, after):
        super().__init__(loop)
        self.chunks = chunks
        self.after = after

    def data_received(self, data):
        super().data_received(data)
        if self.chunks is not None:
            chunks, self.chunks = self.chunks, None
            for c in chunks:
                self.transport.write(c)
            self.after(self.transport)


def mixed_chunks() -> list:
    """Small and large writes of every bytes-like type, each byte position unique."""
    out = []
    for i in range(300):
        size = 20_000 if i % 97 == 50 else 1 + (i * 37) % 700
        blob = bytes((i + j) % 251 for j in range(size))
        out.append(bytearray(blob) if i % 3 == 1 else memoryview(blob) if i % 3 == 2 else blob)
    return out


async def serve_once(loop, proto_factory):
    server = await loop.create_server(proto_factory, "127.0.0.1", 0)
    client = socket.create_connection(server.sockets[0].getsockname())
    client.setblocking(False)
    return server, client


@pytest.mark.parametrize("finish", ["close", "write_eof"])
def test_many_writes_in_one_callback_arrive_whole_and_in_order(loop, finish):
    chunks = mixed_chunks()
    expected = b"".join(bytes(c) for c in chunks)
    protos = []

    def factory():
        protos.append(Burst(loop, chunks, lambda tr: getattr(tr, finish)()))
        return protos[-1]

    async def main():
        server, client = await serve_once(loop, factory)
        with client:
            await loop.sock_sendall(client, b"go")
            assert await recv_until_eof(loop, client) == expected
            if finish == "write_eof":
                # Half-closed: the server side still reads.
                await loop.sock_sendall(client, b"more")
                client.shutdown(socket.SHUT_WR)
                await protos[0].eof
            assert await protos[0].lost is None
        server.close()
        await server.wait_closed()
        protos[0].check()
        assert bytes(protos[0].data).startswith(b"go")

    run(loop, main())


def test_write_while_the_loop_is_not_running_is_sent_at_once(loop):
    # Nothing is kept back for an iteration that may never come.
    async def connect():
        lsock = socket.create_server(("127.0.0.1", 0))
        tr, proto = await loop.create_connection(lambda: RecordingProtocol(loop),
                                                 *lsock.getsockname())
        peer, _ = lsock.accept()
        lsock.close()
        return tr, proto, peer

    tr, proto, peer = run(loop, connect())
    with peer:
        try:
            tr.write(b"no loop")
            peer.settimeout(5)
            assert peer.recv(100) == b"no loop"
            assert tr.get_write_buffer_size() == 0
        finally:
            close_transport(tr)
            run(loop, proto.lost)


def test_a_write_the_socket_takes_never_pauses_the_protocol(loop):
    # With a high-water mark of 0 a write that stays buffered pauses the
    # protocol; one the socket takes whole must not.
    paused = []

    class P(RecordingProtocol):
        def connection_made(self, transport):
            super().connection_made(transport)
            transport.set_write_buffer_limits(high=0)

        def data_received(self, data):
            super().data_received(data)
            self.transport.write(b"pong")
            paused.append(self.writing_paused)

    async def main():
        server, client = await serve_once(loop, lambda: P(loop))
        with client:
            for _ in range(3):
                await loop.sock_sendall(client, b"ping")
                assert await loop.sock_recv(client, 100) == b"pong"
        server.close()
        await server.wait_closed()

    run(loop, main())
    assert paused == [False, False, False]


def test_abort_after_a_write_in_the_same_callback_still_sends_it(loop):
    # asyncio-protocol, abort(): "Buffered data will be lost." A write the
    # stdlib loop sends at once is not buffered; the compiled loop gives
    # what it kept back that same one send before the socket closes.
    protos = []

    def factory():
        protos.append(Burst(loop, [b"last ", b"words"], lambda tr: tr.abort()))
        return protos[-1]

    async def main():
        server, client = await serve_once(loop, factory)
        with client:
            await loop.sock_sendall(client, b"go")
            assert await recv_until_eof(loop, client) == b"last words"
            assert await protos[0].lost is None
        server.close()
        await server.wait_closed()

    run(loop, main())


# ------------------------------------------------------- the compiled loop

@pytest.fixture
def ours(loop, loop_name):
    if loop_name != "embedtornado":
        pytest.skip("the stdlib loop and uvloop send at once")
    return loop


@pytest.mark.parametrize("how", ["write", "writelines"])
def test_small_writes_in_a_callback_go_out_at_the_end_of_the_iteration(ours, how):
    loop = ours
    seen = {}

    def check_later(tr, client):
        # A later iteration: the whole burst went out in the meantime.
        seen["later"] = (tr.get_write_buffer_size(), client.recv(100))

    def after(tr):
        client = seen["client"]
        seen["inside"] = tr.get_write_buffer_size()
        try:
            client.recv(100)
            seen["peer_inside"] = "data"
        except BlockingIOError:
            seen["peer_inside"] = "nothing yet"
        # (call_soon would still run in this iteration: the loop calls
        # data_received while polling, before the iteration's callbacks.)
        loop.call_later(0.02, check_later, tr, client)

    async def main():
        chunks = [b"one ", bytearray(b"two "), b"three"]
        if how == "writelines":
            proto = Burst(loop, [], after)
            proto.data_received = lambda data: (proto.transport.writelines(chunks),
                                                after(proto.transport))
        else:
            proto = Burst(loop, chunks, after)
        server, client = await serve_once(loop, lambda: proto)
        seen["client"] = client
        with client:
            await loop.sock_sendall(client, b"go")
            for _ in range(100):
                if "later" in seen:
                    break
                await asyncio.sleep(0.01)
        server.close()
        await server.wait_closed()

    run(loop, main())
    assert seen["inside"] == len(b"one two three")
    assert seen["peer_inside"] == "nothing yet"
    assert seen["later"] == (0, b"one two three")


def test_a_large_write_is_sent_at_once(ours):
    loop = ours
    big = bytes(range(256)) * 80  # 20 KiB: above the 16 KiB kept back
    sizes = []

    async def main():
        server, client = await serve_once(
            loop, lambda: Burst(loop, [big],
                                lambda tr: sizes.append(tr.get_write_buffer_size())))
        with client:
            await loop.sock_sendall(client, b"go")
            got = b""
            while len(got) < len(big):
                got += await loop.sock_recv(client, 65536)
            assert got == big
        server.close()
        await server.wait_closed()

    run(loop, main())
    assert sizes == [0]


def test_a_write_after_small_ones_sends_them_together_once_past_the_limit(ours):
    loop = ours
    small, big = b"s" * 1000, b"B" * 16_000
    sizes = []

    def after(tr):
        sizes.append(tr.get_write_buffer_size())

    def write_both(tr):
        tr.write(small)
        sizes.append(tr.get_write_buffer_size())
        tr.write(big)  # 17,000 queued: over the limit, so both go now
        after(tr)

    class P(RecordingProtocol):
        def data_received(self, data):
            super().data_received(data)
            write_both(self.transport)

    async def main():
        server, client = await serve_once(loop, lambda: P(loop))
        with client:
            await loop.sock_sendall(client, b"go")
            got = b""
            while len(got) < len(small) + len(big):
                got += await loop.sock_recv(client, 65536)
            assert got == small + big
        server.close()
        await server.wait_closed()

    run(loop, main())
    assert sizes == [len(small), 0]


def test_send_now_sends_what_was_kept_back(ours):
    # The HTTP server's explicit flush (RequestHandler.flush) uses it.
    loop = ours
    sizes = []

    def after(tr):
        sizes.append(tr.get_write_buffer_size())
        tr._send_now()
        sizes.append(tr.get_write_buffer_size())

    async def main():
        server, client = await serve_once(loop, lambda: Burst(loop, [b"now"], after))
        with client:
            await loop.sock_sendall(client, b"go")
            assert await loop.sock_recv(client, 100) == b"now"
        server.close()
        await server.wait_closed()

    run(loop, main())
    assert sizes == [3, 0]


def test_send_now_hook_sees_through_tls(loop, loop_name):
    # An explicit flush over HTTPS must reach the socket transport under
    # asyncio's TLS transport.
    if is_uvloop(loop):
        pytest.skip("uvloop has its own TLS transport (and sends at once)")
    got = {}

    class Server(RecordingProtocol):
        def data_received(self, data):
            super().data_received(data)
            tr = self.transport
            tr.write(b"sealed")
            hook = send_now_hook(tr)
            got["hook"] = hook is not None
            inner = tr._ssl_protocol._transport  # (asyncio's SSL transport internals)
            got["kept"] = inner.get_write_buffer_size()
            if hook is not None:
                hook()
            got["after"] = inner.get_write_buffer_size()

    async def main():
        server = await loop.create_server(lambda: Server(loop), "127.0.0.1", 0,
                                          ssl=tls_server_context())
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=tls_client_context(), server_hostname="localhost")
        writer.write(b"go")
        assert await asyncio.wait_for(reader.readexactly(6), 5) == b"sealed"
        writer.close()
        server.close()
        await server.wait_closed()

    run(loop, main())
    if loop_name == "embedtornado":
        assert got == {"hook": True, "kept": got["kept"], "after": 0} and got["kept"] > 0
    else:
        assert got["hook"] is False and got["kept"] == 0  # they send at once

