"""Every public name that Tornado 6.6.1 defines in a module we mirror exists in ours.

Names still to come are listed in PENDING with the issue that brings them;
once a name exists, its PENDING entry must go (the test says so).
"""

from __future__ import annotations

import importlib
import inspect

import pytest

tornado = pytest.importorskip("tornado")

MODULES = ["autoreload", "concurrent", "escape", "gen", "http1connection", "httpserver",
           "httputil", "ioloop", "iostream", "locks", "log", "netutil", "options", "process",
           "queues", "routing", "tcpserver", "util", "web"]
MODULES += ["httpclient", "simple_httpclient", "tcpclient", "testing"]  # async HTTP client issue
MODULES += ["websocket"]
MODULES += ["wsgi", "platform.asyncio"]
MODULES += ["auth"]

PENDING = {
}

#: Tornado's own doctest hooks are not part of the API.
IGNORED = {"doctests"}


def tornado_names(name: str) -> set[str]:
    mod = importlib.import_module("tornado." + name)
    out = set()
    for attr in dir(mod):
        if attr.startswith("_"):
            continue
        obj = getattr(mod, attr)
        if inspect.ismodule(obj):
            continue
        defined_in = getattr(obj, "__module__", None)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            if defined_in == mod.__name__:
                out.add(attr)
        elif attr.isupper():
            out.add(attr)
    return out


@pytest.mark.parametrize("name", MODULES)
def test_public_names_exist(name):
    ours = importlib.import_module("embedtornado." + name)
    pending = PENDING.get(name, set())
    missing = {n for n in tornado_names(name) - IGNORED if not hasattr(ours, n)}
    assert missing <= pending, f"embedtornado.{name} lacks {sorted(missing - pending)}"
    arrived = {n for n in pending if hasattr(ours, n)}
    assert not arrived, f"remove {sorted(arrived)} from PENDING[{name!r}]: they exist now"
