"""The one place that chooses between compiled modules and their pure-Python twins.

Every compiled module ``embedtornado._speedups.<name>`` has a readable twin
``embedtornado._pure.<name>`` with the same public names. Use sites write::

    if TYPE_CHECKING:
        from embedtornado._pure import httpparse
    else:
        httpparse = _accel.load("httpparse")

Two environment variables, read here and nowhere else at run time:

``EMBEDTORNADO_NO_EXTENSIONS=1``
    always use the twins.
``EMBEDTORNADO_REQUIRE_EXTENSIONS=1``
    a compiled module that fails to import is an error, not a fallback.

The choice is made once per module and process; :func:`speedups` reports it.
"""

from __future__ import annotations

import importlib
import logging
import os
from types import ModuleType

#: Every module that has a compiled implementation, in dependency order.
MODULES: tuple[str, ...] = ("httpparse", "httpproto", "tmplrt", "wsmask", "loop", "jsonenc")

_log = logging.getLogger("embedtornado.general")
_loaded: dict[str, ModuleType] = {}
_chosen: dict[str, str] = {}
_fallback_logged = False


def _flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")


NO_EXTENSIONS = _flag("EMBEDTORNADO_NO_EXTENSIONS")
REQUIRE_EXTENSIONS = _flag("EMBEDTORNADO_REQUIRE_EXTENSIONS") and not NO_EXTENSIONS


def load(name: str) -> ModuleType:
    """Return the live implementation of module *name* (compiled or twin)."""
    global _fallback_logged
    mod = _loaded.get(name)
    if mod is not None:
        return mod
    if name not in MODULES:
        raise ValueError(f"{name!r} is not one of embedtornado's compiled modules {MODULES}")
    if not NO_EXTENSIONS:
        try:
            mod = importlib.import_module(f"embedtornado._speedups.{name}")
        except ImportError as exc:
            if REQUIRE_EXTENSIONS:
                raise ImportError(
                    f"EMBEDTORNADO_REQUIRE_EXTENSIONS is set but the compiled module "
                    f"embedtornado._speedups.{name} does not import: {exc}"
                ) from exc
            if not _fallback_logged:
                _fallback_logged = True
                _log.debug("embedtornado: compiled modules unavailable (%s); using the "
                           "pure-Python twins", exc)
        else:
            _loaded[name] = mod
            _chosen[name] = "cython"
            return mod
    mod = importlib.import_module(f"embedtornado._pure.{name}")
    _loaded[name] = mod
    _chosen[name] = "python"
    return mod


def speedups() -> dict[str, str]:
    """Map each compiled module's name to ``"cython"`` or ``"python"`` (what is live)."""
    for name in MODULES:
        load(name)
    return dict(_chosen)
