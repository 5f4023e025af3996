"""Serve a WSGI application (PEP 3333) from embedtornado's HTTP server.

`WSGIContainer` turns a WSGI callable into a request callback: give it to
`.HTTPServer` directly, to a `.routing` rule, or to `.web.FallbackHandler`
so that it answers whatever the `.web.Application`'s own handlers do not::

    import asyncio
    from embedtornado import httpserver, web, wsgi

    def hello(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"Hello from WSGI\\n"]

    class Status(web.RequestHandler):
        def get(self):
            self.write({"ok": True})

    async def main():
        container = wsgi.WSGIContainer(hello)
        app = web.Application([
            (r"/status", Status),
            (r".*", web.FallbackHandler, {"fallback": container}),
        ])
        app.listen(8888)            # or httpserver.HTTPServer(container).listen(8888)
        await asyncio.Event().wait()

    asyncio.run(main())

WSGI is synchronous. Without an ``executor`` the application runs on the
event loop's thread, so one slow request holds up every other connection;
pass a `concurrent.futures.ThreadPoolExecutor` (for a thread-safe
application) to run it on worker threads instead. Either way the whole
response is collected before any of it is sent, so WSGI streaming,
long polling and WebSockets are out of reach: write those as
`.web.RequestHandler`\\ s beside the container.

The reverse (running an embedtornado `.web.Application` under a WSGI server)
is not supported, as in Tornado.

.. note:: embedtornado differs from Tornado 6.6.1 in these details:

   * An application that raises (or never calls ``start_response``) gets a
     500 response, logged with its traceback on ``embedtornado.application``;
     Tornado logs the error and leaves the client without an answer.
   * A response that may not have a body (to ``HEAD``, or a 1xx, 204 or
     304 status) is sent without the body the application produced; Tornado
     drops the connection instead of answering.
   * `WSGIContainer.environ` leaves ``request.headers`` as it was; Tornado
     removes ``Content-Type`` and ``Content-Length`` from them. A ``Host``
     port that is not a number gives the default ``SERVER_PORT``.
   * Without an executor the application is called straight from
     `WSGIContainer.handle_request` rather than through ``run_in_executor``
     with Tornado's dummy executor: same thread and order, fewer loop turns.
   * The ``Server`` header that is added when the application sets none is
     ``embedtornado/<version>`` (Tornado: ``TornadoServer/<version>``).
"""

from __future__ import annotations

import concurrent.futures
import sys
from collections.abc import Callable, Iterable, Iterator
from io import BytesIO
from types import TracebackType
from typing import TYPE_CHECKING, Any

import embedtornado
from embedtornado import escape, httputil
from embedtornado.concurrent import dummy_executor
from embedtornado.ioloop import IOLoop
from embedtornado.log import access_log, app_log

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

__all__ = ["HTTPRequest", "WSGIContainer", "to_wsgi_str"]

_ExcInfo = tuple[type[BaseException] | None, BaseException | None, TracebackType | None]

_SERVER_HEADER = "embedtornado/%s" % embedtornado.version

#: Statuses whose responses never carry a body (RFC 9110 sections 15.2, 15.3.5, 15.4.5).
_NO_BODY = (204, 304)

_ERROR_BODY = (
    b"<html><title>500: Internal Server Error</title><body>500: Internal Server Error</body></html>"
)


def to_wsgi_str(s: bytes) -> str:
    """Decode *s* as latin-1: how PEP 3333 carries raw bytes in a native `str`.

    Every byte maps to the code point of the same value, so the WSGI
    application can get the bytes back with ``s.encode("latin-1")``.
    """
    if not isinstance(s, bytes):
        raise TypeError("to_wsgi_str expects bytes, not %s" % type(s).__name__)
    return s.decode("latin-1")


class _NoStartResponse(Exception):
    """The WSGI application returned without calling ``start_response``."""


class WSGIContainer:
    """A request callback that runs a WSGI application.

    :arg wsgi_application: any PEP 3333 callable
        ``application(environ, start_response)``: a Flask or Django
        application object, say, or a plain function.
    :arg executor: a `concurrent.futures.Executor` (normally a
        ``ThreadPoolExecutor``; a ``ProcessPoolExecutor`` cannot work) to run
        the application and to iterate over its response on. When ``None``,
        both happen on the event loop's thread, which serves one request at
        a time, as Tornado does.

    Calling the container with an `.HTTPServerRequest` (as the server,
    a router or `.web.FallbackHandler` does) schedules `handle_request` on
    the current `.IOLoop` and returns at once.

    The response is sent in one piece, with a ``Content-Length`` computed
    from the body when the application gave none, ``Content-Type:
    text/html; charset=UTF-8`` when it gave no type (neither is added to a
    304), and a ``Server`` header when it gave none. Every request is logged
    on ``embedtornado.access`` (info below 400, warning below 500, error
    otherwise), as `.web.Application` logs its own.

    .. versionadded:: 6.3 (in Tornado)
       The ``executor`` argument.
    """

    def __init__(
        self,
        wsgi_application: WSGIApplication,
        executor: concurrent.futures.Executor | None = None,
    ) -> None:
        self.wsgi_application = wsgi_application
        self.executor: concurrent.futures.Executor = (
            dummy_executor if executor is None else executor
        )

    def __call__(self, request: httputil.HTTPServerRequest) -> None:
        IOLoop.current().spawn_callback(self.handle_request, request)

    async def handle_request(self, request: httputil.HTTPServerRequest) -> None:
        """Run the application for *request* and send its response.

        A failure of the application is logged and answered with a 500 (or,
        if the response had already started, by closing the connection).
        """
        try:
            code, reason, headers, body = await self._run_application(request)
        except Exception as e:
            summary = self._summary(request)
            if isinstance(e, _NoStartResponse):
                app_log.error("WSGI application did not call start_response: %s", summary)
            else:
                app_log.error("Uncaught exception in WSGI application: %s", summary, exc_info=True)
            self._send_error(request)
            return
        self._send(request, code, reason, headers, body)

    async def _run_application(
        self, request: httputil.HTTPServerRequest
    ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        """Call the application; return its status code, reason, headers and body."""
        started: list[tuple[str, list[tuple[str, str]]]] = []
        pieces: list[bytes] = []

        def start_response(
            status: str, response_headers: list[tuple[str, str]], exc_info: _ExcInfo | None = None
        ) -> Callable[[bytes], object]:
            # Nothing is sent before the application returns, so a second
            # call (with exc_info, after an error) simply replaces the first,
            # and PEP 3333's "re-raise if the headers were sent" never applies.
            started[:] = [(status, response_headers)]
            return pieces.append

        environ = self.environ(request)
        executor = self.executor
        if executor is dummy_executor:
            result = self.wsgi_application(environ, start_response)
            try:
                pieces.extend(result)
            finally:
                _close(result)
        else:
            loop = IOLoop.current()
            result = await loop.run_in_executor(
                executor, self.wsgi_application, environ, start_response
            )
            try:
                chunks = iter(result)
                while True:
                    piece = await loop.run_in_executor(executor, _next_piece, chunks)
                    if piece is None:
                        break
                    pieces.append(piece)
            finally:
                _close(result)
        if not started:
            raise _NoStartResponse()
        status, headers = started[0]
        code_text, reason = status.split(" ", 1)
        return int(code_text), reason, headers, b"".join(pieces)

    def _send(
        self,
        request: httputil.HTTPServerRequest,
        code: int,
        reason: str,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> None:
        present = {name.lower() for name, _ in headers}
        response_headers = httputil.HTTPHeaders()
        for name, value in headers:
            response_headers.add(name, value)
        if code != 304:
            if "content-length" not in present:
                response_headers.add("Content-Length", str(len(body)))
            if "content-type" not in present:
                response_headers.add("Content-Type", "text/html; charset=UTF-8")
        if "server" not in present:
            response_headers.add("Server", _SERVER_HEADER)
        if request.method == "HEAD" or code in _NO_BODY or code < 200:
            body = b""
        connection = request.connection
        assert connection is not None
        start_line = httputil.ResponseStartLine("HTTP/1.1", code, reason)
        try:
            connection.write_headers(start_line, response_headers, chunk=body or None)
            connection.finish()
        except Exception:
            app_log.error(
                "Could not send the WSGI response to %s", self._summary(request), exc_info=True
            )
            _close_connection(connection)
            code = 500
        self._log(code, request)

    def _send_error(self, request: httputil.HTTPServerRequest) -> None:
        connection = request.connection
        assert connection is not None
        headers = httputil.HTTPHeaders()
        headers.add("Content-Type", "text/html; charset=UTF-8")
        headers.add("Server", _SERVER_HEADER)
        body = b"" if request.method == "HEAD" else _ERROR_BODY
        headers.add("Content-Length", str(len(_ERROR_BODY)))
        start_line = httputil.ResponseStartLine("HTTP/1.1", 500, "Internal Server Error")
        try:
            connection.write_headers(start_line, headers, chunk=body or None)
            connection.finish()
        except Exception:
            _close_connection(connection)
        self._log(500, request)

    def environ(self, request: httputil.HTTPServerRequest) -> dict[str, Any]:
        """Build the WSGI ``environ`` dict for *request*.

        Besides PEP 3333's CGI variables (``PATH_INFO`` is the percent-decoded
        path as latin-1 text; ``SCRIPT_NAME`` is empty; ``SERVER_NAME`` and
        ``SERVER_PORT`` come from the ``Host`` header, the port defaulting to
        80, or 443 under HTTPS) it holds one ``HTTP_*`` key per request header
        (repeated headers joined with commas) except ``Content-Type`` and
        ``Content-Length``, which become ``CONTENT_TYPE`` and
        ``CONTENT_LENGTH``, and the ``wsgi.*`` keys: ``wsgi.input`` reads the
        request body, ``wsgi.errors`` is `sys.stderr`, and
        ``wsgi.multithread`` is true when the container has an executor.

        .. versionchanged:: 6.3 (in Tornado)
           No longer a static method.
        """
        host = request.host
        parts = host.split(":")
        if len(parts) == 2 and parts[1].isascii() and parts[1].isdigit():
            server_name, port = parts[0], parts[1]
        else:
            server_name, port = host, ("443" if request.protocol == "https" else "80")
        path = escape.url_unescape(request.path, encoding=None, plus=False)
        environ: dict[str, Any] = {
            "REQUEST_METHOD": request.method,
            "SCRIPT_NAME": "",
            "PATH_INFO": to_wsgi_str(path),
            "QUERY_STRING": request.query,
            "REMOTE_ADDR": request.remote_ip,
            "SERVER_NAME": server_name,
            "SERVER_PORT": str(int(port)),
            "SERVER_PROTOCOL": request.version,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": request.protocol,
            "wsgi.input": BytesIO(escape.utf8(request.body)),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": self.executor is not dummy_executor,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        headers = request.headers
        if "Content-Type" in headers:
            environ["CONTENT_TYPE"] = headers["Content-Type"]
        if "Content-Length" in headers:
            environ["CONTENT_LENGTH"] = headers["Content-Length"]
        for name, value in headers.items():
            if name == "Content-Type" or name == "Content-Length":
                continue
            environ["HTTP_" + name.replace("-", "_").upper()] = value
        return environ

    def _log(self, status_code: int, request: httputil.HTTPServerRequest) -> None:
        """Write the access-log line for a finished request."""
        if status_code < 400:
            log_method = access_log.info
        elif status_code < 500:
            log_method = access_log.warning
        else:
            log_method = access_log.error
        log_method(
            "%d %s %.2fms", status_code, self._summary(request), 1000.0 * request.request_time()
        )

    @staticmethod
    def _summary(request: httputil.HTTPServerRequest) -> str:
        return f"{request.method} {request.uri} ({request.remote_ip})"


def _next_piece(chunks: Iterator[bytes]) -> bytes | None:
    # Runs on the executor; StopIteration cannot cross into a coroutine.
    return next(chunks, None)


def _close(result: Iterable[bytes]) -> None:
    close = getattr(result, "close", None)
    if close is not None:
        close()


def _close_connection(connection: httputil.HTTPConnection) -> None:
    close = getattr(connection, "close", None)
    if close is not None:
        try:
            close()
        except Exception:
            app_log.error("Failed to close the connection of a failed WSGI response", exc_info=True)


#: Tornado's alias of `.HTTPServerRequest`, kept for old imports.
HTTPRequest = httputil.HTTPServerRequest
