"""Ready-made request handlers: fixed errors, redirects, and a bridge to plain callables.

::

    from embedtornado.web import Application, ErrorHandler, FallbackHandler, RedirectHandler

    def legacy(request):                     # any callable taking an HTTPServerRequest
        body = b"legacy " + request.uri.encode()
        request.connection.write_headers(
            ResponseStartLine("HTTP/1.1", 200, "OK"),
            HTTPHeaders({"Content-Length": str(len(body))}))
        request.connection.write(body)
        request.connection.finish()

    app = Application([
        (r"/gone", ErrorHandler, {"status_code": 410}),
        (r"/old/(.*)", RedirectHandler, {"url": "/new/{0}"}),
        (r"/legacy/.*", FallbackHandler, {"fallback": legacy}),
    ])
"""

from __future__ import annotations

import string
from collections.abc import Callable
from typing import Any

from embedtornado import httputil
from embedtornado.web.decorators import _scheme_and_netloc
from embedtornado.web.errors import HTTPError
from embedtornado.web.handler import RequestHandler

__all__ = ["ErrorHandler", "FallbackHandler", "RedirectHandler"]


class ErrorHandler(RequestHandler):
    """Answer every request with the error ``status_code`` (its keyword argument).

    The application uses it for 404s when no rule matches. A POST to it
    is never refused for XSRF or cross-origin reasons: the error page
    comes first.
    """

    def initialize(self, status_code: int) -> None:  # type: ignore[override]
        self.set_status(status_code)

    def prepare(self) -> None:
        raise HTTPError(self._status_code)

    def check_xsrf_cookie(self) -> None:
        # Nothing happens on an error page, so nothing to protect.
        pass

    def check_trusted_origin(self, origin: str) -> bool:
        return True


class RedirectHandler(RequestHandler):
    """Redirect GET requests to the ``url`` keyword argument (301, or 302 with ``permanent=False``).

    The URL may use `str.format` fields filled from the rule's groups, and
    the request's query arguments are appended::

        Application([
            (r"/oldpath", RedirectHandler, {"url": "/newpath"}),
            # /a/b/c -> /b/a/c
            (r"/(.*?)/(.*?)/(.*)", RedirectHandler, {"url": "/{1}/{0}/{2}"}),
        ])

    Substituted text cannot change the scheme or host of the target: with
    ``"/{0}/b"``, a request that would redirect to ``//example.com/b`` gets
    a 400 instead (Tornado 6.6's open-redirect fix), as does a target with
    control characters.
    """

    def initialize(self, url: str, permanent: bool = True) -> None:  # type: ignore[override]
        self._url = url
        self._permanent = permanent

    def get(self, *args: Any, **kwargs: Any) -> None:
        to_url = self._url.format(*args, **kwargs)
        # The scheme and host must come from the template's text before its
        # first field (formatting with a placeholder cannot tell: "/" makes
        # "/{0}/b" look protocol-relative).
        prefix = ""
        has_substitution = False
        for literal, field, _, _ in string.Formatter().parse(self._url):
            prefix += literal
            if field is not None:
                has_substitution = True
                break
        try:
            if self.request.query_arguments:
                # Added before the check: url_concat re-encodes the whole URL.
                to_url = httputil.url_concat(
                    to_url,
                    list(httputil.qs_to_qsl(self.request.query_arguments)),  # type: ignore[arg-type]
                )
            scheme, netloc = _scheme_and_netloc(prefix)
            unchanged = _scheme_and_netloc(to_url) == (scheme, netloc)
            if has_substitution and scheme in ("http", "https") and not netloc:
                # The host would come from the substitution alone.
                unchanged = False
        except ValueError:
            unchanged = False
        if not unchanged:
            raise HTTPError(400, "Redirect URL cannot change the scheme or netloc")
        if httputil._FORBIDDEN_HEADER_CHARS_RE.search(to_url):
            # A 400 rather than set_header's 500.
            raise HTTPError(400, "Redirect URL contains invalid characters")
        self.redirect(to_url, permanent=self._permanent)


class FallbackHandler(RequestHandler):
    """Pass requests to another server callback: anything taking an `.HTTPServerRequest`.

    For mounting an older application (a WSGI container, say) beside
    handlers::

        Application([
            (r"/api/.*", ApiHandler),
            (r".*", FallbackHandler, {"fallback": wsgi_container}),
        ])

    The callback answers through ``request.connection`` itself; this
    handler then counts as finished and only runs `on_finish`.
    """

    def initialize(  # type: ignore[override]
        self, fallback: Callable[[httputil.HTTPServerRequest], None]
    ) -> None:
        self.fallback = fallback

    def prepare(self) -> None:
        self.fallback(self.request)
        self._finished = True
        self.on_finish()
