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

Subclasses say how to speak on an accepted connection by returning an asyncio
protocol from :meth:`TCPServer._make_protocol`; :class:`~embedtornado.httpserver.HTTPServer`
returns the HTTP/1.1 protocol.

.. note:: embedtornado differs from Tornado 6.6.1: connections are served by
   asyncio protocols, not ``IOStream``; overriding ``handle_stream`` needs the
   ``IOStream`` class, which a later issue provides.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from typing import Any

from embedtornado import netutil, process
from embedtornado.ioloop import IOLoop

_DEFAULT_BACKLOG = 128


class TCPServer:
    """Listens on sockets and hands each accepted connection to a protocol.

    :arg ssl_options: an `ssl.SSLContext`, or Tornado's dict form
        (``certfile``, ``keyfile``, ...), to serve TLS.
    :arg max_buffer_size: kept for Tornado compatibility.
    :arg read_chunk_size: kept for Tornado compatibility.
    """

    def __init__(
        self,
        ssl_options: dict[str, Any] | ssl.SSLContext | None = None,
        max_buffer_size: int | None = None,
        read_chunk_size: int | None = None,
    ) -> None:
        self.ssl_options = ssl_options
        self._ssl_context: ssl.SSLContext | None = None
        if ssl_options is not None:
            self._ssl_context = netutil.ssl_options_to_context(ssl_options, server_side=True)
        self.max_buffer_size = max_buffer_size
        self.read_chunk_size = read_chunk_size
        self._sockets: dict[int, socket.socket] = {}
        self._handlers: dict[int, Any] = {}
        self._accepting: set[asyncio.Future] = set()
        self._pending_sockets: list[socket.socket] = []
        self._started = False

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
        loop = IOLoop.current().asyncio_loop
        kwargs: dict[str, Any] = {}
        if self._ssl_context is not None:
            kwargs["ssl"] = self._ssl_context
        coro = loop.connect_accepted_socket(self._make_protocol, conn, **kwargs)
        task = loop.create_task(coro)
        self._accepting.add(task)
        task.add_done_callback(self._accepted)

    def _accepted(self, task: asyncio.Future) -> None:
        self._accepting.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            from embedtornado.log import gen_log

            gen_log.info("Could not set up a connection: %s", exc)

    def _make_protocol(self) -> asyncio.BaseProtocol:
        """Return the protocol for one new connection (subclasses override)."""
        raise NotImplementedError(
            "TCPServer subclasses must override _make_protocol; handle_stream needs "
            "IOStream, which embedtornado does not provide yet"
        )

    def handle_stream(self, stream: Any, address: Any) -> Any:
        """Tornado's per-connection hook for IOStream-based servers (not available yet)."""
        raise NotImplementedError()

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
