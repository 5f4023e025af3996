"""HTTP building blocks shared by the server, the client and the web framework.

This is embedtornado's ``tornado.httputil``: header maps, the request
object handed to applications, start-line and body parsers, and the
interfaces that join a connection to the code that handles its messages::

    from embedtornado.httputil import HTTPHeaders, parse_body_arguments, url_concat

    headers = HTTPHeaders.parse("Content-Type: text/html\\r\\nSet-Cookie: a=1\\r\\n")
    headers.add("Set-Cookie", "b=2")
    headers["content-type"]          # 'text/html'
    headers["Set-Cookie"]            # 'a=1,b=2'
    headers.get_list("set-cookie")   # ['a=1', 'b=2']

    args: dict[str, list[bytes]] = {}
    files: dict = {}
    parse_body_arguments("application/x-www-form-urlencoded", b"x=1&x=2", args, files)
    args                             # {'x': [b'1', b'2']}

    url_concat("/search?q=a", {"page": "2"})   # '/search?q=a&page=2'

Everything a peer can send goes through a parser here that is linear in
its input and bounded by a named limit (``ParseBodyConfig``); malformed or
over-limit input raises :class:`HTTPInputError`, never anything that
reaches the application as a 500.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import datetime
import re
import time
import typing
import warnings
from collections.abc import Awaitable, Generator, Iterable, Iterator, Mapping
from functools import lru_cache
from http import HTTPStatus
from typing import Any, AnyStr

from embedtornado import _accel
from embedtornado._httpdefs import (  # noqa: F401 - re-exported
    HTTPInputError,
    HTTPOutputError,
    HTTPVersionNotSupported,
    PayloadTooLarge,
    RequestHeaderFieldsTooLarge,
    RequestURITooLong,
    TransferCodingNotImplemented,
)
from embedtornado.escape import native_str, parse_qs_bytes, to_unicode, utf8

# NOTE(embedtornado): http.client, http.cookies, urllib.parse and unicodedata
# are imported where they are used, so a server does not load http.client's
# email parser at start-up (tests/test_startup.py).

#: Status code -> reason phrase: what ``http.client.responses`` holds, built
#: the same way from `http.HTTPStatus` without importing http.client.
responses = {v: v.phrase for v in HTTPStatus.__members__.values()}

if typing.TYPE_CHECKING:
    import http.cookies
    import unittest
    from asyncio import Future


#: The only characters HTTP counts as whitespace around field values (RFC 9110
#: OWS). ``str.strip()`` without arguments would also remove ``\xa0``, ``\x85``
#: and other Unicode spaces, which must stay part of the value.
HTTP_WHITESPACE = " \t"

#: Control characters that may not appear in a header value given as text
#: (everything below ``\x20`` except tab, and DEL). Characters above ``\xff``
#: are allowed, since this is also used on decoded UTF-8.
_FORBIDDEN_HEADER_CHARS_RE = re.compile(r"[\x00-\x08\x0A-\x1F\x7F]")


class _ABNF:
    """Grammar rules from the HTTP and URI RFCs, as compiled regular expressions.

    Each attribute is named after its rule (``-`` becomes ``_``); only the
    rules this package uses are here. Every pattern is written so that
    ``fullmatch`` runs in linear time: no two alternatives of a repetition
    can match the same character.
    """

    # RFC 9110 sections 5.5 and 5.6.2. field_value is the value with the
    # surrounding OWS removed: empty, or visible characters (obs-text
    # included) with spaces/tabs only between them.
    field_value = re.compile(
        r"(?:[\x21-\x7E\x80-\xFF](?:[\t\x20-\x7E\x80-\xFF]*[\x21-\x7E\x80-\xFF])?)?"
    )
    token = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
    field_name = method = token

    # RFC 3986 sections 3.2.2-3.2.3, simplified as Tornado does: brackets and
    # colons are allowed anywhere, so IPv6 literals and the port need no rule
    # of their own (the port's digits are already in the class).
    uri_host = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=\[\]:]|%[0-9A-Fa-f]{2})*")
    host = uri_host

    # RFC 9112 sections 2.3, 3 and 4. The request-target is any run of
    # visible characters; its URI grammar is left to the application.
    HTTP_version = re.compile(r"HTTP/[0-9]\.[0-9]")
    reason_phrase = re.compile(r"[\t\x20-\x7E\x80-\xFF]+")
    request_target = re.compile(r"[\x21-\x7E\x80-\xFF]+")
    request_line = re.compile(
        r"([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([\x21-\x7E\x80-\xFF]+) (HTTP/[0-9]\.[0-9])"
    )
    status_line = re.compile(r"(HTTP/[0-9]\.[0-9]) ([0-9]{3}) ([\t\x20-\x7E\x80-\xFF]+)?")


# Any character that cannot appear in a field value (given as latin-1 text).
_BAD_FIELD_VALUE_CHAR = re.compile(r"[^\t\x20-\x7E\x80-\xFF]")


def _check_field(name: str, value: Any, chars_are_bytes: bool) -> None:
    """Raise :class:`HTTPInputError` unless ``name: value`` is a valid field line."""
    if not _ABNF.token.fullmatch(name):
        raise HTTPInputError(f"Invalid header name {name!r}")
    if chars_are_bytes:
        text = value if isinstance(value, str) else to_unicode(value)
        if text and (
            _BAD_FIELD_VALUE_CHAR.search(text) is not None
            or text[0] in HTTP_WHITESPACE
            or text[-1] in HTTP_WHITESPACE
        ):
            raise HTTPInputError(f"Invalid header value {value!r}")
    elif _FORBIDDEN_HEADER_CHARS_RE.search(value) is not None:
        raise HTTPInputError(f"Invalid header value {value!r}")


@lru_cache(1000)
def _normalize_header(name: str) -> str:
    """Return ``name`` in ``Http-Header-Case``: each dash-separated word capitalised.

    >>> _normalize_header("coNtent-TYPE")
    'Content-Type'
    """
    return "-".join([word.capitalize() for word in name.split("-")])


class HTTPHeaders(collections.abc.MutableMapping[str, str]):
    """A case-insensitive, multi-valued map of HTTP header fields.

    Names are stored in ``Http-Header-Case`` (see `_normalize_header`) and
    kept in the order they were first seen. Each name holds a list of
    values: `add` appends one, `get_list` returns them all. The ordinary
    mapping interface sees one value per name, the values joined with a
    comma, and ``h[name] = value`` replaces all of them.

    >>> h = HTTPHeaders({"content-type": "text/html"})
    >>> list(h.keys())
    ['Content-Type']
    >>> h.add("Set-Cookie", "A=B")
    >>> h.add("Set-Cookie", "C=D")
    >>> h["set-cookie"]
    'A=B,C=D'
    >>> h.get_list("set-cookie")
    ['A=B', 'C=D']
    >>> list(h.get_all())
    [('Content-Type', 'text/html'), ('Set-Cookie', 'A=B'), ('Set-Cookie', 'C=D')]

    The constructor takes what ``dict.update`` takes (a mapping, pairs, or
    keyword arguments; a repeated name keeps its last value), or another
    `HTTPHeaders`, which is copied value by value.

    .. note:: Internal contract (the compiled request parser relies on it):
       the state is ``_as_list``, a ``dict`` from normalised name to its
       list of values, plus ``_combined_cache``, the comma-joined values of
       multi-valued names, which every change to ``_as_list`` made through
       this class invalidates. `_from_lists` adopts a ready ``_as_list``.
    """

    _as_list: dict[str, list[str]]
    _combined_cache: dict[str, str]

    @typing.overload
    def __init__(self, arg: Mapping[str, list[str]], /) -> None: ...

    @typing.overload
    def __init__(self, arg: Mapping[str, str], /) -> None: ...

    @typing.overload
    def __init__(self, *args: tuple[str, str]) -> None: ...

    @typing.overload
    def __init__(self, **kwargs: str) -> None: ...

    def __init__(self, *args: Any, **kwargs: str) -> None:
        self._as_list = {}
        self._combined_cache = {}
        if len(args) == 1 and not kwargs and isinstance(args[0], HTTPHeaders):
            for name, value in args[0].get_all():
                self.add(name, value)
        else:
            self.update(*args, **kwargs)

    @classmethod
    def _from_lists(cls, as_list: dict[str, list[str]]) -> HTTPHeaders:
        """Wrap ``as_list`` without copying, normalising or validating it.

        For the request parser, which has already validated every line and
        normalised every name. ``as_list`` must map normalised names to
        non-empty lists of values, in arrival order; the new object owns it.
        """
        self = cls.__new__(cls)
        self._as_list = as_list
        self._combined_cache = {}
        return self

    # --- multi-value interface ---

    def add(self, name: str, value: str, *, _chars_are_bytes: bool = True) -> None:
        """Append ``value`` to the values of ``name``.

        Raises :class:`HTTPInputError` if ``name`` is not an HTTP token or
        ``value`` is not a valid field value (control characters, or
        leading/trailing whitespace).
        """
        _check_field(name, value, _chars_are_bytes)
        norm = _normalize_header(name)
        values = self._as_list.get(norm)
        if values is None:
            self._as_list[norm] = [value]
        else:
            values.append(value)
            self._combined_cache.pop(norm, None)

    def get_list(self, name: str) -> list[str]:
        """Return every value of ``name`` as a list (empty if there is none).

        The list is the one stored inside the object, as in Tornado; do not
        modify it.
        """
        return self._as_list.get(_normalize_header(name), [])

    def get_all(self) -> Iterable[tuple[str, str]]:
        """Yield every ``(name, value)`` pair.

        Names come in the order they were first seen; all the values of one
        name come together, in the order they were added.
        """
        for name, values in self._as_list.items():
            for value in values:
                yield (name, value)

    def parse_line(self, line: str, *, _chars_are_bytes: bool = True) -> None:
        r"""Add the field in one header line, with or without its line ending.

        >>> h = HTTPHeaders()
        >>> h.parse_line("Content-Type: text/html\r\n")
        >>> h["content-type"]
        'text/html'

        An empty line (the end of a header block) is ignored. A line that
        starts with whitespace (obs-fold continuation, no longer supported)
        or has no colon raises :class:`HTTPInputError`, as do invalid names
        and values. A bare LF is accepted as the line ending (deprecated:
        Tornado 6.7 will require CRLF).

        .. versionchanged:: 6.6
           Continuation lines are rejected instead of being joined.
        """
        if line.endswith("\n"):
            m = _LINE_ENDING.search(line)
            if m is not None:
                line = line[: m.start()]
        self._parse_bare_line(line, _chars_are_bytes)

    def _parse_bare_line(self, line: str, chars_are_bytes: bool) -> None:
        if not line:
            return
        if line[0] in HTTP_WHITESPACE:
            raise HTTPInputError("header line cannot start with whitespace, folding not supported")
        name, colon, value = line.partition(":")
        if not colon:
            raise HTTPInputError("no colon in header line")
        self.add(name, value.strip(HTTP_WHITESPACE), _chars_are_bytes=chars_are_bytes)

    @classmethod
    def parse(cls, headers: str, *, _chars_are_bytes: bool = True) -> HTTPHeaders:
        r"""Build an `HTTPHeaders` from a header block given as text.

        >>> h = HTTPHeaders.parse("Content-Type: text/html\r\nContent-Length: 42\r\n")
        >>> sorted(h.items())
        [('Content-Length', '42'), ('Content-Type', 'text/html')]

        Lines end in CRLF or (deprecated) a bare LF; a bare CR anywhere is
        an error. Raises :class:`HTTPInputError` on the first malformed
        line. The cost is linear in the size of the block, however often a
        name repeats.

        ``_chars_are_bytes=False`` is for multipart part headers, which are
        UTF-8 text: any character but a control character is allowed.

        .. versionchanged:: 5.1
           Raises :class:`HTTPInputError` on malformed headers.
        """
        h = cls()
        lines = headers.split("\n")
        last = lines.pop()  # the text after the last LF has no line ending
        for line in lines:
            h._parse_bare_line(line.removesuffix("\r"), _chars_are_bytes)
        h._parse_bare_line(last, _chars_are_bytes)
        return h

    # --- MutableMapping ---

    def __setitem__(self, name: str, value: str) -> None:
        norm = _normalize_header(name)
        self._as_list[norm] = [value]
        self._combined_cache.pop(norm, None)

    def __getitem__(self, name: str) -> str:
        # Keys are normalised, so a name found as given needs no normalising
        # (the common case: code spells names like "Content-Type").
        values = self._as_list.get(name)
        if values is None:
            name = _normalize_header(name)
            values = self._as_list[name]
        if len(values) == 1:
            return values[0]
        joined = self._combined_cache.get(name)
        if joined is None:
            joined = self._combined_cache[name] = ",".join(values)
        return joined

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        """Return the (comma-joined) value of ``name``, or ``default`` if absent."""
        values = self._as_list.get(name)
        if values is None:
            values = self._as_list.get(_normalize_header(name))
            if values is None:
                return default
        if len(values) == 1:
            return values[0]
        return self[name]

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        return name in self._as_list or _normalize_header(name) in self._as_list

    def __delitem__(self, name: str) -> None:
        norm = _normalize_header(name)
        self._combined_cache.pop(norm, None)
        del self._as_list[norm]

    def __len__(self) -> int:
        return len(self._as_list)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._as_list)

    def copy(self) -> HTTPHeaders:
        """Return an independent copy (new value lists; values re-validated)."""
        return HTTPHeaders(self)

    # copy.copy() gets the same one-level-deeper copy as copy().
    __copy__ = copy

    def __str__(self) -> str:
        """One ``Name: value`` line per value, each ending in LF (not CRLF), as in Tornado."""
        return "".join([f"{name}: {value}\n" for name, value in self.get_all()])

    __unicode__ = __str__

    def __repr__(self) -> str:
        """``HTTPHeaders([('Name', 'value'), ...])``, one pair per value.

        .. note:: embedtornado differs from Tornado 6.6.1: Tornado's
           `HTTPHeaders` has the default ``object`` repr.
        """
        return f"{type(self).__name__}({list(self.get_all())!r})"


# Line ending removed by parse_line: CRLF or LF at the end of the string
# (``$`` also matches just before a final LF, as it did in Tornado).
_LINE_ENDING = re.compile(r"\r?\n$")


class HTTPFile(dict):  # type: ignore[type-arg]
    """A file uploaded in a ``multipart/form-data`` body.

    Its fields can be read as attributes or as dict keys:

    * ``filename``: the name the client gave
    * ``body``: the content, as ``bytes``
    * ``content_type``: the part's ``Content-Type`` (``application/unknown``
      when it had none)

    .. note:: embedtornado differs from Tornado 6.6.1: this is a ``dict``
       subclass with its own attribute access, not a subclass of
       ``util.ObjectDict``; it behaves the same way.
    """

    filename: str
    body: bytes
    content_type: str

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value


# --- body-parsing limits ----------------------------------------------------


@dataclasses.dataclass
class ParseMultipartConfig:
    """Limits for parsing ``multipart/form-data`` bodies (Tornado 6.5.5).

    :arg enabled: set to ``False`` to refuse multipart bodies altogether
        (:class:`HTTPInputError`), for applications that take no uploads.
    :arg max_parts: most parts a body may have. The check counts the
        boundary lines before any part is looked at. As in Tornado, the
        text before the first boundary counts as a part, so the default
        accepts 99 real parts.
    :arg max_part_header_size: largest header block of one part, in bytes.

    .. versionadded:: 6.5.5
    """

    enabled: bool = True
    max_parts: int = 100
    max_part_header_size: int = 10 * 1024


@dataclasses.dataclass
class ParseUrlEncodedConfig:
    """Limits for parsing ``application/x-www-form-urlencoded`` bodies.

    :arg max_arguments: most ``&``-separated fields a body may have, empty
        ones included. The same limit applies to request query strings.

    .. versionadded:: 6.5.8
    """

    max_arguments: int = 1000


@dataclasses.dataclass
class ParseBodyConfig:
    """All the limits used by `parse_body_arguments`.

    .. versionadded:: 6.5.5
    """

    multipart: ParseMultipartConfig = dataclasses.field(default_factory=ParseMultipartConfig)
    urlencoded: ParseUrlEncodedConfig = dataclasses.field(default_factory=ParseUrlEncodedConfig)


_DEFAULT_PARSE_BODY_CONFIG = ParseBodyConfig()
_split_query = _accel.load("httpparse").split_query


def set_parse_body_config(config: ParseBodyConfig) -> None:
    """Replace the process-wide default limits for parsing request bodies.

    Used by `parse_body_arguments` and `parse_multipart_form_data` when
    they get no ``config``, and for query strings by `HTTPServerRequest`::

        set_parse_body_config(ParseBodyConfig(multipart=ParseMultipartConfig(enabled=False)))
        ...
        set_parse_body_config(ParseBodyConfig())   # back to the defaults

    .. versionadded:: 6.5.5
    """
    global _DEFAULT_PARSE_BODY_CONFIG
    _DEFAULT_PARSE_BODY_CONFIG = config


# --- start lines ------------------------------------------------------------


class RequestStartLine(typing.NamedTuple):
    """The parts of an HTTP request line: ``GET /path?q HTTP/1.1``."""

    method: str
    path: str
    version: str


class ResponseStartLine(typing.NamedTuple):
    """The parts of an HTTP status line: ``HTTP/1.1 200 OK``.

    ``reason`` is ``None`` when the line ends right after the code and its
    space.
    """

    version: str
    code: int
    reason: str


def parse_request_start_line(line: str) -> RequestStartLine:
    """Split an HTTP/1.x request line into a `RequestStartLine`.

    >>> parse_request_start_line("GET /foo HTTP/1.1")
    RequestStartLine(method='GET', path='/foo', version='HTTP/1.1')

    Raises :class:`HTTPInputError` unless the line is a token method, one
    space, a target without whitespace or control characters, one space,
    and ``HTTP/1.x``.
    """
    m = _ABNF.request_line.fullmatch(line)
    if m is None:
        raise HTTPInputError("Malformed HTTP request line")
    method, target, version = m.groups()
    if not version.startswith("HTTP/1"):
        raise HTTPInputError(f"Unexpected HTTP version {version!r}")
    return RequestStartLine(method, target, version)


def parse_response_start_line(line: str) -> ResponseStartLine:
    """Split an HTTP/1.x status line into a `ResponseStartLine`.

    >>> parse_response_start_line("HTTP/1.1 200 OK")
    ResponseStartLine(version='HTTP/1.1', code=200, reason='OK')

    The space after the code is required; the reason may be empty (then
    it is ``None``). Raises :class:`HTTPInputError` on anything else.
    """
    m = _ABNF.status_line.fullmatch(line)
    if m is None:
        raise HTTPInputError("Error parsing response start line")
    version, code, reason = m.groups()
    if not version.startswith("HTTP/1"):
        raise HTTPInputError(f"Unexpected HTTP version {version!r}")
    return ResponseStartLine(version, int(code), reason)


# --- the request object -----------------------------------------------------


def _deprecated(message: str) -> None:
    # stacklevel 3: the caller of HTTPServerRequest(), as in Tornado.
    warnings.warn(message, DeprecationWarning, stacklevel=3)


#: Host header values already found valid -> their ``host_name`` (bounded:
#: a peer can send any number of distinct values).
_valid_host_names: dict[str, str] = {}
_MAX_VALID_HOST_NAMES = 256


class HTTPServerRequest:
    """One HTTP request, as the server hands it to the application.

    This is ``RequestHandler.request``. String attributes are ``str``;
    bodies and argument values are ``bytes``. Attributes:

    * ``method``, ``uri``, ``version``: from the request line, e.g.
      ``"GET"``, ``"/p?q=1"``, ``"HTTP/1.1"``; ``path`` and ``query`` are
      `uri` split at the first ``?`` (``query`` is ``""`` without one).
    * ``headers``: an `HTTPHeaders`; ``body``: ``bytes`` (``b""`` if none).
    * ``remote_ip`` and ``protocol`` (``"http"``/``"https"``): from the
      connection's ``context``; ``None`` and ``"http"`` without one. With
      ``xheaders=True`` the server puts in what the proxy reports.
    * ``host``: the ``Host`` header (``"127.0.0.1"`` for HTTP/1.0 without
      one); ``host_name``: the same without the port, lowercased.
    * ``arguments``: query and body arguments together,
      ``{name: [bytes, ...]}`` (the body's once `_parse_body` has run);
      ``query_arguments`` and ``body_arguments``: each source alone.
    * ``files``: uploads, ``{field name: [HTTPFile, ...]}``.
    * ``connection``: the `HTTPConnection` to write the response to;
      ``server_connection``: the long-lived connection it belongs to.

    The constructor raises :class:`HTTPInputError` (answered with 400) for
    an HTTP/1.1 request without ``Host``, an invalid or repeated ``Host``
    (a comma in it), or a query string with more fields than
    ``ParseUrlEncodedConfig.max_arguments``.

    .. note:: embedtornado differs from Tornado 6.6.1: a ``start_line``
       whose ``uri`` is ``None`` gives empty `path` and `query` (Tornado
       leaves them unset and then fails with `AttributeError`).

    .. deprecated:: 6.6
       Pass ``start_line``; ``method``, ``uri`` and ``version`` (and the
       ``host`` argument, deprecated since 6.5.2) go away in Tornado 6.7.
       Using them, or leaving out ``start_line``, emits a
       `DeprecationWarning`, as Tornado does.
    """

    path: str
    query: str
    arguments: dict[str, list[bytes]]
    query_arguments: dict[str, list[bytes]]
    _cookies: http.cookies.SimpleCookie
    _body_future: Future[None]

    def __init__(
        self,
        method: str | None = None,
        uri: str | None = None,
        version: str = "HTTP/1.0",
        headers: HTTPHeaders | None = None,
        body: bytes | None = None,
        host: str | None = None,
        files: dict[str, list[HTTPFile]] | None = None,
        connection: HTTPConnection | None = None,
        start_line: RequestStartLine | None = None,
        server_connection: object | None = None,
    ) -> None:
        if method is not None or uri is not None:
            _deprecated(
                "The method, uri, and version arguments to HTTPServerRequest are deprecated "
                "and will be removed in Tornado 6.7. Use the start_line argument instead."
            )
        if start_line is None:
            _deprecated(
                "The start_line argument to HTTPServerRequest will be required in Tornado 6.7."
            )
            start_line = RequestStartLine(method or "GET", uri or "/", version)
        self.method, self.uri, self.version = start_line

        # What ``headers or HTTPHeaders()`` does, without calling __len__.
        if type(headers) is HTTPHeaders:
            self.headers = headers if headers._as_list else HTTPHeaders()
        else:
            self.headers = headers or HTTPHeaders()
        if host is not None:
            _deprecated(
                "The host argument to HTTPServerRequest is deprecated and will be removed "
                "in Tornado 6.7. Use headers['Host'] instead."
            )
            self.headers["Host"] = host
        self.body = body or b""

        try:  # what the getattr calls below give, for the server's connections
            context = connection.context  # type: ignore[union-attr]
            self.remote_ip = context.remote_ip
            self.protocol = context.protocol
        except AttributeError:
            context = getattr(connection, "context", None)
            self.remote_ip = getattr(context, "remote_ip", None)
            self.protocol = getattr(context, "protocol", "http")

        headers = self.headers
        if type(headers) is HTTPHeaders:
            # What headers.get("Host") does, without the call (the name is normalised).
            values = headers._as_list.get("Host")
            if values is None:
                host_values = None
            elif len(values) == 1:
                host_values = values[0]
            else:
                host_values = headers["Host"]
        else:
            host_values = headers.get("Host")
        if host_values is None:
            if self.version != "HTTP/1.0":
                raise HTTPInputError("Missing Host header")
            host_values = "127.0.0.1"  # HTTP/1.0 does not require Host
        self.host: str = host_values
        # NOTE(embedtornado): a server sees few distinct Host values; the
        # checks and the split below are remembered for the valid ones.
        host_name = _valid_host_names.get(host_values) if type(host_values) is str else None
        if host_name is None:
            if not _ABNF.host.fullmatch(self.host):
                raise HTTPInputError(f"Invalid Host header: {self.host!r}")
            if "," in self.host:
                # RFC 9112 section 3.2: more than one Host is a 400. A proxy may
                # have joined several into one comma-separated value, and DNS
                # names never contain commas, so any comma counts.
                raise HTTPInputError(f"Multiple host headers not allowed: {self.host!r}")
            host_name = split_host_and_port(self.host.lower())[0]
            if type(host_values) is str and len(_valid_host_names) < _MAX_VALID_HOST_NAMES:
                _valid_host_names[host_values] = host_name
        self.host_name = host_name
        self.files = files or {}
        self.connection = connection
        self.server_connection = server_connection
        self._start_time = time.time()
        self._finish_time: float | None = None

        if self.uri is not None:
            self.path, _, self.query = self.uri.partition("?")
        else:
            self.path = self.query = ""  # see the note in the class docstring
        query = self.query
        if query:
            limit = _DEFAULT_PARSE_BODY_CONFIG.urlencoded.max_arguments
            try:
                # NOTE(embedtornado): a query without escapes is split in one
                # pass into both dicts (the compiled httpparse.split_query).
                split = _split_query(query, limit)
                if split is None:
                    # Bounded like a urlencoded body: parsing costs enough per
                    # field to be worth a limit. Only the global config is
                    # reachable from here (see set_parse_body_config).
                    arguments = parse_qs_bytes(query, keep_blank_values=True,
                                               max_num_fields=limit)
                    split = arguments, {k: list(v) for k, v in arguments.items()}
            except ValueError as e:  # over the limit, or not Latin-1 text
                raise HTTPInputError(f"Invalid query string: {e}") from e
            self.arguments, self.query_arguments = split
        else:
            self.arguments = {}
            self.query_arguments = {}
        self.body_arguments: dict[str, list[bytes]] = {}

    @property
    def cookies(self) -> dict[str, http.cookies.Morsel]:
        """The request's cookies, as a `http.cookies.SimpleCookie` of Morsels.

        Parsed from the ``Cookie`` header on first use, the way browsers
        send cookies (see `parse_cookie`). Never raises: a name that
        ``SimpleCookie`` refuses is left out.
        """
        try:
            return self._cookies
        except AttributeError:
            pass
        import http.cookies

        jar: http.cookies.SimpleCookie = http.cookies.SimpleCookie()
        self._cookies = jar
        header = self.headers.get("Cookie")
        # parse_cookie accepts any str; a non-str value can only come from
        # the application, and gives no cookies (Tornado ignores the error).
        if isinstance(header, str):
            for name, value in parse_cookie(header).items():
                try:
                    jar[name] = value
                except http.cookies.CookieError:
                    # http.cookies refuses some names that parse_cookie accepts.
                    continue
        return jar

    def full_url(self) -> str:
        """Return the URL of this request: protocol, host and `uri`."""
        return self.protocol + "://" + self.host + self.uri  # type: ignore[operator]

    def request_time(self) -> float:
        """Seconds since the request arrived, or its whole duration once finished."""
        if self._finish_time is None:
            return time.time() - self._start_time
        return self._finish_time - self._start_time

    def get_ssl_certificate(self, binary_form: bool = False) -> None | dict | bytes:
        """Return the client's TLS certificate, or ``None`` if there is none.

        The server must ask for client certificates, for example::

            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain("server.crt", "server.key")
            ctx.load_verify_locations("clients-ca.pem")
            ctx.verify_mode = ssl.CERT_REQUIRED
            server = HTTPServer(app, ssl_options=ctx)

        The result is the dict of `ssl.SSLSocket.getpeercert`, or the DER
        bytes with ``binary_form=True``.
        """
        import ssl

        try:
            if self.connection is None:
                return None
            stream = self.connection.stream  # type: ignore[attr-defined]
            get_extra_info = getattr(stream, "get_extra_info", None)
            if get_extra_info is not None:  # our server: an asyncio transport
                sslobj = get_extra_info("ssl_object")
                if sslobj is None:
                    return None
                return sslobj.getpeercert(binary_form=binary_form)  # type: ignore[no-any-return]
            return stream.socket.getpeercert(  # type: ignore[no-any-return]
                binary_form=binary_form
            )
        except (ssl.SSLError, AttributeError, ValueError):
            return None

    def _parse_body(self) -> None:
        """Parse a form body into `body_arguments` and `files`, and merge into `arguments`."""
        parse_body_arguments(
            self.headers.get("Content-Type", ""),
            self.body,
            self.body_arguments,
            self.files,
            self.headers,
        )
        for name, values in self.body_arguments.items():
            self.arguments.setdefault(name, []).extend(values)

    def __repr__(self) -> str:
        # Headers stay out: they may carry credentials.
        fields = ", ".join(
            f"{attr}={getattr(self, attr)!r}"
            for attr in ("protocol", "host", "method", "uri", "version", "remote_ip")
        )
        return f"{type(self).__name__}({fields})"


# --- interfaces between connections and applications ------------------------


class HTTPServerConnectionDelegate:
    """What an `.HTTPServer` calls for each connection and request.

    .. versionadded:: 4.0
    """

    def start_request(
        self, server_conn: object, request_conn: HTTPConnection
    ) -> HTTPMessageDelegate:
        """Return the `HTTPMessageDelegate` that will receive a new request.

        :arg server_conn: an opaque object for the long-lived (TCP)
            connection; the same object is passed to `on_close`.
        :arg request_conn: the `HTTPConnection` for this request/response
            exchange.
        """
        raise NotImplementedError()

    def on_close(self, server_conn: object) -> None:
        """Called when a connection passed to `start_request` has closed."""


class HTTPMessageDelegate:
    """Receives the parts of one HTTP message as they arrive.

    .. versionadded:: 4.0
    """

    def headers_received(
        self,
        start_line: RequestStartLine | ResponseStartLine,
        headers: HTTPHeaders,
    ) -> Awaitable[None] | None:
        """Called once the start line and headers have been parsed.

        :arg start_line: a `RequestStartLine` on a server, a
            `ResponseStartLine` on a client.
        :arg headers: an `HTTPHeaders`.

        Some `HTTPConnection` methods may only be called from here. If this
        returns an awaitable, the body is not read until it is done.
        """

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        """Called with each piece of the body; may return an awaitable for flow control."""

    def finish(self) -> None:
        """Called after the last piece of the body."""

    def on_connection_close(self) -> None:
        """Called if the connection closes before the message is complete.

        After `headers_received`, exactly one of `finish` and this is called.
        """


class HTTPConnection:
    """What an application writes its response to.

    .. versionadded:: 4.0
    """

    def write_headers(
        self,
        start_line: RequestStartLine | ResponseStartLine,
        headers: HTTPHeaders,
        chunk: bytes | None = None,
    ) -> Future[None]:
        """Write the start line and header block.

        :arg start_line: a `ResponseStartLine` (server) or
            `RequestStartLine` (client); its ``version`` is ignored.
        :arg headers: an `HTTPHeaders`.
        :arg chunk: optional first piece of the body, sent in the same write.

        Returns a future for flow control.
        """
        raise NotImplementedError()

    def write(self, chunk: bytes) -> Future[None]:
        """Write a piece of the body. Returns a future for flow control."""
        raise NotImplementedError()

    def finish(self) -> None:
        """Mark the end of the body."""
        raise NotImplementedError()


# --- URLs, ranges, timestamps ----------------------------------------------


def url_concat(
    url: str,
    args: None | dict[str, str] | list[tuple[str, str]] | tuple[tuple[str, str], ...],
) -> str:
    """Append query arguments to ``url``, whether or not it already has a query.

    ``args`` is a dict, or a list or tuple of pairs (to repeat a name). The
    existing query is re-encoded along with the new arguments; a fragment
    stays at the end.

    >>> url_concat("http://example.com/foo", dict(c="d"))
    'http://example.com/foo?c=d'
    >>> url_concat("http://example.com/foo?a=b", [("c", "d"), ("c", "d2")])
    'http://example.com/foo?a=b&c=d&c=d2'
    """
    if args is None:
        return url
    if isinstance(args, dict):
        extra: Iterable[tuple[str, str]] = args.items()
    elif isinstance(args, (list, tuple)):
        extra = args
    else:
        raise TypeError(f"'args' parameter should be dict, list or tuple. Not {type(args)}")
    from urllib.parse import parse_qsl, urlencode, urlparse, urlunparse

    parts = urlparse(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query.extend(extra)
    return urlunparse(parts._replace(query=urlencode(query)))


def _int_or_none(val: str) -> int | None:
    """``int(val)`` after stripping whitespace, or ``None`` for an empty string."""
    val = val.strip()
    return None if val == "" else int(val)


def _parse_request_range(range_header: str) -> tuple[int | None, int | None] | None:
    """Parse a single-range ``Range`` header into slice indexes ``(start, end)``.

    HTTP ranges are inclusive; the result is not, so it can be used as
    ``data[start:end]``. ``None`` means "not given". Returns ``None`` for
    units other than ``bytes`` and for anything unparseable, including
    several ranges.

    >>> _parse_request_range("bytes=1-2")
    (1, 3)
    >>> _parse_request_range("bytes=6-")
    (6, None)
    >>> _parse_request_range("bytes=-6")
    (-6, None)
    >>> _parse_request_range("bytes=-0")
    (None, 0)
    >>> _parse_request_range("bytes=1-2,6-10")
    """
    unit, _, spec = range_header.partition("=")
    if unit.strip() != "bytes":
        return None
    first, _, last = spec.strip().partition("-")
    try:
        start = _int_or_none(first)
        end = _int_or_none(last)
    except ValueError:
        return None
    if end is None:
        return (start, None)
    if start is not None:
        return (start, end + 1)
    if end == 0:
        return (None, 0)  # "the last 0 bytes": an unsatisfiable range
    return (-end, None)  # suffix range: the last `end` bytes


def _get_content_range(start: int | None, end: int | None, total: int) -> str:
    """Return a ``Content-Range`` value for the slice ``[start:end]`` of ``total`` bytes.

    >>> _get_content_range(1, 3, 4)
    'bytes 1-2/4'
    >>> _get_content_range(None, None, 4)
    'bytes 0-3/4'
    """
    first = start or 0
    last = (end or total) - 1
    return f"bytes {first}-{last}/{total}"


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_UTC = datetime.timezone.utc


def format_timestamp(ts: float | tuple | time.struct_time | datetime.datetime) -> str:
    """Format a time as an HTTP date (RFC 9110 IMF-fixdate).

    ``ts`` may be a POSIX timestamp, a UTC time tuple or `time.struct_time`
    (as from `time.gmtime`), or a `datetime.datetime` (naive means UTC;
    aware ones are converted).

    >>> format_timestamp(1359312200)
    'Sun, 27 Jan 2013 18:43:20 GMT'

    The result equals ``email.utils.formatdate(ts, usegmt=True)``.
    """
    if isinstance(ts, (int, float)):
        seconds: float = ts
    elif isinstance(ts, (tuple, time.struct_time)):
        import calendar

        seconds = calendar.timegm(ts)
    elif isinstance(ts, datetime.datetime):
        import calendar

        seconds = calendar.timegm(ts.utctimetuple())
    else:
        raise TypeError(f"unknown timestamp type: {ts!r}")
    dt = datetime.datetime.fromtimestamp(seconds, _UTC)
    return (
        f"{_WEEKDAYS[dt.weekday()]}, {dt.day:02d} {_MONTHS[dt.month]} {dt.year:04d} "
        f"{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d} GMT"
    )


_HOST_AND_PORT = re.compile(r"(.+):(\d+)$")


def split_host_and_port(netloc: str) -> tuple[str, int | None]:
    """Split ``host:port`` into ``(host, port)``; ``port`` is ``None`` if absent.

    >>> split_host_and_port("example.com:8080")
    ('example.com', 8080)
    >>> split_host_and_port("[::1]")
    ('[::1]', None)

    .. versionadded:: 4.1
    """
    m = _HOST_AND_PORT.match(netloc)
    if m is None:
        return (netloc, None)
    return (m.group(1), int(m.group(2)))


def qs_to_qsl(qs: dict[str, list[AnyStr]]) -> Iterable[tuple[str, AnyStr]]:
    """Turn ``{name: [values]}`` (as from ``parse_qs``) back into ``(name, value)`` pairs.

    .. versionadded:: 5.0
    """
    for name, values in qs.items():
        for value in values:
            yield (name, value)


def encode_username_password(username: str | bytes, password: str | bytes) -> bytes:
    """Return ``username:password`` as bytes, for HTTP Basic authentication.

    ``str`` arguments are NFC-normalised, then encoded as UTF-8.

    .. versionadded:: 5.1
    """
    import unicodedata

    if isinstance(username, str):
        username = unicodedata.normalize("NFC", username)
    if isinstance(password, str):
        password = unicodedata.normalize("NFC", password)
    return utf8(username) + b":" + utf8(password)


# --- header parameters and cookies -----------------------------------------


def _parseparam(s: str) -> Generator[str]:
    """Split ``s`` (which must start with ``;``) at the semicolons outside quotes.

    Yields each piece, stripped. A semicolon ends a piece only if the piece
    so far holds an even number of unescaped double quotes (``\\"`` does
    not count); with unbalanced quotes the piece runs to the end. Each
    character is examined a bounded number of times, so hostile input
    (``x="`` followed by thousands of ``;``) costs linear time.
    """
    length = len(s)
    start = 0
    while s.startswith(";", start):
        start += 1
        end = length
        scanned = start
        quotes = 0
        while True:
            semi = s.find(";", scanned)
            if semi < 0:
                break
            quotes += s.count('"', scanned, semi) - s.count('\\"', scanned, semi)
            if quotes % 2 == 0:
                end = semi
                break
            scanned = semi + 1
        yield s[start:end].strip()
        start = end


def _parse_header(line: str) -> tuple[str, dict[str, str]]:
    r"""Parse a header such as ``Content-Type`` or ``Content-Disposition``.

    Returns the main value and a dict of its parameters. Parameter names
    are lowercased, quoted values unquoted, and RFC 2231/5987 values
    (``filename*=UTF-8''%C3%A1.txt``, continuations) decoded; an extended
    value wins over a plain one of the same name.

    >>> _parse_header('form-data; name="f"; filename*=utf-8\'\'T%C3%A4st')
    ('form-data', {'name': 'f', 'filename': 'Täst'})
    """
    import email.utils

    pieces = _parseparam(";" + line)
    key = next(pieces)
    # decode_params leaves its first pair alone; give it a placeholder.
    params = [("", "")]
    for piece in pieces:
        name, eq, value = piece.partition("=")
        if eq:
            params.append((name.strip().lower(), native_str(value.strip())))
    decoded = email.utils.decode_params(params)
    result: dict[str, str] = {}
    for name, raw in decoded[1:]:
        value = email.utils.collapse_rfc2231_value(raw)
        if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
            value = value[1:-1]
        result[name] = value
    return key, result


def _encode_header(key: str, pdict: dict[str, str]) -> str:
    """Build a header value from a main value and parameters (the reverse of `_parse_header`).

    Parameters are sorted by name; a ``None`` value writes the bare name.

    >>> _encode_header("permessage-deflate",
    ...     {"client_max_window_bits": 15, "client_no_context_takeover": None})
    'permessage-deflate; client_max_window_bits=15; client_no_context_takeover'
    """
    if not pdict:
        return key
    items = [key]
    for name, value in sorted(pdict.items()):
        items.append(name if value is None else f"{name}={value}")
    return "; ".join(items)


# A backslash escape inside a quoted cookie value: three octal digits
# (first digit 0-3, so the code fits a byte) or any other character but LF.
_COOKIE_ESCAPE = re.compile(r"\\(?:([0-3][0-7][0-7])|(.))")


def _cookie_escape_value(m: re.Match[str]) -> str:
    octal = m.group(1)
    return chr(int(octal, 8)) if octal else m.group(2)


def _unquote_cookie(s: str) -> str:
    """Remove the quotes and backslash escapes from a double-quoted cookie value.

    Values not wrapped in double quotes are returned unchanged. The result
    is that of ``http.cookies._unquote`` (Python 3.13), in one regex pass:
    linear in the input (CVE-2024-52804 was a quadratic version of this).
    """
    if s is None or len(s) < 2 or s[0] != '"' or s[-1] != '"':
        return s
    inner = s[1:-1]
    if "\\" not in inner:
        return inner
    return _COOKIE_ESCAPE.sub(_cookie_escape_value, inner)


def parse_cookie(cookie: str) -> dict[str, str]:
    """Parse a ``Cookie`` header into ``{name: value}`` the way browsers send it.

    Every ``;`` separates cookies, even inside quotes. A piece without
    ``=`` is a value with an empty name. Names and values are stripped;
    quoted values are unquoted; a repeated name keeps its last value. This
    follows browsers (and Django), not the cookie RFCs, and it runs in
    linear time on any input.

    .. versionadded:: 4.4.2
    """
    result: dict[str, str] = {}
    for piece in cookie.split(";"):
        name, eq, value = piece.partition("=")
        if not eq:
            name, value = "", piece
        name = name.strip()
        value = value.strip()
        if name or value:
            result[name] = _unquote_cookie(value)
    return result


# --- request bodies ---------------------------------------------------------


def parse_body_arguments(
    content_type: str,
    body: bytes,
    arguments: dict[str, list[bytes]],
    files: dict[str, list[HTTPFile]],
    headers: HTTPHeaders | None = None,
    *,
    config: ParseBodyConfig | None = None,
) -> None:
    """Parse a form body into ``arguments`` and ``files`` (both updated in place).

    Handles ``application/x-www-form-urlencoded`` and ``multipart/form-data``;
    other content types are ignored. Raises :class:`HTTPInputError` for a
    malformed body, one over the limits in ``config`` (default: the one set
    with `set_parse_body_config`), or one with a ``Content-Encoding``.
    """
    if config is None:
        config = _DEFAULT_PARSE_BODY_CONFIG
    if content_type.startswith("application/x-www-form-urlencoded"):
        if headers and "Content-Encoding" in headers:
            raise HTTPInputError(f"Unsupported Content-Encoding: {headers['Content-Encoding']}")
        try:
            # Values stay bytes; RequestHandler.decode_argument picks the charset.
            parsed = parse_qs_bytes(
                body, keep_blank_values=True, max_num_fields=config.urlencoded.max_arguments
            )
        except Exception as e:
            raise HTTPInputError(f"Invalid x-www-form-urlencoded body: {e}") from e
        for name, values in parsed.items():
            if values:
                arguments.setdefault(name, []).extend(values)
    elif content_type.startswith("multipart/form-data"):
        if headers and "Content-Encoding" in headers:
            raise HTTPInputError(f"Unsupported Content-Encoding: {headers['Content-Encoding']}")
        try:
            fields = content_type.split(";")
            if fields[0].strip() != "multipart/form-data":
                raise HTTPInputError("Invalid content type")  # e.g. multipart/form-dataxyz
            for field in fields:
                name, _, value = field.strip().partition("=")
                if name == "boundary" and value:
                    parse_multipart_form_data(
                        utf8(value), body, arguments, files, config=config.multipart
                    )
                    break
            else:
                raise HTTPInputError("multipart boundary not found")
        except Exception as e:
            raise HTTPInputError(f"Invalid multipart/form-data: {e}") from e


def parse_multipart_form_data(
    boundary: bytes,
    data: bytes,
    arguments: dict[str, list[bytes]],
    files: dict[str, list[HTTPFile]],
    *,
    config: ParseMultipartConfig | None = None,
) -> None:
    """Parse a ``multipart/form-data`` body into ``arguments`` and ``files``.

    ``boundary`` may be quoted. Parts with a ``filename`` parameter become
    `HTTPFile` entries in ``files``; the others are added to ``arguments``.
    ``filename*=`` (RFC 2231/5987) names are decoded. Anything after the
    final boundary is ignored.

    Raises :class:`HTTPInputError` when parsing is disabled, when the body
    has more parts than ``config.max_parts`` (counted before any part is
    touched), when a part's header block is larger than
    ``config.max_part_header_size`` or invalid (control characters such as
    a bare CR included), and on the first malformed part (so a hostile
    body costs one error, not one log line per part). Header blocks must
    be UTF-8 (`UnicodeDecodeError` otherwise).

    .. versionchanged:: 5.1
       Decodes ``filename*=`` names.
    """
    if config is None:
        config = _DEFAULT_PARSE_BODY_CONFIG.multipart
    if not config.enabled:
        raise HTTPInputError("multipart/form-data parsing is disabled")
    # RFC 2046 allows the boundary to be quoted (Google App Engine does).
    if boundary.startswith(b'"') and boundary.endswith(b'"'):
        boundary = boundary[1:-1]
    final = data.rfind(b"--" + boundary + b"--")
    if final == -1:
        raise HTTPInputError("Invalid multipart/form-data: no final boundary found")
    separator = b"--" + boundary + b"\r\n"
    # The text before the first separator counts as a part, as in Tornado.
    if data.count(separator, 0, final) + 1 > config.max_parts:
        raise HTTPInputError("multipart/form-data has too many parts")
    # Walk the parts by offset: no copy of the body, no list of parts.
    step = len(separator)
    part_start = 0
    while part_start <= final:
        part_end = data.find(separator, part_start, final)
        if part_end < 0:
            part_end = final
        if part_end > part_start:
            _parse_part(data, part_start, part_end, arguments, files, config)
        part_start = part_end + step


def _parse_part(
    data: bytes,
    start: int,
    end: int,
    arguments: dict[str, list[bytes]],
    files: dict[str, list[HTTPFile]],
    config: ParseMultipartConfig,
) -> None:
    """Parse the part ``data[start:end]`` (between two boundaries)."""
    eoh = data.find(b"\r\n\r\n", start, end)
    if eoh < 0:
        raise HTTPInputError("multipart/form-data missing headers")
    if eoh - start > config.max_part_header_size:
        raise HTTPInputError("multipart/form-data part header too large")
    headers = HTTPHeaders.parse(data[start:eoh].decode("utf-8"), _chars_are_bytes=False)
    disposition, params = _parse_header(headers.get("Content-Disposition", ""))
    if disposition != "form-data" or not data.endswith(b"\r\n", start, end):
        raise HTTPInputError("Invalid multipart/form-data")
    name = params.get("name")
    if not name:
        raise HTTPInputError("multipart/form-data missing name")
    value = data[eoh + 4 : end - 2]
    filename = params.get("filename")
    if filename:
        content_type = headers.get("Content-Type", "application/unknown")
        files.setdefault(name, []).append(
            HTTPFile(filename=filename, body=value, content_type=content_type)
        )
    else:
        arguments.setdefault(name, []).append(value)


def doctests() -> unittest.TestSuite:
    """Return this module's doctests as a `unittest.TestSuite` (as Tornado provides)."""
    import doctest

    return doctest.DocTestSuite(optionflags=doctest.ELLIPSIS)
