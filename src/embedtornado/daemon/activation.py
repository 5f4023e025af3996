"""Socket activation: adopt the listening sockets the service manager passes.

With ``embedtornado.socket`` (or ``systemd-socket-activate``) the manager
binds the port, and starts the service with the sockets as file descriptors
3, 4, ... and the variables ``LISTEN_PID`` (must be this process),
``LISTEN_FDS`` (how many) and ``LISTEN_FDNAMES`` (colon-separated names,
from ``FileDescriptorName=``)::

    from embedtornado.daemon.activation import listen_fds

    for sock, name in listen_fds():          # [] when not socket-activated
        print(name, sock.getsockname())

The daemon serves HTTP on every adopted stream socket except one named
``ops``, which carries ``/healthz`` and ``/metrics`` when those are enabled.
It falls back to binding ``address``/``port`` (or ``unix_socket``) only when
nothing was passed, so the same config works both ways.
"""

from __future__ import annotations

import fcntl
import os
import socket
from collections.abc import MutableMapping

__all__ = ["LISTEN_FDS_START", "ActivationError", "listen_fds"]

#: The first passed descriptor (``SD_LISTEN_FDS_START``).
LISTEN_FDS_START = 3


class ActivationError(Exception):
    """A passed descriptor that cannot be served (not a listening stream socket)."""


def listen_fds(environ: MutableMapping[str, str] | None = None,
               unset: bool = True) -> list[tuple[socket.socket, str]]:
    """Return the passed listening sockets with their names.

    Each socket is made non-blocking and close-on-exec (the manager passes
    them inheritable, and a plugin's child process must not keep the port
    open).  Unnamed descriptors are called ``unknown``, as by systemd.

    :arg environ: the environment (`os.environ` by default).
    :arg unset: remove ``LISTEN_*`` so child processes do not see them.
    :raises ActivationError: for a passed descriptor that is not a
        listening ``SOCK_STREAM`` socket.
    """
    env = os.environ if environ is None else environ
    pid_text = env.get("LISTEN_PID", "")
    fds_text = env.get("LISTEN_FDS", "")
    names_text = env.get("LISTEN_FDNAMES")
    if unset:
        for key in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
            env.pop(key, None)
    try:
        if int(pid_text) != os.getpid():
            return []
        count = int(fds_text)
    except ValueError:
        return []
    if count <= 0:
        return []
    names = names_text.split(":") if names_text else []
    result: list[tuple[socket.socket, str]] = []
    for index in range(count):
        fd = LISTEN_FDS_START + index
        name = names[index] if index < len(names) and names[index] else "unknown"
        flags = fcntl.fcntl(fd, fcntl.F_GETFD)
        fcntl.fcntl(fd, fcntl.F_SETFD, flags | fcntl.FD_CLOEXEC)
        try:
            sock = socket.socket(fileno=fd)
        except OSError as exc:
            raise ActivationError(f"passed descriptor {fd} ({name}) is not a socket: {exc}") \
                from exc
        if (sock.type != socket.SOCK_STREAM
                or not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)):
            sock.detach()
            raise ActivationError(
                f"passed descriptor {fd} ({name}) is not a listening stream socket "
                "(use ListenStream= in the .socket unit)")
        sock.setblocking(False)
        result.append((sock, name))
    return result
