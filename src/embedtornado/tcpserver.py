"""A non-blocking, single-threaded TCP server: listening sockets and processes.

:class:`TCPServer` owns the listening sockets and the three ways Tornado
starts a server::

    # 1. one process
    server = HTTPServer(app)
    server.listen(8888)
    IOLoop.current().start()

    # 2. pre-fork: bind, fork one child per CPU, each serves the shared sockets
    server.bind(8888)
    server.start(0)
    IOLoop.current().start()

    # 3. sockets made elsewhere (systemd socket activation, tests)
    server.add_sockets(netutil.bind_sockets(8888))

Subclasses say how to speak on an accepted connection by overriding
:meth:`TCPServer.handle_stream`, as in Tornado (each connection arrives as an
`.IOStream`)::

    class EchoServer(TCPServer):
        async def handle_stream(self, stream, address):
            while True:
                line = await stream.read_until(b"\\n", max_bytes=65536)
                await stream.write(line)

.. note:: embedtornado differs from Tornado 6.6.1: :class:`~embedtornado.httpserver.HTTPServer`
   does not use ``IOStream``; it returns an asyncio protocol from
   :meth:`TCPServer._make_protocol` and is fed straight from the event loop.

.. note:: embedtornado differs from Tornado 6.6.1: the attribute
   ``max_connections`` caps the open connections (see
   :meth:`TCPServer._refuse_connection`); Tornado accepts without limit.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import time
from typing import Any

from embedtornado import _tls, netutil, process
from embedtornado.ioloop import IOLoop

_DEFAULT_BACKLOG = 128

# A refused connection is half-closed and drained for at most this long (so
# the close does not reset the connection before the client has read the
# refusal), and at most this many are lingering at once; more are closed
# straight away.
_REFUSE_LINGER = 2.0
_REFUSE_DRAIN_LIMIT = 65536
_MAX_LINGERING = 64
# Closed connections that no close notification removed (upgraded or
# detached ones, handle_stream streams) are looked for at most this often.
_SWEEP_INTERVAL = 0.05
# The "connection limit reached" warning is written at most this often.
_REFUSE_LOG_INTERVAL = 60.0


class TCPServer:
    """Listens on sockets and hands each accepted connection to a protocol.

    :arg ssl_options: an `ssl.SSLContext`, or Tornado's dict form
        (``certfile``, ``keyfile``, ...), to serve TLS.
    :arg max_buffer_size: kept for Tornado compatibility.
    :arg read_chunk_size: kept for Tornado compatibility.

    The attribute ``ssl_handshake_timeout`` (seconds, default
    `embedtornado._tls.DEFAULT_HANDSHAKE_TIMEOUT`) bounds the wait for a TLS
    client's first byte and handshake; a client that starts with plain HTTP
    gets a 400 and a close.

    The attribute ``max_connections`` (default ``None``: no limit; ``0`` is
    also no limit) caps the connections open at once. Every accepted socket
    counts until it is closed, including connections that left HTTP (a
    WebSocket after its upgrade, or ``detach()``), as nginx counts every
    open socket against ``worker_connections``. A connection over the limit
    is refused by :meth:`_refuse_connection` without reading its request.
    It may be changed at any time; it applies to the next accept. A server
    without a limit keeps no record per connection, so connections accepted
    while there was none are not counted once one is set.
    """

    ssl_handshake_timeout: float | None = _tls.DEFAULT_HANDSHAKE_TIMEOUT
    max_connections: int | None = None
    #: What a refused connection is sent before the close (TCPServer: nothing;
    #: `.HTTPServer`: a 503).
    _busy_response = b""

    def __init__(
        self,
        ssl_options: dict[str, Any] | ssl.SSLContext | None = None,
        max_buffer_size: int | None = None,
        read_chunk_size: int | None = None,
    ) -> None:
        self.ssl_options = ssl_options
        self._ssl_context: ssl.SSLContext | None = None
        if isinstance(ssl_options, dict):
            # As in Tornado: a dict needs a certificate (which may hold the key
            # too), and missing files are reported now rather than at the
            # first handshake.
            if "certfile" not in ssl_options:
                raise KeyError('missing key "certfile" in ssl_options')
            for key in ("certfile", "keyfile"):
                if key in ssl_options and not os.path.exists(ssl_options[key]):
                    raise ValueError(f'{key} "{ssl_options[key]}" does not exist')
        if ssl_options is not None:
            self._ssl_context = netutil.ssl_options_to_context(ssl_options, server_side=True)
        self.max_buffer_size = max_buffer_size
        self.read_chunk_size = read_chunk_size
        self._sockets: dict[int, socket.socket] = {}
        self._handlers: dict[int, Any] = {}
        self._accepting: set[asyncio.Future] = set()
        self._pending_sockets: list[socket.socket] = []
        self._started = False
        # Every accepted socket that may still be open, by descriptor number
        # (a reused number replaces a closed entry). Entries leave through
        # _forget_fd on a close the server hears of, or in _sweep.
        self._open: dict[int, socket.socket] = {}
        self._last_sweep = 0.0
        self._lingering = 0
        self._refused = 0
        self._refused_logged = 0
        self._refuse_logged_at: float | None = None

    def listen(
        self,
        port: int,
        address: str | None = None,
        family: socket.AddressFamily = socket.AF_UNSPEC,
        backlog: int = _DEFAULT_BACKLOG,
        flags: int | None = None,
        reuse_port: bool = False,
    ) -> None:
        """Bind to *port* on *address* and start accepting on the current IOLoop."""
        sockets = netutil.bind_sockets(port, address=address, family=family,
                                       backlog=backlog, flags=flags, reuse_port=reuse_port)
        self.add_sockets(sockets)

    def bind(
        self,
        port: int,
        address: str | None = None,
        family: socket.AddressFamily = socket.AF_UNSPEC,
        backlog: int = _DEFAULT_BACKLOG,
        flags: int | None = None,
        reuse_port: bool = False,
    ) -> None:
        """Bind to *port* now; accept only after :meth:`start` (which may fork)."""
        sockets = netutil.bind_sockets(port, address=address, family=family,
                                       backlog=backlog, flags=flags, reuse_port=reuse_port)
        if self._started:
            self.add_sockets(sockets)
        else:
            self._pending_sockets.extend(sockets)

    def start(self, num_processes: int | None = 1, max_restarts: int | None = None) -> None:
        """Start serving the sockets given to :meth:`bind`.

        :arg num_processes: ``1`` serves in this process; any other value forks
            that many children first (``None`` or ``<= 0``: one per CPU), which
            share the sockets and are restarted if they die, as
            `embedtornado.process.fork_processes` does.
        :arg max_restarts: how many child restarts to allow before giving up.
        """
        assert not self._started, "start() called twice"
        self._started = True
        if num_processes != 1:
            process.fork_processes(num_processes, max_restarts)
        sockets, self._pending_sockets = self._pending_sockets, []
        self.add_sockets(sockets)

    def add_sockets(self, sockets: list[socket.socket]) -> None:
        """Serve already-listening sockets (from `netutil.bind_sockets` or elsewhere)."""
        for sock in sockets:
            self.add_socket(sock)

    def add_socket(self, sock: socket.socket) -> None:
        """Serve one already-listening socket."""
        self._sockets[sock.fileno()] = sock
        self._handlers[sock.fileno()] = netutil.add_accept_handler(sock, self._on_accept)

    def _on_accept(self, conn: socket.socket, address: Any) -> None:
        limit = self.max_connections
        if limit and len(self._open) >= limit and self._count_open() >= limit:
            self._refuse_connection(conn, address)
            return
        if limit:
            # Only a limited server keeps the open sockets (a dict entry per
            # connection counts against the C10K memory budget).
            self._open[conn.fileno()] = conn
        if type(self).handle_stream is not TCPServer.handle_stream:
            if self._ssl_context is not None:
                self._sniff_then_accept_stream(conn, address)
                return
            self._accept_stream(conn, address)
            return
        loop = IOLoop.current().asyncio_loop
        if self._ssl_context is not None:
            coro = self._accept_tls(loop, conn)
        else:
            coro = loop.connect_accepted_socket(self._make_protocol, conn)
        task = loop.create_task(coro)
        self._accepting.add(task)
        task.add_done_callback(self._accepted)

    # --- the connection limit -----------------------------------------------------

    def _count_open(self) -> int:
        """The open connections, after a (rate-limited) look for closed ones."""
        now = time.monotonic()
        if now - self._last_sweep >= _SWEEP_INTERVAL:
            self._last_sweep = now
            self._sweep()
        return len(self._open)

    def _sweep(self) -> None:
        # A closed socket object reports -1; one whose number was reused was
        # already replaced in the dict.
        closed = [fd for fd, s in self._open.items() if s.fileno() != fd]
        for fd in closed:
            del self._open[fd]

    def _forget_fd(self, fd: int) -> None:
        """A connection on descriptor *fd* is closing (called before the close)."""
        self._open.pop(fd, None)

    def _refuse_connection(self, conn: socket.socket, address: Any) -> None:
        """Turn away a connection accepted over ``max_connections``.

        The request is not read: what the client already sent is drained and
        discarded, ``_busy_response`` (for `.HTTPServer` a short ``503
        Service Unavailable`` with ``Retry-After: 1`` and ``Connection:
        close``) is sent, the connection is half-closed, and it is closed once
        the client closes its side (or after two seconds), so the client can
        read the answer before the close. TLS connections are closed without
        an answer (a handshake would cost more than the refusal saves). A
        warning is logged on ``embedtornado.general`` at most once a minute.
        Subclasses may extend this (to count refusals, say) and call it.
        """
        self._refused += 1
        self._log_refusals()
        payload = self._busy_response if self._ssl_context is None else b""
        loop = IOLoop.current().asyncio_loop
        if not payload or self._lingering >= _MAX_LINGERING:
            conn.close()
            return
        if _tls.answer_and_linger(loop, conn, payload, drain_limit=_REFUSE_DRAIN_LIMIT,
                                  linger=_REFUSE_LINGER, on_done=self._linger_done):
            self._lingering += 1

    def _linger_done(self) -> None:
        self._lingering -= 1

    def _log_refusals(self) -> None:
        now = time.monotonic()
        last = self._refuse_logged_at
        if last is not None and now - last < _REFUSE_LOG_INTERVAL:
            return
        from embedtornado.log import gen_log

        self._refuse_logged_at = now
        gen_log.warning(
            "Connection limit reached (max_connections=%s): refusing new connections "
            "(%d refused in all)", self.max_connections, self._refused)

    def _accepted(self, task: asyncio.Future) -> None:
        self._accepting.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            from embedtornado.log import gen_log

            gen_log.info("Could not set up a connection: %s", exc)

    def _accept_tls(self, loop: asyncio.AbstractEventLoop, conn: socket.socket) -> Any:
        # The first-byte check (plain HTTP gets a 400) and the bounded
        # handshake live in _tls; self._ssl_context is read per connection,
        # so a replaced context (certificate reload) serves new handshakes.
        return _tls.accept(loop, conn, self._ssl_context,  # type: ignore[arg-type]
                           self._make_protocol, self.ssl_handshake_timeout)

    def _make_protocol(self) -> asyncio.BaseProtocol:
        """Return the protocol for one new connection (subclasses override)."""
        raise NotImplementedError(
            "TCPServer subclasses must override handle_stream (or _make_protocol)")

    def handle_stream(self, stream: Any, address: Any) -> Any:
        """Serve one new connection, given as an `.IOStream`, as in Tornado.

        Subclasses override this; it may be a coroutine. For TLS servers the
        stream is an `.SSLIOStream` whose handshake may still be running
        (reads and writes wait for it). Servers that override it get streams;
        `.HTTPServer` keeps its faster asyncio-protocol path.

        .. note:: embedtornado differs from Tornado 6.6.1: when the coroutine
           fails, the stream is closed (Tornado leaves it open) and the error
           is logged on ``embedtornado.application``, except
           `.StreamClosedError`, which only means the peer left.
        """
        raise NotImplementedError()

    def _sniff_then_accept_stream(self, conn: socket.socket, address: Any) -> None:
        # The stream path gets the same first-byte check and handshake bound
        # as the protocol path (_tls.accept); handle_stream runs once a TLS
        # client has started its handshake.
        loop = IOLoop.current().asyncio_loop

        async def sniff_then_accept() -> None:
            remaining = await _tls.sniff(loop, conn, self.ssl_handshake_timeout)
            stream = self._accept_stream(conn, address)
            if remaining is not None and stream is not None:
                def expire() -> None:
                    if getattr(stream, "_handshaking", False) and not stream.closed():
                        stream.close()

                loop.call_later(remaining, expire)

        task = loop.create_task(sniff_then_accept())
        self._accepting.add(task)
        task.add_done_callback(self._accepted)

    def _accept_stream(self, conn: socket.socket, address: Any) -> Any:
        from embedtornado.iostream import IOStream, SSLIOStream, StreamClosedError

        stream: IOStream
        try:
            if self._ssl_context is not None:
                conn = netutil.ssl_wrap_socket(conn, self._ssl_context, server_side=True,
                                               do_handshake_on_connect=False)
                stream = SSLIOStream(conn, max_buffer_size=self.max_buffer_size,
                                     read_chunk_size=self.read_chunk_size)
            else:
                stream = IOStream(conn, max_buffer_size=self.max_buffer_size,
                                  read_chunk_size=self.read_chunk_size)
            if conn.fileno() in self._open:
                self._open[conn.fileno()] = conn  # the wrapped socket, for TLS
        except (OSError, ssl.SSLError) as e:  # the peer may already be gone
            from embedtornado.log import gen_log

            gen_log.info("Could not set up a connection: %s", e)
            conn.close()
            return None
        result = self.handle_stream(stream, address)
        if result is not None:
            future = asyncio.ensure_future(result)

            def check(f: asyncio.Future[Any]) -> None:
                if f.cancelled() or f.exception() is None:
                    return
                exc = f.exception()
                from embedtornado.log import app_log

                # Close the connection, so a failing handler does not leak it.
                stream.close()
                if isinstance(exc, StreamClosedError):
                    return  # the client went away mid-conversation
                # Tornado's text: its IOLoop logs the failed future's callback.
                app_log.error("Exception in callback %r", self.handle_stream, exc_info=exc)

            future.add_done_callback(check)
        return stream

    def stop(self) -> None:
        """Stop listening. Connections in progress continue."""
        for fd, sock in list(self._sockets.items()):
            remove = self._handlers.pop(fd, None)
            if remove is not None:
                remove()
            sock.close()
        self._sockets.clear()
        for sock in self._pending_sockets:
            sock.close()
        self._pending_sockets = []
