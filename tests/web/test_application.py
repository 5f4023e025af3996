"""Application and _HandlerDelegate: routing, settings, logging, side by side with Tornado 6.6.1."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import sys
import types

import pytest
import tornado.web
from webtools import GET, DualHarness, LogCapture, assert_same, compare, req

import embedtornado.web
from embedtornado import httputil
from embedtornado.httpserver import HTTPServer
from embedtornado.routing import AnyMatches, HostMatches, PathMatches, Rule
from embedtornado.web import (
    Application,
    ErrorHandler,
    GZipContentEncoding,
    OutputTransform,
    RequestHandler,
    url,
)
from embedtornado.web import application as application_module
from embedtornado.web.application import _ApplicationRouter, _HandlerDelegate
from rawhttp import ServerHarness, read_response

NOT_FOUND = b"<html><title>404: Not Found</title><body>404: Not Found</body></html>"


def request_for(path="/", host="example.com", headers=None, method="GET", mod=httputil):
    h = mod.HTTPHeaders({"Host": host})
    for k, v in (headers or {}).items():
        h[k] = v
    return mod.HTTPServerRequest(start_line=mod.RequestStartLine(method, path, "HTTP/1.1"),
                                 headers=h)


# --- routing through the application, compared with Tornado -------------------------


def echo_handlers(web):
    class Echo(web.RequestHandler):
        def initialize(self, tag="none"):
            self.tag = tag

        def get(self, *args, **kwargs):
            self.write({"tag": self.tag, "args": list(args), "kwargs": kwargs,
                        "path_args": self.path_args, "path_kwargs": self.path_kwargs})

    class Nested(web.RequestHandler):
        def get(self):
            self.write("nested")

    return [
        (r"/", Echo),
        (r"/items/([0-9]+)", Echo, {"tag": "item"}),
        (r"/user/(?P<name>[^/]+)/(?P<page>\d+)", Echo, {"tag": "user"}, "user"),
        web.url(r"/opt/(a)?/?", Echo, dict(tag="opt"), name="opt"),
        (r"/files/(.*)", Echo, {"tag": "files"}),
        (PathMatches(r"/matcher/(\w+)"), Echo, {"tag": "matcher"}),
        (r"/nest/.*", [(r"/nest/inner", Nested)]),
        (r"/first", Echo, {"tag": "first"}),
        (r"/first", Nested),
    ]


@pytest.mark.parametrize("path", [
    "/", "/items/42", "/items/x", "/user/bob/3", "/user/b%C3%B6b/3", "/opt/", "/opt/a",
    "/files/a%20b+c%2Fd", "/files/%E2%82%AC", "/files/%FF", "/matcher/zz", "/nest/inner",
    "/nest/other", "/first", "/missing", "/items/42?x=1", "//", "/%2F",
])
def test_routes_like_tornado(path):
    compare(echo_handlers, req(path=path))


def test_positional_and_keyword_captures():
    ours, _ = compare(echo_handlers, req(path="/items/42"))
    assert ours.body == (b'{"tag": "item", "args": ["42"], "kwargs": {}, '
                         b'"path_args": ["42"], "path_kwargs": {}}')
    ours, _ = compare(echo_handlers, req(path="/user/b%C3%B6b/3"))
    assert b'"kwargs": {"name": "b\\u00f6b", "page": "3"}' in ours.body


def test_default_404_body_is_tornados():
    ours, theirs = compare(echo_handlers, req(path="/nowhere"))
    assert ours.code == 404 and ours.reason == "Not Found"
    assert ours.body == theirs.body == NOT_FOUND
    assert ours.headers["content-type"] == "text/html; charset=UTF-8"


def test_default_handler_class():
    def handlers(web):
        class Fallback(web.RequestHandler):
            def initialize(self, word):
                self.word = word

            def get(self):
                self.set_status(410)
                self.write("fallback " + self.word + " " + self.request.path)

        return [(r"/", web.RequestHandler)], {"default_handler_class": Fallback,
                                              "default_handler_args": {"word": "w"}}

    def fn(web):
        return handlers(web)[0]

    settings_ours = handlers(embedtornado.web)[1]
    with DualHarness(fn) as h:
        for app, web in ((h.app, embedtornado.web), (h.tornado_app, tornado.web)):
            app.settings.update(handlers(web)[1])
        ours = h.run(h.request(req(path="/x/y")))
        theirs = h.run(h.request_tornado(req(path="/x/y")))
    assert_same(ours, theirs)
    assert (ours.code, ours.body) == (410, b"fallback w /x/y")
    assert settings_ours["default_handler_args"] == {"word": "w"}


def test_default_handler_class_without_args():
    class Fallback(RequestHandler):
        def get(self):
            self.write("fb")

    app = Application([], default_handler_class=Fallback)
    delegate = app.find_handler(request_for("/any"))
    assert delegate.handler_class is Fallback and delegate.handler_kwargs == {}


def test_handler_given_by_name():
    app = Application([(r"/", "embedtornado.web.ErrorHandler", {"status_code": 418})])
    assert app.wildcard_router.rules[0].target is ErrorHandler
    with ServerHarness(app) as h:
        resp = h.run(h.request(GET))
    assert resp.code == 418


def test_find_handler_and_get_handler_delegate():
    class H(RequestHandler):
        pass

    app = Application([(r"/a/(\d+)", H, {"k": 1}), (r"/b/(?P<n>[^/]+)", H)])
    d = app.find_handler(request_for("/a/5"))
    assert isinstance(d, _HandlerDelegate)
    assert (d.handler_class, d.handler_kwargs, d.path_args, d.path_kwargs) == (
        H, {"k": 1}, [b"5"], {})
    d = app.find_handler(request_for("/b/x%41"))
    assert (d.path_args, d.path_kwargs) == ([], {"n": b"xA"})
    d = app.find_handler(request_for("/zzz"))
    assert d.handler_class is ErrorHandler and d.handler_kwargs == {"status_code": 404}
    d = app.get_handler_delegate(request_for("/q"), H)
    assert (d.handler_kwargs, d.path_args, d.path_kwargs) == ({}, [], {})
    assert d.application is app and d.request.path == "/q"
    with pytest.raises(TypeError, match="expected subclass of RequestHandler"):
        app.get_handler_delegate(request_for("/"), object)  # type: ignore[arg-type]


def test_application_router_needs_application():
    with pytest.raises(AssertionError):
        _ApplicationRouter(object())  # type: ignore[arg-type]


def test_nested_rule_lists_become_routers():
    app = Application([(r"/n/.*", [(r"/n/x", RequestHandler)]),
                       Rule(AnyMatches(), ((r"/t", RequestHandler),))])
    r0, r1 = app.wildcard_router.rules
    assert isinstance(r0.target, _ApplicationRouter) and r0.target.application is app
    assert isinstance(r1.target, _ApplicationRouter)


def test_nested_application_and_callable_targets():
    inner = Application([(r"/inner/x", ErrorHandler, {"status_code": 402})])

    def plain(request):
        body = b"plain " + request.body
        request.connection.write_headers(httputil.ResponseStartLine("HTTP/1.1", 200, "OK"),
                                         httputil.HTTPHeaders({"Content-Length": str(len(body))}))
        request.connection.write(body)
        request.connection.finish()

    app = Application([(r"/inner/.*", inner), (r"/plain", plain)])
    with ServerHarness(app) as h:
        assert h.run(h.request(req(path="/inner/x"))).code == 402
        assert h.run(h.request(req(path="/inner/y"))).body == NOT_FOUND
        resp = h.run(h.request(req("POST", "/plain", body=b"abc")))
        assert resp.body == b"plain abc"


# --- reverse_url --------------------------------------------------------------------


def test_reverse_url_like_tornado():
    ours = Application(echo_handlers(embedtornado.web))
    theirs = tornado.web.Application(echo_handlers(tornado.web))
    cases = [("user", ("b\u00f6b", 3)), ("user", ("a b/c?d", "1")), ("opt", ("a",)),
             ("user", (b"\xff", 0))]
    for name, args in cases:
        assert ours.reverse_url(name, *args) == theirs.reverse_url(name, *args)
    assert ours.reverse_url("user", "a b", 1) == "/user/a%20b/1"
    with pytest.raises(KeyError) as info:
        ours.reverse_url("nope")
    assert info.value.args == ("nope not found in named urls",)
    with pytest.raises(KeyError) as tinfo:
        theirs.reverse_url("nope")
    assert tinfo.value.args == info.value.args


def test_reverse_url_in_host_handlers_and_from_handler():
    def handlers(web):
        class R(web.RequestHandler):
            def get(self):
                self.write(self.reverse_url("hosted", "x y") + " " + self.reverse_url("main"))

        return [url(r"/main", R, name="main") if web is embedtornado.web
                else web.url(r"/main", R, name="main")]

    with DualHarness(handlers) as h:
        for app, web in ((h.app, embedtornado.web), (h.tornado_app, tornado.web)):
            app.add_handlers(r"example\.com", [web.url(r"/h/(.*)", web.RequestHandler,
                                                       name="hosted")])
        ours = h.run(h.request(req(path="/main")))
        theirs = h.run(h.request_tornado(req(path="/main")))
    assert_same(ours, theirs)
    assert ours.body == b"/h/x%20y /main"


# --- host routing -----------------------------------------------------------------------


def host_handlers(web):
    def named(text):
        class H(web.RequestHandler):
            def get(self):
                self.write(text)

        return H

    return {
        "main": [(r"/", named("main")), (r"/only-main", named("only-main"))],
        "a": [(r"/", named("host-a")), (r"/a", named("a-only"))],
        "b": [(r"/", named("host-b")), (r"/b", named("b-only"))],
    }


@pytest.mark.parametrize("default_host", [None, "www.a.example", "nomatch"])
@pytest.mark.parametrize("host,path,headers", [
    ("www.a.example", "/", {}),
    ("WWW.A.Example:8080", "/", {}),
    ("www.a.example", "/b", {}),
    ("www.a.example", "/a", {}),
    ("b.example", "/", {}),
    ("b.example", "/a", {}),
    ("b.example", "/only-main", {}),
    ("other.example", "/", {}),
    ("other.example", "/a", {}),
    ("other.example", "/a", {"X-Real-Ip": "10.0.0.1"}),
    ("other.example", "/b", {}),
])
def test_host_routing_like_tornado(default_host, host, path, headers):
    def fn(web):
        return host_handlers(web)["main"]

    data = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n".encode()
    data += b"".join(f"{k}: {v}\r\n".encode() for k, v in headers.items()) + b"\r\n"
    with DualHarness(fn) as h:
        for app, web in ((h.app, embedtornado.web), (h.tornado_app, tornado.web)):
            app.default_host = default_host
            hh = host_handlers(web)
            app.add_handlers(r"www\.a\.example", hh["a"])
            app.add_handlers(r".*\.example", hh["b"])
        ours = h.run(h.request(data))
        theirs = h.run(h.request_tornado(data))
    assert_same(ours, theirs)


def test_add_handlers_structure():
    app = Application([(r"/", RequestHandler)], default_host="main.example")
    app.add_handlers(r"main\.example", [(r"/m", RequestHandler)])
    app.add_handlers(r"x\.example", [(r"/x", RequestHandler)])
    rules = app.default_router.rules
    assert [type(r.matcher) for r in rules] == [HostMatches, HostMatches, AnyMatches]
    assert rules[0].matcher.host_pattern.pattern == r"main\.example$"
    assert rules[-1].target is app.wildcard_router
    wild = app.wildcard_router.rules
    assert len(wild) == 3
    assert type(wild[1].matcher).__name__ == "DefaultHostMatches"
    assert wild[1].matcher.host_pattern is rules[0].matcher.host_pattern
    d = app.find_handler(request_for("/m", host="other"))
    assert d.request.path == "/m" and d.handler_class is RequestHandler
    d = app.find_handler(request_for("/x", host="other"))
    assert d.handler_class is ErrorHandler  # x.example does not match default_host


# --- settings ------------------------------------------------------------------------


def test_debug_sets_defaults(monkeypatch):
    started = []
    monkeypatch.setattr("embedtornado.autoreload.start", lambda *a: started.append(a))
    app = Application(debug=True)
    assert app.settings == {"debug": True, "autoreload": True,
                            "compiled_template_cache": False, "static_hash_cache": False,
                            "serve_traceback": True}
    assert started == [()]
    app = Application(debug=True, autoreload=False, serve_traceback=False,
                      compiled_template_cache=True)
    assert app.settings["autoreload"] is False and app.settings["serve_traceback"] is False
    assert app.settings["compiled_template_cache"] is True
    assert app.settings["static_hash_cache"] is False
    assert started == [()]
    Application(autoreload=True)
    assert started == [(), ()]
    assert Application().settings == {}


def test_debug_settings_like_tornado(monkeypatch):
    monkeypatch.setattr("embedtornado.autoreload.start", lambda *a: None)
    monkeypatch.setattr("tornado.autoreload.start", lambda *a: None)
    for kwargs in ({"debug": True}, {"debug": True, "autoreload": False}, {"debug": False},
                   {"serve_traceback": True}):
        assert Application(**kwargs).settings == tornado.web.Application(**kwargs).settings


def test_transforms():
    assert Application().transforms == []
    assert Application(compress_response=True).transforms == [GZipContentEncoding]
    assert Application(gzip=True).transforms == [GZipContentEncoding]
    mine = [OutputTransform]
    app = Application(transforms=mine, compress_response=True)
    assert app.transforms is mine
    app.add_transform(GZipContentEncoding)
    assert mine == [OutputTransform, GZipContentEncoding]


def test_compress_response_end_to_end():
    def handlers(web):
        class Big(web.RequestHandler):
            def get(self):
                self.write("x" * 2000)

        return [(r"/", Big)]

    data = req(headers={"Accept-Encoding": "gzip"})
    ours, _ = compare(handlers, data, compress_response=True)
    assert ours.headers["content-encoding"] == "gzip"
    ours, _ = compare(handlers, data, gzip=True)
    assert ours.headers["content-encoding"] == "gzip"


def test_ui_methods_and_modules_loading():
    class Mod:  # a UI module class stand-in
        pass

    def helper(handler):
        return "h"

    methods = types.ModuleType("ui_methods_mod")
    methods.lower_fn = helper  # type: ignore[attr-defined]
    methods.Upper = helper  # type: ignore[attr-defined]
    methods._private = helper  # type: ignore[attr-defined]
    methods.not_callable = 3  # type: ignore[attr-defined]
    app = Application(ui_methods=[methods, {"other": helper, "Cap": helper}])
    assert app.ui_methods == {"lower_fn": helper, "other": helper}

    base, defaults = application_module._ui_defaults()
    app = Application(ui_modules={"Mod": Mod, "not_a_class": 3})
    if base is None:
        assert app.ui_modules == {"Mod": Mod}
    else:
        assert "Mod" not in app.ui_modules and set(defaults) <= set(app.ui_modules)
        sub = type("Sub", (base,), {})
        app = Application(ui_modules=[{"Sub": sub}])
        assert app.ui_modules["Sub"] is sub


def test_ui_modules_from_a_module_like_tornado():
    mod = types.ModuleType("uimods")

    class Widget(tornado.web.UIModule):
        def render(self):
            return "w"

    mod.Widget = Widget  # type: ignore[attr-defined]
    theirs = tornado.web.Application(ui_modules=mod)
    assert theirs.ui_modules["Widget"] is Widget
    ours = Application(ui_modules=mod)
    base, _ = application_module._ui_defaults()
    if base is None:
        assert ours.ui_modules["Widget"] is Widget
    with pytest.raises(AssertionError):
        Application(ui_modules=42)


def test_static_path_needs_static_support():
    base = application_module._default_static_handler_class()
    if base is None:
        with pytest.raises(NotImplementedError, match="static files: later issue"):
            Application(static_path="/tmp")


def test_static_path_with_handler_class():
    class MyStatic(RequestHandler):
        reset_calls = 0

        def initialize(self, path, extra=None):
            self.root = path
            self.extra = extra

        def get(self, name):
            self.write("%s|%s|%s" % (self.root, name, self.extra))

        @classmethod
        def reset(cls):
            cls.reset_calls += 1

    args = {"extra": "e"}
    app = Application([(r"/", RequestHandler)], static_path="/srv/files",
                      static_handler_class=MyStatic, static_handler_args=args,
                      static_url_prefix="/s.x/")
    assert args == {"extra": "e", "path": "/srv/files"}  # updated in place, as Tornado does
    patterns = [r.matcher.regex.pattern for r in app.wildcard_router.rules]
    assert patterns == [r"/(robots\.txt)$", r"/(favicon\.ico)$", r"/s\.x/(.*)$", "/$"]
    with ServerHarness(app) as h:
        assert h.run(h.request(req(path="/s.x/a/b.css"))).body == b"/srv/files|a/b.css|e"
        assert h.run(h.request(req(path="/favicon.ico"))).body == b"/srv/files|favicon.ico|e"
    assert MyStatic.reset_calls == 0
    app.settings["static_hash_cache"] = False
    with ServerHarness(app) as h:
        h.run(h.request(req(path="/robots.txt")))
    assert MyStatic.reset_calls == 1


def test_template_loaders_reset_without_cache(monkeypatch):
    resets = []

    class Loader:
        def reset(self):
            resets.append(1)

    monkeypatch.setattr(RequestHandler, "_template_loaders", {"x": Loader()})

    class H(RequestHandler):
        def get(self):
            self.write("ok")

    with ServerHarness(Application([(r"/", H)])) as h:
        h.run(h.request(GET))
    assert resets == []
    with ServerHarness(Application([(r"/", H)], compiled_template_cache=False)) as h:
        h.run(h.request(GET))
        h.run(h.request(GET))
    assert resets == [1, 1]


# --- listen, __call__, start_request -------------------------------------------------


def test_listen_returns_server_and_passes_kwargs():
    class Ip(RequestHandler):
        def get(self):
            self.write(self.request.remote_ip)

    app = Application([(r"/", Ip)])

    async def run():
        server = app.listen(0, "127.0.0.1", family=socket.AF_INET, backlog=16,
                            xheaders=True)
        try:
            assert isinstance(server, HTTPServer) and server.xheaders is True
            port = next(iter(server._sockets.values())).getsockname()[1]
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(req(headers={"X-Real-Ip": "10.1.2.3"}))
            resp = await read_response(reader)
            writer.close()
            return resp
        finally:
            server.stop()
            await server.close_all_connections()

    resp = asyncio.run(run())
    assert resp.body == b"10.1.2.3"


def test_legacy_call_interface():
    class H(RequestHandler):
        def post(self):
            self.write("got " + self.get_body_argument("a"))

    app = Application([(r"/", H)])
    with ServerHarness(lambda request: app(request)) as h:
        resp = h.run(h.request(req("POST", headers={
            "Content-Type": "application/x-www-form-urlencoded"}, body=b"a=1")))
    assert resp.body == b"got 1"


def test_start_request_gives_routing_delegate():
    from embedtornado.routing import _RoutingDelegate

    app = Application()
    d = app.start_request("sc", "rc")
    assert isinstance(d, _RoutingDelegate) and d.router is app


# --- log_request ---------------------------------------------------------------------


def status_handlers(web):
    class S(web.RequestHandler):
        def get(self, code):
            self.set_status(int(code))

    class Boom(web.RequestHandler):
        def get(self):
            raise RuntimeError("boom")

    return [(r"/s/(\d+)", S), (r"/boom", Boom)]


@pytest.mark.parametrize("path,level", [
    ("/s/200", logging.INFO), ("/s/302", logging.INFO), ("/s/399", logging.INFO),
    ("/s/404", logging.WARNING), ("/s/499", logging.WARNING), ("/s/500", logging.ERROR),
    ("/s/503", logging.ERROR), ("/nowhere", logging.WARNING), ("/boom", logging.ERROR),
])
def test_access_log_like_tornado(path, level):
    with LogCapture("embedtornado.access", "tornado.access", "embedtornado.application",
                    "tornado.application") as logs:
        compare(status_handlers, req(path=path + "?q=1"))
    ours = logs.by("embedtornado.access")
    theirs = logs.by("tornado.access")
    assert len(ours) == len(theirs) == 1
    assert ours[0].levelno == theirs[0].levelno == level
    assert ours[0].msg == theirs[0].msg == "%d %s %.2fms"
    assert ours[0].args[:2] == theirs[0].args[:2]
    text = ours[0].getMessage()
    assert re.fullmatch(r"\d{3} GET %s\?q=1 \(127\.0\.0\.1\) \d+\.\d\dms" % re.escape(path),
                        text), text


def test_log_function_replaces_access_log():
    seen = []

    class H(RequestHandler):
        def get(self):
            self.set_status(201)

    app = Application([(r"/", H)], log_function=lambda handler: seen.append(
        (type(handler), handler.get_status())))
    with LogCapture("embedtornado.access") as logs:
        with ServerHarness(app) as h:
            h.run(h.request(GET))
    assert seen == [(H, 201)] and logs.records == []


def test_access_log_skipped_when_disabled():
    class FakeHandler:
        request = request_for()

        def get_status(self):
            return 200

        def _request_summary(self):
            raise AssertionError("summary built although nothing is logged")

    logger = logging.getLogger("embedtornado.access")
    old = logger.level
    logger.setLevel(logging.WARNING)
    try:
        Application().log_request(FakeHandler())  # type: ignore[arg-type]
    finally:
        logger.setLevel(old)


# --- the handler delegate: sync fast path, async, streaming ----------------------------


def test_sync_handler_runs_without_a_task():
    seen = []

    def handlers(web):
        class H(web.RequestHandler):
            def prepare(self):
                seen.append(("prepare", asyncio.current_task() is not None))

            def get(self):
                seen.append(("get", asyncio.current_task() is not None))
                self.write("sync")

        return [(r"/", H)]

    compare(handlers)
    # Ours ran inside the protocol callback; Tornado ran in a task.
    assert seen == [("prepare", False), ("get", False), ("prepare", True), ("get", True)]


def test_async_handler_and_call_order():
    order = []

    def handlers(web):
        class H(web.RequestHandler):
            def set_default_headers(self):
                order.append("set_default_headers")

            def initialize(self):
                order.append("initialize")

            async def prepare(self):
                await asyncio.sleep(0)
                order.append("prepare")

            async def get(self):
                await asyncio.sleep(0.001)
                order.append("get")
                self.write("async")

            def on_finish(self):
                order.append("on_finish")

        return [(r"/", H)]

    ours, _ = compare(handlers)
    assert ours.body == b"async"
    expected = ["set_default_headers", "initialize", "prepare", "get", "on_finish"]
    assert order == expected * 2


def test_schedule_variants(caplog):
    loop = asyncio.new_event_loop()
    try:
        async def run():
            done = loop.create_future()
            done.set_result(None)
            application_module._schedule(done)  # already done: nothing kept
            assert not application_module._running

            failed = loop.create_future()
            failed.set_exception(ValueError("early"))
            application_module._schedule(failed)

            pending = loop.create_future()
            application_module._schedule(pending)
            assert pending in application_module._running
            pending.set_exception(KeyError("late"))
            await asyncio.sleep(0)
            assert pending not in application_module._running

            async def coro():
                await asyncio.sleep(0)
                raise LookupError("in coroutine")

            application_module._schedule(coro())
            assert len(application_module._running) == 1
            for _ in range(3):
                await asyncio.sleep(0)
            assert not application_module._running

            cancelled = loop.create_future()
            application_module._schedule(cancelled)
            cancelled.cancel()
            await asyncio.sleep(0)

        with caplog.at_level(logging.ERROR, logger="embedtornado.application"):
            loop.run_until_complete(run())
    finally:
        loop.close()
    messages = [r.exc_info[1] for r in caplog.records]
    assert [type(e) for e in messages] == [ValueError, KeyError, LookupError]
    assert all(r.getMessage() == "Uncaught exception in request handler"
               for r in caplog.records)


def streaming_handlers(web):
    @web.stream_request_body
    class Up(web.RequestHandler):
        def prepare(self):
            self.parts = []
            self.early = self.request.body

        def data_received(self, chunk):
            self.parts.append(len(chunk))

        def put(self):
            self.write({"parts": sum(self.parts), "early": repr(self.early),
                        "args": self.request.body_arguments == {}})

    @web.stream_request_body
    class AsyncUp(web.RequestHandler):
        async def prepare(self):
            await asyncio.sleep(0.001)
            self.total = 0

        async def data_received(self, chunk):
            await asyncio.sleep(0)
            self.total += len(chunk)

        def post(self):
            self.write("total %d" % self.total)

    return [(r"/up", Up), (r"/aup", AsyncUp)]


@pytest.mark.parametrize("path,method", [("/up", "PUT"), ("/aup", "POST")])
def test_stream_request_body_like_tornado(path, method):
    body = b"k=v&" * 5000
    compare(streaming_handlers, req(method, path, body=body,
                                    headers={"Content-Type": "application/x-www-form-urlencoded"}))
    compare(streaming_handlers, req(method, path, body=b""))


def close_handlers(events):
    def handlers(web):
        key = "ours" if web is embedtornado.web else "theirs"

        class Base(web.RequestHandler):
            def data_received(self, chunk):
                events[key].append("data")

            def on_connection_close(self):
                events[key].append("closed")
                super().on_connection_close()

            async def put(self):
                events[key].append("put")
                await asyncio.sleep(0.5)
                events[key].append("put done")

        @web.stream_request_body
        class Streaming(Base):
            pass

        return [(r"/stream", Streaming), (r"/plain", Base)]

    return handlers


@pytest.mark.parametrize("path", ["/stream", "/plain"])
@pytest.mark.parametrize("complete", [False, True], ids=["mid-body", "in-handler"])
def test_connection_close_reaches_handler_once(path, complete):
    events: dict[str, list] = {"ours": [], "theirs": []}
    body = b"abc" if complete else b"ab"
    data = b"PUT %s HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n%s" % (
        path.encode(), body)
    with DualHarness(close_handlers(events)) as h:
        async def go(connect):
            reader, writer = await connect()
            writer.write(data)
            await writer.drain()
            await asyncio.sleep(0.05)
            writer.close()
            await asyncio.sleep(0.05)

        h.run(go(h.connect))
        h.run(go(h.connect_tornado))
    assert events["ours"] == events["theirs"]
    assert events["ours"].count("closed") == (1 if complete or path == "/stream" else 0)


def test_body_collected_and_parsed_once():
    class H(RequestHandler):
        def post(self):
            self.write({"body": self.request.body.decode(),
                        "a": self.get_arguments("a")})

    with ServerHarness(Application([(r"/", H)])) as h:
        async def go():
            reader, writer = await h.connect()
            writer.write(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                         b"Content-Type: application/x-www-form-urlencoded\r\n\r\n"
                         b"3\r\na=1\r\n4\r\n&a=2\r\n0\r\n\r\n")
            return await read_response(reader)

        resp = h.run(go())
    assert resp.body == b'{"body": "a=1&a=2", "a": ["1", "2"]}'


def test_non_streaming_connection_close_drops_chunks():
    d = _HandlerDelegate(Application(), request_for(), RequestHandler, None, None, None)
    d.data_received(b"abc")
    d.on_connection_close()
    assert d.chunks is None


def test_transforms_built_per_request():
    made = []

    class T(OutputTransform):
        def __init__(self, request):
            made.append(request.path)
            super().__init__(request)

    class H(RequestHandler):
        def get(self):
            self.write("t")

    with ServerHarness(Application([(r"/", H)], transforms=[T])) as h:
        h.run(h.request(GET))
        h.run(h.request(GET))
    assert made == ["/", "/"]


def test_exception_in_initialize_is_logged_and_closes():
    class Bad(RequestHandler):
        def initialize(self):
            raise RuntimeError("bad init")

    with LogCapture("embedtornado.application") as logs:
        with ServerHarness(Application([(r"/", Bad)])) as h:
            data = h.run(h.exchange(GET))
    assert data == b""
    assert any(r.exc_info and isinstance(r.exc_info[1], RuntimeError) for r in logs.records)


def test_keep_alive_and_pipelining_through_application():
    class H(RequestHandler):
        def get(self, n):
            self.write(n)

    with ServerHarness(Application([(r"/(\d+)", H)])) as h:
        async def go():
            reader, writer = await h.connect()
            writer.write(b"".join(req(path="/%d" % i) for i in range(5)))
            return [(await read_response(reader)).body for _ in range(5)]

        assert h.run(go()) == [b"0", b"1", b"2", b"3", b"4"]


def test_web_exports():
    assert embedtornado.web.Application is Application
    assert embedtornado.web._HandlerDelegate is _HandlerDelegate
    assert sys.modules["embedtornado.web.application"] is application_module


# --- the seed tutorial's routing examples (chapter 3.1 and 3.2.5), ported to Python 3 ---


def seed_routing_handlers(web):
    class IndexHandler(web.RequestHandler):
        def get(self):
            python_url = self.reverse_url("python_url")
            self.write('<a href="%s">itcast</a>' % python_url)

    class ItcastHandler(web.RequestHandler):
        def initialize(self, subject):
            self.subject = subject

        def get(self):
            self.write(self.subject)

    return [
        (r"/", IndexHandler),
        (r"/cpp", ItcastHandler, {"subject": "c++"}),
        web.url(r"/python", ItcastHandler, {"subject": "python"}, name="python_url"),
    ]


@pytest.mark.parametrize("path,body", [
    ("/", b'<a href="/python">itcast</a>'), ("/cpp", b"c++"), ("/python", b"python"),
])
def test_seed_routing_example(path, body, monkeypatch):
    monkeypatch.setattr("embedtornado.autoreload.start", lambda *a: None)
    monkeypatch.setattr("tornado.autoreload.start", lambda *a: None)
    ours, _ = compare(seed_routing_handlers, req(path=path), debug=True)
    assert (ours.code, ours.body) == (200, body)


def seed_regex_handlers(web):
    class IndexHandler(web.RequestHandler):
        def get(self):
            self.write("hello itcast.")

    class SubjectCityHandler(web.RequestHandler):
        def get(self, subject, city):
            self.write("Subject: %s<br/>City: %s" % (subject, city))

    class SubjectDateHandler(web.RequestHandler):
        def get(self, date, subject):
            self.write("Date: %s<br/>Subject: %s" % (date, subject))

    return [
        (r"/", IndexHandler),
        (r"/sub-city/(.+)/([a-z]+)", SubjectCityHandler),  # unnamed: by position
        (r"/sub-date/(?P<subject>.+)/(?P<date>\d+)", SubjectDateHandler),  # named: by name
    ]


@pytest.mark.parametrize("path,code,body", [
    ("/sub-city/python/beijing", 200, b"Subject: python<br/>City: beijing"),
    ("/sub-date/python/20160909", 200, b"Date: 20160909<br/>Subject: python"),
    ("/sub-city/a/b/c", 200, b"Subject: a/b<br/>City: c"),
    ("/sub-city/%E4%B8%AD/x", 200, "Subject: \u4e2d<br/>City: x".encode()),
    ("/sub-city/python/BJ", 404, NOT_FOUND),
])
def test_seed_regex_capture_example(path, code, body):
    ours, _ = compare(seed_regex_handlers, req(path=path))
    assert (ours.code, ours.body) == (code, body)
