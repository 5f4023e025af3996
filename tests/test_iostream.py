"""IOStream, SSLIOStream and PipeIOStream, run beside real Tornado 6.6.1's streams.

Each behavioural test is parametrized over ``impl``: ``embedtornado`` (ours)
and ``tornado`` (the installed Tornado 6.6.1), both on the live loop (our
compiled loop, or the stdlib loop with EMBEDTORNADO_NO_EXTENSIONS=1), so a
test passing for both shows the same observable behaviour.
"""

from __future__ import annotations

import asyncio
import errno
import gc
import logging
import os
import socket
import ssl
from unittest import mock

import pytest

from streamtools import IMPLS, impl_module, run, tcp_pair


@pytest.fixture(params=IMPLS)
def ios(request):
    return impl_module(request.param, "iostream")


def pair(ios, **kwargs):
    a, b = tcp_pair()
    return ios.IOStream(a, **kwargs), ios.IOStream(b, **kwargs)


def test_read_until_bytes_partial_regex(ios):
    async def go():
        c, s = pair(ios)
        await c.write(b"line one\r\nABCDEFGHIJ0123 tail")
        assert await s.read_until(b"\r\n") == b"line one\r\n"
        assert await s.read_bytes(4) == b"ABCD"
        assert await s.read_until_regex(rb"[0-9]+") == b"EFGHIJ0123"
        got = await s.read_bytes(100, partial=True)
        assert got == b" tail"
        c.close()
        assert await s.read_until_close() == b""
        s.close()
    run(go)


def test_read_bytes_waits_for_all(ios):
    async def go():
        c, s = pair(ios)
        fut = s.read_bytes(6)
        await c.write(b"abc")
        await asyncio.sleep(0.05)
        assert not fut.done()
        await c.write(b"defg")
        assert await fut == b"abcdef"
        assert await s.read_bytes(1) == b"g"
        c.close()
        s.close()
    run(go)


def test_read_into(ios):
    async def go():
        c, s = pair(ios)
        buf = bytearray(5)
        await c.write(b"hello world")
        assert await s.read_into(buf) == 5
        assert buf == b"hello"
        buf2 = bytearray(100)
        n = await s.read_into(buf2, partial=True)
        assert bytes(buf2[:n]) == b" world"
        c.close()
        s.close()
    run(go)


def test_read_until_close_collects_everything(ios):
    async def go():
        c, s = pair(ios)
        fut = s.read_until_close()
        for i in range(10):
            await c.write(b"%d," % i)
        c.close()
        assert await fut == b"0,1,2,3,4,5,6,7,8,9,"
        assert s.closed()
    run(go)


def test_buffered_data_readable_after_close(ios):
    async def go():
        c, s = pair(ios)
        await c.write(b"abc\ndef")
        assert await s.read_until(b"\n") == b"abc\n"
        c.close()
        # The peer has gone, but what already arrived can still be read.
        assert await s.read_bytes(3) == b"def"
        with pytest.raises(ios.StreamClosedError):
            await s.read_bytes(1)
    run(go)


def test_read_until_max_bytes(ios):
    async def go():
        c, s = pair(ios)
        await c.write(b"x" * 100 + b"\n")
        with pytest.raises(ios.StreamClosedError) as info:
            await s.read_until(b"\n", max_bytes=50)
        assert isinstance(info.value.real_error, ios.UnsatisfiableReadError)
        assert s.closed()
        c.close()
    run(go)


def test_read_until_within_max_bytes_exactly(ios):
    async def go():
        c, s = pair(ios)
        await c.write(b"x" * 49 + b"\n")
        assert await s.read_until(b"\n", max_bytes=50) == b"x" * 49 + b"\n"
        c.close()
        s.close()
    run(go)


def test_read_until_regex_max_bytes(ios):
    async def go():
        c, s = pair(ios)
        await c.write(b"a" * 64)
        with pytest.raises(ios.StreamClosedError) as info:
            await s.read_until_regex(rb"\d", max_bytes=32)
        assert isinstance(info.value.real_error, ios.UnsatisfiableReadError)
        c.close()
    run(go)


def test_max_buffer_size_closes(ios):
    async def go():
        c, s = pair(ios, max_buffer_size=1024, read_chunk_size=256)
        fut = s.read_until(b"\n")
        c.write(b"z" * 8192)
        with pytest.raises(ios.StreamClosedError) as info:
            await fut
        assert isinstance(info.value.real_error, ios.StreamBufferFullError)
        assert s.closed()
        c.close()
    run(go)


def test_large_write_completes(ios):
    data = os.urandom(4 << 20)

    async def go():
        c, s = pair(ios)
        reading = s.read_bytes(len(data))
        await c.write(data)
        assert await reading == data
        c.close()
        s.close()
    run(go)


def test_writes_in_order_and_futures(ios):
    async def go():
        c, s = pair(ios)
        futs = [c.write(b"%03d" % i) for i in range(200)]
        await asyncio.gather(*futs)
        assert await s.read_bytes(600) == b"".join(b"%03d" % i for i in range(200))
        c.close()
        s.close()
    run(go)


def test_write_after_close_raises(ios):
    async def go():
        c, s = pair(ios)
        c.close()
        with pytest.raises(ios.StreamClosedError):
            c.write(b"x")
        s.close()
    run(go)


def test_max_write_buffer_size(ios):
    async def go():
        c, s = pair(ios, max_write_buffer_size=1 << 16)
        with pytest.raises(ios.StreamBufferFullError):
            # Nobody reads: the kernel buffers fill up, then ours.
            for _ in range(10000):
                c.write(b"y" * 4096)
        c.close()
        s.close()
    run(go)


def test_close_callback_when_peer_closes(ios):
    async def go():
        c, s = pair(ios)
        closed = asyncio.Event()
        s.set_close_callback(closed.set)
        c.close()
        await asyncio.wait_for(closed.wait(), 5)
        assert s.closed()
    run(go)


def test_pending_write_fails_on_close(ios):
    async def go():
        c, s = pair(ios)
        fut = None
        for _ in range(1000):
            fut = c.write(b"q" * 65536)
            if not fut.done():
                break
        assert fut is not None and not fut.done()
        c.close()
        with pytest.raises(ios.StreamClosedError):
            await fut
        s.close()
    run(go)


def test_already_reading(ios):
    async def go():
        c, s = pair(ios)
        s.read_bytes(1)
        with pytest.raises(AssertionError):
            s.read_bytes(1)
        c.close()
        s.close()
    run(go)


def test_connect_and_refused(ios):
    async def go():
        with socket.socket() as lst:
            lst.bind(("127.0.0.1", 0))
            lst.listen(1)
            stream = ios.IOStream(socket.socket())
            assert await stream.connect(lst.getsockname()) is stream
            # writes issued right after connect() are sent once connected
            stream2 = ios.IOStream(socket.socket())
            stream2.connect(lst.getsockname())
            await stream2.write(b"early")
            conn, _ = lst.accept()
            conn.close()
            stream.close()
            stream2.close()
            port = lst.getsockname()[1]
        bad = ios.IOStream(socket.socket())
        with pytest.raises(ios.StreamClosedError) as info:
            await bad.connect(("127.0.0.1", port))
        assert isinstance(info.value.real_error, ConnectionRefusedError)
        assert isinstance(bad.error, ConnectionRefusedError)
    run(go)


def test_set_nodelay_and_reading_writing(ios):
    async def go():
        c, s = pair(ios)
        c.set_nodelay(True)
        assert c.socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        assert not s.reading()
        fut = s.read_bytes(1)
        assert s.reading()
        await c.write(b"!")
        await fut
        assert not s.reading() and not c.writing()
        c.close()
        s.close()
    run(go)


def test_pipe_stream(ios):
    async def go():
        r, w = os.pipe()
        reader, writer = ios.PipeIOStream(r), ios.PipeIOStream(w)
        await writer.write(b"first\nsecond")
        assert await reader.read_until(b"\n") == b"first\n"
        writer.close()
        assert await reader.read_until_close() == b"second"
        assert reader.closed()
    run(go)


def _tls_contexts():
    from embedtornado import _testcert

    cert, key = _testcert.files()
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=cert)
    return server, client


def test_start_tls_both_sides(ios):
    server_ctx, client_ctx = _tls_contexts()

    async def go():
        c, s = pair(ios)
        await c.write(b"STARTTLS\n")
        assert await s.read_until(b"\n") == b"STARTTLS\n"
        cf = c.start_tls(False, client_ctx, server_hostname="localhost")
        sf = s.start_tls(True, server_ctx)
        c2, s2 = await asyncio.gather(cf, sf)
        assert isinstance(c2, ios.SSLIOStream) and isinstance(s2, ios.SSLIOStream)
        await c2.write(b"secret\n")
        assert await s2.read_until(b"\n") == b"secret\n"
        big = os.urandom(300000)
        w = s2.write(big)
        assert await c2.read_bytes(len(big)) == big
        await w
        c2.close()
        s2.close()
    run(go)


def test_ssl_connect_validates_certificate(ios):
    server_ctx, client_ctx = _tls_contexts()

    async def go():
        with socket.socket() as lst:
            lst.bind(("127.0.0.1", 0))
            lst.listen(4)
            lst.setblocking(False)
            loop = asyncio.get_running_loop()

            async def serve_one():
                conn, _ = await loop.sock_accept(lst)
                stream = ios.SSLIOStream(server_ctx.wrap_socket(
                    conn, server_side=True, do_handshake_on_connect=False))
                try:
                    line = await stream.read_until(b"\n")
                    await stream.write(line.upper())
                except ios.StreamClosedError:
                    pass
                stream.close()

            task = asyncio.ensure_future(serve_one())
            good = ios.SSLIOStream(socket.socket(), ssl_options=client_ctx)
            await good.connect(lst.getsockname(), server_hostname="localhost")
            await good.write(b"ping\n")
            assert await good.read_until(b"\n") == b"PING\n"
            good.close()
            await task

            # The default context does not trust our self-signed certificate.
            task = asyncio.ensure_future(serve_one())
            bad = ios.SSLIOStream(socket.socket(), ssl_options=ssl.create_default_context())
            # As in Tornado, the handshake's real error is raised.
            with pytest.raises(ssl.SSLCertVerificationError):
                await bad.connect(lst.getsockname(), server_hostname="localhost")
            assert isinstance(bad.error, ssl.SSLCertVerificationError)
            await task
    run(go)


def test_start_tls_refuses_when_busy():
    from embedtornado import iostream

    async def go():
        c, s = pair(iostream)
        c.read_bytes(1)
        with pytest.raises(ValueError):
            c.start_tls(False)
        c.close()
        s.close()
    run(go)


def test_readiness_rides_the_live_loop():
    """Streams register with the asyncio loop's add_reader/add_writer (ours when compiled)."""
    import embedtornado.loop
    from embedtornado import iostream

    async def go():
        loop = asyncio.get_running_loop()
        assert isinstance(loop, embedtornado.loop.Loop)
        c, s = pair(iostream)
        fut = s.read_bytes(3)
        assert loop.remove_reader(s.socket.fileno())  # it was registered
        loop.add_reader(s.socket.fileno(), s._on_readable)
        await c.write(b"abc")
        assert await fut == b"abc"
        c.close()
        s.close()
    run(go)


# -- Behaviour found by running Tornado 6.6.1's own iostream_test against us --


def _collect_loop_errors(loop):
    """Record what the loop's exception handler gets ("never retrieved" and the like)."""
    errors = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    return errors


def test_close_marks_unawaited_read_future_retrieved(ios):
    """A read nobody awaits fails on close without "Future exception was never retrieved"."""
    async def go():
        errors = _collect_loop_errors(asyncio.get_running_loop())
        c, s = pair(ios)
        s.read_bytes(10)  # never awaited, no reference kept
        c.close()
        s.close()
        await asyncio.sleep(0)
        gc.collect()
        await asyncio.sleep(0)
        assert errors == []
    run(go)


def test_unsatisfiable_read_future_retrieved(ios):
    async def go():
        errors = _collect_loop_errors(asyncio.get_running_loop())
        c, s = pair(ios)
        await c.write(b"x" * 100)
        s.read_until(b"\n", max_bytes=10)  # fails (closes the stream), never awaited
        await asyncio.sleep(0.05)
        assert s.closed()
        gc.collect()
        await asyncio.sleep(0)
        assert errors == []
        c.close()
    run(go)


def test_read_until_close_fails_after_error_close(ios):
    """A stream closed with an error fails read_until_close rather than returning a short body."""
    async def go():
        c, s = pair(ios)
        fut = s.read_until_close()
        await c.write(b"hello")
        await asyncio.sleep(0.02)
        s.close(exc_info=OSError("boom"))
        with pytest.raises(ios.StreamClosedError) as info:
            await fut
        assert isinstance(info.value.real_error, OSError)
        c.close()
    run(go)


def test_read_on_closed_stream_raises_at_once(ios):
    async def go():
        c, s = pair(ios)
        await c.write(b"ab")
        c.close()
        assert await s.read_until_close() == b"ab"
        # Nothing left to read: the error comes at once, not from the future.
        with pytest.raises(ios.StreamClosedError):
            s.read_bytes(1)
        with pytest.raises(ios.StreamClosedError):
            s.read_until(b"\n")
        # The read left pending is reported as closed, not "Already reading".
        with pytest.raises(ios.StreamClosedError):
            s.read_until_close()
    run(go)


def test_read_into_fills_buffer_then_releases_it_on_close(ios):
    async def go():
        c, s = pair(ios)
        c.write(b"ab")
        assert await s.read_bytes(1) == b"a"
        buf = bytearray(10)
        fut = s.read_into(buf)
        # Buffered bytes are copied in at once ...
        assert bytes(buf[:1]) == b"b"
        c.write(b"cd")
        await asyncio.sleep(0.02)
        # ... and later ones are received straight into the caller's buffer.
        assert bytes(buf[:3]) == b"bcd"
        c.close()
        with pytest.raises(ios.StreamClosedError):
            await fut
        del buf[:]  # no view of it is left: it may be resized
        s.close()
    run(go)


def test_read_into_rest_stays_buffered(ios):
    async def go():
        c, s = pair(ios)
        await c.write(b"0123456789")
        await asyncio.sleep(0.02)
        assert await s.read_bytes(2) == b"01"
        buf = bytearray(3)
        assert await s.read_into(buf) == 3
        assert buf == b"234"
        del buf[:]
        assert await s.read_bytes(5) == b"56789"
        c.close()
        s.close()
    run(go)


def test_write_bytearray_resizable_after_write_error(ios):
    """A write that fails on the fd leaves no view of the caller's bytearray behind."""
    async def go():
        r, w = os.pipe()
        os.close(r)
        ws = ios.PipeIOStream(w)
        data = bytearray(b"x" * (1 << 20))
        with pytest.raises(ios.StreamClosedError):
            await ws.write(data)
        assert ws.closed()
        assert isinstance(ws.error, BrokenPipeError)
        del data[:]
    run(go)


def test_async_read_error_logged_as_tornado(ios, caplog):
    async def go():
        c, s = pair(ios)
        closed = asyncio.Event()
        s.set_close_callback(closed.set)
        fut = s.read_bytes(1)

        def failing_read(buf):
            raise OSError(errno.EIO, "boom")

        s.read_from_fd = failing_read
        await c.write(b"a")
        await asyncio.wait_for(closed.wait(), 5)
        with pytest.raises(ios.StreamClosedError) as info:
            await fut
        assert isinstance(info.value.real_error, OSError)
        c.close()
    with caplog.at_level(logging.WARNING):
        run(go)
    assert [r.getMessage() for r in caplog.records] == ["error on read: [Errno 5] boom"]


def test_inline_read_error_raises(ios, caplog):
    """An error on an inline read (one started with nothing to wait for) is raised, not logged."""
    async def go():
        c, s = pair(ios)
        real = s.read_from_fd

        def failing_read(buf):
            real(buf)
            raise OSError(errno.EIO, "boom")

        s.read_from_fd = failing_read
        with pytest.raises(OSError, match="boom"):
            s.read_bytes(1)
        assert s.closed()
        assert isinstance(s.error, OSError)
        c.close()
    with caplog.at_level(logging.INFO):
        run(go)
    assert caplog.records == []


def test_read_buffer_overflow_logged_and_fails_read_until_close(ios, caplog):
    async def go():
        c, s = pair(ios, max_buffer_size=1024)
        fut = s.read_until_close()
        c.write(b"a" * 4096)
        with pytest.raises(ios.StreamClosedError) as info:
            await fut
        assert isinstance(info.value.real_error, ios.StreamBufferFullError)
        c.close()
    with caplog.at_level(logging.WARNING):
        run(go)
    assert [r.getMessage() for r in caplog.records] == [
        "Reached maximum read buffer size", "error on read: Reached maximum read buffer size"]


def test_connect_error_not_logged(ios, caplog):
    async def go():
        stream = ios.IOStream(socket.socket())
        with mock.patch("socket.socket.connect",
                        side_effect=socket.gaierror(errno.EIO, "boom")):
            with pytest.raises(ios.StreamClosedError):
                await stream.connect(("localhost", 80))
        assert isinstance(stream.error, socket.gaierror)
    with caplog.at_level(logging.INFO):
        run(go)
    assert caplog.records == []


def test_ssl_handshake_failure_logged_as_tornado(ios, caplog):
    server_ctx, _ = _tls_contexts()

    async def go():
        c, s = pair(ios)
        sf = s.start_tls(True, server_ctx)
        cf = c.start_tls(False, ssl.create_default_context(), server_hostname="localhost")
        with pytest.raises(ssl.SSLError):
            await cf
        with pytest.raises((ssl.SSLError, OSError)):
            await sf
    with caplog.at_level(logging.WARNING):
        run(go)
    messages = [r.getMessage() for r in caplog.records]
    assert messages and all(m.startswith("SSL Error on ") for m in messages), messages


def test_idle_ssl_stream_reads_ahead_so_close_loses_nothing(ios):
    """Once watched, an idle stream listens for reads (Tornado's idle READ state).

    Here that consumes the TLS 1.3 session tickets the server sends after the
    handshake; left unread in the client's socket, they would turn its
    close() into a reset that loses the data still on its way to the server.
    """
    server_ctx, client_ctx = _tls_contexts()

    async def go():
        a, b = tcp_pair()
        ws = ios.SSLIOStream(client_ctx.wrap_socket(
            a, server_hostname="localhost", do_handshake_on_connect=False))
        rs = ios.SSLIOStream(server_ctx.wrap_socket(
            b, server_side=True, do_handshake_on_connect=False))
        await asyncio.gather(ws.wait_for_handshake(), rs.wait_for_handshake())
        rf = asyncio.ensure_future(rs.read_until(b"done"))
        await asyncio.sleep(0.05)
        await ws.write(b"x" * 2048)
        ws.write(b"done")
        ws.close()
        assert await rf == b"x" * 2048 + b"done"
        rs.close()
    run(go)


def test_idle_stream_reads_one_chunk_ahead(ios):
    async def go():
        c, s = pair(ios, read_chunk_size=1024)
        c.write(b"x")
        assert await s.read_bytes(1) == b"x"
        s.write(b"y")  # s has now been watched; it is idle again
        await c.write(b"z" * 4096)
        await asyncio.sleep(0.05)
        c.close()
        await asyncio.sleep(0.05)
        # The idle stream read one chunk and stopped: it has not seen the close.
        assert not s.closed()
        assert await s.read_until_close() == b"z" * 4096
        s.close()
    run(go)


def test_read_until_delimiter_straddling_chunks(ios):
    async def go():
        c, s = pair(ios, read_chunk_size=4)
        fut = s.read_until(b"<END>")
        for piece in (b"abc<E", b"N", b"D", b">tail<END>"):
            await c.write(piece)
            await asyncio.sleep(0.01)
        assert await fut == b"abc<END>"
        assert await s.read_until(b"<END>") == b"tail<END>"
        c.close()
        s.close()
    run(go)


class _CountingPattern:
    """Wraps a compiled regex and counts its searches."""

    def __init__(self, pattern):
        self.pattern = pattern
        self.searches = 0

    def search(self, *args):
        self.searches += 1
        return self.pattern.search(*args)


def test_read_until_regex_does_not_search_after_every_tls_record(ios):
    """A TLS stream gets one small record per recv; like Tornado, the regex is
    searched when the buffer has doubled (and when the socket runs dry), not
    after every record, so a large read is not quadratic."""
    import re

    server_ctx, client_ctx = _tls_contexts()
    records = 512
    counters = []
    real_compile = re.compile

    def compile_(pattern, *args):
        if pattern == rb"\r\n":
            counters.append(_CountingPattern(real_compile(pattern, *args)))
            return counters[-1]
        return real_compile(pattern, *args)

    async def go():
        a, b = tcp_pair()
        ws = ios.SSLIOStream(client_ctx.wrap_socket(
            a, server_hostname="localhost", do_handshake_on_connect=False))
        rs = ios.SSLIOStream(server_ctx.wrap_socket(
            b, server_side=True, do_handshake_on_connect=False))
        await asyncio.gather(ws.wait_for_handshake(), rs.wait_for_handshake())
        for _ in range(records):
            ws.write(b"A" * 1024)  # one TLS record each
        ws.write(b"\r\n")
        with mock.patch("re.compile", compile_):
            fut = rs.read_until_regex(rb"\r\n")
        assert len(await fut) == records * 1024 + 2
        ws.close()
        rs.close()
    run(go)
    assert len(counters) == 1
    assert counters[0].searches < records // 4, counters[0].searches
