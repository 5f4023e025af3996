"""Server-side sessions: the store interface every backend implements.

A session is a small ``dict`` of JSON-serialisable values kept on the server
and found again through a session id carried in a signed cookie. The session
helper (the security issue) does the cookie and request side; where the data
lives is a :class:`SessionStore`: in memory for tests and single-process
servers, SQLite (``embedtornado.db``) on a device that must survive a restart.

The interface is deliberately small, asynchronous, and keyed by opaque ids::

    class SessionStore:
        async def load(self, session_id) -> dict | None     # None: unknown or expired
        async def save(self, session_id, data, expires_at) # insert or replace
        async def delete(self, session_id)                 # no error if unknown
        async def purge_expired(self, now) -> int          # how many were removed

``expires_at`` and ``now`` are wall-clock seconds (`time.time`), because
sessions outlive the process and the monotonic clock does not. A store never
interprets ``data`` beyond storing and returning an equal ``dict``.
"""

from __future__ import annotations

import abc
from typing import Any

__all__ = ["SessionStore"]


class SessionStore(abc.ABC):
    """Where session data lives; see the module docstring for the contract."""

    @abc.abstractmethod
    async def load(self, session_id: str) -> dict[str, Any] | None:
        """Return the data saved under *session_id*, or None if unknown or expired."""

    @abc.abstractmethod
    async def save(self, session_id: str, data: dict[str, Any], expires_at: float) -> None:
        """Store *data* under *session_id* until *expires_at* (replacing what was there)."""

    @abc.abstractmethod
    async def delete(self, session_id: str) -> None:
        """Forget *session_id*; deleting an unknown id is not an error."""

    @abc.abstractmethod
    async def purge_expired(self, now: float) -> int:
        """Remove every session whose ``expires_at`` is at or before *now*; return the count."""

    async def close(self) -> None:
        """Release what the store holds (connections, threads); the default does nothing."""
