"""ErrorHandler, RedirectHandler, FallbackHandler and gzip, side by side with Tornado 6.6.1."""

from __future__ import annotations

import gzip

import pytest
from webtools import Dual, LogCapture, dual_harness, req


def handlers(web):
    import tornado.httputil

    import embedtornado.httputil

    httputil = tornado.httputil if web.__name__ == "tornado.web" else embedtornado.httputil

    def fallback(request):
        body = b"fallback " + request.uri.encode() + b" " + request.body
        request.connection.write_headers(
            httputil.ResponseStartLine("HTTP/1.1", 200, "OK"),
            httputil.HTTPHeaders({"Content-Length": str(len(body)), "X-Fallback": "yes"}))
        request.connection.write(body)
        request.connection.finish()

    class Big(web.RequestHandler):
        def get(self):
            ctype = self.get_query_argument("ctype", None)
            if ctype:
                self.set_header("Content-Type", ctype)
            if self.get_query_argument("vary", None):
                self.set_header("Vary", "Cookie")
            if self.get_query_argument("encoded", None):
                self.set_header("Content-Encoding", "br")
            size = int(self.get_query_argument("size", "2000"))
            self.write(("0123456789abcdef" * (size // 16 + 1))[:size])

    class Chunked(web.RequestHandler):
        async def get(self):
            self.write("first part " * 10)
            await self.flush()
            self.write("second part " * 10)
            await self.flush()
            self.write("end")

    class Json(web.RequestHandler):
        def get(self):
            self.write({"k": "v" * 2000})

    class Status(web.RequestHandler):
        def get(self):
            self.set_status(404)
            self.write("x" * 2000)

    return [
        (r"/gone", web.ErrorHandler, {"status_code": 410}),
        (r"/teapot", web.ErrorHandler, {"status_code": 418}),
        (r"/odd", web.ErrorHandler, {"status_code": 599}),
        (r"/old", web.RedirectHandler, {"url": "/new"}),
        (r"/temp", web.RedirectHandler, {"url": "/new", "permanent": False}),
        (r"/swap/(.*?)/(.*?)/(.*)", web.RedirectHandler, {"url": "/{1}/{0}/{2}"}),
        (r"/named/(?P<id>\d+)", web.RedirectHandler, {"url": "/items/{id}"}),
        (r"/sub/(.*)", web.RedirectHandler, {"url": "/{0}/b"}),
        (r"/host/(.*)", web.RedirectHandler, {"url": "http://{0}/x"}),
        (r"/scheme/(.*)", web.RedirectHandler, {"url": "{0}://example.com/"}),
        (r"/fixed/(.*)", web.RedirectHandler, {"url": "https://static.example/{0}"}),
        (r"/empty_host/(.*)", web.RedirectHandler, {"url": "https:///{0}"}),
        (r"/legacy/.*", web.FallbackHandler, {"fallback": fallback}),
        (r"/big", Big),
        (r"/chunked", Chunked),
        (r"/json", Json),
        (r"/status", Status),
    ]


@pytest.fixture(scope="module")
def dual():
    yield from dual_harness(handlers)


@pytest.fixture(scope="module")
def dual_gzip():
    yield from dual_harness(handlers, compress_response=True)


@pytest.fixture(scope="module")
def dual_gzip_old():
    yield from dual_harness(handlers, gzip=True)


@pytest.fixture(autouse=True)
def quiet_logs():
    with LogCapture("embedtornado", "tornado") as cap:
        yield cap


@pytest.mark.parametrize("method", ["GET", "POST", "HEAD", "DELETE"])
@pytest.mark.parametrize("path", ["/gone", "/teapot", "/odd", "/nowhere"])
def test_error_handler(dual: Dual, method: str, path: str):
    dual.same(req(method, path, body=b"" if method == "POST" else None))


def test_error_handler_page(dual: Dual):
    resp = dual.same(req("GET", "/gone"))
    assert resp.code == 410
    assert resp.body == b"<html><title>410: Gone</title><body>410: Gone</body></html>"


@pytest.mark.parametrize("path", [
    "/old", "/old?a=1&a=2&b=%20", "/temp", "/swap/a/b/c", "/swap/a/b/c?q=1", "/named/42",
    "/sub/x", "/sub/", "/sub//evil.example", "/sub/%2Fevil.example", "/sub/\\evil",
    "/sub/%5Cevil.example", "/sub/%09/evil", "/host/evil.example", "/scheme/javascript",
    "/fixed/a/b", "/fixed/..%2F..", "/empty_host/evil.example", "/sub/%0D%0Ax",
    "/sub/%00", "/old?x=%0D%0A",
])
def test_redirect_handler(dual: Dual, path: str):
    dual.same(req("GET", path))


def test_redirect_handler_targets(dual: Dual):
    resp = dual.same(req("GET", "/swap/a/b/c?q=1"))
    assert resp.code == 301 and resp.headers["location"] == "/b/a/c?q=1"
    assert dual.same(req("GET", "/temp")).code == 302
    assert dual.same(req("GET", "/named/42")).headers["location"] == "/items/42"
    # Tornado 6.6's open-redirect fix: substitutions may not introduce a host.
    assert dual.same(req("GET", "/sub//evil.example")).code == 400
    assert dual.same(req("GET", "/sub/\\evil")).code == 400
    assert dual.same(req("GET", "/host/evil.example")).code == 400
    assert dual.same(req("GET", "/fixed/a/b")).headers["location"] == \
        "https://static.example/a/b"
    assert dual.same(req("POST", "/old", body=b"")).code == 405


@pytest.mark.parametrize("data", [
    req("GET", "/legacy/x?y=1"),
    req("POST", "/legacy/p", {"Content-Type": "text/plain"}, b"body"),
])
def test_fallback_handler(dual: Dual, data: bytes, quiet_logs):
    resp = dual.same(data)
    assert resp.headers["x-fallback"] == "yes"
    # No access log line: the fallback answered, not a handler.
    assert quiet_logs.by("embedtornado.access") == quiet_logs.by("tornado.access") == []


# --- gzip ------------------------------------------------------------------------------


def _gunzip(resp):
    if resp.headers.get("content-encoding") == "gzip":
        body = gzip.decompress(resp.body)
        headers = [(k, v) for k, v in resp.header_list
                   if k.lower() not in ("content-length", "etag")]
        return resp.code, headers, body
    return resp.code, resp.header_list, resp.body


def _same_gzip(d: Dual, data: bytes):
    ours, theirs = d.both(data)
    o_code, o_headers, o_body = _gunzip(ours)
    t_code, t_headers, t_body = _gunzip(theirs)
    assert (o_code, o_body) == (t_code, t_body)
    skip = ("date", "server")
    assert [(k, v) for k, v in o_headers if k.lower() not in skip] == \
        [(k, v) for k, v in t_headers if k.lower() not in skip]
    return ours


@pytest.mark.parametrize("path", [
    "/big", "/big?size=1023", "/big?size=1024", "/big?ctype=application/octet-stream",
    "/big?ctype=application/json", "/big?ctype=image/svg%2Bxml", "/big?ctype=text/csv",
    "/big?vary=1", "/big?encoded=1", "/chunked", "/json", "/status", "/gone", "/old",
])
@pytest.mark.parametrize("accept", [None, "gzip", "gzip, deflate, br", "identity", "x-gzip"])
def test_gzip(dual_gzip: Dual, path: str, accept):
    headers = {} if accept is None else {"Accept-Encoding": accept}
    _same_gzip(dual_gzip, req("GET", path, headers))


def test_gzip_details(dual_gzip: Dual):
    resp = _same_gzip(dual_gzip, req("GET", "/big", {"Accept-Encoding": "gzip"}))
    assert resp.headers["content-encoding"] == "gzip"
    assert resp.headers["vary"] == "Accept-Encoding"
    assert int(resp.headers["content-length"]) == len(resp.body) < 2000
    resp = _same_gzip(dual_gzip, req("GET", "/big?size=100", {"Accept-Encoding": "gzip"}))
    assert "content-encoding" not in resp.headers and resp.headers["vary"] == "Accept-Encoding"
    resp = _same_gzip(dual_gzip, req("GET", "/chunked", {"Accept-Encoding": "gzip"}))
    assert resp.headers["transfer-encoding"] == "chunked"
    assert resp.headers["content-encoding"] == "gzip"
    resp = _same_gzip(dual_gzip, req("GET", "/big?vary=1", {"Accept-Encoding": "gzip"}))
    assert resp.headers["vary"] == "Cookie, Accept-Encoding"


def test_gzip_head_and_etag(dual_gzip: Dual):
    _same_gzip(dual_gzip, req("HEAD", "/big", {"Accept-Encoding": "gzip"}))
    first = _same_gzip(dual_gzip, req("GET", "/big", {"Accept-Encoding": "gzip"}))
    # The Etag is computed before compression, so it matches the plain body's.
    _same_gzip(dual_gzip, req("GET", "/big", {"Accept-Encoding": "gzip",
                                              "If-None-Match": first.headers["etag"]}))


def test_gzip_old_setting_name(dual_gzip_old: Dual):
    resp = _same_gzip(dual_gzip_old, req("GET", "/big", {"Accept-Encoding": "gzip"}))
    assert resp.headers["content-encoding"] == "gzip"


def test_no_gzip_without_setting(dual: Dual):
    resp = dual.same(req("GET", "/big", {"Accept-Encoding": "gzip"}))
    assert "content-encoding" not in resp.headers and "vary" not in resp.headers
