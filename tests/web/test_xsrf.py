"""XSRF protection over a real socket, beside Tornado 6.6.1 (same handlers, same requests)."""

from __future__ import annotations

import re
import urllib.parse

import pytest
from sectools import set_cookies
from webtools import DualHarness, LogCapture, req


def handlers(web):
    class Form(web.RequestHandler):
        def get(self):
            self.write(self.xsrf_form_html())

        def post(self):
            self.write("posted")

        put = patch = delete = post

        def options(self):
            self.write("options")

        def head(self):
            pass

    class Exempt(web.RequestHandler):
        def check_xsrf_cookie(self):
            pass

        def post(self):
            self.write("exempt")

    class LoggedIn(web.RequestHandler):
        def get_current_user(self):
            return "bob"

        def get(self):
            self.write(self.xsrf_token)

    return [(r"/", Form), (r"/exempt", Exempt), (r"/user", LoggedIn)]


@pytest.fixture(scope="module")
def h():
    with DualHarness(handlers, xsrf_cookies=True) as harness:
        yield harness


TOKEN_RE = re.compile(rb'name="_xsrf" value="([^"]+)"')


def fetch_token(h, tornado_side: bool) -> tuple[str, str]:
    """GET the form from one side; return (cookie value, form token)."""
    coro = h.request_tornado(req()) if tornado_side else h.request(req())
    resp = h.run(coro)
    assert resp.code == 200
    token = TOKEN_RE.search(resp.body).group(1).decode()
    cookie = set_cookies(resp.header_list)["_xsrf"]
    return cookie, token


def both(h, data: bytes):
    method = data.split(b" ", 1)[0].decode()
    with LogCapture("embedtornado.general", "tornado.general") as logs:
        ours = h.run(h.request(data, method))
        theirs = h.run(h.request_tornado(data, method))
    return ours, theirs, logs


def form_post(cookie: str, token: str, method: str = "POST", path: str = "/") -> bytes:
    body = urllib.parse.urlencode({"_xsrf": token}).encode()
    return req(method, path, {"Cookie": "_xsrf=" + cookie,
                              "Content-Type": "application/x-www-form-urlencoded"}, body)


def test_form_has_token_and_sets_cookie(h):
    for side in (False, True):
        cookie, token = fetch_token(h, side)
        assert re.fullmatch(r"2\|[0-9a-f]{8}\|[0-9a-f]{32}\|[0-9]+", token)
        assert cookie == token  # the first token is stored as the cookie


@pytest.mark.parametrize("maker", ["ours", "tornado"])
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_token_from_either_side_is_accepted_by_both(h, maker, method):
    cookie, token = fetch_token(h, maker == "tornado")
    ours, theirs, logs = both(h, form_post(cookie, token, method))
    assert ours.code == theirs.code == 200
    assert ours.body == theirs.body == b"posted"
    assert logs.records == []


@pytest.mark.parametrize("header", ["X-XSRFToken", "X-CSRFToken", "x-xsrftoken"])
def test_token_in_header(h, header):
    cookie, token = fetch_token(h, False)
    data = req("POST", "/", {"Cookie": "_xsrf=" + cookie, header: token}, b"")
    ours, theirs, _ = both(h, data)
    assert ours.code == theirs.code == 200


def test_token_in_query_argument(h):
    cookie, token = fetch_token(h, True)
    path = "/?" + urllib.parse.urlencode({"_xsrf": token})
    ours, theirs, _ = both(h, req("POST", path, {"Cookie": "_xsrf=" + cookie}, b""))
    assert ours.code == theirs.code == 200


def test_fresh_mask_for_same_cookie_still_matches(h):
    cookie, _ = fetch_token(h, False)
    resp = h.run(h.request(req(headers={"Cookie": "_xsrf=" + cookie})))
    token2 = TOKEN_RE.search(resp.body).group(1).decode()
    assert token2 != cookie and "_xsrf" not in set_cookies(resp.header_list)
    ours, theirs, _ = both(h, form_post(cookie, token2))
    assert ours.code == theirs.code == 200


def test_version_1_cookie_and_token(h):
    raw_hex = "00112233445566778899aabbccddeeff"
    ours, theirs, _ = both(h, form_post(raw_hex, raw_hex))
    assert ours.code == theirs.code == 200
    # A masked token of the same raw value is accepted against the v1 cookie too.
    masked = "2|01020304|" + bytes(
        b ^ m for b, m in zip(bytes.fromhex(raw_hex), b"\x01\x02\x03\x04" * 4)).hex() + "|5"
    ours, theirs, _ = both(h, form_post(raw_hex, masked))
    assert ours.code == theirs.code == 200


REFUSALS = [
    # (request, logged reason)
    (req("POST", "/", {}, b""), "'_xsrf' argument missing from POST"),
    (req("DELETE", "/", {"Cookie": "_xsrf=2|01020304|00112233445566778899aabbccddeeff|1"}),
     "'_xsrf' argument missing from POST"),
    (form_post("2|01020304|00112233445566778899aabbccddeeff|1", "3|zz"),
     "'_xsrf' argument has invalid format"),
    (form_post("2|01020304|00112233445566778899aabbccddeeff|1", "2|0102|0011|1"),
     "'_xsrf' argument has invalid format"),
    (form_post("2|01020304|00112233445566778899aabbccddeeff|1",
               "2|01020304|00112233445566778899aabbccddeefe|1"),
     "XSRF cookie does not match POST argument"),
    # No cookie at all: a fresh random token never matches.
    (req("POST", "/", {"X-XSRFToken": "2|01020304|00112233445566778899aabbccddeeff|1"}, b""),
     "XSRF cookie does not match POST argument"),
    # A garbage cookie is replaced by a random token: no match either.
    (form_post("2|zz", "2|01020304|00112233445566778899aabbccddeeff|1", "PUT"),
     "XSRF cookie does not match POST argument"),
]


@pytest.mark.parametrize(("data", "reason"), REFUSALS)
def test_refusals_are_403_with_logged_reason(h, data, reason):
    ours, theirs, logs = both(h, data)
    assert ours.code == theirs.code == 403
    assert ours.body == theirs.body
    [mine] = [r for r in logs.by("embedtornado.general") if r.levelname == "WARNING"]
    [their] = [r for r in logs.by("tornado.general") if r.levelname == "WARNING"]
    assert mine.getMessage().endswith(": " + reason)
    assert their.getMessage().endswith(": " + reason)
    assert mine.getMessage().split(" ", 1)[0] == "403"


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
def test_safe_methods_are_not_checked(h, method):
    ours, theirs, logs = both(h, req(method, "/"))
    assert ours.code == theirs.code == 200
    assert logs.records == []


def test_override_exempts_a_handler(h):
    ours, theirs, _ = both(h, req("POST", "/exempt", {}, b""))
    assert ours.code == theirs.code == 200 and ours.body == b"exempt"


def test_logged_in_user_gets_a_30_day_cookie(h):
    for coro in (h.request(req(path="/user")), h.request_tornado(req(path="/user"))):
        resp = h.run(coro)
        header = next(v for k, v in resp.header_list if k.lower() == "set-cookie")
        assert "expires=" in header.lower()


def cookie_attrs(resp) -> list[str]:
    [header] = [v for k, v in resp.header_list if k.lower() == "set-cookie"]
    return sorted(part.strip().split("=")[0].lower() for part in header.split(";")[1:])


def test_xsrf_cookie_settings():
    settings = {"xsrf_cookies": True, "xsrf_cookie_name": "csrf",
                    "xsrf_cookie_kwargs": {"httponly": True, "secure": True, "samesite": "Strict"}}
    with DualHarness(handlers, **settings) as harness:
        ours = harness.run(harness.request(req()))
        theirs = harness.run(harness.request_tornado(req()))
        assert cookie_attrs(ours) == cookie_attrs(theirs) == [
            "httponly", "path", "samesite", "secure"]
        cookie = set_cookies(ours.header_list)["csrf"]
        token = TOKEN_RE.search(ours.body).group(1).decode()
        data = req("POST", "/", {"Cookie": "csrf=" + cookie, "X-XSRFToken": token}, b"")
        assert harness.run(harness.request(data, "POST")).code == 200
        assert harness.run(harness.request_tornado(data, "POST")).code == 200
        # The default cookie name is not looked at any more.
        data = req("POST", "/", {"Cookie": "_xsrf=" + cookie, "X-XSRFToken": token}, b"")
        with LogCapture("embedtornado.general", "tornado.general"):
            assert harness.run(harness.request(data, "POST")).code == 403
            assert harness.run(harness.request_tornado(data, "POST")).code == 403
    # The setting's dict is not changed by a logged-in user's request (Tornado's is).
    assert settings["xsrf_cookie_kwargs"] == {"httponly": True, "secure": True, "samesite": "Strict"}


def test_xsrf_cookie_version_1_setting():
    with DualHarness(handlers, xsrf_cookies=True, xsrf_cookie_version=1) as harness:
        for coro in (harness.request(req()), harness.request_tornado(req())):
            resp = harness.run(coro)
            token = TOKEN_RE.search(resp.body).group(1).decode()
            assert re.fullmatch("[0-9a-f]{32}", token)
            assert set_cookies(resp.header_list)["_xsrf"] == token
