"""HTTP/1.1 request parser: the readable twin of ``embedtornado._speedups.httpparse``.

A push parser that never touches a socket: feed it bytes, then pull events
until it says :data:`NEED_DATA`::

    p = RequestParser(max_body_size=1 << 20)
    p.feed(b"POST /f HTTP/1.1\\r\\nHost: a\\r\\nContent-Length: 3\\r\\n\\r\\nabc")
    assert p.next_event() == HEAD      # p.method, p.target, p.headers, ...
    assert p.next_event() == DATA      # p.data == b"abc"
    assert p.next_event() == END
    assert p.next_event() == NEED_DATA  # the next pipelined request starts here

Any malformed or over-limit input raises an :class:`HTTPInputError` subclass
whose ``code`` is the status to answer with (400, 413, 414, 431, 501, 505);
the parser then stays broken and the connection must be closed.

This module is the specification: the compiled twin must produce the same
events, attributes and exceptions (same class, same message) for every input,
however it is split. The rules, strict on purpose (see docs/http-strictness.md):

* lines end with CRLF; a bare LF or bare CR anywhere in the head or in chunk
  framing is a 400;
* empty lines before the request line are skipped (RFC 9112 section 2.2);
* request line: ``token SP target SP HTTP/x.y``; the target has no controls,
  spaces or DEL (bytes >= 0x80 are kept, decoded as latin-1); well-formed
  versions other than 1.0 and 1.1 get a 505;
* header names are RFC 9110 tokens followed directly by ``:``; values hold no
  controls but HTAB, lose surrounding SP/HTAB, and are decoded as latin-1;
  continuation lines (obs-fold) are a 400;
* HTTP/1.1 needs exactly one valid ``Host``; HTTP/1.0 may omit it;
* ``Content-Length`` is 1*DIGIT (repeated only with the same value); it is
  compared with ``max_body_size`` on the first call after :data:`HEAD`, so the
  limit may be changed between the two;
  ``Transfer-Encoding`` must be exactly one ``chunked`` (other codings: 501),
  never with Content-Length, never in HTTP/1.0;
* chunk sizes are 1-16 hex digits, extensions (``;name[=token|"quoted"]``) are
  checked and ignored, trailers are checked and discarded.
"""

from __future__ import annotations

import re

from embedtornado._httpdefs import (
    CHUNK_NOT_TERMINATED,
    CHUNKED_TOO_LARGE,
    CONTENT_LENGTH_TOO_LONG,
    DATA,
    DEFAULT_MAX_BODY_SIZE,
    DEFAULT_MAX_CHUNK_LINE,
    DEFAULT_MAX_HEADER_COUNT,
    DEFAULT_MAX_HEADER_SIZE,
    DEFAULT_MAX_REQUEST_LINE,
    END,
    FOLDED_HEADER,
    HEAD,
    INVALID_CHUNK_SIZE,
    MALFORMED_REQUEST_LINE,
    MISSING_HOST,
    NEED_DATA,
    NO_COLON,
    TE_AND_CL,
    HTTPInputError,
    HTTPVersionNotSupported,
    PayloadTooLarge,
    RequestHeaderFieldsTooLarge,
    RequestURITooLong,
    TransferCodingNotImplemented,
    bad_content_length,
    bad_host,
    invalid_header_name,
    invalid_header_value,
    unexpected_version,
    unsupported_transfer_encoding,
)

__all__ = [
    "RequestParser", "normalize_header_name", "encode_head", "split_query",
    "NEED_DATA", "HEAD", "DATA", "END",
]

# --- RFC 9110 / 9112 grammar, one named rule each ---------------------------------

#: tchar (RFC 9110 section 5.6.2).
_TCHAR = rb"!#$%&'*+\-.^_`|~0-9A-Za-z"
_TOKEN = re.compile(rb"[%s]+" % _TCHAR)
#: request-target: any visible ASCII or obs-text byte; no controls, space or DEL.
_TARGET = re.compile(rb"[\x21-\x7e\x80-\xff]+")
#: HTTP-version (RFC 9112 section 2.3).
_VERSION = re.compile(rb"HTTP/([0-9])\.([0-9])")
#: field-value characters: field-vchar, SP, HTAB (RFC 9110 section 5.5).
_FIELD_VALUE = re.compile(rb"[\t\x20-\x7e\x80-\xff]*")
#: Host = uri-host [ ":" port ] (RFC 3986 section 3.2): IP-literal or reg-name.
_HOST = re.compile(
    rb"(?:\[[A-Za-z0-9\-._~!$&'()*+,;=:]+\]"
    rb"|(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})*)"
    rb"(?::[0-9]*)?"
)
#: chunk = chunk-size [ chunk-ext ] (RFC 9112 section 7.1), no whitespace anywhere.
_CHUNK_LINE = re.compile(
    rb"([0-9A-Fa-f]{1,16})"
    rb"(?:;[%s]+(?:=(?:[%s]+|\"(?:[\t\x20\x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t\x20-\x7e\x80-\xff])*\"))?)*"
    % (_TCHAR, _TCHAR)
)
_DIGITS = re.compile(rb"[0-9]+")
_CR_OR_LF = re.compile(rb"[\r\n]")
_OWS = b" \t"

# parser states
_S_HEAD = 0
_S_BODY_LENGTH = 1
_S_CHUNK_SIZE = 2
_S_CHUNK_DATA = 3
_S_CHUNK_CRLF = 4
_S_TRAILER = 5
_S_END = 6
_S_ERROR = 7


def normalize_header_name(name: str) -> str:
    """``"content-TYPE"`` -> ``"Content-Type"``: each dash-separated word capitalised."""
    return "-".join(w.capitalize() for w in name.split("-"))


def encode_head(status: bytes, fields: dict[str, list[str]], tail: bytes) -> bytes | None:
    """``status`` + ``Name: value\\r\\n`` for each value of ``fields`` + ``\\r\\n`` + ``tail``.

    ``fields`` is an `HTTPHeaders` ``_as_list`` (name -> list of values), in
    its order. The field lines are Latin-1. ``None`` when that block cannot be
    written as it is: a name or value that is not a ``str``, a values entry
    that is not a ``list``, a character outside Latin-1, or a CR or LF
    anywhere in it. The caller then takes its general path, which reports
    the exact error.
    """
    parts = []
    for name, values in fields.items():
        if type(name) is not str or type(values) is not list:
            return None
        for value in values:
            if type(value) is not str:
                return None
            parts += (name, ": ", value, "\r\n")
    parts.append("\r\n")
    block = "".join(parts)
    n = len(parts) // 4
    if block.count("\r") != n + 1 or block.count("\n") != n + 1:
        return None
    try:
        return status + block.encode("latin-1") + tail
    except UnicodeEncodeError:
        return None


def split_query(query: str, limit: int | None) -> tuple[dict, dict] | None:
    """The query string's ``(arguments, query_arguments)`` when it has no escapes.

    For an ASCII ``query`` without ``%`` or ``+`` this is what
    ``parse_qs_bytes(query, keep_blank_values=True)`` gives (and an equal
    copy of it, with lists of its own): ``{name: [value bytes, ...]}`` in
    order, a field without ``=`` having the value ``b""``, empty fields
    skipped. ``None`` for any other query (the caller parses it the general
    way). More than ``limit`` ``&``-separated fields (empty ones included)
    raises `ValueError`.
    """
    if type(query) is not str or not query.isascii() or "%" in query or "+" in query:
        return None
    fields = query.split("&")
    if limit is not None and len(fields) > limit:
        raise ValueError("Max number of fields exceeded")
    arguments: dict[str, list[bytes]] = {}
    query_arguments: dict[str, list[bytes]] = {}
    for field in fields:
        if field:
            name, _, value = field.partition("=")
            raw = value.encode("ascii")
            values = arguments.get(name)
            if values is None:
                arguments[name] = [raw]
                query_arguments[name] = [raw]
            else:
                values.append(raw)
                query_arguments[name].append(raw)
    return arguments, query_arguments


def _split_list(value: str) -> list[str]:
    """Split a comma-separated header list, dropping surrounding SP/HTAB of each element."""
    return [e.strip(" \t") for e in value.split(",")]


class RequestParser:
    """Incremental parser for a stream of pipelined HTTP/1.x requests.

    :arg max_header_size: largest head in bytes, counted from the first byte
        of the request line through the blank line (431 when over).
    :arg max_body_size: largest decoded body (413 when over).
    :arg max_request_line: longest request line without its CRLF (414).
    :arg max_header_count: most header fields (431).
    :arg max_chunk_line: longest chunk-size line, extensions included (400).

    After :data:`HEAD` these attributes describe the request: ``method``,
    ``target`` and ``version`` (str), ``headers`` (``dict`` of normalised name
    to list of values, in first-seen order), ``keep_alive`` (what the request
    asks for, by HTTP/1.0 and 1.1 rules), ``chunked``, ``content_length``
    (``-1`` when chunked), ``expect_continue``. After :data:`DATA`,
    ``data`` holds body bytes (all that could be decoded from the buffer).
    """

    def __init__(
        self,
        max_header_size: int = DEFAULT_MAX_HEADER_SIZE,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        max_request_line: int = DEFAULT_MAX_REQUEST_LINE,
        max_header_count: int = DEFAULT_MAX_HEADER_COUNT,
        max_chunk_line: int = DEFAULT_MAX_CHUNK_LINE,
    ) -> None:
        self.max_header_size = max_header_size
        self.max_body_size = max_body_size
        self.max_request_line = max_request_line
        self.max_header_count = max_header_count
        self.max_chunk_line = max_chunk_line
        self._buf = bytearray()
        self._pos = 0  # first unconsumed byte
        self._scan = 0  # head: bytes after _pos already searched for the end of the head
        self._state = _S_HEAD
        self._remaining = 0  # body bytes left (Content-Length) or in the current chunk
        self._body_total = 0
        self._trailer_bytes = 0
        self._error: HTTPInputError | None = None
        self._reset_message()
        self.data = b""

    def _reset_message(self) -> None:
        self.method = ""
        self.target = ""
        self.version = ""
        self.headers: dict[str, list[str]] = {}
        self.keep_alive = False
        self.chunked = False
        self.content_length = 0
        self.expect_continue = False

    # --- input ---------------------------------------------------------------------

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Append bytes received from the peer."""
        if self._pos:
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    def pending(self) -> int:
        """Number of received bytes not consumed by an event yet."""
        return len(self._buf) - self._pos

    def take_buffer(self) -> bytes:
        """Remove and return the unconsumed bytes (the connection leaves HTTP, e.g. WebSocket)."""
        rest = bytes(self._buf[self._pos :])
        self._buf = bytearray()
        self._pos = 0
        self._scan = 0
        return rest

    @property
    def in_message(self) -> bool:
        """True while a request is partly received (an EOF now would cut it short)."""
        if self._state == _S_HEAD:
            return self._pos < len(self._buf)
        return self._state not in (_S_END, _S_ERROR)

    # --- events --------------------------------------------------------------------

    def next_event(self) -> int:
        """Return the next event: :data:`NEED_DATA`, :data:`HEAD`, :data:`DATA` or :data:`END`.

        Raises an :class:`HTTPInputError` subclass for bad input; after that
        every call raises the same error again.
        """
        if self._state == _S_ERROR:
            assert self._error is not None
            raise self._error
        try:
            if self._state == _S_HEAD:
                return self._parse_head()
            if self._state == _S_END:
                self._state = _S_HEAD
                self._scan = 0
                return END
            return self._parse_body()
        except HTTPInputError as e:
            self._state = _S_ERROR
            self._error = e
            raise

    # --- the head ------------------------------------------------------------------

    def _parse_head(self) -> int:
        buf = self._buf
        n = len(buf)
        # Skip empty lines before the request line (RFC 9112 section 2.2).
        pos = self._pos
        while pos < n and buf[pos] == 0x0D:
            if pos + 1 == n:
                self._pos = pos
                return NEED_DATA
            if buf[pos + 1] != 0x0A:
                raise HTTPInputError("bare CR in request head")
            pos += 2
        if pos < n and buf[pos] == 0x0A:
            raise HTTPInputError("bare LF in request head")
        if pos != self._pos:
            self._pos = pos
            self._scan = 0
        if pos == n:
            return NEED_DATA
        # Find the blank line ending the head, rejecting bare LF as early as it shows.
        # Look no further than a limit would let a byte-by-byte feed get, so the
        # error does not depend on how the input was split.
        stop = pos + self.max_header_size + 1
        if buf.find(b"\r\n", pos, pos + self.max_request_line + 2) < 0:
            stop = min(stop, pos + self.max_request_line + 2)
        stop = min(stop, n)
        start = pos + max(self._scan - 3, 0)
        end = buf.find(b"\r\n\r\n", start, stop)
        for m in _CR_OR_LF.finditer(buf, start, end if end >= 0 else stop):
            i = m.start()
            if buf[i] == 0x0A:
                if buf[i - 1] != 0x0D:
                    raise HTTPInputError("bare LF in request head")
            elif i + 1 < stop and buf[i + 1] != 0x0A:
                raise HTTPInputError("bare CR in request head")
        if end < 0:
            self._scan = n - pos
            over_head = n - pos > self.max_header_size
            # When both limits are crossed, the one a byte-by-byte feed crosses first wins.
            if (n - pos > self.max_request_line + 1
                    and buf.find(b"\r\n", pos, pos + self.max_request_line + 2) < 0
                    and (not over_head or self.max_request_line + 1 <= self.max_header_size)):
                raise RequestURITooLong("request line too long")
            if over_head:
                raise RequestHeaderFieldsTooLarge("request head too large")
            return NEED_DATA
        if end + 4 - pos > self.max_header_size:
            raise RequestHeaderFieldsTooLarge("request head too large")
        head = bytes(buf[pos:end])
        self._pos = end + 4
        self._scan = 0
        self._parse_head_bytes(head)
        return HEAD

    def _parse_head_bytes(self, head: bytes) -> None:
        lines = head.split(b"\r\n")
        line = lines[0]
        if len(line) > self.max_request_line:
            raise RequestURITooLong("request line too long")
        parts = line.split(b" ")
        if len(parts) != 3:
            raise HTTPInputError(MALFORMED_REQUEST_LINE)
        method, target, version = parts
        if _TOKEN.fullmatch(method) is None:
            raise HTTPInputError(MALFORMED_REQUEST_LINE)
        if _TARGET.fullmatch(target) is None:
            raise HTTPInputError(MALFORMED_REQUEST_LINE)
        m = _VERSION.fullmatch(version)
        if m is None:
            raise HTTPInputError(MALFORMED_REQUEST_LINE)
        if version != b"HTTP/1.1" and version != b"HTTP/1.0":
            raise HTTPVersionNotSupported(unexpected_version(version.decode("latin-1")))
        http11 = version == b"HTTP/1.1"
        if len(lines) - 1 > self.max_header_count:
            raise RequestHeaderFieldsTooLarge("too many header fields")
        headers: dict[str, list[str]] = {}
        for raw in lines[1:]:
            name, value = self._parse_field(raw)
            values = headers.get(name)
            if values is None:
                headers[name] = [value]
            else:
                values.append(value)
        self._apply_head(method.decode("latin-1"), target.decode("latin-1"),
                         version.decode("latin-1"), http11, headers)

    @staticmethod
    def _parse_field(raw: bytes) -> tuple[str, str]:
        """Validate one ``name: value`` line and return (normalised name, value)."""
        colon = raw.find(b":")
        name = raw[:colon]
        if colon <= 0 or _TOKEN.fullmatch(name) is None:
            # Tornado's order: a leading SP/HTAB, then no colon, then the name.
            if raw[:1] in (b" ", b"\t"):
                raise HTTPInputError(FOLDED_HEADER)
            if colon < 0:
                raise HTTPInputError(NO_COLON)
            raise HTTPInputError(invalid_header_name(name.decode("latin-1")))
        value = raw[colon + 1 :].strip(_OWS)
        if _FIELD_VALUE.fullmatch(value) is None:
            raise HTTPInputError(invalid_header_value(value.decode("latin-1")))
        return normalize_header_name(name.decode("latin-1")), value.decode("latin-1")

    def _apply_head(self, method: str, target: str, version: str, http11: bool,
                    headers: dict[str, list[str]]) -> None:
        hosts = headers.get("Host")
        if hosts is None:
            if http11:
                raise HTTPInputError(MISSING_HOST)
        elif len(hosts) > 1 or _HOST.fullmatch(hosts[0].encode("latin-1")) is None:
            raise HTTPInputError(bad_host(hosts))

        chunked = False
        te = headers.get("Transfer-Encoding")
        if te is not None:
            if not http11:
                raise HTTPInputError("Transfer-Encoding in an HTTP/1.0 request")
            if "Content-Length" in headers:
                raise HTTPInputError(TE_AND_CL)
            if len(te) > 1:
                raise HTTPInputError(unsupported_transfer_encoding(te))
            codings = _split_list(te[0].lower())
            for c in codings:
                if not c or _TOKEN.fullmatch(c.encode("latin-1")) is None:
                    raise HTTPInputError(unsupported_transfer_encoding(te))
            if codings.count("chunked") > 1 or (
                "chunked" in codings and codings[-1] != "chunked"
            ):
                raise HTTPInputError(unsupported_transfer_encoding(te))
            if codings != ["chunked"]:
                raise TransferCodingNotImplemented(unsupported_transfer_encoding(te))
            chunked = True

        content_length = 0
        cl = headers.get("Content-Length")
        if cl is not None:
            seen = ""
            for line in cl:
                for e in _split_list(line):
                    if _DIGITS.fullmatch(e.encode("latin-1")) is None:
                        raise HTTPInputError(bad_content_length(cl))
                    e = e.lstrip("0") or "0"
                    if seen and e != seen:
                        raise HTTPInputError(bad_content_length(cl))
                    seen = e
            if len(seen) > 18:
                raise PayloadTooLarge(CONTENT_LENGTH_TOO_LONG)
            content_length = int(seen)

        tokens: list[str] = []
        for line in headers.get("Connection", ()):
            tokens.extend(_split_list(line.lower()))
        if http11:
            keep_alive = "close" not in tokens
        else:
            keep_alive = "keep-alive" in tokens and (
                cl is not None or method == "GET" or method == "HEAD"
            )

        expect = False
        ex = headers.get("Expect")
        if ex is not None and http11 and ex[0].lower() == "100-continue":
            expect = True

        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.keep_alive = keep_alive
        self.chunked = chunked
        self.expect_continue = expect
        self._body_total = 0
        if chunked:
            self.content_length = -1
            self._state = _S_CHUNK_SIZE
        else:
            self.content_length = content_length
            self._remaining = content_length
            self._state = _S_BODY_LENGTH if content_length else _S_END

    # --- the body ------------------------------------------------------------------

    def _parse_body(self) -> int:
        if self._state == _S_BODY_LENGTH:
            # Checked here, not at HEAD, so the application can change
            # max_body_size between the two (HTTP1Connection.set_max_body_size).
            if self._remaining == self.content_length and self._remaining > self.max_body_size:
                raise PayloadTooLarge(CONTENT_LENGTH_TOO_LONG)
            avail = len(self._buf) - self._pos
            if not avail:
                return NEED_DATA
            take = min(avail, self._remaining)
            self.data = bytes(self._buf[self._pos : self._pos + take])
            self._pos += take
            self._remaining -= take
            if not self._remaining:
                self._state = _S_END
            return DATA
        pieces: list[bytes] = []
        while self._state != _S_END and self._chunk_step(pieces):
            pass
        if pieces:
            self.data = b"".join(pieces)
            return DATA
        if self._state == _S_END:
            return self.next_event()
        return NEED_DATA

    def _line(self, limit: int, too_long: HTTPInputError,
              bare_lf: HTTPInputError) -> bytes | None:
        """The next CRLF-terminated line (without CRLF, at most *limit* bytes), or None."""
        buf = self._buf
        lf = buf.find(b"\n", self._pos, self._pos + limit + 2)
        if lf < 0:
            if len(buf) - self._pos > limit + 1:
                raise too_long
            return None
        if lf == self._pos or buf[lf - 1] != 0x0D:
            raise bare_lf
        if lf - 1 - self._pos > limit:
            raise too_long
        line = bytes(buf[self._pos : lf - 1])
        self._pos = lf + 1
        return line

    def _chunk_step(self, pieces: list[bytes]) -> bool:
        """Advance the chunked decoder by one step; False when it needs more bytes."""
        state = self._state
        if state == _S_CHUNK_SIZE:
            line = self._line(self.max_chunk_line, HTTPInputError("chunk size line too long"),
                              HTTPInputError(INVALID_CHUNK_SIZE))
            if line is None:
                return False
            m = _CHUNK_LINE.fullmatch(line)
            if m is None:
                raise HTTPInputError(INVALID_CHUNK_SIZE)
            size = int(m.group(1), 16)
            self._body_total += size
            if self._body_total > self.max_body_size:
                raise PayloadTooLarge(CHUNKED_TOO_LARGE)
            if size:
                self._remaining = size
                self._state = _S_CHUNK_DATA
            else:
                self._trailer_bytes = 0
                self._state = _S_TRAILER
            return True
        if state == _S_CHUNK_DATA:
            avail = len(self._buf) - self._pos
            if not avail:
                return False
            take = min(avail, self._remaining)
            pieces.append(bytes(self._buf[self._pos : self._pos + take]))
            self._pos += take
            self._remaining -= take
            if not self._remaining:
                self._state = _S_CHUNK_CRLF
            return True
        if state == _S_CHUNK_CRLF:
            avail = len(self._buf) - self._pos
            if avail and self._buf[self._pos] != 0x0D:
                raise HTTPInputError(CHUNK_NOT_TERMINATED)
            if avail < 2:
                return False
            if self._buf[self._pos + 1] != 0x0A:
                raise HTTPInputError(CHUNK_NOT_TERMINATED)
            self._pos += 2
            self._state = _S_CHUNK_SIZE
            return True
        # _S_TRAILER: fields are checked like headers, then dropped.
        line = self._line(
            self.max_header_size - self._trailer_bytes - 2,
            RequestHeaderFieldsTooLarge("trailer section too large"),
            HTTPInputError("bare LF in chunked body"),
        )
        if line is None:
            return False
        self._trailer_bytes += len(line) + 2
        if not line:
            self._state = _S_END
            return True
        if b"\r" in line:
            raise HTTPInputError("bare CR in trailer section")
        self._parse_field(line)
        return True
