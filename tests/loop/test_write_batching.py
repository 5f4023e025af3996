"""When a stream transport's writes go out.

asyncio-protocol, WriteTransport.write: "This method does not block; it
buffers the data and arranges for it to be sent out asynchronously." Every
loop here, ours included, tries a send at once; the first group of tests
holds for all of them. The compiled loop's transports add `_write_batched`
(not in asyncio), with which the HTTP server writes its responses: small
writes made from a loop callback wait for the end of that loop iteration
and leave in one send per transport (docs/compat-notes.md, "The event
loop"). The second group pins that down.
"""

from __future__ import annotations

import asyncio
import socket

import pytest
from conformance import RecordingProtocol, close_transport, recv_until_eof, run


class Burst(RecordingProtocol):
    """On its first data, writes *chunks* in one callback, then runs *after*."""

    def __init__(self, loop, chunks, after, method="write"):
        super().__init__(loop)
        self.chunks = chunks
        self.after = after
        self.method = method

    def data_received(self, data):
        super().data_received(data)
        if self.chunks is not None:
            chunks, self.chunks = self.chunks, None
            write = getattr(self.transport, self.method)
            for c in chunks:
                write(c)
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


@pytest.mark.parametrize("method", ["write", "_write_batched"])
def test_write_while_the_loop_is_not_running_is_sent_at_once(loop, loop_name, method):
    # Nothing is kept back for an iteration that may never come.
    if method == "_write_batched" and loop_name != "embedtornado":
        pytest.skip("_write_batched is the compiled loop's own")
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
            getattr(tr, method)(b"no loop")
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


def test_a_write_from_a_callback_has_left_when_write_returns(loop):
    # No loop keeps plain write()s back (the peer can read them at once).
    seen = {}

    def after(tr):
        seen["size"] = tr.get_write_buffer_size()
        seen["peer"] = seen["client"].recv(100)

    async def main():
        server, client = await serve_once(loop, lambda: Burst(loop, [b"at ", b"once"], after))
        seen["client"] = client
        with client:
            await loop.sock_sendall(client, b"go")
            for _ in range(100):
                if "peer" in seen:
                    break
                await asyncio.sleep(0.01)
        server.close()
        await server.wait_closed()

    run(loop, main())
    assert seen == {"client": seen["client"], "size": 0, "peer": b"at once"}


# ------------------------------------------------------- the compiled loop

@pytest.fixture
def ours(loop, loop_name):
    if loop_name != "embedtornado":
        pytest.skip("_write_batched is the compiled loop's own")
    return loop


def batched(loop, chunks, after):
    return Burst(loop, chunks, after, method="_write_batched")


def test_batched_writes_in_a_callback_go_out_at_the_end_of_the_iteration(ours):
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
        server, client = await serve_once(
            loop, lambda: batched(loop, [b"one ", b"two ", b"three"], after))
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


def test_a_large_batched_write_is_sent_at_once(ours):
    loop = ours
    big = bytes(range(256)) * 80  # 20 KiB: above the 16 KiB kept back
    sizes = []

    async def main():
        server, client = await serve_once(
            loop, lambda: batched(loop, [big], lambda tr: sizes.append(tr.get_write_buffer_size())))
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


@pytest.mark.parametrize("second", ["batched past the limit", "plain write", "writelines"])
def test_what_was_kept_leaves_first_when_a_write_cannot_wait(ours, second):
    loop = ours
    small = b"s" * 1000
    big = b"B" * 16_000 if second == "batched past the limit" else b"B" * 10
    sizes = []

    class P(RecordingProtocol):
        def data_received(self, data):
            super().data_received(data)
            tr = self.transport
            tr._write_batched(small)
            sizes.append(tr.get_write_buffer_size())
            if second == "batched past the limit":
                tr._write_batched(big)  # 17,000 queued: over the limit, so both go now
            elif second == "plain write":
                tr.write(big)
            else:
                tr.writelines([big])
            sizes.append(tr.get_write_buffer_size())

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
        server, client = await serve_once(loop, lambda: batched(loop, [b"now"], after))
        with client:
            await loop.sock_sendall(client, b"go")
            assert await loop.sock_recv(client, 100) == b"now"
        server.close()
        await server.wait_closed()

    run(loop, main())
    assert sizes == [3, 0]


@pytest.mark.parametrize("finish", ["close", "write_eof", "abort"])
def test_kept_bytes_survive_close_write_eof_and_abort(ours, finish):
    # close() and write_eof() wait for the buffer; abort() gives the kept
    # bytes the one send that write() would have made at once.
    loop = ours
    protos = []

    def factory():
        protos.append(batched(loop, [b"last ", b"words"], lambda tr: getattr(tr, finish)()))
        return protos[-1]

    async def main():
        server, client = await serve_once(loop, factory)
        with client:
            await loop.sock_sendall(client, b"go")
            assert await recv_until_eof(loop, client) == b"last words"
            if finish == "write_eof":
                client.shutdown(socket.SHUT_WR)  # half-closed until the peer closes too
            assert await protos[0].lost is None
        server.close()
        await server.wait_closed()

    run(loop, main())
