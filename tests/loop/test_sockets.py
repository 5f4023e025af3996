"""File descriptor watching, the low-level sock_* coroutines and DNS helpers.

From the asyncio-eventloop page: "Watching file descriptors", "Working with
socket objects directly", "DNS".
"""

from __future__ import annotations

import asyncio
import socket

import pytest
from conformance import check_removed, in_thread, recv_until_eof, run, run_forever_bounded


@pytest.fixture
def pair():
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    yield a, b
    a.close()
    b.close()


@pytest.fixture
def listener():
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(8)
    lsock.setblocking(False)
    yield lsock
    lsock.close()


# --------------------------------------------------------------------------- readers/writers

def test_add_reader_called_with_args_when_readable(loop, pair):
    a, b = pair
    got = loop.create_future()

    def on_readable(tag):
        if not got.done():
            got.set_result((tag, a.recv(100)))

    loop.add_reader(a.fileno(), on_readable, "tag")
    loop.call_later(0.01, b.send, b"ping")
    assert run(loop, got) == ("tag", b"ping")
    check_removed(loop, loop.remove_reader(a.fileno()), True)


def test_remove_reader_return_values(loop, pair):
    # Docs: remove_reader "Return True if fd was previously being monitored for
    # reads."
    a, _b = pair
    check_removed(loop, loop.remove_reader(a.fileno()), False)
    loop.add_reader(a.fileno(), print)
    check_removed(loop, loop.remove_reader(a.fileno()), True)
    check_removed(loop, loop.remove_reader(a.fileno()), False)


def test_remove_writer_return_values(loop, pair):
    a, _b = pair
    check_removed(loop, loop.remove_writer(a.fileno()), False)
    loop.add_writer(a.fileno(), print)
    check_removed(loop, loop.remove_writer(a.fileno()), True)
    check_removed(loop, loop.remove_writer(a.fileno()), False)


def test_add_reader_accepts_file_like_object(loop, pair):
    a, b = pair
    got = loop.create_future()
    loop.add_reader(a, lambda: got.done() or got.set_result(a.recv(10)))
    b.send(b"obj")
    assert run(loop, got) == b"obj"
    check_removed(loop, loop.remove_reader(a), True)


def test_add_writer_fires_when_writable(loop, pair):
    a, _b = pair
    got = loop.create_future()
    loop.add_writer(a.fileno(), lambda x: got.done() or got.set_result(x), 7)
    assert run(loop, got) == 7
    check_removed(loop, loop.remove_writer(a.fileno()), True)


def test_reader_and_writer_on_same_fd_are_independent(loop, pair):
    a, b = pair
    events = []
    wrote = loop.create_future()
    read = loop.create_future()

    def on_write():
        events.append("w")
        loop.remove_writer(a.fileno())
        wrote.set_result(None)

    def on_read():
        events.append("r")
        a.recv(10)
        loop.remove_reader(a.fileno())
        read.set_result(None)

    loop.add_reader(a.fileno(), on_read)
    loop.add_writer(a.fileno(), on_write)

    async def main():
        await wrote
        assert "r" not in events
        b.send(b"x")
        await read
        # Removing the writer left the reader in place and vice versa.
        check_removed(loop, loop.remove_writer(a.fileno()), False)
        check_removed(loop, loop.remove_reader(a.fileno()), False)

    run(loop, main())


def test_add_reader_replaces_previous_callback(loop, pair):
    a, b = pair
    got = loop.create_future()
    loop.add_reader(a.fileno(), lambda: got.done() or got.set_result("old"))
    loop.add_reader(a.fileno(), lambda: got.done() or got.set_result("new"))
    b.send(b"x")
    assert run(loop, got) == "new"
    check_removed(loop, loop.remove_reader(a.fileno()), True)
    check_removed(loop, loop.remove_reader(a.fileno()), False)


def test_reader_is_level_triggered(loop, pair):
    # Reference behaviour: a reader that does not drain the fd is called again.
    a, b = pair
    calls = []
    done = loop.create_future()

    def on_readable():
        calls.append(1)
        if len(calls) == 3:
            loop.remove_reader(a.fileno())
            done.set_result(None)

    loop.add_reader(a.fileno(), on_readable)
    b.send(b"never read")
    run(loop, done)
    assert len(calls) == 3


def test_removed_reader_is_not_called(loop, pair):
    a, b = pair
    calls = []
    loop.add_reader(a.fileno(), calls.append, "r")
    loop.remove_reader(a.fileno())
    b.send(b"x")
    run(loop, asyncio.sleep(0.02))
    assert calls == []


def test_reader_removed_by_another_callback_in_same_iteration(loop):
    # Two fds become readable together; whichever callback runs first removes
    # the other's reader, which then must not be called (its event was
    # already collected by the same poll).
    s1a, s1b = socket.socketpair()
    s2a, s2b = socket.socketpair()
    try:
        calls = []
        done = loop.create_future()

        def first():
            calls.append("first")
            s1a.recv(10)
            loop.remove_reader(s1a.fileno())
            loop.remove_reader(s2a.fileno())
            loop.call_later(0.02, done.set_result, None)

        def second():
            calls.append("second")
            s2a.recv(10)
            loop.remove_reader(s2a.fileno())
            loop.remove_reader(s1a.fileno())
            loop.call_later(0.02, done.set_result, None)

        loop.add_reader(s1a.fileno(), first)
        loop.add_reader(s2a.fileno(), second)
        s1b.send(b"1")
        s2b.send(b"2")
        run(loop, done)
        assert len(calls) == 1
    finally:
        for s in (s1a, s1b, s2a, s2b):
            s.close()


def test_exception_in_reader_reaches_handler(loop, pair):
    a, b = pair
    contexts = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append(ctx))

    def bad():
        a.recv(10)
        loop.remove_reader(a.fileno())
        raise ValueError("reader failed")

    loop.add_reader(a.fileno(), bad)
    b.send(b"x")
    assert run(loop, asyncio.sleep(0.02, "alive")) == "alive"
    assert [type(c.get("exception")) for c in contexts] == [ValueError]


def test_reader_on_pipe(loop):
    import os

    r, w = os.pipe()
    try:
        os.set_blocking(r, False)
        got = loop.create_future()
        loop.add_reader(r, lambda: got.done() or got.set_result(os.read(r, 10)))
        in_thread(lambda: os.write(w, b"pipe"), delay=0.01)
        assert run(loop, got) == b"pipe"
        check_removed(loop, loop.remove_reader(r), True)
    finally:
        os.close(r)
        os.close(w)


def test_reader_sees_hangup(loop, pair):
    # A peer closing its end makes the fd readable (recv returns b"").
    a, b = pair
    got = loop.create_future()
    loop.add_reader(a.fileno(), lambda: got.done() or got.set_result(a.recv(10)))
    b.close()
    assert run(loop, got) == b""
    loop.remove_reader(a.fileno())


# --------------------------------------------------------------------------- sock_*

def test_sock_accept_connect_sendall_recv(loop, listener):
    payload = bytes(range(256)) * 4096  # 1 MiB

    async def server():
        conn, addr = await loop.sock_accept(listener)
        with conn:
            assert conn.gettimeout() == 0 or not conn.getblocking()
            assert addr[0] == "127.0.0.1"
            data = await recv_until_eof(loop, conn)
            await loop.sock_sendall(conn, b"got %d" % len(data))
            return data

    async def client():
        with socket.socket() as c:
            c.setblocking(False)
            await loop.sock_connect(c, listener.getsockname())
            assert c.getpeername() == listener.getsockname()
            assert await loop.sock_sendall(c, payload) is None
            c.shutdown(socket.SHUT_WR)
            return await recv_until_eof(loop, c)

    async def main():
        return await asyncio.gather(server(), client())

    received, reply = run(loop, main())
    assert received == payload
    assert reply == b"got %d" % len(payload)


def test_sock_recv_into(loop, pair):
    a, b = pair

    async def main():
        buf = bytearray(10)
        loop.call_later(0.01, b.send, b"hello")
        n = await loop.sock_recv_into(a, buf)
        assert buf[:n] == b"hello"[:n]
        mv = memoryview(bytearray(4))
        b.send(b"wxyz")
        n2 = await loop.sock_recv_into(a, mv)
        return n, n2

    n, n2 = run(loop, main())
    assert n == 5 and 1 <= n2 <= 4


def test_sock_recv_returns_empty_at_eof(loop, pair):
    a, b = pair

    async def main():
        loop.call_later(0.01, b.shutdown, socket.SHUT_WR)
        return await loop.sock_recv(a, 100)

    assert run(loop, main()) == b""


def test_sock_recv_cancelled_leaves_socket_usable(loop, pair):
    a, b = pair

    async def main():
        t = loop.create_task(loop.sock_recv(a, 100))
        await asyncio.sleep(0.01)
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
        b.send(b"after cancel")
        return await loop.sock_recv(a, 100)

    assert run(loop, main()) == b"after cancel"


def test_sock_sendall_large_with_slow_reader(loop, pair):
    a, b = pair
    payload = b"z" * (4 * 1024 * 1024)

    async def reader():
        await asyncio.sleep(0.02)  # let the sender fill the socket buffer first
        return await recv_until_eof(loop, b, limit=len(payload))

    async def writer():
        await loop.sock_sendall(a, payload)
        a.shutdown(socket.SHUT_WR)

    async def main():
        got, _ = await asyncio.gather(reader(), writer())
        return got

    assert run(loop, main()) == payload


def test_sock_connect_refused(loop):
    # Find a port nobody listens on: bind, note the port, close.
    with socket.socket() as tmp:
        tmp.bind(("127.0.0.1", 0))
        port = tmp.getsockname()[1]

    async def main():
        with socket.socket() as c:
            c.setblocking(False)
            with pytest.raises(ConnectionRefusedError):
                await loop.sock_connect(c, ("127.0.0.1", port))

    run(loop, main())


def test_sock_accept_cancelled(loop, listener):
    async def main():
        t = loop.create_task(loop.sock_accept(listener))
        await asyncio.sleep(0.01)
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
        # The listener still works.
        with socket.create_connection(listener.getsockname()):
            conn, _ = await loop.sock_accept(listener)
            conn.close()

    run(loop, main())


def test_sock_connect_by_hostname_string(loop, listener):
    # sock_connect resolves "localhost" (the docs: address is as for
    # socket.connect; asyncio resolves names without blocking the loop).
    port = listener.getsockname()[1]

    async def main():
        with socket.socket(socket.AF_INET) as c:
            c.setblocking(False)
            await loop.sock_connect(c, ("localhost", port))
            conn, _ = await loop.sock_accept(listener)
            conn.close()

    run(loop, main())


def test_sock_unix_stream(loop):
    from conformance import short_tmpdir

    with short_tmpdir() as d:
        path = str(d / "s")
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
        srv.listen(1)
        srv.setblocking(False)
        try:
            async def main():
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
                    c.setblocking(False)
                    await loop.sock_connect(c, path)
                    conn, _ = await loop.sock_accept(srv)
                    with conn:
                        await loop.sock_sendall(c, b"unix")
                        return await loop.sock_recv(conn, 10)

            assert run(loop, main()) == b"unix"
        finally:
            srv.close()


# --------------------------------------------------------------------------- DNS

def test_getaddrinfo_numeric_matches_socket_module(loop):
    async def main():
        return await loop.getaddrinfo("127.0.0.1", 8080, type=socket.SOCK_STREAM)

    infos = run(loop, main())
    expected = socket.getaddrinfo("127.0.0.1", 8080, type=socket.SOCK_STREAM)
    norm = lambda rows: sorted((int(f), int(t), p, a) for f, t, p, _c, a in rows)
    assert norm(infos) == norm(expected)
    for family, type_, proto, canon, addr in infos:
        assert family == socket.AF_INET and addr == ("127.0.0.1", 8080)


def test_getaddrinfo_localhost_and_flags(loop):
    async def main():
        return await loop.getaddrinfo("localhost", "80", family=socket.AF_INET,
                                      type=socket.SOCK_STREAM, flags=socket.AI_NUMERICSERV)

    infos = run(loop, main())
    assert infos and all(i[4] == ("127.0.0.1", 80) for i in infos)


def test_getaddrinfo_error_is_gaierror(loop):
    async def main():
        with pytest.raises(socket.gaierror):
            await loop.getaddrinfo("127.0.0.1", "no-such-service-xyz", type=socket.SOCK_STREAM)

    run(loop, main())


def test_getnameinfo(loop):
    async def main():
        return await loop.getnameinfo(("127.0.0.1", 80),
                                      socket.NI_NUMERICHOST | socket.NI_NUMERICSERV)

    assert run(loop, main()) == ("127.0.0.1", "80")


def test_getaddrinfo_does_not_block_loop(loop):
    # Docs: getaddrinfo is the "asynchronous version of socket.getaddrinfo()":
    # while it runs, other callbacks keep running.
    ticks = []

    async def ticker():
        for _ in range(3):
            ticks.append(1)
            await asyncio.sleep(0)

    async def main():
        await asyncio.gather(loop.getaddrinfo("127.0.0.1", 80), ticker())

    run(loop, main())
    assert len(ticks) == 3


def test_run_forever_exits_with_reader_registered(loop, pair):
    # A registered fd does not keep run_forever from stopping.
    a, _b = pair
    loop.add_reader(a.fileno(), print)
    loop.call_soon(loop.stop)
    assert run_forever_bounded(loop)
    check_removed(loop, loop.remove_reader(a.fileno()), True)


def test_fd_number_reused_after_remove_and_close(loop):
    # epoll forgets a closed fd by itself; a loop must still accept the same
    # fd number, reused by a new socket, after remove_reader() on the old one.
    a, b = socket.socketpair()
    fd = a.fileno()
    loop.add_reader(fd, print)
    a.close()
    check_removed(loop, loop.remove_reader(fd), True)
    c, d = socket.socketpair()
    try:
        got = loop.create_future()
        loop.add_reader(c.fileno(), lambda: got.done() or got.set_result(c.recv(5)))
        d.send(b"reuse")
        assert run(loop, got) == b"reuse"
        check_removed(loop, loop.remove_reader(c.fileno()), True)
    finally:
        for s in (b, c, d):
            s.close()


def test_add_reader_on_regular_file_raises(loop, tmp_path):
    # Reference behaviour: epoll cannot watch regular files; the error
    # (PermissionError, EPERM) surfaces from add_reader itself.
    with open(tmp_path / "f", "wb") as f, pytest.raises(PermissionError):
        loop.add_reader(f.fileno(), print)


def test_many_fds_watched_at_once(loop):
    pairs = [socket.socketpair() for _ in range(200)]
    try:
        seen = set()
        done = loop.create_future()

        def on_readable(i, sock):
            sock.recv(10)
            loop.remove_reader(sock.fileno())
            seen.add(i)
            if len(seen) == len(pairs) and not done.done():
                done.set_result(None)

        for i, (a, _b) in enumerate(pairs):
            a.setblocking(False)
            loop.add_reader(a.fileno(), on_readable, i, a)
        for _a, b in reversed(pairs):
            b.send(b"!")
        run(loop, done)
        assert seen == set(range(len(pairs)))
    finally:
        for a, b in pairs:
            a.close()
            b.close()


def test_callback_chain_does_not_starve_io(loop, pair):
    # Reference behaviour: callbacks scheduled by callbacks run on the next
    # iteration, after the loop polled for I/O, so a self-rescheduling
    # callback cannot starve readers.
    a, b = pair
    got = loop.create_future()
    spins = [0]

    def spin():
        spins[0] += 1
        if not got.done():
            loop.call_soon(spin)

    loop.add_reader(a.fileno(), lambda: got.done() or got.set_result(a.recv(10)))
    loop.call_soon(spin)
    loop.call_later(0.01, b.send, b"io")
    assert run(loop, got) == b"io"
    loop.remove_reader(a.fileno())
