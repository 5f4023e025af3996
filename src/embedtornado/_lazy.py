"""Lazy module attributes, so that a hello-world server imports only what it uses.

A module that names a standard-library module (or a public name of its own
defined elsewhere) that a plain server never needs gives it to
:func:`module_getattr` instead of importing it at the top::

    from embedtornado import _lazy

    __getattr__ = _lazy.module_getattr(__name__, {"shutil": "shutil",
                                                  "StaticFileHandler":
                                                  "embedtornado.web.static:StaticFileHandler"})

``module.shutil`` then still works from outside (tests monkeypatch through
it), importing on first access and caching the result in the module, and
code inside the module imports locally where it uses the name
(``import shutil`` in the function body, which costs a dict look-up once the
module is loaded). ``tests/test_startup.py`` checks which modules the server
imports.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def module_getattr(module_name: str, lazy: dict[str, str]) -> Callable[[str], Any]:
    """Return a PEP 562 ``__getattr__`` for *module_name*.

    :arg lazy: attribute name -> ``"module.path"`` (the module itself) or
        ``"module.path:name"`` (a name in it). The value is imported on the
        first access and stored in the module, so later accesses are plain
        attribute look-ups.
    """

    def __getattr__(name: str) -> Any:
        target = lazy.get(name)
        if target is None:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        path, _, attr = target.partition(":")
        value = importlib.import_module(path)
        if attr:
            value = getattr(value, attr)
        setattr(sys.modules[module_name], name, value)
        return value

    return __getattr__

