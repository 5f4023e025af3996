"""Constants and exceptions of the HTTP/1.1 layer, defined once for both parser twins.

The request parser (``embedtornado._pure.httpparse`` and its compiled twin
``embedtornado._speedups.httpparse``) imports everything it shares from here,
so an error raised by either implementation is the same class with the same
message. :mod:`embedtornado.httputil` re-exports the public names.

Every error a peer can cause is an :class:`HTTPInputError` subclass whose
``code`` is the status the server answers with before it closes the
connection::

    try:
        event = parser.next_event()
    except HTTPInputError as e:
        send_error_and_close(e.code, e.reason)
"""

from __future__ import annotations

# --- parser events (ints, so the compiled parser can return them cheaply) ---

#: The parser needs more bytes before it can say anything new.
NEED_DATA = 0
#: A complete request head was parsed; read ``method``, ``target``, ``version``,
#: ``headers``, ``keep_alive``, ``chunked``, ``content_length``, ``expect_continue``.
HEAD = 1
#: Some decoded body bytes are in ``parser.data``.
DATA = 2
#: The current message is complete; the next call starts the next request.
END = 3

# --- default limits (HTTP1ConnectionParameters and HTTPServer use the same names) ---

#: Largest request head (request line, headers, final blank line), in bytes. Over it: 431.
DEFAULT_MAX_HEADER_SIZE = 65536
#: Largest request body after transfer decoding, in bytes. Over it: 413.
DEFAULT_MAX_BODY_SIZE = 100 * 1024 * 1024
#: Longest request line (method, target, version), in bytes. Over it: 414.
DEFAULT_MAX_REQUEST_LINE = 8192
#: Most header fields in one request head. Over it: 431.
DEFAULT_MAX_HEADER_COUNT = 100
#: Longest chunk-size line, extensions included. Over it: 400.
DEFAULT_MAX_CHUNK_LINE = 1024


# --- reasons logged as "Malformed HTTP message from <ip>: <reason>" ---
#
# Where embedtornado rejects a request that Tornado 6.6.1 also rejects, the
# reason is Tornado's text, so log filters written for Tornado (fail2ban and
# the like) keep matching. Inputs that only embedtornado rejects (bare LF, a
# Transfer-Encoding in HTTP/1.0, limits Tornado lacks) keep reasons of their own.

MALFORMED_REQUEST_LINE = "Malformed HTTP request line"
NO_COLON = "no colon in header line"
FOLDED_HEADER = "header line cannot start with whitespace, folding not supported"
MISSING_HOST = "Missing Host header"
TE_AND_CL = "Message with both Transfer-Encoding and Content-Length"
CONTENT_LENGTH_TOO_LONG = "Content-Length too long"
CHUNKED_TOO_LARGE = "chunked body too large"
INVALID_CHUNK_SIZE = "invalid chunk size"
CHUNK_NOT_TERMINATED = "improperly terminated chunk"


def unexpected_version(version: str) -> str:
    """Reason for an HTTP version other than 1.0 and 1.1 (answered with 505)."""
    return f"Unexpected HTTP version {version!r}"


def invalid_header_name(name: str) -> str:
    """Reason for a field name that is not a token (*name* as decoded, latin-1)."""
    return f"Invalid header name {name!r}"


def invalid_header_value(value: str) -> str:
    """Reason for a field value with a forbidden byte (*value* without surrounding SP/HTAB)."""
    return f"Invalid header value {value!r}"


def bad_host(hosts: list[str]) -> str:
    """Reason for the Host field lines *hosts* (more than one, or one that is invalid)."""
    if len(hosts) > 1:
        return f"Multiple host headers not allowed: {','.join(hosts)!r}"
    return f"Invalid Host header: {hosts[0]!r}"


def unsupported_transfer_encoding(values: list[str]) -> str:
    """Reason for Transfer-Encoding field lines other than one exact ``chunked``."""
    return "Unsupported Transfer-Encoding " + ",".join(values)


def bad_content_length(values: list[str]) -> str:
    """Reason for rejected Content-Length field lines *values*.

    As Tornado reads them: the lines joined with commas, split at each comma
    and the SP/HTAB after it; pieces that differ are "unequal", otherwise the
    (one) value is not an integer.
    """
    joined = ",".join(values)
    pieces = [piece.lstrip(" \t") for piece in joined.split(",")]
    if any(piece != pieces[0] for piece in pieces):
        return f"Multiple unequal Content-Lengths: {joined!r}"
    return "Only integer Content-Length is allowed: " + pieces[0]


class HTTPInputError(Exception):
    """The peer sent a malformed or over-limit HTTP message.

    The server answers with :attr:`code` and closes the connection. This is
    Tornado's ``tornado.httputil.HTTPInputError``; the subclasses carry the
    more precise statuses embedtornado answers with.
    """

    code = 400
    reason = "Bad Request"


class RequestURITooLong(HTTPInputError):
    """The request line is longer than ``max_request_line``."""

    code = 414
    reason = "URI Too Long"


class PayloadTooLarge(HTTPInputError):
    """The body (declared or received) is larger than ``max_body_size``."""

    code = 413
    reason = "Content Too Large"


class RequestHeaderFieldsTooLarge(HTTPInputError):
    """The head is over ``max_header_size`` or has more than ``max_header_count`` fields."""

    code = 431
    reason = "Request Header Fields Too Large"


class TransferCodingNotImplemented(HTTPInputError):
    """A transfer coding other than ``chunked`` was used."""

    code = 501
    reason = "Not Implemented"


class HTTPVersionNotSupported(HTTPInputError):
    """A well-formed HTTP version other than 1.0 and 1.1."""

    code = 505
    reason = "HTTP Version Not Supported"


class HTTPOutputError(Exception):
    """The application tried to send an invalid response (Tornado's ``HTTPOutputError``)."""


class HTTP1ConnectionParameters:
    """Settings of one HTTP/1.x connection (Tornado's ``HTTP1ConnectionParameters``).

    :arg no_keep_alive: close the connection after every response.
    :arg chunk_size: largest body piece handed to ``data_received`` (default 64 KiB).
    :arg max_header_size: largest request head (default 64 KiB; 431 when over).
    :arg header_timeout: seconds allowed for a complete request head, counted
        from when the connection becomes idle (default 60; Tornado: 3600).
    :arg max_body_size: largest request body (default 100 MiB; 413 when over).
    :arg body_timeout: seconds allowed to read a whole body (default None:
        no total limit, but a body that stalls for ``header_timeout`` seconds
        between reads is dropped).
    :arg decompress: decode ``Content-Encoding: gzip`` request bodies.
    :arg max_request_line: longest request line (default 8 KiB; 414 when over).
    :arg max_header_count: most header fields (default 100; 431 when over).
    :arg max_write_buffer: bytes buffered for a peer that does not read
        before the server stops answering pipelined requests (default 64 KiB).

    .. note:: embedtornado differs from Tornado 6.6.1: ``header_timeout`` defaults
       to 60 seconds, a stalled body read times out, and the limits beyond
       Tornado's (``max_request_line``, ``max_header_count``,
       ``max_write_buffer``) exist.
    """

    def __init__(
        self,
        no_keep_alive: bool = False,
        chunk_size: int | None = None,
        max_header_size: int | None = None,
        header_timeout: float | None = None,
        max_body_size: int | None = None,
        body_timeout: float | None = None,
        decompress: bool = False,
        max_request_line: int | None = None,
        max_header_count: int | None = None,
        max_write_buffer: int | None = None,
    ) -> None:
        self.no_keep_alive = no_keep_alive
        self.chunk_size = chunk_size or 65536
        self.max_header_size = max_header_size or DEFAULT_MAX_HEADER_SIZE
        self.header_timeout = header_timeout if header_timeout is not None else 60.0
        self.max_body_size = max_body_size if max_body_size is not None else DEFAULT_MAX_BODY_SIZE
        self.body_timeout = body_timeout
        self.decompress = decompress
        self.max_request_line = max_request_line or DEFAULT_MAX_REQUEST_LINE
        self.max_header_count = max_header_count or DEFAULT_MAX_HEADER_COUNT
        self.max_write_buffer = max_write_buffer or 65536
