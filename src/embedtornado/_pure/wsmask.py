"""XOR masking of WebSocket payloads (RFC 6455 section 5.3), the readable twin.

``websocket_mask(mask, data)`` returns *data* XORed with the 4-byte *mask*
repeated; applying it twice gives *data* back. The WebSocket code masks and
unmasks frames with it, and the web layer masks XSRF tokens with it, as
Tornado does. The compiled module ``embedtornado._speedups.wsmask`` has the
same names and behaviour.
"""

from __future__ import annotations


def websocket_mask(mask: bytes, data: bytes) -> bytes:
    """Return *data* XOR *mask* (repeated); *mask* must be exactly 4 bytes."""
    mask = bytes(mask)
    if len(mask) != 4:
        raise ValueError("websocket_mask needs a 4-byte mask, got %d bytes" % len(mask))
    data = bytes(data)
    n = len(data)
    if not n:
        return b""
    # One big-integer XOR over the whole payload: linear time, no Python loop per byte.
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(key, "little")).to_bytes(n, "little")
