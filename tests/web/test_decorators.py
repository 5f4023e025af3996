"""authenticated, addslash, removeslash and stream_request_body, side by side with Tornado 6.6.1."""

from __future__ import annotations

import asyncio

import pytest
from webtools import Dual, LogCapture, dual_harness, events, record, req

from embedtornado.web import RequestHandler, stream_request_body
from embedtornado.web.decorators import (
    _has_stream_request_body,
    _is_protocol_relative,
    _normalize_url_like_browser,
    _scheme_and_netloc,
)


def handlers(web):
    class Private(web.RequestHandler):
        def get_current_user(self):
            return self.get_cookie("user")

        @web.authenticated
        def get(self):
            self.write("hello " + self.current_user)

        @web.authenticated
        def post(self):
            self.write("posted")

        @web.authenticated
        async def put(self):
            await asyncio.sleep(0)
            self.write("put")

    class PrivateAbsolute(Private):
        def get_login_url(self):
            return "https://login.example/login"

    class PrivateQuery(Private):
        def get_login_url(self):
            return "/login?from=app"

    class AddSlash(web.RequestHandler):
        @web.addslash
        def get(self, *args):
            self.write("slashed " + self.request.path)

        @web.addslash
        def post(self, *args):
            self.write("post " + self.request.path)

    class RemoveSlash(web.RequestHandler):
        @web.removeslash
        def get(self, *args):
            self.write("unslashed " + self.request.path)

        @web.removeslash
        def post(self, *args):
            self.write("post " + self.request.path)

    @web.stream_request_body
    class Stream(web.RequestHandler):
        def prepare(self):
            record(web).append(("prepare", self.request.headers.get("Content-Length")))
            self.received = []

        def data_received(self, chunk):
            self.received.append(len(chunk))

        def post(self):
            record(web).append(("post", sum(self.received)))
            self.write({"total": sum(self.received), "args": self.request.arguments != {}})

        put = post

    @web.stream_request_body
    class AsyncStream(web.RequestHandler):
        async def prepare(self):
            await asyncio.sleep(0)
            self.size = 0

        async def data_received(self, chunk):
            await asyncio.sleep(0)
            self.size += len(chunk)

        def put(self):
            self.write("size %d" % self.size)

    @web.stream_request_body
    class StreamReject(web.RequestHandler):
        def prepare(self):
            raise web.HTTPError(413, reason="Too Big For Me")

        def data_received(self, chunk):
            raise AssertionError("not reached")

        def post(self):
            raise AssertionError("not reached")

    return [
        (r"/private", Private),
        (r"/private_abs", PrivateAbsolute),
        (r"/private_query", PrivateQuery),
        (r"/add(/.*)?", AddSlash),
        (r"/rm(/.*)?", RemoveSlash),
        (r"(//.*)", AddSlash),
        (r"/stream", Stream),
        (r"/astream", AsyncStream),
        (r"/stream_reject", StreamReject),
    ]


@pytest.fixture(scope="module")
def dual():
    yield from dual_harness(handlers, login_url="/login")


@pytest.fixture(autouse=True)
def quiet_logs():
    with LogCapture("embedtornado", "tornado") as cap:
        yield cap


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT"])
@pytest.mark.parametrize("path", ["/private", "/private?x=1&y=%20", "/private_abs?a=b",
                                  "/private_query"])
@pytest.mark.parametrize("cookie", [None, "user=bob"])
def test_authenticated(dual: Dual, method: str, path: str, cookie):
    headers = {} if cookie is None else {"Cookie": cookie}
    body = b"" if method in ("POST", "PUT") else None
    dual.same(req(method, path, headers, body))


def test_authenticated_redirects(dual: Dual):
    resp = dual.same(req("GET", "/private?x=1"))
    assert resp.code == 302 and resp.headers["location"] == "/login?next=%2Fprivate%3Fx%3D1"
    resp = dual.same(req("GET", "/private_abs"))
    assert resp.headers["location"] == (
        "https://login.example/login?next=http%3A%2F%2Fexample.com%2Fprivate_abs")
    assert dual.same(req("GET", "/private_query")).headers["location"] == "/login?from=app"
    assert dual.same(req("POST", "/private", body=b"")).code == 403
    assert dual.same(req("GET", "/private", {"Cookie": "user=bob"})).body == b"hello bob"


@pytest.mark.parametrize("path", [
    "/add", "/add/", "/add/x", "/add/x/", "/add/x?q=1", "/add?q=%20", "/rm", "/rm/",
    "/rm/x", "/rm/x/", "/rm/x///", "/rm/x/?q=1", "//evil.example", "//evil.example/",
    "/rm//evil.example/", "/add/\\evil",
])
@pytest.mark.parametrize("method", ["GET", "HEAD", "POST"])
def test_slash_decorators(dual: Dual, path: str, method: str):
    body = b"" if method == "POST" else None
    dual.same(req(method, path, body=body))


def test_slash_redirects(dual: Dual):
    resp = dual.same(req("GET", "/add/x?q=1"))
    assert resp.code == 301 and resp.headers["location"] == "/add/x/?q=1"
    resp = dual.same(req("GET", "/rm/x///?q=1"))
    assert resp.code == 301 and resp.headers["location"] == "/rm/x?q=1"
    assert dual.same(req("POST", "/add/x", body=b"")).code == 404
    # Never redirect to another host.
    assert dual.same(req("GET", "//evil.example")).code == 403


def test_stream_request_body(dual: Dual):
    body = b"x" * 100000
    resp = dual.same(req("POST", "/stream", {"Content-Type": "application/x-www-form-urlencoded"},
                         body))
    assert resp.body == b'{"total": 100000, "args": false}'
    ours, theirs = events()
    assert ours == theirs == [("prepare", "100000"), ("post", 100000)]
    assert dual.same(req("PUT", "/stream", body=b"")).body == b'{"total": 0, "args": false}'
    events()


def test_stream_request_body_chunked(dual: Dual):
    data = (b"POST /stream HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    assert dual.same(data).body == b'{"total": 11, "args": false}'
    events()


def test_stream_request_body_async(dual: Dual):
    assert dual.same(req("PUT", "/astream", body=b"y" * 70000)).body == b"size 70000"


def test_stream_request_body_rejected_in_prepare(dual: Dual):
    ours, theirs = dual.raw(req("POST", "/stream_reject", {"Connection": "close"},
                                b"z" * 1000))
    assert ours.startswith(b"HTTP/1.1 413 Too Big For Me\r\n")
    assert theirs.startswith(b"HTTP/1.1 413 Too Big For Me\r\n")


def test_stream_request_body_client_goes_away(dual: Dual):
    """on_connection_close fails the body future; the method never runs."""
    async def go(connect):
        reader, writer = await connect()
        writer.write(req("POST", "/stream", body=b"x" * 10)[:-5])
        await asyncio.sleep(0.05)
        writer.close()
        await asyncio.sleep(0.05)

    dual.run(go(dual.h.connect))
    dual.run(go(dual.h.connect_tornado))
    ours, theirs = events()
    assert ours == theirs == [("prepare", "10")]


def test_stream_request_body_decorator_checks_type():
    with pytest.raises(TypeError):
        stream_request_body(int)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        _has_stream_request_body(object)  # type: ignore[arg-type]

    class H(RequestHandler):
        pass

    assert not _has_stream_request_body(H)
    assert stream_request_body(H) is H and _has_stream_request_body(H)
    assert not _has_stream_request_body(RequestHandler)


# --- the URL helpers, against Tornado's own --------------------------------------------


URLS = [
    "", "/", "//", "///x", "//evil.com", "/\\evil.com", "\\\\evil.com", " //evil.com",
    "\t//evil.com", "/\t/evil.com", "/\n/evil.com", "\x00//x", "http://a/b", "HTTP://A/B",
    "https:///host", "https:evil.com", "/path?q=//x", "mailto:x@y", "http://[::1]:8/",
    "http://u:p@h:1/", "http://[bad/", "/x\r\n/y", "\\/evil", "//\\evil",
]


@pytest.mark.parametrize("url", URLS)
def test_url_helpers_match_tornado(url: str):
    import tornado.web

    assert _normalize_url_like_browser(url) == tornado.web._normalize_url_like_browser(url)
    assert _is_protocol_relative(url) == tornado.web._is_protocol_relative(url)
    try:
        theirs = tornado.web._scheme_and_netloc(url)
    except ValueError:
        with pytest.raises(ValueError):
            _scheme_and_netloc(url)
    else:
        assert _scheme_and_netloc(url) == theirs
