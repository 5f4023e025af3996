# Listening sockets, included by loop.pyx.
#
# `Acceptor` is what ``loop._start_serving`` installs on a listening socket
# for asyncio's `asyncio.Server` (which `create_server` and
# `create_unix_server` return): on each wake-up it accepts up to *backlog*
# connections and wraps each in a `SocketTransport` directly (TLS
# connections go through asyncio's ``_accept_connection2`` and SSLProtocol).
# When the process runs out of descriptors (EMFILE, ENFILE, ENOBUFS,
# ENOMEM) it stops accepting for one second and reports it at most once a
# minute.

cdef double _ACCEPT_RETRY_DELAY = 1.0
cdef double _ACCEPT_LOG_INTERVAL = 60.0


cdef class Acceptor(NativeIO):
    """Accepts connections on one listening socket for a server."""

    cdef:
        LoopBase _loop
        object _sock
        int _fd
        object _factory
        object _sslcontext
        object _server
        Py_ssize_t _backlog
        object _ssl_handshake_timeout
        object _ssl_shutdown_timeout
        bint _active
        object _retry
        double _last_log

    cdef int _on_read(self) except -1:
        cdef Py_ssize_t i
        for i in range(self._backlog):
            try:
                conn, addr = self._sock.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                # Early exit because the socket accept buffer is empty.
                return 0
            except OSError as exc:
                if exc.errno in (_errno.EMFILE, _errno.ENFILE, _errno.ENOBUFS, _errno.ENOMEM):
                    self._out_of_resources(exc)
                    return 0
                raise
            try:
                conn.setblocking(False)
                self._accepted(conn, addr)
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._loop._report("Error on transport creation for incoming connection",
                                   exc, None)
            if not self._active:
                return 0
        return 0

    cdef int _accepted(self, object conn, object addr) except -1:
        extra = {"peername": addr}
        if self._sslcontext is not None:
            self._loop.create_task(self._loop._accept_connection2(
                self._factory, conn, extra, self._sslcontext, self._server,
                self._ssl_handshake_timeout, self._ssl_shutdown_timeout))
            return 0
        try:
            protocol = self._factory()
        except BaseException:
            conn.close()
            raise
        _new_socket_transport(self._loop, conn, protocol, None, extra, self._server)
        return 0

    cdef int _out_of_resources(self, object exc) except -1:
        # There's nowhere to send the error, so just log it, once a minute.
        cdef double now = self._loop._now()
        if self._last_log == 0 or now - self._last_log >= _ACCEPT_LOG_INTERVAL:
            self._last_log = now
            self._loop.call_exception_handler({
                "message": "socket.accept() out of system resource",
                "exception": exc,
                "socket": _TransportSocket(self._sock),
            })
        self._loop._set_native(self._fd, self, False, False)
        self._retry = self._loop._call_at(now + _ACCEPT_RETRY_DELAY, self._resume, (), None)
        return 0

    def _resume(self):
        self._retry = None
        if self._active and self._sock.fileno() == self._fd:
            self._loop._set_native(self._fd, self, True, False)

    cdef int _stop(self) except -1:
        self._active = False
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        return 0
