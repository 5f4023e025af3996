"""The service manager's notification protocol (``sd_notify``), without libsystemd.

systemd passes ``$NOTIFY_SOCKET`` to a ``Type=notify`` service: an
``AF_UNIX`` datagram socket, a path (``/run/systemd/notify``) or an abstract
name (``@...``).  Each datagram is newline-separated ``KEY=VALUE`` lines::

    from embedtornado.daemon.sdnotify import Notifier

    notifier = Notifier.from_environment()     # reads and unsets NOTIFY_SOCKET
    notifier.send("READY=1", "STATUS=serving on 0.0.0.0:8080")
    ...
    notifier.send("RELOADING=1", f"MONOTONIC_USEC={monotonic_usec()}")
    notifier.send("READY=1")
    notifier.send("STOPPING=1")

`Notifier.send` never raises: a manager that went away (socket deleted,
connection refused, buffer full) must not stop the daemon from serving or from
shutting down cleanly.  It returns whether the datagram was sent.

The watchdog interval comes from ``$WATCHDOG_USEC`` (and ``$WATCHDOG_PID``,
which must be this process when set); the daemon sends ``WATCHDOG=1`` from its
event loop at half that interval, so a blocked loop stops the pings and the
manager restarts the service.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import MutableMapping

__all__ = ["Notifier", "monotonic_usec", "watchdog_interval"]


def monotonic_usec() -> int:
    """``CLOCK_MONOTONIC`` in microseconds, as ``MONOTONIC_USEC=`` wants it."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


def watchdog_interval(environ: MutableMapping[str, str] | None = None,
                      unset: bool = True) -> float | None:
    """Seconds between watchdog pings (half of ``$WATCHDOG_USEC``), or ``None``.

    ``None`` when no watchdog is configured, when ``$WATCHDOG_PID`` names
    another process, or when the value is not a positive integer.

    :arg environ: the environment (`os.environ` by default).
    :arg unset: remove both variables, so child processes do not inherit them.
    """
    env = os.environ if environ is None else environ
    usec_text = env.get("WATCHDOG_USEC")
    pid_text = env.get("WATCHDOG_PID")
    if unset:
        env.pop("WATCHDOG_USEC", None)
        env.pop("WATCHDOG_PID", None)
    if not usec_text:
        return None
    if pid_text:
        try:
            if int(pid_text) != os.getpid():
                return None
        except ValueError:
            return None
    try:
        usec = int(usec_text)
    except ValueError:
        return None
    if usec <= 0:
        return None
    return usec / 2_000_000


class Notifier:
    """Sends notifications to the service manager's socket.

    :arg address: ``$NOTIFY_SOCKET``'s value; ``None`` or empty makes every
        `send` a no-op that returns ``False``.
    """

    def __init__(self, address: str | None) -> None:
        if address and address.startswith("@"):
            address = "\0" + address[1:]
        self.address = address or None
        self._sock: socket.socket | None = None
        #: Datagrams sent successfully, and failures (for /metrics).
        self.sent = 0
        self.failed = 0

    @classmethod
    def from_environment(cls, environ: MutableMapping[str, str] | None = None,
                         unset: bool = True) -> Notifier:
        """Build from ``$NOTIFY_SOCKET`` (removed from the environment when
        ``unset``, so plugins' child processes cannot impersonate us)."""
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET")
        if unset:
            env.pop("NOTIFY_SOCKET", None)
        return cls(address)

    @property
    def enabled(self) -> bool:
        """Whether a manager socket was given."""
        return self.address is not None

    def send(self, *fields: str) -> bool:
        """Send ``fields`` (``"READY=1"``, ``"STATUS=..."``) in one datagram.

        Never raises; returns ``True`` when the datagram went out.
        """
        if self.address is None:
            return False
        payload = "\n".join(f.replace("\n", " ") for f in fields).encode("utf-8", "replace")
        try:
            if self._sock is None:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                sock.setblocking(False)
                self._sock = sock
            self._sock.sendto(payload, self.address)
        except OSError:
            # NOTE(daemon): the manager may be gone (socket removed, connection
            # refused) or its queue full; the service must carry on, and above
            # all a shutdown must not die here (see APPLIANCE-NOTES 1.4).
            self.failed += 1
            return False
        self.sent += 1
        return True

    def close(self) -> None:
        """Close the client socket (`send` reopens it when needed)."""
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None
