"""TLS: create_server/create_connection with ``ssl=``, and loop.start_tls.

From the asyncio-eventloop page ("Opening network connections", "Creating
network servers", "TLS Upgrade"). The certificate is self-signed, made for
this run (``conformance.tls_files``).
"""

from __future__ import annotations

import asyncio
import ssl
import sys

import pytest
from conformance import (
    EchoProtocol,
    RecordingProtocol,
    ServerRecorder,
    close_server,
    run,
    tls_client_context,
    tls_server_context,
)


def test_tls_echo(loop):
    async def main():
        server = await loop.create_server(lambda: EchoProtocol(loop), "127.0.0.1", 0,
                                          ssl=tls_server_context())
        try:
            port = server.sockets[0].getsockname()[1]
            tr, proto = await loop.create_connection(
                lambda: RecordingProtocol(loop), "127.0.0.1", port,
                ssl=tls_client_context(), server_hostname="localhost")
            sslobj = tr.get_extra_info("ssl_object")
            assert sslobj is not None and sslobj.version().startswith("TLS")
            assert tr.get_extra_info("peercert")["subject"]
            assert tr.get_extra_info("cipher") is not None
            assert tr.get_extra_info("peername") == ("127.0.0.1", port)
            payload = bytes(range(256)) * 1024
            tr.write(b"secret ")
            tr.write(payload)
            assert await proto.wait_bytes(7 + len(payload)) == b"secret " + payload
            tr.close()
            assert await proto.lost is None
            proto.check()
        finally:
            await close_server(server)

    run(loop, main())


def test_tls_hostname_from_host_argument(loop):
    # With ssl= and no server_hostname, the host argument is checked against
    # the certificate (which names 127.0.0.1 as an IP SAN).
    async def main():
        server = await loop.create_server(lambda: EchoProtocol(loop), "127.0.0.1", 0,
                                          ssl=tls_server_context())
        try:
            port = server.sockets[0].getsockname()[1]
            tr, proto = await loop.create_connection(
                lambda: RecordingProtocol(loop), "127.0.0.1", port, ssl=tls_client_context())
            tr.write(b"ip")
            assert await proto.wait_bytes(2) == b"ip"
            tr.close()
            await proto.lost
        finally:
            await close_server(server)

    run(loop, main())


def test_tls_untrusted_certificate_fails(loop):
    server_errors = []

    async def main():
        rec = ServerRecorder(loop)
        server = await loop.create_server(rec, "127.0.0.1", 0, ssl=tls_server_context())
        try:
            port = server.sockets[0].getsockname()[1]
            with pytest.raises(ssl.SSLCertVerificationError):
                tr, _ = await loop.create_connection(
                    asyncio.Protocol, "127.0.0.1", port,
                    ssl=tls_client_context(trust=False), server_hostname="localhost")
                tr.close()
            await asyncio.sleep(0.05)
            # The server side never completed a handshake: no protocol was
            # connected (or, if one was made, it was not given data).
            for proto in rec.protocols:
                server_errors.extend(proto.violations)
                assert proto.data == b""
        finally:
            await close_server(server)

    # The failed handshake may be reported to the exception handler on the
    # server side; it must not be anything but an SSL/OS error.
    contexts = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append(ctx))
    run(loop, main())
    assert not server_errors
    for ctx in contexts:
        assert isinstance(ctx.get("exception"), (ssl.SSLError, OSError)), ctx


def test_tls_write_eof_not_supported(loop):
    # asyncio-protocol: can_write_eof() is False for SSL transports.
    async def main():
        server = await loop.create_server(lambda: EchoProtocol(loop), "127.0.0.1", 0,
                                          ssl=tls_server_context())
        try:
            port = server.sockets[0].getsockname()[1]
            tr, proto = await loop.create_connection(
                lambda: RecordingProtocol(loop), "127.0.0.1", port,
                ssl=tls_client_context(), server_hostname="localhost")
            assert tr.can_write_eof() is False
            tr.close()
            await proto.lost
        finally:
            await close_server(server)

    run(loop, main())


def test_tls_server_close_gives_client_eof(loop):
    async def main():
        rec = ServerRecorder(loop)
        server = await loop.create_server(rec, "127.0.0.1", 0, ssl=tls_server_context())
        try:
            port = server.sockets[0].getsockname()[1]
            _tr, proto = await loop.create_connection(
                lambda: RecordingProtocol(loop), "127.0.0.1", port,
                ssl=tls_client_context(), server_hostname="localhost")
            srv = await rec.first()
            srv.transport.write(b"goodbye")
            srv.transport.close()  # flushes, then close_notify
            await proto.eof
            assert bytes(proto.data) == b"goodbye"
            assert await proto.lost is None
            assert await srv.lost is None
            proto.check()
            srv.check()
        finally:
            await close_server(server)

    run(loop, main())


def test_start_tls_upgrade(loop):
    # Docs: start_tls "Upgrade an existing transport-based connection to TLS.
    # ... Return a new transport instance, that the protocol must start using
    # immediately after the await."
    async def main():
        rec = ServerRecorder(loop)
        server = await loop.create_server(rec, "127.0.0.1", 0)
        try:
            port = server.sockets[0].getsockname()[1]
            ctr, cproto = await loop.create_connection(lambda: RecordingProtocol(loop),
                                                       "127.0.0.1", port)
            sproto = await rec.first()
            # A plain-text exchange first.
            ctr.write(b"STARTTLS\r\n")
            assert await sproto.wait_bytes(10) == b"STARTTLS\r\n"
            sproto.data.clear()
            stls, ctls = await asyncio.gather(
                loop.start_tls(sproto.transport, sproto, tls_server_context(),
                               server_side=True),
                loop.start_tls(ctr, cproto, tls_client_context(),
                               server_hostname="localhost"))
            assert ctls.get_extra_info("ssl_object") is not None
            assert stls.get_extra_info("ssl_object") is not None
            ctls.write(b"over tls")
            assert await sproto.wait_bytes(8) == b"over tls"
            stls.write(b"tls reply")
            assert await cproto.wait_bytes(9) == b"tls reply"
            ctls.close()
            await cproto.lost
            await sproto.lost
            cproto.check()
            sproto.check()
        finally:
            await close_server(server)

    run(loop, main())


@pytest.mark.skipif(sys.version_info < (3, 11), reason="StreamWriter.start_tls is 3.11+")
def test_streams_start_tls(loop):
    # StreamWriter.start_tls (3.11) goes through loop.start_tls.
    async def main():
        async def handle(reader, writer):
            line = await reader.readline()
            writer.write(line.upper())
            await writer.drain()
            await writer.start_tls(tls_server_context())
            line = await reader.readline()
            writer.write(b"tls:" + line)
            await writer.drain()
            writer.close()
            await writer.wait_closed()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        try:
            port = server.sockets[0].getsockname()[1]
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"hello\n")
            assert await reader.readline() == b"HELLO\n"
            await writer.start_tls(tls_client_context(), server_hostname="localhost")
            writer.write(b"secure\n")
            assert await reader.readline() == b"tls:secure\n"
            assert await reader.read() == b""
            writer.close()
            await writer.wait_closed()
        finally:
            await close_server(server)

    run(loop, main())
