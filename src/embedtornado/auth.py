"""Log users in through third-party identity providers: OpenID 2.0, OAuth 1.0/1.0a, OAuth 2.0.

Every class here is a mixin for `embedtornado.web.RequestHandler`. A login
handler sends the browser to the provider (``authorize_redirect`` or
``authenticate_redirect``) and, when the provider sends it back, calls
``get_authenticated_user`` to turn the returned code or token into a user
(or an access token). Other handlers then call the provider's API on the
user's behalf with ``oauth2_request``, ``facebook_request`` or
``twitter_request``. Requests to the provider go through
`embedtornado.httpclient.AsyncHTTPClient` (see ``get_auth_http_client``).

A Google login handler::

    import urllib.parse

    import embedtornado.auth
    import embedtornado.web

    class GoogleLoginHandler(embedtornado.web.RequestHandler,
                             embedtornado.auth.GoogleOAuth2Mixin):
        async def get(self):
            # Google compares redirect_uri with the registered one exactly,
            # so build it from configuration, not from the request.
            redirect_uri = urllib.parse.urljoin(
                self.settings["redirect_base_uri"], self.reverse_url("google_login"))
            if self.get_argument("code", None):
                access = await self.get_authenticated_user(
                    redirect_uri=redirect_uri, code=self.get_argument("code"))
                user = await self.oauth2_request(
                    "https://www.googleapis.com/oauth2/v1/userinfo",
                    access_token=access["access_token"])
                self.set_signed_cookie("user", user["id"])
                self.redirect("/")
            else:
                self.authorize_redirect(
                    redirect_uri=redirect_uri,
                    client_id=self.get_google_oauth_settings()["key"],
                    scope=["profile", "email"],
                    response_type="code",
                    extra_params={"approval_prompt": "auto"})

The module-level helpers `_oauth_signature`, `_oauth10a_signature`,
`_oauth_escape` and `_oauth_parse_response` compute the same values as
Tornado's functions of those names, so code that signs its own requests
with them keeps working.

``import embedtornado.web`` does not import this module.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
import urllib.parse
import uuid
import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

from embedtornado import escape, httpclient
from embedtornado.httputil import url_concat

if TYPE_CHECKING:
    from embedtornado.web import RequestHandler

__all__ = [
    "AuthError",
    "FacebookGraphMixin",
    "GoogleOAuth2Mixin",
    "OAuth2Mixin",
    "OAuthMixin",
    "OpenIdMixin",
    "TwitterMixin",
]

# OpenID 2.0 and Attribute Exchange (AX) identifiers.
_OPENID_NS = "http://specs.openid.net/auth/2.0"
_OPENID_IDENTIFIER_SELECT = "http://specs.openid.net/auth/2.0/identifier_select"
_OPENID_AX_NS = "http://openid.net/srv/ax/1.0"
_OPENID_OAUTH_NS = "http://specs.openid.net/extensions/oauth/1.0"
_AX_FIRST_NAME = "http://axschema.org/namePerson/first"
_AX_FULL_NAME = "http://axschema.org/namePerson"
_AX_LAST_NAME = "http://axschema.org/namePerson/last"
_AX_EMAIL = "http://axschema.org/contact/email"
_AX_LANGUAGE = "http://axschema.org/pref/language"
_AX_USERNAME = "http://axschema.org/namePerson/friendly"
#: AX attributes other than ``name`` that `OpenIdMixin.authenticate_redirect`
#: can ask for, by the short name the caller uses.
_AX_SIMPLE_ATTRS = {"email": _AX_EMAIL, "language": _AX_LANGUAGE, "username": _AX_USERNAME}
#: ``name`` expands to these three AX attributes.
_AX_NAME_ATTRS = {"firstname": _AX_FIRST_NAME, "fullname": _AX_FULL_NAME, "lastname": _AX_LAST_NAME}
_OPENID_VALID = re.compile(rb"^is_valid:true$", re.MULTILINE)

#: The name of the cookie that carries an OAuth 1.0 request token from
#: ``authorize_redirect`` to ``get_authenticated_user``.
_REQUEST_TOKEN_COOKIE = "_oauth_request_token"


class AuthError(Exception):
    """Raised when a provider's answer cannot log the user in.

    For example: the OpenID provider does not confirm the assertion, the
    OAuth request-token cookie is missing or does not match the token the
    provider sent back, or no user could be fetched with the access token.
    Errors of the HTTP requests themselves surface as
    `embedtornado.httpclient.HTTPClientError` and the like.
    """


def _handler(mixin: object) -> RequestHandler:
    """The mixin seen as the `RequestHandler` it is mixed into (for type checkers)."""
    return cast("RequestHandler", mixin)


def _default_http_client() -> httpclient.AsyncHTTPClient:
    return httpclient.AsyncHTTPClient()


# --- OpenID 2.0 -----------------------------------------------------------------------


class OpenIdMixin:
    """OpenID 2.0 login with Attribute Exchange, for any OpenID provider.

    Set the class (or instance) attribute ``_OPENID_ENDPOINT`` to the
    provider's endpoint URL. A login handler calls `authenticate_redirect`
    on the first visit and `get_authenticated_user` when the provider sends
    the browser back (recognisable by an ``openid.mode`` argument).

    .. deprecated:: 6.5.8
       Few providers still speak OpenID 2.0; Tornado removes this class in
       6.7. Creating an instance warns with `DeprecationWarning`.
    """

    def __init__(self) -> None:
        warnings.warn(
            "OpenIdMixin is deprecated and will be removed in Tornado 6.7",
            DeprecationWarning,
            stacklevel=2,
        )

    def authenticate_redirect(
        self,
        callback_uri: str | None = None,
        ax_attrs: list[str] = ["name", "email", "language", "username"],  # noqa: B006
    ) -> None:
        """Redirect the browser to the provider to log in.

        The provider sends the browser back to ``callback_uri`` (relative to
        the current request's URL; the request's own URI by default) with
        ``openid.*`` arguments for `get_authenticated_user`.

        :arg callback_uri: where the provider returns the browser.
        :arg ax_attrs: the user attributes requested through Attribute
            Exchange, among ``name``, ``email``, ``language`` and
            ``username``; an empty list requests none.

        Returns ``None`` (it is not a coroutine).
        """
        handler = _handler(self)
        callback_uri = callback_uri or handler.request.uri
        assert callback_uri is not None
        args = self._openid_args(callback_uri, ax_attrs=ax_attrs)
        endpoint: str = self._OPENID_ENDPOINT  # type: ignore[attr-defined]
        handler.redirect(endpoint + "?" + urllib.parse.urlencode(args))

    async def get_authenticated_user(
        self, http_client: httpclient.AsyncHTTPClient | None = None
    ) -> dict[str, Any]:
        """Verify the provider's answer and return the user it describes.

        Call this in the handler the provider redirected back to. The
        assertion in the request's arguments is sent back to the provider
        (``openid.mode=check_authentication``); unless it answers
        ``is_valid:true``, `AuthError` is raised.

        The user dict has whichever of ``name``, ``first_name``,
        ``last_name``, ``email``, ``locale``, ``username`` and
        ``claimed_id`` the provider supplied.

        :arg http_client: the client for the verification request;
            `get_auth_http_client` by default.
        """
        handler = _handler(self)
        args: dict[str, str | bytes] = {
            name: values[-1] for name, values in handler.request.arguments.items()
        }
        args["openid.mode"] = "check_authentication"
        if http_client is None:
            http_client = self.get_auth_http_client()
        endpoint: str = self._OPENID_ENDPOINT  # type: ignore[attr-defined]
        response = await http_client.fetch(
            endpoint, method="POST", body=urllib.parse.urlencode(args)
        )
        return self._on_authentication_verified(response)

    def _openid_args(
        self,
        callback_uri: str,
        ax_attrs: Iterable[str] = (),
        oauth_scope: str | None = None,
    ) -> dict[str, str]:
        """The query arguments of the redirect to the provider."""
        handler = _handler(self)
        return_to = urllib.parse.urljoin(handler.request.full_url(), callback_uri)
        args = {
            "openid.ns": _OPENID_NS,
            "openid.claimed_id": _OPENID_IDENTIFIER_SELECT,
            "openid.identity": _OPENID_IDENTIFIER_SELECT,
            "openid.return_to": return_to,
            "openid.realm": urllib.parse.urljoin(return_to, "/"),
            "openid.mode": "checkid_setup",
        }
        # NOTE(embedtornado): attributes are requested in the caller's order
        # (Tornado goes through a set, so its order varies between runs).
        wanted = list(dict.fromkeys(ax_attrs))
        if wanted:
            args["openid.ns.ax"] = _OPENID_AX_NS
            args["openid.ax.mode"] = "fetch_request"
            required: list[str] = []
            if "name" in wanted:
                wanted = [a for a in wanted if a != "name" and a not in _AX_NAME_ATTRS]
                for alias, type_uri in _AX_NAME_ATTRS.items():
                    args["openid.ax.type." + alias] = type_uri
                    required.append(alias)
            for alias in wanted:
                args["openid.ax.type." + alias] = _AX_SIMPLE_ATTRS[alias]
                required.append(alias)
            args["openid.ax.required"] = ",".join(required)
        if oauth_scope:
            args["openid.ns.oauth"] = _OPENID_OAUTH_NS
            args["openid.oauth.consumer"] = handler.request.host.split(":")[0]
            args["openid.oauth.scope"] = oauth_scope
        return args

    def _on_authentication_verified(self, response: httpclient.HTTPResponse) -> dict[str, Any]:
        """Build the user dict once the provider has confirmed the assertion."""
        handler = _handler(self)
        if _OPENID_VALID.search(response.body) is None:
            raise AuthError(f"Invalid OpenID response: {response.body!r}")

        # The AX namespace alias is whatever openid.ns.<alias> names AX.
        alias = None
        for name in handler.request.arguments:
            if name.startswith("openid.ns.") and handler.get_argument(name) == _OPENID_AX_NS:
                alias = name[len("openid.ns."):]
                break

        def ax_value(type_uri: str) -> str:
            if not alias:
                return ""
            type_prefix = f"openid.{alias}.type."
            for name in handler.request.arguments:
                if name.startswith(type_prefix) and handler.get_argument(name) == type_uri:
                    value_name = f"openid.{alias}.value.{name[len(type_prefix):]}"
                    return cast(str, handler.get_argument(value_name, ""))
            return ""

        email = ax_value(_AX_EMAIL)
        full_name = ax_value(_AX_FULL_NAME)
        first_name = ax_value(_AX_FIRST_NAME)
        last_name = ax_value(_AX_LAST_NAME)
        username = ax_value(_AX_USERNAME)
        locale = ax_value(_AX_LANGUAGE).lower()

        user: dict[str, Any] = {}
        if first_name:
            user["first_name"] = first_name
        if last_name:
            user["last_name"] = last_name
        if full_name:
            user["name"] = full_name
        elif first_name or last_name:
            user["name"] = " ".join(part for part in (first_name, last_name) if part)
        elif email:
            user["name"] = email.split("@")[0]
        if email:
            user["email"] = email
        if locale:
            user["locale"] = locale
        if username:
            user["username"] = username
        claimed_id = handler.get_argument("openid.claimed_id", None)
        if claimed_id:
            user["claimed_id"] = claimed_id
        return user

    def get_auth_http_client(self) -> httpclient.AsyncHTTPClient:
        """Return the `.AsyncHTTPClient` that talks to the provider.

        Override it to use another client (a test double, say).
        """
        return _default_http_client()


# --- OAuth 1.0 and 1.0a ---------------------------------------------------------------


class OAuthMixin:
    """OAuth 1.0 and 1.0a login, for a provider described by class attributes.

    A subclass sets:

    * ``_OAUTH_REQUEST_TOKEN_URL``: where request tokens are obtained.
    * ``_OAUTH_AUTHORIZE_URL``: where the user is sent to authorize them.
    * ``_OAUTH_ACCESS_TOKEN_URL``: where a request token is exchanged for an
      access token.
    * ``_OAUTH_VERSION``: ``"1.0a"`` (the default) or ``"1.0"``.
    * ``_OAUTH_NO_CALLBACKS``: true if the provider only accepts callback
      URLs registered in advance.

    and overrides ``_oauth_consumer_token`` (returning ``{"key": ...,
    "secret": ...}``) and the coroutine ``_oauth_get_user_future`` (fetching
    the user with an access token). `TwitterMixin` is an example.

    Requests are signed with HMAC-SHA1. Between the two steps the request
    token travels in the ``_oauth_request_token`` cookie.
    """

    async def authorize_redirect(
        self,
        callback_uri: str | None = None,
        extra_params: dict[str, Any] | None = None,
        http_client: httpclient.AsyncHTTPClient | None = None,
    ) -> None:
        """Get a request token and redirect the browser to authorize it.

        The token is stored in the ``_oauth_request_token`` cookie for
        `get_authenticated_user`. The response is finished here: write
        nothing after awaiting this coroutine.

        :arg callback_uri: where the provider sends the browser back,
            relative to the current request's URL. ``"oob"`` (out of band)
            answers with the authorization URL as the response body instead
            of redirecting. Omit it for providers with a registered callback.
        :arg extra_params: more arguments for the request-token URL (OAuth
            1.0a only).
        :arg http_client: the client for the request-token request;
            `get_auth_http_client` by default.

        .. note:: embedtornado differs from Tornado 6.6.1: a ``callback_uri``
           for a provider with ``_OAUTH_NO_CALLBACKS`` raises `AuthError`
           (Tornado raises a plain `Exception`, of which it is a subclass).
        """
        if callback_uri and getattr(self, "_OAUTH_NO_CALLBACKS", False):
            raise AuthError("This service does not support oauth_callback")
        if http_client is None:
            http_client = self.get_auth_http_client()
        if _is_oauth10a(self):
            url = self._oauth_request_token_url(callback_uri=callback_uri, extra_params=extra_params)
        else:
            url = self._oauth_request_token_url()
        response = await http_client.fetch(url)
        authorize_url: str = self._OAUTH_AUTHORIZE_URL  # type: ignore[attr-defined]
        self._on_request_token(authorize_url, callback_uri, response)

    async def get_authenticated_user(
        self, http_client: httpclient.AsyncHTTPClient | None = None
    ) -> dict[str, Any]:
        """Exchange the authorized request token for an access token; return the user.

        Call this in the handler the provider redirected back to (it has an
        ``oauth_token`` argument). The token must match the
        ``_oauth_request_token`` cookie, which is cleared. The returned dict
        is the one ``_oauth_get_user_future`` produces, plus
        ``access_token``: a dict with ``key``, ``secret`` and any other
        fields the provider returned with the token, for later signed
        requests.

        Raises `AuthError` if the cookie is missing, malformed or does not
        match, or if no user is found.

        :arg http_client: the client for the access-token request;
            `get_auth_http_client` by default.

        .. note:: embedtornado differs from Tornado 6.6.1: a malformed
           cookie raises `AuthError` (Tornado lets `ValueError` or
           `binascii.Error` escape).
        """
        handler = _handler(self)
        request_key = escape.utf8(handler.get_argument("oauth_token"))
        verifier = handler.get_argument("oauth_verifier", None)
        cookie = handler.get_cookie(_REQUEST_TOKEN_COOKIE)
        if not cookie:
            raise AuthError("Missing OAuth request token cookie")
        handler.clear_cookie(_REQUEST_TOKEN_COOKIE)
        cookie_key, cookie_secret = _decode_request_token_cookie(cookie)
        if cookie_key != request_key:
            raise AuthError("Request token does not match cookie")
        token: dict[str, str | bytes] = {"key": cookie_key, "secret": cookie_secret}
        if verifier:
            token["verifier"] = verifier
        if http_client is None:
            http_client = self.get_auth_http_client()
        response = await http_client.fetch(self._oauth_access_token_url(token))
        access_token = _oauth_parse_response(response.body)
        user = await self._oauth_get_user_future(access_token)
        if not user:
            raise AuthError("Error getting user")
        user["access_token"] = access_token
        return user

    def _oauth_request_token_url(
        self,
        callback_uri: str | None = None,
        extra_params: dict[str, Any] | None = None,
    ) -> str:
        """The signed URL that asks the provider for a request token."""
        consumer_token = self._oauth_consumer_token()
        url: str = self._OAUTH_REQUEST_TOKEN_URL  # type: ignore[attr-defined]
        args = _oauth_base_args(consumer_token)
        if _is_oauth10a(self):
            if callback_uri == "oob":
                args["oauth_callback"] = "oob"
            elif callback_uri:
                args["oauth_callback"] = urllib.parse.urljoin(
                    _handler(self).request.full_url(), callback_uri
                )
            if extra_params:
                args.update(extra_params)
            signature = _oauth10a_signature(consumer_token, "GET", url, args)
        else:
            signature = _oauth_signature(consumer_token, "GET", url, args)
        args["oauth_signature"] = signature
        return url + "?" + urllib.parse.urlencode(args)

    def _on_request_token(
        self,
        authorize_url: str,
        callback_uri: str | None,
        response: httpclient.HTTPResponse,
    ) -> None:
        """Store the request token in a cookie and send the browser to ``authorize_url``."""
        handler = _handler(self)
        request_token = _oauth_parse_response(response.body)
        cookie = b"|".join(
            base64.b64encode(escape.utf8(request_token[part])) for part in ("key", "secret")
        )
        handler.set_cookie(_REQUEST_TOKEN_COOKIE, cookie)
        args = {"oauth_token": request_token["key"]}
        if callback_uri == "oob":
            handler.finish(authorize_url + "?" + urllib.parse.urlencode(args))
            return
        if callback_uri:
            args["oauth_callback"] = urllib.parse.urljoin(handler.request.full_url(), callback_uri)
        handler.redirect(authorize_url + "?" + urllib.parse.urlencode(args))

    def _oauth_access_token_url(self, request_token: dict[str, Any]) -> str:
        """The signed URL that exchanges ``request_token`` for an access token."""
        consumer_token = self._oauth_consumer_token()
        url: str = self._OAUTH_ACCESS_TOKEN_URL  # type: ignore[attr-defined]
        args = _oauth_base_args(consumer_token, request_token)
        if "verifier" in request_token:
            args["oauth_verifier"] = request_token["verifier"]
        sign = _oauth10a_signature if _is_oauth10a(self) else _oauth_signature
        args["oauth_signature"] = sign(consumer_token, "GET", url, args, request_token)
        return url + "?" + urllib.parse.urlencode(args)

    def _oauth_consumer_token(self) -> dict[str, Any]:
        """Return this application's consumer credentials, ``{"key": ..., "secret": ...}``.

        Subclasses must override it.
        """
        raise NotImplementedError()

    async def _oauth_get_user_future(self, access_token: dict[str, Any]) -> dict[str, Any]:
        """Fetch the user that ``access_token`` belongs to.

        Subclasses must override it with a coroutine returning a dict
        (`get_authenticated_user` adds ``access_token`` to it); a false
        result makes `get_authenticated_user` raise `AuthError`.
        """
        raise NotImplementedError()

    def _oauth_request_parameters(
        self,
        url: str,
        access_token: dict[str, Any],
        parameters: dict[str, Any] = {},  # noqa: B006
        method: str = "GET",
    ) -> dict[str, Any]:
        """Return the ``oauth_*`` arguments that sign a request with ``access_token``.

        ``parameters`` are all the query and form arguments the request will
        carry: they are part of what is signed, though not of the result.
        """
        consumer_token = self._oauth_consumer_token()
        base_args = _oauth_base_args(consumer_token, access_token)
        signed = {**base_args, **parameters}
        sign = _oauth10a_signature if _is_oauth10a(self) else _oauth_signature
        signature = sign(consumer_token, method, url, signed, access_token)
        base_args["oauth_signature"] = escape.to_unicode(signature)
        return base_args

    def get_auth_http_client(self) -> httpclient.AsyncHTTPClient:
        """Return the `.AsyncHTTPClient` that talks to the provider.

        Override it to use another client (a test double, say).
        """
        return _default_http_client()


def _is_oauth10a(mixin: object) -> bool:
    return getattr(mixin, "_OAUTH_VERSION", "1.0a") == "1.0a"


def _oauth_base_args(
    consumer_token: dict[str, Any], token: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The ``oauth_*`` arguments every signed request carries, with a fresh nonce and timestamp."""
    args = {"oauth_consumer_key": escape.to_unicode(consumer_token["key"])}
    if token is not None:
        args["oauth_token"] = escape.to_unicode(token["key"])
    args["oauth_signature_method"] = "HMAC-SHA1"
    args["oauth_timestamp"] = str(int(time.time()))
    args["oauth_nonce"] = uuid.uuid4().hex
    args["oauth_version"] = "1.0"
    return args


def _decode_request_token_cookie(cookie: str) -> tuple[bytes, bytes]:
    """Split the request-token cookie into the token's key and secret."""
    parts = cookie.split("|")
    if len(parts) != 2:
        raise AuthError("Malformed OAuth request token cookie")
    try:
        key, secret = (base64.b64decode(escape.utf8(part)) for part in parts)
    except (binascii.Error, ValueError):
        raise AuthError("Malformed OAuth request token cookie") from None
    return key, secret


# --- OAuth 2.0 ------------------------------------------------------------------------


class OAuth2Mixin:
    """OAuth 2.0 authorization-code login, for a provider described by class attributes.

    A subclass sets ``_OAUTH_AUTHORIZE_URL`` (where the user grants access)
    and ``_OAUTH_ACCESS_TOKEN_URL`` (where a code is exchanged for a token).
    `GoogleOAuth2Mixin` and `FacebookGraphMixin` are examples.
    """

    def authorize_redirect(
        self,
        redirect_uri: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        extra_params: dict[str, Any] | None = None,
        scope: list[str] | None = None,
        response_type: str = "code",
    ) -> None:
        """Redirect the browser to the provider to grant access.

        The provider sends the browser back to ``redirect_uri`` (some
        providers only accept a registered one) with a ``code`` argument,
        which the subclass's ``get_authenticated_user`` exchanges for an
        access token.

        :arg redirect_uri: where the provider returns the browser.
        :arg client_id: this application's client id.
        :arg client_secret: ignored.
        :arg extra_params: more query arguments for the provider.
        :arg scope: the permissions asked for, sent space-separated.
        :arg response_type: the OAuth response type.

        Returns ``None`` (it is not a coroutine).

        .. deprecated:: 6.4
           ``client_secret`` never had an effect; passing it warns with
           `DeprecationWarning`.
        """
        if client_secret is not None:
            warnings.warn("client_secret argument is deprecated", DeprecationWarning, stacklevel=2)
        args: dict[str, Any] = {"response_type": response_type}
        if redirect_uri is not None:
            args["redirect_uri"] = redirect_uri
        if client_id is not None:
            args["client_id"] = client_id
        if extra_params:
            args.update(extra_params)
        if scope:
            args["scope"] = " ".join(scope)
        authorize_url: str = self._OAUTH_AUTHORIZE_URL  # type: ignore[attr-defined]
        _handler(self).redirect(url_concat(authorize_url, args))

    def _oauth_request_token_url(
        self,
        redirect_uri: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        code: str | None = None,
        extra_params: dict[str, Any] | None = None,
    ) -> str:
        """The access-token URL with the arguments that exchange ``code`` for a token."""
        args: dict[str, Any] = {}
        for name, value in (
            ("redirect_uri", redirect_uri),
            ("code", code),
            ("client_id", client_id),
            ("client_secret", client_secret),
        ):
            if value is not None:
                args[name] = value
        if extra_params:
            args.update(extra_params)
        access_token_url: str = self._OAUTH_ACCESS_TOKEN_URL  # type: ignore[attr-defined]
        return url_concat(access_token_url, args)

    async def oauth2_request(
        self,
        url: str,
        access_token: str | None = None,
        post_args: dict[str, Any] | None = None,
        **args: Any,
    ) -> Any:
        """Call ``url`` with an OAuth 2.0 access token and return its decoded JSON.

        ``access_token`` and the keyword arguments go in the query string
        (as in Tornado, the keyword arguments only when an access token is
        given). With ``post_args`` the request is a POST whose form body
        they are; otherwise it is a GET. An error status raises
        `embedtornado.httpclient.HTTPClientError`.

        Example::

            class FeedHandler(embedtornado.web.RequestHandler,
                              embedtornado.auth.FacebookGraphMixin):
                @embedtornado.web.authenticated
                async def post(self):
                    entry = await self.oauth2_request(
                        "https://graph.facebook.com/me/feed",
                        post_args={"message": self.get_argument("message")},
                        access_token=self.current_user["access_token"])
                    self.finish(entry)

        .. versionadded:: 4.3
        """
        query: dict[str, Any] = {}
        if access_token:
            query["access_token"] = access_token
            query.update(args)
        if query:
            url += "?" + urllib.parse.urlencode(query)
        http = self.get_auth_http_client()
        if post_args is not None:
            response = await http.fetch(url, method="POST", body=urllib.parse.urlencode(post_args))
        else:
            response = await http.fetch(url)
        return escape.json_decode(response.body)

    def get_auth_http_client(self) -> httpclient.AsyncHTTPClient:
        """Return the `.AsyncHTTPClient` that talks to the provider.

        Override it to use another client (a test double, say).

        .. versionadded:: 4.3
        """
        return _default_http_client()


# --- Providers ------------------------------------------------------------------------


class TwitterMixin(OAuthMixin):
    """Log in with Twitter (OAuth 1.0a) and call its REST API 1.1.

    Register the application with Twitter and put its consumer key and
    secret in the application settings ``twitter_consumer_key`` and
    ``twitter_consumer_secret``. Then, on the handler of the registered
    callback URL::

        class TwitterLoginHandler(embedtornado.web.RequestHandler,
                                  embedtornado.auth.TwitterMixin):
            async def get(self):
                if self.get_argument("oauth_token", None):
                    user = await self.get_authenticated_user()
                    self.set_signed_cookie("user", user["username"])
                else:
                    await self.authorize_redirect()

    The user has Twitter's ``verify_credentials`` fields, plus ``username``
    (the screen name) and ``access_token``.

    .. deprecated:: 6.3
       Twitter has deprecated API 1.1 and limits access to it; the class is
       no longer updated.
    """

    _OAUTH_REQUEST_TOKEN_URL = "https://api.twitter.com/oauth/request_token"
    _OAUTH_ACCESS_TOKEN_URL = "https://api.twitter.com/oauth/access_token"
    _OAUTH_AUTHORIZE_URL = "https://api.twitter.com/oauth/authorize"
    _OAUTH_AUTHENTICATE_URL = "https://api.twitter.com/oauth/authenticate"
    _OAUTH_NO_CALLBACKS = False
    _TWITTER_BASE_URL = "https://api.twitter.com/1.1"

    async def authenticate_redirect(self, callback_uri: str | None = None) -> None:
        """Like `~OAuthMixin.authorize_redirect`, but a user who already authorized
        this application is sent straight back.

        This is the usual choice for "Sign in with Twitter".
        """
        http = self.get_auth_http_client()
        response = await http.fetch(self._oauth_request_token_url(callback_uri=callback_uri))
        self._on_request_token(self._OAUTH_AUTHENTICATE_URL, None, response)

    async def twitter_request(
        self,
        path: str,
        access_token: dict[str, Any],
        post_args: dict[str, Any] | None = None,
        **args: Any,
    ) -> Any:
        """Call the Twitter API at ``path`` and return its decoded JSON.

        ``path`` is relative to API 1.1 without the format, such as
        ``"/statuses/user_timeline/btaylor"`` (``.json`` is appended); a
        full ``http:``/``https:`` URL is used as it is. The request is
        signed with ``access_token`` (the one in the user dict of
        `~OAuthMixin.get_authenticated_user`) when it is given. Keyword
        arguments go in the query string; with ``post_args`` the request is
        a POST whose form body they are. An error status raises
        `embedtornado.httpclient.HTTPClientError`.

        Example::

            class TweetHandler(embedtornado.web.RequestHandler,
                               embedtornado.auth.TwitterMixin):
                @embedtornado.web.authenticated
                async def post(self):
                    status = await self.twitter_request(
                        "/statuses/update",
                        post_args={"status": self.get_argument("status")},
                        access_token=self.current_user["access_token"])
                    self.finish(status)
        """
        if path.startswith(("http:", "https:")):
            url = path
        else:
            url = self._TWITTER_BASE_URL + path + ".json"
        if access_token:
            signed = {**args, **(post_args or {})}
            method = "GET" if post_args is None else "POST"
            args.update(self._oauth_request_parameters(url, access_token, signed, method=method))
        if args:
            url += "?" + urllib.parse.urlencode(args)
        http = self.get_auth_http_client()
        if post_args is not None:
            response = await http.fetch(url, method="POST", body=urllib.parse.urlencode(post_args))
        else:
            response = await http.fetch(url)
        return escape.json_decode(response.body)

    def _oauth_consumer_token(self) -> dict[str, Any]:
        handler = _handler(self)
        handler.require_setting("twitter_consumer_key", "Twitter OAuth")
        handler.require_setting("twitter_consumer_secret", "Twitter OAuth")
        return {
            "key": handler.settings["twitter_consumer_key"],
            "secret": handler.settings["twitter_consumer_secret"],
        }

    async def _oauth_get_user_future(self, access_token: dict[str, Any]) -> dict[str, Any]:
        user = await self.twitter_request("/account/verify_credentials", access_token=access_token)
        if user:
            user["username"] = user["screen_name"]
        return cast("dict[str, Any]", user)


class GoogleOAuth2Mixin(OAuth2Mixin):
    """Log in with Google (OAuth 2.0).

    Create an OAuth client id of type "Web application" in the Google Cloud
    console (APIs & Services, Credentials), register the ``redirect_uri``
    the application will use, and put the credentials in the application
    settings as ``{"google_oauth": {"key": CLIENT_ID, "secret":
    CLIENT_SECRET}}`` (or override `get_google_oauth_settings`). The module
    docstring shows a login handler.

    .. versionadded:: 3.2
    """

    _OAUTH_AUTHORIZE_URL = "https://accounts.google.com/o/oauth2/v2/auth"
    _OAUTH_ACCESS_TOKEN_URL = "https://www.googleapis.com/oauth2/v4/token"
    _OAUTH_USERINFO_URL = "https://www.googleapis.com/oauth2/v1/userinfo"
    _OAUTH_NO_CALLBACKS = False
    _OAUTH_SETTINGS_KEY = "google_oauth"

    def get_google_oauth_settings(self) -> dict[str, str]:
        """Return the Google client credentials, ``{"key": ..., "secret": ...}``.

        They come from the application setting ``google_oauth``; override
        this method to keep them elsewhere (in a database, say).
        """
        return cast("dict[str, str]", _handler(self).settings[self._OAUTH_SETTINGS_KEY])

    async def get_authenticated_user(
        self,
        redirect_uri: str,
        code: str,
        client_id: str | None = None,
        client_secret: str | None = None,
    ) -> dict[str, Any]:
        """Exchange the authorization ``code`` for an access token.

        Returns Google's token response (``access_token``, ``expires_in``
        and so on), not the user: fetch that with `~OAuth2Mixin.oauth2_request`
        (for instance from ``https://www.googleapis.com/oauth2/v1/userinfo``).

        :arg redirect_uri: the same ``redirect_uri`` given to
            `~OAuth2Mixin.authorize_redirect`.
        :arg code: the ``code`` argument Google sent back.
        :arg client_id: the client id; from `get_google_oauth_settings` by default.
        :arg client_secret: the client secret; likewise.
        """
        if client_id is None or client_secret is None:
            settings = self.get_google_oauth_settings()
            if client_id is None:
                client_id = settings["key"]
            if client_secret is None:
                client_secret = settings["secret"]
        body = urllib.parse.urlencode(
            {
                "redirect_uri": redirect_uri,
                "code": code,
                "client_id": client_id,
                "client_secret": client_secret,
                "grant_type": "authorization_code",
            }
        )
        response = await self.get_auth_http_client().fetch(
            self._OAUTH_ACCESS_TOKEN_URL,
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            body=body,
        )
        return cast("dict[str, Any]", escape.json_decode(response.body))


class FacebookGraphMixin(OAuth2Mixin):
    """Log in with Facebook (OAuth 2.0) and call its Graph API.

    A login handler::

        class FacebookLoginHandler(embedtornado.web.RequestHandler,
                                   embedtornado.auth.FacebookGraphMixin):
            async def get(self):
                redirect_uri = urllib.parse.urljoin(
                    self.settings["redirect_base_uri"], self.reverse_url("facebook_login"))
                if self.get_argument("code", None):
                    user = await self.get_authenticated_user(
                        redirect_uri=redirect_uri,
                        client_id=self.settings["facebook_api_key"],
                        client_secret=self.settings["facebook_secret"],
                        code=self.get_argument("code"))
                    self.set_signed_cookie("user", user["id"])
                else:
                    self.authorize_redirect(
                        redirect_uri=redirect_uri,
                        client_id=self.settings["facebook_api_key"],
                        extra_params={"scope": "user_posts"})
    """

    _OAUTH_ACCESS_TOKEN_URL = "https://graph.facebook.com/oauth/access_token?"
    _OAUTH_AUTHORIZE_URL = "https://www.facebook.com/dialog/oauth?"
    _OAUTH_NO_CALLBACKS = False
    _FACEBOOK_BASE_URL = "https://graph.facebook.com"

    async def get_authenticated_user(
        self,
        redirect_uri: str,
        client_id: str,
        client_secret: str,
        code: str,
        extra_fields: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """Exchange the authorization ``code`` for an access token; return the user.

        The user dict has the Graph API fields ``id``, ``name``,
        ``first_name``, ``last_name``, ``locale``, ``picture`` and ``link``
        (``None`` where Facebook gave none), those named in
        ``extra_fields``, ``access_token`` (for `facebook_request`) and
        ``session_expires``: the token's lifetime in seconds, as a string
        (convert it with ``int()``). Returns ``None`` if the ``/me`` request
        returns nothing.

        :arg redirect_uri: the same ``redirect_uri`` given to
            `~OAuth2Mixin.authorize_redirect`.
        :arg client_id: the application id.
        :arg client_secret: the application secret; it also signs the
            ``/me`` request (``appsecret_proof``).
        :arg code: the ``code`` argument Facebook sent back.
        :arg extra_fields: more user fields to fetch (any iterable of names).

        .. note:: embedtornado differs from Tornado 6.6.1: a token response
           without ``access_token`` raises `AuthError` (Tornado fails an
           ``assert``).
        """
        http = self.get_auth_http_client()
        token_url = self._oauth_request_token_url(
            redirect_uri=redirect_uri, client_id=client_id, client_secret=client_secret, code=code
        )
        response = await http.fetch(token_url)
        token = escape.json_decode(response.body)
        access_token = token.get("access_token")
        if access_token is None:
            raise AuthError("Facebook returned no access token")
        expires_in = token.get("expires_in")

        fields = dict.fromkeys(["id", "name", "first_name", "last_name", "locale", "picture", "link"])
        if extra_fields:
            fields.update(dict.fromkeys(extra_fields))
        proof = hmac.new(
            escape.utf8(client_secret), escape.utf8(access_token), hashlib.sha256
        ).hexdigest()
        user = await self.facebook_request(
            path="/me",
            access_token=access_token,
            appsecret_proof=proof,
            fields=",".join(fields),
        )
        if user is None:
            return None
        result: dict[str, Any] = {field: user.get(field) for field in fields}
        result["access_token"] = access_token
        result["session_expires"] = str(expires_in)
        return result

    async def facebook_request(
        self,
        path: str,
        access_token: str | None = None,
        post_args: dict[str, Any] | None = None,
        **args: Any,
    ) -> Any:
        """Call the Graph API at ``path`` (such as ``"/me/feed"``); return its decoded JSON.

        ``path`` is relative to ``_FACEBOOK_BASE_URL``
        (``https://graph.facebook.com``); otherwise this is
        `~OAuth2Mixin.oauth2_request`, with the same arguments. An access
        token comes from `get_authenticated_user`.

        Example::

            class PostHandler(embedtornado.web.RequestHandler,
                              embedtornado.auth.FacebookGraphMixin):
                @embedtornado.web.authenticated
                async def post(self):
                    entry = await self.facebook_request(
                        "/me/feed",
                        post_args={"message": self.get_argument("message")},
                        access_token=self.current_user["access_token"])
                    if not entry:
                        self.authorize_redirect()  # perhaps a missing permission
                        return
                    self.finish("Posted")

        .. versionchanged:: 3.1
           ``_FACEBOOK_BASE_URL`` can be overridden.
        """
        return await self.oauth2_request(
            self._FACEBOOK_BASE_URL + path, access_token=access_token, post_args=post_args, **args
        )


# --- OAuth 1.0 signatures -------------------------------------------------------------


def _oauth_signature(
    consumer_token: dict[str, Any],
    method: str,
    url: str,
    parameters: dict[str, Any] = {},  # noqa: B006
    token: dict[str, Any] | None = None,
) -> bytes:
    """Return the base64 HMAC-SHA1 signature of a request under OAuth 1.0.

    The key joins the consumer secret and the token secret (empty without
    ``token``) as they are; see `_oauth10a_signature` for OAuth 1.0a.
    """
    key = escape.utf8(consumer_token["secret"]) + b"&"
    if token:
        key += escape.utf8(token["secret"])
    return _hmac_sha1_base64(key, _signature_base_string(method, url, parameters))


def _oauth10a_signature(
    consumer_token: dict[str, Any],
    method: str,
    url: str,
    parameters: dict[str, Any] = {},  # noqa: B006
    token: dict[str, Any] | None = None,
) -> bytes:
    """Return the base64 HMAC-SHA1 signature of a request under OAuth 1.0a.

    As `_oauth_signature`, except that the two secrets are percent-encoded
    before they are joined into the key.
    """
    key = _oauth_escape(consumer_token["secret"]) + "&"
    if token:
        key += _oauth_escape(token["secret"])
    return _hmac_sha1_base64(escape.utf8(key), _signature_base_string(method, url, parameters))


def _signature_base_string(method: str, url: str, parameters: dict[str, Any]) -> str:
    """The text an OAuth 1.0 signature covers: method, URL without query, sorted parameters."""
    scheme, netloc, path = urllib.parse.urlparse(url)[:3]
    normalized_url = f"{scheme.lower()}://{netloc.lower()}{path}"
    # NOTE(embedtornado): as Tornado does, names are sorted and written
    # unescaped; values are percent-encoded.
    query = "&".join(
        f"{name}={_oauth_escape(_parameter_text(value))}"
        for name, value in sorted(parameters.items())
    )
    return "&".join(_oauth_escape(part) for part in (method.upper(), normalized_url, query))


def _parameter_text(value: Any) -> str:
    # NOTE(embedtornado): Tornado signs str(value), which for bytes is
    # "b'...'" (and a BytesWarning under -bb); bytes are decoded here.
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value)


def _hmac_sha1_base64(key: bytes, text: str) -> bytes:
    digest = hmac.new(key, escape.utf8(text), hashlib.sha1).digest()
    return base64.b64encode(digest)


def _oauth_escape(val: str | bytes) -> str:
    """Percent-encode ``val`` (UTF-8 first if it is text) as OAuth does: only
    letters, digits and ``_.-~`` stay as they are."""
    return urllib.parse.quote(escape.utf8(val), safe="~")


def _oauth_parse_response(body: bytes) -> dict[str, Any]:
    """Parse a provider's form-encoded token response into a token dict.

    ``oauth_token`` becomes ``key`` and ``oauth_token_secret`` becomes
    ``secret``; every other non-empty field is kept under its own name
    (the first value of a repeated one). A response without both raises
    `KeyError`.
    """
    fields = urllib.parse.parse_qs(escape.to_unicode(body), keep_blank_values=False)
    token = {"key": fields["oauth_token"][0], "secret": fields["oauth_token_secret"][0]}
    for name, values in fields.items():
        if name not in ("oauth_token", "oauth_token_secret"):
            token[name] = values[0]
    return token
