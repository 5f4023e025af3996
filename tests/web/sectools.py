"""Helpers for the security tests: handlers built by hand (no server) for both frameworks."""

from __future__ import annotations

import asyncio
from typing import Any

import tornado.httputil
import tornado.web

import embedtornado.web
from embedtornado import httputil

_LOOP = asyncio.new_event_loop()


def _done() -> asyncio.Future:
    f = asyncio.Future(loop=_LOOP)
    f.set_result(None)
    return f


class FakeConnection:
    """Just enough of an HTTP connection for a handler of either framework."""

    def __init__(self) -> None:
        self.context = None
        self.start_line: Any = None
        self.headers: Any = None
        self.chunks: list[bytes] = []

    def set_close_callback(self, cb: Any) -> None:
        pass

    def write_headers(self, start_line: Any, headers: Any, chunk: bytes | None = None) -> Any:
        self.start_line, self.headers = start_line, headers
        if chunk:
            self.chunks.append(chunk)
        return _done()

    def write(self, chunk: bytes) -> Any:
        self.chunks.append(chunk)
        return _done()

    def finish(self) -> None:
        pass


def make(web: Any, cls: Any = None, uri: str = "/", headers: dict | None = None,
         method: str = "GET", app: Any = None, body: bytes = b"", **settings: Any) -> Any:
    """A handler of ``web`` (``embedtornado.web`` or ``tornado.web``) for one request."""
    mod = tornado.httputil if web is tornado.web else httputil
    h = mod.HTTPHeaders({"Host": "example.com"})
    for k, v in (headers or {}).items():
        h[k] = v
    request = mod.HTTPServerRequest(connection=FakeConnection(), headers=h, body=body,
                                    start_line=mod.RequestStartLine(method, uri, "HTTP/1.1"))
    if app is None:
        app = web.Application([], **settings)
    return (cls or web.RequestHandler)(app, request)


WEBS = [embedtornado.web, tornado.web]


def set_cookies(header_list: list[tuple[str, str]]) -> dict[str, str]:
    """``{name: value}`` of the Set-Cookie headers of a response."""
    out = {}
    for k, v in header_list:
        if k.lower() == "set-cookie":
            name, _, rest = v.partition("=")
            out[name] = rest.split(";", 1)[0]
    return out


def handler_cookies(handler: Any) -> dict[str, str]:
    """``{name: value}`` of the cookies a handler has set (either framework)."""
    jar = getattr(handler, "_new_cookie", None)
    return {} if jar is None else {name: morsel.value for name, morsel in jar.items()}
