"""A non-blocking HTTP client (Tornado's ``tornado.httpclient``).

::

    from embedtornado.httpclient import AsyncHTTPClient, HTTPClientError

    async def f():
        http_client = AsyncHTTPClient()
        try:
            response = await http_client.fetch("http://www.google.com/")
        except HTTPClientError as e:
            print("HTTP error:", e.code)          # a response with a non-2xx code
        except Exception as e:
            print("Error:", e)                    # network errors, timeouts (599)
        else:
            print(response.body)

For scripts there is a blocking client::

    from embedtornado.httpclient import HTTPClient

    client = HTTPClient()
    print(client.fetch("http://www.google.com/").body)
    client.close()

`AsyncHTTPClient` is configurable (`AsyncHTTPClient.configure`); the default
implementation is `~embedtornado.simple_httpclient.SimpleAsyncHTTPClient`.
One instance is kept per `.IOLoop` and reused by ``AsyncHTTPClient()``
unless ``force_instance=True`` is passed.

.. note:: embedtornado differs from Tornado 6.6.1: the default client keeps
   connections alive and reuses them for later requests to the same host
   (Tornado's simple client opens a new connection per request). See
   ``docs/client.md`` for every deliberate difference.
"""

from __future__ import annotations

import datetime
import functools
import ssl
import time
import weakref
from io import BytesIO
from typing import Any, Callable

from embedtornado import httputil
from embedtornado.concurrent import (
    Future,
    future_set_exception_unless_cancelled,
    future_set_result_unless_cancelled,
)
from embedtornado.escape import native_str, utf8
from embedtornado.ioloop import IOLoop
from embedtornado.util import Configurable

__all__ = [
    "AsyncHTTPClient",
    "HTTPClient",
    "HTTPClientError",
    "HTTPError",
    "HTTPRequest",
    "HTTPResponse",
    "main",
]


class HTTPClient:
    """A blocking HTTP client, for scripts and tests (not for servers).

    It runs an `AsyncHTTPClient` on a private `.IOLoop`, so it must not be
    used where a loop is already running in the same thread::

        client = HTTPClient()
        try:
            response = client.fetch("http://www.example.com/")
            print(response.body)
        finally:
            client.close()

    :arg async_client_class: the `AsyncHTTPClient` subclass to run.
    :arg kwargs: passed to it.
    """

    def __init__(self, async_client_class: type[AsyncHTTPClient] | None = None,
                 **kwargs: Any) -> None:
        # Set first, so __del__ works even if the rest fails.
        self._closed = True
        self._io_loop = IOLoop(make_current=False)
        if async_client_class is None:
            async_client_class = AsyncHTTPClient

        async def make_client() -> AsyncHTTPClient:
            assert async_client_class is not None
            return async_client_class(**kwargs)

        self._async_client = self._io_loop.run_sync(make_client)
        self._closed = False

    def __del__(self) -> None:
        self.close()

    def close(self) -> None:
        """Close the client and its loop."""
        if not self._closed:
            self._async_client.close()
            self._io_loop.close()
            self._closed = True

    def fetch(self, request: str | HTTPRequest, **kwargs: Any) -> HTTPResponse:
        """Fetch *request* and return its `HTTPResponse`; see `AsyncHTTPClient.fetch`.

        :raises HTTPClientError: for a non-2xx response (unless
            ``raise_error=False``), and other exceptions for network errors.
        """
        return self._io_loop.run_sync(
            functools.partial(self._async_client.fetch, request, **kwargs))


class AsyncHTTPClient(Configurable):
    """A non-blocking HTTP client.

    ``AsyncHTTPClient()`` returns the instance kept for the current
    `.IOLoop` (creating it the first time); ``force_instance=True`` makes a
    new, separate one. Keyword arguments (``max_clients``, ``defaults``,
    ...) take effect only when an instance is created.

    :arg defaults: default values for `HTTPRequest` fields, e.g.
        ``dict(user_agent="MyUserAgent", request_timeout=5)``.
    """

    _instance_cache: weakref.WeakKeyDictionary[IOLoop, AsyncHTTPClient] | None = None

    @classmethod
    def configurable_base(cls) -> type[Configurable]:
        return AsyncHTTPClient

    @classmethod
    def configurable_default(cls) -> type[Configurable]:
        from embedtornado.simple_httpclient import SimpleAsyncHTTPClient

        return SimpleAsyncHTTPClient

    @classmethod
    def _async_clients(cls) -> weakref.WeakKeyDictionary[IOLoop, AsyncHTTPClient]:
        attr_name = "_async_client_dict_" + cls.__name__
        if not hasattr(cls, attr_name):
            setattr(cls, attr_name, weakref.WeakKeyDictionary())
        return getattr(cls, attr_name)  # type: ignore[no-any-return]

    def __new__(cls, force_instance: bool = False, **kwargs: Any) -> AsyncHTTPClient:
        io_loop = IOLoop.current()
        if force_instance:
            instance_cache = None
        else:
            instance_cache = cls._async_clients()
        if instance_cache is not None and io_loop in instance_cache:
            return instance_cache[io_loop]
        instance = super().__new__(cls, **kwargs)  # type: ignore[misc]
        # Keep the cache on the instance too, so close() can tell whether it
        # is the cached one.
        instance._instance_cache = instance_cache
        if instance_cache is not None:
            instance_cache[instance.io_loop] = instance
        return instance  # type: ignore[no-any-return]

    def initialize(self, defaults: dict[str, Any] | None = None) -> None:
        self.io_loop = IOLoop.current()
        self.defaults = dict(HTTPRequest._DEFAULTS)
        if defaults is not None:
            self.defaults.update(defaults)
        self._closed = False

    def close(self) -> None:
        """Release the client's resources (idle connections, resolver).

        Not needed for the shared instance in normal use; a client made with
        ``force_instance=True`` should be closed when done.
        """
        if self._closed:
            return
        self._closed = True
        if self._instance_cache is not None:
            cached = self._instance_cache.get(self.io_loop)
            if cached is not None and cached is not self:
                raise RuntimeError("inconsistent AsyncHTTPClient cache")
            self._instance_cache.pop(self.io_loop, None)

    def fetch(
        self,
        request: str | HTTPRequest,
        raise_error: bool = True,
        **kwargs: Any,
    ) -> Future[HTTPResponse]:
        """Fetch *request* (a URL or an `HTTPRequest`); return a future `HTTPResponse`.

        Keyword arguments set `HTTPRequest` fields and are only allowed with
        a URL. With ``raise_error=True`` (the default) a response whose code
        is not 2xx raises `HTTPClientError`; with ``False`` it is returned.
        Other errors (timeouts, refused connections, malformed responses)
        are raised either way.
        """
        if self._closed:
            raise RuntimeError("fetch() called on closed AsyncHTTPClient")
        if not isinstance(request, HTTPRequest):
            request = HTTPRequest(url=request, **kwargs)
        elif kwargs:
            raise ValueError(
                "kwargs can't be used if request is an HTTPRequest object")
        # The request is copied to avoid mutating the caller's headers.
        request.headers = httputil.HTTPHeaders(request.headers)
        request_proxy = _RequestProxy(request, self.defaults)
        future: Future[HTTPResponse] = self.io_loop.asyncio_loop.create_future()

        def handle_response(response: HTTPResponse) -> None:
            if response.error:
                if raise_error or not response._error_is_response_code:
                    future_set_exception_unless_cancelled(future, response.error)
                    return
            future_set_result_unless_cancelled(future, response)

        self.fetch_impl(request_proxy, handle_response)  # type: ignore[arg-type]
        return future

    def fetch_impl(self, request: HTTPRequest,
                   callback: Callable[[HTTPResponse], None]) -> None:
        """Start *request*; call *callback* with the `HTTPResponse` (subclasses)."""
        raise NotImplementedError()

    @classmethod
    def configure(cls, impl: str | type[Configurable] | None, **kwargs: Any) -> None:
        """Choose the implementation (a class or its dotted name) and its arguments::

            AsyncHTTPClient.configure(None, max_clients=50)
        """
        super().configure(impl, **kwargs)


class HTTPRequest:
    """One HTTP request for `AsyncHTTPClient.fetch`.

    Fields left as ``None`` take the client's defaults (see
    ``AsyncHTTPClient(defaults=...)``) and then these built-in ones:
    ``connect_timeout=20``, ``request_timeout=20`` (seconds),
    ``follow_redirects=True``, ``max_redirects=5``,
    ``decompress_response=True``, ``validate_cert=True``.

    :arg url: the URL (``http`` or ``https``).
    :arg method: the method; nonstandard ones need ``allow_nonstandard_methods``.
    :arg headers: a dict or `.HTTPHeaders`.
    :arg body: str (sent as UTF-8) or bytes; required for POST, PATCH, PUT.
    :arg body_producer: instead of *body*: an async function called with a
        ``write`` function, to stream the body (sent chunked unless a
        ``Content-Length`` header is given).
    :arg auth_username: for HTTP Basic authentication (``auth_mode="basic"``).
    :arg auth_password: see *auth_username*.
    :arg connect_timeout: seconds to connect, including the TLS handshake.
    :arg request_timeout: seconds for the whole request, from its start.
    :arg if_modified_since: a timestamp or `datetime.datetime`.
    :arg follow_redirects: follow 301/302/303/307/308 automatically.
    :arg max_redirects: at most this many.
    :arg user_agent: the ``User-Agent`` header.
    :arg decompress_response: ask for gzip and decode it.
    :arg use_gzip: old name of *decompress_response*.
    :arg network_interface: the local address to connect from.
    :arg streaming_callback: called with each body chunk (then the response
        body is empty); may return an awaitable, which is awaited.
    :arg header_callback: called with the status line, each header line and
        the final empty line (each with its CRLF).
    :arg allow_nonstandard_methods: allow any method and any body.
    :arg validate_cert: check the server's certificate (https).
    :arg ca_certs: a PEM file of CA certificates to check it against.
    :arg client_key: a client private key file.
    :arg client_cert: a client certificate file.
    :arg ssl_options: an `ssl.SSLContext` (or dict) to use as it is.
    :arg expect_100_continue: send ``Expect: 100-continue`` and wait for
        the server's ``100 Continue`` before sending the body.
    :arg proxy_host: not supported by the default client (as in Tornado).
    """

    _headers: dict[str, str] | httputil.HTTPHeaders

    _DEFAULTS: dict[str, Any] = dict(
        connect_timeout=20.0,
        request_timeout=20.0,
        follow_redirects=True,
        max_redirects=5,
        decompress_response=True,
        proxy_password="",
        allow_nonstandard_methods=False,
        validate_cert=True,
    )

    def __init__(
        self,
        url: str,
        method: str = "GET",
        headers: dict[str, str] | httputil.HTTPHeaders | None = None,
        body: bytes | str | None = None,
        auth_username: str | None = None,
        auth_password: str | None = None,
        auth_mode: str | None = None,
        connect_timeout: float | None = None,
        request_timeout: float | None = None,
        if_modified_since: float | datetime.datetime | None = None,
        follow_redirects: bool | None = None,
        max_redirects: int | None = None,
        user_agent: str | None = None,
        use_gzip: bool | None = None,
        network_interface: str | None = None,
        streaming_callback: Callable[[bytes], Any] | None = None,
        header_callback: Callable[[str], None] | None = None,
        prepare_curl_callback: Callable[[Any], None] | None = None,
        proxy_host: str | None = None,
        proxy_port: int | None = None,
        proxy_username: str | None = None,
        proxy_password: str | None = None,
        proxy_auth_mode: str | None = None,
        allow_nonstandard_methods: bool | None = None,
        validate_cert: bool | None = None,
        ca_certs: str | None = None,
        allow_ipv6: bool | None = None,
        client_key: str | None = None,
        client_cert: str | None = None,
        body_producer: Callable[[Callable[[bytes], Any]], Any] | None = None,
        expect_100_continue: bool = False,
        decompress_response: bool | None = None,
        ssl_options: dict[str, Any] | ssl.SSLContext | None = None,
    ) -> None:
        self.headers = headers  # type: ignore[assignment]
        if if_modified_since:
            self.headers["If-Modified-Since"] = httputil.format_timestamp(if_modified_since)
        self.proxy_host = proxy_host
        self.proxy_port = proxy_port
        self.proxy_username = proxy_username
        self.proxy_password = proxy_password
        self.proxy_auth_mode = proxy_auth_mode
        self.url = url
        self.method = method
        self.body = body  # type: ignore[assignment]
        self.body_producer = body_producer
        self.auth_username = auth_username
        self.auth_password = auth_password
        self.auth_mode = auth_mode
        self.connect_timeout = connect_timeout
        self.request_timeout = request_timeout
        self.follow_redirects = follow_redirects
        self.max_redirects = max_redirects
        self.user_agent = user_agent
        if decompress_response is not None:
            self.decompress_response: bool | None = decompress_response
        else:
            self.decompress_response = use_gzip
        self.network_interface = network_interface
        self.streaming_callback = streaming_callback
        self.header_callback = header_callback
        self.prepare_curl_callback = prepare_curl_callback
        self.allow_nonstandard_methods = allow_nonstandard_methods
        self.validate_cert = validate_cert
        self.ca_certs = ca_certs
        self.allow_ipv6 = allow_ipv6
        self.client_key = client_key
        self.client_cert = client_cert
        self.ssl_options = ssl_options
        self.expect_100_continue = expect_100_continue
        self.start_time = time.time()

    @property
    def headers(self) -> httputil.HTTPHeaders:
        """The request headers: the object given (a `dict` stays a `dict`, as
        in Tornado), or a new `.HTTPHeaders` for ``None``. `AsyncHTTPClient.fetch`
        sends a copy made into an `.HTTPHeaders`."""
        return self._headers  # type: ignore[return-value]

    @headers.setter
    def headers(self, value: dict[str, str] | httputil.HTTPHeaders | None) -> None:
        if value is None:
            self._headers = httputil.HTTPHeaders()
        else:
            self._headers = value

    @property
    def body(self) -> bytes:
        """The request body as bytes (``None`` when there is none)."""
        return self._body  # type: ignore[return-value]

    @body.setter
    def body(self, value: bytes | str | None) -> None:
        self._body = utf8(value)


class HTTPResponse:
    """The answer to one request.

    Attributes: ``request`` (the `HTTPRequest`, before redirects),
    ``code`` (int), ``reason``, ``headers`` (`.HTTPHeaders`), ``body``
    (bytes), ``buffer`` (`io.BytesIO` of the body), ``effective_url``
    (after redirects), ``error`` (an exception or ``None``),
    ``request_time`` (seconds), ``start_time`` (`time.time` at the start),
    ``time_info`` (a dict; empty for the default client).
    """

    # Set when there is an error but it is just the response's code.
    _error_is_response_code = False
    request: HTTPRequest

    def __init__(
        self,
        request: HTTPRequest,
        code: int,
        headers: httputil.HTTPHeaders | None = None,
        buffer: BytesIO | None = None,
        effective_url: str | None = None,
        error: BaseException | None = None,
        request_time: float | None = None,
        time_info: dict[str, float] | None = None,
        reason: str | None = None,
        start_time: float | None = None,
    ) -> None:
        if isinstance(request, _RequestProxy):
            self.request = request.request
        else:
            self.request = request
        self.code = code
        self.reason = reason or httputil.responses.get(code, "Unknown")
        if headers is not None:
            self.headers = headers
        else:
            self.headers = httputil.HTTPHeaders()
        self.buffer = buffer
        self._body: bytes | None = None
        if effective_url is None:
            self.effective_url = request.url
        else:
            self.effective_url = effective_url
        self._error_is_response_code = False
        if error is None:
            if self.code < 200 or self.code >= 300:
                self._error_is_response_code = True
                self.error: BaseException | None = HTTPClientError(
                    self.code, message=self.reason, response=self)
            else:
                self.error = None
        else:
            self.error = error
        self.start_time = start_time
        self.request_time = request_time
        self.time_info = time_info or {}

    @property
    def body(self) -> bytes:
        """The body as bytes (empty when there is none)."""
        if self.buffer is None:
            return b""
        if self._body is None:
            self._body = self.buffer.getvalue()
        return self._body

    def rethrow(self) -> None:
        """Raise `error` if there is one."""
        if self.error:
            raise self.error

    def __repr__(self) -> str:
        args = ",".join(f"{k}={v!r}" for k, v in sorted(self.__dict__.items()))
        return f"{self.__class__.__name__}({args})"


class HTTPClientError(Exception):
    """A request failed: ``code`` is the HTTP status, or 599 when no response came.

    ``response`` is the `HTTPResponse` when there is one. By default
    `AsyncHTTPClient.fetch` raises it for every code outside 2xx.

    ``HTTPError`` is another name for this class.
    """

    def __init__(self, code: int, message: str | None = None,
                 response: HTTPResponse | None = None) -> None:
        self.code = code
        self.message = message or httputil.responses.get(code, "Unknown")
        self.response = response
        super().__init__(code, message, response)

    def __str__(self) -> str:
        return f"HTTP {self.code}: {self.message}"

    # Exceptions are copied with copy.copy; a cyclic response attribute
    # would otherwise break that (as Tornado notes).
    __repr__ = __str__


HTTPError = HTTPClientError


class _RequestProxy:
    """An `HTTPRequest` whose unset fields read from a dict of defaults."""

    def __init__(self, request: HTTPRequest, defaults: dict[str, Any] | None) -> None:
        self.request = request
        self.defaults = defaults

    def __getattr__(self, name: str) -> Any:
        request_attr = getattr(self.request, name)
        if request_attr is not None:
            return request_attr
        elif self.defaults is not None:
            return self.defaults.get(name, None)
        else:
            return None


def main() -> None:
    """Fetch the URLs given on the command line and print them (``python -m
    embedtornado.httpclient URL``); options ``--print_headers``,
    ``--print_body``, ``--follow_redirects``, ``--validate_cert``."""
    from embedtornado.options import define, options, parse_command_line

    define("print_headers", type=bool, default=False)
    define("print_body", type=bool, default=True)
    define("follow_redirects", type=bool, default=True)
    define("validate_cert", type=bool, default=True)
    define("proxy_host", type=str)
    define("proxy_port", type=int)
    args = parse_command_line()
    client = HTTPClient()
    try:
        for arg in args:
            try:
                response = client.fetch(
                    arg,
                    follow_redirects=options.follow_redirects,
                    validate_cert=options.validate_cert,
                    proxy_host=options.proxy_host,
                    proxy_port=options.proxy_port,
                )
            except HTTPError as e:
                if e.response is not None:
                    response = e.response
                else:
                    raise
            if options.print_headers:
                print(response.headers)
            if options.print_body:
                print(native_str(response.body))
    finally:
        client.close()


if __name__ == "__main__":
    main()
