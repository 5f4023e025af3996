"""Support for testing asynchronous code with `unittest` (Tornado's ``tornado.testing``).

Tornado test suites port by changing the imports::

    from embedtornado.testing import AsyncHTTPTestCase, AsyncTestCase, gen_test
    from embedtornado.web import Application, RequestHandler

    class MyHTTPTest(AsyncHTTPTestCase):
        def get_app(self):
            return Application([("/", MainHandler)])

        def test_homepage(self):
            response = self.fetch("/")          # blocking, on self.io_loop
            self.assertEqual(response.code, 200)

        @gen_test
        async def test_async_client(self):
            response = await self.http_client.fetch(self.get_url("/"))
            self.assertIn(b"Hello", response.body)

Each test gets its own `.IOLoop` (``self.io_loop``), set as the thread's
current loop for the duration of the test and closed afterwards (tasks still
running are cancelled first). `gen_test` runs an ``async def`` (or a
generator) test on it, failing after `get_async_test_timeout` seconds
(5 by default, or the ``ASYNC_TEST_TIMEOUT`` environment variable).

For pytest, see `embedtornado.testing_pytest` (fixtures ``io_loop``,
``http_server``, ``http_client``, ``base_url``).

A test method that returns a coroutine or generator (a forgotten
`gen_test`) is an error. `AsyncTestCase.get_new_ioloop` may be overridden
without a deprecation warning.

.. note:: embedtornado differs from Tornado 6.6.1 there: Tornado 6.6 relies
   on `unittest`'s own ``DeprecationWarning`` for a test method returning a
   value, and warns when ``get_new_ioloop`` is overridden.

`AsyncHTTPSTestCase` serves with a self-signed certificate for
``localhost``/``127.0.0.1`` that ships with embedtornado for tests only (its
private key is public; see ``embedtornado._testcert``), as Tornado ships
``test.crt``; its client does not validate certificates.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import os
import re
import socket
import sys
import types
import unittest
from collections.abc import Callable, Coroutine, Generator
from typing import Any

from embedtornado import _accel, netutil
from embedtornado.httpclient import AsyncHTTPClient, HTTPResponse
from embedtornado.httpserver import HTTPServer
from embedtornado.ioloop import IOLoop, TimeoutError
from embedtornado.log import app_log

__all__ = [
    "AsyncHTTPSTestCase",
    "AsyncHTTPTestCase",
    "AsyncTestCase",
    "ExpectLog",
    "bind_unused_port",
    "gen_test",
    "get_async_test_timeout",
    "main",
    "reset_log_limits",
    "setup_with_context_manager",
]


def reset_log_limits() -> None:
    """Give embedtornado's rate-limited log lines a fresh burst.

    The server logs a malformed request ("Malformed HTTP message from ...")
    and a timed-out connection at most 10 times a minute per process. A test
    run sends many bad requests within a minute, so `AsyncTestCase` calls
    this before each test and `ExpectLog` on entry: an expected line is never
    suppressed because earlier tests used up the burst. Call it yourself in
    tests that do not use those classes.

    .. note:: embedtornado differs from Tornado 6.6.1: Tornado does not
       rate-limit these lines, and has no such function.
    """
    _accel.load("httpproto").reset_log_limits()


def bind_unused_port(reuse_port: bool = False, address: str = "127.0.0.1") -> tuple[socket.socket, int]:
    """Bind a listening socket to an unused port on *address*; return ``(socket, port)``.

    The address defaults to the IPv4 loopback, so tests are not reachable
    from outside.
    """
    sock = netutil.bind_sockets(0, address, family=socket.AF_INET if ":" not in address
                                else socket.AF_INET6, reuse_port=reuse_port)[0]
    port = sock.getsockname()[1]
    return sock, port


def get_async_test_timeout() -> float:
    """Return the default timeout of async tests: ``ASYNC_TEST_TIMEOUT`` or 5 seconds."""
    env = os.environ.get("ASYNC_TEST_TIMEOUT")
    if env is not None:
        try:
            return float(env)
        except ValueError:
            pass
    return 5


class _TestMethodWrapper:
    """Fails a test method that returns a generator or coroutine (a missing `gen_test`)."""

    def __init__(self, orig_method: Callable[..., Any]) -> None:
        self.orig_method = orig_method
        self.__wrapped__ = orig_method

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        result = self.orig_method(*args, **kwargs)
        if isinstance(result, Generator) or inspect.iscoroutine(result):
            if inspect.iscoroutine(result):
                result.close()  # no "never awaited" warning on top of this error
            raise TypeError("Generator and coroutine test methods should be"
                            " decorated with embedtornado.testing.gen_test")
        elif result is not None:
            raise ValueError(f"Return value from test method ignored: {result!r}")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.orig_method, name)


class AsyncTestCase(unittest.TestCase):
    """A `unittest.TestCase` with a fresh `.IOLoop` per test (``self.io_loop``).

    Test asynchronous code with `gen_test` (preferred), or with the older
    `stop`/`wait` pair::

        class MyTestCase(AsyncTestCase):
            @gen_test
            async def test_http_fetch(self):
                client = AsyncHTTPClient()
                response = await client.fetch("http://www.example.com")
                self.assertIn("FriendFeed", response.body)

            def test_http_fetch_old_style(self):
                client = AsyncHTTPClient()
                client.fetch("http://www.example.com").add_done_callback(self.stop)
                response = self.wait().result()
    """

    def __init__(self, methodName: str = "runTest") -> None:
        super().__init__(methodName)
        self.__stopped = False
        self.__running = False
        self.__failure: tuple[Any, Any, Any] | None = None
        self.__stop_args: Any = None
        self.__timeout: object | None = None
        # Wrap the test method so a forgotten @gen_test is an error, not a
        # silently passing test. (pytest instantiates the class with a
        # method name that may not exist.)
        method = getattr(self, methodName, None)
        if method is not None:
            setattr(self, methodName, _TestMethodWrapper(method))
        self._test_generator: Generator[Any, Any, Any] | Coroutine[Any, Any, Any] | None = None

    def setUp(self) -> None:
        super().setUp()
        reset_log_limits()
        self.io_loop = self.get_new_ioloop()
        asyncio.set_event_loop(self.io_loop.asyncio_loop)

    def tearDown(self) -> None:
        # Cancel what is still running, so it does not leak into the next test.
        asyncio_loop = self.io_loop.asyncio_loop
        tasks = [t for t in asyncio.all_tasks(asyncio_loop) if not t.done()]
        for t in tasks:
            t.cancel()
        if tasks:
            async def gather() -> Any:
                return await asyncio.wait(tasks)

            done, pending = self.io_loop.run_sync(gather)
            assert not pending
            for t in done:
                try:
                    t.result()
                except asyncio.CancelledError:
                    pass
        # The shared AsyncHTTPClient of this loop keeps idle keep-alive
        # connections; close it with the loop (Tornado's client has none).
        for cls in {AsyncHTTPClient, AsyncHTTPClient.configured_class()}:
            shared = cls._async_clients().get(self.io_loop)  # type: ignore[attr-defined]
            if shared is not None:
                shared.close()
        asyncio.set_event_loop(None)
        self.io_loop.close(all_fds=True)
        super().tearDown()
        # An exception caught by stop/wait that was not re-raised in the
        # test (e.g. the test did not call wait) fails it here.
        self.__rethrow()

    def get_new_ioloop(self) -> IOLoop:
        """Return the `.IOLoop` for this test (a new one; override to share one)."""
        return IOLoop(make_current=False)

    def _handle_exception(self, typ: type[BaseException], value: BaseException,
                          tb: types.TracebackType | None) -> bool:
        if self.__failure is None:
            self.__failure = (typ, value, tb)
        else:
            app_log.error("multiple unhandled exceptions in test", exc_info=(typ, value, tb))
        self.stop()
        return True

    def __rethrow(self) -> None:
        if self.__failure is not None:
            failure = self.__failure
            self.__failure = None
            raise failure[1].with_traceback(failure[2])

    def run(self, result: unittest.TestResult | None = None) -> unittest.TestResult | None:
        ret = super().run(result)
        # As a last resort, raise an exception that escaped the test.
        self.__rethrow()
        return ret

    def stop(self, _arg: Any = None, **kwargs: Any) -> None:
        """Stop the loop, making `wait` return.

        A positional argument or keyword arguments are what `wait` returns.
        """
        assert _arg is None or not kwargs
        self.__stop_args = kwargs or _arg
        if self.__running:
            self.io_loop.stop()
            self.__running = False
        self.__stopped = True

    def wait(self, condition: Callable[..., bool] | None = None,
             timeout: float | None = None) -> Any:
        """Run the loop until `stop` is called (and *condition*, if given, is true).

        :arg timeout: seconds (default `get_async_test_timeout`); then the
            test fails with ``failureException``.
        """
        if timeout is None:
            timeout = get_async_test_timeout()
        if not self.__stopped:
            if timeout:
                def timeout_func() -> None:
                    try:
                        raise self.failureException(
                            f"Async operation timed out after {timeout} seconds")
                    except Exception:
                        self.__failure = sys.exc_info()
                    self.stop()

                self.__timeout = self.io_loop.add_timeout(self.io_loop.time() + timeout,
                                                          timeout_func)
            while True:
                self.__running = True
                self.io_loop.start()
                if self.__failure is not None or condition is None or condition():
                    break
            if self.__timeout is not None:
                self.io_loop.remove_timeout(self.__timeout)
                self.__timeout = None
        assert self.__stopped
        self.__stopped = False
        self.__rethrow()
        result = self.__stop_args
        self.__stop_args = None
        return result


class AsyncHTTPTestCase(AsyncTestCase):
    """Runs an `.HTTPServer` with your application for each test.

    Override `get_app`; then `fetch` (blocking) or ``self.http_client`` (an
    `.AsyncHTTPClient`) and `get_url` reach it::

        class MyHTTPTest(AsyncHTTPTestCase):
            def get_app(self):
                return Application([("/", MyHandler)])

            def test_homepage(self):
                response = self.fetch("/")
    """

    def setUp(self) -> None:
        super().setUp()
        sock, port = bind_unused_port()
        self.__port = port
        self.http_client = self.get_http_client()
        self._app = self.get_app()
        self.http_server = self.get_http_server()
        self.http_server.add_sockets([sock])

    def get_http_client(self) -> AsyncHTTPClient:
        """Return the client used by `fetch` (a separate `.AsyncHTTPClient` instance)."""
        return AsyncHTTPClient(force_instance=True)

    def get_http_server(self) -> HTTPServer:
        """Return the server; by default ``HTTPServer(app, **get_httpserver_options())``."""
        return HTTPServer(self._app, **self.get_httpserver_options())

    def get_app(self) -> Any:
        """Return the application (or request callback) to test. Must be overridden."""
        raise NotImplementedError()

    def fetch(self, path: str, raise_error: bool = False, **kwargs: Any) -> HTTPResponse:
        """Fetch *path* (relative to the server, or a full URL) and return the response.

        Runs the loop until the response arrives, so call it from ordinary
        (not `gen_test`) test methods. Unlike `.AsyncHTTPClient.fetch`, a
        non-2xx response is returned rather than raised unless
        ``raise_error=True``; network errors and timeouts are raised.
        """
        if path.lower().startswith(("http://", "https://")):
            url = path
        else:
            url = self.get_url(path)
        return self.io_loop.run_sync(
            lambda: self.http_client.fetch(url, raise_error=raise_error, **kwargs),
            timeout=get_async_test_timeout(),
        )

    def get_httpserver_options(self) -> dict[str, Any]:
        """Return keyword arguments for the `.HTTPServer` (override to add some)."""
        return {}

    def get_http_port(self) -> int:
        """Return the port the server listens on."""
        return self.__port

    def get_protocol(self) -> str:
        return "http"

    def get_url(self, path: str) -> str:
        """Return the absolute URL of *path* on the test server."""
        return f"{self.get_protocol()}://127.0.0.1:{self.get_http_port()}{path}"

    def tearDown(self) -> None:
        self.http_server.stop()
        self.io_loop.run_sync(self.http_server.close_all_connections,
                              timeout=get_async_test_timeout())
        self.http_client.close()
        del self.http_server
        del self._app
        super().tearDown()


class AsyncHTTPSTestCase(AsyncHTTPTestCase):
    """`AsyncHTTPTestCase` over TLS, with a built-in self-signed test certificate.

    The client skips certificate validation; override `get_ssl_options` to
    serve another certificate.
    """

    def get_http_client(self) -> AsyncHTTPClient:
        return AsyncHTTPClient(force_instance=True, defaults=dict(validate_cert=False))

    def get_httpserver_options(self) -> dict[str, Any]:
        return dict(ssl_options=self.get_ssl_options())

    def get_ssl_options(self) -> dict[str, Any]:
        """Return the server's ``ssl_options`` (by default `default_ssl_options`)."""
        return AsyncHTTPSTestCase.default_ssl_options()

    @staticmethod
    def default_ssl_options() -> dict[str, Any]:
        """Return ``dict(certfile=..., keyfile=...)`` for the built-in test certificate."""
        from embedtornado import _testcert

        certfile, keyfile = _testcert.files()
        return dict(certfile=certfile, keyfile=keyfile)

    def get_protocol(self) -> str:
        return "https"


def gen_test(func: Callable[..., Any] | None = None,
             timeout: float | None = None) -> Callable[..., Any]:
    """Run an ``async def`` (or generator-coroutine) test method on ``self.io_loop``.

    ::

        class MyTest(AsyncHTTPTestCase):
            @gen_test
            async def test_something(self):
                response = await self.http_client.fetch(self.get_url("/"))

            @gen_test(timeout=10)
            async def test_slow(self):
                ...

    The test fails with `TimeoutError` after *timeout* seconds (default:
    `get_async_test_timeout`). Must be used on methods of `AsyncTestCase`
    subclasses.
    """
    if timeout is None:
        timeout = get_async_test_timeout()

    def wrap(f: Callable[..., Any]) -> Callable[..., None]:
        @functools.wraps(f)
        def post_coroutine(self: AsyncTestCase, *args: Any, **kwargs: Any) -> None:
            def start() -> Any:
                result = f(self, *args, **kwargs)
                if isinstance(result, Generator):
                    self._test_generator = result
                    from embedtornado import gen

                    async def drive() -> Any:
                        # Hand the live generator to gen's runner.
                        return await gen.coroutine(lambda: (yield from result))()

                    return drive()
                self._test_generator = result if inspect.iscoroutine(result) else None
                return result

            try:
                self.io_loop.run_sync(start, timeout=timeout)
            except TimeoutError as e:
                # Say where the test was stuck, if we can, and (as Tornado
                # does) throw the error into the test where it waits, so the
                # traceback shows that line and the test's own cleanup runs.
                gen_obj = self._test_generator
                frame = getattr(gen_obj, "cr_frame", None) or getattr(gen_obj, "gi_frame", None)
                if frame is None:
                    raise
                error = TimeoutError(f"{e} (test was waiting at {frame.f_code.co_filename}:"
                                     f"{frame.f_lineno})")
                if not (getattr(gen_obj, "cr_running", False)
                        or getattr(gen_obj, "gi_running", False)):
                    try:
                        gen_obj.throw(error)  # type: ignore[union-attr]
                    except StopIteration:
                        pass  # the test caught the error and returned
                raise error from None
            finally:
                self._test_generator = None

        # Mark the method so _TestMethodWrapper knows it returns None.
        post_coroutine.__wrapped__ = f  # type: ignore[attr-defined]
        return post_coroutine

    if func is not None:
        return wrap(func)
    return wrap


# Test collectors (nose, pytest) must not take gen_test for a test itself.
gen_test.__test__ = False  # type: ignore[attr-defined]


class ExpectLog(logging.Filter):
    """A context manager that swallows expected log messages, and fails without them.

    ::

        with ExpectLog("embedtornado.application", "Uncaught exception"):
            response = self.fetch("/broken")

    :arg logger: a `logging.Logger` or its name (the filter is added to it;
        child loggers' records are not filtered).
    :arg regex: matched (`re.match`) against each formatted message.
    :arg required: fail (with `Exception`) if no message matched.
    :arg level: a logging level that the matching message must have
        (another level is reported as a warning); also lowers the logger's
        level for the duration so such messages are not filtered out.
    """

    def __init__(self, logger: logging.Logger | str, regex: str, required: bool = True,
                 level: int | None = None) -> None:
        super().__init__()
        if isinstance(logger, str):
            logger = logging.getLogger(logger)
        self.logger = logger
        self.regex = re.compile(regex)
        self.required = required
        self.matched = False
        self.logged_stack = False
        self.level = level
        self.orig_level: int | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info:
            self.logged_stack = True
        message = record.getMessage()
        if self.regex.match(message):
            if self.level is not None and record.levelno != self.level:
                app_log.warning("Got expected log message %r at unexpected level (%s vs %s)",
                                message, logging.getLevelName(self.level), record.levelname)
                return True
            self.matched = True
            return False
        return True

    def __enter__(self) -> ExpectLog:
        reset_log_limits()  # an earlier burst must not hide the expected line
        if self.level is not None and self.level < self.logger.getEffectiveLevel():
            self.orig_level = self.logger.level
            self.logger.setLevel(self.level)
        self.logger.addFilter(self)
        return self

    def __exit__(self, typ: type[BaseException] | None, value: BaseException | None,
                 tb: types.TracebackType | None) -> None:
        if self.orig_level is not None:
            self.logger.setLevel(self.orig_level)
        self.logger.removeFilter(self)
        if not typ and self.required and not self.matched:
            raise Exception("did not get expected log message")


def setup_with_context_manager(testcase: unittest.TestCase, cm: Any) -> Any:
    """Enter *cm* now and exit it when *testcase* is cleaned up; return its value."""
    val = cm.__enter__()
    testcase.addCleanup(cm.__exit__, None, None, None)
    return val


def main(**kwargs: Any) -> None:
    """Run tests, as `unittest.main` does, after parsing embedtornado options.

    With no test names on the command line it runs the tests returned by
    ``all()`` in ``__main__`` (Tornado's convention)::

        def all():
            return unittest.defaultTestLoader.loadTestsFromNames(["mypkg.test.a"])

        if __name__ == "__main__":
            embedtornado.testing.main()

    Options: ``--failfast``, ``--catch``, ``--buffer``, ``--verbose``,
    ``--quiet``, plus the logging options of `embedtornado.options`.
    """
    from embedtornado.options import define, options, parse_command_line

    for name in ("failfast", "catch", "buffer", "verbose", "quiet"):
        if name not in options:
            define(name, type=bool, default=False)
    argv = [sys.argv[0]] + parse_command_line(sys.argv)
    if options.failfast:
        kwargs["failfast"] = True
    if options.catch:
        kwargs["catchbreak"] = True
    if options.buffer:
        kwargs["buffer"] = True
    if options.verbose:
        kwargs["verbosity"] = 2
    if options.quiet:
        kwargs["verbosity"] = 0
    if len(argv) > 1:
        unittest.main(module=None, argv=argv, **kwargs)
    else:
        unittest.main(defaultTest="all", argv=argv, **kwargs)
