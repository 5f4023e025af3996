"""Cookies, signed cookies, XSRF protection and the current user: `SecurityMixin`.

`RequestHandler` inherits these methods from `SecurityMixin`; this module
exists to keep the security-relevant code in one reviewable place, not as an
API of its own. Use them from a handler as in Tornado::

    class LoginHandler(RequestHandler):
        def post(self):
            user = check_password(self.get_argument("name"), self.get_argument("password"))
            if user is None:
                raise HTTPError(403)
            self.set_signed_cookie("user", user.name)   # needs the cookie_secret setting
            self.redirect(self.get_argument("next", "/"))

    class BaseHandler(RequestHandler):
        def get_current_user(self):
            name = self.get_signed_cookie("user")        # bytes, or None if forged/expired
            return name.decode() if name else None

Overriding (``get_current_user``, ``check_xsrf_cookie``, ``get_login_url``,
``check_trusted_origin``) works as in Tornado: a handler subclass's method
comes first in the method resolution order, before this mixin's.
"""

from __future__ import annotations

import datetime
import http.cookies
import re
import urllib.parse
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, overload

from embedtornado import escape, httputil
from embedtornado.web.errors import HTTPError

if TYPE_CHECKING:
    from embedtornado.web.application import Application

__all__ = ["SecurityMixin"]

#: Characters not allowed in a cookie name or attribute (controls, space, ``;``, DEL).
_COOKIE_FORBIDDEN_RE = re.compile(r"[\x00-\x20\x3b\x7f]")
_COOKIE_VALUE_FORBIDDEN_RE = re.compile(r"[\x00-\x20]")


class SecurityMixin:
    """The cookie, signed-cookie, XSRF and user methods of `RequestHandler`.

    Not useful on its own: it relies on the handler's ``request``,
    ``application``, ``settings`` and ``require_setting``.
    """

    _new_cookie: http.cookies.SimpleCookie | None = None
    _current_user: Any

    if TYPE_CHECKING:
        application: Application
        request: httputil.HTTPServerRequest

        @property
        def settings(self) -> dict[str, Any]: ...

        def require_setting(self, name: str, feature: str = ...) -> None: ...

        def get_argument(self, name: str, default: Any = ..., strip: bool = ...) -> Any: ...

        _headers_written: bool

        def set_status(self, status_code: int, reason: str | None = None) -> None: ...

        def set_header(self, name: str, value: Any) -> None: ...

        def finish(self, chunk: Any = None) -> Any: ...

    # --- cookies ---------------------------------------------------------------------

    @property
    def cookies(self) -> dict[str, http.cookies.Morsel]:
        """The request's cookies (`.HTTPServerRequest.cookies`)."""
        return self.request.cookies

    @overload
    def get_cookie(self, name: str, default: str) -> str: ...

    @overload
    def get_cookie(self, name: str, default: None = None) -> str | None: ...

    def get_cookie(self, name: str, default: str | None = None) -> str | None:
        """Return the value of the request's cookie ``name``, or ``default``.

        Only cookies the client sent are seen, not those set with
        `set_cookie` during this request.
        """
        cookies = self.request.cookies
        if cookies is not None and name in cookies:
            return cookies[name].value
        return default

    def set_cookie(
        self,
        name: str,
        value: str | bytes,
        domain: str | None = None,
        expires: float | tuple | datetime.datetime | None = None,
        path: str = "/",
        expires_days: float | None = None,
        # Keyword-only from here, as in Tornado.
        *,
        max_age: int | None = None,
        httponly: bool = False,
        secure: bool = False,
        samesite: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Set a cookie on the response (a ``Set-Cookie`` header).

        ``expires`` is a POSIX timestamp, a UTC time tuple or a
        `datetime.datetime`; ``expires_days`` counts days from now and is
        used only without ``expires``. ``max_age`` must be an integer.
        Setting the same name twice keeps the second. The cookie is not
        visible to `get_cookie` until the next request.

        A value with control characters or spaces raises `ValueError`; a
        name, domain, path or samesite with control characters, spaces or
        ``;`` raises `http.cookies.CookieError`.

        .. deprecated:: 6.3
           Other keyword arguments are passed to `http.cookies.Morsel`
           case-insensitively, with a `DeprecationWarning`.
        """
        name = escape.native_str(name)
        value = escape.native_str(value)
        if _COOKIE_VALUE_FORBIDDEN_RE.search(value):
            raise ValueError(f"Invalid cookie {name!r}: {value!r}")
        for attr_name, attr_value in (
            ("name", name),
            ("domain", domain),
            ("path", path),
            ("samesite", samesite),
        ):
            if attr_value is not None and _COOKIE_FORBIDDEN_RE.search(attr_value):
                raise http.cookies.CookieError(
                    f"Invalid cookie attribute {attr_name}={attr_value!r} for cookie {name!r}"
                )
        for k, v in kwargs.items():
            if _COOKIE_FORBIDDEN_RE.search(str(v)):
                raise http.cookies.CookieError(
                    f"Invalid cookie attribute {k}={v!r} for cookie {name!r}"
                )
        jar = self._new_cookie
        if jar is None:
            jar = self._new_cookie = http.cookies.SimpleCookie()
        if name in jar:
            del jar[name]
        jar[name] = value
        morsel = jar[name]
        if domain:
            morsel["domain"] = domain
        if expires_days is not None and not expires:
            expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(
                days=expires_days
            )
        if expires:
            morsel["expires"] = httputil.format_timestamp(expires)
        if path:
            morsel["path"] = path
        if max_age:
            # int() keeps a non-integer from smuggling extra attributes in.
            morsel["max-age"] = str(int(max_age))
        if httponly:
            morsel["httponly"] = True
        if secure:
            morsel["secure"] = True
        if samesite:
            morsel["samesite"] = samesite
        if kwargs:
            for k, v in kwargs.items():
                morsel[k] = v
            warnings.warn(
                f"Deprecated arguments to set_cookie: {set(kwargs.keys())} "
                "(should be lowercase)",
                DeprecationWarning,
                stacklevel=2,
            )

    def clear_cookie(self, name: str, **kwargs: Any) -> None:
        """Delete the cookie ``name`` (by setting it empty and expired a year ago).

        Takes `set_cookie`'s keyword arguments except ``expires`` and
        ``max_age``; ``path`` and ``domain`` (and for some browsers
        ``samesite`` and ``secure``) must match the ones it was set with.
        """
        for excluded_arg in ("expires", "max_age"):
            if excluded_arg in kwargs:
                raise TypeError(
                    f"clear_cookie() got an unexpected keyword argument '{excluded_arg}'"
                )
        expires = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=365)
        self.set_cookie(name, value="", expires=expires, **kwargs)

    def clear_all_cookies(self, **kwargs: Any) -> None:
        """Delete every cookie the request carried (see `clear_cookie`).

        .. deprecated:: 6.3
           Only works when all cookies use the same ``path``, ``domain``,
           ``samesite`` and ``secure``; prefer `clear_cookie`.
        """
        for name in self.request.cookies:
            self.clear_cookie(name, **kwargs)

    # --- responses ----------------------------------------------------------------

    def redirect(self, url: str, permanent: bool = False, status: int | None = None) -> None:
        """Redirect to ``url`` (absolute or relative) and finish the response.

        The status is ``status`` if given (it must be 3xx), else 301 with
        ``permanent`` and 302 without. The URL is used as given: do not
        pass unchecked client input (``//host`` and ``/\\host`` lead to
        other sites). A URL with CR, LF or other control characters raises
        `ValueError`.
        """
        if self._headers_written:
            raise Exception("Cannot redirect after headers have been written")
        if status is None:
            status = 301 if permanent else 302
        else:
            assert isinstance(status, int) and 300 <= status <= 399
        self.set_status(status)
        self.set_header("Location", escape.utf8(url))
        self.finish()


    def _add_security_headers(self) -> None:
        """Add the ``security_headers`` setting's default header set (from `clear`)."""

    # --- users ------------------------------------------------------------------------

    @property
    def current_user(self) -> Any:
        """The logged-in user of this request, or ``None``.

        Computed on first use by `get_current_user` (once per request), or
        assigned, typically in an ``async`` `prepare`::

            async def prepare(self):
                user_id = self.get_signed_cookie("user_id")
                if user_id:
                    self.current_user = await load_user(user_id)
        """
        try:
            return self._current_user
        except AttributeError:
            pass
        self._current_user = self.get_current_user()
        return self._current_user

    @current_user.setter
    def current_user(self, value: Any) -> None:
        self._current_user = value

    def get_current_user(self) -> Any:
        """Override to find the user (from a cookie, say). May not be a coroutine."""
        return None

    def get_login_url(self) -> str:
        """Return the URL `authenticated` sends anonymous users to: the ``login_url`` setting."""
        self.require_setting("login_url", "@embedtornado.web.authenticated")
        return self.application.settings["login_url"]

    # --- cross-site request protection ---------------------------------------------

    def check_xsrf_cookie(self) -> None:
        """Check the ``_xsrf`` argument or header against the ``_xsrf`` cookie.

        .. note:: embedtornado differs from Tornado 6.6.1: XSRF tokens come
           with the security issue. Until then this raises
           `NotImplementedError`, so an application with the
           ``xsrf_cookies`` setting fails closed (500) on unsafe methods
           rather than accepting forged requests.
        """
        raise NotImplementedError("xsrf_cookies is not available in this release yet")

    @property
    def xsrf_token(self) -> bytes:
        """The XSRF token of this session (not available yet; see `check_xsrf_cookie`)."""
        raise NotImplementedError("xsrf_cookies is not available in this release yet")

    def xsrf_form_html(self) -> str:
        """The hidden ``_xsrf`` form field (not available yet; see `check_xsrf_cookie`)."""
        raise NotImplementedError("xsrf_cookies is not available in this release yet")

    def _cross_origin_protection(self) -> None:
        # Safe methods are never checked.
        if self.request.method in ("HEAD", "OPTIONS", "GET"):
            return
        settings = self.application.settings
        if settings.get("xsrf_cookies"):
            self.check_xsrf_cookie()
        if settings.get("cross_origin_protection"):
            error = self._check_cross_origin(self.check_trusted_origin)
            if error is not None:
                raise HTTPError(403, error)

    def _check_cross_origin(self, check: Callable[[str], bool]) -> str | None:
        """Return why a state-changing request looks cross-origin, or ``None`` if allowed."""
        headers = self.request.headers
        site = headers.get("sec-fetch-site")
        if site in ("same-origin", "none"):
            return None
        origin = headers.get("origin")
        if site is None:
            # An old browser, plain HTTP, or not a browser at all (no Origin).
            if origin is None:
                return None
            if self._origin_matches_host(origin) or check(origin):
                return None
            return "Origin %r not allowed" % origin
        if origin and check(origin):
            return None
        return "Sec-Fetch-Site %s & origin %r not allowed" % (site, origin)

    def _origin_matches_host(self, origin: str) -> bool:
        netloc = urllib.parse.urlsplit(origin).netloc.lower()
        return netloc == self.request.headers.get("Host", "").lower()

    def check_trusted_origin(self, origin: str) -> bool:
        """Return whether a cross-origin, state-changing request from ``origin`` is allowed.

        Used when the ``cross_origin_protection`` setting is on, for unsafe
        methods that look cross-origin; by default an origin is trusted if
        it is in the ``trusted_origins`` setting. It runs before `prepare`.

        .. versionadded:: 6.6
        """
        return origin in self.application.settings.get("trusted_origins", [])
