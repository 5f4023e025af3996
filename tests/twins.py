"""The live implementations of one compiled module, for tests that run every one of them."""

from __future__ import annotations

import importlib
from types import ModuleType

from embedtornado import _accel


def implementations(name: str) -> list[ModuleType]:
    """The twin ``embedtornado._pure.<name>``, then the compiled module when it is built.

    With ``EMBEDTORNADO_NO_EXTENSIONS`` only the twin; with
    ``EMBEDTORNADO_REQUIRE_EXTENSIONS`` a compiled module that does not import
    is an error, not a skip.
    """
    out = [importlib.import_module(f"embedtornado._pure.{name}")]
    if not _accel.NO_EXTENSIONS:
        try:
            out.append(importlib.import_module(f"embedtornado._speedups.{name}"))
        except ImportError:
            if _accel.REQUIRE_EXTENSIONS:
                raise
    return out
