"""pytest fixtures for embedtornado applications (a pytest plugin).

Enable it in a ``conftest.py``::

    pytest_plugins = ["embedtornado.testing_pytest"]

then provide an ``app`` fixture and use the others::

    import pytest
    from embedtornado.web import Application

    @pytest.fixture
    def app():
        return Application([("/", MainHandler)])

    async def test_home(http_client, base_url):
        response = await http_client.fetch(base_url + "/")
        assert response.code == 200

    def test_home_blocking(fetch):
        assert fetch("/").body == b"Hello, world"

Fixtures:

``io_loop``
    a fresh `.IOLoop` per test, current in the thread during the test,
    closed afterwards (tasks still running are cancelled first).
``http_server``
    an `.HTTPServer` for the ``app`` fixture on an unused port of
    127.0.0.1 (``http_server_options``, a dict fixture, adds arguments).
``http_port``, ``base_url``
    its port and ``http://127.0.0.1:<port>``.
``http_client``
    a separate `.AsyncHTTPClient`, closed after the test.
``fetch``
    a blocking ``fetch(path, **kwargs)`` that runs the loop (non-2xx
    responses are returned, as `.AsyncHTTPTestCase.fetch` does).

``async def`` tests that use ``io_loop`` (or a fixture built on it) run on
it, with a timeout of `.get_async_test_timeout` seconds or the one given by
``@pytest.mark.gen_test(timeout=...)``.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from embedtornado.httpclient import AsyncHTTPClient, HTTPResponse
from embedtornado.httpserver import HTTPServer
from embedtornado.ioloop import IOLoop
from embedtornado.testing import bind_unused_port, get_async_test_timeout


def pytest_configure(config: Any) -> None:
    config.addinivalue_line(
        "markers", "gen_test(timeout=None): run an async test on the io_loop fixture")


@pytest.fixture
def io_loop() -> Iterator[IOLoop]:
    """A fresh IOLoop for one test."""
    loop = IOLoop(make_current=False)
    asyncio.set_event_loop(loop.asyncio_loop)
    try:
        yield loop
    finally:
        tasks = [t for t in asyncio.all_tasks(loop.asyncio_loop) if not t.done()]
        for t in tasks:
            t.cancel()
        if tasks:
            async def drain() -> None:
                await asyncio.wait(tasks)

            loop.run_sync(drain)
        for cls in {AsyncHTTPClient, AsyncHTTPClient.configured_class()}:
            shared = cls._async_clients().get(loop)  # type: ignore[attr-defined]
            if shared is not None:
                shared.close()
        asyncio.set_event_loop(None)
        loop.close(all_fds=True)


@pytest.fixture
def http_server_options() -> dict[str, Any]:
    """Extra keyword arguments for the test `.HTTPServer` (override this fixture)."""
    return {}


@pytest.fixture
def _unused_port() -> Iterator[tuple[Any, int]]:
    sock, port = bind_unused_port()
    try:
        yield sock, port
    finally:
        sock.close()


@pytest.fixture
def http_port(_unused_port: tuple[Any, int]) -> int:
    """The port of the test server."""
    return _unused_port[1]


@pytest.fixture
def base_url(http_port: int) -> str:
    """``http://127.0.0.1:<port>`` of the test server."""
    return f"http://127.0.0.1:{http_port}"


@pytest.fixture
def http_server(io_loop: IOLoop, app: Any, _unused_port: tuple[Any, int],
                http_server_options: dict[str, Any]) -> Iterator[HTTPServer]:
    """An `.HTTPServer` serving the ``app`` fixture."""
    server = HTTPServer(app, **http_server_options)
    server.add_sockets([_unused_port[0]])
    try:
        yield server
    finally:
        server.stop()
        io_loop.run_sync(server.close_all_connections, timeout=get_async_test_timeout())


@pytest.fixture
def http_client(io_loop: IOLoop, http_server: HTTPServer) -> Iterator[AsyncHTTPClient]:
    """A separate `.AsyncHTTPClient` (the server is running)."""
    client = AsyncHTTPClient(force_instance=True)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def fetch(io_loop: IOLoop, http_client: AsyncHTTPClient,
          base_url: str) -> Callable[..., HTTPResponse]:
    """A blocking fetch of a path on the test server."""

    def do_fetch(path: str, raise_error: bool = False, **kwargs: Any) -> HTTPResponse:
        url = path if path.lower().startswith(("http://", "https://")) else base_url + path
        return io_loop.run_sync(
            lambda: http_client.fetch(url, raise_error=raise_error, **kwargs),
            timeout=get_async_test_timeout())

    return do_fetch


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: Any) -> bool | None:
    """Run ``async def`` tests that use ``io_loop`` on it."""
    func = pyfuncitem.obj
    if not inspect.iscoroutinefunction(func):
        return None
    if "io_loop" not in pyfuncitem.fixturenames:
        return None
    loop: IOLoop = pyfuncitem.funcargs["io_loop"]
    marker = pyfuncitem.get_closest_marker("gen_test")
    timeout = get_async_test_timeout()
    if marker is not None and marker.kwargs.get("timeout") is not None:
        timeout = marker.kwargs["timeout"]
    argnames = pyfuncitem._fixtureinfo.argnames
    kwargs = {name: pyfuncitem.funcargs[name] for name in argnames}
    loop.run_sync(lambda: func(**kwargs), timeout=timeout)
    return True
