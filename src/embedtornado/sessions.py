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

Using sessions in handlers
--------------------------

Mix `SessionMixin` in before `~embedtornado.web.RequestHandler` and give the
application a ``cookie_secret`` and a ``session_store``::

    from embedtornado.sessions import MemorySessionStore, SessionMixin
    from embedtornado.web import Application, RequestHandler

    class CartHandler(SessionMixin, RequestHandler):
        def get(self):                         # the session was loaded by prepare()
            self.write({"items": self.session.get("items", [])})

        def post(self):
            items = self.session.setdefault("items", [])
            items.append(self.get_argument("item"))    # nested changes count too
            self.redirect("/cart")             # saved before the response goes out

    class LoginHandler(SessionMixin, RequestHandler):
        async def post(self):
            user = await check_password(...)
            self.rotate_session()              # a new id on login (no session fixation)
            self.session["user"] = user.name

    class LogoutHandler(SessionMixin, RequestHandler):
        async def post(self):
            await self.clear_session()         # forgotten by the store, cookie cleared

    app = Application([...], cookie_secret="...", session_store=MemorySessionStore())

The API, all on `SessionMixin`:

* ``self.session``: the request's `Session`, a ``dict`` of JSON values with
  ``id`` (``None`` until first saved) and ``is_new``. Reading it before the
  session is loaded raises `RuntimeError`.
* ``await self.load_session()``: read the session cookie (a signed cookie
  holding only a random id) and load the data from the store; an unknown,
  expired, forged or missing id gives a new, empty session (a client cannot
  choose its id). `SessionMixin.prepare` calls it; a handler that overrides
  ``prepare`` calls ``await super().prepare()`` or this. Loading twice in a
  request does nothing.
* Saving is automatic: when the response finishes (`finish`, `redirect`,
  `render`, or the method returning) and the data changed since it was
  loaded (compared as JSON, so changes inside nested lists and dicts count),
  the data is saved and, for a new id, the cookie set, before the response
  is sent. Error responses (status 500 and up) do not save. A new session
  left empty is never stored. An emptied existing session is deleted.
* ``await self.save_session(force=False)``: save now (``force`` saves
  unchanged data too, which pushes its expiry back). Needed only before a
  `flush` of a new session, since the cookie must go out with the headers.
* ``self.rotate_session()``: give the session a new id at the next save
  (the old one is deleted then); call it when the user logs in.
* ``await self.clear_session()``: delete the session and its cookie, and start
  an empty one (logging out).

Settings: ``session_store`` (a `SessionStore`, required), ``cookie_secret``
(required), ``session_cookie_name`` (default ``"session"``),
``session_max_age_days`` (default 30: the store's expiry, the cookie's
lifetime and the signed cookie's maximum age), ``session_cookie_kwargs``
(given to `~embedtornado.web.RequestHandler.set_cookie`, over the defaults
``httponly=True``, ``samesite="Lax"`` and ``secure`` for HTTPS requests).

Expiry counts from the last save: a session only read for longer than
``session_max_age_days`` expires (``save_session(force=True)`` renews it).
Two requests of one session that both change it run in parallel and the
last one to finish wins, as with Django's database sessions.

`MemorySessionStore` keeps sessions in a dict, for tests and single-process
servers; it holds at most ``max_sessions`` (the least recently saved are
dropped first) and copies data in and out as JSON, as a database would.
"""

from __future__ import annotations

import abc
import asyncio
import collections
import json
import re
import secrets
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from embedtornado.log import app_log

if TYPE_CHECKING:
    from embedtornado.httputil import HTTPServerRequest
    from embedtornado.web.application import Application

__all__ = ["MemorySessionStore", "Session", "SessionMixin", "SessionStore"]


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


# --- below: the in-memory store and the handler side (the security issue) ---------------


def _to_json(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


class MemorySessionStore(SessionStore):
    """A `SessionStore` in a dict: for tests and single-process servers.

    :arg int max_sessions: the most sessions it holds; when a save goes
        over, expired sessions are purged, then the least recently saved
        ones are dropped. Every buffer a client can fill has a limit, and
        an application that starts sessions for anonymous visitors lets
        any client fill this one.

    Data is stored as JSON text, so what `load` returns is a copy (changing
    it changes nothing stored) and unserialisable data fails in `save`, as
    with a database store.
    """

    def __init__(self, max_sessions: int = 100_000) -> None:
        if max_sessions < 1:
            raise ValueError("max_sessions must be at least 1")
        self.max_sessions = max_sessions
        # session id -> (expires_at, JSON text), least recently saved first.
        self._sessions: collections.OrderedDict[str, tuple[float, str]] = (
            collections.OrderedDict()
        )

    def __len__(self) -> int:
        return len(self._sessions)

    async def load(self, session_id: str) -> dict[str, Any] | None:
        entry = self._sessions.get(session_id)
        if entry is None:
            return None
        expires_at, text = entry
        if expires_at <= time.time():
            del self._sessions[session_id]
            return None
        data: dict[str, Any] = json.loads(text)
        return data

    async def save(self, session_id: str, data: dict[str, Any], expires_at: float) -> None:
        text = _to_json(data)  # raises TypeError before anything changes
        sessions = self._sessions
        sessions[session_id] = (expires_at, text)
        sessions.move_to_end(session_id)
        if len(sessions) > self.max_sessions:
            await self.purge_expired(time.time())
            while len(sessions) > self.max_sessions:
                sessions.popitem(last=False)

    async def delete(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)

    async def purge_expired(self, now: float) -> int:
        expired = [sid for sid, (expires_at, _) in self._sessions.items() if expires_at <= now]
        for sid in expired:
            del self._sessions[sid]
        return len(expired)


class Session(dict):  # type: ignore[type-arg]
    """The data of one session: a ``dict`` of JSON values, with its ``id``.

    ``id`` is ``None`` for a session that has never been saved; ``is_new``
    says the request brought no valid session.
    """

    def __init__(self, data: dict[str, Any] | None = None, session_id: str | None = None):
        super().__init__(data or {})
        self.id = session_id
        self.is_new = session_id is None
        self._saved_json = _to_json(self)

    def changed(self) -> bool:
        """Whether the data differs from what was loaded or last saved."""
        return _to_json(self) != self._saved_json


#: What a session id looks like: 32 random bytes, URL-safe base64 (43 characters).
_SESSION_ID_RE = re.compile(r"[A-Za-z0-9_-]{43}")


def _new_session_id() -> str:
    return secrets.token_urlsafe(32)


class SessionMixin:
    """Server-side sessions for a `~embedtornado.web.RequestHandler`; see the module docstring.

    Put it before ``RequestHandler`` in the bases:
    ``class H(SessionMixin, RequestHandler)``.
    """

    _session: Session | None = None
    _session_rotate_from: str | None = None
    _session_finish: Awaitable[None] | None = None
    _session_saving = False

    if TYPE_CHECKING:
        application: Application
        request: HTTPServerRequest
        _headers_written: bool
        _auto_finish: bool
        _status_code: int

        def get_signed_cookie(
            self, name: str, value: str | None = None, max_age_days: float = 31,
            min_version: int | None = None,
        ) -> bytes | None: ...

        def set_signed_cookie(
            self, name: str, value: str | bytes, expires_days: float | None = 30,
            version: int | None = None, **kwargs: Any,
        ) -> None: ...

        def clear_cookie(self, name: str, **kwargs: Any) -> None: ...

        def require_setting(self, name: str, feature: str = ...) -> None: ...

        def send_error(self, status_code: int = 500, **kwargs: Any) -> None: ...

        def _handle_request_exception(self, e: BaseException) -> None: ...

    # --- settings ---------------------------------------------------------------------

    def _session_store(self) -> SessionStore:
        store = self.application.settings.get("session_store")
        if store is None:
            raise Exception(
                "You must define the 'session_store' setting in your application to use sessions"
            )
        if not isinstance(store, SessionStore):
            raise TypeError("the session_store setting must be a SessionStore, not %r" % store)
        return store

    def _session_cookie_name(self) -> str:
        return str(self.application.settings.get("session_cookie_name", "session"))

    def _session_max_age_days(self) -> float:
        return float(self.application.settings.get("session_max_age_days", 30))

    # --- the API ------------------------------------------------------------------------

    @property
    def session(self) -> Session:
        """The request's `Session` (after `load_session`, which `prepare` calls)."""
        session = self._session
        if session is None:
            raise RuntimeError(
                "the session is not loaded: call 'await self.load_session()' "
                "(SessionMixin.prepare does; call super().prepare() if you override it)"
            )
        return session

    async def prepare(self) -> None:
        """Load the session (`load_session`) before the HTTP method runs."""
        await self.load_session()

    async def load_session(self) -> Session:
        """Load the session the request's cookie names, or start an empty one; return it."""
        if self._session is not None:
            return self._session
        store = self._session_store()
        self.require_setting("cookie_secret", "sessions")
        raw = self.get_signed_cookie(
            self._session_cookie_name(),
            max_age_days=self._session_max_age_days(),
            min_version=2,
        )
        session = None
        if raw is not None:
            session_id = raw.decode("latin-1")
            if _SESSION_ID_RE.fullmatch(session_id):
                data = await store.load(session_id)
                if data is not None:
                    session = Session(data, session_id)
        if session is None:
            session = Session()
        self._session = session
        return session

    def rotate_session(self) -> None:
        """Give the session a new id at the next save (call it on login)."""
        session = self.session
        if session.id is not None:
            if self._session_rotate_from is None:
                self._session_rotate_from = session.id
            session.id = None

    async def clear_session(self) -> None:
        """Delete the session from the store and clear its cookie; start an empty one."""
        session = self._session
        store = self._session_store()
        for session_id in (self._session_rotate_from, session.id if session else None):
            if session_id is not None:
                await store.delete(session_id)
        self._session_rotate_from = None
        self._session = Session()
        self.clear_cookie(self._session_cookie_name(), **self._session_cookie_path_kwargs())

    async def save_session(self, force: bool = False) -> None:
        """Save the session now if it changed (or always, with ``force``).

        A new id's cookie is set here, so it must run before the headers
        are flushed; after that, only an existing id can be saved.
        """
        session = self.session
        store = self._session_store()
        old_id = self._session_rotate_from
        if not (force or old_id is not None or session.changed()):
            return
        if not session:
            # Nothing to keep: an emptied session is deleted, a new one never stored.
            if old_id is not None:
                await store.delete(old_id)
                self._session_rotate_from = None
            if session.id is not None:
                await store.delete(session.id)
                session.id = None
                if not self._headers_written:
                    self.clear_cookie(
                        self._session_cookie_name(), **self._session_cookie_path_kwargs()
                    )
            session._saved_json = _to_json(session)
            return
        max_age_days = self._session_max_age_days()
        if session.id is None:
            if self._headers_written:
                raise RuntimeError("cannot start a session after the headers were flushed")
            session_id = _new_session_id()
        else:
            session_id = session.id
        await store.save(session_id, dict(session), time.time() + max_age_days * 86400)
        if session.id is None:
            self.set_signed_cookie(
                self._session_cookie_name(),
                session_id,
                expires_days=max_age_days,
                **self._session_cookie_kwargs(),
            )
        session.id = session_id
        session._saved_json = _to_json(session)
        if old_id is not None:
            self._session_rotate_from = None
            await store.delete(old_id)

    def _session_cookie_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "httponly": True,
            "samesite": "Lax",
            "secure": self.request.protocol == "https",
        }
        kwargs.update(self.application.settings.get("session_cookie_kwargs", {}))
        return kwargs

    def _session_cookie_path_kwargs(self) -> dict[str, Any]:
        # clear_cookie must name the same path and domain as set_cookie did.
        kwargs = self._session_cookie_kwargs()
        return {k: kwargs[k] for k in ("path", "domain") if k in kwargs}

    # --- saving on finish ----------------------------------------------------------------

    def _session_needs_save(self) -> bool:
        session = self._session
        if session is None or self._session_saving or self._status_code >= 500:
            return False
        return self._session_rotate_from is not None or session.changed()

    def finish(self, chunk: Any = None) -> Any:
        """Save a changed session, then finish the response (see the module docstring).

        When there is something to save, the response is finished once the
        store has saved it, and this returns a future for that.
        """
        if self._session_finish is not None:
            raise RuntimeError("finish() called twice")
        if not self._session_needs_save():
            return super().finish(chunk)  # type: ignore[misc]
        if chunk is not None:
            self.write(chunk)
        # The request's own code may return before the save is done: stop it
        # from finishing the response a second time.
        self._auto_finish = False
        self._session_finish = asyncio.ensure_future(self._save_session_then_finish())
        return self._session_finish

    def write(self, chunk: Any) -> None:
        """`~embedtornado.web.RequestHandler.write`, refused once `finish` is waiting for a save."""
        if self._session_finish is not None:
            raise RuntimeError("Cannot write() after finish()")
        super().write(chunk)  # type: ignore[misc]

    async def _save_session_then_finish(self) -> None:
        self._session_saving = True
        try:
            await self.save_session()
        except Exception:
            app_log.error("Failed to save the session", exc_info=True)
            self._session_finish = None
            self.send_error(500)  # finishes without saving (status 500)
            return
        finally:
            self._session_saving = False
        self._session_finish = None
        try:
            super().finish()  # type: ignore[misc]
        except Exception as e:
            # What _execute does with an exception from finish().
            self._handle_request_exception(e)
