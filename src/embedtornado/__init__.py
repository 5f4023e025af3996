"""embedtornado: a Tornado-compatible web framework and HTTP/1.1 server for appliances.

A Tornado 6 program ports by replacing ``tornado`` with ``embedtornado`` in its
imports::

    import embedtornado.ioloop
    import embedtornado.web

    class MainHandler(embedtornado.web.RequestHandler):
        def get(self):
            self.write("Hello, world")

    app = embedtornado.web.Application([(r"/", MainHandler)])
    app.listen(8888)
    embedtornado.ioloop.IOLoop.current().start()

Submodules load lazily on first attribute access (PEP 562), as in Tornado:
``import embedtornado`` imports none of them, and afterwards
``embedtornado.web.Application`` imports `embedtornado.web` on the spot.
``__all__`` lists the submodules with Tornado's names, so
``from embedtornado import *`` imports them all.
:func:`speedups` tells which hot paths run compiled code.
"""

from __future__ import annotations

import importlib
from typing import Any

from embedtornado._version import TORNADO_API_VERSION, __version__

#: This package's version, as a string and as a comparable tuple.
version = __version__
version_info = tuple(int(p) for p in __version__.split(".")) + (0,)
#: The Tornado release whose API this release follows (``tornado.version``).
tornado_version = TORNADO_API_VERSION

#: The submodules that carry Tornado's names, as in ``tornado.__all__``.
#: Tornado's ``curl_httpclient`` is left out because this package has no
#: such module; ``websocket`` and ``wsgi`` are added
#: (Tornado's list omits them, though both modules exist there).
__all__ = [
    "auth",
    "autoreload",
    "concurrent",
    "escape",
    "gen",
    "http1connection",
    "httpclient",
    "httpserver",
    "httputil",
    "ioloop",
    "iostream",
    "locale",
    "locks",
    "log",
    "netutil",
    "options",
    "platform",
    "process",
    "queues",
    "routing",
    "simple_httpclient",
    "tcpclient",
    "tcpserver",
    "template",
    "testing",
    "util",
    "web",
    "websocket",
    "wsgi",
]

# Every name __getattr__ imports on first use: __all__, our own ``loop``, and
# Tornado names whose module may arrive later (importing one that does not
# exist yet raises ModuleNotFoundError, as ``tornado.curl_httpclient`` does
# without pycurl).
_SUBMODULES = frozenset([*__all__, "auth", "curl_httpclient", "locale", "loop", "platform", "wsgi"])


def speedups() -> dict[str, str]:
    """Report which implementation of each compiled module is live.

    Returns a dict such as ``{"httpparse": "cython", "httpproto": "cython"}``;
    ``"python"`` means the pure-Python twin runs (``EMBEDTORNADO_NO_EXTENSIONS=1``
    or the extensions were not built).
    """
    from embedtornado import _accel

    return _accel.speedups()


def __getattr__(name: str) -> Any:
    """Import ``embedtornado.<name>`` on first access (PEP 562).

    After ``import embedtornado`` alone, ``embedtornado.web`` works: the
    submodule is imported here and, being then bound on the package, never
    reaches this function again. Other names raise `AttributeError`.
    """
    if name in _SUBMODULES:
        return importlib.import_module("embedtornado." + name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
