"""RequestHandler pieces tested directly (no server), many against Tornado 6.6.1's.

Also the fast-path guards: a plain handler runs without a task or coroutine,
and a class that overrides a finish hook gets exactly Tornado's calls.
"""

from __future__ import annotations

import asyncio
import datetime

import pytest
import tornado.httputil
import tornado.web
from hypothesis import given, settings
from hypothesis import strategies as st
from webtools import Dual, LogCapture, dual_harness, events, record, req, translations_in_both

import embedtornado.web
from embedtornado import httputil
from embedtornado.web import (
    Application,
    Finish,
    HTTPError,
    MissingArgumentError,
    RequestHandler,
)
from embedtornado.web.handler import _check_plain_finish

# --- handlers built by hand ------------------------------------------------------------


class FakeConnection:
    """Just enough of an HTTP connection for a handler (both frameworks')."""

    def __init__(self):
        self.context = None
        self.close_callback = "unset"
        self.start_line = None
        self.headers = None
        self.chunks: list[bytes] = []
        self.finished = False
        self.closed = False

    def set_close_callback(self, cb):
        self.close_callback = cb

    def write_headers(self, start_line, headers, chunk=None):
        self.start_line, self.headers = start_line, headers
        if chunk:
            self.chunks.append(chunk)
        return _done()

    def write(self, chunk):
        self.chunks.append(chunk)
        return _done()

    def finish(self):
        self.finished = True

    def close(self):
        self.closed = True

    def detach(self):
        return "the-transport"


def _done():
    f = asyncio.Future(loop=_LOOP)
    f.set_result(None)
    return f


_LOOP = asyncio.new_event_loop()


def make(web, cls=None, uri="/", headers=None, method="GET", app=None, **settings):
    mod = tornado.httputil if web is tornado.web else httputil
    h = mod.HTTPHeaders({"Host": "example.com"})
    for k, v in (headers or {}).items():
        h[k] = v
    request = mod.HTTPServerRequest(connection=FakeConnection(), headers=h,
                                    start_line=mod.RequestStartLine(method, uri, "HTTP/1.1"))
    if app is None:
        app = web.Application([], **settings)
    return (cls or web.RequestHandler)(app, request)


def both(cls_fn=None, **kw):
    ours = make(embedtornado.web, cls_fn(embedtornado.web) if cls_fn else None, **kw)
    theirs = make(tornado.web, cls_fn(tornado.web) if cls_fn else None, **kw)
    return ours, theirs


def outcome(fn, *args):
    try:
        return ("ok", fn(*args))
    except Exception as e:
        return (type(e).__name__, str(e))


# --- header values, status, arguments, Etags: property tests against Tornado -----------

HEADER_VALUES = st.one_of(
    st.text(max_size=20),
    st.binary(max_size=20),
    st.integers(),
    st.booleans(),
    st.datetimes(),
    st.floats(allow_nan=False),
    st.none(),
)


@settings(max_examples=300, deadline=None)
@given(HEADER_VALUES)
def test_convert_header_value_matches_tornado(value):
    ours, theirs = both()
    o = outcome(ours._convert_header_value, value)
    t = outcome(theirs._convert_header_value, value)
    assert o == t
    o = outcome(ours.set_header, "X-Test", value)
    t = outcome(theirs.set_header, "X-Test", value)
    assert o == t
    if o[0] == "ok":
        assert ours._headers["X-Test"] == theirs._headers["X-Test"]


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=100, max_value=999),
       st.one_of(st.none(), st.text(max_size=12)))
def test_set_status_matches_tornado(code, reason):
    ours, theirs = both()
    assert outcome(ours.set_status, code, reason) == outcome(theirs.set_status, code, reason)
    assert (ours._status_code, ours._reason) == (theirs._status_code, theirs._reason)
    assert ours.get_status() == code


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=8), max_size=3), st.booleans())
def test_get_arguments_match_tornado(values, strip):
    from urllib.parse import urlencode

    uri = "/?" + urlencode([("a", v) for v in values])
    ours, theirs = both(uri=uri)
    for getter in ("get_arguments", "get_query_arguments"):
        assert outcome(getattr(ours, getter), "a", strip) == \
            outcome(getattr(theirs, getter), "a", strip)
    for default in ("dflt", None):
        assert outcome(ours.get_argument, "a", default, strip) == \
            outcome(theirs.get_argument, "a", default, strip)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=8))
def test_decode_argument_matches_tornado(value):
    ours, theirs = both()
    o = outcome(ours.decode_argument, value, "n")
    t = outcome(theirs.decode_argument, value, "n")
    assert o[0] == t[0]
    if o[0] == "HTTPError":
        assert o[1] == t[1]
    else:
        assert o == t


ETAG_PIECES = st.sampled_from(['"abc"', 'W/"abc"', '"x"', "*", ",", " ", 'W/', '"', "W/\"\"",
                               '""', "abc", "w/\"abc\""])


@settings(max_examples=300, deadline=None)
@given(st.lists(ETAG_PIECES, max_size=5).map("".join),
       st.sampled_from(['"abc"', 'W/"abc"', "", '"x"']))
def test_check_etag_header_matches_tornado(inm, etag):
    ours, theirs = both(headers={"If-None-Match": inm} if inm else {})
    if etag:
        ours.set_header("Etag", etag)
        theirs.set_header("Etag", etag)
    assert ours.check_etag_header() == theirs.check_etag_header()


def test_compute_etag():
    ours, theirs = both()
    for h in (ours, theirs):
        h.write("a")
        h.write(b"bc")
    assert ours.compute_etag() == theirs.compute_etag() == \
        '"a9993e364706816aba3e25717850c26c9cd0d89d"'
    ours, theirs = both()
    assert ours.compute_etag() == theirs.compute_etag()


# --- the fast path -----------------------------------------------------------------------


def test_plain_handler_runs_without_task_or_coroutine():
    seen = {}

    class Plain(RequestHandler):
        def prepare(self):
            seen["prepare_task"] = _current_task()

        def get(self):
            seen["get_task"] = _current_task()
            self.write("x")

    h = make(embedtornado.web, Plain)
    assert h._execute([]) is None
    assert seen == {"prepare_task": None, "get_task": None}
    assert h._finished and h.request.connection.finished
    assert h.request.connection.chunks == [b"x"]


def _current_task():
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None


def test_async_handler_returns_the_rest_as_a_coroutine():
    class Async(RequestHandler):
        async def get(self):
            await asyncio.sleep(0)
            self.write("later")

    h = make(embedtornado.web, Async)
    rest = h._execute([])
    assert asyncio.iscoroutine(rest)
    assert not h._finished
    assert h.request.connection.close_callback == h.on_connection_close
    _LOOP.run_until_complete(rest)
    assert h._finished and h.request.connection.chunks == [b"later"]
    assert h.request.connection.close_callback is None


def test_async_prepare_returns_the_rest_as_a_coroutine():
    order = []

    class AsyncPrepare(RequestHandler):
        async def prepare(self):
            order.append("prepare")

        def get(self):
            order.append("get")

    h = make(embedtornado.web, AsyncPrepare)
    rest = h._execute([])
    assert asyncio.iscoroutine(rest) and order == []
    _LOOP.run_until_complete(rest)
    assert order == ["prepare", "get"] and h._finished


def test_unfinished_plain_handler_keeps_its_close_callback():
    class Later(RequestHandler):
        def get(self):
            self._auto_finish = False

    h = make(embedtornado.web, Later)
    assert h._execute([]) is None
    assert h.request.connection.close_callback == h.on_connection_close
    h.finish()
    assert h.request.connection.close_callback is None


def test_plain_finish_is_decided_per_class():
    class A(RequestHandler):
        def get(self):
            self.write("a")

    class B(A):
        def compute_etag(self):
            return '"b"'

    class C(B):
        pass

    assert _check_plain_finish(A) is True and A.__dict__["_plain_finish"] is True
    assert _check_plain_finish(B) is False
    assert _check_plain_finish(C) is False
    assert "_plain_finish" not in RequestHandler.__dict__ or \
        RequestHandler.__dict__["_plain_finish"] is True


def test_a_subclass_served_after_its_parent_gets_its_own_class_plan():
    # The plan is inherited as an attribute; a subclass must not reuse its
    # parent's (the etag hook and a later __init__ in the MRO must be seen).
    inits = []

    class Parent(RequestHandler):
        def get(self):
            self.write("same body")

    class Tail:
        def __init__(self):
            inits.append(type(self).__name__)
            super().__init__()

    class Child(Parent, Tail):
        def compute_etag(self):
            return '"child"'

    def serve(cls):
        h = make(embedtornado.web, cls)
        h._execute([])
        return h.request.connection.headers["Etag"]

    parent_etag = serve(Parent)
    assert parent_etag != '"child"' and inits == []
    assert serve(Child) == '"child"'
    assert inits == ["Child"]
    assert serve(Parent) == parent_etag


def hook_handlers(web):
    """Handlers that override finish's hooks: they must see Tornado's calls."""

    class Hooks(web.RequestHandler):
        def set_header(self, name, value):
            record(web).append(("set_header", name, str(value)))
            super().set_header(name, value)

        def set_status(self, code, reason=None):
            record(web).append(("set_status", code))
            super().set_status(code, reason)

        def set_etag_header(self):
            record(web).append("set_etag_header")
            super().set_etag_header()

        def check_etag_header(self):
            result = super().check_etag_header()
            record(web).append(("check_etag_header", result))
            return result

        def _should_not_send_content(self, status_code):
            record(web).append(("_should_not_send_content", status_code))
            return super()._should_not_send_content(status_code)

        def clear_header(self, name):
            record(web).append(("clear_header", name))
            super().clear_header(name)

        def flush(self, include_footers=False):
            record(web).append(("flush", include_footers))
            return super().flush(include_footers)

        def on_finish(self):
            record(web).append("on_finish")

        def get(self):
            self.write("hooked")

    return [(r"/", Hooks)]


@pytest.fixture(scope="module")
def hooks_dual():
    yield from dual_harness(hook_handlers)


@pytest.mark.parametrize("headers", [{}, {"If-None-Match": '"%s"' % __import__(
    "hashlib").sha1(b"hooked").hexdigest()}])
def test_overridden_hooks_see_tornados_calls(hooks_dual: Dual, headers):
    hooks_dual.same(req("GET", "/", headers))
    ours, theirs = events()
    # Our Date header is set straight into the header map, like Tornado's.
    assert ours == theirs
    assert "set_etag_header" in ours and ("flush", True) in ours


# --- users, settings, URLs ------------------------------------------------------------------


def test_current_user_lazy_and_settable():
    calls = []

    class H(RequestHandler):
        def get_current_user(self):
            calls.append(1)
            return "bob"

    h = make(embedtornado.web, H)
    assert calls == []
    assert h.current_user == "bob" and h.current_user == "bob"
    assert calls == [1]
    h.current_user = "alice"
    assert h.current_user == "alice"
    assert make(embedtornado.web).current_user is None


def test_require_setting_and_login_url():
    ours, theirs = both()
    o = outcome(ours.get_login_url)
    t = outcome(theirs.get_login_url)
    assert o[0] == t[0] == "Exception"
    assert o[1] == "You must define the 'login_url' setting in your application to use " \
                   "@embedtornado.web.authenticated"
    ours, theirs = both(login_url="/in")
    assert ours.get_login_url() == theirs.get_login_url() == "/in"
    assert outcome(ours.require_setting, "x", "y") == outcome(theirs.require_setting, "x", "y")
    assert ours.settings is ours.application.settings


def test_reverse_url():
    from embedtornado.web import url

    class H(RequestHandler):
        pass

    app = Application([url(r"/items/(\d+)", H, name="item")])
    h = make(embedtornado.web, H, app=app)
    assert h.reverse_url("item", 42) == "/items/42"
    with pytest.raises(KeyError):
        h.reverse_url("nope")


def test_render_needs_a_template_and_static_url_a_static_path(tmp_path):
    h = make(embedtornado.web, template_path=str(tmp_path))
    with pytest.raises(FileNotFoundError):
        h.render_string("x.html")
    (tmp_path / "x.html").write_text("{{ 1 + 1 }}")
    assert h.render_string("x.html") == b"2"
    with pytest.raises(Exception, match="static_path"):
        h.static_url("a.css")
    h = make(embedtornado.web)
    assert h.get_template_path() is None
    assert make(embedtornado.web, template_path="/t").get_template_path() == "/t"


def test_static_url_with_a_static_handler_class():
    class Static:
        @classmethod
        def make_static_url(cls, settings, path, include_version=True):
            return "/s/" + path + ("?v=1" if include_version else "")

    class H(RequestHandler):
        pass

    app = embedtornado.web.Application([], static_path="/x", static_handler_class=Static)
    h = make(embedtornado.web, H, app=app)
    assert h.static_url("a.css") == "/s/a.css?v=1"
    assert h.static_url("a.css", include_host=True, include_version=False) == \
        "http://example.com/s/a.css"
    h.include_host = True
    assert h.static_url("a.css") == "http://example.com/s/a.css?v=1"
    del h.include_host
    assert h.render_linked_css(["a.css", "/abs.css", "a.css"]) == (
        '<link href="/s/a.css?v=1" type="text/css" rel="stylesheet"/>'
        '<link href="/abs.css" type="text/css" rel="stylesheet"/>')
    assert h.render_linked_js(["https://cdn/x.js"]) == \
        '<script src="https://cdn/x.js" type="text/javascript"></script>'


def test_render_embeds_match_tornado():
    ours, theirs = both()
    assert ours.render_embed_js([b"a()", b"b()"]) == theirs.render_embed_js([b"a()", b"b()"])
    assert ours.render_embed_css([b"p{}"]) == theirs.render_embed_css([b"p{}"])


@pytest.mark.parametrize("accept", [
    None, "fr;q=0.5, de", "de-DE,de;q=0.9,en;q=0.8", "es;q=0, fr;q=0.1", "x;q=abc, de",
    "es-ES", "pt-BR, *;q=0.5", "", "de;q=-1, fr", " fr_fr ;q=1.0",
])
def test_browser_locale_matches_tornado(tmp_path, accept):
    (tmp_path / "fr_FR.csv").write_text('"apple","pomme"\n')
    (tmp_path / "de.csv").write_text('"apple","Apfel"\n')
    with translations_in_both(str(tmp_path)):
        headers = {} if accept is None else {"Accept-Language": accept}
        ours, theirs = both(headers=headers)
        assert ours.locale.code == theirs.locale.code
        assert ours.locale.translate("apple") == theirs.locale.translate("apple")
        assert ours.get_browser_locale("de").code == theirs.get_browser_locale("de").code
        assert ours.get_template_namespace()["_"]("apple") == ours.locale.translate("apple")


def test_locale_property_prefers_the_user_locale_and_can_be_set():
    import embedtornado.locale

    class H(embedtornado.web.RequestHandler):
        def get_user_locale(self):
            return embedtornado.locale.get("en")

    h = make(embedtornado.web, H, headers={"Accept-Language": "fr"})
    assert h.locale is embedtornado.locale.get("en_US")
    h = make(embedtornado.web, headers={"Accept-Language": "fr"})
    assert h.get_user_locale() is None
    h.locale = "fixed"
    assert h.locale == "fixed"


def test_ui_namespace():
    def upper(handler, text):
        return text.upper()

    class H(RequestHandler):
        pass

    app = Application([], ui_methods={"upper": upper})
    h = make(embedtornado.web, H, app=app)
    assert h.ui.upper("x") == "X"
    assert h.ui["modules"] is h.ui["_tt_modules"]
    with pytest.raises(AttributeError):
        _ = h.ui.modules.NoSuchModule
    h.finish()
    assert h.ui is None


def test_detach():
    h = make(embedtornado.web)
    assert h.detach() == "the-transport"
    assert h._finished


def test_flush_after_headers_for_head_returns_done_future():
    h = make(embedtornado.web, method="HEAD")

    async def go():
        h.write("abc")
        await h.flush()
        h.write("def")
        return await h.flush()

    assert _LOOP.run_until_complete(go()) is None
    assert h.request.connection.chunks == []


def test_finish_returns_the_connection_future():
    h = make(embedtornado.web)
    fut = h.finish("x")
    assert fut.done() and fut.result() is None
    with pytest.raises(RuntimeError, match="finish\\(\\) called twice"):
        h.finish()


def test_xsrf_cookies_refuse_unsafe_methods_without_token(quiet):
    """With xsrf_cookies, a POST without a token is refused (403) before the method runs."""

    class H(RequestHandler):
        def post(self):
            self.write("must not run")

        def get(self):
            self.write("safe")

    app = Application([], xsrf_cookies=True)
    post = make(embedtornado.web, H, app=app, method="POST")
    assert post._execute([]) is None
    assert post.get_status() == 403
    get = make(embedtornado.web, H, app=app)
    get._execute([])
    assert get.get_status() == 200


@pytest.fixture
def quiet():
    with LogCapture("embedtornado", "tornado") as cap:
        yield cap


# --- cross-origin protection (Tornado 6.6), side by side ----------------------------------


def cors_handlers(web):
    class Form(web.RequestHandler):
        def get(self):
            self.write("read")

        def post(self):
            self.write("written")

    class Trusting(Form):
        def check_trusted_origin(self, origin):
            return origin.endswith(".trusted.example")

    return [(r"/form", Form), (r"/trusting", Trusting),
            (r"/missing", web.ErrorHandler, {"status_code": 404})]


@pytest.fixture(scope="module")
def cors_dual():
    yield from dual_harness(cors_handlers, cross_origin_protection=True,
                            trusted_origins=["https://ok.example"])


@pytest.mark.parametrize("path", ["/form", "/trusting", "/missing"])
@pytest.mark.parametrize("headers", [
    {},
    {"Origin": "http://example.com"},
    {"Origin": "http://evil.example"},
    {"Origin": "https://ok.example"},
    {"Origin": "https://a.trusted.example"},
    {"Sec-Fetch-Site": "same-origin"},
    {"Sec-Fetch-Site": "none", "Origin": "http://evil.example"},
    {"Sec-Fetch-Site": "cross-site", "Origin": "http://evil.example"},
    {"Sec-Fetch-Site": "cross-site", "Origin": "https://ok.example"},
    {"Sec-Fetch-Site": "same-site"},
    {"Origin": "null"},
])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_cross_origin_protection(cors_dual: Dual, quiet, path, headers, method):
    cors_dual.same(req(method, path, headers, b"" if method == "POST" else None))
    ours = [r.getMessage() for r in quiet.by("embedtornado.general")]
    theirs = [r.getMessage() for r in quiet.by("tornado.general")]
    assert ours == theirs


# --- the client going away ----------------------------------------------------------------


def close_handlers(web):
    class Slow(web.RequestHandler):
        async def get(self):
            self.gone = asyncio.Event()
            record(web).append("get")
            await asyncio.wait_for(self.gone.wait(), 2)
            record(web).append("woke")

        def on_connection_close(self):
            record(web).append("on_connection_close")
            self.gone.set()

        def on_finish(self):
            record(web).append("on_finish")

    return [(r"/slow", Slow)]


@pytest.fixture(scope="module")
def close_dual():
    yield from dual_harness(close_handlers)


def test_on_connection_close(close_dual: Dual, quiet):
    async def go(connect):
        reader, writer = await connect()
        writer.write(req("GET", "/slow"))
        await asyncio.sleep(0.05)
        writer.close()
        await asyncio.sleep(0.1)

    close_dual.run(go(close_dual.h.connect))
    ours = events()[0]
    close_dual.run(go(close_dual.h.connect_tornado))
    theirs = events()[1]
    assert ours == theirs
    assert ours[:3] == ["get", "on_connection_close", "woke"]


# --- the exceptions -------------------------------------------------------------------------


@pytest.mark.parametrize("args,kwargs", [
    ((), {}),
    ((404,), {}),
    ((404, "gone %s", "away"), {}),
    ((400, "100% wrong"), {}),
    ((400, "%d%%", 5), {}),
    ((599,), {}),
    ((599,), {"reason": "Custom"}),
    ((404, None), {"reason": ""}),
])
def test_http_error_matches_tornado(args, kwargs):
    ours = HTTPError(*args, **kwargs)
    theirs = tornado.web.HTTPError(*args, **kwargs)
    for attr in ("status_code", "log_message", "args", "reason"):
        assert getattr(ours, attr) == getattr(theirs, attr), attr
    assert ours.get_message() == theirs.get_message()
    assert str(ours) == str(theirs)


def test_finish_and_missing_argument():
    assert issubclass(Finish, Exception) and not issubclass(Finish, HTTPError)
    e = MissingArgumentError("x")
    assert isinstance(e, HTTPError) and e.status_code == 400
    assert e.log_message == "Missing argument x" and e.arg_name == "x"
    assert str(e) == str(tornado.web.MissingArgumentError("x"))


def test_log_exception_and_request_summary(quiet):
    ours, theirs = both(uri="/p?q=1")
    assert ours._request_summary() == theirs._request_summary() == "GET /p?q=1 (None)"
    for handler in (ours, theirs):
        try:
            raise HTTPError(403, "why %s", "not") if handler is ours else \
                tornado.web.HTTPError(403, "why %s", "not")
        except Exception:
            import sys
            handler.log_exception(*sys.exc_info())
    assert [r.getMessage() for r in quiet.by("embedtornado.general")] == \
        [r.getMessage() for r in quiet.by("tornado.general")] == ["403 GET /p?q=1 (None): why not"]


def test_write_types():
    ours, theirs = both()
    for value in ("s", b"b", {"d": 1}, [1], (1,), 1, None, bytearray(b"x")):
        assert outcome(ours.write, value) == outcome(theirs.write, value)
    assert ours._write_buffer == theirs._write_buffer
    assert ours._headers["Content-Type"] == theirs._headers["Content-Type"]


def test_clear_resets_everything():
    ours, theirs = both()
    for h in (ours, theirs):
        h.set_status(404)
        h.set_header("X", "y")
        h.write("body")
        h.clear()
    assert sorted(ours._headers) == sorted(theirs._headers) == [
        "Content-Type", "Date", "Server"]
    assert ours._write_buffer == [] and ours.get_status() == 200 and ours._reason == "OK"


def test_date_header_formatting():
    h = make(embedtornado.web)
    parsed = datetime.datetime.strptime(h._headers["Date"], "%a, %d %b %Y %H:%M:%S GMT")
    assert abs((datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
                - parsed).total_seconds()) < 5


def test_overridden_convert_header_value_is_used():
    def cls(web):
        class Upper(web.RequestHandler):
            def _convert_header_value(self, value):
                return super()._convert_header_value(value).upper()

        return Upper

    ours, theirs = both(cls)
    for h in (ours, theirs):
        h._transforms = []
        h.set_header("X-Case", "abc")
        h.write("x")
        h.finish()
    assert ours._headers["X-Case"] == theirs._headers["X-Case"] == "ABC"
    assert ours._headers["Etag"] == theirs._headers["Etag"]
    assert ours._headers["Content-Length"] == theirs._headers["Content-Length"] == "1"


# Names of tornado.web that arrive with later issues (signed values, static files, UI
# modules); everything else public in tornado.web must be importable from embedtornado.web.
LATER: set[str] = set()


def test_tornado_web_names_exist():
    import types

    missing = []
    for name in dir(tornado.web):
        value = getattr(tornado.web, name)
        if name.startswith("_") or isinstance(value, types.ModuleType) or name in LATER:
            continue
        if getattr(value, "__module__", "tornado.web").startswith(("typing", "collections")):
            continue  # typing names imported by tornado.web
        if name in ("BytesIO", "Future", "TracebackType", "cast", "isclass", "overload",
                    "urlencode", "future_set_result_unless_cancelled"):
            continue  # tornado.web's own imports, not its API
        if not hasattr(embedtornado.web, name):
            missing.append(name)
    assert missing == []
    handler_missing = [
        n for n in dir(tornado.web.RequestHandler)
        if not n.startswith("__") and not hasattr(RequestHandler, n)
    ]
    assert handler_missing == []
