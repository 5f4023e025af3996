"""Fixtures for the database tests: a runner per event loop, a fresh database file."""

from __future__ import annotations

import asyncio
import faulthandler
from typing import Any, Callable

import pytest

import embedtornado.loop

HARD_TIMEOUT = 120  # a hang in a database thread dumps every stack instead of stalling CI
CALL_TIMEOUT = 60


def _run_on(factory: Callable[[], asyncio.AbstractEventLoop], coro: Any) -> Any:
    loop = factory()
    try:
        return loop.run_until_complete(asyncio.wait_for(coro, CALL_TIMEOUT))
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            loop.close()


LOOPS = ["embedtornado", "asyncio"]


@pytest.fixture(params=LOOPS)
def run(request) -> Callable[[Any], Any]:
    """Run a coroutine to completion on our loop (compiled, or its stdlib twin) or asyncio's.

    The ``asyncio`` case is skipped when our loop already is the stdlib one
    (``EMBEDTORNADO_NO_EXTENSIONS=1``), since it would repeat the same run.
    """
    if request.param == "asyncio":
        if not embedtornado.loop.COMPILED:
            pytest.skip("embedtornado's loop is the stdlib loop here")
        return lambda coro: _run_on(asyncio.new_event_loop, coro)
    return lambda coro: _run_on(embedtornado.loop.new_event_loop, coro)


@pytest.fixture
def run1() -> Callable[[Any], Any]:
    """Run a coroutine on embedtornado's live loop only."""
    return lambda coro: _run_on(embedtornado.loop.new_event_loop, coro)


@pytest.fixture
def db_path(tmp_path) -> str:
    return str(tmp_path / "test.db")


@pytest.fixture(autouse=True)
def _hard_timeout():
    faulthandler.dump_traceback_later(HARD_TIMEOUT, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()
