"""Helpers that drive a request parser module over a byte stream and normalise what it says."""

from __future__ import annotations

from typing import Any, Iterable


def events(mod: Any, chunks: Iterable[bytes], **limits: Any) -> list[tuple]:
    """Feed *chunks* to ``mod.RequestParser(**limits)`` and return the normalised events.

    Each request gives ``("head", method, target, version, headers, keep_alive,
    chunked, content_length, expect_continue)``, then ``("body", bytes)`` when it
    has body bytes (all DATA events joined) and ``("end",)``. A parse error ends
    the list with ``("error", class name, code, message)``.
    """
    p = mod.RequestParser(**limits)
    out: list[tuple] = []
    body: list[bytes] = []
    try:
        for chunk in chunks:
            p.feed(chunk)
            while True:
                ev = p.next_event()
                if ev == mod.NEED_DATA:
                    break
                if ev == mod.HEAD:
                    out.append(("head", p.method, p.target, p.version, p.headers, p.keep_alive,
                                p.chunked, p.content_length, p.expect_continue))
                elif ev == mod.DATA:
                    assert p.data, "DATA event without bytes"
                    body.append(p.data)
                elif ev == mod.END:
                    if body:
                        out.append(("body", b"".join(body)))
                        body = []
                    out.append(("end",))
                else:
                    raise AssertionError(f"unknown event {ev!r}")
    except mod.HTTPInputError as e:
        out.append(("error", type(e).__name__, e.code, str(e)))
    return out


def splits(data: bytes) -> Iterable[list[bytes]]:
    """The whole input, byte by byte, and split in two at every position."""
    yield [data]
    yield [data[i : i + 1] for i in range(len(data))]
    for i in range(1, len(data)):
        yield [data[:i], data[i:]]


def error_of(result: list[tuple]) -> tuple | None:
    """The ("error", ...) entry that ends *result*, if any."""
    return result[-1] if result and result[-1][0] == "error" else None


# --- the differential form: everything a parser says, comparable across twins ---------


def _head(p) -> tuple:
    headers = p.headers
    return (
        "head", p.method, p.target, p.version,
        [(k, list(v), type(k), type(v)) for k, v in headers.items()],
        # type and representation (an ASCII str holding a byte >= 0x80 would compare equal)
        [(type(x), x.isascii()) for v in headers.values() for x in v],
        [(x.isascii(), len(x)) for x in (p.method, p.target, p.version, *headers)],
        p.keep_alive, p.chunked, p.content_length, p.expect_continue,
        tuple(type(x) for x in (p.method, p.target, p.version, headers, p.keep_alive, p.chunked,
                                p.content_length, p.expect_continue)),
        p.pending(), p.in_message,
    )


def trace(mod, chunks: list[bytes], limits: dict) -> list[tuple]:
    """Everything *mod*'s parser says about *chunks*, fed one by one, in a comparable form."""
    p = mod.RequestParser(**limits)
    out: list[tuple] = []
    for chunk in chunks:
        p.feed(chunk)
        while True:
            try:
                ev = p.next_event()
            except mod.HTTPInputError as e:
                out.append(("error", type(e), str(e), e.code, p.pending(), p.in_message))
                try:
                    p.next_event()
                except mod.HTTPInputError as again:
                    out.append(("sticky", again is e))
                else:
                    out.append(("not sticky",))
                out.append(("final", p.pending(), p.in_message, p.take_buffer()))
                return out
            if ev == mod.NEED_DATA:
                out.append(("need", p.pending(), p.in_message))
                break
            if ev == mod.HEAD:
                out.append(_head(p))
            elif ev == mod.DATA:
                out.append(("data", p.data, type(p.data), p.pending(), p.in_message))
            elif ev == mod.END:
                out.append(("end", p.pending(), p.in_message))
            else:
                out.append(("unknown event", ev))
                break
    out.append(("final", p.pending(), p.in_message, p.take_buffer(), p.pending()))
    return out
