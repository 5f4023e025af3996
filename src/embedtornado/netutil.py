"""Listening sockets, accept loops, name resolution and TLS options.

This is Tornado's ``tornado.netutil``. A server binds its sockets, then hands
them to the loop::

    import asyncio
    from embedtornado import netutil

    async def main():
        sockets = netutil.bind_sockets(8888)              # IPv4 and IPv6
        sockets.append(netutil.bind_unix_socket("/run/app.sock"))

        def on_connection(conn, address):
            conn.sendall(b"hello\\n")
            conn.close()

        for sock in sockets:
            netutil.add_accept_handler(sock, on_connection)
        await asyncio.Event().wait()

    asyncio.run(main())

``Resolver()`` resolves names without blocking the loop::

    addrinfo = await netutil.Resolver().resolve("example.com", 443)

.. note:: embedtornado differs from Tornado 6.6.1 in `add_accept_handler`:
   when ``accept()`` fails because the process or system is out of file
   descriptors (``EMFILE``, ``ENFILE``) or kernel memory (``ENOBUFS``,
   ``ENOMEM``), the listening socket is taken off the loop for
   ``_ACCEPT_RETRY_DELAY`` seconds and the error is logged at most once a
   minute. Tornado lets the error escape to asyncio's exception handler,
   which logs it on every wakeup while the loop spins on the still-readable
   socket. Also, when `bind_sockets` fails partway it closes the sockets it
   had already made instead of leaking them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import functools
import logging
import os
import socket
import ssl
import stat
import time
from collections.abc import Awaitable, Callable
from typing import Any

from embedtornado.concurrent import dummy_executor, run_on_executor
from embedtornado.ioloop import IOLoop
from embedtornado.util import Configurable, errno_from_exception

__all__ = [
    "BlockingResolver",
    "DefaultExecutorResolver",
    "DefaultLoopResolver",
    "ExecutorResolver",
    "OverrideResolver",
    "Resolver",
    "ThreadedResolver",
    "add_accept_handler",
    "bind_sockets",
    "bind_unix_socket",
    "is_valid_ip",
    "ssl_options_to_context",
    "ssl_wrap_socket",
]

gen_log = logging.getLogger("embedtornado.general")

#: ``listen()`` backlog used when none is given; also the most connections
#: `add_accept_handler` accepts in one wakeup.
_DEFAULT_BACKLOG = 128

#: Seconds a listening socket stays off the loop after ``accept()`` ran out
#: of file descriptors or memory (asyncio's own accept loop waits 1 s too).
_ACCEPT_RETRY_DELAY = 1.0

#: At most one log record per this many seconds for such accept errors.
_ACCEPT_ERROR_LOG_INTERVAL = 60.0

# errno values meaning "no resources right now", not "this connection is bad".
_ACCEPT_RESOURCE_ERRORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


@functools.lru_cache(maxsize=1)
def _client_ssl_defaults() -> ssl.SSLContext:
    # Built on first use, not at import: loading the system CA store at
    # import time would do work (and on some platforms start threads) before
    # a fork in fork_processes.
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ctx.options |= getattr(ssl, "OP_NO_COMPRESSION", 0)
    return ctx


@functools.lru_cache(maxsize=1)
def _server_ssl_defaults() -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.options |= getattr(ssl, "OP_NO_COMPRESSION", 0)
    return ctx


# Resolving a non-ASCII name imports the idna codec. Doing that first on a
# resolver thread while the main thread holds the import lock can deadlock,
# so load the codecs now.
"foo".encode("idna")
"foo".encode("latin1")


def bind_sockets(
    port: int,
    address: str | None = None,
    family: socket.AddressFamily = socket.AF_UNSPEC,
    backlog: int = _DEFAULT_BACKLOG,
    flags: int | None = None,
    reuse_port: bool = False,
) -> list[socket.socket]:
    """Create non-blocking listening sockets on *port*.

    One socket is made per address *address* resolves to, so a hostname or
    the wildcard usually gives one IPv4 and one IPv6 socket. IPv6 sockets are
    IPv6-only (``IPV6_V6ONLY``), so ``0.0.0.0`` and ``::`` can both be bound.
    With ``port=0`` the first socket gets a free port from the kernel and the
    others reuse that same port. ``SO_REUSEADDR`` is always set.

    :arg port: the TCP port; ``0`` picks a free one.
    :arg address: an IP address or hostname; ``None`` or ``""`` means all
        interfaces.
    :arg family: `socket.AF_INET` or `socket.AF_INET6` to restrict the
        result; `socket.AF_UNSPEC` (the default) for both.
    :arg backlog: the ``listen()`` backlog.
    :arg flags: ``AI_*`` flags for `socket.getaddrinfo`
        (default ``AI_PASSIVE``).
    :arg reuse_port: set ``SO_REUSEPORT`` on every socket.
    :raises ValueError: if *reuse_port* is asked for but not supported.
    """
    if reuse_port and not hasattr(socket, "SO_REUSEPORT"):
        raise ValueError("the platform doesn't support SO_REUSEPORT")
    if address == "":
        address = None
    if family == socket.AF_UNSPEC and not socket.has_ipv6:
        # A Python built without IPv6 still gets IPv6 results from
        # getaddrinfo (bpo-16208); don't try to use them.
        family = socket.AF_INET
    if flags is None:
        flags = socket.AI_PASSIVE

    sockets: list[socket.socket] = []
    bound_port: int | None = None
    seen: set[Any] = set()
    infos = socket.getaddrinfo(address, port, family, socket.SOCK_STREAM, 0, flags)
    for info in sorted(infos, key=lambda i: i[0]):
        if info in seen:
            continue
        seen.add(info)
        af, socktype, proto, _canonname, sockaddr_info = info
        sockaddr: tuple[Any, ...] = tuple(sockaddr_info)
        try:
            sock = socket.socket(af, socktype, proto)
        except OSError as e:
            if errno_from_exception(e) == errno.EAFNOSUPPORT:
                continue
            raise
        try:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            except OSError as e:
                if errno_from_exception(e) != errno.ENOPROTOOPT:
                    raise
            if reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if af == socket.AF_INET6:
                # Linux lets an IPv6 socket take IPv4 connections too, which
                # would make binding 0.0.0.0 as well impossible. Keep the two
                # families on separate sockets, as on every other platform.
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if sockaddr[1] == 0 and bound_port is not None:
                # Same kernel-chosen port for every family.
                sockaddr = (sockaddr[0], bound_port, *sockaddr[2:])
            sock.setblocking(False)
            try:
                sock.bind(sockaddr)
            except OSError as e:
                if (
                    errno_from_exception(e) == errno.EADDRNOTAVAIL
                    and address == "localhost"
                    and sockaddr[0] == "::1"
                ):
                    # Containers often have IPv6 half disabled: ::1 resolves
                    # but cannot be bound. Skip it for "localhost" only; in
                    # any other case the error is probably a real mistake.
                    sock.close()
                    continue
                raise
            bound_port = sock.getsockname()[1]
            sock.listen(backlog)
        except BaseException:
            sock.close()
            for s in sockets:
                s.close()
            raise
        sockets.append(sock)
    return sockets


if hasattr(socket, "AF_UNIX"):

    def bind_unix_socket(
        file: str, mode: int = 0o600, backlog: int = _DEFAULT_BACKLOG
    ) -> socket.socket:
        """Create a non-blocking listening Unix-domain socket at *file*.

        An existing *socket* at that path is removed first (presumed left
        over from an earlier run; see Tornado issue #2823 for the caveat that
        this also steals the path from a server still running). Any other
        kind of file there is never removed: `ValueError` is raised instead.
        A name starting with ``"\\0"`` is in Linux's abstract namespace and
        touches no file.

        :arg file: the socket path.
        :arg mode: permissions applied to the socket file.
        :arg backlog: the ``listen()`` backlog.
        :returns: one socket (not a list, unlike `bind_sockets`).
        :raises ValueError: if *file* exists and is not a socket.
        """
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            except OSError as e:
                if errno_from_exception(e) != errno.ENOPROTOOPT:
                    raise
            sock.setblocking(False)
            if file.startswith("\0"):
                sock.bind(file)
            else:
                try:
                    st = os.stat(file)
                except FileNotFoundError:
                    pass
                else:
                    if not stat.S_ISSOCK(st.st_mode):
                        raise ValueError(f"File {file} exists and is not a socket")
                    os.remove(file)
                sock.bind(file)
                os.chmod(file, mode)
            sock.listen(backlog)
        except BaseException:
            sock.close()
            raise
        return sock


class _AcceptErrorLog:
    """Logs accept() resource errors at most once per interval (process-wide).

    Every listening socket shares it, so a process out of descriptors writes
    one line a minute however many sockets it listens on.
    """

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self._last: float | None = None
        self._suppressed = 0

    def report(self, sock: socket.socket, exc: OSError, delay: float) -> None:
        now = self.clock()
        if self._last is not None and now - self._last < self.interval:
            self._suppressed += 1
            return
        self._last = now
        suppressed, self._suppressed = self._suppressed, 0
        try:
            where = sock.getsockname()
        except OSError:
            where = "?"
        gen_log.error(
            "accept() on %s failed: %s; pausing new connections for %g s "
            "(%d similar errors not logged in the last %.0f s)",
            where,
            exc,
            delay,
            suppressed,
            self.interval,
        )


_accept_error_log = _AcceptErrorLog(_ACCEPT_ERROR_LOG_INTERVAL)


def add_accept_handler(
    sock: socket.socket, callback: Callable[[socket.socket, Any], None]
) -> Callable[[], None]:
    """Accept connections on listening *sock* from the current `.IOLoop`.

    Each accepted connection is passed to ``callback(connection, address)``
    (note: not the ``(fd, events)`` signature of `.IOLoop.add_handler`). At
    most ``_DEFAULT_BACKLOG`` connections are accepted per wakeup, so a busy
    listener cannot starve the rest of the loop.

    If ``accept()`` fails for lack of file descriptors or memory, the socket
    is paused for ``_ACCEPT_RETRY_DELAY`` seconds rather than retried at once
    (waiting connections stay in the kernel's backlog), and the error is
    logged on ``embedtornado.general`` at most once a minute.

    :returns: a function that stops accepting (removes the handler and
        cancels any pending retry).
    """
    io_loop = IOLoop.current()
    removed = False
    retry_handle: object = None

    def resume() -> None:
        nonlocal retry_handle
        retry_handle = None
        if not removed and sock.fileno() != -1:
            io_loop.add_handler(sock, accept_handler, IOLoop.READ)

    def pause(exc: OSError) -> None:
        nonlocal retry_handle
        io_loop.remove_handler(sock)
        delay = _ACCEPT_RETRY_DELAY
        retry_handle = io_loop.call_later(delay, resume)
        _accept_error_log.report(sock, exc, delay)

    def accept_handler(fd: Any, events: int) -> None:
        # Accept a bounded batch: more connections can arrive while we run
        # callbacks, and accepting greedily would starve other work (and
        # skew load balancing across forked workers).
        for _ in range(_DEFAULT_BACKLOG):
            if removed:
                return  # the socket was most likely closed by a callback
            try:
                connection, address = sock.accept()
            except BlockingIOError:
                return  # the queue is empty
            except ConnectionAbortedError:
                continue  # the peer gave up while queued
            except OSError as e:
                if errno_from_exception(e) in _ACCEPT_RESOURCE_ERRORS:
                    pause(e)
                    return
                raise
            callback(connection, address)

    def remove_handler() -> None:
        nonlocal removed, retry_handle
        io_loop.remove_handler(sock)
        if retry_handle is not None:
            io_loop.remove_timeout(retry_handle)
            retry_handle = None
        removed = True

    io_loop.add_handler(sock, accept_handler, IOLoop.READ)
    return remove_handler


def is_valid_ip(ip: str) -> bool:
    """Return ``True`` if *ip* is a well-formed IPv4 or IPv6 address."""
    if not ip or "\x00" in ip:
        # getaddrinfo would treat "" as localhost and stop at a NUL.
        return False
    try:
        res = socket.getaddrinfo(
            ip, 0, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST
        )
    except socket.gaierror as e:
        if e.args[0] == socket.EAI_NONAME:
            return False
        raise
    except UnicodeError:
        # The idna codec rejects labels over 63 characters even with
        # AI_NUMERICHOST (bpo-32958).
        return False
    return bool(res)


class Resolver(Configurable):
    """Asynchronous name resolution, with a configurable implementation.

    ``Resolver()`` builds the configured class, by default
    `DefaultLoopResolver`; choose another with, for example::

        Resolver.configure("embedtornado.netutil.ThreadedResolver", num_threads=4)

    Implementations here: `DefaultLoopResolver`, `OverrideResolver`, and the
    deprecated `DefaultExecutorResolver`, `ExecutorResolver`,
    `BlockingResolver` and `ThreadedResolver`.
    """

    @classmethod
    def configurable_base(cls) -> type[Resolver]:
        return Resolver

    @classmethod
    def configurable_default(cls) -> type[Resolver]:
        return DefaultLoopResolver

    def resolve(
        self, host: str, port: int, family: socket.AddressFamily = socket.AF_UNSPEC
    ) -> Awaitable[list[tuple[int, Any]]]:
        """Resolve *host* and *port* to a list of ``(family, address)`` pairs.

        Each address can be passed to `socket.socket.connect`.

        :arg host: a hostname or a literal IP address.
        :arg family: restrict results to this address family.
        :raises IOError: (awaited) if the name cannot be resolved.
        """
        raise NotImplementedError()

    def close(self) -> None:
        """Release the resolver's resources."""


def _resolve_addr(
    host: str, port: int, family: socket.AddressFamily = socket.AF_UNSPEC
) -> list[tuple[int, Any]]:
    # A socket type is passed because some systems reject getaddrinfo for a
    # port missing from /etc/services without one; the addresses are usable
    # for datagram sockets all the same.
    return [
        (fam, addr)
        for fam, _type, _proto, _name, addr in socket.getaddrinfo(
            host, port, family, socket.SOCK_STREAM
        )
    ]


class DefaultExecutorResolver(Resolver):
    """Resolve with `socket.getaddrinfo` on the loop's default executor.

    .. deprecated:: 6.2
       Use `DefaultLoopResolver`.
    """

    async def resolve(
        self, host: str, port: int, family: socket.AddressFamily = socket.AF_UNSPEC
    ) -> list[tuple[int, Any]]:
        return await IOLoop.current().run_in_executor(None, _resolve_addr, host, port, family)


class DefaultLoopResolver(Resolver):
    """Resolve with the running loop's `asyncio.loop.getaddrinfo` (the default)."""

    async def resolve(
        self, host: str, port: int, family: socket.AddressFamily = socket.AF_UNSPEC
    ) -> list[tuple[int, Any]]:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, family=family, type=socket.SOCK_STREAM
        )
        return [(fam, addr) for fam, _type, _proto, _name, addr in infos]


class ExecutorResolver(Resolver):
    """Resolve with `socket.getaddrinfo` on a `concurrent.futures.Executor`.

    :arg executor: the executor; default: run inline (`.dummy_executor`).
    :arg close_executor: shut *executor* down in `close` (default ``True``).

    .. deprecated:: 5.0
       Use `DefaultLoopResolver`.
    """

    def initialize(
        self,
        executor: concurrent.futures.Executor | None = None,
        close_executor: bool = True,
    ) -> None:
        if executor is None:
            self.executor: concurrent.futures.Executor | None = dummy_executor
            self.close_executor = False
        else:
            self.executor = executor
            self.close_executor = close_executor

    def close(self) -> None:
        if self.close_executor and self.executor is not None:
            self.executor.shutdown()
        self.executor = None

    @run_on_executor
    def resolve(
        self, host: str, port: int, family: socket.AddressFamily = socket.AF_UNSPEC
    ) -> list[tuple[int, Any]]:
        return _resolve_addr(host, port, family)


class BlockingResolver(ExecutorResolver):
    """Resolve inline with `socket.getaddrinfo`, blocking the loop.

    .. deprecated:: 5.0
       Use `DefaultLoopResolver`.
    """

    def initialize(self) -> None:  # type: ignore[override]
        super().initialize()


class ThreadedResolver(ExecutorResolver):
    """Resolve on a thread pool shared by all instances (per process).

    The pool's size is fixed by the first instance created in a process.

    :arg num_threads: the pool size.

    .. deprecated:: 5.0
       Use `DefaultLoopResolver`.
    """

    _threadpool: concurrent.futures.ThreadPoolExecutor | None = None
    _threadpool_pid: int | None = None

    def initialize(self, num_threads: int = 10) -> None:  # type: ignore[override]
        super().initialize(
            executor=ThreadedResolver._create_threadpool(num_threads), close_executor=False
        )

    @classmethod
    def _create_threadpool(cls, num_threads: int) -> concurrent.futures.ThreadPoolExecutor:
        pid = os.getpid()
        if cls._threadpool_pid != pid:
            # Threads do not survive fork(); a pool inherited from the parent
            # is unusable.
            cls._threadpool = None
        if cls._threadpool is None:
            cls._threadpool = concurrent.futures.ThreadPoolExecutor(num_threads)
            cls._threadpool_pid = pid
        return cls._threadpool


class OverrideResolver(Resolver):
    """Wrap another resolver, substituting some names first (handy in tests).

    The mapping may contain three kinds of entries, tried most specific
    first::

        {
            "example.com": "127.0.1.1",                            # host
            ("login.example.com", 443): ("localhost", 1443),        # host, port
            ("login.example.com", 443, socket.AF_INET6): ("::1", 1443),
        }

    :arg resolver: the resolver that does the real work (closed by `close`).
    :arg mapping: the substitutions.
    """

    def initialize(self, resolver: Resolver, mapping: dict[Any, Any]) -> None:
        self.resolver = resolver
        self.mapping = mapping

    def close(self) -> None:
        self.resolver.close()

    def resolve(
        self, host: str, port: int, family: socket.AddressFamily = socket.AF_UNSPEC
    ) -> Awaitable[list[tuple[int, Any]]]:
        if (host, port, family) in self.mapping:
            host, port = self.mapping[(host, port, family)]
        elif (host, port) in self.mapping:
            host, port = self.mapping[(host, port)]
        elif host in self.mapping:
            host = self.mapping[host]
        return self.resolver.resolve(host, port, family)


# ssl_options dict keys that become SSLContext settings.
_SSL_CONTEXT_KEYWORDS = frozenset(
    ["ssl_version", "certfile", "keyfile", "cert_reqs", "ca_certs", "ciphers"]
)


def ssl_options_to_context(
    ssl_options: dict[str, Any] | ssl.SSLContext,
    server_side: bool | None = None,
) -> ssl.SSLContext:
    """Turn an ``ssl_options`` dict into an `ssl.SSLContext`.

    A context is returned as it is. A dict may hold the keys
    ``ssl_version``, ``certfile``, ``keyfile``, ``cert_reqs``, ``ca_certs``
    and ``ciphers`` (the old ``ssl.wrap_socket`` arguments). TLS compression
    is always disabled.

    .. note:: embedtornado differs from Tornado 6.6.1: a server context made
       from a dict without ``ssl_version`` also offers TLS 1.2 at the oldest,
       prefers the server's cipher order and refuses renegotiation.

    :arg server_side: ``True`` for a server context, ``False`` for a client
        one. Leaving it ``None`` uses the generic ``PROTOCOL_TLS``, which
        Python 3.10+ deprecates (a `DeprecationWarning`, as in Tornado).
    :raises AssertionError: for an unknown key (as in Tornado).
    """
    if isinstance(ssl_options, ssl.SSLContext):
        return ssl_options
    if not isinstance(ssl_options, dict):
        raise AssertionError(ssl_options)
    unknown = set(ssl_options) - _SSL_CONTEXT_KEYWORDS
    if unknown:
        raise AssertionError(ssl_options)
    if server_side:
        default_version = ssl.PROTOCOL_TLS_SERVER
    elif server_side is not None:
        default_version = ssl.PROTOCOL_TLS_CLIENT
    else:
        default_version = ssl.PROTOCOL_TLS
    context = ssl.SSLContext(ssl_options.get("ssl_version", default_version))
    if "certfile" in ssl_options:
        context.load_cert_chain(ssl_options["certfile"], ssl_options.get("keyfile"))
    if "cert_reqs" in ssl_options:
        if ssl_options["cert_reqs"] == ssl.CERT_NONE:
            # PROTOCOL_TLS_CLIENT turns hostname checking on, and it cannot
            # be combined with CERT_NONE.
            context.check_hostname = False
        context.verify_mode = ssl_options["cert_reqs"]
    if "ca_certs" in ssl_options:
        context.load_verify_locations(ssl_options["ca_certs"])
    if "ciphers" in ssl_options:
        context.set_ciphers(ssl_options["ciphers"])
    # Compression enables CRIME-style attacks.
    context.options |= getattr(ssl, "OP_NO_COMPRESSION", 0)
    if server_side and "ssl_version" not in ssl_options:
        from embedtornado import _tls

        _tls.harden_server_context(context)
    return context


def ssl_wrap_socket(
    socket: socket.socket,
    ssl_options: dict[str, Any] | ssl.SSLContext,
    server_hostname: str | None = None,
    server_side: bool | None = None,
    **kwargs: Any,
) -> ssl.SSLSocket:
    """Wrap *socket* in TLS according to *ssl_options*.

    :arg ssl_options: an `ssl.SSLContext` or a dict for
        `ssl_options_to_context`.
    :arg server_hostname: the name to send with SNI and check the
        certificate against (clients).
    :arg server_side: as for `ssl_options_to_context`; ``None`` means client.
    :arg kwargs: passed on to `ssl.SSLContext.wrap_socket`.
    """
    context = ssl_options_to_context(ssl_options, server_side=server_side)
    return context.wrap_socket(
        socket,
        server_hostname=server_hostname,
        server_side=bool(server_side),
        **kwargs,
    )
