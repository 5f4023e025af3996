"""embedtornado's asyncio event loop: a compiled epoll loop, stdlib asyncio as its twin.

:class:`Loop` is ``embedtornado._speedups.loop.LoopBase`` (Cython, over epoll
directly: ready queue, timer heap, epoll set, eventfd wake-ups, native socket
transports and listeners) combined with `asyncio.AbstractEventLoop`, as
uvloop's ``Loop`` is. When the compiled module is not built, or
``EMBEDTORNADO_NO_EXTENSIONS=1`` is set, :class:`Loop` is the standard
library's selector loop, the reference twin (uvloop's rule: asyncio is the
spec, any difference is a bug)::

    import asyncio
    import embedtornado.loop

    async def main():
        await asyncio.sleep(0.1)
        return "done"

    print(embedtornado.loop.run(main()))     # like asyncio.run, on Loop

    embedtornado.loop.install()              # asyncio.run() uses Loop too
    loop = embedtornado.loop.new_event_loop()
    try:
        loop.run_until_complete(asyncio.sleep(0))
    finally:
        loop.close()

The compiled base implements the hot paths itself. Cold-path methods whose
behaviour is pure orchestration (name resolution through the executor,
``create_connection``'s address and Happy Eyeballs logic, ``create_server``'s
socket set-up and `asyncio.Server`, TLS through `asyncio.sslproto`, the
``sock_*`` coroutines, datagram, pipe and subprocess transports, sendfile's
front end and fallback) are asyncio's own functions, bound onto :class:`Loop` below; they
call back into the compiled loop for every callback, timer, fd and transport.

`embedtornado.ioloop` gets every loop it creates itself (``IOLoop()``,
`.IOLoop.current` in a thread with no loop) from :func:`new_event_loop`, so
Tornado-style programs run on :class:`Loop` unless they installed an event
loop policy of their own.

.. note:: embedtornado differs from Tornado 6.6.1: Tornado has no event loop of
   its own and always runs on the stdlib (or an installed) loop.
"""

from __future__ import annotations

import asyncio
import sys
from asyncio import base_events as _base_events
from asyncio import selector_events as _selector_events
from asyncio import sslproto as _sslproto
from asyncio import unix_events as _unix_events
from collections.abc import Coroutine
from typing import Any, TypeVar

from embedtornado import _accel

__all__ = ["COMPILED", "Loop", "install", "new_event_loop", "run", "set_edge_triggered"]

_T = TypeVar("_T")


def _load_base() -> type | None:
    # The one selection point decides; the twin module names the stdlib loop.
    mod = _accel.load("loop")
    if getattr(mod, "IS_STDLIB", False):
        return None
    base: type = mod.LoopBase
    return base


_LoopBase = _load_base()

#: True when :class:`Loop` is the compiled epoll loop.
COMPILED = _LoopBase is not None

if _LoopBase is not None:
    # Typed Any: most of what is borrowed is private to asyncio (no stubs).
    _B: Any = _base_events.BaseEventLoop
    _S: Any = _selector_events.BaseSelectorEventLoop
    _U: Any = _unix_events._UnixSelectorEventLoop
    _SSLProtocol: Any = _sslproto.SSLProtocol

    class Loop(_LoopBase, asyncio.AbstractEventLoop):  # type: ignore[misc,valid-type]
        """embedtornado's event loop (compiled epoll core + asyncio's API).

        Create it with :func:`new_event_loop`; use it like any asyncio loop.
        """

        # -- executor and name resolution (asyncio's own code) ----------
        run_in_executor = _B.run_in_executor
        set_default_executor = _B.set_default_executor
        _check_default_executor = _B._check_default_executor
        shutdown_default_executor = _B.shutdown_default_executor
        _do_shutdown = _B._do_shutdown
        shutdown_asyncgens = _B.shutdown_asyncgens
        getaddrinfo = _B.getaddrinfo
        getnameinfo = _B.getnameinfo
        _getaddrinfo_debug = _B._getaddrinfo_debug
        _ensure_resolved = _B._ensure_resolved

        # -- connections and servers -------------------------------------
        create_connection = _B.create_connection
        _connect_sock = _B._connect_sock
        _create_connection_transport = _B._create_connection_transport
        create_server = _B.create_server
        _create_server_getaddrinfo = _B._create_server_getaddrinfo
        connect_accepted_socket = _B.connect_accepted_socket
        start_tls = _B.start_tls
        create_unix_connection = _U.create_unix_connection
        create_unix_server = _U.create_unix_server
        _accept_connection2 = _S._accept_connection2

        # -- sendfile (asyncio's front end; LoopBase._sendfile_native is
        # sendfile(2) on native socket transports, _sendfile_fallback below
        # reads and writes for the others) -------------------------------
        sendfile = _B.sendfile
        sock_sendfile = _B.sock_sendfile
        # sendfile(2) driven by add_writer, as asyncio's Unix selector loop
        # does (BaseEventLoop's version only raises "not available").
        _sock_sendfile_native = _U._sock_sendfile_native
        _sock_sendfile_native_impl = _U._sock_sendfile_native_impl
        _sock_sendfile_update_filepos = _U._sock_sendfile_update_filepos
        _sock_add_cancellation_callback = _U._sock_add_cancellation_callback
        _sock_sendfile_fallback = _B._sock_sendfile_fallback
        _check_sendfile_params = _B._check_sendfile_params

        # -- low-level socket coroutines ----------------------------------
        sock_recv = _S.sock_recv
        _sock_recv = _S._sock_recv
        sock_recv_into = _S.sock_recv_into
        _sock_recv_into = _S._sock_recv_into
        sock_sendall = _S.sock_sendall
        _sock_sendall = _S._sock_sendall
        sock_connect = _S.sock_connect
        _sock_connect = _S._sock_connect
        _sock_connect_cb = _S._sock_connect_cb
        sock_accept = _S.sock_accept
        _sock_accept = _S._sock_accept
        _sock_read_done = _S._sock_read_done
        _sock_write_done = _S._sock_write_done

        # -- datagrams, pipes, subprocesses (asyncio's selector transports,
        # driven through _add_reader/_add_writer) --------------------------
        create_datagram_endpoint = _B.create_datagram_endpoint
        _make_datagram_transport = _S._make_datagram_transport
        connect_read_pipe = _B.connect_read_pipe
        connect_write_pipe = _B.connect_write_pipe
        _make_read_pipe_transport = _U._make_read_pipe_transport
        _make_write_pipe_transport = _U._make_write_pipe_transport
        subprocess_exec = _B.subprocess_exec
        subprocess_shell = _B.subprocess_shell
        _make_subprocess_transport = _U._make_subprocess_transport
        _child_watcher_callback = _U._child_watcher_callback
        _log_subprocess = _B._log_subprocess

        async def _sendfile_fallback(
            self, transp: asyncio.Transport, file: Any, offset: int, count: int | None
        ) -> int:
            # asyncio's own fallback, except for its fallback protocol, whose
            # constructor insists on asyncio's _FlowControlMixin class.
            if offset:
                file.seek(offset)
            blocksize = min(count, 16384) if count else 16384
            buf = bytearray(blocksize)
            total_sent = 0
            proto = _SendfileProtocol(transp)
            try:
                while True:
                    if count:
                        blocksize = min(count - total_sent, blocksize)
                        if blocksize <= 0:
                            return total_sent
                    view = memoryview(buf)[:blocksize]
                    read = await self.run_in_executor(None, file.readinto, view)
                    if not read:
                        return total_sent  # EOF
                    await proto.drain()
                    transp.write(view[:read])
                    total_sent += read
            finally:
                if total_sent > 0 and hasattr(file, "seek"):
                    file.seek(offset + total_sent)
                await proto.restore()

        def _make_ssl_transport(
            self,
            rawsock: Any,
            protocol: asyncio.BaseProtocol,
            sslcontext: Any,
            waiter: asyncio.Future[Any] | None = None,
            *,
            server_side: bool = False,
            server_hostname: str | None = None,
            extra: dict[str, Any] | None = None,
            server: Any = None,
            ssl_handshake_timeout: float | None = None,
            ssl_shutdown_timeout: float | None = None,
        ) -> asyncio.Transport:
            """TLS over a native transport: asyncio's SSLProtocol in between."""
            self._ensure_fd_no_transport(rawsock)
            ssl_protocol = _SSLProtocol(
                self, protocol, sslcontext, waiter, server_side, server_hostname,
                ssl_handshake_timeout=ssl_handshake_timeout,
                ssl_shutdown_timeout=ssl_shutdown_timeout,
            )
            self._make_socket_transport(rawsock, ssl_protocol, extra=extra, server=server)
            return ssl_protocol._app_transport  # type: ignore[no-any-return]

    class _SendfileProtocol(_base_events._SendfileFallbackProtocol):  # type: ignore[name-defined,misc]
        """asyncio's sendfile fallback protocol, for transports with the same flow control."""

        def __init__(self, transp: Any) -> None:
            self._transport = transp
            self._proto = transp.get_protocol()
            self._should_resume_reading = transp.is_reading()
            self._should_resume_writing = transp._protocol_paused
            transp.pause_reading()
            transp.set_protocol(self)
            if self._should_resume_writing:
                self._write_ready_fut = transp._loop.create_future()
            else:
                self._write_ready_fut = None

    for _name in ("sock_recvfrom", "_sock_recvfrom", "sock_recvfrom_into",
                  "_sock_recvfrom_into", "sock_sendto", "_sock_sendto"):
        if hasattr(_S, _name):
            setattr(Loop, _name, getattr(_S, _name))
    del _name
    Loop.__module__ = __name__
else:
    Loop = asyncio.SelectorEventLoop  # type: ignore[misc,assignment]


def new_event_loop() -> asyncio.AbstractEventLoop:
    """Return a new, not yet running, event loop: a :class:`Loop`.

    A program that installed an event loop policy of its own (uvloop's, say)
    gets that policy's loop instead, as it would from Tornado, which asks
    `asyncio.new_event_loop`. The stdlib default policy, and no policy at all,
    count as "not installed".
    """
    policy = getattr(asyncio.events, "_event_loop_policy", None)
    if (policy is None or type(policy) is _stdlib_default_policy()
            or isinstance(policy, __getattr__("EventLoopPolicy"))):
        return Loop()
    loop: asyncio.AbstractEventLoop = policy.new_event_loop()
    return loop


def set_edge_triggered(loop: asyncio.AbstractEventLoop, fd: Any, edge: bool = True) -> bool:
    """Ask *loop* for edge-triggered (*edge* true) or level-triggered callbacks on *fd*.

    On a compiled :class:`Loop` this is ``loop.set_edge_triggered(fd, edge)``:
    *fd* must have a reader or writer added with ``add_reader``/``add_writer``,
    and the mode holds until both are removed. On any other loop (asyncio's,
    uvloop's, and :class:`Loop` itself under ``EMBEDTORNADO_NO_EXTENSIONS=1``)
    it does nothing: those loops are level-triggered only, and level-triggered
    delivery keeps the edge contract, because an edge-mode callback must read
    or write until ``BlockingIOError`` anyway and so finds nothing left when
    called again. Returns True when the loop applied the mode, False when it
    ignored the request.
    """
    method = getattr(loop, "set_edge_triggered", None)
    if method is None:
        return False
    method(fd, edge)
    return True


def _stdlib_default_policy() -> type:
    # asyncio.DefaultEventLoopPolicy without the deprecation warning that
    # reading it gives from Python 3.14 on (where the class was renamed).
    cls: type = (getattr(_unix_events, "_UnixDefaultEventLoopPolicy", None)
                 or getattr(_unix_events, "_DefaultEventLoopPolicy", None)
                 or type(None))
    return cls


def install() -> None:
    """Make :class:`Loop` the loop asyncio creates (``asyncio.run`` included)."""
    asyncio.set_event_loop_policy(__getattr__("EventLoopPolicy")())


def run(main: Coroutine[Any, Any, _T], *, debug: bool | None = None) -> _T:
    """Run coroutine *main* on a new :class:`Loop`, as `asyncio.run` does."""
    if sys.version_info >= (3, 11):
        with asyncio.Runner(debug=debug, loop_factory=new_event_loop) as runner:
            return runner.run(main)
    loop = new_event_loop()  # pragma: no cover - Python 3.9/3.10
    try:
        asyncio.set_event_loop(loop)
        if debug is not None:
            loop.set_debug(debug)
        return loop.run_until_complete(main)
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


_policy_class: type | None = None


def __getattr__(name: str) -> Any:
    # asyncio's policy classes are deprecated from Python 3.14 on, and merely
    # reading asyncio.DefaultEventLoopPolicy warns there; build ours on demand.
    global _policy_class
    if name != "EventLoopPolicy":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if _policy_class is None:

        class EventLoopPolicy(asyncio.DefaultEventLoopPolicy):  # type: ignore[misc,name-defined]
            """An asyncio event loop policy whose loops are :class:`Loop` objects."""

            def _loop_factory(self) -> asyncio.AbstractEventLoop:
                return Loop()

        EventLoopPolicy.__module__ = __name__
        _policy_class = EventLoopPolicy
    return _policy_class
