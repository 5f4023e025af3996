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
