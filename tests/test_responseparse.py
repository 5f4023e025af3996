"""The client's response parser, fed bytes whole, split at every point, and hostile."""

from __future__ import annotations

import gzip

import pytest

from embedtornado._httpdefs import HTTPInputError
from embedtornado._responseparse import ResponseParser


def parse(data: bytes, split: int | None = None, eof: bool = False, **kwargs):
    """Feed *data* (in two pieces at *split*); return (events, parser)."""
    p = ResponseParser(**kwargs)
    events = []
    pieces = [data] if split is None else [data[:split], data[split:]]
    for piece in pieces:
        events += p.feed(piece)
    if eof:
        events += p.feed_eof()
    return events, p


def body_of(events):
    return b"".join(e[1] for e in events if e[0] == "data")


def heads(events):
    return [e for e in events if e[0] == "head"]


def check_every_split(data: bytes, expect_body: bytes, eof: bool = False, **kwargs):
    for i in range(len(data) + 1):
        events, p = parse(data, i, eof=eof, **kwargs)
        assert body_of(events) == expect_body, i
        assert events[-1] == ("done",), i
        assert p.done
    # and byte by byte
    p = ResponseParser(**kwargs)
    events = []
    for b in data:
        events += p.feed(bytes([b]))
    if eof:
        events += p.feed_eof()
    assert body_of(events) == expect_body and events[-1] == ("done",)
    return events, p


def test_content_length_every_split():
    data = b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\nX-A: b\r\n\r\nhello world"
    events, p = check_every_split(data, b"hello world")
    start, headers = heads(events)[0][1:]
    assert (start.version, start.code, start.reason) == ("HTTP/1.1", 200, "OK")
    assert headers["X-A"] == "b" and p.keep_alive and p.leftover == b""


def test_chunked_with_extensions_and_trailers_every_split():
    data = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5;name=v\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nTrailer: x\r\n\r\n")
    check_every_split(data, b"hello world")


def test_close_delimited_every_split():
    data = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end"
    events, p = check_every_split(data, b"until the end", eof=True)
    assert not p.keep_alive


def test_bare_lf_and_leading_blank_lines_tolerated():
    events, p = parse(b"\r\nHTTP/1.1 200 OK\nContent-Length: 2\n\nok")
    assert body_of(events) == b"ok" and p.done


@pytest.mark.parametrize("status,method", [(204, "GET"), (304, "GET"), (200, "HEAD")])
def test_no_body_responses(status, method):
    data = b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n\r\n" % (status, 0 if status == 204 else 50)
    events, p = parse(data, method=method)
    assert p.done and body_of(events) == b""


def test_204_with_body_rejected():
    with pytest.raises(HTTPInputError):
        parse(b"HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\nabc")


def test_informational_then_final():
    data = (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
            b"HTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nz")
    events, p = check_every_split(data, b"z")
    assert [h[1].code for h in heads(events)] == [100, 103, 201]


def test_informational_with_body_rejected():
    with pytest.raises(HTTPInputError, match="cannot have body"):
        parse(b"HTTP/1.1 100 Continue\r\nContent-Length: 0\r\n\r\n")


@pytest.mark.parametrize("head", [
    b"Transfer-Encoding: chunked\r\nContent-Length: 5",
    b"Transfer-Encoding: gzip",
    b"Transfer-Encoding: gzip, chunked",
    b"Transfer-Encoding: chunked, chunked",
    b"Content-Length: +5",
    b"Content-Length: 0x5",
    b"Content-Length: 5, 6",
    b"Content-Length: 5\r\nContent-Length: 6",
    b"Content-Length: -1",
    b"Content-Length: ",
])
def test_bad_framing_rejected(head):
    with pytest.raises(HTTPInputError):
        parse(b"HTTP/1.1 200 OK\r\n" + head + b"\r\n\r\nhello")


def test_equal_repeated_content_lengths_accepted():
    events, _ = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nhi")
    assert body_of(events) == b"hi"


@pytest.mark.parametrize("line", [
    b"HTTP/1.1 200OK", b"HTTP/2 200 OK", b"HTTP/1.1 20 OK", b"ICY 200 OK", b"garbage",
    b"HTTP/1.1 2000 OK",
])
def test_bad_status_line(line):
    with pytest.raises(HTTPInputError):
        parse(line + b"\r\nContent-Length: 0\r\n\r\n")


@pytest.mark.parametrize("header", [
    b"X-A: a\x00b", b"X-A: a\rb", b" folded: x", b"no colon", b"Bad Name: x",
])
def test_bad_headers(header):
    with pytest.raises(HTTPInputError):
        parse(b"HTTP/1.1 200 OK\r\n" + header + b"\r\nContent-Length: 0\r\n\r\n")


def test_max_header_size_boundary():
    base = b"HTTP/1.1 200 OK\r\nX-Pad: "
    head_len = 1000
    pad = b"p" * (head_len - len(base))
    head = base + pad  # exactly head_len bytes before the blank line
    events, p = parse(head + b"\r\nContent-Length: 0\r\n\r\n",
                      max_header_size=head_len + len(b"\r\nContent-Length: 0"))
    assert p.done
    with pytest.raises(HTTPInputError, match="head too large"):
        parse(head + b"\r\nContent-Length: 0\r\n\r\n",
              max_header_size=head_len + len(b"\r\nContent-Length: 0") - 1)


def test_endless_head_rejected_without_terminator():
    p = ResponseParser(max_header_size=4096)
    p.feed(b"HTTP/1.1 200 OK\r\n")
    with pytest.raises(HTTPInputError):
        for _ in range(100):
            p.feed(b"X-Spam: " + b"s" * 100 + b"\r\n")


def test_body_size_limits():
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n" + b"x" * 10
    events, _ = parse(ok, max_body_size=10)
    assert body_of(events) == b"x" * 10
    with pytest.raises(HTTPInputError, match="Content-Length too long"):
        parse(ok, max_body_size=9)
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"5\r\nxxxxx\r\n" * 3
    with pytest.raises(HTTPInputError):
        parse(chunked, max_body_size=14)
    parse(chunked + b"0\r\n\r\n", max_body_size=15)
    close = b"HTTP/1.1 200 OK\r\n\r\n" + b"y" * 16
    with pytest.raises(HTTPInputError):
        parse(close, max_body_size=15)


def test_chunk_line_and_trailer_limits():
    with pytest.raises(HTTPInputError, match="chunk size line too long"):
        parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;" + b"e" * 5000)
    with pytest.raises(HTTPInputError, match="trailers too large"):
        parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
              + b"T: x\r\n" * 1000, max_header_size=1024)


@pytest.mark.parametrize("chunk", [
    b"zz\r\nhello\r\n", b"5\r\nhelloX\r\n", b"5\nhello\r\n", b"-5\r\nhello\r\n",
    b"11111111111111111\r\n", b" 5\r\nhello\r\n",
])
def test_bad_chunks(chunk):
    with pytest.raises(HTTPInputError):
        parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk + b"0\r\n\r\n")


@pytest.mark.parametrize("data", [
    b"",
    b"HTTP/1.1 200 OK\r\nContent-Le",
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n",
])
def test_truncated_responses_error_at_eof(data):
    with pytest.raises(HTTPInputError):
        parse(data, eof=True)


def test_keep_alive_rules():
    def ka(head):
        return parse(head + b"\r\nContent-Length: 0\r\n\r\n")[1].keep_alive
    assert ka(b"HTTP/1.1 200 OK")
    assert not ka(b"HTTP/1.1 200 OK\r\nConnection: close")
    assert not ka(b"HTTP/1.0 200 OK")
    assert ka(b"HTTP/1.0 200 OK\r\nConnection: keep-alive")
    assert not ka(b"HTTP/1.1 200 OK\r\nConnection: keep-alive, close")


def test_leftover_after_response():
    _, p = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxEXTRA")
    assert p.done and p.leftover == b"EXTRA"


def gz(data):
    return gzip.compress(data, 6)


def test_gzip_decoded_and_header_moved():
    payload = b"compress me " * 1000
    body = gz(payload)
    data = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s" % (
        len(body), body)
    events, p = parse(data)
    assert body_of(events) == payload
    headers = heads(events)[0][2]
    assert "Content-Encoding" not in headers
    assert headers["X-Consumed-Content-Encoding"] == "gzip"
    # With decompression off the bytes pass through untouched.
    events, _ = parse(data, decompress=False)
    assert body_of(events) == body
    # Split everywhere in a smaller case.
    small = gz(b"abc" * 10)
    check_every_split(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: "
                      b"chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(small), small), b"abc" * 10)


def test_gzip_bomb_bounded():
    bomb = gz(b"\0" * (8 << 20))
    data = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s" % (
        len(bomb), bomb)
    with pytest.raises(HTTPInputError, match="decompressed response body too large"):
        parse(data, max_body_size=1 << 20)


@pytest.mark.parametrize("body", [b"not gzip at all", gz(b"hello")[:-4]])
def test_bad_or_truncated_gzip(body):
    data = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s" % (
        len(body), body)
    with pytest.raises(HTTPInputError, match="gzip"):
        parse(data)


def test_head_response_with_gzip_header_has_no_body():
    events, p = parse(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 99\r\n\r\n",
                      method="HEAD")
    assert p.done and body_of(events) == b""
    assert heads(events)[0][2]["Content-Encoding"] == "gzip"
