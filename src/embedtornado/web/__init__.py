"""The web framework: embedtornado's ``tornado.web``.

A hello world::

    import asyncio

    import embedtornado.web

    class MainHandler(embedtornado.web.RequestHandler):
        def get(self):
            self.write("Hello, world")

    async def main():
        app = embedtornado.web.Application([(r"/", MainHandler)])
        app.listen(8888)
        await asyncio.Event().wait()

    if __name__ == "__main__":
        asyncio.run(main())

Tornado keeps all of this in one module; here it is split by concept, and
this package re-exports Tornado's names so ``from embedtornado.web import
RequestHandler`` (or ``embedtornado.web.HTTPError``) works as it does in
Tornado:

* :mod:`.handler`: `RequestHandler` (its cookie, signed-cookie, XSRF and
  user methods come from :mod:`.security`)
* :mod:`.signing`: `create_signed_value`, `decode_signed_value`,
  `get_signature_key_version` and the ``*_SIGNED_VALUE_*`` constants
* :mod:`.application`: `Application`, `url` and the handler delegate
* :mod:`.errors`: `HTTPError`, `Finish`, `MissingArgumentError`
* :mod:`.decorators`: `authenticated`, `addslash`, `removeslash`,
  `stream_request_body`
* :mod:`.handlers`: `ErrorHandler`, `RedirectHandler`, `FallbackHandler`
* :mod:`.transforms`: `OutputTransform`, `GZipContentEncoding`
* :mod:`.static`: `StaticFileHandler`
* :mod:`.uimodules`: `UIModule`, `TemplateModule`

Like Tornado's, these objects are not thread-safe: call ``write``,
``finish`` and the like only from the event loop's thread (hand work back
with `.IOLoop.add_callback`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from embedtornado import _lazy
from embedtornado.escape import _unicode, utf8  # noqa: F401
from embedtornado.httpserver import HTTPServer
from embedtornado.log import access_log, app_log, gen_log
from embedtornado.routing import (  # noqa: F401
    AnyMatches,
    DefaultHostMatches,
    HostMatches,
    ReversibleRouter,
    ReversibleRuleRouter,
    Rule,
    URLSpec,
    _RuleList,
)
from embedtornado.util import ObjectDict
from embedtornado.web.application import (  # noqa: F401
    Application,
    _ApplicationRouter,
    _HandlerDelegate,
)
from embedtornado.web.decorators import (  # noqa: F401
    _has_stream_request_body,
    _is_protocol_relative,
    _normalize_url_like_browser,
    _scheme_and_netloc,
    addslash,
    authenticated,
    removeslash,
    stream_request_body,
)
from embedtornado.web.errors import (  # noqa: F401
    _ARG_DEFAULT,
    Finish,
    HTTPError,
    MissingArgumentError,
    _ArgDefaultMarker,
)
from embedtornado.web.handler import (  # noqa: F401
    RequestHandler,
    _HeaderTypes,
    _UIModuleNamespace,
    is_absolute,
)
from embedtornado.web.handlers import ErrorHandler, FallbackHandler, RedirectHandler
from embedtornado.web.static import StaticFileHandler
from embedtornado.web.transforms import GZipContentEncoding, OutputTransform
from embedtornado.web.uimodules import (  # noqa: F401
    TemplateModule,
    UIModule,
    _linkify,
    _xsrf_form_html,
)

if TYPE_CHECKING:
    from embedtornado.web.signing import (  # noqa: F401
        DEFAULT_SIGNED_VALUE_MIN_VERSION,
        DEFAULT_SIGNED_VALUE_VERSION,
        MAX_SUPPORTED_SIGNED_VALUE_VERSION,
        MIN_SUPPORTED_SIGNED_VALUE_VERSION,
        _CookieSecretTypes,
        create_signed_value,
        decode_signed_value,
        get_signature_key_version,
    )

# NOTE(embedtornado): the signed-value names load with web.signing (hmac,
# hashlib) on first access, not with this package: a server that signs no
# cookie never imports them (tests/test_startup.py).
_LAZY = {
    name: "embedtornado.web.signing:" + name
    for name in (
        "DEFAULT_SIGNED_VALUE_MIN_VERSION",
        "DEFAULT_SIGNED_VALUE_VERSION",
        "MAX_SUPPORTED_SIGNED_VALUE_VERSION",
        "MIN_SUPPORTED_SIGNED_VALUE_VERSION",
        "_CookieSecretTypes",
        "create_signed_value",
        "decode_signed_value",
        "get_signature_key_version",
    )
}
# Tornado's private names for the two signature functions, which its own test
# suite imports from tornado.web (scripts/tornado-suite runs that suite here).
_LAZY["_create_signature_v1"] = "embedtornado.web.signing:_signature_v1"
_LAZY["_create_signature_v2"] = "embedtornado.web.signing:_signature_v2"
__getattr__ = _lazy.module_getattr(__name__, _LAZY)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


#: Tornado's short name for `URLSpec` in handler lists.
url = URLSpec

unicode_type = str

__all__ = [
    "DEFAULT_SIGNED_VALUE_MIN_VERSION",
    "DEFAULT_SIGNED_VALUE_VERSION",
    "MAX_SUPPORTED_SIGNED_VALUE_VERSION",
    "MIN_SUPPORTED_SIGNED_VALUE_VERSION",
    "AnyMatches",
    "Application",
    "DefaultHostMatches",
    "ErrorHandler",
    "FallbackHandler",
    "Finish",
    "GZipContentEncoding",
    "HTTPError",
    "HTTPServer",
    "HostMatches",
    "MissingArgumentError",
    "ObjectDict",
    "OutputTransform",
    "RedirectHandler",
    "RequestHandler",
    "ReversibleRouter",
    "ReversibleRuleRouter",
    "Rule",
    "StaticFileHandler",
    "TemplateModule",
    "UIModule",
    "URLSpec",
    "access_log",
    "addslash",
    "app_log",
    "authenticated",
    "create_signed_value",
    "decode_signed_value",
    "gen_log",
    "get_signature_key_version",
    "is_absolute",
    "removeslash",
    "stream_request_body",
    "url",
    "utf8",
]
