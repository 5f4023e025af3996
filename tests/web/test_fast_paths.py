"""The short paths of a request (issue 4): same answers as the general ones, and as Tornado 6.6.1.

`Application.start_request` gives an `_AppDelegate` that serves the plain
paths of the rule list itself (`Application._fast_table`); `finish` sends
head and body inline for handlers that override none of the methods it
calls; `get_argument` and the query string of `HTTPServerRequest` take
one-pass paths. Each test here sends what would tell the short path from
the general one apart, to both frameworks, including after the rules or
the classes change between requests.
"""

from __future__ import annotations

import pytest

import embedtornado.web
from embedtornado import escape, httputil
from embedtornado.httputil import HTTPHeaders, HTTPInputError, HTTPServerRequest, RequestStartLine
from embedtornado.routing import PathMatches, Rule, _RoutingDelegate
from embedtornado.web.application import _AppDelegate
from webtools import DualHarness, assert_same, compare, req


def routed_handlers(web):
    class Named(web.RequestHandler):
        def initialize(self, name="none"):
            self.name = name

        def get(self, *args):
            self.write("%s %s %r" % (type(self).__name__, self.name, args))

        def post(self, *args):
            self.write("post %s %s" % (self.name, self.get_body_argument("a", "-")))

    class Other(Named):
        pass

    return [
        (r"/", Named, {"name": "root"}),
        (r"/x", Named),
        (r"/re/(\d+)", Other, {"name": "re"}),
        (r"/late", Other),
    ]


def both_same(h: DualHarness, data: bytes) -> bytes:
    ours = h.run(h.request(data))
    theirs = h.run(h.request_tornado(data))
    assert_same(ours, theirs)
    return ours.body


def test_plain_paths_regex_paths_and_misses_match_tornado():
    with DualHarness(routed_handlers) as h:
        assert both_same(h, req(path="/")) == b"Named root ()"
        assert both_same(h, req(path="/x?q=1")) == b"Named none ()"
        assert both_same(h, req(path="/re/12")) == b"Other re ('12',)"
        assert both_same(h, req(path="/late")) == b"Other none ()"
        both_same(h, req(path="/nothing"))
        both_same(h, req(path="/x/"))
        body = both_same(h, req("POST", "/", {"Content-Type": "application/x-www-form-urlencoded"},
                                body=b"a=1"))
        assert body == b"post root 1"


def test_start_request_gives_the_merged_delegate_only_for_the_default_methods():
    app = embedtornado.web.Application([(r"/", embedtornado.web.RequestHandler)])
    d = app.start_request("sc", "rc")
    assert type(d) is _AppDelegate and isinstance(d, _RoutingDelegate) and d.router is app

    class Custom(embedtornado.web.Application):
        def find_handler(self, request, **kwargs):
            return super().find_handler(request, **kwargs)

    assert type(Custom().start_request("sc", "rc")) is _RoutingDelegate
    app.get_handler_delegate = app.get_handler_delegate  # an instance attribute
    assert type(app.start_request("sc", "rc")) is _RoutingDelegate


def test_a_regex_rule_before_a_plain_one_still_wins():
    def handlers(web):
        class A(web.RequestHandler):
            def get(self):
                self.write("A")

        class B(web.RequestHandler):
            def get(self):
                self.write("B")

        return [(r"/.*", A), (r"/b", B)]

    ours, _ = compare(handlers, req(path="/b"))
    assert ours.body == b"A"


def test_rule_changes_between_requests_are_seen():
    with DualHarness(routed_handlers) as h:
        assert both_same(h, req(path="/x")) == b"Named none ()"
        other_ours = h.app.wildcard_router.rules[2].target
        other_theirs = h.tornado_app.wildcard_router.rules[2].target
        # A rule put first; then a rule's target changed in place; then removed.
        h.app.wildcard_router.rules.insert(0, Rule(PathMatches("/x"), other_ours))
        h.tornado_app.wildcard_router.rules.insert(0, Rule(PathMatches("/x"), other_theirs))
        assert both_same(h, req(path="/x")) == b"Other none ()"
        h.app.wildcard_router.rules[0].target_kwargs = {"name": "changed"}
        h.tornado_app.wildcard_router.rules[0].target_kwargs = {"name": "changed"}
        assert both_same(h, req(path="/x")) == b"Other changed ()"
        del h.app.wildcard_router.rules[0]
        del h.tornado_app.wildcard_router.rules[0]
        assert both_same(h, req(path="/x")) == b"Named none ()"
        # The rule's kwargs dict changed in place.
        h.app.wildcard_router.rules[0].target_kwargs["name"] = "root2"
        h.tornado_app.wildcard_router.rules[0].target_kwargs["name"] = "root2"
        assert both_same(h, req(path="/")) == b"Named root2 ()"


def test_add_handlers_and_replaced_methods_take_the_general_path():
    with DualHarness(routed_handlers) as h:
        assert both_same(h, req(path="/")) == b"Named root ()"
        for app, web in ((h.app, embedtornado.web), (h.tornado_app, __import__("tornado.web"))):
            web = web if web is embedtornado.web else web.web

            class Host(web.RequestHandler):
                def get(self):
                    self.write("host")

            app.add_handlers(r"example\.com", [(r"/", Host)])
        assert h.app._fast_table() is None
        assert both_same(h, req(path="/")) == b"host"
        assert both_same(h, req(path="/x")) == b"Named none ()"

    calls = []
    with DualHarness(routed_handlers) as h:
        for app in (h.app, h.tornado_app):
            original = app.get_handler_delegate

            def spy(request, target_class, *args, _original=original, **kwargs):
                calls.append(target_class.__name__)
                return _original(request, target_class, *args, **kwargs)

            app.get_handler_delegate = spy
        assert both_same(h, req(path="/")) == b"Named root ()"
    assert calls == ["Named", "Named"]


def test_streaming_handler_on_a_plain_path():
    def handlers(web):
        @web.stream_request_body
        class S(web.RequestHandler):
            def prepare(self):
                self.parts = []

            def data_received(self, chunk):
                self.parts.append(chunk)

            def put(self):
                self.write(b"got " + b"".join(self.parts))

        return [(r"/s", S)]

    ours, _ = compare(handlers, req("PUT", "/s", body=b"x" * 3000))
    assert ours.body == b"got " + b"x" * 3000


def test_finish_short_path_keeps_the_hooks():
    def handlers(web):
        class Hooked(web.RequestHandler):
            def set_default_headers(self):
                self.set_status(201)  # clear() resets it to 200 afterwards
                self.set_header("X-Default", "1")

            def get(self):
                self.set_cookie("c", "1")
                self.set_cookie("c", "2")
                self.write("body")

        class Flushing(web.RequestHandler):
            def flush(self, include_footers=False):
                self.set_header("X-Flushed", "yes")
                return super().flush(include_footers)

            def get(self):
                self.write("f")

        return [(r"/", Hooked), (r"/f", Flushing)]

    ours, _ = compare(handlers, req(path="/"))
    assert ours.code == 200 and ours.body == b"body"
    assert ours.headers["set-cookie"] == "c=2; Path=/"
    ours, _ = compare(handlers, req(path="/f"))
    assert ours.headers["x-flushed"] == "yes"
    ours, _ = compare(handlers, req("HEAD", "/"))
    assert ours.body == b""


def test_on_finish_set_on_the_instance_runs():
    seen = []

    class H(embedtornado.web.RequestHandler):
        def initialize(self):
            self.on_finish = lambda: seen.append(self.get_status())

        def get(self):
            self.write("x")

    from rawhttp import ServerHarness

    with ServerHarness(embedtornado.web.Application([(r"/", H)])) as h:
        assert h.run(h.request(req())).body == b"x"
    assert seen == [200]


def test_get_argument_short_path_matches_tornado():
    def handlers(web):
        class A(web.RequestHandler):
            def get(self):
                self.write(repr([self.get_argument("a", None), self.get_argument("a", None, False),
                                 self.get_argument("missing", "d")]))

        class Latin(web.RequestHandler):
            def decode_argument(self, value, name=None):
                return value.decode("latin-1").upper()

            def get(self):
                self.write(self.get_argument("a"))

        return [(r"/", A), (r"/latin", Latin)]

    for query in ("a=%20x%09y%20", "a=1&a=%20two", "a=plain", "a=%01b", "a=", "a"):
        compare(handlers, req(path="/?" + query))
    ours, _ = compare(handlers, req(path="/?a=%ff"))
    assert ours.code == 400
    ours, _ = compare(handlers, req(path="/latin?a=%e9t%e9"))
    assert ours.body == "ÉTÉ".encode()


QUERIES = ["a=1", "a=1&b=2&a=3", "a&b=&=c&&", "=", "&&&", "x=1;y=2", "a=%41+b", "a=é",
           "k=v=w", "a=1&", "&a=1", "A=1&a=2"]


@pytest.mark.parametrize("query", QUERIES)
def test_query_arguments_are_parse_qs_bytes(query):
    request = HTTPServerRequest(start_line=RequestStartLine("GET", "/p?" + query, "HTTP/1.1"),
                                headers=HTTPHeaders({"Host": "h"}))
    expected = escape.parse_qs_bytes(query, keep_blank_values=True)
    assert request.arguments == expected
    assert request.query_arguments == expected
    for name, values in request.arguments.items():
        # Separate lists: body arguments added to arguments stay out of query_arguments.
        assert values is not request.query_arguments[name]


def test_query_field_limit_in_both_paths():
    limit = httputil._DEFAULT_PARSE_BODY_CONFIG.urlencoded.max_arguments
    for sep in ("&", "&%41=1&"):  # the one-pass path, then the general one
        query = sep.join(["a=1"] * (limit + 1))
        with pytest.raises(HTTPInputError, match="Invalid query string: Max number of fields"):
            HTTPServerRequest(start_line=RequestStartLine("GET", "/?" + query, "HTTP/1.1"),
                              headers=HTTPHeaders({"Host": "h"}))
    ok = "&".join(["a=1"] * limit)
    request = HTTPServerRequest(start_line=RequestStartLine("GET", "/?" + ok, "HTTP/1.1"),
                                headers=HTTPHeaders({"Host": "h"}))
    assert len(request.arguments["a"]) == limit


def test_cooperative_init_after_request_handler_still_runs():
    def handlers(web):
        class Counter:
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                self.mixin_ran = True

        class H(web.RequestHandler, Counter):
            def get(self):
                self.write(repr(getattr(self, "mixin_ran", False)))

        class Plain(web.RequestHandler):
            def get(self):
                self.write(repr(getattr(self, "mixin_ran", False)))

        return [(r"/", H), (r"/plain", Plain)]

    ours, _ = compare(handlers, req(path="/"))
    assert ours.body == b"True"
    ours, _ = compare(handlers, req(path="/plain"))
    assert ours.body == b"False"


def test_date_header_is_current_and_cached_per_second(monkeypatch):
    from embedtornado.web import handler as handler_module

    now = [1_700_000_000.25]
    monkeypatch.setattr(handler_module.time, "time", lambda: now[0])
    first = handler_module._http_date_now()
    assert first == httputil.format_timestamp(1_700_000_000)
    now[0] = 1_700_000_000.99
    assert handler_module._http_date_now() is first
    now[0] = 1_700_000_001.0
    assert handler_module._http_date_now() == httputil.format_timestamp(1_700_000_001)
    now[0] = 1_699_999_000.5  # the clock went back
    assert handler_module._http_date_now() == httputil.format_timestamp(1_699_999_000)


def test_json_encoder_pool_after_errors_and_across_threads():
    import threading

    loop_list: list = []
    loop_list.append(loop_list)
    for _ in range(3):  # an error leaves its encoder out of the pool
        with pytest.raises(ValueError, match="Circular reference"):
            escape.json_encode({"x": loop_list})
        with pytest.raises(TypeError):
            escape.json_encode({"x": object()})
        shared = {"k": "</"}
        assert escape.json_encode({"a": [shared, shared]}) == '{"a": [{"k": "<\\/"}, {"k": "<\\/"}]}'
    errors = []

    def work(i):
        value = {"i": i, "nested": [{"n": n} for n in range(50)]}
        expected = json.dumps(value)
        for _ in range(300):
            if escape.json_encode(value) != expected:
                errors.append(i)

    import json

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert len(escape._json_encoders) <= 8


def test_write_dict_content_type_with_and_without_a_set_header_override():
    def handlers(web):
        class J(web.RequestHandler):
            def get(self):
                self.set_header("content-type", "text/plain")
                self.write({"a": "</b>"})

        class Custom(J):
            def set_header(self, name, value):
                super().set_header(name, value + "; x=1" if name == "Content-Type" else value)

        return [(r"/", J), (r"/custom", Custom)]

    ours, _ = compare(handlers, req(path="/"))
    assert ours.headers["content-type"] == "application/json; charset=UTF-8"
    assert ours.body == b'{"a": "<\\/b>"}'
    ours, _ = compare(handlers, req(path="/custom"))
    assert ours.headers["content-type"] == "application/json; charset=UTF-8; x=1"


def test_write_dict_values_the_compiled_encoder_leaves_alone_match_tornado():
    def handlers(web):
        class J(web.RequestHandler):
            def get(self):
                case = self.get_argument("case")
                if case == "intkey":
                    self.write({1: "a", "b": [1.5, None]})
                elif case == "bigint":
                    self.write({"n": 2**70, "m": -(2**63)})
                elif case == "deep":
                    value: object = "</"
                    for _ in range(40):
                        value = {"k": [value]}
                    self.write(value)  # type: ignore[arg-type]
                else:
                    self.write({"s": "caf\xe9 \u2603 \U0001f600 </script>", "f": [0.1, 1e300, -0.0],
                                "t": (True, False, None)})

        return [(r"/", J)]

    for case in ("intkey", "bigint", "deep", "mixed"):
        ours, _ = compare(handlers, req(path="/?case=" + case))
        assert ours.code == 200 and ours.headers["content-type"].startswith("application/json")


def test_write_dict_uses_a_replaced_escape_json_encode(monkeypatch):
    import tornado.escape

    def handlers(web):
        class J(web.RequestHandler):
            def get(self):
                self.write({"a": 1})

        return [(r"/", J)]

    for module in (escape, tornado.escape):
        monkeypatch.setattr(module, "json_encode", lambda value: "custom:%d" % len(value))
    ours, _ = compare(handlers, req(path="/"))
    assert ours.body == b"custom:1"


def test_router_find_handler_patched_after_the_first_request_is_used(monkeypatch):
    from embedtornado.web.application import _ApplicationRouter
    from rawhttp import ServerHarness

    class H(embedtornado.web.RequestHandler):
        def get(self):
            self.write("h")

    class Patched(embedtornado.web.RequestHandler):
        def get(self):
            self.write("patched")

    app = embedtornado.web.Application([(r"/", H)])
    with ServerHarness(app) as h:
        assert h.run(h.request(req())).body == b"h"
        original = _ApplicationRouter.find_handler

        def find_handler(self, request, **kwargs):
            if self is app.wildcard_router:
                return app.get_handler_delegate(request, Patched)
            return original(self, request, **kwargs)

        monkeypatch.setattr(_ApplicationRouter, "find_handler", find_handler)
        assert h.run(h.request(req())).body == b"patched"
        monkeypatch.undo()
        assert h.run(h.request(req())).body == b"h"
