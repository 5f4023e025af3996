"""Shared fixtures: ``impl`` runs a test against the compiled module and its twin."""

from __future__ import annotations

import importlib
import os

import pytest

REQUIRE = os.environ.get("EMBEDTORNADO_REQUIRE_EXTENSIONS", "") not in ("", "0")


def load_impl(kind: str, name: str):
    """Import ``embedtornado.<_speedups|_pure>.<name>`` for the ``impl`` fixtures."""
    if kind == "python":
        return importlib.import_module(f"embedtornado._pure.{name}")
    try:
        return importlib.import_module(f"embedtornado._speedups.{name}")
    except ImportError:
        if REQUIRE:
            raise
        pytest.skip(f"compiled embedtornado._speedups.{name} is not built")


@pytest.fixture(params=["cython", "python"], ids=["c-parser", "py-parser"])
def httpparse(request):
    """The request parser module, compiled and pure."""
    return load_impl(request.param, "httpparse")


@pytest.fixture(params=["default", "asyncio"])
def loop_kind(request) -> str:
    """Run a test on embedtornado's default loop and on asyncio's SelectorEventLoop
    (the WebSocket tests' ``wstools.new_loop`` makes either)."""
    return request.param  # type: ignore[no-any-return]
