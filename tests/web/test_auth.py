"""Users: current_user, get_current_user, @authenticated and login_url, beside Tornado 6.6.1."""

from __future__ import annotations

import asyncio
import urllib.parse

import pytest
from sectools import make, set_cookies
from webtools import DualHarness, LogCapture, compare, req

import embedtornado.web

SECRET = "auth-test-secret"


def handlers(web):
    calls: list[str] = []

    class Base(web.RequestHandler):
        def get_current_user(self):
            calls.append("get_current_user")
            name = self.get_signed_cookie("user")
            return name.decode() if name else None

    class Secret(Base):
        @web.authenticated
        def get(self):
            self.write("hello " + self.current_user)

        @web.authenticated
        def post(self):
            self.write("posted by " + self.current_user)

        head = get

    class AsyncSecret(Base):
        @web.authenticated
        async def get(self):
            await asyncio.sleep(0)
            self.write("async hello " + self.current_user)

    class PrepareUser(web.RequestHandler):
        """An async prepare sets current_user (get_current_user may not be a coroutine)."""

        async def prepare(self):
            await asyncio.sleep(0)
            if self.get_argument("who", None):
                self.current_user = {"name": self.get_argument("who")}

        @web.authenticated
        def get(self):
            self.write("prepared " + self.current_user["name"])

    class Login(web.RequestHandler):
        def post(self):
            self.set_signed_cookie("user", self.get_argument("name"))
            self.write("ok")

    class CustomLogin(Base):
        def get_login_url(self):
            return "/elsewhere"

        @web.authenticated
        def get(self):
            self.write("never")

    class Count(Base):
        def get(self):
            calls.clear()
            first = self.current_user
            second = self.current_user
            self.current_user = "assigned"
            self.write({"first": first, "second": second, "after": self.current_user,
                        "calls": len(calls)})

    return [(r"/secret", Secret), (r"/async", AsyncSecret), (r"/prepare", PrepareUser),
            (r"/login", Login), (r"/custom", CustomLogin), (r"/count", Count)]


SETTINGS = {"cookie_secret": SECRET, "login_url": "/login"}


@pytest.mark.parametrize(("method", "path"), [
    (m, p) for p in ["/secret", "/secret?a=1&b=%C3%A9", "/async", "/prepare", "/custom"]
    for m in ("GET", "HEAD") if m == "GET" or p.startswith("/secret")])
def test_anonymous_get_redirects_to_login(path, method):
    ours, _ = compare(handlers, req(method, path), **SETTINGS)
    assert ours.code == 302
    location = ours.headers["location"]
    if path == "/custom":
        assert location == "/elsewhere?next=%2Fcustom"
    else:
        assert location == "/login?" + urllib.parse.urlencode({"next": path})


def test_anonymous_post_is_403():
    with LogCapture("embedtornado", "tornado"):
        ours, _ = compare(handlers, req("POST", "/secret", {}, b""), **SETTINGS)
    assert ours.code == 403


def test_absolute_login_url_gets_full_next_url():
    ours, _ = compare(handlers, req("GET", "/secret?x=1"), cookie_secret=SECRET,
                      login_url="https://sso.example.org/login")
    assert ours.headers["location"] == "https://sso.example.org/login?" + urllib.parse.urlencode(
        {"next": "http://example.com/secret?x=1"})


def test_login_url_with_query_is_used_as_is():
    ours, _ = compare(handlers, req("GET", "/secret"), cookie_secret=SECRET,
                      login_url="/login?from=app")
    assert ours.headers["location"] == "/login?from=app"


def test_missing_login_url_setting_is_500():
    with LogCapture("embedtornado", "tornado") as logs:
        ours, _ = compare(handlers, req("GET", "/secret"), cookie_secret=SECRET)
    assert ours.code == 500
    [record] = logs.by("embedtornado.application")
    assert "You must define the 'login_url' setting" in str(record.exc_info[1])


def test_login_then_access_with_signed_cookie():
    with DualHarness(handlers, **SETTINGS) as h:
        body = b"name=alice"
        login = req("POST", "/login", {"Content-Type": "application/x-www-form-urlencoded"},
                    body)
        for request, other_request in ((h.request, h.request_tornado),
                                       (h.request_tornado, h.request)):
            resp = h.run(request(login, "POST"))
            cookie = set_cookies(resp.header_list)["user"]
            # The cookie made by one framework logs in on the other too.
            for send in (request, other_request):
                ok = h.run(send(req("GET", "/secret", {"Cookie": "user=" + cookie})))
                assert (ok.code, ok.body) == (200, b"hello alice")
                ok = h.run(send(req("POST", "/secret", {"Cookie": "user=" + cookie}, b""),
                                "POST"))
                assert (ok.code, ok.body) == (200, b"posted by alice")
            forged = cookie.replace("YWxpY2U=", "bWFsbG9yeQ==")  # "alice" -> "mallory"
            for send in (request, other_request):
                resp = h.run(send(req("GET", "/secret", {"Cookie": "user=" + forged})))
                assert resp.code == 302


def test_async_method_and_async_prepare():
    with DualHarness(handlers, **SETTINGS) as h:
        for send in (h.request, h.request_tornado):
            resp = h.run(send(req("GET", "/prepare?who=carol")))
            assert (resp.code, resp.body) == (200, b"prepared carol")
        cookie_value = embedtornado.web.create_signed_value(SECRET, "user", "dave").decode()
        for send in (h.request, h.request_tornado):
            resp = h.run(send(req("GET", "/async", {"Cookie": "user=" + cookie_value})))
            assert (resp.code, resp.body) == (200, b"async hello dave")


def test_current_user_is_computed_once_and_settable():
    ours, _ = compare(handlers, req("GET", "/count"), **SETTINGS)
    assert ours.body == b'{"first": null, "second": null, "after": "assigned", "calls": 1}'


def test_get_login_url_requires_the_setting():
    for web in (embedtornado.web, __import__("tornado.web").web):
        with pytest.raises(Exception, match="You must define the 'login_url' setting in your "
                           "application to use @(embedtornado|tornado).web.authenticated"):
            make(web).get_login_url()
        assert make(web, login_url="/in").get_login_url() == "/in"
