"""Flow control and half-close on stream transports.

From the asyncio-protocol page: WriteTransport.set_write_buffer_limits /
get_write_buffer_size / get_write_buffer_limits, BaseProtocol.pause_writing /
resume_writing, ReadTransport.pause_reading / resume_reading / is_reading,
WriteTransport.write_eof / can_write_eof and Protocol.eof_received.
"""

from __future__ import annotations

import asyncio
import socket

import pytest
from conformance import (
    RecordingProtocol,
    connected_pair,
    recv_until_eof,
    run,
    small_buffers,
)


def small_listener() -> socket.socket:
    """A listening socket whose accepted sockets have small kernel buffers.

    The buffer sizes are set before listen() so they are in force from the
    handshake on (shrinking SO_RCVBUF on an open connection makes the sender
    wait on TCP's persist timer).
    """
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    small_buffers(lsock)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(8)
    return lsock


async def stalled_client(loop, lsock, **proto_kw):
    """A client transport whose peer (a raw socket) does not read yet."""
    proto = RecordingProtocol(loop, **proto_kw)
    tr, _ = await loop.create_connection(lambda: proto, *lsock.getsockname())
    tr.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    peer, _ = lsock.accept()
    peer.setblocking(False)
    return tr, proto, peer


def test_write_buffer_limits_getter_and_validation(loop):
    async def main():
        async with connected_pair(loop) as p:
            tr = p.client_transport
            low, high = tr.get_write_buffer_limits()
            assert 0 <= low <= high
            tr.set_write_buffer_limits(high=4096, low=1024)
            assert tr.get_write_buffer_limits() == (1024, 4096)
            tr.set_write_buffer_limits(high=4096)
            low, high = tr.get_write_buffer_limits()
            assert high == 4096 and 0 <= low <= high
            # Docs: "Setting high to zero forces low to zero as well".
            tr.set_write_buffer_limits(high=0)
            assert tr.get_write_buffer_limits() == (0, 0)
            # Reference behaviour: high below low is rejected.
            with pytest.raises(ValueError):
                tr.set_write_buffer_limits(high=10, low=100)

    run(loop, main())


def test_pause_and_resume_writing(loop):
    # Docs: pause_writing "Called when the transport's buffer goes over the
    # high watermark"; resume_writing "Called when the transport's buffer
    # drains below the low watermark."
    async def main():
        with small_listener() as lsock:
            tr, proto, peer = await stalled_client(loop, lsock)
            with peer:
                tr.set_write_buffer_limits(high=64 * 1024, low=16 * 1024)
                chunk = b"w" * 16 * 1024
                sent = 0
                while not proto.writing_paused:
                    tr.write(chunk)
                    sent += len(chunk)
                    assert sent < 64 * 1024 * 1024, "pause_writing never called"
                assert proto.pause_calls == 1
                assert tr.get_write_buffer_size() > 64 * 1024
                # Writing while paused is allowed; it only grows the buffer.
                tr.write(chunk)
                sent += len(chunk)
                got = bytearray()
                while proto.writing_paused:
                    got += await loop.sock_recv(peer, 65536)
                assert proto.resume_calls == 1
                assert tr.get_write_buffer_size() <= 16 * 1024
                tr.close()
                got += await recv_until_eof(loop, peer)
            assert len(got) == sent
            assert await proto.lost is None
            proto.check()
            assert proto.events.count("pause_writing") == 1
            assert proto.events.count("resume_writing") == 1

    run(loop, main())


def test_high_water_zero_pauses_whenever_buffer_non_empty(loop):
    # Docs: "Setting high to zero ... causes pause_writing() to be called
    # whenever the buffer becomes non-empty."
    async def main():
        with small_listener() as lsock:
            tr, proto, peer = await stalled_client(loop, lsock)
            with peer:
                tr.set_write_buffer_limits(high=0)
                # Fill the kernel buffers until something stays in the transport.
                while tr.get_write_buffer_size() == 0:
                    tr.write(b"z" * 65536)
                assert proto.writing_paused
                await recv_until_eof(loop, peer, limit=1)
                while proto.writing_paused:
                    await loop.sock_recv(peer, 65536)
                assert tr.get_write_buffer_size() == 0
                tr.abort()
                await proto.lost
            proto.check()

    run(loop, main())


def test_set_write_buffer_limits_can_trigger_pause(loop):
    # Lowering the limits below the current buffer size pauses the protocol.
    async def main():
        with small_listener() as lsock:
            tr, proto, peer = await stalled_client(loop, lsock)
            with peer:
                tr.set_write_buffer_limits(high=8 * 1024 * 1024)
                while tr.get_write_buffer_size() < 256 * 1024:
                    tr.write(b"q" * 65536)
                assert not proto.writing_paused
                tr.set_write_buffer_limits(high=128 * 1024, low=64 * 1024)
                assert proto.writing_paused
                tr.abort()
                await proto.lost
            proto.check()

    run(loop, main())


def test_get_write_buffer_size_returns_to_zero(loop):
    async def main():
        async with connected_pair(loop) as p:
            tr = p.client_transport
            assert tr.get_write_buffer_size() == 0
            tr.write(b"x" * 1024 * 1024)
            await p.srv.wait_bytes(1024 * 1024)
            assert tr.get_write_buffer_size() == 0

    run(loop, main())


def test_pause_and_resume_reading(loop):
    async def main():
        async with connected_pair(loop) as p:
            st = p.server_transport
            assert st.is_reading()
            st.pause_reading()
            assert not st.is_reading()
            st.pause_reading()  # 3.7+: idempotent
            p.client_transport.write(b"held back")
            await asyncio.sleep(0.05)
            assert p.srv.data == b"", "data_received called while reading was paused"
            st.resume_reading()
            assert st.is_reading()
            st.resume_reading()  # idempotent
            assert await p.srv.wait_bytes(9) == b"held back"

    run(loop, main())


def test_paused_reading_applies_backpressure_to_sender(loop):
    # While the server does not read, the client's transport buffer grows.
    async def main():
        async with connected_pair(loop) as p:
            p.server_transport.pause_reading()
            ct = p.client_transport
            ct.set_write_buffer_limits(high=1 << 30)
            total = 0
            while ct.get_write_buffer_size() == 0:
                ct.write(b"p" * 65536)
                total += 65536
                await asyncio.sleep(0)
                assert total < 256 * 1024 * 1024
            assert len(p.srv.data) == 0
            p.server_transport.resume_reading()
            await p.srv.wait_bytes(total)
            assert len(p.srv.data) == total

    run(loop, main())


def test_eof_waits_for_resume_reading(loop):
    # Data and EOF that arrive while reading is paused are delivered after
    # resume_reading(), in order: data_received, then eof_received.
    async def main():
        async with connected_pair(loop) as p:
            p.server_transport.pause_reading()
            p.client_transport.write(b"before eof")
            p.client_transport.write_eof()
            await asyncio.sleep(0.05)
            assert p.srv.events == ["connection_made"]
            p.server_transport.resume_reading()
            await p.srv.eof
            assert bytes(p.srv.data) == b"before eof"
            assert p.srv.events[-1] == "eof_received" or \
                p.srv.events[-2:] == ["eof_received", "connection_lost"]

    run(loop, main())


def test_close_while_reading_paused(loop):
    async def main():
        async with connected_pair(loop) as p:
            p.server_transport.pause_reading()
            p.client_transport.write(b"unread")
            await asyncio.sleep(0.01)
            p.server_transport.close()
            assert await p.srv.lost is None
            p.srv.check()
            await p.client.lost

    run(loop, main())


def test_write_after_write_eof_raises(loop):
    # Reference behaviour: RuntimeError("Cannot call write() after write_eof()").
    async def main():
        async with connected_pair(loop) as p:
            p.client_transport.write_eof()
            with pytest.raises(RuntimeError):
                p.client_transport.write(b"x")

    run(loop, main())


def test_pause_reading_on_closed_transport_is_harmless(loop):
    async def main():
        async with connected_pair(loop) as p:
            p.server_transport.close()
            p.server_transport.pause_reading()
            p.server_transport.resume_reading()
            await p.srv.lost

    run(loop, main())


# --------------------------------------------------------------------------- half-close

def test_write_eof_half_close_keep_open(loop):
    # Client sends a request and write_eof(); the server's eof_received returns
    # True, so its transport stays open and it can still answer.
    class Responder(RecordingProtocol):
        def eof_received(self):
            super().eof_received()
            self.transport.write(b"response to " + bytes(self.data))
            self.transport.close()
            return True

    async def main():
        async with connected_pair(loop, server_protocol=lambda: Responder(loop)) as p:
            ct = p.client_transport
            assert ct.can_write_eof()
            ct.write(b"request")
            ct.write_eof()
            # The client can still read after its write side is shut.
            await p.client.eof
            assert bytes(p.client.data) == b"response to request"
            assert await p.client.lost is None
            assert await p.srv.lost is None
            p.client.check()
            p.srv.check()
            assert p.srv.events[-2:] == ["eof_received", "connection_lost"]

    run(loop, main())


def test_eof_received_false_closes_transport(loop):
    # Docs: "If this returns a false value (including None), the transport
    # will close itself."
    async def main():
        async with connected_pair(
                loop, server_protocol=lambda: RecordingProtocol(loop, eof_result=False)) as p:
            p.client_transport.write_eof()
            await p.srv.eof
            assert await p.srv.lost is None
            # ...which the client sees as EOF.
            await p.client.eof
            await p.client.lost
            p.srv.check()
            p.client.check()

    run(loop, main())


def test_eof_received_true_keeps_transport_open(loop):
    async def main():
        async with connected_pair(
                loop, server_protocol=lambda: RecordingProtocol(loop, eof_result=True)) as p:
            p.client_transport.write_eof()
            await p.srv.eof
            await asyncio.sleep(0.02)
            assert not p.srv.lost.done()
            assert not p.server_transport.is_closing()
            p.server_transport.write(b"still open")
            assert await p.client.wait_bytes(10) == b"still open"
            p.server_transport.close()
            assert await p.srv.lost is None
            await p.client.lost
            p.srv.check()
            p.client.check()

    run(loop, main())


def test_write_eof_flushes_buffer_first(loop):
    # Data written before write_eof() arrives in full before the EOF.
    payload = b"e" * (4 * 1024 * 1024)

    async def main():
        with small_listener() as lsock:
            tr, proto, peer = await stalled_client(loop, lsock, eof_result=True)
            with peer:
                tr.write(payload)
                assert tr.get_write_buffer_size() > 0
                tr.write_eof()
                got = await recv_until_eof(loop, peer)
                assert got == payload
                peer.sendall(b"bye")
                peer.shutdown(socket.SHUT_WR)
                await proto.eof
                # Both directions are shut, but eof_received returned True:
                # closing is up to the protocol.
                assert not proto.lost.done()
                tr.close()
                assert await proto.lost is None
            assert bytes(proto.data) == b"bye"
            proto.check()

    run(loop, main())


def test_unix_write_eof(loop):
    async def main():
        async with connected_pair(
                loop, kind="unix",
                server_protocol=lambda: RecordingProtocol(loop, eof_result=True)) as p:
            assert p.client_transport.can_write_eof()
            p.client_transport.write(b"u")
            p.client_transport.write_eof()
            await p.srv.eof
            assert bytes(p.srv.data) == b"u"
            p.server_transport.write(b"after eof")
            assert await p.client.wait_bytes(9) == b"after eof"

    run(loop, main())
