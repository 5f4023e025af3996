"""`RequestHandler`: the class an application subclasses to answer requests.

One handler object is made per request. The application's router picks the
class, the server hands it the request, and the handler's ``get``/``post``/...
method writes the response::

    from embedtornado.web import Application, HTTPError, RequestHandler

    class ItemHandler(RequestHandler):
        def initialize(self, store):            # kwargs from the URL rule
            self.store = store

        def set_default_headers(self):          # also runs again before an error page
            self.set_header("Cache-Control", "no-store")

        def get(self, item_id):                 # regex groups become arguments
            item = self.store.get(item_id)
            if item is None:
                raise HTTPError(404)
            self.write({"id": item_id, "name": item})   # a dict goes out as JSON

        async def post(self, item_id):          # methods may be coroutines
            self.store[item_id] = self.get_body_argument("name")
            self.set_status(201)

    app = Application([(r"/items/([0-9]+)", ItemHandler, {"store": {}})])

The hooks run in Tornado's order: ``set_default_headers`` (from ``clear()``
in the constructor), ``initialize``, ``prepare``, the HTTP method,
``on_finish``. On an error the response is cleared (so
``set_default_headers`` runs again), then ``write_error`` and ``on_finish``.

Speed. A request whose ``prepare`` and method are plain functions runs from
start to finish inside `_execute`, with no coroutine or task; the headers
and body leave in one ``write_headers`` call. Only when a hook returns an
awaitable does `_execute` return a coroutine for the rest of the request.
`finish` does Tornado's work (the SHA-1 ``Etag``, the 304 check,
``Content-Length``) with the default methods inlined, for classes that
override none of them; which classes do is worked out once per class, on
its first response (so replace such methods on a class before it serves).
The same goes for the ``super().__init__()`` call of the constructor, made
only when a class after `RequestHandler` in the MRO defines ``__init__``.

Cookies, signed cookies, XSRF protection, the current user and `redirect`
come from `.security.SecurityMixin`, which `RequestHandler` inherits.

.. note:: embedtornado differs from Tornado 6.6.1: the default ``Server``
   header is ``embedtornado/<version>`` (Tornado sends
   ``TornadoServer/<version>``).
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import numbers
import re
import sys
import threading
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Union, overload

import embedtornado
from embedtornado import escape, httputil, iostream
from embedtornado.escape import _unicode, utf8
from embedtornado.httputil import HTTPHeaders, HTTPInputError, ResponseStartLine, responses
from embedtornado.log import app_log, gen_log
from embedtornado.util import ObjectDict
from embedtornado.web import _render
from embedtornado.web.errors import (
    _ARG_DEFAULT,
    Finish,
    HTTPError,
    MissingArgumentError,
    _ArgDefaultMarker,
)
from embedtornado.web.security import SecurityMixin

if TYPE_CHECKING:
    from embedtornado.web.application import Application
    from embedtornado.web.transforms import OutputTransform

__all__ = ["RequestHandler", "is_absolute"]

_HeaderTypes = Union[bytes, str, int, numbers.Integral, datetime.datetime]

#: The ``Server`` header every response starts with (see the module note).
_SERVER_HEADER = "embedtornado/%s" % embedtornado.version
_DEFAULT_CONTENT_TYPE = "text/html; charset=UTF-8"
_JSON_CONTENT_TYPE = "application/json; charset=UTF-8"
_JSON_ENCODE = escape.json_encode  # (write() checks it was not replaced)

# NOTE(embedtornado): formatting the Date header costs more than the rest of
# clear(); it changes once a second, so it is formatted once a second.
_date_from = 0.0  # the second _date_value is for: [_date_from, _date_until)
_date_until = 0.0
_date_value = ""


def _http_date_now() -> str:
    """The current time as an HTTP date, formatted at most once per second."""
    global _date_from, _date_until, _date_value
    now = time.time()
    if not _date_from <= now < _date_until:  # also when the clock went back
        second = int(now)
        _date_value = httputil.format_timestamp(second)
        _date_from = second
        _date_until = second + 1
    return _date_value


#: Method name for each standard request method (saves a ``str.lower`` per request).
_METHOD_ATTRS = {m: m.lower() for m in ("GET", "HEAD", "POST", "DELETE", "PATCH", "PUT", "OPTIONS")}

#: The ``If-None-Match`` entity tags: ``*``, or strong or weak quoted tags.
_ETAG_LIST_RE = re.compile(rb'\*|(?:W/)?"[^"]*"')


_UNSET: Any = object()

# NOTE(embedtornado): the default Etag of a small body that is sent again and
# again (a fixed page, a status document) is taken from here instead of being
# hashed each time; bounded in entries and body size.
_small_body_etags: dict[bytes, str] = {}
_ETAG_CACHE_SIZE = 256
_ETAG_CACHE_BODY = 512


class RequestHandler(SecurityMixin):
    """Base class for the handlers of an `Application`.

    Subclasses implement one or more of ``get``, ``head``, ``post``,
    ``delete``, ``patch``, ``put`` and ``options`` (plain or ``async``);
    a method that is not implemented answers 405. Do not override
    ``__init__``: put per-request set-up in `initialize` (which receives the
    URL rule's keyword arguments) or `prepare`.
    """

    SUPPORTED_METHODS: tuple[str, ...] = (
        "GET",
        "HEAD",
        "POST",
        "DELETE",
        "PATCH",
        "PUT",
        "OPTIONS",
    )

    # Shared by all handlers; the template issue fills it (the debug setting
    # ``compiled_template_cache=False`` resets the loaders in it).
    _template_loaders: dict[str, Any] = {}
    _template_loader_lock = threading.Lock()
    _remove_control_chars_regex = re.compile(r"[\x00-\x08\x0e-\x1f]")
    # RFC 9110 field-value characters (as text): what a header value may hold.
    _VALID_HEADER_CHARS = re.compile(r"[\x09\x20-\x7e\x80-\xff]*")

    _stream_request_body = False

    # Class-level defaults of per-request state (the constructor stores the
    # ones each request reads).
    _headers_written = False
    _finished = False
    _auto_finish = True
    _prepared_future: asyncio.Future[None] | None = None
    _transforms: list[OutputTransform] | tuple[()] = ()
    _ui: Any = _UNSET

    path_args: list[str]
    path_kwargs: dict[str, str]
    _locale: Any
    _headers: HTTPHeaders
    _write_buffer: list[bytes]
    _status_code = 200
    _reason = "OK"
    # (class, plain_super_init, finish_plan), see _make_class_plan.
    _class_plan: tuple[Any, bool, int] = (None, False, 0)

    def __init__(
        self,
        application: Application,
        request: httputil.HTTPServerRequest,
        **kwargs: Any,
    ) -> None:
        cls = type(self)
        # NOTE(embedtornado): what is decided once per class (see _class_plan).
        plan = cls._class_plan
        if plan[0] is not cls:
            plan = _make_class_plan(cls)
        if not plan[1]:  # the call is skipped when it would reach object.__init__
            super().__init__()
        self.application = application
        self.request = request
        # NOTE(embedtornado): the per-request state that the request reads
        # is stored here, as Tornado does: CPython 3.11 specialises reads of
        # instance attributes only, so a class-level default costs a slow
        # lookup on every read.
        self._finished = False
        self._headers_written = False
        self._auto_finish = True
        self._prepared_future = None
        self._status_code = 200
        self._reason = "OK"
        self._new_cookie = None
        if cls.clear is _DEFAULT_CLEAR:
            # NOTE(embedtornado): clear() inlined; the status and reason are
            # the class defaults (200, "OK") until set.
            headers = _new_object(HTTPHeaders)
            headers._as_list = {
                "Server": [_SERVER_HEADER],
                "Content-Type": [_DEFAULT_CONTENT_TYPE],
                "Date": [_http_date_now()],
            }
            headers._combined_cache = {}
            self._headers = headers
            if application.settings.get("security_headers"):
                self._add_security_headers()
            if cls.set_default_headers is not _DEFAULT_SET_DEFAULT_HEADERS:
                self.set_default_headers()
                self._status_code = 200  # as clear() does after set_default_headers
                self._reason = "OK"
            self._write_buffer = []
        else:
            self.clear()
        assert request.connection is not None
        request.connection.set_close_callback(  # type: ignore[attr-defined]
            self.on_connection_close
        )
        # NOTE(embedtornado): the default initialize does nothing; skip the call.
        if kwargs or type(self).initialize is not _DEFAULT_INITIALIZE:
            self.initialize(**kwargs)

    def _initialize(self) -> None:
        pass

    initialize: Callable[..., None] = _initialize
    """Per-request set-up hook, called by the constructor.

    The keyword arguments of the URL rule (the dict in
    ``(pattern, Handler, {"db": db})``) are passed to it::

        class ProfileHandler(RequestHandler):
            def initialize(self, database):
                self.database = database

            def get(self, username):
                ...

        app = Application([(r"/user/(.*)", ProfileHandler, dict(database=database))])
    """

    @property
    def settings(self) -> dict[str, Any]:
        """The application's settings (`Application.settings`)."""
        return self.application.settings

    @property
    def ui(self) -> Any:
        """The UI methods and modules a template sees, as an `.ObjectDict`.

        Built on first use (nothing on a request's hot path needs it). It is
        ``None`` once the request has finished.
        """
        ui = self._ui
        if ui is _UNSET:
            application = self.application
            ui = ObjectDict(
                (n, self._ui_method(m)) for n, m in getattr(application, "ui_methods", {}).items()
            )
            ui["_tt_modules"] = _UIModuleNamespace(self, getattr(application, "ui_modules", {}))
            ui["modules"] = ui["_tt_modules"]
            self._ui = ui
        return ui

    @ui.setter
    def ui(self, value: Any) -> None:
        self._ui = value

    def _unimplemented_method(self, *args: str, **kwargs: str) -> None:
        raise HTTPError(405)

    head: Callable[..., Awaitable[None] | None] = _unimplemented_method
    get: Callable[..., Awaitable[None] | None] = _unimplemented_method
    post: Callable[..., Awaitable[None] | None] = _unimplemented_method
    delete: Callable[..., Awaitable[None] | None] = _unimplemented_method
    patch: Callable[..., Awaitable[None] | None] = _unimplemented_method
    put: Callable[..., Awaitable[None] | None] = _unimplemented_method
    options: Callable[..., Awaitable[None] | None] = _unimplemented_method

    # --- hooks ----------------------------------------------------------------

    def prepare(self) -> Awaitable[None] | None:
        """Called before the HTTP method, whatever the method is.

        Override it for set-up common to all methods, such as decoding a
        JSON body. It may be ``async`` (or return any awaitable): the method
        then runs once it is done. If ``prepare`` finishes the response,
        the method is not called. It is not called when the request fails
        before it (an unsupported method, an unparseable body).
        """
        return None

    def on_finish(self) -> None:
        """Called after the response has been sent; for clean-up and logging.

        It may not write to the response. It runs for error responses too,
        and in a few error cases without `prepare` having run.
        """

    def on_connection_close(self) -> None:
        """Called if the client closes the connection before the response is finished.

        Override it to stop work for long-lived requests. Use `on_finish`
        for clean-up after every request. A proxy may keep the connection
        open after its client has gone, so this may come late or not at
        all.
        """
        if self._stream_request_body:
            body_future = self.request._body_future
            if not body_future.done():
                body_future.set_exception(iostream.StreamClosedError())
                body_future.exception()

    def set_default_headers(self) -> None:
        """Override to set headers on every response, error pages included.

        It runs from `clear`, before `initialize`, and again before an error
        page is written; headers set in the HTTP method are lost on an error.
        A custom ``Server`` header belongs here.
        """

    def clear(self) -> None:
        """Reset the status, the headers and the body to their defaults.

        The defaults are status 200, the headers ``Server``,
        ``Content-Type: text/html; charset=UTF-8`` and ``Date``, and an
        empty body; then `set_default_headers` runs.
        """
        self._headers = HTTPHeaders._from_lists(
            {
                "Server": [_SERVER_HEADER],
                "Content-Type": [_DEFAULT_CONTENT_TYPE],
                "Date": [_http_date_now()],
            }
        )
        if self.application.settings.get("security_headers"):
            self._add_security_headers()  # before set_default_headers, which may override
        # NOTE(embedtornado): the default set_default_headers does nothing; skip the call.
        if type(self).set_default_headers is not _DEFAULT_SET_DEFAULT_HEADERS:
            self.set_default_headers()
        self._write_buffer = []
        self._status_code = 200
        self._reason = "OK"

    # --- status and headers ------------------------------------------------------

    def set_status(self, status_code: int, reason: str | None = None) -> None:
        """Set the response's status code, and optionally its reason phrase.

        :arg int status_code: the status code; any number is accepted.
        :arg str reason: the reason phrase (``Not Found`` in
            ``404 Not Found``). By default it comes from
            `http.client.responses`, and is ``Unknown`` for a code not in
            it. A reason that a status line cannot carry (control
            characters, CR or LF, or ``<``) is replaced by ``Unknown``
            rather than raising, since this runs on error paths.
        """
        self._status_code = status_code
        if reason is not None:
            if "<" in reason or not httputil._ABNF.reason_phrase.fullmatch(reason):
                reason = "Unknown"
            self._reason = escape.native_str(reason)
        else:
            self._reason = responses.get(status_code, "Unknown")

    def get_status(self) -> int:
        """Return the response's status code."""
        return self._status_code

    def set_header(self, name: str, value: _HeaderTypes) -> None:
        """Set a response header, replacing any value it had.

        ``value`` may be a ``str``, ``bytes`` (read as Latin-1), an integer,
        or a `datetime.datetime` (formatted as an HTTP date). A value with
        control characters (CR and LF included) raises `ValueError`.
        """
        if (
            type(value) is str
            and value.isascii()
            and value.isprintable()
            and type(self)._convert_header_value is _DEFAULT_CONVERT
        ):
            self._headers[name] = value  # the common case, valid as it is
        else:
            self._headers[name] = self._convert_header_value(value)

    def add_header(self, name: str, value: _HeaderTypes) -> None:
        """Add a value to a response header, keeping the values it already has.

        For headers that may repeat, such as ``Link``. Values are converted
        as by `set_header`.
        """
        self._headers.add(name, self._convert_header_value(value))

    def clear_header(self, name: str) -> None:
        """Remove a response header (all its values) if it is set."""
        if name in self._headers:
            del self._headers[name]

    def _convert_header_value(self, value: _HeaderTypes) -> str:
        kind = type(value)
        if kind is str:
            text: str = value  # type: ignore[assignment]
        elif kind is int:
            return str(value)
        elif isinstance(value, str):
            text = value
        elif isinstance(value, bytes):
            # Passed through unchanged, byte for byte, as Latin-1.
            text = value.decode("latin1")
        elif isinstance(value, numbers.Integral):
            return str(value)
        elif isinstance(value, datetime.datetime):
            return httputil.format_timestamp(value)
        else:
            raise TypeError("Unsupported header value %r" % value)
        # Printable ASCII is always valid; anything else gets the full check
        # (CR or LF would let a value inject headers or split the response).
        if not (text.isascii() and text.isprintable()):
            if RequestHandler._VALID_HEADER_CHARS.fullmatch(text) is None:
                raise ValueError("Unsafe header value %r" % text)
        return text

    # --- input ------------------------------------------------------------------

    @overload
    def get_argument(self, name: str, default: str, strip: bool = True) -> str: ...

    @overload
    def get_argument(
        self, name: str, default: _ArgDefaultMarker = _ARG_DEFAULT, strip: bool = True
    ) -> str: ...

    @overload
    def get_argument(self, name: str, default: None, strip: bool = True) -> str | None: ...

    def get_argument(
        self,
        name: str,
        default: None | str | _ArgDefaultMarker = _ARG_DEFAULT,
        strip: bool = True,
    ) -> str | None:
        """Return the last value of the query or body argument ``name``.

        Without ``default`` the argument is required: if it is missing,
        `MissingArgumentError` (a 400) is raised. Control characters in the
        value become spaces; with ``strip`` (the default) surrounding
        whitespace is removed.
        """
        values = self.request.arguments.get(name)
        if (values is not None and len(values) == 1 and type(values[0]) is bytes
                and type(self).decode_argument is _DEFAULT_DECODE_ARGUMENT
                and type(self)._get_argument is _DEFAULT_GET_ARGUMENT
                and type(self)._get_arguments is _DEFAULT_GET_ARGUMENTS):
            # NOTE(embedtornado): _get_argument with the default decode_argument
            # inlined, for the common single value.
            try:
                text = values[0].decode("utf-8")
            except UnicodeDecodeError:
                pass
            else:
                if not text.isprintable():
                    text = RequestHandler._remove_control_chars_regex.sub(" ", text)
                return text.strip() if strip else text
        return self._get_argument(name, default, self.request.arguments, strip)

    def get_arguments(self, name: str, strip: bool = True) -> list[str]:
        """Return every value of the query and body argument ``name`` (maybe ``[]``)."""
        # A positional second argument here is a mistaken ``default``.
        assert isinstance(strip, bool)
        return self._get_arguments(name, self.request.arguments, strip)

    @overload
    def get_body_argument(self, name: str, default: str, strip: bool = True) -> str: ...

    @overload
    def get_body_argument(
        self, name: str, default: _ArgDefaultMarker = _ARG_DEFAULT, strip: bool = True
    ) -> str: ...

    @overload
    def get_body_argument(
        self, name: str, default: None, strip: bool = True
    ) -> str | None: ...

    def get_body_argument(
        self,
        name: str,
        default: None | str | _ArgDefaultMarker = _ARG_DEFAULT,
        strip: bool = True,
    ) -> str | None:
        """Like `get_argument`, looking only at the request body's form arguments.

        .. versionadded:: 3.2
        """
        return self._get_argument(name, default, self.request.body_arguments, strip)

    def get_body_arguments(self, name: str, strip: bool = True) -> list[str]:
        """Like `get_arguments`, looking only at the request body's form arguments.

        .. versionadded:: 3.2
        """
        return self._get_arguments(name, self.request.body_arguments, strip)

    @overload
    def get_query_argument(self, name: str, default: str, strip: bool = True) -> str: ...

    @overload
    def get_query_argument(
        self, name: str, default: _ArgDefaultMarker = _ARG_DEFAULT, strip: bool = True
    ) -> str: ...

    @overload
    def get_query_argument(
        self, name: str, default: None, strip: bool = True
    ) -> str | None: ...

    def get_query_argument(
        self,
        name: str,
        default: None | str | _ArgDefaultMarker = _ARG_DEFAULT,
        strip: bool = True,
    ) -> str | None:
        """Like `get_argument`, looking only at the query string.

        .. versionadded:: 3.2
        """
        return self._get_argument(name, default, self.request.query_arguments, strip)

    def get_query_arguments(self, name: str, strip: bool = True) -> list[str]:
        """Like `get_arguments`, looking only at the query string.

        .. versionadded:: 3.2
        """
        return self._get_arguments(name, self.request.query_arguments, strip)

    def _get_argument(
        self,
        name: str,
        default: None | str | _ArgDefaultMarker,
        source: dict[str, list[bytes]],
        strip: bool = True,
    ) -> str | None:
        args = self._get_arguments(name, source, strip=strip)
        if not args:
            if isinstance(default, _ArgDefaultMarker):
                raise MissingArgumentError(name)
            return default
        return args[-1]

    def _get_arguments(
        self, name: str, source: dict[str, list[bytes]], strip: bool = True
    ) -> list[str]:
        values = []
        for v in source.get(name, ()):
            s = self.decode_argument(v, name=name)
            if isinstance(s, str):
                # Control characters become spaces (not when decode_argument
                # is overridden to return bytes). Printable text has none.
                if not s.isprintable():
                    s = RequestHandler._remove_control_chars_regex.sub(" ", s)
            if strip:
                s = s.strip()
            values.append(s)
        return values

    def decode_argument(self, value: bytes, name: str | None = None) -> str:
        """Turn a percent-decoded argument (``bytes``) into what handlers get.

        Used for query and body arguments and for the URL pattern's groups
        passed to ``get()``/``post()``/...; ``name`` is the argument's name,
        or ``None`` for an unnamed group. By default the value is decoded
        as UTF-8, and invalid UTF-8 is a 400. Override to use another
        charset.
        """
        if type(value) is bytes:
            try:
                return value.decode("utf-8")
            except UnicodeDecodeError:
                pass
        else:
            try:
                return _unicode(value)  # type: ignore[return-value]
            except UnicodeDecodeError:
                pass
        raise HTTPError(400, "Invalid unicode in {}: {!r}".format(name or "url", value[:40]))

    # --- output -----------------------------------------------------------------

    def write(self, chunk: str | bytes | dict) -> None:
        """Append ``chunk`` to the response body (sent by `flush` or `finish`).

        A ``str`` is encoded as UTF-8. A ``dict`` is sent as JSON and sets
        ``Content-Type: application/json; charset=UTF-8`` (call
        `set_header` afterwards for another type). Lists are refused with
        `TypeError`: a JSON array at the top level can be read across sites
        in old browsers, so wrap it in a dict. Writing after `finish`
        raises `RuntimeError`.
        """
        if self._finished:
            raise RuntimeError("Cannot write() after finish()")
        kind = type(chunk)
        if kind is str:
            self._write_buffer.append(chunk.encode("utf-8"))  # type: ignore[union-attr]
            return
        if kind is bytes:
            self._write_buffer.append(chunk)  # type: ignore[arg-type]
            return
        if kind is dict:
            # NOTE(embedtornado): straight to bytes, unless escape.json_encode
            # was replaced (an application's own encoder is then used, as in Tornado).
            data = (escape._json_bytes(chunk) if escape.json_encode is _JSON_ENCODE
                    else escape.json_encode(chunk).encode("utf-8"))
            headers = self._headers
            if type(self).set_header is _DEFAULT_SET_HEADER and type(headers) is HTTPHeaders:
                # What set_header does with this (valid, normalised) name and value.
                headers._as_list["Content-Type"] = [_JSON_CONTENT_TYPE]
                headers._combined_cache.pop("Content-Type", None)
            else:
                self.set_header("Content-Type", _JSON_CONTENT_TYPE)
            self._write_buffer.append(data)
            return
        if not isinstance(chunk, (bytes, str, dict)):
            message = "write() only accepts bytes, unicode, and dict objects"
            if isinstance(chunk, list):
                message += (
                    ". Lists not accepted for security reasons; see "
                    + "http://www.tornadoweb.org/en/stable/web.html#tornado.web.RequestHandler.write"
                )
            raise TypeError(message)
        if isinstance(chunk, dict):
            chunk = escape.json_encode(chunk)
            self.set_header("Content-Type", _JSON_CONTENT_TYPE)
        self._write_buffer.append(utf8(chunk))

    def render(self, template_name: str, **kwargs: Any) -> asyncio.Future[None]:
        """Render the template ``template_name`` with ``kwargs`` as the response, and `finish`.

        The CSS, JavaScript and markup the page's UI modules ask for are
        inserted before ``</head>`` and ``</body>``. Returns `finish`'s future.
        """
        if self._finished:
            raise RuntimeError("Cannot render() after finish()")
        html = self.render_string(template_name, **kwargs)
        return self.finish(_render.insert_module_resources(self, html))

    def render_string(self, template_name: str, **kwargs: Any) -> bytes:
        """Render a template with `get_template_namespace` plus ``kwargs``; return UTF-8 bytes.

        Templates load from `get_template_path`, or without one from the
        directory of the calling file.
        """
        return _render.render_string(self, template_name, kwargs)

    def get_template_namespace(self) -> dict[str, Any]:
        """Return the names every template of this handler sees.

        They are ``handler``, ``request``, ``current_user``, ``locale``, ``_``,
        ``pgettext``, ``static_url``, ``xsrf_form_html``, ``reverse_url`` and
        those of `ui`. Override to add names; ``render``'s keyword arguments
        come on top. ``_`` and ``pgettext`` are the methods of ``locale``
        (`locale`, the request's `.locale.Locale`).
        """
        return _render.template_namespace(self)

    def create_template_loader(self, template_path: str) -> Any:
        """Return the `.template.BaseLoader` for ``template_path`` (made once per path).

        The ``template_loader`` setting if given, else a `.template.Loader`
        with the ``autoescape`` and ``template_whitespace`` settings.
        """
        return _render.create_loader(self.application.settings, template_path)

    def render_linked_js(self, js_files: Iterable[str]) -> str:
        """Return ``<script>`` tags for the given files, each once, in order.

        Relative paths go through `static_url`.
        """
        return "".join(
            '<script src="' + escape.xhtml_escape(p) + '" type="text/javascript"></script>'
            for p in self._unique_urls(js_files)
        )

    def render_embed_js(self, js_embed: Iterable[bytes]) -> bytes:
        """Return one ``<script>`` element holding all the given JavaScript."""
        return (
            b'<script type="text/javascript">\n//<![CDATA[\n'
            + b"\n".join(js_embed)
            + b"\n//]]>\n</script>"
        )

    def render_linked_css(self, css_files: Iterable[str]) -> str:
        """Return ``<link>`` tags for the given stylesheets, each once, in order.

        Relative paths go through `static_url`.
        """
        return "".join(
            '<link href="' + escape.xhtml_escape(p) + '" type="text/css" rel="stylesheet"/>'
            for p in self._unique_urls(css_files)
        )

    def render_embed_css(self, css_embed: Iterable[bytes]) -> bytes:
        """Return one ``<style>`` element holding all the given CSS."""
        return b'<style type="text/css">\n' + b"\n".join(css_embed) + b"\n</style>"

    def _unique_urls(self, paths: Iterable[str]) -> list[str]:
        result: list[str] = []
        seen: set[str] = set()
        for path in paths:
            if not is_absolute(path):
                path = self.static_url(path)
            if path not in seen:
                result.append(path)
                seen.add(path)
        return result

    def get_template_path(self) -> str | None:
        """Return the directory templates load from: the ``template_path`` setting.

        Override to choose per handler; ``None`` means "next to the calling
        file".
        """
        return self.application.settings.get("template_path")

    def flush(self, include_footers: bool = False) -> asyncio.Future[None]:
        """Send what has been written so far; the headers go out with the first flush.

        Returns a future that resolves when the data has been handed to the
        connection (at once, unless the client reads too slowly). After a
        flush the status and headers can no longer change.
        """
        future = self._send_buffer(include_footers)
        if not include_footers:
            # NOTE(embedtornado): an explicit flush leaves now, not at the end
            # of the loop iteration (the compiled loop batches small writes),
            # in case the handler blocks next.
            push = getattr(self.request.connection, "push", None)
            if push is not None:
                push()
        return future

    def _send_buffer(self, include_footers: bool) -> asyncio.Future[None]:
        """What `flush` sends: the buffer, through the transforms, headers first."""
        connection = self.request.connection
        assert connection is not None
        chunk = b"".join(self._write_buffer)
        self._write_buffer = []
        if not self._headers_written:
            self._headers_written = True
            for transform in self._transforms:
                (
                    self._status_code,
                    self._headers,
                    chunk,
                ) = transform.transform_first_chunk(
                    self._status_code, self._headers, chunk, include_footers
                )
            if self.request.method == "HEAD":
                chunk = b""
            # Cookies live in a side jar until now, so a cookie set twice is
            # sent once.
            jar = self._new_cookie
            if jar is not None:
                for cookie in jar.values():
                    self.add_header("Set-Cookie", cookie.OutputString(None))
            # tuple.__new__: the NamedTuple without its Python-level __new__.
            start_line = _new_tuple(ResponseStartLine, ("", self._status_code, self._reason))
            return connection.write_headers(start_line, self._headers, chunk)
        for transform in self._transforms:
            chunk = transform.transform_chunk(chunk, include_footers)
        if self.request.method != "HEAD":
            return connection.write(chunk)
        future: asyncio.Future[None] = asyncio.Future()
        future.set_result(None)
        return future

    def _should_not_send_content(self, status_code: int) -> bool:
        """True for statuses that have no body (1xx, 204, 304)."""
        return status_code in (204, 304) or (100 <= status_code < 200)

    def finish(self, chunk: str | bytes | dict | None = None) -> asyncio.Future[None]:
        """End the response: send the rest of it and complete the request.

        ``finish(chunk)`` is ``write(chunk)`` followed by ``finish()``. If
        nothing was flushed yet, this adds ``Content-Length`` and, for a 200
        answer to GET or HEAD without an ``Etag``, sets one from
        `compute_etag`; when it matches ``If-None-Match`` the answer becomes
        a 304 without a body. Then `on_finish` runs.

        Returns a future that resolves when the response has been handed to
        the connection; awaiting it is optional.
        """
        if self._finished:
            raise RuntimeError("finish() called twice")
        if chunk is not None:
            self.write(chunk)
        cls = type(self)
        # 2: the class overrides none of the methods called below (see
        # _check_plain_finish); 1: none of those _finalize_headers calls; 0: some.
        class_plan = cls._class_plan
        if class_plan[0] is not cls:
            class_plan = _make_class_plan(cls)
        plan = class_plan[2]
        request = self.request
        connection = request.connection
        assert connection is not None
        if self._headers_written:
            plan = 0 if plan < 2 else 1  # a later flush: no short path
        elif plan:
            self._finalize_headers_plain()
        else:
            self._finalize_headers()
        # The close callback would keep this handler alive on a kept-alive
        # connection; the request is over, so drop it.
        connection.set_close_callback(None)  # type: ignore[attr-defined]
        if plan == 2 and not self._transforms:
            # NOTE(embedtornado): what flush(include_footers=True) does for
            # the first flush without transforms, inlined.
            buf = self._write_buffer
            chunk = buf[0] if len(buf) == 1 and type(buf[0]) is bytes else b"".join(buf)
            self._write_buffer = []
            self._headers_written = True
            if request.method == "HEAD":
                chunk = b""
            jar = self._new_cookie
            if jar is not None:
                for cookie in jar.values():
                    self.add_header("Set-Cookie", cookie.OutputString(None))
            start_line = _new_tuple(ResponseStartLine, ("", self._status_code, self._reason))
            future = connection.write_headers(start_line, self._headers, chunk)
        else:
            future = self.flush(include_footers=True)
        connection.finish()
        if plan == 2:
            self.application.log_request(self)  # what _log does
            self._finished = True
            self.on_finish()
            self._ui = None  # what _break_cycles does
            return future
        self._log()
        self._finished = True
        self.on_finish()
        self._break_cycles()
        return future

    def _finalize_headers(self) -> None:
        """Add the automatic ``Etag`` (or turn the answer into a 304) and ``Content-Length``."""
        if (
            self._status_code == 200
            and self.request.method in ("GET", "HEAD")
            and "Etag" not in self._headers
        ):
            self.set_etag_header()
            if self.check_etag_header():
                self._write_buffer = []
                self.set_status(304)
        if self._should_not_send_content(self._status_code):
            if self._write_buffer:
                raise RuntimeError(f"Cannot send body with status code HTTP{self._status_code}")
            self._clear_representation_headers()
        elif "Content-Length" not in self._headers:
            self.set_header("Content-Length", sum(len(part) for part in self._write_buffer))

    def _finalize_headers_plain(self) -> None:
        """`_finalize_headers` for classes that override none of the methods it calls.

        The same steps, with the default `compute_etag`, `set_header` and
        friends inlined (see `_check_plain_finish`).
        """
        status = self._status_code
        # Names in _as_list are normalised, so "Etag" also finds an "ETag" set earlier.
        as_list = self._headers._as_list
        if status == 200 and "Etag" not in as_list and self.request.method in ("GET", "HEAD"):
            buf = self._write_buffer
            if len(buf) == 1:
                body = buf[0]
                small = type(body) is bytes and len(body) <= _ETAG_CACHE_BODY
                etag = _small_body_etags.get(body) if small else None
                if etag is None:
                    etag = '"' + hashlib.sha1(body).hexdigest() + '"'
                    if small and len(_small_body_etags) < _ETAG_CACHE_SIZE:
                        _small_body_etags[body] = etag
            else:
                hasher = hashlib.sha1()
                for part in buf:
                    hasher.update(part)
                etag = '"' + hasher.hexdigest() + '"'
            as_list["Etag"] = [etag]
            request_headers = self.request.headers
            if "If-None-Match" in (
                request_headers._as_list if type(request_headers) is HTTPHeaders
                else request_headers
            ) and self.check_etag_header():
                self._write_buffer = []
                self.set_status(304)
                status = 304
        if status in (204, 304) or (100 <= status < 200):
            if self._write_buffer:
                raise RuntimeError(f"Cannot send body with status code HTTP{status}")
            self._clear_representation_headers()
        elif "Content-Length" not in as_list:
            buf = self._write_buffer
            as_list["Content-Length"] = [
                str(len(buf[0]) if len(buf) == 1 else sum(len(part) for part in buf))
            ]

    def detach(self) -> Any:
        """Take the connection over from HTTP (for WebSocket-like protocols).

        Returns the underlying transport; nothing more is sent by this
        handler. HTTP/1.1 only.

        .. versionadded:: 5.1
        """
        self._finished = True
        return self.request.connection.detach()  # type: ignore[union-attr]

    def _break_cycles(self) -> None:
        # The UI namespace refers back to this handler.
        self._ui = None

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        """Answer with an error page for ``status_code``, dropping what was written.

        The response is cleared (so `set_default_headers` runs again), the
        status set, and `write_error` called with the keyword arguments.
        ``reason=`` (or an `HTTPError`'s reason, via ``exc_info=``) sets the
        reason phrase.

        If the headers were already flushed, no error page can be sent: the
        error is logged and the connection closed.

        .. note:: embedtornado differs from Tornado 6.6.1: after a flush,
           Tornado finishes the response as it is (ending a chunked body
           normally, so the client cannot tell it was cut short, and keeping
           the connection open); embedtornado closes the connection without
           ending the body, and the request is still logged and gets
           `on_finish` (Tornado skips both when the ``Content-Length`` it
           sent was not reached).
        """
        if self._headers_written:
            gen_log.error("Cannot send error response after headers written")
            if not self._finished:
                self._abandon_response()
            return
        self.clear()
        reason = kwargs.get("reason")
        if "exc_info" in kwargs:
            exception = kwargs["exc_info"][1]
            if isinstance(exception, HTTPError) and exception.reason:
                reason = exception.reason
        self.set_status(status_code, reason=reason)
        try:
            if status_code != 304:
                self.write_error(status_code, **kwargs)
        except Exception:
            app_log.error("Uncaught exception in write_error", exc_info=True)
        if not self._finished:
            self.finish()

    def _abandon_response(self) -> None:
        """End a response that failed after its headers went out: close the connection.

        Whatever is still buffered is dropped, and the connection is closed
        without ending the body, so the client can tell the response is
        incomplete. The request is then finished as usual (logged,
        `on_finish`).
        """
        self._write_buffer = []
        connection = self.request.connection
        assert connection is not None
        connection.set_close_callback(None)  # type: ignore[attr-defined]
        try:
            connection.close()  # type: ignore[attr-defined]
        except Exception:
            gen_log.error("Failed to close the connection of a partial response", exc_info=True)
        self._log()
        self._finished = True
        self.on_finish()
        self._break_cycles()

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Write the error page; override for custom pages.

        It may use `write`, `set_header` and the like. When an exception
        caused the error (an `HTTPError` too), ``kwargs["exc_info"]`` holds
        its ``(type, value, traceback)``. By default the page is
        ``<html><title>404: Not Found</title><body>404: Not Found</body></html>``;
        with the ``serve_traceback`` setting (on in debug mode) it is the
        plain-text traceback instead.
        """
        if self._should_not_send_content(status_code):
            self.finish()
        elif self.settings.get("serve_traceback") and "exc_info" in kwargs:
            self.set_header("Content-Type", "text/plain")
            for line in traceback.format_exception(*kwargs["exc_info"]):
                self.write(line)
            self.finish()
        else:
            self.finish(
                "<html><title>%(code)d: %(message)s</title>"
                "<body>%(code)d: %(message)s</body></html>"
                % {"code": status_code, "message": escape.xhtml_escape(self._reason)}
            )

    # --- users, locales, settings --------------------------------------------------

    @property
    def locale(self) -> Any:
        """The request's `.locale.Locale`: `get_user_locale`'s, else `get_browser_locale`'s.

        Decided on first use and kept for the request; assigning it replaces it.
        """
        try:
            return self._locale
        except AttributeError:
            pass
        loc = self.get_user_locale()
        if loc is not None:
            self._locale = loc
        else:
            self._locale = self.get_browser_locale()
            assert self._locale
        return self._locale

    @locale.setter
    def locale(self, value: Any) -> None:
        self._locale = value

    def get_user_locale(self) -> Any:
        """Override to pick the locale from the logged-in user; ``None`` uses the browser's."""
        return None

    def get_browser_locale(self, default: str = "en_US") -> Any:
        """Return the locale the ``Accept-Language`` header prefers (or ``default``).

        Language ranges are ordered by their ``q`` value; ``q=0`` and
        invalid values drop a range.
        """
        codes = [default]
        if "Accept-Language" in self.request.headers:
            locales = []
            for language in self.request.headers["Accept-Language"].split(","):
                parts = language.strip().split(";")
                if len(parts) > 1 and parts[1].strip().startswith("q="):
                    try:
                        score = float(parts[1].strip()[2:])
                        if score < 0:
                            raise ValueError()
                    except (ValueError, TypeError):
                        score = 0.0
                else:
                    score = 1.0
                if score > 0:
                    locales.append((parts[0], score))
            if locales:
                locales.sort(key=lambda pair: pair[1], reverse=True)
                codes = [loc[0] for loc in locales]
        from embedtornado import locale as locale_module

        return locale_module.get(*codes)

    def require_setting(self, name: str, feature: str = "this feature") -> None:
        """Raise `Exception` unless the application setting ``name`` is set (and true)."""
        if not self.application.settings.get(name):
            raise Exception(
                "You must define the '%s' setting in your "
                "application to use %s" % (name, feature)
            )

    def reverse_url(self, name: str, *args: Any) -> str:
        """Return the path of the URL rule called ``name`` (`Application.reverse_url`)."""
        return self.application.reverse_url(name, *args)

    def static_url(self, path: str, include_host: bool | None = None, **kwargs: Any) -> str:
        """Return the URL of the static file ``path``, versioned with ``?v=`` by default.

        Needs the ``static_path`` setting; the URL comes from the
        ``static_handler_class``'s ``make_static_url`` (keyword arguments
        such as ``include_version=False`` go to it). With ``include_host``
        (default: the handler's ``include_host`` attribute) it is absolute.
        """
        self.require_setting("static_path", "static_url")
        handler_class: Any = self.settings.get("static_handler_class")
        if handler_class is None:
            from embedtornado.web.static import StaticFileHandler as handler_class
        if include_host is None:
            include_host = getattr(self, "include_host", False)
        base = self.request.protocol + "://" + self.request.host if include_host else ""
        return base + handler_class.make_static_url(self.settings, path, **kwargs)

    # --- Etags ----------------------------------------------------------------------

    def compute_etag(self) -> str | None:
        """Return the ``Etag`` for the response: the SHA-1 of the body written so far.

        Override for a cheaper tag, or return ``None`` to send none.
        """
        buf = self._write_buffer
        if len(buf) == 1:
            hasher = hashlib.sha1(buf[0])
        else:
            hasher = hashlib.sha1()
            for part in buf:
                hasher.update(part)
        return '"%s"' % hasher.hexdigest()

    def set_etag_header(self) -> None:
        """Set the ``Etag`` header from `compute_etag` (unless it returns ``None``).

        `finish` calls this for 200 answers to GET and HEAD.
        """
        etag = self.compute_etag()
        if etag is not None:
            self.set_header("Etag", etag)

    def check_etag_header(self) -> bool:
        """Return whether the response's ``Etag`` matches the request's ``If-None-Match``.

        Weak comparison, as RFC 9110 asks; ``*`` matches any tag. `finish`
        uses it to answer 304; call it yourself (after `set_etag_header`)
        to skip expensive work::

            self.set_etag_header()
            if self.check_etag_header():
                self.set_status(304)
                return
        """
        if_none_match = self.request.headers.get("If-None-Match")
        if not if_none_match:
            return False
        computed_etag = utf8(self._headers.get("Etag", ""))
        etags = _ETAG_LIST_RE.findall(utf8(if_none_match))
        if not computed_etag or not etags:
            return False
        if etags[0] == b"*":
            return True
        computed = computed_etag[2:] if computed_etag.startswith(b"W/") else computed_etag
        for etag in etags:
            if (etag[2:] if etag.startswith(b"W/") else etag) == computed:
                return True
        return False

    # --- running a request --------------------------------------------------------------

    def _execute(
        self, transforms: list[OutputTransform], *args: bytes, **kwargs: bytes
    ) -> Awaitable[None] | None:
        """Run the request: parse the body, ``prepare``, the method, ``finish``.

        This is what the application's message delegate calls, as Tornado's
        does. Unlike Tornado's (a coroutine), it is a plain method: when
        ``prepare`` and the HTTP method return ``None`` the whole request
        runs here and this returns ``None``. When one of them returns an
        awaitable (an ``async def`` method), or the handler streams its
        body, this returns a coroutine that awaits it and runs the rest of
        the request; the caller must schedule it (it never raises, except
        `asyncio.CancelledError` when its own task is cancelled).
        """
        self._transforms = transforms
        try:
            request = self.request
            method_name = request.method
            if method_name not in self.SUPPORTED_METHODS:
                raise HTTPError(405)
            streaming = self._stream_request_body
            # The body is parsed here, inside the error handling. Without a
            # Content-Type there is nothing to parse.
            headers = request.headers
            if not streaming and "Content-Type" in (
                headers._as_list if type(headers) is HTTPHeaders else headers
            ):
                try:
                    request._parse_body()
                except HTTPInputError as e:
                    raise HTTPError(400, "Invalid body: %s" % e) from e
            if args or kwargs:
                decode = self.decode_argument
                self.path_args = [decode(arg) for arg in args]
                self.path_kwargs = {k: decode(v, name=k) for k, v in kwargs.items()}
            else:
                self.path_args = []
                self.path_kwargs = {}
            cls = type(self)
            # NOTE(embedtornado): the default _cross_origin_protection checks
            # nothing for these methods: the call is skipped.
            if (method_name not in ("GET", "HEAD", "OPTIONS")
                    or cls._cross_origin_protection is not _DEFAULT_CROSS_ORIGIN):
                self._cross_origin_protection()

            result = self.prepare()
            if result is not None or streaming:
                return self._execute_rest(result)
            prepared = self._prepared_future
            if prepared is not None and not prepared.done():
                prepared.set_result(None)
            if self._finished:
                return None
            method = getattr(self, _METHOD_ATTRS.get(method_name) or method_name.lower())
            path_args = self.path_args
            path_kwargs = self.path_kwargs
            result = method(*path_args, **path_kwargs) if path_args or path_kwargs else method()
            if result is not None:
                return self._execute_rest(result, after_method=True)
            if self._auto_finish and not self._finished:
                self.finish()
        except (Exception, asyncio.CancelledError) as e:
            self._on_execute_error(e)
        prepared = self._prepared_future
        if prepared is not None and not prepared.done():
            prepared.set_result(None)
        return None

    async def _execute_rest(self, result: Any, after_method: bool = False) -> None:
        """The rest of `_execute` once ``prepare`` (or the method) returned an awaitable."""
        try:
            if not after_method:
                if result is not None:
                    await result
                prepared = self._prepared_future
                if prepared is not None and not prepared.done():
                    prepared.set_result(None)
                if self._finished:
                    return
                if self._stream_request_body:
                    # The body arrives through data_received; this future
                    # says it is complete.
                    try:
                        await self.request._body_future
                    except iostream.StreamClosedError:
                        return
                request = self.request
                method = getattr(self, _METHOD_ATTRS.get(request.method) or request.method.lower())
                result = method(*self.path_args, **self.path_kwargs)
                if result is not None:
                    await result
            else:
                await result
            if self._auto_finish and not self._finished:
                self.finish()
        except (Exception, asyncio.CancelledError) as e:
            result = None
            self._on_execute_error(e)
        finally:
            prepared = self._prepared_future
            if prepared is not None and not prepared.done():
                prepared.set_result(None)

    def _on_execute_error(self, e: BaseException) -> None:
        """Turn an exception from the request's code into a response (inside ``except``)."""
        if isinstance(e, asyncio.CancelledError):
            try:
                task = asyncio.current_task()
            except RuntimeError:
                task = None
            if task is not None and task.cancelling():
                # This request's own task was cancelled: not an error to log,
                # but answer so the client is not left waiting, then let the
                # cancellation go on.
                if not self._finished:
                    try:
                        self.send_error(500)
                    except Exception:
                        app_log.error("Exception in exception handler", exc_info=True)
                prepared = self._prepared_future
                if prepared is not None and not prepared.done():
                    prepared.set_result(None)
                raise e
        try:
            self._handle_request_exception(e)
        except Exception:
            app_log.error("Exception in exception handler", exc_info=True)

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        """Receive a piece of a streamed request body (see `stream_request_body`).

        May return an awaitable, for flow control.
        """
        raise NotImplementedError()

    def _log(self) -> None:
        """Log the finished request (through `Application.log_request`)."""
        self.application.log_request(self)

    def _request_summary(self) -> str:
        request = self.request
        return "%s %s (%s)" % (request.method, request.uri, request.remote_ip)

    def _handle_request_exception(self, e: BaseException) -> None:
        if isinstance(e, Finish):
            # Not an error: finish with what there is, without logging.
            if not self._finished:
                self.finish(*e.args)
            return
        try:
            self.log_exception(*sys.exc_info())
        except Exception:
            # Still try to answer, so the connection is not leaked.
            app_log.error("Error in exception logger", exc_info=True)
        if self._finished:
            # The response is out already; logging is all that is left.
            return
        if isinstance(e, HTTPError):
            self.send_error(e.status_code, exc_info=sys.exc_info())
        else:
            self.send_error(500, exc_info=sys.exc_info())

    def log_exception(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Log an exception that ended the request; override to change how.

        An `HTTPError` with a log message is a warning without traceback on
        ``embedtornado.general``; any other exception is an error with its
        traceback on ``embedtornado.application``.

        .. versionadded:: 3.1
        """
        if isinstance(value, HTTPError):
            log_message = value.get_message()
            if log_message:
                gen_log.warning(
                    "%d %s: %s", value.status_code, self._request_summary(), log_message
                )
        else:
            app_log.error(
                "Uncaught exception %s\n%r",
                self._request_summary(),
                self.request,
                exc_info=(typ, value, tb),  # type: ignore[arg-type]
            )

    def _ui_module(self, name: str, module: type) -> Callable[..., str]:
        def render(*args: Any, **kwargs: Any) -> str:
            if not hasattr(self, "_active_modules"):
                self._active_modules: dict[str, Any] = {}
            if name not in self._active_modules:
                self._active_modules[name] = module(self)
            rendered = self._active_modules[name].render(*args, **kwargs)
            return _unicode(rendered)  # type: ignore[no-any-return]

        return render

    def _ui_method(self, method: Callable[..., str]) -> Callable[..., str]:
        return lambda *args, **kwargs: method(self, *args, **kwargs)

    def _clear_representation_headers(self) -> None:
        # A 304 carries no representation metadata (RFC 9110 section 15.4.5).
        for name in ("Content-Encoding", "Content-Language", "Content-Type"):
            self.clear_header(name)


# The methods _finalize_headers calls. A class that overrides none of them
# takes _finalize_headers_plain, which inlines them.
_FINISH_HOOKS = (
    "compute_etag",
    "set_etag_header",
    "check_etag_header",
    "set_header",
    "set_status",
    "_convert_header_value",
    "_should_not_send_content",
    "_clear_representation_headers",
    "_finalize_headers",
)
_DEFAULT_FINISH_HOOKS = {name: RequestHandler.__dict__[name] for name in _FINISH_HOOKS}
# The methods finish calls that its short path (_finish_plan 2) does inline.
_DEFAULT_TAIL = {name: RequestHandler.__dict__[name]
                 for name in ("flush", "_log", "_break_cycles", "add_header")}
_DEFAULT_CLEAR = RequestHandler.__dict__["clear"]
_DEFAULT_SET_HEADER = RequestHandler.__dict__["set_header"]
_DEFAULT_CROSS_ORIGIN = SecurityMixin.__dict__["_cross_origin_protection"]
_new_object = object.__new__
_DEFAULT_DECODE_ARGUMENT = RequestHandler.__dict__["decode_argument"]
_DEFAULT_GET_ARGUMENT = RequestHandler.__dict__["_get_argument"]
_DEFAULT_GET_ARGUMENTS = RequestHandler.__dict__["_get_arguments"]
_DEFAULT_CONVERT = RequestHandler.__dict__["_convert_header_value"]
_DEFAULT_INITIALIZE = RequestHandler.__dict__["initialize"]
_new_tuple = tuple.__new__
_DEFAULT_SET_DEFAULT_HEADERS = RequestHandler.__dict__["set_default_headers"]


def _make_class_plan(cls: type) -> tuple[type, bool, int]:
    """Decide once per handler class what `RequestHandler.__init__` and `finish` may skip.

    Stored as the class's ``_class_plan``: ``(cls, plain_super_init,
    finish_plan)`` (see `_check_plain_super_init` and `_check_plain_finish`).
    The class is its first item so that a subclass, which inherits the
    attribute, sees that it is not its own (a plain attribute read is far
    cheaper than ``cls.__dict__``).
    """
    plain_init = _check_plain_super_init(cls)
    _check_plain_finish(cls)
    plan = (cls, plain_init, cls.__dict__["_finish_plan"])
    type.__setattr__(cls, "_class_plan", plan)
    return plan


def _check_plain_super_init(cls: type) -> bool:
    """Whether ``super().__init__()`` in `RequestHandler.__init__` reaches ``object.__init__``.

    Decided once per class, stored as its ``_plain_super_init`` attribute.
    """
    mro = cls.__mro__
    if RequestHandler not in mro:
        return False
    after = mro[mro.index(RequestHandler) + 1:]
    plain = all(base is object or "__init__" not in base.__dict__ for base in after)
    type.__setattr__(cls, "_plain_super_init", plain)
    return plain


def _check_plain_finish(cls: type) -> bool:
    """Decide once per handler class (on its first response) whether it overrides a finish hook.

    The answer is stored as the class's ``_plain_finish`` attribute.

    .. note:: A method replaced on a class after the class has sent its
       first response is not noticed by `RequestHandler.finish` unless it is
       one of the methods it calls directly (such as `flush` and `on_finish`).
    """
    plain = all(getattr(cls, name, None) is fn for name, fn in _DEFAULT_FINISH_HOOKS.items())
    type.__setattr__(cls, "_plain_finish", plain)
    # _finish_plan (for finish): 2 when flush, _log and _break_cycles are
    # RequestHandler's own too, so that finish may do their work inline.
    tail = plain and all(getattr(cls, name, None) is fn for name, fn in _DEFAULT_TAIL.items())
    type.__setattr__(cls, "_finish_plan", 2 if tail else 1 if plain else 0)
    return plain


class _UIModuleNamespace:
    """The ``modules`` object of templates: ``modules.Name(...)`` renders UI module ``Name``."""

    def __init__(self, handler: RequestHandler, ui_modules: dict[str, type]) -> None:
        self.handler = handler
        self.ui_modules = ui_modules

    def __getitem__(self, key: str) -> Callable[..., str]:
        return self.handler._ui_module(key, self.ui_modules[key])

    def __getattr__(self, key: str) -> Callable[..., str]:
        try:
            return self[key]
        except KeyError as e:
            raise AttributeError(str(e)) from e


def is_absolute(path: str) -> bool:
    """Return whether ``path`` is an absolute path or an http(s) URL (not for `static_url`)."""
    return path.startswith(("/", "http:", "https:"))
