"""RequestHandler input: arguments, bodies, uploads, path groups, cookies, users.

Side by side with Tornado 6.6.1 where a server is involved; the seed tutorial's
examples (the six argument getters, the upload, the regex captures, the JSON
body read in prepare) run here ported to Python 3.
"""

from __future__ import annotations

import json
import re

import pytest
from webtools import Dual, LogCapture, dual_harness, req

from embedtornado.web import MissingArgumentError


def handlers(web):
    class SixGetters(web.RequestHandler):
        """The seed tutorial's example of the six argument getters."""

        def post(self):
            query_arg = self.get_query_argument("a")
            query_args = self.get_query_arguments("a")
            body_arg = self.get_body_argument("a")
            body_args = self.get_body_arguments("a", strip=False)
            arg = self.get_argument("a")
            args = self.get_arguments("a")

            default_arg = self.get_argument("b", "itcast")
            default_args = self.get_arguments("b")

            try:
                missing_arg = self.get_argument("c")
            except web.MissingArgumentError as e:
                missing_arg = "We catched the MissingArgumentError! %s" % e
            missing_args = self.get_arguments("c")

            rep = "query_arg:%s<br/>" % query_arg
            rep += "query_args:%s<br/>" % query_args
            rep += "body_arg:%s<br/>" % body_arg
            rep += "body_args:%s<br/>" % body_args
            rep += "arg:%s<br/>" % arg
            rep += "args:%s<br/>" % args
            rep += "default_arg:%s<br/>" % default_arg
            rep += "default_args:%s<br/>" % default_args
            rep += "missing_arg:%s<br/>" % missing_arg
            rep += "missing_args:%s<br/>" % missing_args
            self.write(rep)

    class Args(web.RequestHandler):
        """Echo every getter's view of argument ``a`` as JSON."""

        def _dump(self, *args, **kwargs):
            out = {}
            for getter in ("get_argument", "get_query_argument", "get_body_argument"):
                for strip in (True, False):
                    out["%s/%s" % (getter, strip)] = getattr(self, getter)("a", None, strip)
            for getter in ("get_arguments", "get_query_arguments", "get_body_arguments"):
                for strip in (True, False):
                    out["%s/%s" % (getter, strip)] = getattr(self, getter)("a", strip)
            out["default"] = self.get_argument("zz", "dflt")
            out["default_none"] = self.get_argument("zz", None)
            out["path_args"] = self.path_args
            out["path_kwargs"] = self.path_kwargs
            out["arguments"] = sorted(self.request.arguments)
            self.write(out)

        get = post = put = patch = delete = _dump

    class Required(web.RequestHandler):
        def get(self):
            which = self.get_query_argument("which")
            if which == "query":
                self.get_query_argument("c")
            elif which == "body":
                self.get_body_argument("c")
            else:
                self.get_argument("c")

    class Upload(web.RequestHandler):
        """The seed tutorial's upload example, answering with what it saw."""

        def post(self):
            files = self.request.files
            out = {}
            for name, entries in files.items():
                out[name] = [
                    {"filename": f.filename, "content_type": f.content_type,
                     "body": f.body.decode("latin-1"), "dict_body": f["body"].decode("latin-1")}
                    for f in entries
                ]
            out["args"] = {k: [v.decode("latin-1") for v in vs]
                           for k, vs in self.request.body_arguments.items()}
            self.write(out)

    class SubjectCity(web.RequestHandler):
        def get(self, subject, city):
            self.write("Subject: %s<br/>City: %s" % (subject, city))

    class SubjectDate(web.RequestHandler):
        def get(self, date, subject):
            self.write("Date: %s<br/>Subject: %s" % (date, subject))

    class Optional(web.RequestHandler):
        def get(self, a, b):
            self.write({"a": a, "b": b, "args": self.path_args})

    class JsonPrepare(web.RequestHandler):
        """The seed tutorial's prepare() that decodes a JSON body."""

        def prepare(self):
            if self.request.headers.get("Content-Type", "").startswith("application/json"):
                self.json_dict = json.loads(self.request.body)
            else:
                self.json_dict = None

        def post(self):
            if self.json_dict:
                for key, value in self.json_dict.items():
                    self.write("<h3>%s</h3><p>%s</p>" % (key, value))

        put = post

    class Latin1(web.RequestHandler):
        def decode_argument(self, value, name=None):
            return value.decode("latin-1")

        def get(self, part):
            self.write({"part": part, "a": self.get_argument("a")})

    class RawBytes(web.RequestHandler):
        def decode_argument(self, value, name=None):
            return value

        def get(self):
            self.write(repr(self.get_arguments("a")))

    class Request(web.RequestHandler):
        def get(self):
            r = self.request
            self.write({
                "method": r.method, "uri": r.uri, "path": r.path, "query": r.query,
                "version": r.version, "host": r.host, "host_name": r.host_name,
                "remote_ip": r.remote_ip, "protocol": r.protocol, "full_url": r.full_url(),
                "body": r.body.decode(), "header": r.headers.get("X-Custom"),
                "request_time_ok": 0 <= r.request_time() < 5,
            })

        post = get

    class Cookies(web.RequestHandler):
        def get(self):
            self.write({
                "a": self.get_cookie("a"),
                "missing": self.get_cookie("missing", "dflt"),
                "names": sorted(self.cookies),
                "request_names": sorted(self.request.cookies),
            })

    class SetCookie(web.RequestHandler):
        def get(self):
            case = self.get_query_argument("case")
            if case == "basic":
                self.set_cookie("n", "v")
            elif case == "attrs":
                self.set_cookie("n", "v", domain="example.com", path="/p",
                                expires=1700000000, httponly=True, secure=True,
                                samesite="Lax", max_age=60)
            elif case == "twice":
                self.set_cookie("n", "first")
                self.set_cookie("n", "second")
                self.set_cookie("m", "other")
            elif case == "quoted":
                self.set_cookie("n", 'a"b\\c,d')
            elif case == "bytes":
                self.set_cookie("n", b"bytes-value")
            elif case == "no_path":
                self.set_cookie("n", "v", path=None)
            elif case == "bad_name":
                self.set_cookie("a;b", "v")
            elif case == "bad_value":
                self.set_cookie("n", "a b")
            elif case == "bad_domain":
                self.set_cookie("n", "v", domain="x.com; evil")
            elif case == "bad_path":
                self.set_cookie("n", "v", path="/\x00")
            elif case == "bad_samesite":
                self.set_cookie("n", "v", samesite="Lax;x")
            elif case == "bad_max_age":
                self.set_cookie("n", "v", max_age="60; Secure")
            elif case == "clear":
                self.clear_cookie("n")
            elif case == "clear_path":
                self.clear_cookie("n", path="/p", domain="example.com")
            elif case == "clear_expires":
                self.clear_cookie("n", expires=1)
            elif case == "clear_all":
                self.clear_all_cookies()
            elif case == "with_error":
                self.set_cookie("n", "v")
                raise web.HTTPError(400)
            self.write("ok")

    return [
        (r"/six", SixGetters),
        (r"/args", Args),
        (r"/args/(\w+)/(\d+)", Args),
        (r"/args/named/(?P<first>[^/]+)/(?P<second>[^/]+)", Args),
        (r"/required", Required),
        (r"/upload", Upload),
        (r"/sub-city/(.+)/([a-z]+)", SubjectCity),
        (r"/sub-date/(?P<subject>.+)/(?P<date>\d+)", SubjectDate),
        (r"/optional/(a)?/(b)?", Optional),
        (r"/json", JsonPrepare),
        (r"/latin1/(.*)", Latin1),
        (r"/rawbytes", RawBytes),
        (r"/request", Request),
        (r"/cookies", Cookies),
        (r"/setcookie", SetCookie),
    ]


@pytest.fixture(scope="module")
def dual():
    yield from dual_harness(handlers)


@pytest.fixture(autouse=True)
def quiet_logs():
    with LogCapture("embedtornado", "tornado") as cap:
        yield cap


FORM = "application/x-www-form-urlencoded"


def post(path: str, body: bytes, ctype: str | None = FORM, method: str = "POST",
         **headers: str) -> bytes:
    if ctype is not None:
        headers["Content-Type"] = ctype
    return req(method, path, headers, body)


def multipart(parts: list[tuple[str, str | None, str | None, bytes]],
              boundary: str = "XyZ") -> tuple[str, bytes]:
    out = b""
    for name, filename, ctype, body in parts:
        out += b"--" + boundary.encode() + b"\r\n"
        disp = 'Content-Disposition: form-data; name="%s"' % name
        if filename is not None:
            disp += '; filename="%s"' % filename
        out += disp.encode("utf-8") + b"\r\n"
        if ctype:
            out += b"Content-Type: " + ctype.encode() + b"\r\n"
        out += b"\r\n" + body + b"\r\n"
    out += b"--" + boundary.encode() + b"--\r\n"
    return "multipart/form-data; boundary=" + boundary, out


# --- arguments ---------------------------------------------------------------------


def test_six_getters_seed_example(dual: Dual):
    resp = dual.same(post("/six?a=1&a=2", b"a=3&a=4&a=%20five%20"))
    assert resp.body.startswith(b"query_arg:2<br/>query_args:['1', '2']<br/>body_arg:five")
    assert b"body_args:['3', '4', ' five ']" in resp.body
    assert b"default_arg:itcast" in resp.body
    assert b"missing_arg:We catched the MissingArgumentError! HTTP 400: Bad Request " \
           b"(Missing argument c)" in resp.body


@pytest.mark.parametrize("query", [
    "a=1", "a=1&a=2", "a=", "a", "a=%20padded%20", "a=+plus+", "a=%01ctrl%1F%0B%7F",
    "a=%09tab%0Anl%0D", "a=caf%C3%A9", "a=%E2%80%8Bzw", "a=%C2%A0nbsp%C2%A0", "b=other",
    "a=1;a=2", "a=%00nul", "&&a=x&&", "a=%FF", "a=%C3", "%FF=1",
])
def test_query_arguments(dual: Dual, query: str):
    dual.same(req("GET", "/args?" + query))


@pytest.mark.parametrize("body", [
    b"a=1", b"a=1&a=2", b"a=%20sp%20", b"a=%01x", b"a=%FF", b"", b"a", b"=x",
])
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_body_arguments(dual: Dual, body: bytes, method: str):
    dual.same(post("/args?a=q", body, method=method))


@pytest.mark.parametrize("ctype", [
    "application/x-www-form-urlencoded; charset=UTF-8", "text/plain", "application/json",
    None, "multipart/form-data", "multipart/form-data; boundary=", "multipart/form-dataxyz",
])
def test_body_content_types(dual: Dual, ctype):
    dual.same(post("/args?a=q", b"a=body", ctype=ctype))


def test_body_with_content_encoding_is_a_400(dual: Dual):
    resp = dual.same(post("/args", b"a=1", **{"Content-Encoding": "gzip"}))
    assert resp.code == 400


@pytest.mark.parametrize("which", ["query", "body", "any"])
def test_missing_argument(dual: Dual, which: str, quiet_logs):
    resp = dual.same(req("GET", "/required?which=" + which))
    assert resp.code == 400
    (rec,) = quiet_logs.by("embedtornado.general")
    assert rec.getMessage() == "400 GET /required?which=%s (127.0.0.1): Missing argument c" % (
        which)


def test_argument_values(dual: Dual):
    out = json.loads(dual.same(req("GET", "/args?a=%01x%1Fy%09z%0A&a=%20last%20")).body)
    assert out["get_argument/True"] == "last"
    assert out["get_argument/False"] == " last "
    assert out["get_arguments/False"] == [" x y\tz\n", " last "]
    assert out["get_arguments/True"] == ["x y\tz", "last"]
    assert out["default"] == "dflt" and out["default_none"] is None


def test_invalid_utf8_argument_is_a_400(dual: Dual):
    resp = dual.same(req("GET", "/args?a=%FF"))
    assert resp.code == 400


@pytest.mark.parametrize("path", [
    "/args/abc/12", "/args/named/x%20y/%C3%A9", "/args/named/a%2Fb/c", "/args/named/%FF/x",
    "/sub-city/python/beijing", "/sub-date/python/20160901", "/optional/a/", "/optional//b",
    "/optional//", "/latin1/caf%E9?a=%E9", "/rawbytes?a=%FF&a=x",
])
def test_path_arguments(dual: Dual, path: str):
    dual.same(req("GET", path))


def test_path_arguments_values(dual: Dual):
    assert dual.same(req("GET", "/sub-city/python/beijing")).body == \
        b"Subject: python<br/>City: beijing"
    assert dual.same(req("GET", "/sub-date/python/20160901")).body == \
        b"Date: 20160901<br/>Subject: python"
    out = json.loads(dual.same(req("GET", "/args/named/x%20y/%C3%A9")).body)
    assert out["path_kwargs"] == {"first": "x y", "second": "\xe9"}
    assert out["path_args"] == []
    out = json.loads(dual.same(req("GET", "/optional//b")).body)
    assert out == {"a": None, "b": "b", "args": [None, "b"]}
    assert dual.same(req("GET", "/args/named/%FF/x")).code == 400


def test_json_body_in_prepare(dual: Dual):
    body = json.dumps({"name": "zhangsan", "age": 24}).encode()
    resp = dual.same(post("/json", body, ctype="application/json"))
    assert resp.body == b"<h3>name</h3><p>zhangsan</p><h3>age</h3><p>24</p>"
    dual.same(post("/json", body, ctype="application/json", method="PUT"))
    dual.same(post("/json", b"a=1"))
    assert dual.same(post("/json", b"{bad", ctype="application/json")).code == 500


# --- uploads ----------------------------------------------------------------------


def test_upload_seed_example(dual: Dual):
    ctype, body = multipart([
        ("img", "photo.png", "image/png", b"\x89PNG\r\n\x1a\n\x00binary"),
        ("img", "second.txt", None, b"text"),
        ("title", None, None, b"a title"),
    ])
    resp = dual.same(post("/upload", body, ctype=ctype))
    out = json.loads(resp.body)
    assert out["img"][0] == {"filename": "photo.png", "content_type": "image/png",
                             "body": "\x89PNG\r\n\x1a\n\x00binary",
                             "dict_body": "\x89PNG\r\n\x1a\n\x00binary"}
    assert out["img"][1]["content_type"] == "application/unknown"
    assert out["args"] == {"title": ["a title"]}


@pytest.mark.parametrize("body", [
    b"",
    b"--XyZ--\r\n",
    b"--XyZ\r\nContent-Disposition: form-data\r\n\r\nx\r\n--XyZ--\r\n",
    b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n",
    b"--XyZ\r\nno headers here\r\n--XyZ--\r\n",
    b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--XyZ--\r\n",
    b"--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename*=UTF-8''%C3%A9.txt\r\n"
    b"\r\ndata\r\n--XyZ--\r\n",
])
def test_upload_edge_cases(dual: Dual, body: bytes):
    dual.same(post("/upload", body, ctype="multipart/form-data; boundary=XyZ"))


def test_upload_quoted_boundary(dual: Dual):
    ctype, body = multipart([("f", "a.txt", "text/plain", b"hello")], boundary="q b")
    ctype = 'multipart/form-data; boundary="q b"'
    dual.same(post("/upload", body, ctype=ctype))


# --- the request object -------------------------------------------------------------


@pytest.mark.parametrize("data", [
    req("GET", "/request?x=1&y", {"X-Custom": "hello"}),
    req("POST", "/request", {"Content-Type": "text/plain"}, b"raw body"),
    b"GET /request HTTP/1.0\r\n\r\n",
    b"GET /request HTTP/1.1\r\nHost: Example.COM:8080\r\n\r\n",
])
def test_request_attributes(dual: Dual, data: bytes):
    dual.same(data)


# --- cookies -------------------------------------------------------------------------


@pytest.mark.parametrize("cookie", [
    None, "a=1", "a=1; b=2", 'a="quoted"', "a=1; a=2", "junk", "a=\\x", " a = 1 ; ",
    'a="\\101"', "a=1;;b", "$a=1", "a=1, b=2",
])
def test_get_cookie(dual: Dual, cookie):
    headers = {} if cookie is None else {"Cookie": cookie}
    dual.same(req("GET", "/cookies", headers))


_EXPIRES = re.compile(r"expires=[^;]*")


def _strip_expires(resp):
    resp.header_list = [(k, _EXPIRES.sub("expires=-", v)) for k, v in resp.header_list]
    return resp


@pytest.mark.parametrize("case", [
    "basic", "attrs", "twice", "quoted", "bytes", "no_path", "bad_name", "bad_value",
    "bad_domain", "bad_path", "bad_samesite", "bad_max_age", "clear_expires", "with_error",
])
def test_set_cookie(dual: Dual, case: str):
    dual.same(req("GET", "/setcookie?case=" + case))


def test_set_cookie_attributes(dual: Dual):
    resp = dual.same(req("GET", "/setcookie?case=attrs"))
    (value,) = [v for k, v in resp.header_list if k == "Set-Cookie"]
    assert value == ("n=v; Domain=example.com; expires=Tue, 14 Nov 2023 22:13:20 GMT; "
                     "HttpOnly; Max-Age=60; Path=/p; SameSite=Lax; Secure")
    resp = dual.same(req("GET", "/setcookie?case=twice"))
    assert [v for k, v in resp.header_list if k == "Set-Cookie"] == [
        "n=second; Path=/", "m=other; Path=/"]


@pytest.mark.parametrize("case", ["clear", "clear_path", "clear_all"])
def test_clear_cookie(dual: Dual, case: str):
    ours, theirs = dual.both(req("GET", "/setcookie?case=" + case, {"Cookie": "a=1; b=2"}))
    assert _strip_expires(ours).header_list[3:] == _strip_expires(theirs).header_list[3:]
    values = [v for k, v in ours.header_list if k == "Set-Cookie"]
    assert values
    assert all(v.startswith(('n="";', 'a="";', 'b="";')) for v in values)
    assert all("expires=" in v for v in values)


# --- unit tests without a server ---------------------------------------------------------


def test_missing_argument_error():
    e = MissingArgumentError("name")
    assert e.status_code == 400 and e.arg_name == "name"
    assert str(e) == "HTTP 400: Bad Request (Missing argument name)"
