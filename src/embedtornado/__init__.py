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

Submodules load lazily on first attribute access (PEP 562), as in Tornado.
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

_SUBMODULES = frozenset(
    """auth autoreload concurrent curl_httpclient escape gen http1connection httpclient
    httpserver httputil ioloop iostream locale locks log loop netutil options platform
    process queues routing simple_httpclient tcpclient tcpserver template testing util
    web websocket wsgi""".split()
)


def speedups() -> dict[str, str]:
    """Report which implementation of each compiled module is live.

    Returns a dict such as ``{"httpparse": "cython", "httpproto": "cython"}``;
    ``"python"`` means the pure-Python twin runs (``EMBEDTORNADO_NO_EXTENSIONS=1``
    or the extensions were not built).
    """
    from embedtornado import _accel

    return _accel.speedups()


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module("embedtornado." + name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
