"""embedtornado.auth: the login mixins against mock providers, beside Tornado 6.6.1.

Each flow runs twice, once on embedtornado (its web, httpserver and
AsyncHTTPClient) and once on Tornado, with the same client handlers and the
same in-process mock provider endpoints. The redirects (``Location`` with
the server's address replaced by ``BASE``), the request-token cookie, the
arguments the providers receive, the user dicts and the `AuthError`
messages must agree. Signed requests are checked by the mock provider,
which recomputes the HMAC-SHA1 signature with Tornado's own function.
Deterministic helpers (signatures for a fixed nonce and timestamp,
escaping, token parsing) are compared with Tornado's directly.
(The ``@authenticated`` decorator is tested in ``tests/web/test_auth.py``.)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import subprocess
import sys
import types
import urllib.parse
import uuid
import warnings
from typing import Any, ClassVar

import pytest
import tornado.auth
import tornado.httpclient
import tornado.httpserver
import tornado.ioloop
import tornado.netutil
import tornado.web

import embedtornado.auth
import embedtornado.httpclient
import embedtornado.httpserver
import embedtornado.ioloop
import embedtornado.netutil
import embedtornado.web
from embedtornado import auth

FRAMEWORKS = {
    name: types.SimpleNamespace(
        name=name,
        auth=root.auth,
        web=root.web,
        httpclient=root.httpclient,
        httpserver=root.httpserver,
        ioloop=root.ioloop,
        netutil=root.netutil,
    )
    for name, root in (("ours", embedtornado), ("tornado", tornado))
}

CONSUMER = {"key": "asdf", "secret": "qwer"}
TWITTER_SETTINGS = {"twitter_consumer_key": "tw-key", "twitter_consumer_secret": "tw s&cret"}
#: What the mock providers received, per endpoint name (reset for each flow).
SEEN: dict[str, list[dict[str, Any]]] = {}


def request_record(handler: Any) -> dict[str, Any]:
    req = handler.request
    return {
        "method": req.method,
        "path": req.path,
        "query": {k: [v.decode() for v in vs] for k, vs in req.query_arguments.items()},
        "body": {k: [v.decode() for v in vs] for k, vs in req.body_arguments.items()},
        "content_type": req.headers.get("Content-Type"),
    }


def check_signature(record: dict[str, Any], url: str, consumer: dict[str, str],
                    token: dict[str, Any] | None, version: str = "1.0a") -> bool:
    """Recompute a received OAuth signature with Tornado's functions."""
    params = {k: v[0] for k, v in record["query"].items()}
    params.update({k: v[0] for k, v in record["body"].items()})
    received = params.pop("oauth_signature")
    sign = (tornado.auth._oauth10a_signature if version == "1.0a"
            else tornado.auth._oauth_signature)
    expected = sign(consumer, record["method"], url, params, token)
    return received == expected.decode()


# --- the application: client handlers and mock providers ------------------------------


def make_app(fw: types.SimpleNamespace, base: str) -> Any:
    web, fwauth = fw.web, fw.auth

    def record(name: str, handler: Any) -> dict[str, Any]:
        rec = request_record(handler)
        SEEN.setdefault(name, []).append(rec)
        return rec

    class Report(web.RequestHandler):
        """Client-side base: turn an exception into a 200 body the test can compare."""

        async def run(self) -> None:
            raise NotImplementedError

        async def get(self) -> None:
            try:
                await self.run()
            except Exception as e:  # noqa: BLE001 - the test compares what was raised
                self.finish({"error": type(e).__name__, "message": str(e)})

    # OpenID

    class OpenIdLogin(Report, fwauth.OpenIdMixin):
        _OPENID_ENDPOINT = base + "/openid/server"

        async def run(self) -> None:
            if self.get_argument("openid.mode", None):
                user = await self.get_authenticated_user()
                self.finish({"user": user})
            else:
                attrs = [a for a in self.get_arguments("ax") if a != "none"]
                if self.get_arguments("ax"):
                    self.authenticate_redirect(self.get_argument("cb", None), ax_attrs=attrs)
                else:
                    self.authenticate_redirect(self.get_argument("cb", None))

    class OpenIdServer(web.RequestHandler):
        def post(self) -> None:
            rec = record("openid", self)
            if rec["body"].get("openid.sig") == ["bad"]:
                self.write("ns:http://specs.openid.net/auth/2.0\nis_valid:false\n")
            else:
                self.write("ns:http://specs.openid.net/auth/2.0\nis_valid:true\n")

    # OAuth 1.0 / 1.0a

    class OAuth1Login(Report, fwauth.OAuthMixin):
        _OAUTH_REQUEST_TOKEN_URL = base + "/oauth1/request_token"
        _OAUTH_AUTHORIZE_URL = base + "/oauth1/authorize"
        _OAUTH_ACCESS_TOKEN_URL = base + "/oauth1/access_token"

        def initialize(self, version: str, no_callbacks: bool = False) -> None:
            self._OAUTH_VERSION = version
            self._OAUTH_NO_CALLBACKS = no_callbacks

        def _oauth_consumer_token(self) -> dict[str, Any]:
            return dict(CONSUMER)

        async def _oauth_get_user_future(self, access_token: dict[str, Any]) -> Any:
            if self.get_argument("no_user", None):
                return None
            return {"email": "foo@example.com", "token_seen": dict(access_token)}

        async def run(self) -> None:
            if self.get_argument("oauth_token", None):
                user = await self.get_authenticated_user()
                self.finish({"user": user})
                return
            extra = {"x_extra": self.get_argument("extra")} if self.get_argument("extra", None) \
                else None
            await self.authorize_redirect(self.get_argument("cb", None), extra_params=extra)

    class OAuth1RequestToken(web.RequestHandler):
        def get(self) -> None:
            record("request_token", self)
            self.write("oauth_token=zxcv&oauth_token_secret=1234&oauth_callback_confirmed=true")

    class OAuth1AccessToken(web.RequestHandler):
        def get(self) -> None:
            record("access_token", self)
            self.write("oauth_token=uiop&oauth_token_secret=5678&user_id=42&empty=")

    # Twitter

    class TwitterBase(Report, fwauth.TwitterMixin):
        _OAUTH_REQUEST_TOKEN_URL = base + "/oauth1/request_token"
        _OAUTH_ACCESS_TOKEN_URL = base + "/twitter/access_token"
        _OAUTH_AUTHORIZE_URL = base + "/twitter/authorize"
        _OAUTH_AUTHENTICATE_URL = base + "/twitter/authenticate"
        _TWITTER_BASE_URL = base + "/twitter/api"

    class TwitterLogin(TwitterBase):
        async def run(self) -> None:
            if self.get_argument("oauth_token", None):
                self.finish({"user": await self.get_authenticated_user()})
            elif self.get_argument("authenticate", None):
                await self.authenticate_redirect(self.get_argument("cb", None))
            else:
                await self.authorize_redirect(self.get_argument("cb", None))

    class TwitterPost(TwitterBase):
        async def run(self) -> None:
            token = {"key": "hjkl", "secret": "vb/nm"}
            result = await self.twitter_request(
                "/statuses/update", access_token=token,
                post_args={"status": "héllo wörld & more"}, trim_user="1")
            self.finish({"result": result})

    class TwitterAccessToken(web.RequestHandler):
        def get(self) -> None:
            record("twitter_access_token", self)
            self.write("oauth_token=hjkl&oauth_token_secret=vb%2Fnm&screen_name=foo")

    class TwitterVerify(web.RequestHandler):
        def get(self) -> None:
            record("verify_credentials", self)
            self.write({"screen_name": "foo", "name": "Foo"})

    class TwitterUpdate(web.RequestHandler):
        def post(self) -> None:
            record("statuses_update", self)
            self.write({"id": 1, "text": self.get_body_argument("status")})

    # OAuth 2.0: generic, Google, Facebook

    class OAuth2Login(Report, fwauth.OAuth2Mixin):
        _OAUTH_AUTHORIZE_URL = base + "/oauth2/authorize"

        async def run(self) -> None:
            kwargs = json.loads(self.get_argument("kwargs", "{}"))
            self.authorize_redirect(**kwargs)

    class OAuth2Call(Report, fwauth.OAuth2Mixin):
        async def run(self) -> None:
            kwargs = json.loads(self.get_argument("kwargs"))
            self.finish({"result": await self.oauth2_request(base + "/oauth2/echo", **kwargs)})

    class OAuth2Echo(web.RequestHandler):
        def get(self) -> None:
            self.write(record("oauth2_echo", self))

        def post(self) -> None:
            self.write(record("oauth2_echo", self))

    class GoogleLogin(Report, fwauth.GoogleOAuth2Mixin):
        _OAUTH_AUTHORIZE_URL = base + "/google/authorize"
        _OAUTH_ACCESS_TOKEN_URL = base + "/google/token"

        async def run(self) -> None:
            code = self.get_argument("code", None)
            redirect_uri = base + "/client/google"
            if code is None:
                self.authorize_redirect(
                    redirect_uri=redirect_uri,
                    client_id=self.get_google_oauth_settings()["key"],
                    scope=["profile", "email"],
                    response_type="code",
                    extra_params={"prompt": "select_account"},
                )
                return
            if self.get_argument("explicit", None):
                access = await self.get_authenticated_user(redirect_uri, code, "id2", "s2")
            else:
                access = await self.get_authenticated_user(redirect_uri, code)
            user = await self.oauth2_request(base + "/google/userinfo",
                                             access_token=access["access_token"])
            self.finish({"access": access, "user": user})

    class GoogleToken(web.RequestHandler):
        def post(self) -> None:
            record("google_token", self)
            if self.get_body_argument("code") != "good-code":
                raise web.HTTPError(400)
            self.write({"access_token": "g-token", "expires_in": 3599, "token_type": "Bearer"})

    class GoogleUserinfo(web.RequestHandler):
        def get(self) -> None:
            record("google_userinfo", self)
            self.write({"id": "123", "name": "Foo", "email": "foo@example.com"})

    class FacebookLogin(Report, fwauth.FacebookGraphMixin):
        _OAUTH_AUTHORIZE_URL = base + "/facebook/authorize?"
        _OAUTH_ACCESS_TOKEN_URL = base + "/facebook/access_token?"
        _FACEBOOK_BASE_URL = base + "/facebook/graph"

        async def run(self) -> None:
            redirect_uri = base + "/client/facebook"
            code = self.get_argument("code", None)
            if code is None:
                self.authorize_redirect(redirect_uri=redirect_uri, client_id="fb-id",
                                        extra_params={"scope": "user_posts"})
                return
            extra = self.get_arguments("extra") or None
            user = await self.get_authenticated_user(
                redirect_uri=redirect_uri, client_id="fb-id", client_secret="fb-secret",
                code=code, extra_fields=extra)
            self.finish({"user": user})

    class FacebookAccessToken(web.RequestHandler):
        def get(self) -> None:
            rec = record("facebook_access_token", self)
            if rec["query"]["code"] == ["no-token"]:
                self.write({"error": "nope"})
            else:
                self.write({"access_token": "fb-token", "expires_in": 5183999})

    class FacebookMe(web.RequestHandler):
        def get(self) -> None:
            record("facebook_me", self)
            self.write({"id": "9", "name": "Foo Bar", "first_name": "Foo", "birthday": "01/02"})

    return web.Application(
        [
            ("/client/openid", OpenIdLogin),
            ("/openid/server", OpenIdServer),
            ("/client/oauth10", OAuth1Login, {"version": "1.0"}),
            ("/client/oauth10a", OAuth1Login, {"version": "1.0a"}),
            ("/client/oauth10a_nocb", OAuth1Login, {"version": "1.0a", "no_callbacks": True}),
            ("/oauth1/request_token", OAuth1RequestToken),
            ("/oauth1/access_token", OAuth1AccessToken),
            ("/client/twitter", TwitterLogin),
            ("/client/twitter_post", TwitterPost),
            ("/twitter/access_token", TwitterAccessToken),
            (r"/twitter/api/account/verify_credentials\.json", TwitterVerify),
            (r"/twitter/api/statuses/update\.json", TwitterUpdate),
            ("/client/oauth2", OAuth2Login),
            ("/client/oauth2_call", OAuth2Call),
            ("/oauth2/echo", OAuth2Echo),
            ("/client/google", GoogleLogin),
            ("/google/token", GoogleToken),
            ("/google/userinfo", GoogleUserinfo),
            ("/client/facebook", FacebookLogin),
            ("/facebook/access_token", FacebookAccessToken),
            ("/facebook/graph/me", FacebookMe),
        ],
        google_oauth={"key": "g-id", "secret": "g-secret"},
        **TWITTER_SETTINGS,
    )


def run_flow(fw_name: str, requests: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Serve the app on ``fw_name``, make ``requests`` in turn, return what happened.

    Each request is ``(path, fetch_kwargs)``; the result has, per request,
    the status, ``Location`` and ``Set-Cookie`` (base URL replaced by
    ``BASE``) and the decoded JSON body, plus what the providers saw.
    """
    fw = FRAMEWORKS[fw_name]
    SEEN.clear()
    loop = fw.ioloop.IOLoop(make_current=False)

    async def main() -> dict[str, Any]:
        socks = fw.netutil.bind_sockets(0, "127.0.0.1", family=socket.AF_INET)
        base = f"http://127.0.0.1:{socks[0].getsockname()[1]}"
        server = fw.httpserver.HTTPServer(make_app(fw, base))
        server.add_sockets(socks)
        client = fw.httpclient.AsyncHTTPClient()
        out: list[dict[str, Any]] = []
        try:
            for path, kwargs in requests:
                kwargs = {"follow_redirects": False, "raise_error": False, **kwargs}
                resp = await client.fetch(base + path, **kwargs)
                body: Any = resp.body.decode("utf-8", "replace")
                if resp.headers.get("Content-Type", "").startswith("application/json"):
                    body = json.loads(body)
                out.append({
                    "code": resp.code,
                    "location": resp.headers.get("Location", "").replace(base, "BASE"),
                    "cookies": [c.split(";")[0] for c in resp.headers.get_list("Set-Cookie")],
                    "body": body,
                })
        finally:
            server.stop()
            await server.close_all_connections()
        def unbase(obj: Any) -> Any:
            text = json.dumps(obj).replace(urllib.parse.quote(base, safe=""), "BASE")
            return json.loads(text.replace(base, "BASE"))

        return {"responses": unbase(out), "seen": unbase(SEEN), "raw_seen": json.loads(
            json.dumps(SEEN)), "base": base}

    try:
        with warnings.catch_warnings():
            # OpenIdMixin's constructor warns (as Tornado's does).
            warnings.filterwarnings("ignore", "OpenIdMixin is deprecated", DeprecationWarning)
            return loop.run_sync(main, timeout=20)
    finally:
        loop.close(all_fds=True)


VOLATILE = ("oauth_nonce", "oauth_timestamp", "oauth_signature")


def stable(result: dict[str, Any]) -> dict[str, Any]:
    """``result`` without the address and the per-request nonce, timestamp and signature.

    Lists that Tornado builds from a set (the AX attributes of an OpenID
    redirect, the Graph API ``fields``) are sorted, and so are the query
    arguments of OpenID redirects (whose order follows that set).
    """
    def scrub(obj: Any, key: str = "") -> Any:
        if isinstance(obj, dict):
            return {k: ("*" if k in VOLATILE else scrub(v, k)) for k, v in obj.items()}
        if isinstance(obj, list):
            return [scrub(v, key) for v in obj]
        if isinstance(obj, str) and key in ("fields", "openid.ax.required"):
            return sorted(obj.split(","))
        if isinstance(obj, str) and key == "location" and "openid." in obj:
            url = urllib.parse.urlsplit(obj)
            return [url.path, sorted((k, scrub(v, k))
                                     for k, v in urllib.parse.parse_qsl(url.query))]
        return obj

    return scrub({k: v for k, v in result.items() if k not in ("base", "raw_seen")})


def both(requests: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Run the flow on both frameworks; assert they agree; return ours (unscrubbed)."""
    ours = run_flow("ours", requests)
    theirs = run_flow("tornado", requests)
    assert stable(ours) == stable(theirs)
    return ours


def query_of(location: str) -> dict[str, list[str]]:
    return urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)


COOKIE = {"Cookie": "_oauth_request_token=enhjdg==|MTIzNA=="}


# --- OAuth 1.0 / 1.0a -----------------------------------------------------------------


@pytest.mark.parametrize("version", ["1.0", "1.0a"])
def test_oauth1_authorize_redirect(version):
    path = "/client/oauth10" if version == "1.0" else "/client/oauth10a"
    result = both([(path, {}), (path + "?cb=/back%3Fx%3D1", {}), (path + "?cb=oob", {}),
                   (path + "?extra=yes&cb=/back", {})])
    plain, with_cb, oob, extra = result["responses"]
    assert plain["code"] == 302
    assert plain["location"] == "BASE/oauth1/authorize?oauth_token=zxcv"
    assert plain["cookies"] == ['_oauth_request_token="enhjdg==|MTIzNA=="']
    assert with_cb["location"] == (
        "BASE/oauth1/authorize?oauth_token=zxcv&oauth_callback=BASE%2Fback%3Fx%3D1")
    assert oob["code"] == 200 and oob["body"] == "BASE/oauth1/authorize?oauth_token=zxcv"
    seen = result["raw_seen"]["request_token"]
    base = result["base"]
    url = base + "/oauth1/request_token"
    for rec in seen:
        assert check_signature(rec, url, CONSUMER, None, version)
        assert rec["query"]["oauth_consumer_key"] == ["asdf"]
        assert rec["query"]["oauth_version"] == ["1.0"]
        assert rec["query"]["oauth_signature_method"] == ["HMAC-SHA1"]
    if version == "1.0a":
        assert seen[1]["query"]["oauth_callback"] == [base + "/back?x=1"]
        assert seen[2]["query"]["oauth_callback"] == ["oob"]
        assert seen[3]["query"]["x_extra"] == ["yes"]
    else:  # 1.0 sends neither the callback nor extra parameters
        assert all("oauth_callback" not in rec["query"] for rec in seen)
        assert "x_extra" not in seen[3]["query"]
    assert extra["code"] == 302


@pytest.mark.parametrize("version", ["1.0", "1.0a"])
def test_oauth1_get_authenticated_user(version):
    path = "/client/oauth10" if version == "1.0" else "/client/oauth10a"
    result = both([(path + "?oauth_token=zxcv&oauth_verifier=vv", {"headers": COOKIE})])
    (resp,) = result["responses"]
    token = {"key": "uiop", "secret": "5678", "user_id": "42"}
    assert resp["body"] == {"user": {"email": "foo@example.com", "token_seen": token,
                                     "access_token": token}}
    # The cookie is cleared.
    assert resp["cookies"] == ['_oauth_request_token=""']
    (rec,) = result["raw_seen"]["access_token"]
    assert rec["query"]["oauth_token"] == ["zxcv"]
    assert rec["query"]["oauth_verifier"] == ["vv"]
    request_token = {"key": b"zxcv", "secret": b"1234"}
    assert check_signature(rec, result["base"] + "/oauth1/access_token", CONSUMER,
                           request_token, version)


@pytest.mark.parametrize("case,message", [
    ({}, "Missing OAuth request token cookie"),
    ({"headers": {"Cookie": "_oauth_request_token=b3RoZXI=|MTIzNA=="}},
     "Request token does not match cookie"),
    ({"headers": COOKIE, "no_user": True}, "Error getting user"),
])
def test_oauth1_auth_errors(case, message):
    query = "?oauth_token=zxcv" + ("&no_user=1" if case.pop("no_user", False) else "")
    result = both([("/client/oauth10a" + query, case)])
    assert result["responses"][0]["body"] == {"error": "AuthError", "message": message}


def test_oauth1_malformed_cookie_is_an_auth_error():
    # embedtornado differs: Tornado lets ValueError / binascii.Error escape.
    for cookie in ("nobar", "a|b|c", "%%%|MTIzNA==", "enhjdg==|M"):
        result = run_flow("ours", [("/client/oauth10a?oauth_token=zxcv",
                                    {"headers": {"Cookie": "_oauth_request_token=" + cookie}})])
        assert result["responses"][0]["body"]["error"] == "AuthError", cookie


def test_oauth1_no_callbacks():
    result = run_flow("ours", [("/client/oauth10a_nocb?cb=/back", {}),
                               ("/client/oauth10a_nocb", {})])
    refused, plain = result["responses"]
    assert refused["body"] == {"error": "AuthError",
                               "message": "This service does not support oauth_callback"}
    assert plain["code"] == 302
    theirs = run_flow("tornado", [("/client/oauth10a_nocb?cb=/back", {})])
    assert theirs["responses"][0]["body"]["message"] == refused["body"]["message"]


# --- Twitter --------------------------------------------------------------------------


def test_twitter_redirects_and_user():
    result = both([
        ("/client/twitter", {}),
        ("/client/twitter?authenticate=1&cb=/back", {}),
        ("/client/twitter?oauth_token=zxcv", {"headers": COOKIE}),
    ])
    authorize, authenticate, login = result["responses"]
    assert authorize["location"] == "BASE/twitter/authorize?oauth_token=zxcv"
    # authenticate_redirect signs the callback but does not repeat it.
    assert authenticate["location"] == "BASE/twitter/authenticate?oauth_token=zxcv"
    assert result["seen"]["request_token"][1]["query"]["oauth_callback"] == ["BASE/back"]
    token = {"key": "hjkl", "secret": "vb/nm", "screen_name": "foo"}
    assert login["body"] == {"user": {"screen_name": "foo", "name": "Foo", "username": "foo",
                                      "access_token": token}}
    consumer = {"key": "tw-key", "secret": "tw s&cret"}
    base = result["base"]
    for rec in result["raw_seen"]["request_token"]:
        assert check_signature(rec, base + "/oauth1/request_token", consumer, None)
    (verify,) = result["raw_seen"]["verify_credentials"]
    assert check_signature(verify, base + "/twitter/api/account/verify_credentials.json",
                           consumer, token)


def test_twitter_request_post_signs_query_and_body():
    result = both([("/client/twitter_post", {})])
    assert result["responses"][0]["body"] == {
        "result": {"id": 1, "text": "héllo wörld & more"}}
    (rec,) = result["raw_seen"]["statuses_update"]
    assert rec["method"] == "POST"
    assert rec["query"]["trim_user"] == ["1"]
    assert rec["query"]["oauth_token"] == ["hjkl"]
    assert "oauth_signature" in rec["query"] and "oauth_signature" not in rec["body"]
    assert check_signature(rec, result["base"] + "/twitter/api/statuses/update.json",
                           {"key": "tw-key", "secret": "tw s&cret"},
                           {"key": "hjkl", "secret": "vb/nm"})


# --- OpenID ---------------------------------------------------------------------------


def test_openid_redirect():
    result = both([
        ("/client/openid", {}),
        ("/client/openid?cb=/done", {}),
        ("/client/openid?ax=email&ax=username", {}),
        ("/client/openid?ax=none", {}),
    ])
    default, callback, some, none = (r["location"] for r in result["responses"])
    args = query_of(default)
    assert default.startswith("BASE/openid/server?")
    assert args["openid.mode"] == ["checkid_setup"]
    assert args["openid.return_to"] == ["BASE/client/openid"]
    assert args["openid.realm"] == ["BASE/"]
    assert set(args["openid.ax.required"][0].split(",")) == {
        "firstname", "fullname", "lastname", "email", "language", "username"}
    assert query_of(callback)["openid.return_to"] == ["BASE/done"]
    assert query_of(some)["openid.ax.required"] == ["email,username"]
    assert "openid.ns.ax" not in query_of(none)


OPENID_RETURN = (
    "/client/openid?openid.mode=id_res&openid.claimed_id=https://id.example/u1"
    "&openid.ns.ext1=http://openid.net/srv/ax/1.0"
    "&openid.ext1.type.e=http://axschema.org/contact/email&openid.ext1.value.e=foo@example.com"
    "&openid.ext1.type.f=http://axschema.org/namePerson/first&openid.ext1.value.f=Foo"
    "&openid.ext1.type.l=http://axschema.org/namePerson/last&openid.ext1.value.l=Bar"
    "&openid.ext1.type.lang=http://axschema.org/pref/language&openid.ext1.value.lang=EN-us"
    "&openid.ext1.type.nick=http://axschema.org/namePerson/friendly&openid.ext1.value.nick=fb"
)


def test_openid_get_authenticated_user():
    result = both([
        (OPENID_RETURN, {}),
        (("/client/openid?openid.mode=id_res&openid.ns.ax=http://openid.net/srv/ax/1.0"
          "&openid.ax.type.email=http://axschema.org/contact/email"
          "&openid.ax.value.email=only@example.com"), {}),
        ("/client/openid?openid.mode=id_res", {}),
        ("/client/openid?openid.mode=id_res&openid.sig=bad", {}),
    ])
    full, email_only, bare, invalid = (r["body"] for r in result["responses"])
    assert full == {"user": {"first_name": "Foo", "last_name": "Bar", "name": "Foo Bar",
                             "email": "foo@example.com", "locale": "en-us",
                             "username": "fb", "claimed_id": "https://id.example/u1"}}
    assert email_only == {"user": {"name": "only", "email": "only@example.com"}}
    assert bare == {"user": {}}
    assert invalid["error"] == "AuthError"
    assert invalid["message"].startswith("Invalid OpenID response: b'")
    # The assertion goes back to the provider for checking.
    rec = result["seen"]["openid"][0]
    assert rec["method"] == "POST"
    assert rec["body"]["openid.mode"] == ["check_authentication"]
    assert rec["body"]["openid.ext1.value.e"] == ["foo@example.com"]


def test_openid_mixin_is_deprecated():
    with pytest.warns(DeprecationWarning, match="OpenIdMixin is deprecated"):
        auth.OpenIdMixin()


# --- OAuth 2.0 ------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [
    {},
    {"redirect_uri": "http://app/cb", "client_id": "cid"},
    {"redirect_uri": "http://app/cb", "scope": ["a", "b c"], "response_type": "token",
     "extra_params": {"state": "x y", "prompt": "none"}},
])
def test_oauth2_authorize_redirect(kwargs):
    path = "/client/oauth2?kwargs=" + urllib.parse.quote(json.dumps(kwargs))
    location = both([(path, {})])["responses"][0]["location"]
    args = query_of(location)
    assert location.startswith("BASE/oauth2/authorize?response_type=")
    assert args["response_type"] == [kwargs.get("response_type", "code")]
    if "scope" in kwargs:
        assert args["scope"] == [" ".join(kwargs["scope"])]


@pytest.mark.parametrize("kwargs", [
    {"access_token": "tok", "a": "1", "b": "x y"},
    {"a": "1"},  # as in Tornado, keyword arguments only go out with a token
    {"access_token": "tok", "post_args": {"m": "hé"}},
])
def test_oauth2_request(kwargs):
    path = "/client/oauth2_call?kwargs=" + urllib.parse.quote(json.dumps(kwargs))
    result = both([(path, {})])
    echo = result["responses"][0]["body"]["result"]
    assert echo["method"] == ("POST" if "post_args" in kwargs else "GET")
    if "access_token" in kwargs:
        assert echo["query"]["access_token"] == ["tok"]
    else:
        assert echo["query"] == {}


def test_google_login():
    result = both([
        ("/client/google", {}),
        ("/client/google?code=good-code", {}),
        ("/client/google?code=good-code&explicit=1", {}),
        ("/client/google?code=bad-code", {}),
    ])
    redirect, login, explicit, bad = result["responses"]
    args = query_of(redirect["location"])
    assert args == {"response_type": ["code"], "redirect_uri": ["BASE/client/google"],
                    "client_id": ["g-id"], "prompt": ["select_account"],
                    "scope": ["profile email"]}
    access = {"access_token": "g-token", "expires_in": 3599, "token_type": "Bearer"}
    assert login["body"] == {"access": access, "user": {
        "id": "123", "name": "Foo", "email": "foo@example.com"}}
    assert explicit["body"] == login["body"]
    assert bad["body"]["error"] == "HTTPClientError"
    tokens = result["seen"]["google_token"]
    assert tokens[0]["content_type"] == "application/x-www-form-urlencoded"
    assert tokens[0]["body"] == {"redirect_uri": ["BASE/client/google"],
                                 "code": ["good-code"], "client_id": ["g-id"],
                                 "client_secret": ["g-secret"],
                                 "grant_type": ["authorization_code"]}
    assert tokens[1]["body"]["client_id"] == ["id2"]
    assert tokens[1]["body"]["client_secret"] == ["s2"]
    assert result["seen"]["google_userinfo"][0]["query"] == {"access_token": ["g-token"]}


def test_facebook_login():
    result = both([
        ("/client/facebook", {}),
        ("/client/facebook?code=c1", {}),
        ("/client/facebook?code=c1&extra=birthday&extra=email", {}),
    ])
    redirect, login, extra = result["responses"]
    assert query_of(redirect["location"]) == {
        "response_type": ["code"], "redirect_uri": ["BASE/client/facebook"],
        "client_id": ["fb-id"], "scope": ["user_posts"]}
    assert redirect["location"].startswith("BASE/facebook/authorize?response_type=")
    user = {"id": "9", "name": "Foo Bar", "first_name": "Foo", "last_name": None,
            "locale": None, "picture": None, "link": None,
            "access_token": "fb-token", "session_expires": "5183999"}
    assert login["body"] == {"user": user}
    assert extra["body"] == {"user": {**user, "birthday": "01/02", "email": None}}
    token_req = result["seen"]["facebook_access_token"][0]
    assert token_req["query"] == {"redirect_uri": ["BASE/client/facebook"],
                                  "code": ["c1"], "client_id": ["fb-id"],
                                  "client_secret": ["fb-secret"]}
    me = result["seen"]["facebook_me"]
    proof = hmac.new(b"fb-secret", b"fb-token", hashlib.sha256).hexdigest()
    assert me[0]["query"]["appsecret_proof"] == [proof]
    assert me[0]["query"]["access_token"] == ["fb-token"]
    assert set(me[0]["query"]["fields"][0].split(",")) == {
        "id", "name", "first_name", "last_name", "locale", "picture", "link"}
    assert set(me[1]["query"]["fields"][0].split(",")) >= {"birthday", "email"}


def test_facebook_token_response_without_access_token():
    # embedtornado differs: AuthError where Tornado fails an assert.
    ours = run_flow("ours", [("/client/facebook?code=no-token", {})])
    assert ours["responses"][0]["body"] == {"error": "AuthError",
                                            "message": "Facebook returned no access token"}
    theirs = run_flow("tornado", [("/client/facebook?code=no-token", {})])
    assert theirs["responses"][0]["body"]["error"] == "AssertionError"


# --- signatures and helpers, beside Tornado's -----------------------------------------


def test_signature_known_answer():
    # The worked example of the OAuth 1.0 specification (Appendix A.5).
    params = {
        "file": "vacation.jpg", "size": "original", "oauth_consumer_key": "dpf43f3p2l4k3l03",
        "oauth_token": "nnch734d00sl2jdk", "oauth_nonce": "kllo9940pd9333jh",
        "oauth_timestamp": "1191242096", "oauth_signature_method": "HMAC-SHA1",
        "oauth_version": "1.0",
    }
    consumer = {"key": "dpf43f3p2l4k3l03", "secret": "kd94hf93k423kf44"}
    token = {"key": "nnch734d00sl2jdk", "secret": "pfkkdhi9sl3r4s00"}
    for sign in (auth._oauth_signature, auth._oauth10a_signature):
        assert sign(consumer, "GET", "http://photos.example.net/photos", params, token) == (
            b"tR3+Ty81lMeYAr/Fid0kMTYa/WM=")


SIGNATURE_CASES = [
    ({"secret": "qwer"}, "GET", "http://www.example.com/api/asdf", {"foo": "bar"}, None),
    ({"secret": "q w&e/r~"}, "post", "HTTPS://API.Example.COM:8443/Path/x?ignored=1#frag",
     {"b": "2", "a": "1 2", "u": "héllo", "n": 5, "tilde": "~-._"}, {"secret": "s/e cret+"}),
    ({"secret": b"bytes-secret"}, "GET", "http://h/", {}, {"secret": b"t\xc3\xa9"}),
    ({"secret": "ünï"}, "PUT", "http://h/a%20b", {"e": "", "k": "a=b&c"}, {"secret": ""}),
]


@pytest.mark.parametrize("name", ["_oauth_signature", "_oauth10a_signature"])
@pytest.mark.parametrize("case", SIGNATURE_CASES)
def test_signatures_match_tornado(name, case):
    consumer, method, url, params, token = case
    ours = getattr(auth, name)(consumer, method, url, params, token)
    theirs = getattr(tornado.auth, name)(consumer, method, url, params, token)
    assert isinstance(ours, bytes)
    assert ours == theirs


@pytest.mark.parametrize("value", ["", "abc", "a b+c/d~e_f.g-h", "é€😀", b"\x00\xff ~",
                                   "!*'();:@&=+$,/?#[]"])
def test_oauth_escape_matches_tornado(value):
    assert auth._oauth_escape(value) == tornado.auth._oauth_escape(value)


@pytest.mark.parametrize("body", [
    b"oauth_token=a&oauth_token_secret=b",
    b"oauth_token=a%20b&oauth_token_secret=c%2Fd&user_id=1&screen_name=x&empty=",
    b"oauth_token_secret=s&x=1&x=2&oauth_token=t&oauth_token=u",
    "oauth_token=%C3%A9&oauth_token_secret=\u00e9".encode(),
])
def test_oauth_parse_response_matches_tornado(body):
    assert auth._oauth_parse_response(body) == tornado.auth._oauth_parse_response(body)


@pytest.mark.parametrize("body", [b"", b"oauth_token=a", b"oauth_token_secret=b"])
def test_oauth_parse_response_without_a_token(body):
    with pytest.raises(KeyError):
        auth._oauth_parse_response(body)
    with pytest.raises(KeyError):
        tornado.auth._oauth_parse_response(body)


class _FakeRequest:
    def full_url(self) -> str:
        return "http://client.example:8888/login?next=/x"


def _signer(fwauth: Any, version: str) -> Any:
    class Signer(fwauth.OAuthMixin):
        _OAUTH_REQUEST_TOKEN_URL = "https://provider.example/oauth/request_token"
        _OAUTH_ACCESS_TOKEN_URL = "https://provider.example/oauth/access_token"
        _OAUTH_VERSION = version
        request = _FakeRequest()

        def _oauth_consumer_token(self) -> dict[str, Any]:
            return {"key": "ck", "secret": "cs/é"}

    return Signer()


@pytest.mark.parametrize("version", ["1.0", "1.0a"])
def test_signed_urls_match_tornado_for_a_fixed_nonce_and_time(version, monkeypatch):
    fixed = uuid.UUID("12345678123456781234567812345678")
    monkeypatch.setattr(uuid, "uuid4", lambda: fixed)
    monkeypatch.setattr("time.time", lambda: 1700000000.75)
    ours, theirs = _signer(auth, version), _signer(tornado.auth, version)
    for callback in (None, "oob", "/cb?a=1"):
        got = ours._oauth_request_token_url(callback_uri=callback, extra_params={"x": "y z"})
        want = theirs._oauth_request_token_url(callback_uri=callback, extra_params={"x": "y z"})
        assert got == want
    assert "oauth_nonce=12345678123456781234567812345678" in got
    assert "oauth_timestamp=1700000000&" in got
    for request_token in ({"key": b"rk", "secret": b"rs"},
                          {"key": "rk", "secret": "r s", "verifier": "v1"}):
        assert (ours._oauth_access_token_url(request_token)
                == theirs._oauth_access_token_url(request_token))
    access = {"key": "ak", "secret": "as&"}
    for method in ("GET", "POST"):
        params = {"status": "héllo", "n": 3}
        assert (ours._oauth_request_parameters("https://api.example/x.json", access, params,
                                               method=method)
                == theirs._oauth_request_parameters("https://api.example/x.json", access,
                                                    params, method=method))


def test_oauth_request_parameters_shape():
    params = _signer(auth, "1.0a")._oauth_request_parameters(
        "http://www.example.com/api/asdf", {"key": "uiop", "secret": "5678"}, {"foo": "bar"})
    assert sorted(params) == ["oauth_consumer_key", "oauth_nonce", "oauth_signature",
                              "oauth_signature_method", "oauth_timestamp", "oauth_token",
                              "oauth_version"]
    assert isinstance(params["oauth_signature"], str)
    assert base64.b64decode(params["oauth_signature"], validate=True)


def test_oauth2_client_secret_warns():
    class Handler:
        _OAUTH_AUTHORIZE_URL = "https://p.example/auth"
        redirected: ClassVar[list[str]] = []

        def redirect(self, url: str) -> None:
            self.redirected.append(url)

    class Ours(Handler, auth.OAuth2Mixin):
        pass

    class Theirs(Handler, tornado.auth.OAuth2Mixin):
        pass

    for cls in (Ours, Theirs):
        with pytest.warns(DeprecationWarning, match="client_secret argument is deprecated"):
            cls().authorize_redirect(redirect_uri="http://a/cb", client_secret="s")
    assert Handler.redirected[0] == Handler.redirected[1] == (
        "https://p.example/auth?response_type=code&redirect_uri=http%3A%2F%2Fa%2Fcb")


def test_get_auth_http_client_is_the_shared_async_client():
    async def check() -> None:
        for mixin in (auth.OAuthMixin, auth.OAuth2Mixin):
            assert mixin().get_auth_http_client() is embedtornado.httpclient.AsyncHTTPClient()
        with pytest.warns(DeprecationWarning):
            openid = auth.OpenIdMixin()
        assert openid.get_auth_http_client() is embedtornado.httpclient.AsyncHTTPClient()

    loop = embedtornado.ioloop.IOLoop(make_current=False)
    try:
        loop.run_sync(check)
    finally:
        loop.close(all_fds=True)


def test_public_names_and_signatures_match_tornado():
    import inspect

    def shape(func: Any) -> list[tuple[str, Any, Any]]:
        # Defaults are compared for the public methods only.
        params = inspect.signature(func).parameters.values()
        public = not func.__name__.startswith("_") or func.__name__ == "__init__"
        return [(p.name, p.kind, p.default if public else None) for p in params]

    for name in ("AuthError", "OpenIdMixin", "OAuthMixin", "OAuth2Mixin", "TwitterMixin",
                 "GoogleOAuth2Mixin", "FacebookGraphMixin"):
        ours, theirs = getattr(auth, name), getattr(tornado.auth, name)
        assert [b.__name__ for b in ours.__bases__] == [b.__name__ for b in theirs.__bases__]
        for attr, value in vars(theirs).items():
            if inspect.isfunction(value) and (not attr.startswith("__") or attr == "__init__"):
                mine = getattr(ours, attr)
                assert shape(mine) == shape(value), (name, attr)
                assert inspect.iscoroutinefunction(mine) == inspect.iscoroutinefunction(value)
            elif attr.startswith("_OAUTH") or attr.endswith("_BASE_URL"):
                assert getattr(ours, attr) == value, (name, attr)


def test_importing_web_does_not_import_auth():
    code = "import sys, embedtornado.web; print('embedtornado.auth' in sys.modules)"
    out = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True,
                         text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False"
