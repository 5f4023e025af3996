"""The request parser, both twins: valid requests, limits, and HOSTILE-INPUTS.md sections A-E.

Every case is fed whole, byte by byte and split at every position; all must
give the same result (HOSTILE-INPUTS case 48).
"""

from __future__ import annotations

import pytest
from parsetools import error_of, events, splits

H = b"Host: a\r\n"


def check_all_splits(mod, data: bytes, **limits) -> list[tuple]:
    whole = events(mod, [data], **limits)
    for chunks in splits(data):
        assert events(mod, chunks, **limits) == whole, chunks
    return whole


# --- valid requests -------------------------------------------------------------------


def test_simple_get(httpparse):
    r = check_all_splits(httpparse, b"GET /a?b=c HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n")
    assert r == [
        ("head", "GET", "/a?b=c", "HTTP/1.1", {"Host": ["example.com"], "Accept": ["*/*"]},
         True, False, 0, False),
        ("end",),
    ]


def test_header_names_normalised_and_values_trimmed(httpparse):
    r = events(httpparse, [b"GET / HTTP/1.1\r\nhost: a\r\nX-FOO-bar: \t v 1 \t\r\nx-foo-BAR:v2\r\n\r\n"])
    assert r[0][4] == {"Host": ["a"], "X-Foo-Bar": ["v 1", "v2"]}


def test_obs_text_kept_as_latin1(httpparse):
    # HOSTILE 46: bytes >= 0x80 in a value are kept.
    r = events(httpparse, [b"GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\nUser: \x85admin\xa0\r\n\r\n"])
    assert r[0][2] == "/\xc3\xa9"
    assert r[0][4]["User"] == ["\x85admin\xa0"]


def test_empty_header_value(httpparse):
    assert events(httpparse, [b"GET / HTTP/1.1\r\nHost: a\r\nX:\r\n\r\n"])[0][4]["X"] == [""]


def test_content_length_body(httpparse):
    r = check_all_splits(httpparse, b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello")
    assert r[1:] == [("body", b"hello"), ("end",)]
    assert r[0][7] == 5


def test_leading_zero_content_length_is_decimal(httpparse):
    # HOSTILE 2: 010 is ten, not octal eight.
    r = events(httpparse, [b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 010\r\n\r\n0123456789"])
    assert r[1] == ("body", b"0123456789")


def test_repeated_equal_content_length_accepted(httpparse):
    # HOSTILE 6: 5 + 5, and "5, 5", are one length.
    for cl in (b"Content-Length: 5\r\nContent-Length: 5\r\n", b"Content-Length: 5, 5\r\n"):
        r = events(httpparse, [b"POST / HTTP/1.1\r\nHost: a\r\n" + cl + b"\r\nhello"])
        assert r[1] == ("body", b"hello")


def test_chunked_body_with_extensions_and_trailers(httpparse):
    data = (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5;a=b;c=\"d \\\" e\"\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-T: v\r\n\r\n")
    r = check_all_splits(httpparse, data)
    assert r[0][6:8] == (True, -1)
    assert r[1:] == [("body", b"hello0123456789"), ("end",)]
    assert "X-T" not in r[0][4]  # trailers never merged into the headers


def test_pipelined_requests_in_order(httpparse):
    # HOSTILE 16 and 58.
    one = b"GET /%d HTTP/1.1\r\nHost: a\r\n\r\n"
    data = (b"POST /0 HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n1234567890"
            + b"".join(one % i for i in range(1, 50)))
    r = events(httpparse, [data])
    targets = [e[2] for e in r if e[0] == "head"]
    assert targets == ["/%d" % i for i in range(50)]
    assert r[1] == ("body", b"1234567890")


def test_leading_empty_lines_ignored(httpparse):
    # HOSTILE 34.
    r = check_all_splits(httpparse, b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")
    assert r[0][1] == "GET"


@pytest.mark.parametrize(
    "head, keep_alive",
    [
        (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", True),
        (b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", False),
        (b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, CLOSE\r\n\r\n", False),
        (b"GET / HTTP/1.0\r\n\r\n", False),
        (b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", True),
        (b"POST / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", False),
        (b"POST / HTTP/1.0\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n", True),
    ],
)
def test_keep_alive_rules(httpparse, head, keep_alive):
    assert events(httpparse, [head])[0][5] is keep_alive


def test_expect_continue(httpparse):
    r = events(httpparse, [b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
                           b"Content-Length: 1\r\n\r\n"])
    assert r[0][8] is True
    r = events(httpparse, [b"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n"])
    assert r[0][8] is False


def test_http10_without_host_accepted(httpparse):
    # HOSTILE 49.
    assert events(httpparse, [b"GET / HTTP/1.0\r\n\r\n"])[0][0] == "head"


@pytest.mark.parametrize("host", [b"", b"example.com", b"example.com:8080", b"[::1]:80",
                                  b"127.0.0.1", b"xn--bcher-kva.example", b"a%20b:"])
def test_valid_hosts(httpparse, host):
    assert events(httpparse, [b"GET / HTTP/1.1\r\nHost: " + host + b"\r\n\r\n"])[0][0] == "head"


def test_take_buffer_after_upgrade(httpparse):
    p = httpparse.RequestParser()
    p.feed(b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n\x81\x05hello")
    assert p.next_event() == httpparse.HEAD
    assert p.next_event() == httpparse.END
    assert p.take_buffer() == b"\x81\x05hello"
    assert p.pending() == 0


def test_in_message(httpparse):
    p = httpparse.RequestParser()
    assert not p.in_message
    p.feed(b"\r\n")
    assert p.next_event() == httpparse.NEED_DATA
    assert not p.in_message
    p.feed(b"GE")
    assert p.next_event() == httpparse.NEED_DATA
    assert p.in_message
    p.feed(b"T / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nx")
    assert p.next_event() == httpparse.HEAD
    assert p.in_message
    assert p.next_event() == httpparse.DATA
    assert p.in_message
    p.feed(b"y")
    assert p.next_event() == httpparse.DATA
    assert p.next_event() == httpparse.END
    assert not p.in_message


def test_error_is_sticky(httpparse):
    p = httpparse.RequestParser()
    p.feed(b"GET / HTTP/1.1\r\nHost: a\r\nX : y\r\n\r\n")
    with pytest.raises(httpparse.HTTPInputError):
        p.next_event()
    with pytest.raises(httpparse.HTTPInputError):
        p.next_event()


# --- HOSTILE-INPUTS.md section 3: framing, request line, headers, host ----------------

POST = b"POST / HTTP/1.1\r\nHost: a\r\n"
TE = b"Transfer-Encoding: chunked\r\n"
CHUNKED = POST + TE + b"\r\n"

HOSTILE = [
    # A. Content-Length / Transfer-Encoding
    ("A1 plus sign", POST + b"Content-Length: +10\r\n\r\n", 400),
    ("A1 underscore", POST + b"Content-Length: 1_0\r\n\r\n", 400),
    ("A1 negative", POST + b"Content-Length: -1\r\n\r\n", 400),
    ("A2 hex", POST + b"Content-Length: 0x10\r\n\r\n", 400),
    ("A3 empty", POST + b"Content-Length:\r\n\r\n", 400),
    ("A3 empty then value", POST + b"Content-Length: \r\nContent-Length: 43\r\n\r\n", 400),
    ("A4 inner space", POST + b"Content-Length: 4 2\r\n\r\n", 400),
    ("A4 trailing letter", POST + b"Content-Length: 1Z\r\n\r\n", 400),
    ("A5 overflow", POST + b"Content-Length: 99999999999999999999999\r\n\r\n", 413),
    ("A6 differing", POST + b"Content-Length: 1\r\nContent-Length: 0\r\n\r\n", 400),
    ("A6 differing list", POST + b"Content-Length: 1, 0\r\n\r\n", 400),
    ("A7 space before colon", POST + b"Content-Length : 5\r\n\r\nhello", 400),
    ("A8 TE and CL", POST + TE + b"Content-Length: 5\r\n\r\n", 400),
    ("A9 TE twice", POST + TE + TE + b"\r\n1\r\nZ\r\n0\r\n\r\n", 400),
    ("A10 chunked, gzip", POST + b"Transfer-Encoding: chunked, gzip\r\n\r\n", 400),
    ("A10 chunked, identity", POST + b"Transfer-Encoding: chunked, identity\r\n\r\n", 400),
    ("A11 gzip, chunked", POST + b"Transfer-Encoding: gzip, chunked\r\n\r\n", 501),
    ("A11 identity", POST + b"Transfer-Encoding: identity\r\n\r\n", 501),
    ("A12 xchunked", POST + b"Transfer-Encoding: xchunked\r\n\r\n", 501),
    ("A12 chunkedchunked", POST + b"Transfer-Encoding: chunkedchunked\r\n\r\n", 501),
    ("A12 leading comma", POST + b"Transfer-Encoding: ,chunked\r\n\r\n", 400),
    ("A12 params", POST + b"Transfer-Encoding: chunked;ext=val\r\n\r\n", 400),
    ("A13 nbsp", POST + b"Transfer-Encoding: \xa0chunked\xa0\r\n\r\n", 400),
    ("A13 nel", POST + b"Transfer-Encoding: \x85chunked\x85\r\n\r\n", 400),
    ("A14 TE in 1.0", b"POST / HTTP/1.0\r\n" + TE + b"\r\n0\r\n\r\n", 400),
    ("A15 obs-fold on TE", POST + b"Transfer-Encoding: chunked\r\n  abc\r\n\r\n", 400),
    # B. chunked body
    ("B17 1_a", CHUNKED + b"1_a\r\n", 400),
    ("B17 0x5", CHUNKED + b"0x5\r\n", 400),
    ("B17 +5", CHUNKED + b"+5\r\n", 400),
    ("B17 -0x0", CHUNKED + b"-0x0\r\n", 400),
    ("B17 leading spaces", CHUNKED + b"   0\r\n", 400),
    ("B18 0_2e smuggle", CHUNKED + b"0_2e\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n"
     b"Content-Length: 5\r\n\r\n0\r\n\r\n", 400),
    ("B19 huge size", CHUNKED + b"FFFFFFFFFFFFFFFFFF1\r\n", 400),
    ("B19 16 digits over limit", CHUNKED + b"FFFFFFFFFFFFFFFF\r\n", 413),
    ("B20 bad CRLF after data", CHUNKED + b"3\r\nxxx__1a\r\n", 400),
    ("B20 CR then junk after data", CHUNKED + b"3\r\nxxx\r_1a\r\n", 400),
    ("B21 bare LF after last chunk", CHUNKED + b"0\n\r\n", 400),
    ("B21 bare LF after data", CHUNKED + b"a\r\n0123456789\n0\r\n\r\n", 400),
    ("B22 bare CR in size line", CHUNKED + b"5\r\r;ABCD\r\n34\r\nE\r\n0\r\n\r\n"
     b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("B24 LF in extension", CHUNKED + b"5;\nhello\r\n0\r\n\r\n", 400),
    ("B24 unbalanced quote", CHUNKED + b"5;a=\"b\r\nhello\r\n0\r\n\r\n", 400),
    ("B24 huge extension", CHUNKED + b"5;a=" + b"b" * 10240 + b"\r\nhello\r\n0\r\n\r\n", 400),
    ("B25 space after size", CHUNKED + b"a \r\n0123456789\r\n0\r\n\r\n", 400),
    ("B26 malformed trailer", CHUNKED + b"0\r\nX-T : v\r\n\r\n", 400),
    ("B27 runaway chunk", CHUNKED + b"4\r\nSEE-THIS\r\n0\r\n\r\n", 400),
    # C. request line
    ("C30 LF inside request line", b"GET /\nHTTP/1.1\r\n\r\n", 400),
    ("C31 version 1.32", b"GET / HTTP/1.32\r\nHost: a\r\n\r\n", 400),
    ("C31 CR in version", b"GET / HTTP/\r\r1.1\r\nHost: a\r\n\r\n", 400),
    ("C31 huge version", b"GET / HTTP/4294967295.255\r\nHost: a\r\n\r\n", 400),
    ("C31 version 2.0", b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
    ("C31 version 0.9", b"GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505),
    ("C32 method not a token", b'G=":<>(e),[T];?" /get HTTP/1.1\r\nHost: a\r\n\r\n', 400),
    ("C33 NUL in target", b"GET /a\x00b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("C33 DEL in target", b"GET /a\x7fb HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("C33 space in target", b"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("C33 tab in target", b"GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("C35 space before first header", b"GET / HTTP/1.1\r\n Host: foo\r\n\r\n", 400),
    ("C36 h2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),
    ("C37 16 KiB target", b"GET /" + b"a" * 16384 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414),
    ("C lowercase version", b"GET / http/1.1\r\nHost: a\r\n\r\n", 400),
    ("C double space", b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("C missing target", b"GET HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("C trailing space", b"GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400),
    # D. header section
    ("D38 NUL in name", b"GET / HTTP/1.1\r\nHost: a\r\nX\x00Y: z\r\n\r\n", 400),
    ("D38 quote in name", b"GET / HTTP/1.1\r\nHost: a\r\nX\"Y: z\r\n\r\n", 400),
    ("D38 slash in name", b"GET / HTTP/1.1\r\nHost: a\r\nX/Y: z\r\n\r\n", 400),
    ("D38 high bit in name", b"GET / HTTP/1.1\r\nHost: a\r\nX\x80Y: z\r\n\r\n", 400),
    ("D38 DEL in name", b"GET / HTTP/1.1\r\nHost: a\r\nX\x7fY: z\r\n\r\n", 400),
    ("D38 brace in name", b"GET / HTTP/1.1\r\nHost: a\r\n{X}: z\r\n\r\n", 400),
    ("D39 empty name", b"GET / HTTP/1.1\r\nHost: a\r\n: ignored\r\n\r\n", 400),
    ("D39 bare colon", b"GET / HTTP/1.1\r\nHost: a\r\n:\r\n\r\n", 400),
    ("D40 no colon", b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length 10\r\n\r\n", 400),
    ("D41 bare CR in value", b"GET / HTTP/1.1\r\nHost: a\r\nVisible: :/\rSmuggled: :)\r\n\r\n",
     400),
    ("D42 NUL in value", b"GET / HTTP/1.1\r\nHost: a\r\nTest: test\x00THESE BYTES\r\n\r\n", 400),
    ("D42 VT in value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x0bY: b\r\n\r\n", 400),
    ("D42 DEL in value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n", 400),
    ("D43 bare LF between headers", b"GET / HTTP/1.1\r\nHost: a\r\nx:x\nTransfer-Encoding: "
     b"chunked\r\n\r\n", 400),
    ("D43 all bare LF", b"GET / HTTP/1.1\nHost: a\n\n", 400),
    ("D44 obs-fold", b"GET / HTTP/1.1\r\nHost: a\r\nX-Test: v1\r\n continuation\r\n\r\n", 400),
    ("D44 obs-fold tab", b"GET / HTTP/1.1\r\nHost: a\r\nX-Test: v1\r\n\tcontinuation\r\n\r\n",
     400),
    ("D45 name split across lines", b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-\r\nEncoding: "
     b"chunked\r\n\r\n", 400),
    ("D47 CR then junk", b"GET / HTTP/1.1\r\nHost: a\r\n\rZGET /evil: HTTP/1.1\r\nHost: a\r\n\r\n",
     400),
    # E. Host
    ("E49 HTTP/1.1 without Host", b"GET / HTTP/1.1\r\n\r\n", 400),
    ("E50 two equal Hosts", b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400),
    ("E50 two Hosts", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    ("E51 scheme-like", b"GET / HTTP/1.1\r\nHost: http//1.1.1.1:80\r\n\r\n", 400),
    ("E51 space", b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
    ("E51 NUL", b"GET / HTTP/1.1\r\nHost: google.com\x00.kallus.org\r\n\r\n", 400),
    ("E51 letters in port", b"GET / HTTP/1.1\r\nHost: a:8o\r\n\r\n", 400),
    ("E51 unclosed bracket", b"GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400),
    ("E51 userinfo", b"GET / HTTP/1.1\r\nHost: user@a\r\n\r\n", 400),
]


@pytest.mark.parametrize("name, data, code", HOSTILE, ids=[c[0] for c in HOSTILE])
def test_hostile_input(httpparse, name, data, code):
    if len(data) > 2000:  # long inputs: whole and byte by byte only
        results = [events(httpparse, [data]),
                   events(httpparse, [data[i : i + 1] for i in range(len(data))])]
        assert results[0] == results[1]
        result = results[0]
    else:
        result = check_all_splits(httpparse, data)
    err = error_of(result)
    assert err is not None, result
    assert err[2] == code, err
    # A request that was rejected never produced a head for the offending message.
    heads = [e for e in result if e[0] == "head"]
    assert len(heads) <= 1


def test_garbage_after_last_chunk_fails_next_request(httpparse):
    # HOSTILE 28: the first request completes; the NUL then fails the next head.
    r = events(httpparse, [CHUNKED + b"0\r\n\r\n\x00\r\n\r\n"])
    assert r[1] == ("end",)
    assert r[2][0] == "error" and r[2][2] == 400


# --- limits: one byte over each, and exactly at it -----------------------------------


def _get(extra: bytes = b"", target: bytes = b"/") -> bytes:
    return b"GET " + target + b" HTTP/1.1\r\nHost: a\r\n" + extra + b"\r\n"


def test_max_header_size(httpparse):
    data = _get(b"X: " + b"a" * 100 + b"\r\n")
    assert events(httpparse, [data], max_header_size=len(data))[0][0] == "head"
    err = error_of(events(httpparse, [data], max_header_size=len(data) - 1))
    assert err is not None and err[2] == 431


def test_max_header_size_while_incomplete(httpparse):
    # No end of head yet: reject once the buffered head is over the limit (HOSTILE 62).
    p = httpparse.RequestParser(max_header_size=1000)
    p.feed(b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"a" * 960)
    assert p.next_event() == httpparse.NEED_DATA
    p.feed(b"a" * 20)
    with pytest.raises(httpparse.RequestHeaderFieldsTooLarge):
        p.next_event()


def test_max_header_count(httpparse):
    many = b"".join(b"a%d: b\r\n" % i for i in range(9))
    assert events(httpparse, [_get(many)], max_header_count=10)[0][0] == "head"
    err = error_of(events(httpparse, [_get(many + b"z: b\r\n")], max_header_count=10))
    assert err is not None and err[2] == 431


def test_twenty_thousand_tiny_headers(httpparse):
    # HOSTILE 62: many tiny headers are bounded by count before anything is built.
    err = error_of(events(httpparse, [_get(b"a:b\r\n" * 20000)], max_header_size=1 << 20))
    assert err is not None and err[2] == 431


def test_max_request_line(httpparse):
    target = b"/" + b"a" * 100
    line_len = len(b"GET " + target + b" HTTP/1.1")
    assert events(httpparse, [_get(target=target)], max_request_line=line_len)[0][0] == "head"
    err = error_of(events(httpparse, [_get(target=target)], max_request_line=line_len - 1))
    assert err is not None and err[2] == 414


def test_max_request_line_while_incomplete(httpparse):
    p = httpparse.RequestParser(max_request_line=100)
    p.feed(b"GET /" + b"a" * 96)
    assert p.next_event() == httpparse.NEED_DATA
    p.feed(b"aa")
    with pytest.raises(httpparse.RequestURITooLong):
        p.next_event()


def test_max_body_size_content_length(httpparse):
    data = POST + b"Content-Length: 10\r\n\r\n0123456789"
    assert events(httpparse, [data], max_body_size=10)[1] == ("body", b"0123456789")
    err = error_of(events(httpparse, [data], max_body_size=9))
    assert err is not None and err[2] == 413


def test_max_body_size_chunked(httpparse):
    data = CHUNKED + b"5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n"
    assert events(httpparse, [data], max_body_size=10)[1] == ("body", b"0123456789")
    r = events(httpparse, [data], max_body_size=9)
    assert error_of(r) is not None and error_of(r)[2] == 413


def test_max_chunk_line(httpparse):
    ext = b";a=" + b"b" * 20
    data = CHUNKED + b"5" + ext + b"\r\nhello\r\n0\r\n\r\n"
    assert events(httpparse, [data], max_chunk_line=1 + len(ext))[1] == ("body", b"hello")
    err = error_of(events(httpparse, [data], max_chunk_line=len(ext)))
    assert err is not None and err[2] == 400


def test_trailer_section_limit(httpparse):
    data = CHUNKED + b"0\r\n" + b"X-T: " + b"v" * 2000 + b"\r\n\r\n"
    err = error_of(events(httpparse, [data], max_header_size=1000))
    assert err is not None and err[2] == 431


def test_many_small_chunks_linear(httpparse):
    # HOSTILE 29: a long run of 1-byte chunks decodes to one buffer (memory ~ body size).
    n = 20000
    data = CHUNKED + b"1\r\nA\r\n" * n + b"0\r\n\r\n"
    r = events(httpparse, [data[i : i + 65536] for i in range(0, len(data), 65536)])
    assert r[1] == ("body", b"A" * n)


# --- however the input is split, the answer is the same (HOSTILE 48) ----------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_PIECES = [b"GET", b"POST", b" ", b"/", b"HTTP/1.1", b"HTTP/1.0", b"\r\n", b"\r", b"\n",
           b"Host: a", b":", b"X", b"a" * 40, b"Transfer-Encoding: chunked", b"Content-Length: 3",
           b"5", b"0", b";e=1", b"\x00", b"\x80", b"\t"]


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(st.sampled_from(_PIECES), max_size=40),
       limits=st.fixed_dictionaries({
           "max_header_size": st.integers(10, 120), "max_request_line": st.integers(5, 60),
           "max_header_count": st.integers(0, 5), "max_chunk_line": st.integers(1, 10),
           "max_body_size": st.integers(0, 20)}))
def test_split_independent_under_small_limits(parts, limits):
    from embedtornado._pure import httpparse as py

    data = b"".join(parts)
    whole = events(py, [data], **limits)
    assert events(py, [data[i : i + 1] for i in range(len(data))], **limits) == whole
