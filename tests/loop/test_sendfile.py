"""loop.sendfile on stream transports (asyncio-eventloop: "Sending files").

The documented contract: ``await loop.sendfile(transport, file, offset=0,
count=None, *, fallback=True)`` sends *file* from *offset* (*count* bytes, or
to the end), returns the number of bytes sent, leaves the file position after
the last byte sent, uses ``os.sendfile`` where the transport allows it and
reads and writes otherwise (``fallback``; TLS always), and raises
`asyncio.SendfileNotAvailableError` when there is no zero-copy path and
``fallback`` is false.

uvloop does not implement ``loop.sendfile`` (NotImplementedError), so its
row is skipped here. Where asyncio's selector loop hangs (a transport closed
during the transfer leaves the future pending for ever), the case runs on
embedtornado's loop only and says so.
"""

from __future__ import annotations

import asyncio
import io
import os
import socket

import pytest
from conformance import (
    RecordingProtocol,
    is_uvloop,
    recv_until_eof,
    run,
    small_buffers,
    tls_client_context,
    tls_server_context,
)

SIZE = 3 * 1024 * 1024 + 12345  # not a multiple of any chunk size


@pytest.fixture
def sf_loop(loop):
    if is_uvloop(loop):
        pytest.skip("uvloop does not implement loop.sendfile (NotImplementedError)")
    return loop


@pytest.fixture(scope="module")
def blob(tmp_path_factory):
    data = os.urandom(SIZE)
    path = tmp_path_factory.mktemp("sendfile") / "blob.bin"
    path.write_bytes(data)
    return path, data


def forbid(monkeypatch, loop, fallback: str):
    """Make the loop's read/write *fallback* method fail: the zero-copy path must be taken."""

    async def no_fallback(*args, **kwargs):
        raise AssertionError(f"the read/write fallback ({fallback}) was used")

    monkeypatch.setattr(type(loop), fallback, no_fallback)
    return loop


@pytest.fixture
def native_only(sf_loop, monkeypatch):
    return forbid(monkeypatch, sf_loop, "_sendfile_fallback")


def open_rb(path, mode: str = "rb"):
    # (A local file: opening it cannot block the loop for long.)
    return open(path, mode)


def listener(small: bool = False) -> socket.socket:
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if small:
        small_buffers(lsock)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(8)
    return lsock


async def client_and_peer(loop, lsock, *, small_sndbuf: bool = False):
    """A client transport and the accepted raw (non-blocking) socket at the other end."""
    proto = RecordingProtocol(loop)
    tr, _ = await loop.create_connection(lambda: proto, *lsock.getsockname())
    if small_sndbuf:
        tr.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    peer, _ = lsock.accept()
    peer.setblocking(False)
    return tr, proto, peer


async def send_and_collect(loop, path, **kw):
    """Run loop.sendfile to a peer that reads everything; return (result, received, pos)."""
    with listener() as lsock:
        tr, proto, peer = await client_and_peer(loop, lsock)
        with peer, open_rb(path) as f:
            reader = asyncio.ensure_future(recv_until_eof(loop, peer))
            sent = await loop.sendfile(tr, f, **kw)
            pos = f.tell()
            tr.close()
            got = await reader
        await proto.lost
        proto.check()
    return sent, got, pos


def test_whole_file(native_only, blob):
    path, data = blob
    sent, got, pos = run(native_only, send_and_collect(native_only, path))
    assert sent == len(data)
    assert got == data
    assert pos == len(data)


def test_offset_and_count(native_only, blob):
    path, data = blob
    sent, got, pos = run(native_only, send_and_collect(native_only, path,
                                                       offset=1000, count=2_000_001))
    assert sent == 2_000_001
    assert got == data[1000:1000 + 2_000_001]
    assert pos == 1000 + 2_000_001


def test_offset_to_end(native_only, blob):
    path, data = blob
    sent, got, pos = run(native_only, send_and_collect(native_only, path, offset=SIZE - 777))
    assert (sent, got, pos) == (777, data[-777:], SIZE)


def test_file_shorter_than_count(native_only, blob):
    path, data = blob
    sent, got, pos = run(native_only, send_and_collect(native_only, path,
                                                       offset=SIZE - 5000, count=1 << 30))
    assert sent == 5000
    assert got == data[-5000:]
    assert pos == SIZE


def test_empty_file_and_offset_past_end(sf_loop, tmp_path, blob):
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert run(sf_loop, send_and_collect(sf_loop, empty))[:2] == (0, b"")
    path, _data = blob
    sent, got, _pos = run(sf_loop, send_and_collect(sf_loop, path, offset=SIZE + 10))
    assert (sent, got) == (0, b"")


def test_buffered_data_goes_first_and_writes_wait(native_only, blob):
    # asyncio waits for the write buffer to drain before the file; write()
    # during the transfer is refused; afterwards the transport works as before.
    path, data = blob
    loop = native_only

    async def main():
        with listener(small=True) as lsock:
            tr, proto, peer = await client_and_peer(loop, lsock, small_sndbuf=True)
            with peer, open_rb(path) as f:
                head = b"H" * (512 * 1024)
                tr.write(head)
                assert tr.get_write_buffer_size() > 0
                task = asyncio.ensure_future(loop.sendfile(tr, f, count=1_000_000))
                await asyncio.sleep(0)
                assert not task.done()
                with pytest.raises(RuntimeError):
                    tr.write(b"too early")
                reader = asyncio.ensure_future(recv_until_eof(loop, peer))
                assert await task == 1_000_000
                tr.write(b"tail")
                tr.close()
                got = await reader
            await proto.lost
            proto.check()
        assert got == head + data[:1_000_000] + b"tail"

    run(loop, main())


def test_slow_reader_flow_control(native_only, blob):
    # A reader slower than the sender: nothing piles up in the transport's
    # buffer (the kernel's socket buffer is the only one), reading is paused
    # during the transfer and resumed after it, and the loop stays responsive.
    path, data = blob
    loop = native_only

    async def main():
        with listener(small=True) as lsock:
            tr, proto, peer = await client_and_peer(loop, lsock, small_sndbuf=True)
            with peer, open_rb(path) as f:
                assert tr.is_reading()
                task = asyncio.ensure_future(loop.sendfile(tr, f, count=1 << 20))
                got = bytearray()
                ticks = 0
                while True:
                    await asyncio.sleep(0.0005)
                    if task.done():
                        break
                    ticks += 1
                    assert tr.get_write_buffer_size() == 0
                    assert not tr.is_reading()
                    assert not proto.writing_paused
                    try:
                        got += peer.recv(8192)
                    except BlockingIOError:
                        pass
                assert await task == 1 << 20
                assert ticks > 3  # the loop ran other work during the transfer
                assert tr.is_reading()
                tr.close()
                got += await recv_until_eof(loop, peer)
            await proto.lost
            proto.check()
        assert got == data[:1 << 20]

    run(loop, main(), timeout=30)


def test_peer_closes_mid_transfer(native_only, blob):
    # The peer goes away with the file half sent: sendfile fails with a
    # connection error instead of waiting for ever.
    path, _data = blob
    loop = native_only

    async def main():
        with listener(small=True) as lsock:
            tr, proto, peer = await client_and_peer(loop, lsock, small_sndbuf=True)
            with open_rb(path) as f:
                task = asyncio.ensure_future(loop.sendfile(tr, f))
                assert await loop.sock_recv(peer, 1024)
                peer.close()  # unread data: the kernel answers further segments with RST
                with pytest.raises(ConnectionError):
                    await task
                sent_pos = f.tell()
                assert 0 < sent_pos < SIZE
            tr.close()
            await proto.lost
            proto.check()

    run(loop, main(), timeout=30)


@pytest.mark.parametrize("how", ["close", "abort"])
def test_transport_closed_during_transfer(native_only, blob, how):
    # Not specified by the docs; asyncio's selector loop leaves the future
    # pending for ever here (and reports InvalidStateError), so this is
    # embedtornado's behaviour: the transfer ends with ConnectionError, the
    # file position is after the bytes sent, connection_lost(None) follows.
    loop = native_only
    if not type(loop).__module__.startswith("embedtornado"):
        pytest.skip("asyncio's loop never completes a sendfile whose transport is closed")
    path, _data = blob

    async def main():
        with listener(small=True) as lsock:
            tr, proto, peer = await client_and_peer(loop, lsock, small_sndbuf=True)
            with peer, open_rb(path) as f:
                task = asyncio.ensure_future(loop.sendfile(tr, f))
                first = await loop.sock_recv(peer, 1024)
                assert first
                getattr(tr, how)()
                with pytest.raises(ConnectionError):
                    await task
                assert 0 < f.tell() < SIZE
                assert await proto.lost is None
                got = first + await recv_until_eof(loop, peer)
                assert len(got) <= f.tell()
            proto.check()

    run(loop, main())


def test_cancel_stops_transfer_and_transport_keeps_working(native_only, blob):
    path, data = blob
    loop = native_only

    async def main():
        with listener(small=True) as lsock:
            tr, proto, peer = await client_and_peer(loop, lsock, small_sndbuf=True)
            with peer, open_rb(path) as f:
                task = asyncio.ensure_future(loop.sendfile(tr, f))
                first = await loop.sock_recv(peer, 1024)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                for _ in range(3):
                    await asyncio.sleep(0)
                assert tr.is_reading()
                pos = f.tell()
                tr.write(b"after")
                tr.close()
                got = first + await recv_until_eof(loop, peer)
            await proto.lost
            proto.check()
        # Everything sent before the cancellation arrives, then the write.
        n = len(got) - len(b"after")
        assert 0 < n < SIZE
        assert got == data[:n] + b"after"
        # Ours leaves the file position after the bytes sent, as on any other
        # end of the transfer; asyncio's loop leaves it where it was.
        if type(loop).__module__.startswith("embedtornado"):
            assert pos == n
        else:
            assert pos in (0, n)

    run(loop, main())


def test_not_a_real_file_falls_back_or_raises(sf_loop):
    loop = sf_loop
    data = os.urandom(100_000)

    async def main():
        with listener() as lsock:
            tr, proto, peer = await client_and_peer(loop, lsock)
            with peer:
                with pytest.raises(asyncio.SendfileNotAvailableError):
                    await loop.sendfile(tr, io.BytesIO(data), fallback=False)
                reader = asyncio.ensure_future(recv_until_eof(loop, peer))
                assert await loop.sendfile(tr, io.BytesIO(data), 10) == len(data) - 10
                tr.close()
                assert await reader == data[10:]
            await proto.lost
            proto.check()

    run(loop, main())


def test_bad_arguments(sf_loop, blob, tmp_path):
    loop = sf_loop
    path, _data = blob
    text = tmp_path / "t.txt"
    text.write_text("hello")

    async def main():
        with listener() as lsock:
            tr, proto, peer = await client_and_peer(loop, lsock)
            with peer, open_rb(path) as f, open_rb(text, "r") as tf:
                with pytest.raises(ValueError):
                    await loop.sendfile(tr, tf)
                with pytest.raises(ValueError):
                    await loop.sendfile(tr, f, offset=-1)
                with pytest.raises(ValueError):
                    await loop.sendfile(tr, f, count=0)
                with pytest.raises(TypeError):
                    await loop.sendfile(tr, f, count=1.5)
                # The transport is unharmed.
                assert tr.is_reading()
                tr.write(b"ok")
                tr.close()
                assert await recv_until_eof(loop, peer) == b"ok"
            await proto.lost
            with pytest.raises(RuntimeError):
                await loop.sendfile(tr, f)  # a closed transport
            proto.check()

    run(loop, main())


def test_tls_uses_the_fallback(sf_loop, blob):
    # TLS has no zero-copy path: sendfile reads and writes, with the same result.
    loop = sf_loop
    path, data = blob
    count = 700_000

    async def main():
        received = bytearray()
        done = loop.create_future()

        class Sink(asyncio.Protocol):
            def data_received(self, chunk):
                received.extend(chunk)
                if len(received) >= count and not done.done():
                    done.set_result(None)

        server = await loop.create_server(Sink, "127.0.0.1", 0, ssl=tls_server_context())
        try:
            tr, _proto = await loop.create_connection(
                asyncio.Protocol, *server.sockets[0].getsockname(),
                ssl=tls_client_context(), server_hostname="localhost")
            with open_rb(path) as f:
                with pytest.raises(RuntimeError):
                    await loop.sendfile(tr, f, fallback=False)
                assert await loop.sendfile(tr, f, offset=5, count=count) == count
                assert f.tell() == 5 + count
            await done
            tr.close()
        finally:
            server.close()
            await server.wait_closed()
        assert bytes(received) == data[5:5 + count]

    run(loop, main(), timeout=30)


# ----------------------------------------------------------- loop.sock_sendfile
#
# asyncio-eventloop, "Working with socket objects directly": ``await
# loop.sock_sendfile(sock, file, offset=0, count=None, *, fallback=True)``
# sends the file over a non-blocking stream socket "using high-performance
# os.sendfile if possible", returns the number of bytes sent and leaves the
# file position after the last byte sent; with ``fallback=False`` it raises
# `asyncio.SendfileNotAvailableError` where ``os.sendfile`` cannot be used.
# (uvloop has no zero-copy path for it: its row is skipped by sf_loop.)


@pytest.fixture
def sock_native_only(sf_loop, monkeypatch):
    return forbid(monkeypatch, sf_loop, "_sock_sendfile_fallback")


def socket_pair(small: bool = False) -> tuple[socket.socket, socket.socket]:
    """A connected TCP pair, both non-blocking; small kernel buffers on request."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as lsock:
        if small:
            small_buffers(lsock)
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(1)
        client = socket.create_connection(lsock.getsockname())
        peer, _ = lsock.accept()
    if small:
        small_buffers(client)
    client.setblocking(False)
    peer.setblocking(False)
    return client, peer


async def sock_send_and_collect(loop, path, *, small=False, **kw):
    """sock_sendfile to a peer that reads everything; (result, received, file position)."""
    sock, peer = socket_pair(small)
    with sock, peer, open_rb(path) as f:
        reader = asyncio.ensure_future(recv_until_eof(loop, peer))
        sent = await loop.sock_sendfile(sock, f, **kw)
        pos = f.tell()
        sock.shutdown(socket.SHUT_WR)
        got = await reader
    return sent, got, pos


def test_sock_sendfile_whole_file_with_os_sendfile(sock_native_only, blob):
    path, data = blob
    sent, got, pos = run(sock_native_only, sock_send_and_collect(sock_native_only, path))
    assert sent == len(data) and got == data and pos == len(data)


def test_sock_sendfile_offset_and_count(sock_native_only, blob):
    path, data = blob
    sent, got, pos = run(sock_native_only, sock_send_and_collect(
        sock_native_only, path, offset=1000, count=300_000))
    assert (sent, got, pos) == (300_000, data[1000:301_000], 301_000)


def test_sock_sendfile_waits_for_a_slow_reader(sock_native_only, blob):
    # Small buffers: sendfile(2) hits EAGAIN many times and resumes when the
    # socket is writable again; nothing is lost or repeated.
    path, data = blob
    sent, got, pos = run(sock_native_only, sock_send_and_collect(
        sock_native_only, path, small=True, count=400_000))
    assert (sent, got, pos) == (400_000, data[:400_000], 400_000)


def test_sock_sendfile_without_descriptor_or_fallback_is_not_available(sf_loop):
    async def main():
        sock, peer = socket_pair()
        with sock, peer:
            with pytest.raises(asyncio.SendfileNotAvailableError):
                await sf_loop.sock_sendfile(sock, io.BytesIO(b"x" * 10), fallback=False)
            # With the fallback the same file is read and sent.
            assert await sf_loop.sock_sendfile(sock, io.BytesIO(b"y" * 10)) == 10
            sock.shutdown(socket.SHUT_WR)
            assert await recv_until_eof(sf_loop, peer) == b"y" * 10

    run(sf_loop, main())


def test_sock_sendfile_cancelled_stops(sock_native_only, blob):
    # What arrived is a prefix of the file. (asyncio leaves the file position
    # where it was on cancellation; this loop runs asyncio's code for it.)
    path, data = blob

    async def main():
        sock, peer = socket_pair(small=True)
        with sock, peer, open_rb(path) as f:
            task = asyncio.ensure_future(sock_native_only.sock_sendfile(sock, f))
            got = b""
            while len(got) < 8192:  # let it start
                got += await sock_native_only.sock_recv(peer, 65536)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            # The loop no longer watches the socket for it.
            assert sock_native_only.remove_writer(sock.fileno()) is False
            sock.shutdown(socket.SHUT_WR)
            got += await recv_until_eof(sock_native_only, peer)
        assert 8192 <= len(got) < len(data)
        assert got == data[:len(got)]

    run(sock_native_only, main())
