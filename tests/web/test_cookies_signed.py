"""Cookies and signed cookies over a real socket, beside Tornado 6.6.1.

Plain cookies must come out byte for byte as Tornado's; signed cookies must
be readable by the other framework; hostile ``Cookie`` headers must neither
fail nor take more than linear time.
"""

from __future__ import annotations

import http.cookies

import pytest
import tornado.httputil
from hypothesis import given, settings
from hypothesis import strategies as st
from sectools import make, set_cookies
from webtools import DualHarness, LogCapture, compare, req

import embedtornado.web
from embedtornado import httputil

SECRET = "cookie-test-secret"


def handlers(web):
    class Echo(web.RequestHandler):
        def get(self):
            self.write({k: v.value for k, v in sorted(self.cookies.items())})

    class Get(web.RequestHandler):
        def get(self, name):
            self.write(repr(self.get_cookie(name, "<default>")))

    class SetMany(web.RequestHandler):
        def get(self):
            self.set_cookie("plain", "v")
            self.set_cookie("twice", "first")
            self.set_cookie("twice", "second")
            self.set_cookie("attrs", "x", domain="example.com", path="/p", max_age=60,
                            expires=1_700_000_000, httponly=True, secure=True,
                            samesite="Lax")
            self.set_cookie("days", "y", expires_days=None)
            self.clear_cookie("gone", path="/g")

    class ClearAll(web.RequestHandler):
        def get(self):
            self.clear_all_cookies()

    class SetSigned(web.RequestHandler):
        def get(self):
            self.set_signed_cookie("s", self.get_argument("v"), httponly=True)
            self.set_secure_cookie("old", "name")

    class GetSigned(web.RequestHandler):
        def get(self):
            self.write(repr(self.get_signed_cookie("s")) + " "
                       + repr(self.get_signed_cookie("s", max_age_days=-1))
                       + " " + repr(self.get_signed_cookie_key_version("s")))

    class NoSecret(web.RequestHandler):
        def get(self):
            self.set_signed_cookie("s", "v")

    return [(r"/echo", Echo), (r"/get/(.*)", Get), (r"/set", SetMany), (r"/clear", ClearAll),
            (r"/signed/set", SetSigned), (r"/signed/get", GetSigned), (r"/nosecret", NoSecret)]


COOKIE_HEADERS = [
    "a=1; b=2",
    'q="quoted\\"value"; oct="\\101\\102"',
    "novalue; =empty; spaced = x y ",
    "a=1; a=2",
    "bad name=1; $dollar=2; ok=3",
    ";;;; ; = ;",
    "é=ü; x=\\",
    '"unterminated=1',
]


@pytest.mark.parametrize("header", COOKIE_HEADERS)
def test_request_cookies_like_tornado(header):
    compare(handlers, req("GET", "/echo", {"Cookie": header}))


@pytest.mark.parametrize("name", ["a", "q", "missing", "novalue", ""])
def test_get_cookie_like_tornado(name):
    compare(handlers, req("GET", "/get/" + name, {"Cookie": 'a=1; q="x\\"y"; novalue'}))


def test_set_cookie_headers_byte_for_byte():
    ours, theirs = compare(handlers, req("GET", "/set"), check=False)
    # expires= for clear_cookie/expires_days depends on the clock: compare without it.
    def strip_expiry(resp):
        out = []
        for k, v in resp.header_list:
            if k.lower() == "set-cookie" and not v.startswith("attrs="):
                v = "; ".join(p for p in v.split("; ") if not p.startswith("expires="))
            out.append((k, v))
        return [(k, v) for k, v in out if k.lower() == "set-cookie"]
    assert strip_expiry(ours) == strip_expiry(theirs)
    cookies = set_cookies(ours.header_list)
    assert cookies["twice"] == "second" and cookies["gone"] == '""'
    assert "Path=/g" in next(v for k, v in ours.header_list if v.startswith("gone="))


def test_clear_all_cookies():
    ours, theirs = compare(handlers, req("GET", "/clear", {"Cookie": "a=1; b=2"}), check=False)
    assert sorted(set_cookies(ours.header_list)) == sorted(set_cookies(theirs.header_list)) == [
        "a", "b"]


def test_set_cookie_refuses_injection_like_tornado():
    for web in (embedtornado.web, tornado.web):
        h = make(web)
        with pytest.raises(ValueError):
            h.set_cookie("a", "x\r\nSet-Cookie: evil=1")
        with pytest.raises(ValueError):
            h.set_cookie("a", "with space")
        for kwargs in ({"domain": "a.com; evil"}, {"path": "/\n"}, {"samesite": "Lax; x"}):
            with pytest.raises(http.cookies.CookieError):
                h.set_cookie("a", "b", **kwargs)
        with pytest.raises(http.cookies.CookieError):
            h.set_cookie("a;b", "c")
        with pytest.raises(TypeError):
            h.clear_cookie("a", expires=5)


def test_signed_cookie_over_the_wire_both_ways():
    with DualHarness(handlers, cookie_secret=SECRET) as h:
        for setter, getter in ((h.request, h.request_tornado), (h.request_tornado, h.request)):
            resp = h.run(setter(req("GET", "/signed/set?v=caf%C3%A9")))
            [signed_header] = [v for k, v in resp.header_list if v.startswith("s=")]
            assert "HttpOnly" in signed_header and "expires=" in signed_header
            cookies = set_cookies(resp.header_list)
            # Both quote the value (it holds "="), and browsers send it back quoted.
            assert cookies["s"].startswith('"2|1:0|10:') and cookies["old"].startswith('"2|')
            got = h.run(getter(req("GET", "/signed/get", {"Cookie": "s=" + cookies["s"]})))
            assert got.body == b"b'caf\\xc3\\xa9' None 0"


def test_signed_cookie_forged_or_missing():
    with DualHarness(handlers, cookie_secret=SECRET) as h:
        for send in (h.request, h.request_tornado):
            for cookie in ("", "s=2|1:0|10:1700000000|1:s|4:dg==|" + "0" * 64, "s=garbage",
                           "s=dg==|1700000000|" + "0" * 40):
                with LogCapture("embedtornado", "tornado"):
                    got = h.run(send(req("GET", "/signed/get", {"Cookie": cookie})))
                assert got.code == 200
                assert got.body.startswith(b"None None")


def test_signed_cookie_without_secret_is_500_with_clear_message():
    with LogCapture("embedtornado", "tornado") as logs:
        ours, _ = compare(handlers, req("GET", "/nosecret"))
    assert ours.code == 500
    [record] = logs.by("embedtornado.application")
    assert str(record.exc_info[1]) == (
        "You must define the 'cookie_secret' setting in your application to use secure cookies")


# --- hostile Cookie headers: never fail, linear time ------------------------------------


def request_with(mod, cookie_header):
    return mod.HTTPServerRequest(start_line=mod.RequestStartLine("GET", "/", "HTTP/1.1"),
                                 headers=mod.HTTPHeaders({"Host": "a", "Cookie": cookie_header}))


HOSTILE = [
    '"' + "\\" * 200_000 + '"',                  # CVE-2024-52804's shape: backslashes
    '"' + '\\"' * 100_000 + '"',                  # escaped quotes
    "a=" + '"\\012' * 50_000 + '"',               # octal escapes
    ";" * 200_000,
    "=" * 200_000,
    "a=" + "\x00\x01\x7f\xff" * 50_000,
    "x" * 200_000,
]


@pytest.mark.parametrize("header", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_cookie_header_parses(header):
    # A quadratic parser takes minutes on these; ours is linear (no timing asserted).
    parsed = httputil.parse_cookie(header)
    assert isinstance(parsed, dict)
    request = request_with(httputil, header)
    assert isinstance(request.cookies, http.cookies.SimpleCookie)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from('ab=;" \\\t\x00é017'), max_size=60))
def test_parse_cookie_matches_tornado(header):
    assert httputil.parse_cookie(header) == tornado.httputil.parse_cookie(header)
    ours = request_with(httputil, header)
    theirs = request_with(tornado.httputil, header)
    assert {k: v.value for k, v in ours.cookies.items()} == {
        k: v.value for k, v in theirs.cookies.items()}


def test_hostile_cookie_over_the_wire():
    header = '"' + "\\" * 30_000 + '"; a=1'
    ours, _ = compare(handlers, req("GET", "/echo", {"Cookie": header}))
    assert ours.code == 200
