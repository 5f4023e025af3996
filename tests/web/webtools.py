"""Helpers for the web tests: run the same handlers under embedtornado and Tornado 6.6.1.

A test writes its handlers once, against a ``web`` module argument, and
compares what both frameworks answer to the same bytes::

    def handlers(web):
        class H(web.RequestHandler):
            def get(self):
                self.write("hi")
        return [(r"/", H)]

    ours, theirs = compare(handlers, b"GET / HTTP/1.1\\r\\nHost: a\\r\\n\\r\\n")

``compare`` asserts that status, reason, headers (Date and Server values
aside, and in order) and body are equal, and returns both responses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from typing import Any, Callable

import tornado.httpserver
import tornado.web

import embedtornado.web
from embedtornado import netutil
from rawhttp import Response, ServerHarness, read_response

HandlersFn = Callable[[Any], list]

GET = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"


def req(method: str = "GET", path: str = "/", headers: dict | None = None,
        body: bytes | None = None, version: str = "HTTP/1.1") -> bytes:
    """Build request bytes (Host: example.com, Content-Length added for a body)."""
    lines = [f"{method} {path} {version}", "Host: example.com"]
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}")
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


def make_app(web: Any, handlers: list, **settings: Any) -> Any:
    return web.Application(handlers, **settings)


class DualServer(ServerHarness):
    """A ServerHarness (embedtornado) plus a Tornado 6.6.1 server in the same loop.

    Each server gets its own request callback (an Application, a WSGIContainer, ...).
    """

    def __init__(self, ours: Any, theirs: Any, server_kwargs: dict | None = None) -> None:
        super().__init__(ours, **(server_kwargs or {}))
        self.tornado_app = theirs
        self.tornado_server: Any = None
        self.tornado_port = 0
        self.server_kwargs_t = server_kwargs or {}

    def __enter__(self) -> DualServer:
        super().__enter__()

        async def start() -> None:
            socks = netutil.bind_sockets(0, "127.0.0.1", family=socket.AF_INET)
            self.tornado_port = socks[0].getsockname()[1]
            self.tornado_server = tornado.httpserver.HTTPServer(self.tornado_app,
                                                                **self.server_kwargs_t)
            self.tornado_server.add_sockets(socks)

        self.run(start())
        return self

    def __exit__(self, *exc: Any) -> None:
        async def stop() -> None:
            self.tornado_server.stop()
            await self.tornado_server.close_all_connections()

        try:
            self.run(stop())
        finally:
            super().__exit__(*exc)

    async def connect_tornado(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.tornado_port,
                                                       limit=1 << 22)
        self._writers.append(writer)
        return reader, writer

    async def request_tornado(self, data: bytes, method: str = "GET") -> Response:
        reader, writer = await self.connect_tornado()
        writer.write(data)
        return await read_response(reader, method)

    async def exchange_tornado(self, data: bytes) -> bytes:
        reader, writer = await self.connect_tornado()
        writer.write(data)
        return await reader.read()


    def both(self, data: bytes) -> tuple[Response, Response]:
        """Send ``data`` to our server and to Tornado's; return (ours, theirs)."""
        method = data.split(b" ", 1)[0].decode()
        return self.run(self.request(data, method)), self.run(self.request_tornado(data, method))


class DualHarness(DualServer):
    """`DualServer` with the same handlers in an Application on each side."""

    def __init__(self, handlers_fn: HandlersFn, server_kwargs: dict | None = None,
                 **settings: Any) -> None:
        super().__init__(make_app(embedtornado.web, handlers_fn(embedtornado.web), **settings),
                         make_app(tornado.web, handlers_fn(tornado.web), **settings),
                         server_kwargs)

IGNORED = ("date", "server")


def normalized(resp: Response) -> tuple:
    headers = [(k.lower(), v) for k, v in resp.header_list if k.lower() not in IGNORED]
    body = resp.body
    if body[:2] == b"\x1f\x8b" and len(body) >= 10:
        # A gzip member carries the second it was written (MTIME, bytes 4-8);
        # two servers answering either side of a second boundary differ there.
        body = body[:4] + b"\0\0\0\0" + body[8:]
    return (resp.code, resp.reason, headers, body)


def assert_same(ours: Response, theirs: Response) -> None:
    assert normalized(ours) == normalized(theirs)
    names_ours = [k.lower() for k, _ in ours.header_list]
    names_theirs = [k.lower() for k, _ in theirs.header_list]
    assert ("date" in names_ours) == ("date" in names_theirs)
    assert ("server" in names_ours) == ("server" in names_theirs)


def compare(handlers_fn: HandlersFn, data: bytes = GET, *, method: str | None = None,
            check: bool = True, server_kwargs: dict | None = None,
            **settings: Any) -> tuple[Response, Response]:
    """Send ``data`` to both frameworks; assert the answers match (unless ``check=False``)."""
    if method is None:
        method = data.split(b" ", 1)[0].decode()
    with DualHarness(handlers_fn, server_kwargs, **settings) as h:
        ours = h.run(h.request(data, method))
        theirs = h.run(h.request_tornado(data, method))
    if check:
        assert_same(ours, theirs)
    return ours, theirs


def compare_raw(handlers_fn: HandlersFn, data: bytes, **settings: Any) -> tuple[bytes, bytes]:
    """Send ``data`` to both and return everything each sends until it closes."""
    with DualHarness(handlers_fn, **settings) as h:
        ours = h.run(h.exchange(data))
        theirs = h.run(h.exchange_tornado(data))
    return ours, theirs


class LogCapture(logging.Handler):
    """Collects records from the given loggers (both frameworks' names)."""

    def __init__(self, *names: str) -> None:
        super().__init__(logging.DEBUG)
        self.names = names
        self.records: list[logging.LogRecord] = []
        self._saved: list[tuple[logging.Logger, int, bool]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def __enter__(self) -> LogCapture:
        for name in self.names:
            logger = logging.getLogger(name)
            self._saved.append((logger, logger.level, logger.propagate))
            logger.addHandler(self)
            logger.setLevel(logging.DEBUG)
            logger.propagate = False
        return self

    def __exit__(self, *exc: Any) -> None:
        for logger, level, propagate in self._saved:
            logger.removeHandler(self)
            logger.setLevel(level)
            logger.propagate = propagate

    def by(self, name: str) -> list[logging.LogRecord]:
        return [r for r in self.records if r.name == name]


class Dual:
    """A started DualHarness with shortcuts; made by the ``dual`` fixtures of the test modules."""

    def __init__(self, harness: DualHarness) -> None:
        self.h = harness

    def both(self, data: bytes, method: str | None = None) -> tuple[Response, Response]:
        if method is None:
            method = data.split(b" ", 1)[0].decode()
        ours = self.h.run(self.h.request(data, method))
        theirs = self.h.run(self.h.request_tornado(data, method))
        return ours, theirs

    def same(self, data: bytes, method: str | None = None) -> Response:
        """Send ``data`` to both, assert equal answers, return ours."""
        ours, theirs = self.both(data, method)
        assert_same(ours, theirs)
        return ours

    def raw(self, data: bytes) -> tuple[bytes, bytes]:
        return self.h.run(self.h.exchange(data)), self.h.run(self.h.exchange_tornado(data))

    def run(self, coro: Any) -> Any:
        return self.h.run(coro)


def dual_harness(handlers_fn: HandlersFn, server_kwargs: dict | None = None, **settings: Any):
    """Generator for a module-scoped fixture: ``yield from dual_harness(handlers)``."""
    with DualHarness(handlers_fn, server_kwargs, **settings) as h:
        yield Dual(h)


def record(web: Any) -> list:
    """A per-framework event list (cleared by the ``events`` helper)."""
    return EVENTS.setdefault(web.__name__, [])


EVENTS: dict[str, list] = {}


def events() -> tuple[list, list]:
    """Return (ours, theirs) recorded events and clear them."""
    ours = list(EVENTS.get("embedtornado.web", []))
    theirs = list(EVENTS.get("tornado.web", []))
    EVENTS.clear()
    return ours, theirs


@contextlib.contextmanager
def translations_in_both(directory: str):
    """Load the CSV translations in ``directory`` into our locale module and
    Tornado's; put back what both had on exit."""
    import tornado.locale

    import embedtornado.locale

    modules = (embedtornado.locale, tornado.locale)
    saved = [(m._translations, m._supported_locales, m._use_gettext, m.Locale._cache)
             for m in modules]
    try:
        for m in modules:
            m.Locale._cache = {}
            m.load_translations(directory)
        yield
    finally:
        for m, (loaded, supported, use_gettext, cache) in zip(modules, saved):
            m._translations, m._supported_locales = loaded, supported
            m._use_gettext, m.Locale._cache = use_gettext, cache
