"""Streaming servers, connections and transports over TCP and Unix sockets.

From the asyncio-eventloop page ("Opening network connections", "Creating
network servers", "Server Objects") and the asyncio-protocol page
("Transports", "Streaming Protocols", "Connection Callbacks").
"""

from __future__ import annotations

import asyncio
import errno
import socket

import pytest
from conformance import (
    EchoProtocol,
    RecordingProtocol,
    ServerRecorder,
    close_server,
    close_transport,
    connected_pair,
    ipv6_available,
    recv_until_eof,
    run,
    short_tmpdir,
)

HOSTS = [
    pytest.param("127.0.0.1", id="ipv4"),
    pytest.param("::1", id="ipv6", marks=pytest.mark.skipif(not ipv6_available(),
                                                            reason="no IPv6 loopback")),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- echo

@pytest.mark.parametrize("host", HOSTS)
def test_tcp_echo_and_orderly_close(loop, host):
    async def main():
        async with connected_pair(loop, host=host,
                                  server_protocol=lambda: EchoProtocol(loop)) as p:
            tr, cli = p.client_transport, p.client
            tr.write(b"hello ")
            tr.writelines([b"wor", bytearray(b"ld"), memoryview(b"!")])
            assert await cli.wait_bytes(12) == b"hello world!"
            tr.close()  # FIN -> server eof_received -> server closes -> client lost
            assert tr.is_closing()
            assert await cli.lost is None
            assert await p.srv.lost is None
            cli.check()
            p.srv.check()
            assert p.srv.events[-2:] == ["eof_received", "connection_lost"]
            assert bytes(p.srv.data) == b"hello world!"

    run(loop, main())


def test_tcp_echo_in_debug_mode(loop, caplog):
    # Debug mode changes code paths (checks, source tracebacks); the same
    # exchange works, and nothing is logged at warning level or above.
    import logging

    loop.set_debug(True)
    loop.slow_callback_duration = 1.0  # a shared CI machine may be slow

    async def main():
        async with connected_pair(loop, server_protocol=lambda: EchoProtocol(loop)) as p:
            p.client_transport.write(b"debug")
            assert await p.client.wait_bytes(5) == b"debug"
            p.client_transport.close()
            await p.client.lost
            await p.srv.lost

    with caplog.at_level(logging.WARNING, logger="asyncio"):
        run(loop, main())
    loop.set_debug(False)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text


def test_large_transfer_both_directions(loop):
    payload = bytes(range(256)) * (8 * 1024)  # 2 MiB

    async def main():
        async with connected_pair(loop, server_protocol=lambda: EchoProtocol(loop)) as p:
            p.client_transport.write(payload)
            got = await p.client.wait_bytes(len(payload))
            assert got == payload

    run(loop, main())


def test_many_concurrent_connections(loop):
    n = 50

    async def main():
        server = await loop.create_server(lambda: EchoProtocol(loop), "127.0.0.1", 0,
                                          backlog=n)
        port = server.sockets[0].getsockname()[1]
        try:
            async def one(i):
                tr, proto = await loop.create_connection(lambda: RecordingProtocol(loop),
                                                         "127.0.0.1", port)
                msg = b"client %d" % i
                tr.write(msg)
                got = await proto.wait_bytes(len(msg))
                tr.close()
                await proto.lost
                proto.check()
                return got == msg

            assert all(await asyncio.gather(*(one(i) for i in range(n))))
        finally:
            await close_server(server)

    run(loop, main())


def test_buffered_protocol(loop):
    # asyncio-protocol, "Buffered Streaming Protocols": get_buffer(sizehint)
    # returns a buffer; buffer_updated(nbytes) reports what was written to it.
    payload = b"b" * (512 * 1024)

    class Buffered(asyncio.BufferedProtocol):
        def __init__(self):
            self.buf = bytearray(16 * 1024)
            self.received = bytearray()
            self.done = loop.create_future()
            self.sizehints = []

        def connection_made(self, transport):
            self.transport = transport

        def get_buffer(self, sizehint):
            self.sizehints.append(sizehint)
            return memoryview(self.buf)

        def buffer_updated(self, nbytes):
            assert 0 < nbytes <= len(self.buf)
            self.received += self.buf[:nbytes]

        def eof_received(self):
            self.done.set_result(bytes(self.received))

        def connection_lost(self, exc):
            if not self.done.done():
                self.done.set_result(bytes(self.received))

    async def main():
        protos = []
        server = await loop.create_server(lambda: protos.append(Buffered()) or protos[-1],
                                          "127.0.0.1", 0)
        try:
            port = server.sockets[0].getsockname()[1]
            tr, _ = await loop.create_connection(lambda: RecordingProtocol(loop),
                                                 "127.0.0.1", port)
            tr.write(payload)
            tr.write_eof()
            while not protos:
                await asyncio.sleep(0.001)
            got = await protos[0].done
            tr.close()
            protos[0].transport.close()
            assert got == payload
            assert all(isinstance(h, int) for h in protos[0].sizehints)
        finally:
            await close_server(server)

    run(loop, main())


# --------------------------------------------------------------------------- transport API

def test_get_extra_info(loop):
    async def main():
        async with connected_pair(loop) as p:
            ct, st = p.client_transport, p.server_transport
            cpeer, csock = ct.get_extra_info("peername"), ct.get_extra_info("sockname")
            speer, ssock = st.get_extra_info("peername"), st.get_extra_info("sockname")
            assert cpeer == ssock and speer == csock
            assert ssock == p.server.sockets[0].getsockname()
            for tr, name in ((ct, csock), (st, ssock)):
                sock = tr.get_extra_info("socket")
                assert sock is not None
                assert sock.fileno() >= 0
                assert sock.family == socket.AF_INET
                assert sock.type == socket.SOCK_STREAM
                assert sock.getsockname() == name
            assert ct.get_extra_info("no-such-key") is None
            assert ct.get_extra_info("no-such-key", "dflt") == "dflt"

    run(loop, main())


def test_get_set_protocol(loop):
    async def main():
        async with connected_pair(loop) as p:
            tr = p.client_transport
            assert tr.get_protocol() is p.client
            other = RecordingProtocol(loop)
            other.state = "CONNECTED"
            tr.set_protocol(other)
            assert tr.get_protocol() is other
            p.server_transport.write(b"to the new protocol")
            assert await other.wait_bytes(19) == b"to the new protocol"
            assert p.client.data == b""
            tr.set_protocol(p.client)

    run(loop, main())


def test_transport_is_not_reused_after_close(loop):
    async def main():
        async with connected_pair(loop) as p:
            tr = p.client_transport
            assert not tr.is_closing()
            tr.close()
            assert tr.is_closing()
            tr.close()  # idempotent
            assert await p.client.lost is None
            p.client.check()

    run(loop, main())


def test_close_flushes_buffered_data(loop):
    # asyncio-protocol, BaseTransport.close(): "Buffered data will be flushed
    # asynchronously. No more data will be received. After all buffered data
    # is flushed, the protocol's connection_lost() method will be called with
    # None as its argument."
    payload = bytes(range(256)) * (16 * 1024)  # 4 MiB, more than the kernel holds

    async def main():
        with socket.create_server(("127.0.0.1", 0)) as lsock:
            tr, proto = await loop.create_connection(lambda: RecordingProtocol(loop),
                                                     *lsock.getsockname())
            peer, _ = lsock.accept()
            with peer:
                peer.setblocking(False)
                tr.write(payload)
                assert tr.get_write_buffer_size() > 0, "the kernel took 4 MiB at once"
                tr.close()
                assert tr.is_closing()
                await asyncio.sleep(0.02)
                assert not proto.lost.done(), "connection_lost before the buffer was flushed"
                got = await recv_until_eof(loop, peer)
            assert got == payload
            assert await proto.lost is None
            proto.check()

    run(loop, main())


def test_abort_drops_buffered_data(loop):
    # asyncio-protocol, WriteTransport.abort(): "Close the transport
    # immediately, without waiting for pending operations to complete.
    # Buffered data will be lost. No more data will be received. The
    # protocol's connection_lost() method will eventually be called with None
    # as its argument."
    payload = b"a" * (8 * 1024 * 1024)

    async def main():
        with socket.create_server(("127.0.0.1", 0)) as lsock:
            tr, proto = await loop.create_connection(lambda: RecordingProtocol(loop),
                                                     *lsock.getsockname())
            peer, _ = lsock.accept()
            with peer:
                peer.setblocking(False)
                tr.write(payload)
                assert tr.get_write_buffer_size() > 0
                tr.abort()
                assert tr.is_closing()
                assert await proto.lost is None
                got = await recv_until_eof(loop, peer)
            assert len(got) < len(payload)
            proto.check()

    run(loop, main())


def test_connection_lost_once_with_error_on_reset(loop):
    # The peer resets the connection (SO_LINGER 0): connection_lost gets the
    # OSError, exactly once, and the exception handler is not involved.
    import struct

    async def main():
        with socket.create_server(("127.0.0.1", 0)) as lsock:
            tr, proto = await loop.create_connection(lambda: RecordingProtocol(loop),
                                                     *lsock.getsockname())
            peer, _ = lsock.accept()
            peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            peer.close()
            exc = await proto.lost
            assert isinstance(exc, ConnectionResetError), exc
            await asyncio.sleep(0.01)
            proto.check()
            assert tr.is_closing()

    run(loop, main())


def test_peer_close_gives_eof_then_lost(loop):
    async def main():
        with socket.create_server(("127.0.0.1", 0)) as lsock:
            _tr, proto = await loop.create_connection(lambda: RecordingProtocol(loop),
                                                      *lsock.getsockname())
            peer, _ = lsock.accept()
            peer.sendall(b"last words")
            peer.close()
            await proto.eof
            # eof_received returned None: the transport closes itself.
            assert await proto.lost is None
            assert bytes(proto.data) == b"last words"
            assert proto.events[0] == "connection_made"
            assert proto.events[-2:] == ["eof_received", "connection_lost"]
            proto.check()

    run(loop, main())


def test_write_accepts_bytes_like(loop):
    async def main():
        async with connected_pair(loop) as p:
            tr = p.client_transport
            tr.write(b"a")
            tr.write(bytearray(b"b"))
            tr.write(memoryview(b"xcx")[1:2])
            tr.write(b"")  # no-op
            assert await p.srv.wait_bytes(3) == b"abc"
            with pytest.raises(TypeError):
                tr.write("text is not bytes")

    run(loop, main())


def test_protocol_exception_in_data_received_reaches_handler(loop):
    contexts = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append(ctx))

    class Bad(RecordingProtocol):
        def data_received(self, data):
            super().data_received(data)
            raise ValueError("protocol bug")

    async def main():
        async with connected_pair(loop, server_protocol=lambda: Bad(loop)) as p:
            p.client_transport.write(b"x")
            # Reference behaviour: the transport is closed with the error.
            exc = await p.srv.lost
            assert isinstance(exc, ValueError)
            await p.client.lost

    run(loop, main())
    assert any(isinstance(c.get("exception"), ValueError) for c in contexts)


# --------------------------------------------------------------------------- servers

def test_server_object(loop):
    async def main():
        server = await loop.create_server(lambda: EchoProtocol(loop), "127.0.0.1", 0)
        try:
            assert server.get_loop() is loop
            assert server.is_serving()
            socks = server.sockets
            assert len(socks) == 1
            host, port = socks[0].getsockname()
            assert host == "127.0.0.1" and port > 0
            tr, proto = await loop.create_connection(lambda: RecordingProtocol(loop), host, port)
            tr.write(b"ping")
            assert await proto.wait_bytes(4) == b"ping"
            server.close()
            assert not server.is_serving()
            await server.wait_closed()
            assert not server.sockets
            # Docs (Server.close): "The server is closed asynchronously ...
            # existing connections are left open" -- the accepted one still works.
            tr.write(b"pong")
            assert await proto.wait_bytes(8) == b"pingpong"
            tr.close()
            await proto.lost
            # The listening socket is gone.
            with pytest.raises(OSError):
                t2, _ = await loop.create_connection(asyncio.Protocol, host, port)
                t2.close()
        finally:
            server.close()
            await server.wait_closed()

    run(loop, main())


def test_server_start_serving_false(loop):
    async def main():
        server = await loop.create_server(lambda: EchoProtocol(loop), "127.0.0.1", 0,
                                          start_serving=False)
        try:
            assert not server.is_serving()
            await server.start_serving()
            assert server.is_serving()
            port = server.sockets[0].getsockname()[1]
            tr, proto = await loop.create_connection(lambda: RecordingProtocol(loop),
                                                     "127.0.0.1", port)
            tr.write(b"x")
            assert await proto.wait_bytes(1) == b"x"
            tr.close()
            await proto.lost
        finally:
            await close_server(server)

    run(loop, main())


def test_server_async_context_manager(loop):
    async def main():
        server = await loop.create_server(asyncio.Protocol, "127.0.0.1", 0)
        async with server:
            assert server.is_serving()
        assert not server.is_serving()
        await server.wait_closed()

    run(loop, main())


def test_serve_forever_cancel_closes_server(loop):
    # Docs: "Cancelling serve_forever task causes the server to be closed."
    async def main():
        server = await loop.create_server(asyncio.Protocol, "127.0.0.1", 0,
                                          start_serving=False)
        t = loop.create_task(server.serve_forever())
        await asyncio.sleep(0.01)
        assert server.is_serving()
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
        assert not server.is_serving()
        await server.wait_closed()

    run(loop, main())


def test_create_server_with_sock(loop):
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.bind(("127.0.0.1", 0))
    addr = lsock.getsockname()

    async def main():
        server = await loop.create_server(lambda: EchoProtocol(loop), sock=lsock)
        try:
            assert server.sockets[0].getsockname() == addr
            tr, proto = await loop.create_connection(lambda: RecordingProtocol(loop), *addr)
            tr.write(b"sock=")
            assert await proto.wait_bytes(5) == b"sock="
            tr.close()
            await proto.lost
        finally:
            await close_server(server)

    try:
        run(loop, main())
    finally:
        lsock.close()


def test_create_server_reuse_port(loop):
    async def main():
        s1 = await loop.create_server(asyncio.Protocol, "127.0.0.1", 0, reuse_port=True)
        port = s1.sockets[0].getsockname()[1]
        try:
            s2 = await loop.create_server(asyncio.Protocol, "127.0.0.1", port,
                                          reuse_port=True)
            try:
                sock = s2.sockets[0]
                assert sock.getsockname()[1] == port
                if hasattr(sock, "getsockopt"):
                    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT)
            finally:
                await close_server(s2)
        finally:
            await close_server(s1)

    run(loop, main())


def test_create_server_address_in_use(loop):
    async def main():
        s1 = await loop.create_server(asyncio.Protocol, "127.0.0.1", 0)
        port = s1.sockets[0].getsockname()[1]
        try:
            with pytest.raises(OSError) as info:
                s2 = await loop.create_server(asyncio.Protocol, "127.0.0.1", port)
                await close_server(s2)
            assert info.value.errno == errno.EADDRINUSE
        finally:
            await close_server(s1)

    run(loop, main())


def test_create_server_backlog(loop):
    async def main():
        server = await loop.create_server(lambda: EchoProtocol(loop), "127.0.0.1", 0,
                                          backlog=1)
        try:
            port = server.sockets[0].getsockname()[1]
            tr, proto = await loop.create_connection(lambda: RecordingProtocol(loop),
                                                     "127.0.0.1", port)
            tr.write(b"b")
            assert await proto.wait_bytes(1) == b"b"
            tr.close()
            await proto.lost
        finally:
            await close_server(server)

    run(loop, main())


# --------------------------------------------------------------------------- connections

def test_create_connection_refused(loop):
    port = free_port()

    async def main():
        with pytest.raises(OSError) as info:
            tr, _ = await loop.create_connection(asyncio.Protocol, "127.0.0.1", port)
            tr.close()
        assert isinstance(info.value, ConnectionRefusedError) or \
            info.value.errno == errno.ECONNREFUSED

    run(loop, main())


def test_create_connection_local_addr_and_localhost(loop):
    async def main():
        rec = ServerRecorder(loop)
        server = await loop.create_server(rec, "127.0.0.1", 0)
        try:
            port = server.sockets[0].getsockname()[1]
            tr, proto = await loop.create_connection(lambda: RecordingProtocol(loop),
                                                     "localhost", port,
                                                     family=socket.AF_INET,
                                                     local_addr=("127.0.0.1", 0))
            assert tr.get_extra_info("sockname")[0] == "127.0.0.1"
            assert tr.get_extra_info("peername") == ("127.0.0.1", port)
            srv = await rec.first()
            assert srv.transport.get_extra_info("peername") == tr.get_extra_info("sockname")
            tr.close()
            srv.transport.close()
            await proto.lost
        finally:
            await close_server(server)

    run(loop, main())


def test_create_connection_with_sock(loop):
    async def main():
        with socket.create_server(("127.0.0.1", 0)) as lsock:
            sock = socket.create_connection(lsock.getsockname())
            peer, _ = lsock.accept()
            with peer:
                tr, proto = await loop.create_connection(lambda: RecordingProtocol(loop),
                                                         sock=sock)
                assert tr.get_extra_info("peername") == lsock.getsockname()
                peer.sendall(b"via sock=")
                assert await proto.wait_bytes(9) == b"via sock="
                tr.write(b"back")  # sent asynchronously: read it the same way
                peer.setblocking(False)
                assert await asyncio.wait_for(loop.sock_recv(peer, 10), 5) == b"back"
                tr.close()
                await proto.lost
                proto.check()

    run(loop, main())


def test_connect_accepted_socket(loop):
    # Docs: connect_accepted_socket "Wrap an already accepted connection into
    # a transport/protocol pair."
    async def main():
        with socket.create_server(("127.0.0.1", 0)) as lsock:
            client = socket.create_connection(lsock.getsockname())
            accepted, _ = lsock.accept()
            with client:
                tr, proto = await loop.connect_accepted_socket(
                    lambda: RecordingProtocol(loop), accepted)
                assert isinstance(proto, RecordingProtocol)
                assert tr.get_extra_info("peername") == client.getsockname()
                client.sendall(b"accepted")
                assert await proto.wait_bytes(8) == b"accepted"
                tr.write(b"reply")
                client.setblocking(False)
                assert await asyncio.wait_for(loop.sock_recv(client, 10), 5) == b"reply"
                client.shutdown(socket.SHUT_WR)
                await proto.eof
                assert await proto.lost is None
                proto.check()

    run(loop, main())


def test_create_connection_cancelled_before_connect(loop):
    async def main():
        server = await loop.create_server(asyncio.Protocol, "127.0.0.1", 0)
        try:
            port = server.sockets[0].getsockname()[1]
            t = loop.create_task(loop.create_connection(asyncio.Protocol, "127.0.0.1", port))
            t.cancel()
            with pytest.raises(asyncio.CancelledError):
                await t
        finally:
            await close_server(server)

    run(loop, main())


# --------------------------------------------------------------------------- unix

def test_unix_echo(loop):
    async def main():
        async with connected_pair(loop, kind="unix",
                                  server_protocol=lambda: EchoProtocol(loop)) as p:
            path = p.server.sockets[0].getsockname()
            assert isinstance(path, str) and path.endswith("sock")
            assert p.client_transport.get_extra_info("peername") == path
            assert p.client_transport.get_extra_info("socket").family == socket.AF_UNIX
            p.client_transport.write(b"unix echo")
            assert await p.client.wait_bytes(9) == b"unix echo"
            p.client_transport.write_eof()
            await p.client.eof
            assert await p.client.lost is None
            p.client.check()

    run(loop, main())


def test_unix_server_with_sock(loop):
    async def main():
        with short_tmpdir() as d:
            path = str(d / "s")
            lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            lsock.bind(path)
            server = await loop.create_unix_server(lambda: EchoProtocol(loop), sock=lsock)
            try:
                tr, proto = await loop.create_unix_connection(
                    lambda: RecordingProtocol(loop), path)
                tr.write(b"u")
                assert await proto.wait_bytes(1) == b"u"
                tr.close()
                await proto.lost
            finally:
                await close_server(server)

    run(loop, main())


def test_unix_connection_with_sock_socketpair(loop):
    a, b = socket.socketpair()

    async def main():
        with b:
            tr, proto = await loop.create_unix_connection(lambda: RecordingProtocol(loop),
                                                          sock=a)
            b.sendall(b"pair")
            assert await proto.wait_bytes(4) == b"pair"
            tr.close()
            await proto.lost
            proto.check()

    try:
        run(loop, main())
    finally:
        a.close()


def test_close_transport_helper_is_harmless_twice(loop):
    async def main():
        async with connected_pair(loop) as p:
            close_transport(p.client_transport)
            close_transport(p.client_transport)
            assert await p.client.lost is None

    run(loop, main())
