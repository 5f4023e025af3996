"""RFC 6455 framing and RFC 7692 permessage-deflate: `WebSocketProtocol13`.

Shared by the server handler (``embedtornado.websocket``) and the client
(``embedtornado.websocket._client``); see the package docstring.
"""

from __future__ import annotations

import asyncio
import base64
import codecs
import hashlib
import logging
import os
import sys
import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from embedtornado import escape, httputil, web
from embedtornado.util import _websocket_mask

if TYPE_CHECKING:
    from embedtornado.websocket import WebSocketHandler

app_log = logging.getLogger("embedtornado.application")
gen_log = logging.getLogger("embedtornado.general")

_default_max_message_size = 10 * 1024 * 1024
#: Output a connection may queue (beyond what the socket took) before it is
#: dropped: a peer that stops reading cannot make us buffer without bound.
_default_max_write_buffer_size = 16 * 1024 * 1024
#: Unprocessed input kept while a message handler is busy; then reading pauses.
_READ_HIGH_WATER = 256 * 1024
#: The transport's write high-water mark: above it, write futures wait.
_WRITE_HIGH_WATER = 64 * 1024
#: Seconds to wait for the peer's close frame before dropping the connection.
_CLOSE_TIMEOUT = 5.0
#: Largest response head the client accepts in the handshake.
_MAX_RESPONSE_HEAD = 64 * 1024
#: Largest body of a non-101 handshake answer the client reads (to hand it
#: to the `.HTTPClientError` it raises); a longer one is a `WebSocketError`.
_MAX_REFUSAL_BODY = 1024 * 1024
#: Frames handled back to back before giving the loop a turn, counted as in
#: Tornado 6.6.1: each frame costs ``_FRAME_YIELD_COST`` plus its wire size,
#: and the loop gets a turn whenever ``_YIELD_THRESHOLD`` is reached, so a
#: flood of small frames that arrived at once cannot starve other work.
_YIELD_THRESHOLD = 256 * 1024
_FRAME_YIELD_COST = 1024

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

# opcodes
_OP_CONT = 0x0
_OP_TEXT = 0x1
_OP_BINARY = 0x2
_OP_CLOSE = 0x8
_OP_PING = 0x9
_OP_PONG = 0xA

# close codes used for protocol failures (RFC 6455 section 7.4.1)
_CLOSE_PROTOCOL_ERROR = 1002
_CLOSE_INVALID_DATA = 1007
_CLOSE_TOO_BIG = 1009

_utf8_decoder = codecs.getincrementaldecoder("utf-8")


def _valid_close_code(code: int) -> bool:
    """Close codes a peer may send (RFC 6455 7.4, IANA registry; 3000-4999 private)."""
    return (1000 <= code <= 1003 or 1007 <= code <= 1014) or 3000 <= code <= 4999


class WebSocketError(Exception):
    pass


class WebSocketClosedError(WebSocketError):
    """Raised by operations on a closed connection.

    .. versionadded:: 3.2
    """


class _DecompressTooLargeError(Exception):
    pass


class _ProtocolFailure(Exception):
    """Raised inside the frame parser: fail the connection with *code*."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason


class _WebSocketParams:
    def __init__(
        self,
        ping_interval: float | None = None,
        ping_timeout: float | None = None,
        max_message_size: int = _default_max_message_size,
        compression_options: dict[str, Any] | None = None,
        max_write_buffer_size: int = _default_max_write_buffer_size,
    ) -> None:
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.max_message_size = max_message_size
        self.compression_options = compression_options
        self.max_write_buffer_size = max_write_buffer_size


# --------------------------------------------------------------------------- deflate


class _PerMessageDeflateCompressor:
    """Compresses each outgoing message (RFC 7692 section 7.2.1)."""

    def __init__(self, persistent: bool, max_wbits: int | None,
                 compression_options: dict[str, Any] | None = None) -> None:
        if max_wbits is None:
            max_wbits = zlib.MAX_WBITS
        if not (8 <= max_wbits <= zlib.MAX_WBITS):
            raise ValueError("Invalid max_wbits value %r; allowed range 8-%d"
                             % (max_wbits, zlib.MAX_WBITS))
        opts = compression_options or {}
        self._compression_level = opts.get("compression_level", web.GZipContentEncoding.GZIP_LEVEL)
        if max_wbits == 8:
            # zlib cannot deflate with a 256-byte window. Stored blocks (level
            # 0) hold no back-references, so they fit any window the peer has.
            max_wbits = 9
            self._compression_level = 0
        self._max_wbits = max_wbits
        self._mem_level = opts.get("mem_level", 8)
        self._compressor: Any = self._create_compressor() if persistent else None

    def _create_compressor(self) -> Any:
        return zlib.compressobj(self._compression_level, zlib.DEFLATED, -self._max_wbits,
                                self._mem_level)

    def compress(self, data: bytes) -> bytes:
        compressor = self._compressor or self._create_compressor()
        data = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
        # A sync flush ends with an empty stored block, which the receiver adds back.
        return data[:-4]


class _PerMessageDeflateDecompressor:
    """Inflates incoming messages, never to more than *max_message_size* bytes."""

    def __init__(self, persistent: bool, max_wbits: int | None, max_message_size: int,
                 compression_options: dict[str, Any] | None = None) -> None:
        self._max_message_size = max_message_size
        if max_wbits is None:
            max_wbits = zlib.MAX_WBITS
        if not (8 <= max_wbits <= zlib.MAX_WBITS):
            raise ValueError("Invalid max_wbits value %r; allowed range 8-%d"
                             % (max_wbits, zlib.MAX_WBITS))
        # zlib inflates a raw 8-bit window as 9 bits: more than enough.
        self._max_wbits = max(max_wbits, 9)
        self._decompressor: Any = self._create_decompressor() if persistent else None

    def _create_decompressor(self) -> Any:
        return zlib.decompressobj(-self._max_wbits)

    def decompress(self, data: bytes) -> bytes:
        decompressor = self._decompressor or self._create_decompressor()
        result = decompressor.decompress(data + b"\x00\x00\xff\xff", self._max_message_size)
        if decompressor.unconsumed_tail:
            raise _DecompressTooLargeError()
        return result


def _parse_extensions_header(headers: httputil.HTTPHeaders) -> list[tuple[str, dict[str, str]]]:
    value = headers.get("Sec-WebSocket-Extensions", "")
    if not value:
        return []
    return [httputil._parse_header(e.strip()) for e in value.split(",")]


def _compressor_options(side: str, agreed: dict[str, Any],
                        compression_options: dict[str, Any] | None) -> dict[str, Any]:
    wbits = agreed.get(side + "_max_window_bits")
    return {
        "persistent": (side + "_no_context_takeover") not in agreed,
        "max_wbits": zlib.MAX_WBITS if wbits is None else int(wbits),
        "compression_options": compression_options,
    }


_DEFLATE_PARAMS = frozenset({"server_no_context_takeover", "client_no_context_takeover",
                             "server_max_window_bits", "client_max_window_bits"})


def _check_deflate_params(params: dict[str, Any], server: bool) -> None:
    """Reject unknown or malformed permessage-deflate parameters (RFC 7692 section 7)."""
    for key, value in params.items():
        if key not in _DEFLATE_PARAMS:
            raise ValueError("unsupported compression parameter %r" % key)
        if key.endswith("_no_context_takeover"):
            if value is not None:
                raise ValueError("%s takes no value" % key)
        elif value is None:
            # A client may offer client_max_window_bits without a value;
            # nothing else may leave it out.
            if not (server and key == "client_max_window_bits"):
                raise ValueError("%s needs a value" % key)
        elif not (value.isdigit() and len(value) <= 2 and 8 <= int(value) <= 15):
            raise ValueError("invalid %s %r" % (key, value))


# --------------------------------------------------------------------------- protocol


class WebSocketProtocol:
    """Base class for WebSocket protocol versions (Tornado's name).

    ``handler`` is the `WebSocketHandler` or `WebSocketClientConnection`
    this connection reports to; ``stream`` is its transport once connected.
    """

    def __init__(self, handler: Any) -> None:
        self.handler = handler
        self.stream: Any = None
        self.client_terminated = False
        self.server_terminated = False

    def _run_callback(self, callback: Callable[..., Any], *args: Any,
                      **kwargs: Any) -> asyncio.Future | None:
        """Call *callback*; log and abort on error.

        Returns None for a plain return value, else a future that resolves
        (never with an error) when the returned awaitable finishes.
        """
        try:
            result = callback(*args, **kwargs)
        except (Exception, asyncio.CancelledError):
            self.handler.log_exception(*sys.exc_info())
            self._abort()
            return None
        if result is None:
            return None
        done: asyncio.Future = asyncio.get_running_loop().create_future()

        def on_done(f: asyncio.Future) -> None:
            try:
                f.result()
            except (Exception, asyncio.CancelledError):
                self.handler.log_exception(*sys.exc_info())
                self._abort()
            if not done.done():
                done.set_result(None)

        try:
            fut = asyncio.ensure_future(result)
        except TypeError:
            # Not awaitable: Tornado would fail the same way inside its coroutine.
            self.handler.log_exception(*sys.exc_info())
            self._abort()
            return None
        fut.add_done_callback(on_done)
        return done

    def on_connection_close(self) -> None:
        stream = self.stream
        if stream is not None and stream.is_closing():
            return  # closing already (after the closing handshake): let it finish
        self._abort()

    def _abort(self) -> None:
        raise NotImplementedError()

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        raise NotImplementedError()

    def is_closing(self) -> bool:
        raise NotImplementedError()


class WebSocketProtocol13(WebSocketProtocol, asyncio.Protocol):
    """RFC 6455 (version 13) over an asyncio transport, for both ends.

    :arg handler: receives ``on_message``, ``on_ping``, ``on_pong``,
        ``on_ws_connection_close`` and ``log_exception`` calls.
    :arg mask_outgoing: True for a client (its frames are masked, and frames
        it receives must not be); False for a server (the opposite).
    :arg params: a ``_WebSocketParams``.
    """

    FIN = 0x80
    RSV1 = 0x40
    RSV2 = 0x20
    RSV3 = 0x10
    RSV_MASK = RSV1 | RSV2 | RSV3
    OPCODE_MASK = 0x0F

    def __init__(self, handler: Any, mask_outgoing: bool, params: _WebSocketParams) -> None:
        WebSocketProtocol.__init__(self, handler)
        self.mask_outgoing = mask_outgoing
        self.params = params
        self._loop: Any = None
        self._selected_subprotocol: str | None = None
        self._compression_options = params.compression_options
        self._compressor: _PerMessageDeflateCompressor | None = None
        self._decompressor: _PerMessageDeflateDecompressor | None = None
        self._buf = bytearray()
        self._pos = 0
        # A fragmented message in progress: opcode (None when there is none),
        # its pieces, their size, whether it is compressed, and the UTF-8
        # decoder that checks a text message as its fragments arrive.
        self._frag_opcode: int | None = None
        self._frag_parts: list[Any] = []
        self._frag_size = 0
        self._frag_compressed = False
        self._frag_decoder: Any = None
        # UTF-8 check of a text frame still arriving: its position in the
        # buffer (-1: none), payload bytes checked, and the decoder doing it.
        self._partial_pos = -1
        self._partial_done = 0
        self._partial_decoder: Any = None
        self._ready = False  # messages are delivered once open() has finished
        self._busy = False  # a message callback's awaitable is pending
        self._reading_paused = False
        self._writing_paused = False
        self._drain_waiters: list[asyncio.Future] | None = None
        self._done_future: asyncio.Future | None = None
        self._connection_lost = False
        self._close_timer: Any = None
        self._ping_timer: Any = None
        self._pong_timer: Any = None
        self._received_pong = False
        self._last_ping = 0.0
        # The pong being written while the transport is above its mark, and
        # the newest ping received meanwhile (the only one then answered).
        self._pong_future: asyncio.Future | None = None
        self._pending_pong: bytes | None = None
        self._work = 0  # see _YIELD_THRESHOLD
        self._on_close_sent = False
        self._message_bytes_in = 0
        self._message_bytes_out = 0
        self._wire_bytes_in = 0
        self._wire_bytes_out = 0
        self.close_code: int | None = None
        self.close_reason: str | None = None

    # --- Tornado's attributes -----------------------------------------------------

    @property
    def selected_subprotocol(self) -> str | None:
        return self._selected_subprotocol

    @selected_subprotocol.setter
    def selected_subprotocol(self, value: str | None) -> None:
        self._selected_subprotocol = value

    @staticmethod
    def compute_accept_value(key: str | bytes) -> str:
        """The ``Sec-WebSocket-Accept`` value for a ``Sec-WebSocket-Key``."""
        digest = hashlib.sha1(escape.utf8(key) + _GUID).digest()
        return base64.b64encode(digest).decode("ascii")

    # --- handshake (server) ---------------------------------------------------------

    async def accept_connection(self, handler: WebSocketHandler) -> None:
        headers = handler.request.headers
        if not all(headers.get(f) for f in ("Host", "Sec-Websocket-Key",
                                            "Sec-Websocket-Version")):
            handler.set_status(400)
            log_msg = "Missing/Invalid WebSocket headers"
            handler.finish(log_msg)
            gen_log.debug(log_msg)
            return
        try:
            await self._accept_connection(handler)
        except asyncio.CancelledError:
            self._abort()
        except ValueError:
            gen_log.debug("Malformed WebSocket request received", exc_info=True)
            self._abort()

    async def _accept_connection(self, handler: WebSocketHandler) -> None:
        headers = handler.request.headers
        value = headers.get("Sec-WebSocket-Protocol")
        subprotocols = [s.strip() for s in value.split(",")] if value else []
        self.selected_subprotocol = handler.select_subprotocol(subprotocols)
        if self.selected_subprotocol:
            if self.selected_subprotocol not in subprotocols:
                raise ValueError("select_subprotocol returned %r, which the client did not "
                                 "offer" % self.selected_subprotocol)
            handler.set_header("Sec-WebSocket-Protocol", self.selected_subprotocol)

        if self._compression_options is not None:
            for name, params in _parse_extensions_header(headers):
                if name != "permessage-deflate":
                    continue
                try:
                    _check_deflate_params(params, server=True)
                except ValueError:
                    # RFC 7692 5.1: decline an offer we cannot accept; try the next.
                    continue
                self._create_compressors("server", params, self._compression_options)
                if "client_max_window_bits" in params and params["client_max_window_bits"] is None:
                    del params["client_max_window_bits"]
                handler.set_header("Sec-WebSocket-Extensions",
                                   httputil._encode_header("permessage-deflate", params))
                break

        handler.clear_header("Content-Type")
        handler.set_status(101)
        handler.set_header("Upgrade", "websocket")
        handler.set_header("Connection", "Upgrade")
        handler.set_header("Sec-WebSocket-Accept",
                           self.compute_accept_value(headers["Sec-Websocket-Key"]))
        handler.finish()
        handler._detach_stream(self)  # connection_made() runs here

        self.start_pinging()
        try:
            result = handler.open(*handler.open_args, **handler.open_kwargs)
            if result is not None:
                await result
        except Exception:
            handler.log_exception(*sys.exc_info())
            self._abort()
            return
        self._set_ready()

    def _create_compressors(self, side: str, agreed: dict[str, Any],
                            compression_options: dict[str, Any] | None = None) -> None:
        for key in agreed:
            if key not in _DEFLATE_PARAMS:
                raise ValueError("unsupported compression parameter %r" % key)
        other = "client" if side == "server" else "server"
        self._compressor = _PerMessageDeflateCompressor(
            **_compressor_options(side, agreed, compression_options))
        self._decompressor = _PerMessageDeflateDecompressor(
            max_message_size=self.params.max_message_size,
            **_compressor_options(other, agreed, compression_options))

    def _process_server_headers(self, key: str | bytes, headers: httputil.HTTPHeaders) -> None:
        """Check a 101 response to our handshake (client side); raises `WebSocketError`."""
        if headers.get("Upgrade", "").lower() != "websocket":
            raise WebSocketError("handshake response has no 'Upgrade: websocket'")
        if "upgrade" not in [s.strip().lower() for s in headers.get("Connection", "").split(",")]:
            raise WebSocketError("handshake response has no 'Connection: Upgrade'")
        if headers.get("Sec-Websocket-Accept") != self.compute_accept_value(key):
            raise WebSocketError("handshake response has a wrong Sec-WebSocket-Accept")
        for name, params in _parse_extensions_header(headers):
            if name == "permessage-deflate" and self._compression_options is not None \
                    and self._compressor is None:
                try:
                    _check_deflate_params(params, server=False)
                except ValueError as e:
                    raise WebSocketError("bad permessage-deflate response: %s" % e) from None
                self._create_compressors("client", params)
            else:
                raise WebSocketError("unsupported extension %r" % ((name, params),))
        self.selected_subprotocol = headers.get("Sec-WebSocket-Protocol", None)

    # --- asyncio protocol -------------------------------------------------------------

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        self.stream = transport
        self._loop = asyncio.get_running_loop()
        transport.set_write_buffer_limits(high=_WRITE_HIGH_WATER)

    def data_received(self, data: bytes) -> None:
        if self.client_terminated:
            return  # after the peer's close frame nothing more counts
        self._buf += data
        self._wire_bytes_in += len(data)
        if self._ready and not self._busy:
            self._process()
        elif (not self._reading_paused and len(self._buf) - self._pos > _READ_HIGH_WATER
              and not self._connection_lost):
            self._reading_paused = True
            self.stream.pause_reading()

    def eof_received(self) -> bool:
        # The peer will send nothing more: a clean close already happened
        # (or never will); either way the connection is over.
        return False

    def connection_lost(self, exc: BaseException | None) -> None:
        self._connection_lost = True
        self.client_terminated = True
        self.server_terminated = True
        self._cancel_timers()
        self._buf = bytearray()
        self._pos = 0
        waiters = self._drain_waiters
        if waiters:
            self._drain_waiters = None
            for f in waiters:
                if not f.done():
                    f.set_exception(WebSocketClosedError())
                    f.exception()  # the writer may not be waiting for it
        self._notify_closed()

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        waiters = self._drain_waiters
        if waiters:
            self._drain_waiters = None
            for f in waiters:
                if not f.done():
                    f.set_result(None)

    # --- reading ------------------------------------------------------------------------

    def _set_ready(self) -> None:
        """open() finished: deliver what arrived meanwhile, and everything after."""
        if self._ready:
            return
        self._ready = True
        if not self.client_terminated:
            self._process()

    def _process(self) -> None:
        """Parse and deliver frames until input runs out or a callback is busy.

        After every ``_YIELD_THRESHOLD`` of work the rest waits for the next
        loop iteration (as `_busy`, so order and read pausing are kept).
        """
        try:
            while not self._busy and not self.client_terminated:
                start = self._pos
                if not self._next_frame():
                    break
                self._work += _FRAME_YIELD_COST + self._pos - start
                if self._work >= _YIELD_THRESHOLD:
                    self._work = 0
                    self._busy = True
                    self._loop.call_soon(self._resume_after_yield)
                    break
        except _ProtocolFailure as e:
            self._fail(e.code, e.reason)
            return
        if self._connection_lost:
            return
        buf = self._buf
        if self._pos:
            if self._pos >= len(buf):
                buf.clear()
                self._pos = 0
            elif self._pos > 65536:
                del buf[: self._pos]
                self._pos = 0
                self._partial_pos = -1  # positions moved: check that frame afresh
        if self._reading_paused and not self._busy and not self.client_terminated:
            self._reading_paused = False
            self.stream.resume_reading()

    def _next_frame(self) -> bool:
        """Handle one frame if it is complete; False when more bytes are needed."""
        buf = self._buf
        pos = self._pos
        avail = len(buf) - pos
        if avail < 2:
            return False
        b0 = buf[pos]
        b1 = buf[pos + 1]
        opcode = b0 & 0x0F
        length = b1 & 0x7F
        hlen = 2
        if length == 126:
            if avail < 4:
                return False
            length = (buf[pos + 2] << 8) | buf[pos + 3]
            hlen = 4
            if length < 126:
                raise _ProtocolFailure(_CLOSE_PROTOCOL_ERROR, "non-minimal frame length")
        elif length == 127:
            if avail < 10:
                return False
            length = int.from_bytes(buf[pos + 2: pos + 10], "big")
            hlen = 10
            if length >> 63:
                raise _ProtocolFailure(_CLOSE_PROTOCOL_ERROR, "frame length has the high bit")
            if length < 65536:
                raise _ProtocolFailure(_CLOSE_PROTOCOL_ERROR, "non-minimal frame length")
        # Everything that can be judged from the header is judged now, before
        # the payload arrives (so an oversized frame is refused, not buffered).
        masked = b1 & 0x80
        if masked:
            if self.mask_outgoing:
                raise _ProtocolFailure(_CLOSE_PROTOCOL_ERROR, "masked frame from a server")
        elif not self.mask_outgoing:
            raise _ProtocolFailure(_CLOSE_PROTOCOL_ERROR, "unmasked frame from a client")
        fin = b0 & 0x80
        rsv = b0 & 0x70
        compressed = False
        if opcode & 0x8:
            if opcode > _OP_PONG:
                raise _ProtocolFailure(_CLOSE_PROTOCOL_ERROR, "unknown opcode %d" % opcode)
            if not fin:
                raise _ProtocolFailure(_CLOSE_PROTOCOL_ERROR, "fragmented control frame")
            if length > 125:
                raise _ProtocolFailure(_CLOSE_PROTOCOL_ERROR, "control frame too long")
            if rsv:
                raise _ProtocolFailure(_CLOSE_PROTOCOL_ERROR, "reserved bits set")
        else:
            if opcode == _OP_CONT:
                if self._frag_opcode is None:
                    raise _ProtocolFailure(_CLOSE_PROTOCOL_ERROR, "continuation without start")
                if rsv:
                    raise _ProtocolFailure(_CLOSE_PROTOCOL_ERROR, "reserved bits set")
            elif opcode > _OP_BINARY:
                raise _ProtocolFailure(_CLOSE_PROTOCOL_ERROR, "unknown opcode %d" % opcode)
            else:
                if self._frag_opcode is not None:
                    raise _ProtocolFailure(_CLOSE_PROTOCOL_ERROR,
                                           "new message inside a fragmented one")
                if rsv == self.RSV1 and self._decompressor is not None:
                    compressed = True
                elif rsv:
                    raise _ProtocolFailure(_CLOSE_PROTOCOL_ERROR, "reserved bits set")
            if self._frag_size + length > self.params.max_message_size:
                raise _ProtocolFailure(_CLOSE_TOO_BIG, "message too big")
        start = pos + hlen + (4 if masked else 0)
        end = start + length
        if len(buf) < end:
            if ((opcode == _OP_TEXT and not compressed)
                    or (opcode == _OP_CONT and self._frag_decoder is not None)):
                self._check_partial_text(pos, start, masked, opcode)
            if self._reading_paused:
                # Need the rest of this frame: read on even though we are busy.
                self._reading_paused = False
                self.stream.resume_reading()
            return False
        if masked:
            # Both wsmask twins take any byte buffer for the data.
            payload = _websocket_mask(bytes(buf[start - 4: start]),
                                      buf[start:end])  # type: ignore[arg-type]
        else:
            payload = bytes(buf[start:end])
        self._pos = end
        self._partial_pos = -1
        if opcode & 0x8:
            self._on_control(opcode, payload)
        elif fin and opcode != _OP_CONT:
            self._on_message(opcode, payload, compressed)
        else:
            self._on_fragment(opcode, payload, compressed, fin)
        return True

    def _check_partial_text(self, pos: int, start: int, masked: int, opcode: int) -> None:
        """Check the UTF-8 of a text frame that has not fully arrived yet.

        A peer sending invalid text slowly is failed at the bad byte, not when
        its frame is complete (Autobahn 6.4.3/6.4.4). Each byte is checked once.
        """
        buf = self._buf
        if self._partial_pos != pos:
            self._partial_pos = pos
            self._partial_done = 0
            decoder = _utf8_decoder()
            if opcode == _OP_CONT:
                decoder.setstate(self._frag_decoder.getstate())
            self._partial_decoder = decoder
        have = len(buf) - start
        done = self._partial_done
        if have <= done:
            return
        chunk = bytes(buf[start + done: start + have])
        if masked:
            k = done & 3
            mask = bytes(buf[start - 4: start])
            chunk = _websocket_mask(mask[k:] + mask[:k], chunk)
        self._partial_done = have
        try:
            self._partial_decoder.decode(chunk, False)
        except UnicodeDecodeError:
            raise _ProtocolFailure(_CLOSE_INVALID_DATA, "invalid UTF-8 in text") from None

    def _on_fragment(self, opcode: int, payload: bytes, compressed: bool, fin: int) -> None:
        if opcode != _OP_CONT:  # first fragment
            self._frag_opcode = opcode
            self._frag_compressed = compressed
            self._frag_decoder = (_utf8_decoder() if opcode == _OP_TEXT and not compressed
                                  else None)
            self._frag_parts = []
            self._frag_size = 0
        self._frag_size += len(payload)
        decoder = self._frag_decoder
        if decoder is not None:
            # Check text as it arrives: invalid UTF-8 fails the connection at
            # the first bad fragment, not at the end of the message.
            try:
                self._frag_parts.append(decoder.decode(payload, bool(fin)))
            except UnicodeDecodeError:
                raise _ProtocolFailure(_CLOSE_INVALID_DATA, "invalid UTF-8 in text") from None
        else:
            self._frag_parts.append(payload)
        if not fin:
            return
        opcode = self._frag_opcode  # type: ignore[assignment]
        parts = self._frag_parts
        self._frag_opcode = None
        self._frag_parts = []
        self._frag_size = 0
        self._frag_decoder = None
        if decoder is not None:
            self._message_bytes_in += sum(len(p) for p in parts)
            self._dispatch_message("".join(parts))
        else:
            self._on_message(opcode, b"".join(parts), self._frag_compressed)

    def _on_message(self, opcode: int, data: bytes, compressed: bool) -> None:
        if compressed:
            assert self._decompressor is not None
            try:
                data = self._decompressor.decompress(data)
            except _DecompressTooLargeError:
                raise _ProtocolFailure(_CLOSE_TOO_BIG,
                                       "message too big after decompression") from None
            except zlib.error:
                raise _ProtocolFailure(_CLOSE_INVALID_DATA, "bad deflate data") from None
        self._message_bytes_in += len(data)
        if opcode == _OP_TEXT:
            try:
                message: str | bytes = data.decode("utf-8")
            except UnicodeDecodeError:
                raise _ProtocolFailure(_CLOSE_INVALID_DATA, "invalid UTF-8 in text") from None
        else:
            message = data
        self._dispatch_message(message)

    def _dispatch_message(self, message: str | bytes) -> None:
        future = self._run_callback(self.handler.on_message, message)
        if future is not None:
            self._wait_for(future)

    def _wait_for(self, future: asyncio.Future) -> None:
        self._busy = True
        future.add_done_callback(self._callback_done)

    def _callback_done(self, future: asyncio.Future) -> None:
        self._busy = False
        if not self.client_terminated and not self._connection_lost:
            self._process()

    def _resume_after_yield(self) -> None:
        self._busy = False
        if not self.client_terminated and not self._connection_lost:
            self._process()

    def _on_control(self, opcode: int, data: bytes) -> None:
        if opcode == _OP_CLOSE:
            if len(data) == 1:
                raise _ProtocolFailure(_CLOSE_PROTOCOL_ERROR, "close frame with a 1-byte body")
            if len(data) >= 2:
                code = (data[0] << 8) | data[1]
                if not _valid_close_code(code):
                    raise _ProtocolFailure(_CLOSE_PROTOCOL_ERROR, "invalid close code %d" % code)
                try:
                    reason = data[2:].decode("utf-8")
                except UnicodeDecodeError:
                    raise _ProtocolFailure(_CLOSE_INVALID_DATA,
                                           "invalid UTF-8 in close reason") from None
                self.close_code = code
                if len(data) > 2:
                    self.close_reason = reason
            self.client_terminated = True
            self.close(self.close_code)
            self._notify_closed()
        elif opcode == _OP_PING:
            self._send_pong(data)
            self._run_callback(self.handler.on_ping, data)
        else:  # pong
            self._received_pong = True
            future = self._run_callback(self.handler.on_pong, data)
            if future is not None:
                self._wait_for(future)

    def _fail(self, code: int, reason: str) -> None:
        """Fail the connection (RFC 6455 7.1.7): send a close frame with *code*, then close."""
        gen_log.debug("WebSocket protocol error from %s: %s (closing with %d)",
                      self._peer(), reason, code)
        self.client_terminated = True
        self._frag_opcode = None
        self._frag_parts = []
        self.close(code, reason)

    def _peer(self) -> Any:
        if self.stream is None:
            return None
        return self.stream.get_extra_info("peername")

    def _notify_closed(self) -> None:
        if self._on_close_sent:
            return
        self._on_close_sent = True
        try:
            self.handler.on_ws_connection_close(self.close_code, self.close_reason)
        except Exception:
            self.handler.log_exception(*sys.exc_info())

    # --- writing ------------------------------------------------------------------------

    def _write_frame(self, fin: bool, opcode: int, data: bytes, flags: int = 0) -> asyncio.Future:
        n = len(data)
        if opcode & 0x8:
            if not fin:
                raise ValueError("control frames may not be fragmented")
            if n > 125:
                raise ValueError("control frame payloads may not exceed 125 bytes")
        stream = self.stream
        if stream is None or self._connection_lost or stream.is_closing():
            raise WebSocketClosedError()
        b0 = (0x80 if fin else 0) | opcode | flags
        mask_bit = 0x80 if self.mask_outgoing else 0
        if n < 126:
            header = bytes((b0, n | mask_bit))
        elif n <= 0xFFFF:
            header = bytes((b0, 126 | mask_bit, n >> 8, n & 0xFF))
        else:
            header = bytes((b0, 127 | mask_bit)) + n.to_bytes(8, "big")
        frame: bytes | None
        if self.mask_outgoing:
            mask = os.urandom(4)
            frame = header + mask + _websocket_mask(mask, data)
        else:
            frame = header + data if n < 4096 else None
        if frame is not None:
            stream.write(frame)
            self._wire_bytes_out += len(frame)
        else:
            stream.writelines((header, data))
            self._wire_bytes_out += len(header) + n
        if stream.get_write_buffer_size() > self.params.max_write_buffer_size:
            gen_log.info("WebSocket peer %s is not reading; dropping the connection "
                         "(more than %d bytes of output queued)", self._peer(),
                         self.params.max_write_buffer_size)
            self._abort()
            raise WebSocketClosedError()
        if self._writing_paused:
            f = self._loop.create_future()
            if self._drain_waiters is None:
                self._drain_waiters = [f]
            else:
                self._drain_waiters.append(f)
            return f
        f = self._done_future
        if f is None:
            f = self._done_future = self._loop.create_future()
            f.set_result(None)
        return f

    def write_message(self, message: str | bytes | dict[str, Any],
                      binary: bool = False) -> asyncio.Future:
        """Send one message; the future resolves once it is handed to the socket."""
        opcode = _OP_BINARY if binary else _OP_TEXT
        if isinstance(message, dict):
            message = escape.json_encode(message)
        data = escape.utf8(message)
        if not isinstance(data, bytes):
            raise TypeError("Expected bytes, unicode, or None; got %r" % type(message))
        self._message_bytes_out += len(data)
        flags = 0
        if self._compressor is not None:
            data = self._compressor.compress(data)
            flags = self.RSV1
        return self._write_frame(True, opcode, data, flags)

    def write_ping(self, data: bytes) -> None:
        """Send a ping frame."""
        assert isinstance(data, bytes)
        self._write_frame(True, _OP_PING, data)

    def _send_pong(self, data: bytes) -> None:
        # As Tornado 6.6.1 does (RFC 6455 5.5.3 allows it): while a pong is
        # still waiting for the transport, remember only the newest ping and
        # answer it once that pong is out, so a peer that pings faster than it
        # reads cannot pile pongs up in our output.
        pending = self._pong_future
        if pending is not None and not pending.done():
            self._pending_pong = data
            return
        self._pending_pong = None
        if self.server_terminated:
            return
        try:
            f = self._write_frame(True, _OP_PONG, data)
        except WebSocketClosedError:
            self._abort()
            return
        if f.done():
            self._pong_future = None
        else:
            self._pong_future = f
            f.add_done_callback(self._on_pong_sent)

    def _on_pong_sent(self, future: asyncio.Future) -> None:
        if self._pong_future is future:
            self._pong_future = None
        if future.cancelled() or future.exception() is not None:
            self._pending_pong = None  # the connection is gone
            return
        data = self._pending_pong
        if data is not None:
            self._pending_pong = None
            self._send_pong(data)

    # --- closing ------------------------------------------------------------------------

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Start (or finish) the closing handshake."""
        if not self.server_terminated:
            stream = self.stream
            if stream is not None and not self._connection_lost and not stream.is_closing():
                if code is None and reason is not None:
                    code = 1000  # normal closure
                payload = b"" if code is None else code.to_bytes(2, "big")
                if reason is not None:
                    payload += escape.utf8(reason)
                    if len(payload) > 125:
                        payload = payload[:125]
                try:
                    self._write_frame(True, _OP_CLOSE, payload)
                except WebSocketClosedError:
                    self._abort()
            self.server_terminated = True
        if self.client_terminated:
            if self._close_timer is not None:
                self._close_timer.cancel()
                self._close_timer = None
            if self.stream is not None and not self.stream.is_closing():
                self.stream.close()  # after the queued output is sent
        elif self._close_timer is None and self._loop is not None:
            self._close_timer = self._loop.call_later(_CLOSE_TIMEOUT, self._abort)
        self._cancel_ping()

    def _abort(self) -> None:
        """Drop the connection now, without a closing handshake."""
        self.client_terminated = True
        self.server_terminated = True
        if self.stream is not None and not self._connection_lost:
            self.stream.abort()
        self._cancel_timers()

    def is_closing(self) -> bool:
        """True once either side started closing or the connection is gone."""
        return (self.stream is None or self._connection_lost or self.stream.is_closing()
                or self.client_terminated or self.server_terminated)

    def set_nodelay(self, x: bool) -> None:
        import socket

        sock = self.stream.get_extra_info("socket") if self.stream is not None else None
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1 if x else 0)
            except OSError:
                pass

    def _cancel_timers(self) -> None:
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        self._cancel_ping()

    # --- pings --------------------------------------------------------------------------

    @property
    def ping_interval(self) -> float:
        interval = self.params.ping_interval
        return interval if interval is not None else 0

    @property
    def ping_timeout(self) -> float:
        timeout = self.params.ping_timeout
        if timeout is not None:
            if self.ping_interval and timeout > self.ping_interval:
                gen_log.warning(
                    "The websocket_ping_timeout (%s) cannot be longer than the "
                    "websocket_ping_interval (%s).\nSetting websocket_ping_timeout=%s",
                    timeout, self.ping_interval, self.ping_interval)
                return self.ping_interval
            return timeout
        return self.ping_interval

    def start_pinging(self) -> None:
        """Send a ping every ``ping_interval`` seconds (when it is positive)."""
        if self._ping_timer is None and self.ping_interval > 0 and self._loop is not None:
            self._ping_timer = self._loop.call_later(self.ping_interval, self._periodic_ping)

    @staticmethod
    def ping_sleep_time(*, last_ping_time: float, interval: float, now: float) -> float:
        """Seconds until the next ping is due."""
        return max(0, last_ping_time + interval - now)

    def _periodic_ping(self) -> None:
        self._ping_timer = None
        if self.is_closing():
            return
        self._received_pong = False
        self._last_ping = self._loop.time()
        try:
            self.write_ping(b"")
        except WebSocketClosedError:
            return
        timeout = self.ping_timeout
        if timeout > 0:
            self._pong_timer = self._loop.call_later(timeout, self._check_pong)
        else:
            self._schedule_ping()

    def _check_pong(self) -> None:
        self._pong_timer = None
        if self.is_closing():
            return
        if not self._received_pong:
            self.close(reason="ping timed out")
            return
        self._schedule_ping()

    def _schedule_ping(self) -> None:
        delay = self.ping_sleep_time(last_ping_time=self._last_ping,
                                     interval=self.ping_interval, now=self._loop.time())
        self._ping_timer = self._loop.call_later(delay, self._periodic_ping)

    def _cancel_ping(self) -> None:
        if self._ping_timer is not None:
            self._ping_timer.cancel()
            self._ping_timer = None
        if self._pong_timer is not None:
            self._pong_timer.cancel()
            self._pong_timer = None
