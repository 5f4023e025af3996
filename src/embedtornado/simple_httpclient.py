"""The default `.AsyncHTTPClient`: HTTP/1.1 over `.IOStream`, in pure Python.

It is chosen automatically; to tune it::

    AsyncHTTPClient.configure(None, max_clients=50, max_body_size=10 << 20)

What it does:

* at most ``max_clients`` requests run at once; the others wait in a queue
  (and fail with a 599 `HTTPTimeoutError` if their timeout passes there);
* connections are kept alive and reused for the next request to the same
  scheme, host and port (``max_clients`` idle ones at most, each for at
  most 60 seconds); a request that finds its reused connection already
  closed by the server, before any byte of the response arrived, is retried
  once on a new connection if its method is idempotent;
* responses are parsed by `embedtornado._responseparse.ResponseParser`
  (strict, bounded by ``max_header_size`` and ``max_body_size``);
* ``https`` goes through the standard `ssl` module (``validate_cert``,
  ``ca_certs``, ``client_cert``/``client_key`` or ``ssl_options``).

.. note:: embedtornado differs from Tornado 6.6.1: Tornado's simple client
   sends ``Connection: close`` and never reuses a connection; this one
   reuses them. Proxies are not supported (as in Tornado's simple client).
"""

from __future__ import annotations

import asyncio
import base64
import collections
import copy
import functools
import inspect
import re
import socket
import ssl
import time
import urllib.parse
from collections.abc import Iterable, Iterator
from io import BytesIO
from typing import Any, Callable, cast

from embedtornado import _version, httputil
from embedtornado._httpdefs import HTTPInputError
from embedtornado._responseparse import ResponseParser
from embedtornado.httpclient import (
    AsyncHTTPClient,
    HTTPClientError,
    HTTPRequest,
    HTTPResponse,
    _RequestProxy,
)
from embedtornado.iostream import IOStream, StreamClosedError
from embedtornado.log import app_log, gen_log
from embedtornado.netutil import (
    OverrideResolver,
    Resolver,
    _client_ssl_defaults,
    is_valid_ip,
)
from embedtornado.tcpclient import TCPClient
from embedtornado.util import TimeoutError

__all__ = ["HTTPStreamClosedError", "HTTPTimeoutError", "SimpleAsyncHTTPClient"]

_SUPPORTED_METHODS = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"}
_IDEMPOTENT = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"}
_REDIRECT_CODES = (301, 302, 303, 307, 308)
_IDLE_TIMEOUT = 60.0
_READ_CHUNK = 65536
_DEFAULT_MAX_HEADER_SIZE = 65536
_CTL = re.compile(r"[\x00-\x1f\x7f]")
_CR_OR_LF = re.compile(rb"[\r\n]")
# While a gzip body is decoded, the bytes read are fed to the parser in
# slices this small, so that one read cannot inflate (at most ~1032:1)
# into more than about a megabyte at once.
_GZIP_FEED_SLICE = 1024


class HTTPTimeoutError(HTTPClientError):
    """The request timed out (code 599); the message says in which phase."""

    def __init__(self, message: str) -> None:
        super().__init__(599, message=message)

    def __str__(self) -> str:
        return self.message or "Timeout"


class HTTPStreamClosedError(HTTPClientError):
    """The connection closed before the response was complete (code 599)."""

    def __init__(self, message: str) -> None:
        super().__init__(599, message=message)

    def __str__(self) -> str:
        return self.message or "Stream closed"


class _MalformedResponseError(HTTPStreamClosedError, HTTPInputError):
    """A response the parser refused, or over a limit: a closed stream (599).

    Tornado's client logs such a response and fails the fetch with
    `HTTPStreamClosedError`, so handlers written for Tornado (``except
    HTTPClientError``/``HTTPError``) catch it here too; it is also an
    `.HTTPInputError`, with the parser's reason as its message.
    """


class _Idle:
    __slots__ = ("since", "stream")

    def __init__(self, stream: IOStream, since: float) -> None:
        self.stream = stream
        self.since = since


class SimpleAsyncHTTPClient(AsyncHTTPClient):
    """The default HTTP client (see the module docstring).

    :arg max_clients: how many requests may run at once (others queue).
    :arg hostname_mapping: ``{"name": "other name or IP"}`` used instead of
        DNS for those names (for tests).
    :arg max_buffer_size: the most bytes the connection's stream buffers.
    :arg resolver: the `.Resolver` (default: a new one).
    :arg defaults: default `.HTTPRequest` fields.
    :arg max_header_size: the most bytes of a response head (64 KiB).
    :arg max_body_size: the most bytes of a response body (default:
        *max_buffer_size*); with gzip, of the decoded body.
    """

    def initialize(  # type: ignore[override]
        self,
        max_clients: int = 10,
        hostname_mapping: dict[str, str] | None = None,
        max_buffer_size: int = 104857600,
        resolver: Resolver | None = None,
        defaults: dict[str, Any] | None = None,
        max_header_size: int | None = None,
        max_body_size: int | None = None,
    ) -> None:
        super().initialize(defaults=defaults)
        self.max_clients = max_clients
        self.queue: collections.deque[tuple[object, HTTPRequest, Callable[..., None]]] = (
            collections.deque())
        self.active: dict[object, tuple[HTTPRequest, Callable[..., None]]] = {}
        self.waiting: dict[object, tuple[HTTPRequest, Callable[..., None], Any]] = {}
        self.max_buffer_size = max_buffer_size
        self.max_header_size = max_header_size or _DEFAULT_MAX_HEADER_SIZE
        self.max_body_size = max_body_size or max_buffer_size
        if resolver:
            self.resolver = resolver
            self.own_resolver = False
        else:
            self.resolver = Resolver()
            self.own_resolver = True
        if hostname_mapping is not None:
            self.resolver = OverrideResolver(resolver=self.resolver, mapping=hostname_mapping)
        self.tcp_client = TCPClient(resolver=self.resolver)
        # Idle keep-alive connections, newest last, per connection key.
        self._idle: dict[tuple[Any, ...], list[_Idle]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def close(self) -> None:
        super().close()
        for idle in self._idle.values():
            for entry in idle:
                entry.stream.close()
        self._idle.clear()
        for task in list(self._tasks):
            task.cancel()
        if self.own_resolver:
            self.resolver.close()
        self.tcp_client.close()

    def fetch_impl(self, request: HTTPRequest, callback: Callable[[HTTPResponse], None]) -> None:
        key = object()
        self.queue.append((key, request, callback))
        assert request.connect_timeout is not None
        assert request.request_timeout is not None
        timeout_handle = None
        if len(self.active) >= self.max_clients:
            timeout = min(request.connect_timeout, request.request_timeout) or None
            if timeout:
                timeout_handle = self.io_loop.add_timeout(
                    self.io_loop.time() + timeout,
                    functools.partial(self._on_timeout, key, "in request queue"))
        self.waiting[key] = (request, callback, timeout_handle)
        self._process_queue()
        if self.queue:
            gen_log.debug("max_clients limit reached, request queued. %d active, %d queued "
                          "requests.", len(self.active), len(self.queue))

    def _process_queue(self) -> None:
        while self.queue and len(self.active) < self.max_clients:
            key, request, callback = self.queue.popleft()
            if key not in self.waiting:
                continue
            self._remove_timeout(key)
            self.active[key] = (request, callback)
            release_callback = functools.partial(self._release_fetch, key)
            self._handle_request(request, release_callback, callback)

    def _handle_request(self, request: HTTPRequest, release_callback: Callable[[], None],
                        final_callback: Callable[[HTTPResponse], None]) -> None:
        conn = _HTTPConnection(self, request, release_callback, final_callback)
        task = self.io_loop.asyncio_loop.create_task(conn.run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _release_fetch(self, key: object) -> None:
        del self.active[key]
        self._process_queue()

    def _remove_timeout(self, key: object) -> None:
        if key in self.waiting:
            _, _, timeout_handle = self.waiting[key]
            if timeout_handle is not None:
                self.io_loop.remove_timeout(timeout_handle)
            del self.waiting[key]

    def _on_timeout(self, key: object, info: str | None = None) -> None:
        request, callback, _ = self.waiting[key]
        self.queue = collections.deque((k, r, c) for k, r, c in self.queue if k != key)
        error_message = f"Timeout {info}" if info else "Timeout"
        timeout_response = HTTPResponse(
            request, 599, error=HTTPTimeoutError(error_message),
            request_time=time.time() - request.start_time)
        self.io_loop.add_callback(callback, timeout_response)
        del self.waiting[key]

    # -- the keep-alive pool -------------------------------------------------

    def _take_idle(self, key: tuple[Any, ...]) -> IOStream | None:
        entries = self._idle.get(key)
        now = time.monotonic()
        while entries:
            entry = entries.pop()
            if (entry.stream.closed() or now - entry.since > _IDLE_TIMEOUT
                    or entry.stream._read_buffer):  # unsolicited bytes: unusable
                entry.stream.close()
                continue
            entry.stream.set_close_callback(None)
            if not entries:
                self._idle.pop(key, None)
            return entry.stream
        self._idle.pop(key, None)
        return None

    def _put_idle(self, key: tuple[Any, ...], stream: IOStream) -> None:
        if self._closed or stream.closed():
            stream.close()
            return
        entries = self._idle.setdefault(key, [])
        entry = _Idle(stream, time.monotonic())
        entries.append(entry)
        total = sum(len(v) for v in self._idle.values())
        if total > self.max_clients:
            # Drop the oldest idle connection of this key (or this one).
            oldest = entries.pop(0)
            oldest.stream.close()
            if not entries:
                self._idle.pop(key, None)

        def on_close() -> None:
            bucket = self._idle.get(key)
            if bucket and entry in bucket:
                bucket.remove(entry)
                if not bucket:
                    self._idle.pop(key, None)

        # Watch for the server closing the idle connection (or sending
        # something it should not: that fills the buffer and we drop it).
        stream.set_close_callback(on_close)


class _HTTPConnection:
    """Runs one request (and its redirects) to completion."""

    def __init__(self, client: SimpleAsyncHTTPClient, request: HTTPRequest,
                 release_callback: Callable[[], None],
                 final_callback: Callable[[HTTPResponse], None]) -> None:
        self.client = client
        self.request = request
        self.release_callback: Callable[[], None] | None = release_callback
        self.final_callback: Callable[[HTTPResponse], None] | None = final_callback
        self.start_time = time.time()
        self.start_monotonic = time.monotonic()
        self.stream: IOStream | None = None

    async def run(self) -> None:
        try:
            response = await self._run()
        except asyncio.CancelledError:
            self._close_stream()
            self._release()
            raise
        except Exception as e:
            self._close_stream()
            response = self._error_response(e)
        self._release()
        self._run_callback(response)

    def _error_response(self, e: BaseException) -> HTTPResponse:
        if isinstance(e, HTTPInputError) and not isinstance(e, HTTPClientError):
            # Logged as Tornado logs a malformed message (at INFO, no traceback).
            gen_log.info("Malformed HTTP message from %s: %s",
                         urllib.parse.urlsplit(self.request.url).netloc, e)
            e = _MalformedResponseError(str(e))
        if isinstance(e, StreamClosedError):
            e = e.real_error if e.real_error is not None else HTTPStreamClosedError(
                "Stream closed")
            if isinstance(e, (ConnectionResetError, BrokenPipeError)):
                e = HTTPStreamClosedError("Stream closed")
        return HTTPResponse(self.request, 599, error=e,
                            request_time=time.monotonic() - self.start_monotonic,
                            start_time=self.start_time)

    def _release(self) -> None:
        if self.release_callback is not None:
            cb, self.release_callback = self.release_callback, None
            cb()

    def _run_callback(self, response: HTTPResponse) -> None:
        if self.final_callback is not None:
            cb, self.final_callback = self.final_callback, None
            self.client.io_loop.add_callback(cb, response)

    def _close_stream(self) -> None:
        if self.stream is not None:
            self.stream.close()
            self.stream = None

    def _remaining(self) -> float | None:
        """Seconds left of ``request_timeout`` (counted from the start; None if unset).

        Timeouts are applied by phase, as in Tornado: `_connect` gives the
        TCP client min(connect_timeout, what is left of request_timeout), so
        its message names the phase (resolving, connecting, TLS handshake);
        the exchange then gets the rest ("Timeout during request").
        """
        request_timeout = self.request.request_timeout
        if not request_timeout:
            return None
        return max(self.start_monotonic + request_timeout - time.monotonic(), 0.0)

    async def _run(self) -> HTTPResponse:
        request = self.request
        parsed = urllib.parse.urlsplit(_unicode(request.url))
        scheme = parsed.scheme
        if scheme not in ("http", "https"):
            raise ValueError(f"Unsupported url scheme: {request.url}")
        netloc = parsed.netloc
        if "@" in netloc:
            userpass, _, netloc = netloc.rpartition("@")
        else:
            userpass = ""
        host, port = httputil.split_host_and_port(netloc)
        if port is None:
            port = 443 if scheme == "https" else 80
        if re.match(r"^\[.*\]$", host):
            host = host[1:-1]  # IPv6 literal
        if not host:
            raise ValueError(f"No host in url: {request.url}")
        for key in ("proxy_host", "proxy_port", "proxy_username", "proxy_password",
                    "proxy_auth_mode"):
            if getattr(request, key, None):
                raise NotImplementedError(f"{key} not supported")
        method = request.method
        if method not in _SUPPORTED_METHODS and not request.allow_nonstandard_methods:
            raise KeyError(f"unknown method {method}")
        if _CTL.search(method) or " " in method:
            raise ValueError(f"invalid method {method!r}")
        if not request.allow_nonstandard_methods:
            body_expected = method in ("POST", "PATCH", "PUT")
            body_present = request.body is not None or request.body_producer is not None
            if (body_expected and not body_present) or (body_present and not body_expected):
                raise ValueError(
                    "Body must {}be None for method {} (unless allow_nonstandard_methods "
                    "is true)".format("not " if body_expected else "", method))
        if request.expect_100_continue:
            request.headers["Expect"] = "100-continue"
        if "Host" not in request.headers:
            request.headers["Host"] = netloc
        username: str | None
        password: str | None
        if request.auth_username is not None and request.auth_password is not None:
            username, password = request.auth_username, request.auth_password
        elif userpass:
            username, _, password = userpass.partition(":")
            username = urllib.parse.unquote(username)
            password = urllib.parse.unquote(password)
        else:
            username = password = None
        if username is not None:
            assert password is not None
            if request.auth_mode not in (None, "basic"):
                raise ValueError(f"unsupported auth_mode {request.auth_mode}")
            auth = base64.b64encode(httputil.encode_username_password(username, password))
            request.headers["Authorization"] = "Basic " + auth.decode("ascii")
        if request.user_agent:
            request.headers["User-Agent"] = request.user_agent
        elif request.headers.get("User-Agent") is None:
            request.headers["User-Agent"] = f"embedtornado/{_version.__version__}"
        if request.body is not None:
            request.headers["Content-Length"] = str(len(request.body))
        if method == "POST" and "Content-Type" not in request.headers:
            request.headers["Content-Type"] = "application/x-www-form-urlencoded"
        if request.decompress_response:
            request.headers["Accept-Encoding"] = "gzip"
        chunked_body = (request.body_producer is not None
                        and "Content-Length" not in request.headers)
        if chunked_body:
            request.headers["Transfer-Encoding"] = "chunked"
        req_path = (parsed.path or "/") + (("?" + parsed.query) if parsed.query else "")
        if _CTL.search(req_path) or " " in req_path:
            raise ValueError(f"invalid characters in request target {req_path!r}")
        lines = [f"{method} {req_path} HTTP/1.1".encode("latin1")]
        for k, v in request.headers.get_all():
            # Tornado writes a bytes name or value decoded as UTF-8 (native_str).
            if isinstance(k, bytes):
                k = k.decode("utf-8")
            if isinstance(v, bytes):
                v = v.decode("utf-8")
            line = f"{k}: {v}".encode("latin1")
            if _CR_OR_LF.search(line):
                # Tornado's check and wording (a ValueError, not HTTPInputError).
                raise ValueError(f"Illegal characters (CR or LF) in header: {line!r}")
            if _CTL.search(k) or _CTL.sub("", v.replace("\t", "")) != v.replace("\t", ""):
                raise ValueError(f"invalid header {k!r}")
            lines.append(line)
        head = b"\r\n".join(lines) + b"\r\n\r\n"

        ssl_options = self._get_ssl_options(scheme)
        pool_key = (scheme, host, port, self._ssl_key(scheme), request.network_interface)
        attempt_reuse = True
        while True:
            stream = self.client._take_idle(pool_key) if attempt_reuse else None
            reused = stream is not None
            if stream is None:
                stream = await self._connect(host, port, ssl_options, request)
            self.stream = stream
            stream.set_nodelay(True)
            try:
                remaining = self._remaining()
                exchange = self._exchange(stream, head, chunked_body, pool_key)
                if remaining is None:
                    result = await exchange
                else:
                    try:
                        result = await asyncio.wait_for(exchange, remaining)
                    except asyncio.TimeoutError:
                        raise HTTPTimeoutError("Timeout during request") from None
            except _RetryableClose:
                self._close_stream()
                if reused and method in _IDEMPOTENT and request.body_producer is None:
                    attempt_reuse = False
                    continue
                raise HTTPStreamClosedError("Stream closed") from None
            if isinstance(result, HTTPResponse):
                return result
            # A redirect to follow: outside this exchange's timeout, which the
            # next request (sharing this one's start) applies again.
            return await self._follow_redirect(*result)

    async def _connect(self, host: str, port: int, ssl_options: Any,
                       request: HTTPRequest) -> IOStream:
        af = socket.AF_UNSPEC
        if request.allow_ipv6 is False:
            af = socket.AF_INET
        source_ip = request.network_interface or None
        if source_ip is not None and not is_valid_ip(source_ip):
            # Tornado's check and wording (an interface name is not accepted).
            raise ValueError("Unrecognized IPv4 or IPv6 address for network_interface, "
                             f"got {source_ip!r}")
        timeout = request.connect_timeout or None
        remaining = self._remaining()
        if remaining is not None:
            timeout = remaining if timeout is None else min(timeout, remaining)
        try:
            return await self.client.tcp_client.connect(
                host, port, af=af, ssl_options=ssl_options,
                max_buffer_size=self.client.max_buffer_size,
                source_ip=source_ip,
                timeout=timeout)
        except TimeoutError as e:
            # The TCP client's message names the phase (as in Tornado).
            raise HTTPTimeoutError(str(e) or "Timeout while connecting") from None

    def _ssl_key(self, scheme: str) -> tuple[Any, ...]:
        r = self.request
        if scheme != "https":
            return ()
        return (bool(r.validate_cert), r.ca_certs, r.client_cert, r.client_key,
                id(r.ssl_options) if r.ssl_options is not None else None)

    def _get_ssl_options(self, scheme: str) -> Any:
        if scheme != "https":
            return None
        r = self.request
        if r.ssl_options is not None:
            return r.ssl_options
        if r.validate_cert and r.ca_certs is None and r.client_cert is None \
                and r.client_key is None:
            return _client_ssl_defaults()
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=r.ca_certs)
        if not r.validate_cert:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if r.client_cert is not None:
            ctx.load_cert_chain(r.client_cert, r.client_key)
        if hasattr(ssl, "OP_NO_COMPRESSION"):
            ctx.options |= ssl.OP_NO_COMPRESSION
        return ctx

    async def _write_body(self, stream: IOStream, chunked: bool) -> None:
        request = self.request
        if request.body is not None:
            await _uncancelled(stream.write(request.body))
        elif request.body_producer is not None:
            def write(data: bytes) -> Any:
                if chunked:
                    if not data:
                        return stream.write(b"")
                    return stream.write(b"%x\r\n%s\r\n" % (len(data), data))
                return stream.write(data)

            result = request.body_producer(write)
            if result is not None and inspect.isawaitable(result):
                await result
            if chunked:
                await _uncancelled(stream.write(b"0\r\n\r\n"))

    async def _exchange(self, stream: IOStream, head: bytes, chunked: bool,
                        pool_key: tuple[Any, ...]
                        ) -> HTTPResponse | tuple[int, httputil.HTTPHeaders]:
        """Send the request and read the response.

        Returns the response, or ``(code, headers)`` of a redirect to follow.
        """
        request = self.request
        received_any = False
        try:
            await _uncancelled(stream.write(head))
        except StreamClosedError:
            raise _RetryableClose() from None
        body_sent = False
        if not request.expect_100_continue:
            await self._write_body(stream, chunked)
            body_sent = True
        parser = ResponseParser(
            method=request.method,
            max_header_size=self.client.max_header_size,
            max_body_size=self.client.max_body_size,
            decompress=bool(request.decompress_response),
        )
        code: int | None = None
        reason: str | None = None
        headers: httputil.HTTPHeaders | None = None
        chunks: list[bytes] = []
        follow = False
        done = False
        # Until the head says otherwise, a gzip body may follow it.
        slice_size = _GZIP_FEED_SLICE if request.decompress_response else 0
        events: Iterable[tuple[Any, ...]]
        while not done:
            try:
                data = await _uncancelled(stream.read_bytes(_READ_CHUNK, partial=True))
            except StreamClosedError as e:
                if not received_any and e.real_error is None or (
                        not received_any and isinstance(e.real_error, ConnectionResetError)):
                    raise _RetryableClose() from None
                if not received_any:
                    raise
                try:
                    events = parser.feed_eof()
                except HTTPInputError:
                    # A response the server cut short is a closed stream (599),
                    # worded as Tornado words it: before or after the head.
                    raise HTTPStreamClosedError(
                        "Stream closed" if code is None else "Connection closed") from None
            else:
                received_any = True
                events = self._feed(parser, data, slice_size)
            for event in events:
                kind = event[0]
                if kind == "head":
                    start_line, hdrs = event[1], event[2]
                    if 100 <= start_line.code < 200:
                        if (start_line.code == 100 and request.expect_100_continue
                                and not body_sent):
                            await self._write_body(stream, chunked)
                            body_sent = True
                        continue
                    code, reason, headers = start_line.code, start_line.reason, hdrs
                    if "X-Consumed-Content-Encoding" not in headers:
                        slice_size = 0
                    follow = self._should_follow_redirect(code, headers)
                    if request.header_callback is not None and not follow:
                        try:
                            request.header_callback(
                                f"{start_line.version} {start_line.code} "
                                f"{start_line.reason}\r\n")
                            for k, v in headers.get_all():
                                request.header_callback(f"{k}: {v}\r\n")
                            request.header_callback("\r\n")
                        except Exception:
                            self._callback_failed()
                elif kind == "data":
                    if follow:
                        continue
                    if request.streaming_callback is not None:
                        await self._stream_chunk(request.streaming_callback, event[1])
                    else:
                        chunks.append(event[1])
                else:  # done
                    done = True
        assert code is not None and headers is not None
        # Reuse the connection if both sides agree and it is in a clean state.
        if (parser.keep_alive and body_sent and not parser.leftover
                and request.headers.get("Connection", "").lower() != "close"):
            self.stream = None
            self.client._put_idle(pool_key, stream)
        else:
            self._close_stream()
        if follow:
            return code, headers
        buffer = BytesIO(b"".join(chunks))
        return HTTPResponse(
            self.request, code, reason=reason, headers=headers, buffer=buffer,
            effective_url=request.url,
            request_time=time.monotonic() - self.start_monotonic,
            start_time=self.start_time)

    @staticmethod
    def _feed(parser: ResponseParser, data: bytes,
              slice_size: int) -> Iterator[tuple[Any, ...]]:
        """The parser's events for *data*, produced lazily.

        With *slice_size*, *data* goes to the parser in slices of that size,
        each slice's events being consumed before the next is decoded: a
        gzip body is then never inflated by more than a slice at a time.
        """
        if not slice_size or len(data) <= slice_size:
            yield from parser.feed(data)
            return
        view = memoryview(data)
        for i in range(0, len(data), slice_size):
            yield from parser.feed(bytes(view[i:i + slice_size]))

    def _callback_failed(self) -> None:
        """A header or streaming callback raised: log it and fail the fetch.

        As in Tornado: the error is logged once on the application log with
        its traceback, the connection is closed and the fetch fails with
        `HTTPStreamClosedError` ("Connection closed").
        """
        app_log.error("Uncaught exception", exc_info=True)
        raise HTTPStreamClosedError("Connection closed") from None

    async def _stream_chunk(self, callback: Callable[[bytes], Any], chunk: bytes) -> None:
        try:
            result = callback(chunk)
        except Exception:
            self._callback_failed()
        if result is None or not inspect.isawaitable(result):
            return
        # Shielded, to tell the callback's own cancellation (an error of the
        # callback, logged as in Tornado) from this fetch being cancelled.
        fut = asyncio.ensure_future(result)
        try:
            await asyncio.shield(fut)
        except asyncio.CancelledError:
            if not fut.done():  # this fetch was cancelled, not the callback
                fut.cancel()
                raise
            self._callback_failed()
        except Exception:
            self._callback_failed()

    def _should_follow_redirect(self, code: int, headers: httputil.HTTPHeaders) -> bool:
        request = self.request
        if not request.follow_redirects:
            return False
        return (code in _REDIRECT_CODES and request.max_redirects is not None
                and request.max_redirects > 0 and "Location" in headers)

    async def _follow_redirect(self, code: int, headers: httputil.HTTPHeaders) -> HTTPResponse:
        original = self.request
        assert isinstance(original, _RequestProxy)
        new_request = copy.copy(original.request)
        new_request.headers = httputil.HTTPHeaders(original.request.headers)
        new_request.url = urllib.parse.urljoin(original.url, headers["Location"])
        assert original.max_redirects is not None
        new_request.max_redirects = original.max_redirects - 1
        del new_request.headers["Host"]
        # Tornado's rule (RFC 9110 15.4 and libcurl's practice): a 303 turns
        # any method but HEAD into GET; a 301 or 302 turns POST into GET;
        # 307 and 308 keep the method and the body.
        if (code == 303 and original.method != "HEAD") or (
                code in (301, 302) and original.method == "POST"):
            new_request.method = "GET"
            new_request.body = None  # type: ignore[assignment]
            new_request.body_producer = None
            for h in ("Content-Length", "Content-Type", "Content-Encoding",
                      "Transfer-Encoding"):
                try:
                    del new_request.headers[h]
                except KeyError:
                    pass
        # Another origin than the first request's (scheme or netloc differ,
        # as in Tornado): credentials and cookies stay behind, as libcurl
        # and Tornado do. That is the Authorization and Cookie headers,
        # auth_username/auth_password and any user:password in the new URL.
        first = getattr(original.request, "original_request", original.request)
        old_url = urllib.parse.urlsplit(_unicode(first.url))
        new_url = urllib.parse.urlsplit(new_request.url)
        if (old_url.scheme, old_url.netloc) != (new_url.scheme, new_url.netloc):
            for h in ("Authorization", "Cookie"):
                try:
                    del new_request.headers[h]
                except KeyError:
                    pass
            new_request.auth_username = new_request.auth_password = None
            if "@" in new_url.netloc:
                new_request.url = urllib.parse.urlunsplit(
                    new_url._replace(netloc=new_url.netloc.rpartition("@")[2]))
        new_request.original_request = getattr(  # type: ignore[attr-defined]
            original.request, "original_request", original.request)
        # The redirect counts against the same request_timeout: it runs
        # inside this connection's deadline, not through the client's queue.
        proxy = cast(HTTPRequest, _RequestProxy(new_request, self.client.defaults))
        sub = _HTTPConnection(self.client, proxy,
                              lambda: None, lambda r: None)
        sub.start_time, sub.start_monotonic = self.start_time, self.start_monotonic
        try:
            response = await sub._run()
        except BaseException:
            sub._close_stream()
            raise
        response.request = new_request.original_request  # type: ignore[attr-defined]
        return response


class _RetryableClose(Exception):
    """The connection closed before any byte of the response arrived."""


def _uncancelled(future: asyncio.Future[Any]) -> asyncio.Future[Any]:
    """*future* (a stream's read or write) shielded from our own cancellation.

    A timeout or `close` cancels the request's task; the stream's future is
    then left to fail with `.StreamClosedError` when the stream is closed,
    as Tornado's client leaves it, rather than being cancelled under the
    stream (which logs "Exception after Future was cancelled" on close).
    """
    return asyncio.shield(future)


def _unicode(value: str | bytes) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value

