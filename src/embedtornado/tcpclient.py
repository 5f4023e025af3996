"""Opening TCP connections as `.IOStream` objects (Tornado's ``tornado.tcpclient``).

::

    from embedtornado.tcpclient import TCPClient

    async def main():
        stream = await TCPClient().connect("example.com", 80, timeout=10)
        await stream.write(b"HEAD / HTTP/1.0\\r\\nHost: example.com\\r\\n\\r\\n")
        print(await stream.read_until_close())

`TCPClient.connect` resolves the name, then tries the addresses with a
light form of "Happy Eyeballs" (:rfc:`6555`): the addresses of the first
family (often IPv6) are tried one after another; if none has connected
within 0.3 s, the addresses of the other family are tried in parallel, and
the first connection to succeed wins (the others are closed).

A ``timeout`` covers the whole connect; its `.TimeoutError` says which phase
ran out, with Tornado 6.6's wording: ``Timeout while resolving <host>``,
``Timeout while connecting to <addresses still being tried>`` or
``Timeout during TLS handshake with <address>``.
"""

from __future__ import annotations

import asyncio
import datetime
import socket
import ssl
import time
from collections.abc import Iterator
from typing import Any

from embedtornado.iostream import IOStream, StreamClosedError
from embedtornado.netutil import Resolver
from embedtornado.util import TimeoutError

__all__ = ["TCPClient"]

_INITIAL_CONNECT_TIMEOUT = 0.3


def _format_addr(addr: Any) -> str:
    """``host:port`` for a socket address, IPv6 hosts in brackets (for messages)."""
    if isinstance(addr, tuple) and len(addr) >= 2:
        host, port = addr[0], addr[1]
        if isinstance(host, str) and ":" in host:
            return f"[{host}]:{port}"
        return f"{host}:{port}"
    return str(addr)


def _split(addrinfo: list[tuple[int, Any]]) -> tuple[list[tuple[int, Any]], list[tuple[int, Any]]]:
    """Split *addrinfo* into the first address's family and all the others."""
    if not addrinfo:
        return [], []
    first = addrinfo[0][0]
    primary = [a for a in addrinfo if a[0] == first]
    secondary = [a for a in addrinfo if a[0] != first]
    return primary, secondary


class _Connector:
    """Races connection attempts over two address lists (one per family)."""

    def __init__(self, addrinfo: list[tuple[int, Any]], connect: Any) -> None:
        self.connect = connect
        self.primary, self.secondary = _split(addrinfo)
        self.remaining = len(addrinfo)
        self.last_error: BaseException | None = None
        self.streams: set[IOStream] = set()
        # The address each attempt still in flight is connecting to.
        self.pending: dict[IOStream, Any] = {}
        self.future: asyncio.Future[tuple[int, Any, IOStream]] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.last_timeout_message = "Timeout while connecting"

    async def start(self, timeout: float = _INITIAL_CONNECT_TIMEOUT) -> tuple[int, Any, IOStream]:
        loop = asyncio.get_running_loop()
        self.future = loop.create_future()
        if not self.remaining:
            raise OSError("no addresses to connect to")
        self._try(iter(self.primary))
        if self.secondary:
            self.timer = loop.call_later(timeout, self._on_timer)
        try:
            return await self.future
        finally:
            self._cleanup()

    def _on_timer(self) -> None:
        self.timer = None
        if self.future is not None and not self.future.done():
            self._try(iter(self.secondary))

    def _try(self, addrs: Iterator[tuple[int, Any]]) -> None:
        try:
            af, addr = next(addrs)
        except StopIteration:
            # This family is exhausted; start the other at once.
            if self.timer is not None and self.secondary:
                self.timer.cancel()
                self._on_timer()
            return
        try:
            stream, fut = self.connect(af, addr)
        except OSError as e:
            self._failed(e, addrs)
            return
        self.streams.add(stream)
        self.pending[stream] = addr

        def done(f: asyncio.Future[Any]) -> None:
            self.pending.pop(stream, None)
            if f.cancelled() or f.exception() is not None:
                exc = f.exception() if not f.cancelled() else StreamClosedError()
                self.streams.discard(stream)
                stream.close()
                if isinstance(exc, StreamClosedError) and exc.real_error is not None:
                    exc = exc.real_error
                self._failed(exc, addrs)
                return
            if self.future is not None and not self.future.done():
                self.streams.discard(stream)
                self.future.set_result((af, addr, stream))
            else:
                stream.close()

        fut.add_done_callback(done)

    def _failed(self, exc: BaseException | None, addrs: Iterator[tuple[int, Any]]) -> None:
        self.remaining -= 1
        self.last_error = exc
        if self.future is None or self.future.done():
            return
        if self.remaining <= 0:
            self.future.set_exception(self.last_error or OSError("connect failed"))
            return
        self._try(addrs)

    def timeout_message(self) -> str:
        """What a connect timeout says: the addresses still being tried."""
        if self.pending:
            addrs = ", ".join(sorted(_format_addr(a) for a in self.pending.values()))
            return f"Timeout while connecting to {addrs}"
        return "Timeout while connecting"

    def _cleanup(self) -> None:
        self.last_timeout_message = self.timeout_message()
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        for stream in self.streams:
            stream.close()
        self.streams.clear()
        self.pending.clear()


class TCPClient:
    """A factory for connected `.IOStream` objects.

    :arg resolver: the `.Resolver` to use (default: a new `.Resolver()`;
        it is closed by `close` only if it was made here).
    """

    def __init__(self, resolver: Resolver | None = None) -> None:
        if resolver is not None:
            self.resolver = resolver
            self._own_resolver = False
        else:
            self.resolver = Resolver()
            self._own_resolver = True

    def close(self) -> None:
        """Release the resolver if this client created it."""
        if self._own_resolver:
            self.resolver.close()

    async def connect(
        self,
        host: str,
        port: int,
        af: socket.AddressFamily = socket.AF_UNSPEC,
        ssl_options: dict[str, Any] | ssl.SSLContext | None = None,
        max_buffer_size: int | None = None,
        source_ip: str | None = None,
        source_port: int | None = None,
        timeout: float | datetime.timedelta | None = None,
    ) -> IOStream:
        """Connect to *host*:*port* and return an `.IOStream` (an `.SSLIOStream`
        when *ssl_options* is given, after its handshake).

        :arg source_ip: the local address to bind before connecting.
        :arg source_port: the local port to bind before connecting.
        :arg timeout: seconds (or a `datetime.timedelta`) for the whole
            connect, including resolution and TLS; on expiry
            `embedtornado.util.TimeoutError` is raised.
        :raises OSError: (or `.StreamClosedError`) when no address connects.
        """
        if isinstance(timeout, datetime.timedelta):
            timeout = timeout.total_seconds()
        deadline = None if timeout is None else time.monotonic() + timeout

        def remaining() -> float:
            assert deadline is not None
            return max(deadline - time.monotonic(), 0.0)

        resolving = self.resolver.resolve(host, port, af)
        if deadline is None:
            addrinfo = await resolving
        else:
            try:
                addrinfo = await asyncio.wait_for(resolving, remaining())
            except asyncio.TimeoutError:
                raise TimeoutError(f"Timeout while resolving {host}") from None

        def create(af: int, addr: Any) -> tuple[IOStream, asyncio.Future[Any]]:
            return self._create_stream(max_buffer_size, af, addr, source_ip, source_port)

        connector = _Connector(list(addrinfo), create)
        if deadline is None:
            _af, addr, stream = await connector.start()
        else:
            try:
                _af, addr, stream = await asyncio.wait_for(connector.start(), remaining())
            except asyncio.TimeoutError:
                # The connector's cleanup has run; what it was still trying
                # is kept for the message.
                raise TimeoutError(connector.last_timeout_message) from None
        if ssl_options is not None:
            handshake = stream.start_tls(False, ssl_options=ssl_options, server_hostname=host)
            try:
                if deadline is None:
                    stream = await handshake
                else:
                    stream = await asyncio.wait_for(handshake, remaining())
            except asyncio.TimeoutError:
                stream.close()
                raise TimeoutError(
                    f"Timeout during TLS handshake with {_format_addr(addr)}") from None
            except BaseException:
                stream.close()
                raise
        return stream

    def _create_stream(
        self,
        max_buffer_size: int | None,
        af: int,
        addr: Any,
        source_ip: str | None = None,
        source_port: int | None = None,
    ) -> tuple[IOStream, asyncio.Future[Any]]:
        sock = socket.socket(af, socket.SOCK_STREAM)
        if source_ip is not None or source_port is not None:
            if source_ip is None:
                source_ip = "::" if af == socket.AF_INET6 else "0.0.0.0"
            try:
                sock.bind((source_ip, source_port or 0))
            except OSError:
                sock.close()
                raise
        try:
            stream = IOStream(sock, max_buffer_size=max_buffer_size)
        except OSError:
            sock.close()
            raise
        return stream, stream.connect(addr)
