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

Two additions of embedtornado's live here too: `SecurityMixin.safe_next_url`
(for redirect targets taken from the client) and the opt-in
``security_headers`` application setting (`DEFAULT_SECURITY_HEADERS` on every
response, or a dict merged over them). See ``docs/security.md``.
"""

from __future__ import annotations

import binascii
import os
import re
import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, overload

from embedtornado import escape, httputil, util
from embedtornado.escape import utf8
from embedtornado.log import gen_log
from embedtornado.web.decorators import _scheme_and_netloc
from embedtornado.web.errors import HTTPError

if TYPE_CHECKING:
    import datetime
    import http.cookies

    from embedtornado.web.application import Application

# NOTE(embedtornado): datetime, hmac, http.cookies, urllib.parse, web.signing
# and the compiled wsmask are imported in the methods that use them: a handler
# that sets no cookie and checks no XSRF token never needs them
# (tests/test_startup.py).

__all__ = ["DEFAULT_SECURITY_HEADERS", "SecurityMixin"]

#: Characters not allowed in a cookie name or attribute (controls, space, ``;``, DEL).
_COOKIE_FORBIDDEN_RE = re.compile(r"[\x00-\x20\x3b\x7f]")
_COOKIE_VALUE_FORBIDDEN_RE = re.compile(r"[\x00-\x20]")

#: A token's version prefix (``2|``); tokens without one are version 1.
_XSRF_VERSION_RE = re.compile(rb"([1-9][0-9]*)\|")
_DECIMAL_RE = re.compile(rb"[0-9]{1,20}")

#: What may not appear in a redirect target taken from the client (controls, DEL).
_REDIRECT_FORBIDDEN_RE = re.compile(r"[\x00-\x1f\x7f]")

#: The headers ``security_headers=True`` adds to every response (see `SecurityMixin`).
DEFAULT_SECURITY_HEADERS: dict[str, str | None] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


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
        import http.cookies

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
            import datetime

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
        import datetime

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

    # --- signed cookies -------------------------------------------------------------

    def set_signed_cookie(
        self,
        name: str,
        value: str | bytes,
        expires_days: float | None = 30,
        version: int | None = None,
        **kwargs: Any,
    ) -> None:
        """Set a cookie whose value is signed and timestamped, so it cannot be forged.

        Needs the ``cookie_secret`` setting: a long random string (or a dict
        of them by key version, with the ``key_version`` setting naming the
        one to sign with). Read it back with `get_signed_cookie`. The value
        may be any bytes; it is not encrypted, only signed, so the client can
        read it. ``expires_days`` is the browser's lifetime for the cookie
        (``None``: until the browser closes), independent of
        `get_signed_cookie`'s ``max_age_days``. Other keyword arguments go
        to `set_cookie`. As with `set_cookie`, the cookie is seen from the
        next request on.

        ``set_secure_cookie`` is the old name (before Tornado 6.3).
        """
        self.set_cookie(
            name,
            self.create_signed_value(name, value, version=version),
            expires_days=expires_days,
            **kwargs,
        )

    set_secure_cookie = set_signed_cookie

    def create_signed_value(
        self, name: str, value: str | bytes, version: int | None = None
    ) -> bytes:
        """Sign and timestamp ``value`` with the ``cookie_secret`` setting.

        What `set_signed_cookie` stores; use it for signed values that travel
        another way (decode them with `get_signed_cookie`'s ``value``
        argument). See `.signing.create_signed_value` for the format.
        """
        self.require_setting("cookie_secret", "secure cookies")
        settings = self.application.settings
        secret = settings["cookie_secret"]
        key_version = None
        if isinstance(secret, dict):
            key_version = settings.get("key_version")
            if key_version is None:
                raise Exception("key_version setting must be used for secret_key dicts")
        from embedtornado.web import signing

        return signing.create_signed_value(
            secret, name, value, version=version, key_version=key_version
        )

    def get_signed_cookie(
        self,
        name: str,
        value: str | None = None,
        max_age_days: float = 31,
        min_version: int | None = None,
    ) -> bytes | None:
        """Return the payload of the signed cookie ``name`` as `bytes`, or ``None``.

        ``None`` when the request has no such cookie, or it is forged,
        malformed, older than ``max_age_days`` days, or in a format older
        than ``min_version`` (pass 2 to refuse Tornado's old version-1
        values). With ``value``, that signed value is checked instead of
        the cookie. Needs the ``cookie_secret`` setting. Cookies set during
        this request are not seen.

        ``get_secure_cookie`` is the old name (before Tornado 6.3).
        """
        self.require_setting("cookie_secret", "secure cookies")
        if value is None:
            value = self.get_cookie(name)
        from embedtornado.web import signing

        return signing.decode_signed_value(
            self.application.settings["cookie_secret"],
            name,
            value,
            max_age_days=max_age_days,
            min_version=min_version,
        )

    get_secure_cookie = get_signed_cookie

    def get_signed_cookie_key_version(self, name: str, value: str | None = None) -> int | None:
        """Return the key version the signed cookie ``name`` (or ``value``) claims, or ``None``.

        The claim is not verified (see `.signing.get_signature_key_version`).
        ``get_secure_cookie_key_version`` is the old name.
        """
        self.require_setting("cookie_secret", "secure cookies")
        if value is None:
            value = self.get_cookie(name)
        if value is None:
            return None
        from embedtornado.web import signing

        return signing.get_signature_key_version(value)

    get_secure_cookie_key_version = get_signed_cookie_key_version

    # --- responses ----------------------------------------------------------------

    def redirect(self, url: str, permanent: bool = False, status: int | None = None) -> None:
        """Redirect to ``url`` (absolute or relative) and finish the response.

        The status is ``status`` if given (it must be 3xx), else 301 with
        ``permanent`` and 302 without. The URL is used as given: do not
        pass unchecked client input (``//host`` and ``/\\host`` lead to
        other sites); `safe_next_url` checks it. A URL with CR, LF or other
        control characters raises `ValueError`.
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


    def safe_next_url(self, url: str | None, default: str = "/") -> str:
        """Return ``url`` if it is a path on this site, else ``default``.

        For redirect targets that come from the client, such as the
        ``next`` argument `authenticated` adds::

            self.redirect(self.safe_next_url(self.get_argument("next", None)))

        Accepted: a path starting with exactly one ``/`` (with its query
        and fragment), and an absolute ``http``/``https`` URL whose host is
        the request's ``Host``. Refused: other hosts, ``//host`` and
        ``/\\host`` (which browsers read as another host), other schemes
        (``javascript:``), relative paths, and anything with control
        characters (CR and LF included).

        .. note:: embedtornado addition; Tornado 6.6.1 has no such method.
        """
        if not url or _REDIRECT_FORBIDDEN_RE.search(url):
            return default
        if url.startswith("/") and not url.startswith(("//", "/\\")):
            return url
        try:
            scheme, netloc = _scheme_and_netloc(url)
        except ValueError:
            return default
        if scheme in ("http", "https") and netloc and netloc == self.request.host.lower():
            return url
        return default

    def _add_security_headers(self) -> None:
        """Add the ``security_headers`` setting's header set (called by `clear`).

        ``security_headers=True`` adds `DEFAULT_SECURITY_HEADERS`; a dict is
        merged over them (a value of ``None`` drops that header). The
        handler's `set_default_headers` runs afterwards and may change any.
        """
        setting = self.application.settings.get("security_headers")
        headers = DEFAULT_SECURITY_HEADERS
        if isinstance(setting, dict):
            headers = {**headers, **setting}
        for name, value in headers.items():
            if value is not None:
                self.set_header(name, value)

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

    @property
    def xsrf_token(self) -> bytes:
        """The XSRF token of this request: ASCII `bytes` to echo back with unsafe requests.

        The raw token lives in the ``_xsrf`` cookie (the ``xsrf_cookie_name``
        setting), made and set on first use. What this returns is masked
        afresh on every request (version 2: ``2|<mask>|<masked token>|<time>``
        in hex), so a page compressed together with a secret cannot leak the
        token (the BREACH attack); the ``xsrf_cookie_version=1`` setting
        returns the plain hex token instead. The ``xsrf_cookie_kwargs``
        setting is passed to `set_cookie` for that cookie (for example
        ``dict(httponly=True, secure=True)``); for a logged-in user it lasts
        30 days unless it gives ``expires_days``.

        Tokens and cookies are interchangeable with Tornado 6.6.1's.

        .. note:: embedtornado differs from Tornado 6.6.1: Tornado adds
           ``expires_days`` to the ``xsrf_cookie_kwargs`` setting's own
           dict (so it sticks for later requests, anonymous ones too);
           embedtornado adds it to a copy.
        """
        token = self.__dict__.get("_xsrf_token")
        if token is not None:
            return token  # type: ignore[no-any-return]
        version, raw, timestamp = self._get_raw_xsrf_token()
        settings = self.settings
        output_version = settings.get("xsrf_cookie_version", 2)
        if output_version == 1:
            token = binascii.b2a_hex(raw)
        elif output_version == 2:
            mask = os.urandom(4)
            token = b"|".join(
                [
                    b"2",
                    binascii.b2a_hex(mask),
                    binascii.b2a_hex(util._websocket_mask(mask, raw)),
                    b"%d" % int(timestamp),
                ]
            )
        else:
            raise ValueError("unknown xsrf cookie version %d" % output_version)
        self._xsrf_token = token
        if version is None:
            # A new raw token: the browser must keep it.
            cookie_kwargs = dict(settings.get("xsrf_cookie_kwargs", {}))
            if "expires_days" not in cookie_kwargs and self.current_user:
                cookie_kwargs["expires_days"] = 30
            self.set_cookie(settings.get("xsrf_cookie_name", "_xsrf"), token, **cookie_kwargs)
        return token

    def _get_raw_xsrf_token(self) -> tuple[int | None, bytes, float]:
        """Return ``(version, token, timestamp)`` from the XSRF cookie, or a new token.

        ``version`` is that of the cookie (1 or 2), or ``None`` when there
        was no usable cookie and a random 16-byte token was made (the
        timestamp is then now; for version-1 cookies it is unknown and also
        now). Computed once per request.
        """
        cached = self.__dict__.get("_raw_xsrf_token")
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        cookie = self.get_cookie(self.settings.get("xsrf_cookie_name", "_xsrf"))
        version: int | None = None
        token: bytes | None = None
        timestamp: float | None = None
        if cookie:
            version, token, timestamp = self._decode_xsrf_token(cookie)
        if token is None or timestamp is None:
            version, token, timestamp = None, os.urandom(16), time.time()
        self._raw_xsrf_token = (version, token, timestamp)
        return self._raw_xsrf_token

    def _decode_xsrf_token(self, cookie: str) -> tuple[int | None, bytes | None, float | None]:
        """Turn a token (from the cookie or the request) into ``(version, raw token, timestamp)``.

        Version 2 is ``2|<hex mask>|<hex masked token>|<timestamp>``; any
        other leading ``<number>|`` is an unknown version; anything else is a
        version-1 token (hex, or taken as it is when it is not hex). A
        malformed token gives ``(None, None, None)``; this never raises.
        """
        try:
            raw = utf8(cookie)
        except (UnicodeEncodeError, TypeError):
            return None, None, None
        m = _XSRF_VERSION_RE.match(raw)
        if m is None:
            try:
                token = binascii.a2b_hex(raw)
            except (binascii.Error, ValueError):
                token = raw
            return 1, token, float(int(time.time()))
        if m.group(1) != b"2":
            gen_log.debug("Unknown XSRF token version in %r", raw[:64])
            return None, None, None
        parts = raw.split(b"|")
        if len(parts) != 4:
            return None, None, None
        _, mask_hex, masked_hex, timestamp_text = parts
        try:
            mask = binascii.a2b_hex(mask_hex)
            masked = binascii.a2b_hex(masked_hex)
        except (binascii.Error, ValueError):
            return None, None, None
        if len(mask) != 4 or not _DECIMAL_RE.fullmatch(timestamp_text):
            return None, None, None
        return 2, util._websocket_mask(mask, masked), float(int(timestamp_text))

    def check_xsrf_cookie(self) -> None:
        """Refuse (403) a request whose XSRF token does not match the ``_xsrf`` cookie.

        Runs before `prepare` for every method but GET, HEAD and OPTIONS
        when the ``xsrf_cookies`` setting is on. The token comes from the
        ``_xsrf`` argument (a form field or the query), else the
        ``X-XSRFToken`` header, else ``X-CSRFToken`` (Django's name). Masked
        (version 2) and plain (version 1) tokens are accepted; the raw tokens
        are compared in constant time. The 403's log message says why:
        ``'_xsrf' argument missing from POST``, ``'_xsrf' argument has
        invalid format`` or ``XSRF cookie does not match POST argument``.

        Override it to exempt a handler (an API authenticated otherwise)::

            def check_xsrf_cookie(self):
                pass
        """
        headers = self.request.headers
        given = (
            self.get_argument("_xsrf", None)
            or headers.get("X-Xsrftoken")
            or headers.get("X-Csrftoken")
        )
        if not given:
            raise HTTPError(403, "'_xsrf' argument missing from POST")
        _, token, _ = self._decode_xsrf_token(given)
        _, expected, _ = self._get_raw_xsrf_token()
        if not token:
            raise HTTPError(403, "'_xsrf' argument has invalid format")
        import hmac

        if not hmac.compare_digest(token, expected):
            raise HTTPError(403, "XSRF cookie does not match POST argument")

    def xsrf_form_html(self) -> str:
        """Return the hidden form field carrying `xsrf_token`, for every POST form.

        ``<input type="hidden" name="_xsrf" value="..."/>``. In a template:
        ``{% module xsrf_form_html() %}`` (or ``{{ xsrf_form_html() }}``).
        Using it sets the ``_xsrf`` cookie if the request had none.
        """
        return (
            '<input type="hidden" name="_xsrf" value="'
            + escape.xhtml_escape(self.xsrf_token)
            + '"/>'
        )

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
        import urllib.parse

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
