"""`Application`: the routing table and settings of a web application.

An application maps URL patterns to `~.web.RequestHandler` classes and
serves them through `.HTTPServer`::

    import asyncio

    from embedtornado.web import Application, RequestHandler, url

    class ItemHandler(RequestHandler):
        def initialize(self, db):
            self.db = db

        def get(self, item_id):
            self.write({"id": item_id, "url": self.reverse_url("item", item_id)})

    async def main():
        app = Application(
            [
                (r"/", MainHandler),
                url(r"/items/([0-9]+)", ItemHandler, {"db": {}}, name="item"),
            ],
            debug=True,                  # autoreload, no template caching, tracebacks
            compress_response=True,      # gzip when the client accepts it
        )
        app.add_handlers(r"admin\\.example\\.com", [(r"/", AdminHandler)])
        app.listen(8888)
        await asyncio.Event().wait()

    asyncio.run(main())

Each request is routed with `.routing` (an exact-path index first, then the
regular expressions in order), then served by a `_HandlerDelegate`, which
builds the handler and runs it. A handler that answers without awaiting
anything runs to completion inside the server's callback: no task, no
future. A request for one of the plain paths of the rule list (no regular
expression) skips the routing calls: the `_AppDelegate` that
`Application.start_request` gives the server looks the path up in a table
made from the routing index, and serves the request as that
`_HandlerDelegate` would.
"""

from __future__ import annotations

import asyncio
import re
import socket
import types
from collections.abc import Awaitable, Callable
from inspect import isclass
from typing import TYPE_CHECKING, Any, cast

from embedtornado import httputil, netutil, routing
from embedtornado.httpserver import HTTPServer
from embedtornado.log import access_log, app_log
from embedtornado.routing import (
    _GENERIC,
    _HANDLER,
    _ROUTER,
    AnyMatches,
    DefaultHostMatches,
    HostMatches,
    ReversibleRouter,
    ReversibleRuleRouter,
    Router,
    Rule,
    RuleRouter,
    _DefaultMessageDelegate,
    _RoutingDelegate,
    _RuleList,
    _TrackedRules,
)
from embedtornado.web.handler import RequestHandler
from embedtornado.web.handlers import ErrorHandler
from embedtornado.web.static import StaticFileHandler
from embedtornado.web.transforms import GZipContentEncoding
from embedtornado.web.uimodules import _DEFAULT_UI_MODULES, UIModule

if TYPE_CHECKING:
    from embedtornado.web.transforms import OutputTransform

__all__ = ["Application"]


def _ui_defaults() -> tuple[type, dict[str, Any]]:
    """The `UIModule` base class, and the UI modules every application has.

    As in Tornado: ``linkify``, ``xsrf_form_html`` and ``Template``.
    """
    return UIModule, dict(_DEFAULT_UI_MODULES)


def _default_static_handler_class() -> type[StaticFileHandler]:
    """The handler class of the ``static_path`` routes when ``static_handler_class`` is unset."""
    return StaticFileHandler


class _ApplicationRouter(ReversibleRuleRouter):
    """The router inside an `Application`.

    Beyond `~.routing.ReversibleRuleRouter` it accepts a `~.web.RequestHandler`
    subclass as a rule's target (served through the application's
    `Application.get_handler_delegate`) and a list or tuple of rules as a
    target (turned into a nested `_ApplicationRouter`).
    """

    def __init__(self, application: Application, rules: _RuleList | None = None) -> None:
        assert isinstance(application, Application)
        self.application = application
        super().__init__(rules)

    def process_rule(self, rule: Rule) -> Rule:
        rule = super().process_rule(rule)
        if isinstance(rule.target, (list, tuple)):
            rule.target = _ApplicationRouter(self.application, rule.target)
        return rule

    def get_target_delegate(
        self, target: Any, request: httputil.HTTPServerRequest, **target_params: Any
    ) -> httputil.HTTPMessageDelegate | None:
        if isclass(target) and issubclass(target, RequestHandler):
            return self.application.get_handler_delegate(request, target, **target_params)
        return super().get_target_delegate(target, request, **target_params)

    def _target_kind(self, target: Any) -> int:
        # What get_target_delegate above does, known in advance for the
        # routing plan: unless it is overridden, a handler class goes to
        # get_handler_delegate and a nested router is asked directly.
        if ("get_target_delegate" in self.__dict__
                or type(self).get_target_delegate is not _ApplicationRouter.get_target_delegate):
            return _GENERIC
        if isclass(target) and issubclass(target, RequestHandler):
            return _HANDLER
        if isinstance(target, Router):
            return _ROUTER
        return _GENERIC


class Application(ReversibleRouter):
    r"""A web application: request handlers, routing rules and settings.

    :arg handlers: the rules, tried in order. Each is a `~.routing.Rule`, a
        `~.web.url` (`~.routing.URLSpec`), or a tuple ``(pattern, target)``,
        ``(pattern, target, kwargs)`` or ``(pattern, target, kwargs, name)``:
        a path regular expression (or any `~.routing.Matcher`), a
        `~.web.RequestHandler` subclass (or its dotted name, or a nested list
        of rules, or any `~.routing` target), keyword arguments for the
        handler's ``initialize``, and a name for `reverse_url`.
    :arg default_host: a host name to route as when no host pattern given
        to `add_handlers` matches the request's host (not for requests with
        ``X-Real-Ip``, which come through a proxy). Do not use it for an
        application reachable without TLS, where DNS rebinding is a risk.
    :arg transforms: the `~.web.OutputTransform` classes to apply to every
        response (default: none, or gzip with ``compress_response``).
    :arg settings: the application's settings, available to handlers as
        ``self.settings``. Those read here:

        * ``debug``: sets each of ``autoreload``, ``compiled_template_cache=False``,
          ``static_hash_cache=False`` and ``serve_traceback`` unless it is
          given itself.
        * ``autoreload``: restart the process when a source file changes
          (see `embedtornado.autoreload`).
        * ``compress_response`` (or its old name ``gzip``): gzip responses
          for clients that accept it.
        * ``default_handler_class`` and ``default_handler_args``: the handler
          (and its ``initialize`` arguments) for requests no rule matches;
          without it they get a 404 page.
        * ``log_function``: called with each finished handler instead of the
          access log (see `log_request`).
        * ``ui_modules`` and ``ui_methods``: modules, dicts or lists of them.
        * ``static_path`` (with ``static_url_prefix``, default
          ``"/static/"``, ``static_handler_class`` and
          ``static_handler_args``): serve the files of that directory under
          the prefix, plus ``/favicon.ico`` and ``/robots.txt``.

    An application is an `~.httputil.HTTPServerConnectionDelegate`: give it
    to `.HTTPServer`, or call `listen`.
    """

    def __init__(
        self,
        handlers: _RuleList | None = None,
        default_host: str | None = None,
        transforms: list[type[OutputTransform]] | None = None,
        **settings: Any,
    ) -> None:
        if transforms is None:
            self.transforms: list[type[OutputTransform]] = []
            if settings.get("compress_response") or settings.get("gzip"):
                self.transforms.append(GZipContentEncoding)
        else:
            self.transforms = transforms
        self.default_host = default_host
        self.settings = settings
        self.ui_modules: dict[str, type] = dict(_DEFAULT_UI_MODULES)
        self.ui_methods: dict[str, Callable[..., str]] = {}
        self._load_ui_modules(settings.get("ui_modules", {}))
        self._load_ui_methods(settings.get("ui_methods", {}))
        if self.settings.get("static_path"):
            path = self.settings["static_path"]
            handlers = list(handlers or [])
            static_url_prefix = settings.get("static_url_prefix", "/static/")
            static_handler_class = settings.get("static_handler_class", StaticFileHandler)
            static_handler_args = settings.get("static_handler_args", {})
            static_handler_args["path"] = path
            for pattern in (
                re.escape(static_url_prefix) + r"(.*)",
                r"/(favicon\.ico)",
                r"/(robots\.txt)",
            ):
                handlers.insert(0, (pattern, static_handler_class, static_handler_args))

        if self.settings.get("debug"):
            self.settings.setdefault("autoreload", True)
            self.settings.setdefault("compiled_template_cache", False)
            self.settings.setdefault("static_hash_cache", False)
            self.settings.setdefault("serve_traceback", True)

        self.wildcard_router = _ApplicationRouter(self, handlers)
        self.default_router = _ApplicationRouter(
            self, [Rule(AnyMatches(), self.wildcard_router)]
        )

        if self.settings.get("autoreload"):
            from embedtornado import autoreload

            autoreload.start()

    def listen(
        self,
        port: int,
        address: str | None = None,
        *,
        family: socket.AddressFamily = socket.AF_UNSPEC,
        backlog: int = netutil._DEFAULT_BACKLOG,
        flags: int | None = None,
        reuse_port: bool = False,
        **kwargs: Any,
    ) -> HTTPServer:
        """Serve this application on *port*: a shortcut for an `.HTTPServer` and its ``listen``.

        ``family``, ``backlog``, ``flags`` and ``reuse_port`` go to
        `.TCPServer.listen`; other keyword arguments (``xheaders``,
        ``max_body_size``, ...) to the `.HTTPServer` constructor. The
        event loop must still be run. For several processes, build the
        `.HTTPServer` and use ``bind``/``start`` instead.

        :returns: the `.HTTPServer`.

        .. versionchanged:: 6.2
           Accepts the keyword arguments of `.TCPServer.listen`, such as
           ``reuse_port``.
        """
        server = HTTPServer(self, **kwargs)
        server.listen(port, address=address, family=family, backlog=backlog, flags=flags,
                      reuse_port=reuse_port)
        return server

    def add_handlers(self, host_pattern: str, host_handlers: _RuleList) -> None:
        """Add rules that apply only to requests for hosts matching *host_pattern*.

        Host patterns are tried in the order they were added, before the
        rules given to the constructor; every matching pattern's rules are
        tried. With ``default_host`` set, the rules also apply to other hosts
        when *host_pattern* matches ``default_host``.
        """
        host_matcher = HostMatches(host_pattern)
        rule = Rule(host_matcher, _ApplicationRouter(self, host_handlers))
        self.default_router.rules.insert(-1, rule)
        if self.default_host is not None:
            self.wildcard_router.add_rules(
                [(DefaultHostMatches(self, host_matcher.host_pattern), host_handlers)]
            )

    def add_transform(self, transform_class: type[OutputTransform]) -> None:
        """Apply *transform_class* (an `~.web.OutputTransform`) to every later response."""
        self.transforms.append(transform_class)

    def _load_ui_methods(self, methods: Any) -> None:
        if isinstance(methods, types.ModuleType):
            self._load_ui_methods({n: getattr(methods, n) for n in dir(methods)})
        elif isinstance(methods, list):
            for m in methods:
                self._load_ui_methods(m)
        else:
            for name, fn in methods.items():
                if not name.startswith("_") and callable(fn) and name[0].lower() == name[0]:
                    self.ui_methods[name] = fn

    def _load_ui_modules(self, modules: Any) -> None:
        if isinstance(modules, types.ModuleType):
            self._load_ui_modules({n: getattr(modules, n) for n in dir(modules)})
        elif isinstance(modules, list):
            for m in modules:
                self._load_ui_modules(m)
        else:
            assert isinstance(modules, dict)
            for name, cls in modules.items():
                try:
                    if issubclass(cls, UIModule):
                        self.ui_modules[name] = cls
                except TypeError:
                    pass

    # (generation, default plan, wildcard plan, default router's and
    # wildcard router's get_target_delegate, wildcard router, table); see _fast_table.
    _fast_memo: tuple[Any, ...] | None = None

    def start_request(
        self, server_conn: object, request_conn: httputil.HTTPConnection
    ) -> httputil.HTTPMessageDelegate:
        # NOTE(embedtornado): Tornado's Router.start_request gives a
        # _RoutingDelegate, which builds the request, calls find_handler and
        # forwards to the _HandlerDelegate that it returns. Unless this
        # application's find_handler or get_handler_delegate is replaced,
        # an _AppDelegate does the same, and serves a request for one of the
        # plain paths of the rule list itself (no routing call, no second
        # delegate).
        cls = type(self)
        if (cls.find_handler is _APP_FIND_HANDLER
                and cls.get_handler_delegate is _APP_GET_HANDLER_DELEGATE):
            instance = self.__dict__
            if "find_handler" not in instance and "get_handler_delegate" not in instance:
                # _AppDelegate(self, server_conn, request_conn) without
                # type.__call__'s look-up of __init__.
                delegate = _new_object(_AppDelegate)
                _AppDelegate.__init__(delegate, self, server_conn, request_conn)
                return delegate
        return _RoutingDelegate(self, server_conn, request_conn)

    def _fast_table(self) -> dict[str, tuple[type[RequestHandler], dict[str, Any]]] | None:
        """The requests `find_handler` answers from the exact-path index of the rules alone.

        Maps a path to the handler class and ``initialize`` arguments of the
        rule that serves it, for the rules given to the constructor whose
        pattern is a plain path and that no regular-expression rule comes
        before (see `.routing._RoutePlan`), as long as the routers are the
        ones the constructor made and nothing replaced their methods:
        `find_handler` then returns ``get_handler_delegate(request, cls,
        target_kwargs=kwargs)`` for such a path, and nothing else matches it
        first. ``None`` when the table does not apply (``add_handlers``
        was called, the routers were replaced, ...). Remembered until a rule
        or router changes.
        """
        default = self.default_router
        drules = default.rules
        memo = self._fast_memo
        if memo is not None and memo[0] == routing._generation and memo[1] is drules._plan:
            wild = memo[5]
            wild_type = type(wild)
            if (memo[2] is wild.rules._plan and memo[3] is type(default).get_target_delegate
                    and memo[4] is wild_type.get_target_delegate
                    and wild_type.find_handler is _RULE_ROUTER_FIND_HANDLER
                    and type(default).find_handler is _RULE_ROUTER_FIND_HANDLER):
                return memo[6]  # type: ignore[no-any-return]
        self._fast_memo = None
        if type(drules) is not _TrackedRules or len(drules) != 1:
            return None
        dplan = drules.plan(default)
        rule = drules[0]
        wild = rule.target
        if (not dplan.match_all[0] or dplan.kinds[0] != _ROUTER or rule.target_kwargs
                or type(default).find_handler is not _RULE_ROUTER_FIND_HANDLER
                or "find_handler" in default.__dict__
                or not isinstance(wild, _ApplicationRouter)
                or type(wild).find_handler is not _RULE_ROUTER_FIND_HANDLER
                or "find_handler" in wild.__dict__
                or wild.application is not self):
            return None
        wrules = wild.rules
        if type(wrules) is not _TrackedRules:
            return None
        wplan = wrules.plan(wild)
        first_other = wplan.others[0] if wplan.others else len(wrules)
        table: dict[str, tuple[type[RequestHandler], dict[str, Any]]] = {}
        kinds = wplan.kinds
        for path, i in wplan.exact.items():
            if i < first_other and kinds[i] == _HANDLER and "\n" not in path:
                target_rule = wrules[i]
                table[path] = (target_rule.target, target_rule.target_kwargs)
        self._fast_memo = (routing._generation, drules._plan, wrules._plan,
                           type(default).get_target_delegate, type(wild).get_target_delegate,
                           wild, table)
        return table

    def __call__(self, request: httputil.HTTPServerRequest) -> Awaitable[None] | None:
        """Serve a complete *request* (the old ``HTTPServer`` callback interface)."""
        dispatcher = self.find_handler(request)
        return dispatcher.execute()

    def find_handler(
        self, request: httputil.HTTPServerRequest, **kwargs: Any
    ) -> _HandlerDelegate:
        route = self.default_router.find_handler(request)
        if route is not None:
            return route  # type: ignore[return-value] # a _HandlerDelegate (no cast() call)
        if self.settings.get("default_handler_class"):
            return self.get_handler_delegate(
                request,
                self.settings["default_handler_class"],
                self.settings.get("default_handler_args", {}),
            )
        return self.get_handler_delegate(request, ErrorHandler, {"status_code": 404})

    def get_handler_delegate(
        self,
        request: httputil.HTTPServerRequest,
        target_class: type[RequestHandler],
        target_kwargs: dict[str, Any] | None = None,
        path_args: list[bytes] | None = None,
        path_kwargs: dict[str, bytes] | None = None,
    ) -> _HandlerDelegate:
        """Return the `~.httputil.HTTPMessageDelegate` that serves *request* with *target_class*.

        :arg request: the current `~.httputil.HTTPServerRequest`.
        :arg target_class: a `~.web.RequestHandler` subclass.
        :arg target_kwargs: keyword arguments for its constructor (and
            ``initialize``).
        :arg path_args: positional arguments for the HTTP method (``get``...).
        :arg path_kwargs: keyword arguments for the HTTP method.
        """
        return _HandlerDelegate(self, request, target_class, target_kwargs, path_args,
                                path_kwargs)

    def reverse_url(self, name: str, *args: Any) -> str:
        """Return the URL path of the rule called *name*, its groups filled with *args*.

        The rule must have been given a name (``url(..., name="x")`` or a
        4-tuple). Arguments that are not strings are converted with `str`;
        all are UTF-8 encoded and percent-escaped for a path.

        :raises KeyError: if no rule has that name.
        """
        reversed_url = self.default_router.reverse_url(name, *args)
        if reversed_url is not None:
            return reversed_url
        raise KeyError("%s not found in named urls" % name)

    def log_request(self, handler: RequestHandler) -> None:
        """Log a finished request.

        With the ``log_function`` setting, that function is called with the
        handler instead. Otherwise one line goes to ``embedtornado.access``:
        ``"200 GET /path (127.0.0.1) 1.23ms"``, at level INFO below 400,
        WARNING below 500 and ERROR from 500. Override this method for
        other formats.
        """
        settings = self.settings
        if "log_function" in settings:
            settings["log_function"](handler)
            return
        status = handler.get_status()
        if status < 400:
            level = 20  # logging.INFO
        elif status < 500:
            level = 30  # logging.WARNING
        else:
            level = 40  # logging.ERROR
        # NOTE(embedtornado): checking the level first skips building the
        # summary when access logging is off (a measurable cost per request).
        if access_log.isEnabledFor(level):
            request_time = 1000.0 * handler.request.request_time()
            access_log.log(level, "%d %s %.2fms", status, handler._request_summary(),
                           request_time)


# Strong references to the tasks of handlers still running, so that the
# garbage collector cannot destroy a pending task (asyncio keeps only weak ones).
_running: set[asyncio.Future[Any]] = set()


def _handler_done(future: asyncio.Future[Any]) -> None:
    """Done callback of a handler's task: report what ``_execute`` let escape."""
    _running.discard(future)
    if future.cancelled():
        return
    exc = future.exception()
    if exc is not None:
        app_log.error("Uncaught exception in request handler", exc_info=(type(exc), exc,
                                                                          exc.__traceback__))


class _HandlerDelegate(httputil.HTTPMessageDelegate):
    """Serves one request with a `~.web.RequestHandler`: the message side of the server seam.

    It collects the body (or, for a `~.web.stream_request_body` handler,
    starts the handler as soon as the headers are in and passes the body
    on piece by piece), then builds the handler and runs its ``_execute``.
    """

    def __init__(
        self,
        application: Application,
        request: httputil.HTTPServerRequest,
        handler_class: type[RequestHandler],
        handler_kwargs: dict[str, Any] | None,
        path_args: list[bytes] | None,
        path_kwargs: dict[str, bytes] | None,
    ) -> None:
        self.application = application
        self.connection = request.connection
        self.request = request
        self.handler_class = handler_class
        self.handler_kwargs = handler_kwargs or {}
        self.path_args = path_args or []
        self.path_kwargs = path_kwargs or {}
        self.chunks: list[bytes] | None = []
        self._finished = False
        self._close_notified = False
        if not issubclass(handler_class, RequestHandler):
            raise TypeError("expected subclass of RequestHandler, got %r" % handler_class)
        self.stream_request_body: bool = handler_class._stream_request_body

    def headers_received(
        self,
        start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
        headers: httputil.HTTPHeaders,
    ) -> Awaitable[None] | None:
        if self.stream_request_body:
            self.request._body_future = asyncio.get_running_loop().create_future()
            return self.execute()
        return None

    def data_received(self, data: bytes) -> Awaitable[None] | None:
        if self.stream_request_body:
            return self.handler.data_received(data)
        assert self.chunks is not None
        self.chunks.append(data)
        return None

    def finish(self) -> None:
        self._finished = True
        if self.stream_request_body:
            body_future = self.request._body_future
            if not body_future.done():
                body_future.set_result(None)
        else:
            # The handler parses the body (in _execute, where its errors
            # become a 400 response).
            chunks = self.chunks
            if chunks:
                self.request.body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            else:
                self.request.body = b""
            self.chunks = None
            self.execute()

    def on_connection_close(self) -> None:
        # The body was not complete. (After `finish` the handler hears of a
        # close through its connection's close callback instead.)
        if self._finished:
            return
        if self.stream_request_body:
            self._notify_close()
        else:
            self.chunks = None

    def _notify_close(self) -> None:
        """Tell a streaming handler that the connection closed, once."""
        handler = getattr(self, "handler", None)  # None if building it failed
        if handler is not None and not self._close_notified:
            self._close_notified = True
            handler.on_connection_close()

    def execute(self) -> Awaitable[None] | None:
        """Build the handler and run it.

        :returns: for a streaming handler, a future that is done once
            ``prepare`` has run (the body is read after that); else ``None``.
        """
        application = self.application
        settings = application.settings
        # With caching off (debug mode), templates are compiled and static
        # file hashes computed again for every request.
        if not settings.get("compiled_template_cache", True):
            with RequestHandler._template_loader_lock:
                for loader in RequestHandler._template_loaders.values():
                    loader.reset()
        if not settings.get("static_hash_cache", True):
            settings.get("static_handler_class", StaticFileHandler).reset()

        request = self.request
        handler = self.handler = self.handler_class(application, request,
                                                    **self.handler_kwargs)
        transform_classes = application.transforms
        transforms = [t(request) for t in transform_classes] if transform_classes else []
        if self.stream_request_body:
            handler._prepared_future = asyncio.get_running_loop().create_future()
            # NOTE(embedtornado): a close while the body streams in reaches
            # the handler through this delegate's on_connection_close. Route
            # the connection's close callback through the same guard, so
            # the handler hears of the close once, as with Tornado, whichever
            # signal the connection sends.
            set_close_callback = getattr(self.connection, "set_close_callback", None)
            if set_close_callback is not None:
                set_close_callback(self._notify_close)
        result = handler._execute(transforms, *self.path_args, **self.path_kwargs)
        if result is not None:
            _schedule(result)
        return handler._prepared_future


class _AppDelegate(_RoutingDelegate, _HandlerDelegate):
    """`Application.start_request`'s delegate: a `_RoutingDelegate` that is its own `_HandlerDelegate`.

    It builds the request as the `_RoutingDelegate` does. For a path in
    `Application._fast_table` it then serves the request itself, as the
    `_HandlerDelegate` that `Application.find_handler` would have returned;
    for any other request it calls ``find_handler`` and forwards to the
    delegate it gets, like a `_RoutingDelegate`.
    """

    # Defaults of the _HandlerDelegate attributes that a fast request leaves as they are.
    path_args: Any = ()
    path_kwargs: Any = types.MappingProxyType({})
    chunks: list[bytes] | None = None
    _finished = False
    _close_notified = False
    request: httputil.HTTPServerRequest | None = None  # type: ignore[assignment]

    def __init__(self, application: Application, server_conn: object,
                 request_conn: httputil.HTTPConnection) -> None:
        self.router = application
        self.application = application
        self.server_conn = server_conn
        self.request_conn = request_conn
        self.connection = request_conn
        self.delegate = None

    def headers_received(
        self,
        start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
        headers: httputil.HTTPHeaders,
    ) -> Awaitable[None] | None:
        assert isinstance(start_line, httputil.RequestStartLine)
        # NOTE(embedtornado): positional (method, uri, version, headers, body,
        # host, files, connection, start_line, server_connection): matching
        # keywords costs more than the rest of the call.
        # (HTTPServerRequest(...) without type.__call__'s look-up of __init__.)
        request_class = httputil.HTTPServerRequest
        request = _new_object(request_class)
        request_class.__init__(request, None, None, "HTTP/1.0", headers, None, None, None,
                               self.request_conn, start_line, self.server_conn)
        application = self.application
        table = application._fast_table()
        route = table.get(request.path) if table is not None else None
        if route is None:
            delegate = application.find_handler(request)
            if delegate is None:  # only from a find_handler override
                app_log.debug("Delegate for %s %s request not found",
                              start_line.method, start_line.path)
                delegate = _DefaultMessageDelegate(self.request_conn)
            self.delegate = delegate
            return delegate.headers_received(start_line, headers)
        handler_class, kwargs = route
        self.request = request
        self.handler_class = handler_class
        # The rule's own dict, as find_handler passes it (an empty one is never mutated).
        self.handler_kwargs = kwargs
        self.chunks = []
        streaming = self.stream_request_body = handler_class._stream_request_body
        if streaming:
            request._body_future = asyncio.get_running_loop().create_future()
            return self.execute()
        return None

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        delegate = self.delegate
        if delegate is not None:
            return delegate.data_received(chunk)
        if self.stream_request_body:
            return self.handler.data_received(chunk)
        assert self.chunks is not None
        self.chunks.append(chunk)
        return None

    def finish(self) -> None:
        delegate = self.delegate
        if delegate is not None:
            delegate.finish()
            return
        assert self.request is not None
        self._finished = True
        if self.stream_request_body:
            body_future = self.request._body_future
            if not body_future.done():
                body_future.set_result(None)
            return
        request = self.request
        chunks = self.chunks
        if chunks:
            request.body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        else:
            request.body = b""
        self.chunks = None
        application = self.application
        settings = application.settings
        if not settings.get("compiled_template_cache", True) or not settings.get(
                "static_hash_cache", True):
            self.execute()
            return
        # What execute does when neither cache is turned off, with no
        # path arguments (a plain path has no groups).
        kwargs = self.handler_kwargs
        handler_class = self.handler_class  # (a load, not a method lookup)
        handler = self.handler = (handler_class(application, request, **kwargs) if kwargs
                                  else handler_class(application, request))
        transform_classes = application.transforms
        result = handler._execute([t(request) for t in transform_classes] if transform_classes
                                  else [])
        if result is not None:
            _schedule(result)

    def on_connection_close(self) -> None:
        delegate = self.delegate
        if delegate is not None:
            delegate.on_connection_close()
        elif self.request is not None:  # routed to itself
            _HandlerDelegate.on_connection_close(self)


_new_object = object.__new__
_APP_FIND_HANDLER = Application.find_handler
_RULE_ROUTER_FIND_HANDLER = RuleRouter.find_handler
_APP_GET_HANDLER_DELEGATE = Application.get_handler_delegate


def _schedule(result: Awaitable[Any]) -> None:
    """Run what ``_execute`` returned to completion, logging what escapes it."""
    if asyncio.isfuture(result):
        future = cast("asyncio.Future[Any]", result)
        if future.done():
            _handler_done(future)  # no need to wait for a callback
            return
    else:
        # A coroutine (or another awaitable): it needs a task to run.
        future = asyncio.ensure_future(result)
    _running.add(future)
    future.add_done_callback(_handler_done)
