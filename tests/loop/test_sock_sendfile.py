"""loop.sock_sendfile on a plain socket (asyncio-eventloop: "Working with socket objects directly").

The documented contract: ``await loop.sock_sendfile(sock, file, offset=0,
count=None, *, fallback=True)`` sends the file over a non-blocking stream
socket "using high-performance os.sendfile if possible", returns the number
of bytes sent, and leaves the file position after the last byte sent. With
``fallback=False`` it raises `asyncio.SendfileNotAvailableError` where
``os.sendfile`` cannot be used (a file object without a descriptor) instead
of reading and sending.
"""

from __future__ import annotations

import asyncio
import io
import os
import socket

import pytest
from conformance import is_uvloop, recv_until_eof, run, small_buffers

SIZE = 2 * 1024 * 1024 + 4321  # not a multiple of any chunk size


@pytest.fixture
def ss_loop(loop):
    if is_uvloop(loop):
        pytest.skip("uvloop does not implement loop.sock_sendfile's zero-copy path")
    return loop


@pytest.fixture(scope="module")
def blob(tmp_path_factory):
    data = os.urandom(SIZE)
    path = tmp_path_factory.mktemp("sock_sendfile") / "blob.bin"
    path.write_bytes(data)
    return path, data


@pytest.fixture
def native_only(ss_loop, monkeypatch):
    """Make the read/send fallback fail: the os.sendfile path must be taken."""

    async def no_fallback(*args, **kwargs):
        raise AssertionError("loop.sock_sendfile used the read/send fallback")

    monkeypatch.setattr(type(ss_loop), "_sock_sendfile_fallback", no_fallback)
    return ss_loop


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


async def send_and_collect(loop, path, *, small=False, **kw):
    """sock_sendfile to a peer that reads everything; (result, received, file position)."""
    sock, peer = socket_pair(small)
    with sock, peer, open(path, "rb") as f:
        reader = asyncio.ensure_future(recv_until_eof(loop, peer))
        sent = await loop.sock_sendfile(sock, f, **kw)
        pos = f.tell()
        sock.shutdown(socket.SHUT_WR)
        got = await reader
    return sent, got, pos


def test_whole_file_with_os_sendfile(native_only, blob):
    path, data = blob
    sent, got, pos = run(native_only, send_and_collect(native_only, path))
    assert sent == len(data) and got == data and pos == len(data)


def test_offset_and_count(native_only, blob):
    path, data = blob
    sent, got, pos = run(native_only, send_and_collect(native_only, path,
                                                      offset=1000, count=300_000))
    assert (sent, got, pos) == (300_000, data[1000:301_000], 301_000)


def test_a_slow_reader_makes_it_wait_for_the_socket(native_only, blob):
    # Small buffers: sendfile(2) hits EAGAIN many times and resumes when the
    # socket is writable again; nothing is lost or repeated.
    path, data = blob
    sent, got, pos = run(native_only, send_and_collect(native_only, path, small=True,
                                                      count=400_000))
    assert (sent, got, pos) == (400_000, data[:400_000], 400_000)


def test_no_descriptor_without_fallback_is_not_available(ss_loop):
    async def main():
        sock, peer = socket_pair()
        with sock, peer:
            with pytest.raises(asyncio.SendfileNotAvailableError):
                await ss_loop.sock_sendfile(sock, io.BytesIO(b"x" * 10), fallback=False)
            # With the fallback the same file is read and sent.
            assert await ss_loop.sock_sendfile(sock, io.BytesIO(b"y" * 10)) == 10
            sock.shutdown(socket.SHUT_WR)
            assert await recv_until_eof(ss_loop, peer) == b"y" * 10

    run(ss_loop, main())


def test_cancelling_stops_it(native_only, blob):
    # What arrived is a prefix of the file. (asyncio leaves the file position
    # where it was on cancellation; this loop runs asyncio's code for it.)
    path, data = blob

    async def main():
        sock, peer = socket_pair(small=True)
        with sock, peer, open(path, "rb") as f:
            task = asyncio.ensure_future(native_only.sock_sendfile(sock, f))
            got = b""
            while len(got) < 8192:  # let it start
                got += await native_only.sock_recv(peer, 65536)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            # The loop no longer watches the socket for it.
            assert native_only.remove_writer(sock.fileno()) is False
            sock.shutdown(socket.SHUT_WR)
            got += await recv_until_eof(native_only, peer)
        assert 8192 <= len(got) < len(data)
        assert got == data[:len(got)]

    run(native_only, main())
