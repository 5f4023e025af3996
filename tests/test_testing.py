"""embedtornado.testing: Tornado's documented examples ported, and its failure modes.

The TestCase classes at module level are collected and run by pytest like a
user's own suite would be. Cases that must *fail* are built inside test
functions and run with `unittest`, once with ``embedtornado.testing`` and
once with real Tornado 6.6.1's ``tornado.testing``, and the outcomes compared.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import textwrap
import unittest

import pytest

from embedtornado import gen, web
from embedtornado.httpclient import AsyncHTTPClient
from embedtornado.ioloop import IOLoop
from embedtornado.testing import (
    AsyncHTTPSTestCase,
    AsyncHTTPTestCase,
    AsyncTestCase,
    ExpectLog,
    bind_unused_port,
    gen_test,
    get_async_test_timeout,
)


class MainHandler(web.RequestHandler):
    def get(self):
        self.write("Hello, world")


class FailHandler(web.RequestHandler):
    def get(self):
        raise ValueError("handler blew up")


def hello_app():
    return web.Application([("/", MainHandler), ("/fail", FailHandler)])


# -- Tornado's documented examples, ported by changing the imports --------------------


class MyHTTPTest(AsyncHTTPTestCase):
    """From the AsyncHTTPTestCase docs: a blocking fetch against get_app()."""

    def get_app(self):
        return hello_app()

    def test_homepage(self):
        response = self.fetch("/")
        self.assertEqual(response.code, 200)
        self.assertEqual(response.body, b"Hello, world")

    def test_error_is_returned_not_raised(self):
        with ExpectLog("embedtornado.application", "Uncaught exception"):
            response = self.fetch("/fail")
        self.assertEqual(response.code, 500)

    @gen_test
    async def test_http_client_fixture(self):
        response = await self.http_client.fetch(self.get_url("/"))
        self.assertIn(b"Hello", response.body)
        self.assertEqual(self.get_url("/x"), f"http://127.0.0.1:{self.get_http_port()}/x")


class MyTestCase(AsyncHTTPTestCase):
    """From the AsyncTestCase docs: gen_test with a generator and an async def."""

    def get_app(self):
        return hello_app()

    @gen_test
    def test_http_fetch(self):
        client = AsyncHTTPClient()
        response = yield client.fetch(self.get_url("/"))
        # Test contents of response
        self.assertIn(b"world", response.body)

    @gen_test(timeout=10)
    async def test_http_fetch_native(self):
        client = AsyncHTTPClient()
        response = await client.fetch(self.get_url("/"))
        self.assertIn(b"world", response.body)
        # The shared client keeps the connection for reuse; tearDown closes it.
        self.assertEqual(sum(len(v) for v in client._idle.values()), 1)
        MyTestCase.shared_client = client

    def tearDown(self):
        super().tearDown()
        shared = getattr(MyTestCase, "shared_client", None)
        if shared is not None:
            self.assertTrue(shared._closed and not shared._idle)


class MyTestCase2(AsyncHTTPTestCase):
    """From the AsyncTestCase docs: the older stop/wait style."""

    def get_app(self):
        return hello_app()

    def test_http_fetch(self):
        client = AsyncHTTPClient()
        client.fetch(self.get_url("/")).add_done_callback(self.stop)
        response = self.wait().result()
        self.assertIn(b"world", response.body)

    def test_wait_condition_and_stop_args(self):
        count = []

        def tick():
            count.append(1)
            self.stop(len(count))
            if len(count) < 3:
                self.io_loop.add_callback(tick)

        self.io_loop.add_callback(tick)
        self.assertEqual(self.wait(condition=lambda: len(count) >= 3), 3)


class MyHTTPSTest(AsyncHTTPSTestCase):
    def get_app(self):
        return hello_app()

    def test_https(self):
        self.assertTrue(self.get_url("/").startswith("https://127.0.0.1:"))
        response = self.fetch("/")
        self.assertEqual(response.body, b"Hello, world")


class LoopIsolationTest(AsyncTestCase):
    def test_io_loop_is_current_and_fresh(self):
        self.assertIs(IOLoop.current(), self.io_loop)
        self.assertIsNot(self.io_loop, getattr(LoopIsolationTest, "_last", None))
        LoopIsolationTest._last = self.io_loop

    def test_io_loop_is_current_and_fresh_again(self):
        self.test_io_loop_is_current_and_fresh()

    @gen_test
    def test_gen_coroutine_yields(self):
        a, b = yield [gen.sleep(0.01), asyncio.sleep(0.01, result=5)]
        self.assertEqual((a, b), (None, 5))


# -- failure modes, compared with real Tornado ----------------------------------------


def outcome(testing, body: str) -> tuple[int, int, list[str]]:
    """Run a one-test case written against *testing*; return (failures, errors, messages)."""
    ns: dict = {"testing": testing, "asyncio": asyncio, "logging": logging}
    exec(textwrap.dedent(body), ns)  # noqa: S102 - the test case's source
    global LAST_NS
    LAST_NS = ns
    case = ns["Case"]
    result = unittest.TestResult()
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(case)
    suite.run(result)
    msgs = [tb for _, tb in result.failures + result.errors]
    return len(result.failures), len(result.errors), msgs


LAST_NS: dict = {}

TESTINGS = ["embedtornado.testing", "tornado.testing"]


@pytest.fixture(params=TESTINGS)
def testing(request):
    import importlib

    return importlib.import_module(request.param)


def test_forgotten_gen_test_is_an_error():
    """Ours only: Tornado 6.6 leaves this to unittest's DeprecationWarning and an
    unawaited-coroutine warning; ours fails the test with a clear message."""
    import embedtornado.testing

    f, e, msgs = outcome(embedtornado.testing, """
        class Case(testing.AsyncTestCase):
            async def test_it(self):
                pass
    """)
    assert (f, e) == (0, 1) and "should be decorated" in msgs[0]


def test_gen_test_timeout(testing):
    f, e, msgs = outcome(testing, """
        class Case(testing.AsyncTestCase):
            @testing.gen_test(timeout=0.1)
            async def test_it(self):
                await asyncio.sleep(10)
    """)
    assert f + e == 1 and "timed out after 0.1 seconds" in msgs[0]


@pytest.mark.parametrize("style", ["generator", "native"])
def test_gen_test_timeout_is_raised_where_the_test_waits(testing, style):
    # A generator test gets the error thrown in where it waits, as in Tornado:
    # the traceback goes through the test function and its cleanup runs.
    gen_module = "tornado.gen" if testing.__name__.startswith("tornado") else "embedtornado.gen"
    waiting = ("yield gen.sleep(5)" if style == "generator" else "await asyncio.sleep(5)")
    define = "def" if style == "generator" else "async def"
    f, e, msgs = outcome(testing, f"""
        import {gen_module} as gen
        CLEANUP = []

        class Case(testing.AsyncTestCase):
            @testing.gen_test(timeout=0.1)
            {define} test_it(self):
                try:
                    {waiting}
                finally:
                    CLEANUP.append(True)
    """)
    assert f + e == 1 and "timed out after 0.1 seconds" in msgs[0]
    if style == "generator":
        assert ", in test_it\n" in msgs[0]
    # (a native coroutine is cancelled when the time is up, which runs it too)
    assert LAST_NS["CLEANUP"] == [True]


def test_gen_test_exception_propagates(testing):
    f, e, msgs = outcome(testing, """
        class Case(testing.AsyncTestCase):
            @testing.gen_test
            async def test_it(self):
                await asyncio.sleep(0)
                raise KeyError("inside")
    """)
    assert (f, e) == (0, 1) and "KeyError" in msgs[0]


def test_gen_test_assertion_is_a_failure(testing):
    f, e, msgs = outcome(testing, """
        class Case(testing.AsyncTestCase):
            @testing.gen_test
            def test_it(self):
                yield asyncio.sleep(0)
                self.assertEqual(1, 2)
    """)
    assert (f, e) == (1, 0)


def test_wait_timeout_is_a_failure(testing):
    f, e, msgs = outcome(testing, """
        class Case(testing.AsyncTestCase):
            def test_it(self):
                self.wait(timeout=0.1)
    """)
    assert f == 1 and "Async operation timed out after 0.1 seconds" in msgs[0]


def test_expect_log_required(testing):
    f, e, msgs = outcome(testing, """
        class Case(testing.AsyncTestCase):
            def test_it(self):
                with testing.ExpectLog("some.logger", "never logged"):
                    pass
    """)
    assert f + e == 1 and "did not get expected log message" in msgs[0]


def test_leftover_tasks_cancelled_at_teardown(testing):
    f, e, msgs = outcome(testing, """
        seen = []

        class Case(testing.AsyncTestCase):
            def test_it(self):
                async def forever():
                    try:
                        await asyncio.sleep(3600)
                    except asyncio.CancelledError:
                        seen.append("cancelled")
                        raise
                self.io_loop.asyncio_loop.create_task(forever())
                self.io_loop.add_callback(self.stop)
                self.wait()
    """)
    assert (f, e) == (0, 0)
    assert LAST_NS["seen"] == ["cancelled"]


# -- the helpers ----------------------------------------------------------------------


def test_expect_log_filters_and_counts(caplog):
    logger = logging.getLogger("embedtornado.test.expectlog")
    with ExpectLog(logger, "expected .*") as el:
        logger.error("expected message 1")
        logger.error("something else")
    assert el.matched
    texts = [r.getMessage() for r in caplog.records if r.name == logger.name]
    assert texts == ["something else"]
    with ExpectLog(logger, "x", required=False) as el2:
        pass
    assert not el2.matched
    with ExpectLog(logger, "debug only", level=logging.DEBUG) as el3:
        logger.debug("debug only here")
    assert el3.matched


def test_bind_unused_port():
    sock, port = bind_unused_port()
    try:
        assert sock.getsockname() == ("127.0.0.1", port) and port > 0
    finally:
        sock.close()


def test_async_test_timeout_env(monkeypatch):
    monkeypatch.delenv("ASYNC_TEST_TIMEOUT", raising=False)
    assert get_async_test_timeout() == 5
    monkeypatch.setenv("ASYNC_TEST_TIMEOUT", "12.5")
    assert get_async_test_timeout() == 12.5


MAIN_SCRIPT = '''
import unittest
from embedtornado.testing import AsyncTestCase, gen_test, main


class T(AsyncTestCase):
    @gen_test
    async def test_ok(self):
        pass

    def test_{name}(self):
        self.assertTrue({ok})


def all():
    return unittest.defaultTestLoader.loadTestsFromTestCase(T)


if __name__ == "__main__":
    main()
'''


@pytest.mark.parametrize("ok", [True, False])
def test_main_runs_all(tmp_path, ok):
    script = tmp_path / "t.py"
    script.write_text(MAIN_SCRIPT.format(name="second", ok=ok))
    out = subprocess.run([sys.executable, str(script), "--verbose"], capture_output=True,
                         timeout=60, check=False)
    err = out.stderr.decode()
    assert "test_ok" in err and "test_second" in err  # --verbose lists each test
    assert (out.returncode == 0) == ok, err


# -- the pytest plugin ----------------------------------------------------------------


PLUGIN_TESTS = '''
import pytest
from embedtornado import web
from embedtornado.ioloop import IOLoop


class Main(web.RequestHandler):
    def get(self):
        self.write("Hello, pytest")


@pytest.fixture
def app():
    return web.Application([("/", Main)])


async def test_async_fetch(http_client, base_url, io_loop):
    assert IOLoop.current() is io_loop
    response = await http_client.fetch(base_url + "/")
    assert response.body == b"Hello, pytest"


def test_blocking_fetch(fetch, http_port):
    assert fetch("/").body == b"Hello, pytest"
    assert fetch("/missing").code == 404


@pytest.mark.gen_test(timeout=0.2)
async def test_times_out(io_loop):
    import asyncio
    await asyncio.sleep(5)
'''


def test_pytest_plugin(tmp_path):
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["embedtornado.testing_pytest"]\n')
    (tmp_path / "test_plugin_user.py").write_text(PLUGIN_TESTS)
    env = dict(os.environ)
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error",
         "--rootdir", str(tmp_path), str(tmp_path / "test_plugin_user.py")],
        capture_output=True, timeout=120, cwd=tmp_path, env=env)
    text = out.stdout.decode()
    assert "2 passed" in text and "1 failed" in text, text + out.stderr.decode()
    assert "test_times_out" in text and "TimeoutError" in text, text
