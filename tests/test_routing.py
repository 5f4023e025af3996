"""embedtornado.routing against Tornado 6.6.1's tornado.routing, case by case and side by side."""

from __future__ import annotations

import logging
import re

import pytest
import tornado.httputil
import tornado.routing
from hypothesis import given, settings
from hypothesis import strategies as st

from embedtornado import httputil, routing
from embedtornado.httputil import HTTPHeaders, ResponseStartLine
from embedtornado.routing import (
    AnyMatches,
    DefaultHostMatches,
    HostMatches,
    Matcher,
    PathMatches,
    ReversibleRuleRouter,
    Rule,
    RuleRouter,
    URLSpec,
    _unquote_or_none,
)
from rawhttp import ServerHarness


def make_request(path: str = "/", host: str = "example.com", headers=None, mod=httputil):
    h = mod.HTTPHeaders({"Host": host})
    for k, v in (headers or {}).items():
        h[k] = v
    return mod.HTTPServerRequest(start_line=mod.RequestStartLine("GET", path, "HTTP/1.1"),
                                 headers=h)


def both_match(pattern, path):
    ours = PathMatches(pattern).match(make_request(path))
    theirs = tornado.routing.PathMatches(pattern).match(
        make_request(path, mod=tornado.httputil))
    return ours, theirs


# --- PathMatches.match -------------------------------------------------------------

MATCH_CASES = [
    (r"/", "/"),
    (r"/", "/x"),
    (r"/", "/\n"),
    (r"/a", "/a/"),
    (r"/a/", "/a"),
    (r"^/a$", "/a"),
    (r"/a.b", "/aXb"),
    (r"/items/([0-9]+)", "/items/42"),
    (r"/items/([0-9]+)", "/items/x"),
    (r"/(\w+)/(\d+)", "/abc/12"),
    (r"/(?P<name>[^/]+)/(?P<id>\d+)", "/bob/7"),
    (r"/f/(.*)", "/f/a%20b+c%2Fd"),
    (r"/f/(.*)", "/f/%E2%82%AC"),
    (r"/f/(.*)", "/f/%zz%2"),
    (r"/f/(.*)", "/f/%C3%28"),
    (r"/f/(.*)", "/f/caf\xe9"),
    (r"/opt/(a)?(b)?", "/opt/b"),
    (r"/opt/(?P<x>a)?", "/opt/"),
    (r"/(?:x|y)/(z)", "/y/z"),
    (r"/prefix", "/prefix\n"),
    (re.compile(r"/compiled/(\d+)"), "/compiled/5/more"),
    (re.compile(r"/CI", re.IGNORECASE), "/ci"),
]


@pytest.mark.parametrize("pattern,path", MATCH_CASES)
def test_path_matches_like_tornado(pattern, path):
    ours, theirs = both_match(pattern, path)
    assert ours == theirs


def test_path_matches_results():
    assert PathMatches(r"/items/([0-9]+)").match(make_request("/items/42")) == {
        "path_args": [b"42"], "path_kwargs": {}}
    assert PathMatches(r"/(?P<a>\w+)").match(make_request("/x")) == {
        "path_args": [], "path_kwargs": {"a": b"x"}}
    assert PathMatches(r"/(.*)").match(make_request("/a%2Fb+c")) == {
        "path_args": [b"a/b+c"], "path_kwargs": {}}
    assert PathMatches(r"/(a)?").match(make_request("/")) == {
        "path_args": [None], "path_kwargs": {}}
    assert PathMatches(r"/x").match(make_request("/x")) == {}
    assert PathMatches(r"/x").match(make_request("/y")) is None


def test_path_matches_appends_dollar():
    assert PathMatches(r"/a").regex.pattern == "/a$"
    assert PathMatches(r"/a$").regex.pattern == "/a$"
    compiled = re.compile("/b")
    assert PathMatches(compiled).regex is compiled


def test_path_matches_rejects_mixed_groups():
    with pytest.raises(AssertionError, match="all named or all positional"):
        PathMatches(r"/(?P<a>x)/(y)")
    with pytest.raises(AssertionError):
        tornado.routing.PathMatches(r"/(?P<a>x)/(y)")


def test_unquote_or_none():
    assert _unquote_or_none(None) is None
    for s in ["", "abc", "a+b", "a%20b", "%E2%82%AC", "%zz", "caf\xe9", "%", "a%2"]:
        assert _unquote_or_none(s) == tornado.routing._unquote_or_none(s), s


# --- reverse ---------------------------------------------------------------------------

REVERSE_CASES = [
    (r"/", ()),
    (r"/items/([0-9]+)", (42,)),
    (r"/items/([0-9]+)", ("42",)),
    (r"/f/(.*)", ("a b/c",)),
    (r"/f/(.*)", ("a+b&c=d?e#f",)),
    (r"/f/(.*)", ("\u20ac",)),
    (r"/f/(.*)", (b"caf\xc3\xa9",)),
    (r"/f/(.*)", (b"\xff",)),
    (r"/f/(.*)", (1.5,)),
    (r"/f/(.*)", (None,)),
    (r"^/(\d+)/([a-z-]+)/$", (2024, "my-post")),
    (r"/a\.b/(\d+)", (3,)),
    (r"/(?P<year>\d{4})/(?P<slug>[^/]+)", (1999, "x y")),
    (r"/percent%/x", ()),
]


@pytest.mark.parametrize("pattern,args", REVERSE_CASES)
def test_reverse_like_tornado(pattern, args):
    ours = PathMatches(pattern)
    theirs = tornado.routing.PathMatches(pattern)
    assert (ours._path, ours._group_count) == (theirs._path, theirs._group_count)
    assert ours.reverse(*args) == theirs.reverse(*args)


def test_reverse_results():
    assert PathMatches(r"/f/(.*)").reverse("a b/c") == "/f/a%20b/c"
    assert PathMatches(r"/f/(.*)").reverse("\u20ac") == "/f/%E2%82%AC"
    assert PathMatches(r"/i/(\d+)/(\w+)").reverse(1, "z") == "/i/1/z"


@pytest.mark.parametrize("pattern", [
    r"/(?:a|b)/(\d+)", r"/a\d/(\d+)", r"/(a(b))", r"/\(x\)", r"/x*", r"/a|b",
])
def test_unreversible_patterns(pattern):
    ours = PathMatches(pattern)
    theirs = tornado.routing.PathMatches(pattern)
    assert (ours._path, ours._group_count) == (theirs._path, theirs._group_count)
    if ours._path is None:
        with pytest.raises(ValueError, match="Cannot reverse url regex"):
            ours.reverse()
        with pytest.raises(ValueError):
            theirs.reverse()


def test_reverse_wrong_argument_count():
    with pytest.raises(AssertionError, match="required number of arguments"):
        PathMatches(r"/(\d+)").reverse()
    with pytest.raises(AssertionError):
        PathMatches(r"/(\d+)").reverse(1, 2)


def test_matcher_base_and_rule_reverse():
    assert Matcher().reverse(1) is None
    with pytest.raises(NotImplementedError):
        Matcher().match(make_request())
    assert Rule(PathMatches(r"/a/(\d+)"), object()).reverse(5) == "/a/5"
    assert Rule(AnyMatches(), object()).reverse() is None


# --- host matchers -------------------------------------------------------------------


def test_host_matches():
    m = HostMatches(r"www\.example\.com")
    assert m.host_pattern.pattern == r"www\.example\.com$"
    assert m.match(make_request(host="www.example.com")) == {}
    assert m.match(make_request(host="WWW.Example.com:8080")) == {}  # host_name: lower, no port
    assert m.match(make_request(host="www.example.com.evil")) is None
    assert m.match(make_request(host="x.www.example.com")) is None
    compiled = re.compile(r".*\.local")
    assert HostMatches(compiled).host_pattern is compiled
    assert AnyMatches().match(make_request()) == {}


def test_default_host_matches():
    class App:
        default_host = "main.example"

    m = DefaultHostMatches(App(), re.compile(r"main\.example$"))
    assert m.match(make_request(host="other")) == {}
    assert m.match(make_request(host="other", headers={"X-Real-Ip": "1.2.3.4"})) is None
    App.default_host = "else"
    assert m.match(make_request(host="other")) is None


# --- RuleRouter ------------------------------------------------------------------------


class Target:
    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"Target({self.name})"


class Recorder:
    """Mixin: get_target_delegate returns (target, params) instead of a real delegate."""

    def get_target_delegate(self, target, request, **target_params):
        if isinstance(target, Target):
            if target.name.startswith("skip"):
                return None
            return (target.name, target_params)
        return super().get_target_delegate(target, request, **target_params)


class OurRouter(Recorder, RuleRouter):
    pass


class TheirRouter(Recorder, tornado.routing.RuleRouter):
    pass


def route_both(rules, path, host="example.com", headers=None):
    def build(mod, router_cls):
        out = []
        for r in rules:
            pattern, name, *rest = r
            matcher = mod.PathMatches(pattern)
            out.append(mod.Rule(matcher, Target(name), *rest))
        return router_cls(out)

    ours = build(routing, OurRouter).find_handler(make_request(path, host, headers))
    theirs = build(tornado.routing, TheirRouter).find_handler(
        make_request(path, host, headers, mod=tornado.httputil))
    return ours, theirs


def test_rule_tuple_forms():
    router = RuleRouter([
        ("/a", "embedtornado.util.ObjectDict"),
        (PathMatches("/b"), Target("b"), {"k": 1}),
        [r"/c", Target("c"), {}, "cname"],
        Rule(AnyMatches(), Target("any")),
    ])
    r0, r1, r2, r3 = router.rules
    from embedtornado.util import ObjectDict
    assert r0.target is ObjectDict and isinstance(r0.matcher, PathMatches)
    assert r1.target_kwargs == {"k": 1}
    assert r2.target_kwargs == {} and r2.name == "cname"
    assert isinstance(r3.matcher, AnyMatches)
    with pytest.raises(AssertionError):
        RuleRouter([("/a",)])
    with pytest.raises(AssertionError):
        RuleRouter([("/a", Target("x"), {}, "n", "extra")])


def test_rule_repr_like_tornado():
    ours = repr(Rule(PathMatches("/x"), "embedtornado.util.ObjectDict", {"a": 1}, "n"))
    assert ours.startswith("Rule(<embedtornado.routing.PathMatches object at ")
    assert ours.endswith(", <class 'embedtornado.util.ObjectDict'>, kwargs={'a': 1}, name='n')")
    spec = URLSpec(r"/u/(\d+)", Target("t"), {"a": 1}, name="u")
    assert repr(spec) == r"URLSpec('/u/(\\d+)$', Target(t), kwargs={'a': 1}, name='u')"
    theirs = tornado.routing.URLSpec(r"/u/(\d+)", Target("t"), {"a": 1}, name="u")
    assert repr(spec) == repr(theirs)


def test_urlspec_attributes():
    t = Target("t")
    spec = URLSpec(r"/u/(\d+)", t, None, name="u")
    assert spec.regex.pattern == r"/u/(\d+)$"
    assert spec.handler_class is t and spec.target is t
    assert spec.kwargs is None and spec.target_kwargs == {}
    assert spec.name == "u"
    assert routing.url is URLSpec


def test_first_match_wins_and_params():
    rules = [
        (r"/x/(\d+)", "num"),
        (r"/x/([a-z]+)", "word", {"k": "v"}),
        (r"/x/abc", "literal"),
        (r"/(?P<rest>.*)", "catchall"),
    ]
    for path in ["/x/12", "/x/abc", "/x/ABC", "/", "/x/%41bc"]:
        ours, theirs = route_both(rules, path)
        assert ours == theirs, path
    assert route_both(rules, "/x/abc")[0] == (
        "word", {"path_args": [b"abc"], "path_kwargs": {}, "target_kwargs": {"k": "v"}})


def test_none_delegate_falls_through():
    rules = [(r"/a", "skip1"), (r"/a", "skip2"), (r"/(a)", "found"), (r"/a", "later")]
    ours, theirs = route_both(rules, "/a")
    assert ours == theirs == ("found", {"path_args": [b"a"], "path_kwargs": {}})
    rules = [(r"/a", "skip1", {"x": 1}), (r"/a", "later", {"y": 2})]
    ours, theirs = route_both(rules, "/a")
    assert ours == theirs == ("later", {"target_kwargs": {"y": 2}})
    assert route_both([(r"/a", "skip")], "/a") == (None, None)


def test_no_match():
    assert route_both([(r"/a", "a"), (r"/b/(.*)", "b")], "/c") == (None, None)
    assert RuleRouter().find_handler(make_request()) is None


def test_literal_trailing_newline_matches_like_regex():
    rules = [(r"/a\n", "nl"), (r"/a", "plain")]
    for path in ["/a", "/a\n", "/a\n\n"]:
        ours, theirs = route_both(rules, path)
        assert ours == theirs, repr(path)
    rules = [(r"/a", "plain"), ("/a\n", "nl")]
    for path in ["/a", "/a\n", "/a\n\n"]:
        ours, theirs = route_both(rules, path)
        assert ours == theirs, repr(path)


# Paths and patterns drawn from a small alphabet so that collisions are common.
_segments = st.sampled_from(["", "a", "b", "ab", "a.b", "1", "12", "a%2Fb", "a+b", "\n"])
_paths = st.lists(_segments, max_size=3).map(lambda parts: "/" + "/".join(parts))
_patterns = st.one_of(
    _paths,
    _paths.map(lambda p: "^" + p),
    _paths.map(lambda p: p + "$"),
    st.sampled_from([r"/(\d+)", r"/a/(.*)", r"/(?P<x>[a-z]+)", r"/a.b", r"/.*", r"/a\.b",
                     r"/(a)?", r"/a/?", r"/[ab]", r"/a|/b", r"(?i)/AB", r"/a\n"]),
)
_rules = st.lists(
    st.tuples(_patterns, st.sampled_from(["t1", "t2", "skip", "t3"]),
              st.sampled_from([None, {"k": 1}])),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(rules=_rules, paths=st.lists(_paths, min_size=1, max_size=5))
def test_index_agrees_with_tornado(rules, paths):
    named = [(p, f"{t}-{i}" if not t.startswith("skip") else f"skip-{i}", kw)
             for i, (p, t, kw) in enumerate(rules)]
    for path in paths:
        ours, theirs = route_both(named, path)
        assert ours == theirs, (named, path)


def test_index_is_used_for_plain_paths():
    router = OurRouter([(r"/a/(\d+)", Target("re")), (r"/", Target("root")),
                        (r"^/status$", Target("status")), (r"/x.y", Target("dot"))])
    plan = router.rules.plan(router)
    assert plan.exact == {"/": 1, "/status": 2}
    assert plan.others == (0, 3)


class CountingMatches(PathMatches):
    calls = 0

    def match(self, request):
        CountingMatches.calls += 1
        return super().match(request)


def test_subclassed_matchers_are_always_asked():
    router = OurRouter([Rule(CountingMatches("/a"), Target("sub")),
                        Rule(PathMatches("/a"), Target("plain"))])
    CountingMatches.calls = 0
    assert router.find_handler(make_request("/a"))[0] == "sub"
    assert router.find_handler(make_request("/b")) is None
    assert CountingMatches.calls == 2


@pytest.mark.parametrize("mutate", [
    lambda rules, new: rules.insert(0, new),
    lambda rules, new: rules.__setitem__(0, new),
    lambda rules, new: rules.__setitem__(slice(0, 1), [new]),
    lambda rules, new: (rules.__delitem__(0), rules.insert(0, new)),
    lambda rules, new: (rules.pop(0), rules.insert(0, new)),
    lambda rules, new: (rules.pop(), rules.reverse(), rules.append(new), rules.reverse()),
    lambda rules, new: (rules.remove(rules[0]), rules.insert(0, new)),
    lambda rules, new: (rules.clear(), rules.extend([new])),
    lambda rules, new: (rules.clear(), rules.__iadd__([new])),
    lambda rules, new: (rules.__imul__(0), rules.append(new)),
    lambda rules, new: (rules.append(new), rules.sort(key=lambda r: r.target.name != "new")),
])
def test_index_follows_list_changes(mutate):
    router = OurRouter([(r"/a", Target("old")), (r"/b", Target("b"))])
    assert router.find_handler(make_request("/a"))[0] == "old"
    mutate(router.rules, Rule(PathMatches("/a"), Target("new")))
    assert router.find_handler(make_request("/a"))[0] == "new"


def test_index_follows_rule_and_matcher_changes():
    router = OurRouter([(r"/a", Target("a")), (r"/b", Target("b"))])
    assert router.find_handler(make_request("/a"))[0] == "a"
    router.rules[0].matcher = PathMatches(r"/c")
    assert router.find_handler(make_request("/a")) is None
    assert router.find_handler(make_request("/c"))[0] == "a"
    router.rules[1].matcher.regex = re.compile(r"/(b+)$")
    assert router.find_handler(make_request("/bbb"))[0] == "b"
    router.rules[1].target = Target("b2")
    assert router.find_handler(make_request("/b"))[0] == "b2"


def test_plain_list_of_rules_still_routes():
    router = OurRouter([(r"/a", Target("a"))])
    router.rules = [Rule(PathMatches("/z"), Target("z"))]
    assert router.find_handler(make_request("/z"))[0] == "z"
    router.rules.append(Rule(PathMatches("/y"), Target("y")))
    assert router.find_handler(make_request("/y"))[0] == "y"
    assert router.find_handler(make_request("/a")) is None


def test_process_rule_hook():
    seen = []

    class R(RuleRouter):
        def process_rule(self, rule):
            seen.append(rule)
            rule.name = "renamed"
            return rule

    router = R([("/a", Target("a"))])
    assert seen == router.rules and router.rules[0].name == "renamed"


# --- get_target_delegate over a live server ---------------------------------------


class HelloDelegate(httputil.HTTPMessageDelegate):
    def __init__(self, connection, text):
        self.connection = connection
        self.text = text
        self.chunks = []

    def data_received(self, chunk):
        self.chunks.append(chunk)

    def finish(self):
        body = (self.text + ":").encode() + b"".join(self.chunks)
        self.connection.write_headers(ResponseStartLine("HTTP/1.1", 200, "OK"),
                                      HTTPHeaders({"Content-Length": str(len(body))}))
        self.connection.write(body)
        self.connection.finish()


class ConnDelegate(httputil.HTTPServerConnectionDelegate):
    def __init__(self, text):
        self.text = text

    def start_request(self, server_conn, request_conn):
        return HelloDelegate(request_conn, self.text)


class InnerRouter(routing.Router):
    def find_handler(self, request, **kwargs):
        if request.path == "/inner/none":
            return None
        return HelloDelegate(request.connection, "inner-" + repr(sorted(kwargs)))


def callable_target(request, **kwargs):
    body = ("callable %s %r %s" % (request.path, sorted(kwargs), request.body.decode())).encode()
    request.connection.write_headers(ResponseStartLine("HTTP/1.1", 200, "OK"),
                                     HTTPHeaders({"Content-Length": str(len(body))}))
    request.connection.write(body)
    request.connection.finish()


def live_router():
    return RuleRouter([
        (r"/conn", ConnDelegate("conn")),
        (r"/inner/.*", InnerRouter(), {"a": 1}),
        (r"/call/(?P<x>\w+)", callable_target),
        (r"/call2", callable_target, {"extra": 2}),
        (r"/nothing", object()),
    ])


def get(path, body=b""):
    head = b"POST %s HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % (path.encode(),
                                                                          len(body))
    return head + body


@pytest.mark.parametrize("path,body,code,expect", [
    ("/conn", b"xyz", 200, b"conn:xyz"),
    ("/inner/q", b"", 200, b"inner-['target_kwargs']:"),
    ("/call/abc", b"b=1", 200, b"callable /call/abc ['path_args', 'path_kwargs'] b=1"),
    ("/call2", b"", 200, b"callable /call2 ['target_kwargs'] "),
])
def test_targets_over_server(path, body, code, expect):
    with ServerHarness(live_router()) as h:
        resp = h.run(h.request(get(path, body)))
        assert (resp.code, resp.body) == (code, expect)


@pytest.mark.parametrize("path", ["/nothing", "/inner/none", "/missing"])
def test_default_404_over_server(path, caplog):
    caplog.set_level(logging.DEBUG, logger="embedtornado.application")
    with ServerHarness(live_router()) as h:
        resp = h.run(h.request(get(path)))
    assert resp.code == 404 and resp.reason == "Not Found"
    assert resp.body == b""
    assert f"Delegate for POST {path} request not found" in caplog.text


def test_router_start_request_wraps_find_handler():
    router = RuleRouter()
    delegate = router.start_request("server-conn", "request-conn")
    assert isinstance(delegate, routing._RoutingDelegate)
    assert delegate.router is router and delegate.server_conn == "server-conn"
    delegate.on_connection_close()  # before routing: nothing to tell
    with pytest.raises(NotImplementedError):
        routing.Router().find_handler(make_request())
    with pytest.raises(NotImplementedError):
        routing.ReversibleRouter().reverse_url("x")


# --- ReversibleRuleRouter ------------------------------------------------------------


def test_reverse_url_named_and_nested(caplog):
    inner = ReversibleRuleRouter([URLSpec(r"/in/(\d+)", Target("i"), name="inner")])
    router = ReversibleRuleRouter([
        URLSpec(r"/a/([^/]+)", Target("a"), name="a"),
        Rule(AnyMatches(), inner),
        Rule(PathMatches("/p"), Target("p"), name="p"),
    ])
    assert router.reverse_url("a", "x y") == "/a/x%20y"
    assert router.reverse_url("inner", 5) == "/in/5"
    assert router.reverse_url("p") == "/p"
    assert router.reverse_url("missing") is None
    with caplog.at_level(logging.WARNING, logger="embedtornado.application"):
        router.add_rules([URLSpec(r"/b", Target("b"), name="a")])
    assert "Multiple handlers named a; replacing previous value" in caplog.text
    assert router.reverse_url("a") == "/b"


def test_reverse_url_like_tornado():
    specs = [(r"/a/([^/]+)", "a"), (r"/b/(?P<x>\d+)/(?P<y>\w+)", "b"), (r"/", "root")]
    ours = ReversibleRuleRouter([URLSpec(p, Target(n), name=n) for p, n in specs])
    theirs = tornado.routing.ReversibleRuleRouter(
        [tornado.routing.URLSpec(p, Target(n), name=n) for p, n in specs])
    for name, args in [("a", ("\u00e9/ ?",)), ("b", (1, "z")), ("root", ()), ("zz", ())]:
        assert ours.reverse_url(name, *args) == theirs.reverse_url(name, *args)


# --- targets asked without get_target_delegate -----------------------------------------


def kwargs_router_class(mod):
    class KwargsRouter(mod.Router):
        def __init__(self, name):
            self.name = name

        def find_handler(self, request, **kwargs):
            if self.name == "none":
                return None
            return (self.name, kwargs)

    return KwargsRouter


KwargsRouter = kwargs_router_class(routing)


@pytest.mark.parametrize("path", ["/a", "/b/1", "/c", "/d", "/zzz"])
def test_nested_router_targets_like_tornado(path):
    def build(mod):
        KwargsRouter = kwargs_router_class(mod)
        return mod.RuleRouter([
            (r"/a", KwargsRouter("a")),
            (r"/b/(\d+)", KwargsRouter("b"), {"k": 1}),
            (r"/c", KwargsRouter("none")),
            (r"/c", KwargsRouter("c"), {"k": 2}),
            mod.Rule(mod.AnyMatches(), KwargsRouter("none")),
            mod.Rule(mod.AnyMatches(), KwargsRouter("none"), {"k": 3}),
            (r"/d", KwargsRouter("d")),
            mod.Rule(mod.AnyMatches(), KwargsRouter("any"), {"k": 4}),
        ])

    ours = build(routing).find_handler(make_request(path))
    theirs = build(tornado.routing).find_handler(make_request(path, mod=tornado.httputil))
    assert ours == theirs


def test_overridden_get_target_delegate_is_always_asked():
    asked = []

    class Asking(RuleRouter):
        def get_target_delegate(self, target, request, **params):
            asked.append(target)
            return super().get_target_delegate(target, request, **params)

    inner = KwargsRouter("inner")
    assert Asking([(r"/", inner), Rule(AnyMatches(), inner)]).find_handler(
        make_request("/")) == ("inner", {})
    assert Asking([Rule(AnyMatches(), inner)]).find_handler(make_request("/x")) == (
        "inner", {})
    assert asked == [inner, inner]

    router = RuleRouter([(r"/", inner)])
    assert router.find_handler(make_request("/")) == ("inner", {})
    router.get_target_delegate = lambda target, request, **p: "instance override"
    assert router.find_handler(make_request("/")) == "instance override"


def test_shared_rule_list_is_planned_per_router():
    inner = KwargsRouter("inner")
    plain = RuleRouter([(r"/", inner)])
    recording = OurRouter()
    recording.rules = plain.rules  # the same tracked list, two kinds of router
    assert plain.find_handler(make_request("/")) == ("inner", {})
    assert recording.find_handler(make_request("/")) == ("inner", {})
    recording.rules.append(Rule(PathMatches("/t"), Target("t")))
    assert recording.find_handler(make_request("/t")) == ("t", {})
    assert plain.find_handler(make_request("/")) == ("inner", {})


def test_class_level_patch_of_get_target_delegate_is_seen(monkeypatch):
    class Sub(RuleRouter):
        pass

    inner = KwargsRouter("inner")
    router = Sub([(r"/", inner)])
    assert router.find_handler(make_request("/")) == ("inner", {})
    monkeypatch.setattr(Sub, "get_target_delegate", lambda self, t, r, **p: "patched",
                        raising=False)
    assert router.find_handler(make_request("/")) == "patched"
