"""Decorators for request handlers: login required, trailing slashes, streamed bodies.

::

    from embedtornado.web import (RequestHandler, addslash, authenticated,
                                  removeslash, stream_request_body)

    class AccountHandler(RequestHandler):
        @authenticated              # anonymous GET -> redirect to the login_url setting
        def get(self):
            self.write("hello " + self.current_user)

    class DirHandler(RequestHandler):        # route r"/docs/?"
        @addslash                   # GET /docs -> 301 to /docs/
        def get(self):
            ...

    @stream_request_body
    class UploadHandler(RequestHandler):
        def data_received(self, chunk):      # the body, piece by piece
            ...

The slash decorators refuse (403) to redirect to a path beginning with two
slashes, which a browser would read as another host (Tornado 6.6.1's fix).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from embedtornado.web.errors import HTTPError

if TYPE_CHECKING:
    from embedtornado.web.handler import RequestHandler

__all__ = ["addslash", "authenticated", "removeslash", "stream_request_body"]

_HandlerMethod = Callable[..., Awaitable[None] | None]
_RequestHandlerType = TypeVar("_RequestHandlerType", bound="RequestHandler")


def _handler_class() -> type[RequestHandler]:
    from embedtornado.web.handler import RequestHandler

    return RequestHandler


def stream_request_body(cls: type[_RequestHandlerType]) -> type[_RequestHandlerType]:
    """Class decorator: hand the request body to ``data_received`` as it arrives.

    With it, `~RequestHandler.prepare` runs as soon as the headers are in
    (``request.body`` is not set and body arguments are not parsed), then
    ``data_received(chunk)`` is called for each piece of the body (maybe
    never, for an empty one), then the HTTP method. ``prepare`` and
    ``data_received`` may return awaitables, which are waited for before
    more of the body is read.
    """
    if not issubclass(cls, _handler_class()):
        raise TypeError("expected subclass of RequestHandler, got %r" % cls)
    cls._stream_request_body = True
    return cls


def _has_stream_request_body(cls: type[RequestHandler]) -> bool:
    if not issubclass(cls, _handler_class()):
        raise TypeError("expected subclass of RequestHandler, got %r" % cls)
    return cls._stream_request_body


def authenticated(method: _HandlerMethod) -> _HandlerMethod:
    """Method decorator: require a logged-in user (`RequestHandler.current_user`).

    An anonymous GET or HEAD is redirected to `RequestHandler.get_login_url`
    with ``?next=<this URL>`` added (an absolute URL when the login URL is
    absolute; nothing is added when it already has a query). Other
    anonymous requests get a 403.
    """

    @functools.wraps(method)
    def wrapper(self: RequestHandler, *args: Any, **kwargs: Any) -> Awaitable[None] | None:
        if not self.current_user:
            if self.request.method in ("GET", "HEAD"):
                url = self.get_login_url()
                if "?" not in url:
                    import urllib.parse

                    if urllib.parse.urlsplit(url).scheme:
                        next_url = self.request.full_url()
                    else:
                        assert self.request.uri is not None
                        next_url = self.request.uri
                    url += "?" + urllib.parse.urlencode(dict(next=next_url))
                self.redirect(url)
                return None
            raise HTTPError(403)
        return method(self, *args, **kwargs)

    return wrapper


def removeslash(method: _HandlerMethod) -> _HandlerMethod:
    """Method decorator: redirect ``/foo/`` to ``/foo`` (301, query kept).

    Route with a pattern such as ``r"/foo/*"``. Only GET and HEAD are
    redirected; other methods get a 404. A path that would become
    protocol-relative (``//host``) gets a 403.
    """

    @functools.wraps(method)
    def wrapper(self: RequestHandler, *args: Any, **kwargs: Any) -> Awaitable[None] | None:
        if self.request.path.endswith("/"):
            if self.request.method in ("GET", "HEAD"):
                uri = self.request.path.rstrip("/")
                if _is_protocol_relative(uri):
                    raise HTTPError(403, "cannot redirect path with two initial slashes")
                if uri:  # "/" stays "/"
                    if self.request.query:
                        uri += "?" + self.request.query
                    self.redirect(uri, permanent=True)
                    return None
            else:
                raise HTTPError(404)
        return method(self, *args, **kwargs)

    return wrapper


def addslash(method: _HandlerMethod) -> _HandlerMethod:
    """Method decorator: redirect ``/foo`` to ``/foo/`` (301, query kept).

    Route with a pattern such as ``r"/foo/?"``. Only GET and HEAD are
    redirected; other methods get a 404. A path that would become
    protocol-relative (``//host/``) gets a 403.
    """

    @functools.wraps(method)
    def wrapper(self: RequestHandler, *args: Any, **kwargs: Any) -> Awaitable[None] | None:
        if not self.request.path.endswith("/"):
            if self.request.method in ("GET", "HEAD"):
                uri = self.request.path + "/"
                if _is_protocol_relative(uri):
                    raise HTTPError(403, "cannot redirect path with two initial slashes")
                if self.request.query:
                    uri += "?" + self.request.query
                self.redirect(uri, permanent=True)
                return None
            raise HTTPError(404)
        return method(self, *args, **kwargs)

    return wrapper


# --- what a browser makes of a redirect URL ---------------------------------------

_BROWSER_STRIPPED = "".join(chr(i) for i in range(0x21))


def _normalize_url_like_browser(url: str) -> str:
    """Clean ``url`` up the way a browser does before parsing it (WHATWG URL).

    Leading and trailing controls and spaces go, tabs and newlines go from
    anywhere, and backslashes count as slashes (as they do for http and
    https). Checks on redirect targets must look at this form.
    """
    url = url.strip(_BROWSER_STRIPPED)
    url = url.replace("\t", "").replace("\n", "").replace("\r", "")
    return url.replace("\\", "/")


def _is_protocol_relative(url: str) -> bool:
    """Return whether a browser would read ``url`` as ``//host/...`` (another host)."""
    return _normalize_url_like_browser(url).startswith("//")


_LEADING_SLASHES_RE = re.compile(r"^//+")


def _scheme_and_netloc(url: str) -> tuple[str, str]:
    """Return the (lowercased) scheme and netloc a browser would see in ``url``.

    Both are empty for a relative URL. Raises `ValueError` for some
    malformed URLs.
    """
    url = _normalize_url_like_browser(url)
    # Browsers skip any number of slashes before an http(s) host, where
    # RFC 3986 (and urlsplit) sees an empty netloc in "///host".
    url = _LEADING_SLASHES_RE.sub("//", url)
    import urllib.parse  # (here, not at the top: tests/test_startup.py)

    parts = urllib.parse.urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()
