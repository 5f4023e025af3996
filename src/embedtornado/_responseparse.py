"""An HTTP/1.x response parser for the client: bytes in, events out, no I/O.

Feed it what arrives on the connection; it returns events and raises
`.HTTPInputError` on anything malformed or over a limit::

    p = ResponseParser(method="GET", max_header_size=65536, max_body_size=1 << 20)
    for event in p.feed(b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nhi"):
        print(event)
    # ('head', ResponseStartLine(version='HTTP/1.1', code=200, reason='OK'), <HTTPHeaders>)
    # ('data', b'hi')
    # ('done',)

Events are tuples: ``("head", start_line, headers)`` (once per informational
1xx response too, then once for the final one), ``("data", chunk)`` and
``("done",)``. Call `ResponseParser.feed_eof` when the peer closes: a body
delimited by the close ends there, anything else unfinished is an error.

Body framing follows :rfc:`9112` section 6.3: no body for ``HEAD`` and for
1xx/204/304; ``Transfer-Encoding: chunked``; ``Content-Length``; else the
body runs to the close. A response with both ``Transfer-Encoding`` and
``Content-Length``, a transfer coding other than ``chunked``, conflicting
lengths, or a malformed chunk is rejected. Every part a server controls is
bounded: the head by ``max_header_size``, chunk-size lines and trailers
too, and the body (after gzip decoding, when that is on) by
``max_body_size``.
"""

from __future__ import annotations

import re
import zlib
from typing import Any

from embedtornado._httpdefs import HTTPInputError
from embedtornado.httputil import HTTPHeaders, ResponseStartLine, parse_response_start_line
from embedtornado.util import GzipDecompressor

__all__ = ["ResponseParser"]

_HEAD_END = re.compile(rb"\r?\n\r?\n")
_DIGITS = re.compile(r"[0-9]+")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\r\n]*)?")
_MAX_CHUNK_LINE = 4096
_DECOMPRESS_STEP = 65536

# Parser states.
_HEAD, _LENGTH, _CHUNK_LINE, _CHUNK_DATA, _CHUNK_CRLF, _TRAILER, _CLOSE, _DONE = range(8)


class ResponseParser:
    """Parses one HTTP/1.x response (plus any 1xx responses before it).

    :arg method: the request method (``HEAD`` responses have no body).
    :arg max_header_size: the most bytes of one head, and of the trailers.
    :arg max_body_size: the most body bytes delivered (after decoding).
    :arg decompress: decode ``Content-Encoding: gzip``; the header is then
        removed and kept as ``X-Consumed-Content-Encoding``, as Tornado does.
    """

    def __init__(
        self,
        method: str = "GET",
        max_header_size: int = 65536,
        max_body_size: int = 104857600,
        decompress: bool = True,
    ) -> None:
        self.method = method.upper()
        self.max_header_size = max_header_size
        self.max_body_size = max_body_size
        self.decompress = decompress
        self._buf = bytearray()
        self._state = _HEAD
        self._remaining = 0  # bytes left in the Content-Length body or the chunk
        self._body_size = 0  # body bytes delivered so far (after decoding)
        self._decompressor: GzipDecompressor | None = None
        self.start_line: ResponseStartLine | None = None
        self.headers: HTTPHeaders | None = None
        #: Whether the connection may carry another request afterwards.
        self.keep_alive = False

    @property
    def done(self) -> bool:
        """Whether the final response is complete."""
        return self._state == _DONE

    @property
    def leftover(self) -> bytes:
        """Bytes received after the end of the response (a server misbehaving)."""
        return bytes(self._buf) if self._state == _DONE else b""

    def feed(self, data: bytes) -> list[tuple[Any, ...]]:
        """Take the next bytes; return the events they complete."""
        if self._state == _DONE:
            self._buf += data
            return []
        self._buf += data
        events: list[tuple[Any, ...]] = []
        while self._step(events):
            pass
        return events

    def feed_eof(self) -> list[tuple[Any, ...]]:
        """The peer closed; return the final events or raise if the response is cut short."""
        events: list[tuple[Any, ...]] = []
        if self._state == _CLOSE:
            self._finish(events)
            return events
        if self._state == _DONE:
            return events
        if self._state == _HEAD and not self._buf.strip(b"\r\n") and self.start_line is None:
            raise HTTPInputError("Connection closed before a response arrived")
        raise HTTPInputError("Connection closed in the middle of the response")

    # -- the state machine ---------------------------------------------------

    def _step(self, events: list[tuple[Any, ...]]) -> bool:
        """Make progress if possible; return whether to call again."""
        state = self._state
        buf = self._buf
        if state == _HEAD:
            return self._parse_head(events)
        if state == _LENGTH:
            if not buf:
                return False
            piece = bytes(buf[:self._remaining])
            del buf[:len(piece)]
            self._remaining -= len(piece)
            self._deliver(piece, events)
            if self._remaining == 0:
                self._finish(events)
            return bool(buf) and self._state != _DONE
        if state == _CLOSE:
            if not buf:
                return False
            piece = bytes(buf)
            buf.clear()
            self._deliver(piece, events)
            return False
        if state == _CHUNK_LINE:
            end = buf.find(b"\n")
            if end == -1:
                if len(buf) > _MAX_CHUNK_LINE:
                    raise HTTPInputError("chunk size line too long")
                return False
            if end > _MAX_CHUNK_LINE:
                raise HTTPInputError("chunk size line too long")
            line = bytes(buf[:end])
            del buf[:end + 1]
            if not line.endswith(b"\r"):
                raise HTTPInputError("chunk size line must end in CRLF")
            m = _CHUNK_SIZE.fullmatch(line[:-1])
            if m is None:
                raise HTTPInputError(f"invalid chunk size line {line[:40]!r}")
            size = int(m.group(1), 16)
            if size == 0:
                self._state = _TRAILER
                self._trailer_size = 0
            else:
                if self._body_size + size > self.max_body_size and self._decompressor is None:
                    raise HTTPInputError("chunked body too large")
                self._remaining = size
                self._state = _CHUNK_DATA
            return True
        if state == _CHUNK_DATA:
            if not buf:
                return False
            piece = bytes(buf[:self._remaining])
            del buf[:len(piece)]
            self._remaining -= len(piece)
            self._deliver(piece, events)
            if self._remaining == 0:
                self._state = _CHUNK_CRLF
            return bool(buf)
        if state == _CHUNK_CRLF:
            if len(buf) < 2:
                return False
            if buf[:2] != b"\r\n":
                raise HTTPInputError("chunk data not followed by CRLF")
            del buf[:2]
            self._state = _CHUNK_LINE
            return True
        if state == _TRAILER:
            end = buf.find(b"\n")
            if end == -1:
                if self._trailer_size + len(buf) > self.max_header_size:
                    raise HTTPInputError("trailers too large")
                return False
            line = bytes(buf[:end + 1])
            del buf[:end + 1]
            self._trailer_size += len(line)
            if self._trailer_size > self.max_header_size:
                raise HTTPInputError("trailers too large")
            if line in (b"\r\n", b"\n"):
                self._finish(events)
                return False
            return True
        return False

    def _parse_head(self, events: list[tuple[Any, ...]]) -> bool:
        buf = self._buf
        # Tolerate blank lines before the status line (RFC 9112 section 2.2).
        start = 0
        while start < len(buf) and buf[start] in b"\r\n":
            start += 1
        if start:
            del buf[:start]
        m = _HEAD_END.search(buf)
        if m is None:
            if len(buf) > self.max_header_size:
                raise HTTPInputError("response head too large")
            return False
        if m.start() > self.max_header_size:
            raise HTTPInputError("response head too large")
        head = bytes(buf[:m.start()]).decode("latin1")
        del buf[:m.end()]
        first, _, rest = head.partition("\n")
        start_line = parse_response_start_line(first.removesuffix("\r"))
        headers = HTTPHeaders.parse(rest)
        code = start_line.code
        if 100 <= code < 200:
            if "Content-Length" in headers or "Transfer-Encoding" in headers:
                raise HTTPInputError(f"Response code {code} cannot have body")
            events.append(("head", start_line, headers))
            return True  # the final response follows
        self.start_line, self.headers = start_line, headers
        self._choose_framing(start_line, headers)
        events.append(("head", start_line, headers))
        if self._state == _DONE:
            events.append(("done",))
            return False
        return bool(buf)

    def _choose_framing(self, start_line: ResponseStartLine, headers: HTTPHeaders) -> None:
        connection = {t.strip().lower() for t in headers.get("Connection", "").split(",")}
        if start_line.version == "HTTP/1.1":
            self.keep_alive = "close" not in connection
        else:
            self.keep_alive = "keep-alive" in connection and "close" not in connection
        if (self.decompress and self.method != "HEAD"
                and headers.get("Content-Encoding", "").lower() == "gzip"):
            self._decompressor = GzipDecompressor()
            headers.add("X-Consumed-Content-Encoding", headers["Content-Encoding"])
            del headers["Content-Encoding"]
        te = headers.get_list("Transfer-Encoding")
        cl = headers.get_list("Content-Length")
        code = start_line.code
        if te and cl:
            raise HTTPInputError("Response with both Transfer-Encoding and Content-Length")
        length: int | None = None
        if cl:
            values = {v.strip() for item in cl for v in item.split(",")}
            if len(values) != 1:
                raise HTTPInputError(f"Multiple unequal Content-Lengths: {cl!r}")
            value = values.pop()
            if not _DIGITS.fullmatch(value):
                raise HTTPInputError(f"Only integer Content-Length is allowed: {value!r}")
            length = int(value)
        chunked = False
        if te:
            codings = [c.strip().lower() for item in te for c in item.split(",")]
            if codings != ["chunked"]:
                raise HTTPInputError(f"Unsupported Transfer-Encoding {','.join(te)!r}")
            chunked = True
        if self.method == "HEAD" or code in (204, 304):
            if code == 204 and (chunked or (length is not None and length != 0)):
                raise HTTPInputError(f"Response with code {code} should not have body")
            self._state = _DONE
            return
        if chunked:
            self._state = _CHUNK_LINE
        elif length is not None:
            if length > self.max_body_size:
                raise HTTPInputError("Content-Length too long")
            self._remaining = length
            self._state = _LENGTH if length else _DONE
            if not length:
                self._check_decompressor_finished()
        else:
            self._state = _CLOSE
            self.keep_alive = False

    def _deliver(self, piece: bytes, events: list[tuple[Any, ...]]) -> None:
        if not piece:
            return
        if self._decompressor is None:
            self._body_size += len(piece)
            if self._body_size > self.max_body_size:
                raise HTTPInputError("response body too large")
            events.append(("data", piece))
            return
        d = self._decompressor
        try:
            while piece:
                out = d.decompress(piece, _DECOMPRESS_STEP)
                piece = d.unconsumed_tail
                if out:
                    self._body_size += len(out)
                    if self._body_size > self.max_body_size:
                        raise HTTPInputError("decompressed response body too large")
                    events.append(("data", out))
        except zlib.error as e:
            raise HTTPInputError(f"invalid gzip data: {e}") from None

    def _check_decompressor_finished(self) -> None:
        if self._decompressor is not None:
            try:
                self._decompressor.flush()
            except (zlib.error, ValueError) as e:
                raise HTTPInputError(f"truncated gzip data: {e}") from None

    def _finish(self, events: list[tuple[Any, ...]]) -> None:
        self._check_decompressor_finished()
        self._state = _DONE
        events.append(("done",))
