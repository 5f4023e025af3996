"""Response hardening: header injection, the security_headers setting, safe_next_url.

The open-redirect guards of StaticFileHandler, addslash/removeslash and
RedirectHandler are tested in test_static.py, test_decorators.py and
test_builtin_handlers.py.
"""

from __future__ import annotations

import pytest
import tornado.web
from sectools import make
from webtools import LogCapture, compare, req

import embedtornado.web
from embedtornado.web import Application, HTTPError, RequestHandler
from embedtornado.web.security import DEFAULT_SECURITY_HEADERS
from rawhttp import ServerHarness


@pytest.mark.parametrize("value", ["a\r\nSet-Cookie: x=1", "a\nb", "a\rb", "a\x00b", b"a\r\nb",
                                   "a\x7fb"])
def test_header_injection_is_refused_like_tornado(value):
    for web in (embedtornado.web, tornado.web):
        h = make(web)
        with pytest.raises(ValueError):
            h.set_header("X-Test", value)
        with pytest.raises(ValueError):
            h.add_header("X-Test", value)


def redirect_handlers(web):
    class Redirect(web.RequestHandler):
        def get(self):
            self.redirect(self.get_argument("to"))

    return [(r"/r", Redirect)]


@pytest.mark.parametrize("target", ["/ok\r\nSet-Cookie: evil=1", "/ok\nx", "/ok\rx"])
def test_redirect_with_control_characters_is_500(target):
    import urllib.parse

    path = "/r?" + urllib.parse.urlencode({"to": target})
    with LogCapture("embedtornado", "tornado") as logs:
        ours, _ = compare(redirect_handlers, req("GET", path))
    assert ours.code == 500 and "location" not in ours.headers
    assert b"evil" not in ours.raw_head
    [record] = logs.by("embedtornado.application")
    assert record.exc_info[0] is ValueError


def test_redirect_is_tornados_for_plain_urls():
    # redirect() itself sends what it is given (as Tornado does); see safe_next_url.
    for target in ("/a", "//other.example/x", "https://elsewhere.example/"):
        import urllib.parse

        ours, _ = compare(redirect_handlers, req("GET", "/r?" + urllib.parse.urlencode(
            {"to": target})))
        assert ours.headers["location"] == target


SAFE = ["/", "/a/b?c=d#e", "/a//b", "http://example.com/x", "https://EXAMPLE.com/y",
        "/%2F%2Fevil.com"]
UNSAFE = [None, "", "//evil.com", "///evil.com", "/\\evil.com", "\\\\evil.com", "/\t/evil.com",
          "/\r\n/evil.com", " //evil.com", "https://evil.com/", "http://example.com.evil.com/",
          "javascript:alert(1)", "relative/path", "http:/\\evil.com", "ftp://example.com/",
          "http://[::1", "\x00/"]


@pytest.mark.parametrize("url", SAFE)
def test_safe_next_url_accepts_local_urls(url):
    assert make(embedtornado.web).safe_next_url(url) == url


@pytest.mark.parametrize("url", UNSAFE)
def test_safe_next_url_refuses_other_sites(url):
    h = make(embedtornado.web)
    assert h.safe_next_url(url) == "/"
    assert h.safe_next_url(url, default="/home") == "/home"


# --- the security_headers setting -----------------------------------------------------------


class Page(RequestHandler):
    def get(self):
        if self.get_argument("fail", None):
            raise HTTPError(404)
        self.write("page")


class OwnFrameOptions(Page):
    def set_default_headers(self):
        self.set_header("X-Frame-Options", "SAMEORIGIN")


def fetch(app, path="/"):
    with ServerHarness(app) as h, LogCapture("embedtornado"):
        return h.run(h.request(req("GET", path)))


def routes():
    return [(r"/", Page), (r"/own", OwnFrameOptions)]


def test_security_headers_off_by_default_like_tornado():
    resp = fetch(Application(routes()))
    for name in DEFAULT_SECURITY_HEADERS:
        assert name.lower() not in resp.headers


@pytest.mark.parametrize("path", ["/", "/?fail=1", "/no-such-page"])
def test_security_headers_on_every_response(path):
    resp = fetch(Application(routes(), security_headers=True), path)
    assert resp.code in (200, 404)
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.headers["x-frame-options"] == "DENY"
    assert resp.headers["referrer-policy"] == "same-origin"
    assert resp.headers["cross-origin-opener-policy"] == "same-origin"


def test_security_headers_dict_and_set_default_headers_override():
    csp = "default-src 'self'"
    app = Application(routes(), security_headers={"Content-Security-Policy": csp,
                                                  "Referrer-Policy": None})
    resp = fetch(app, "/own")
    assert resp.headers["content-security-policy"] == csp
    assert "referrer-policy" not in resp.headers
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.headers["x-frame-options"] == "SAMEORIGIN"  # set_default_headers wins


def test_security_headers_dict_values_are_checked():
    # A misconfigured value fails like a broken set_default_headers: logged
    # (naming the value), and the connection closed without a response.
    app = Application(routes(), security_headers={"X-Evil": "a\r\nb"})
    with ServerHarness(app) as h, LogCapture("embedtornado") as logs:
        assert h.run(h.exchange(req())) == b""
    [record] = logs.by("embedtornado.application")
    assert "Unsafe header value 'a\\r\\nb'" in str(record.exc_info[1])
