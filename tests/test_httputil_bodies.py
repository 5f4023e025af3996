"""httputil: cookies, URL helpers, ranges, header parameters, request bodies."""

from __future__ import annotations

import datetime
import http.client
import http.cookies
import logging
import pickle
import time
import urllib.parse

import pytest
import tornado.httputil as t_httputil
from hypothesis import example, given
from hypothesis import strategies as st

from embedtornado import httputil
from embedtornado.httputil import (
    HTTPFile,
    HTTPHeaders,
    HTTPInputError,
    HTTPServerRequest,
    ParseBodyConfig,
    ParseMultipartConfig,
    _get_content_range,
    _int_or_none,
    _parse_header,
    _parseparam,
    encode_username_password,
    format_timestamp,
    parse_body_arguments,
    parse_cookie,
    parse_multipart_form_data,
    qs_to_qsl,
    set_parse_body_config,
    split_host_and_port,
    url_concat,
)
from httputiltools import FUZZ, assert_linear, both, outcome, peak_memory, start

# --- cookies ------------------------------------------------------------------------


def _request_with_cookie(value):
    h = HTTPHeaders({"Host": "x"})
    if value is not None:
        h["Cookie"] = value
    return h, HTTPServerRequest(start_line=start(), headers=h)


@pytest.mark.parametrize(
    "cookie",
    [
        None,
        "a=1; b=2",
        'a="quoted\\"x"',
        "bad name=1; ok=2",
        "a=1; $x=2; ,=3; =4",
        "expires=1; path=/; a=b",
        "a=\x00; b=\u20ac",
        ";;;",
        "a",
        'k="' + "\\\\" * 50 + '"',
    ],
)
def test_request_cookies_like_tornado(cookie):
    _, ours = _request_with_cookie(cookie)
    th = t_httputil.HTTPHeaders({"Host": "x"})
    if cookie is not None:
        th["Cookie"] = cookie
    theirs = t_httputil.HTTPServerRequest(
        start_line=t_httputil.RequestStartLine("GET", "/", "HTTP/1.1"), headers=th
    )
    assert isinstance(ours.cookies, http.cookies.SimpleCookie)
    assert {k: m.value for k, m in ours.cookies.items()} == {
        k: m.value for k, m in theirs.cookies.items()
    }
    assert ours.cookies is ours.cookies  # parsed once


def test_request_cookies_with_non_str_header_like_tornado():
    for module in (httputil, t_httputil):
        h = module.HTTPHeaders({"Host": "x"})
        h["Cookie"] = b"a=1"  # only an application can do this
        r = module.HTTPServerRequest(
            start_line=module.RequestStartLine("GET", "/", "HTTP/1.1"), headers=h
        )
        assert dict(r.cookies) == {}


def test_request_cookies_never_raise():
    for value in ['"', "=", "a=\\", '\\"', "\udcff=1", "a=" + "\\" * 1000]:
        _, r = _request_with_cookie(value)
        assert isinstance(r.cookies, http.cookies.SimpleCookie)


# --- parse_cookie -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "cookie, expected",
    [
        ("chips=ahoy; vienna=finger", {"chips": "ahoy", "vienna": "finger"}),
        (
            'keebler="E=mc2; L=\\"Loves\\"; fudge=\\012;"',
            {"keebler": '"E=mc2', "L": '\\"Loves\\"', "fudge": "\\012", "": '"'},
        ),
        ("keebler=E=mc2", {"keebler": "E=mc2"}),
        ("key:term=value:term", {"key:term": "value:term"}),
        ("a=b; c=[; d=r; f=h", {"a": "b", "c": "[", "d": "r", "f": "h"}),
        ("a=b; Domain=example.com", {"a": "b", "Domain": "example.com"}),
        ("a=b; h=i; a=c", {"a": "c", "h": "i"}),
        ('a=b; "; c=d', {"a": "b", "": '"', "c": "d"}),
        ("a b c=d e = f; gh=i", {"a b c": "d e = f", "gh": "i"}),
        ('a   b,c<>@:/[]?{}=d  "  =e,f g', {"a   b,c<>@:/[]?{}": 'd  "  =e,f g'}),
        ("saint=André Bessette", {"saint": "André Bessette"}),
        ("  =  b  ;  ;  =  ;   c  =  ;  ", {"": "b", "c": ""}),
    ],
)
def test_parse_cookie(cookie, expected):
    assert parse_cookie(cookie) == expected
    assert t_httputil.parse_cookie(cookie) == expected


@pytest.mark.parametrize(
    "encoded, decoded",
    [
        (r'a="b=\""', 'b="'),
        (r'a="b=\\"', "b=\\"),
        (r'a="b=\="', "b=="),
        (r'a="b=\n"', "b=n"),
        (r'a="b=\042"', 'b="'),
        (r'a="b=\134"', "b=\\"),
        (r'a="b=\377"', "b=\xff"),
        (r'a="b=\400"', "b=400"),
        (r'a="b=\42"', "b=42"),
        (r'a="b=\\042"', "b=\\042"),
        (r'a="b=\\134"', "b=\\134"),
        (r'a="b=\\\""', 'b=\\"'),
        (r'a="b=\\\042"', 'b=\\"'),
        (r'a="b=\134\""', 'b=\\"'),
        (r'a="b=\134\042"', 'b=\\"'),
        ('a="b=\\\n"', "b=\\\n"),
        ('a="', '"'),
        ('a=""', ""),
    ],
)
def test_cookie_unquote(encoded, decoded):
    assert parse_cookie(encoded)["a"] == decoded
    assert httputil._unquote_cookie(encoded[2:]) == t_httputil._unquote_cookie(encoded[2:])


def test_unquote_cookie_none_and_short():
    assert httputil._unquote_cookie(None) is None
    assert httputil._unquote_cookie("") == ""
    assert httputil._unquote_cookie('"') == '"'


COOKIE_ALPHABET = st.sampled_from(list('ab=; "\\0123\n\t\xa0é,'))


@FUZZ
@given(st.text(alphabet=COOKIE_ALPHABET))
def test_parse_cookie_fuzz(cookie):
    both("parse_cookie", cookie)


@pytest.mark.parametrize("encoded", [r"\\", r"\134"])
def test_cookie_unquote_large(encoded):
    n = 100_000
    value = parse_cookie('a="b=' + encoded * n + '"')["a"]
    assert value[:3] == "b=\\"
    assert value[-3:] == "\\\\\\"
    assert len(value) == n + 2


@pytest.mark.parametrize("encoded", [r"\\", r"\134"])
def test_cookie_unquote_linear(encoded):
    # CVE-2024-52804
    assert_linear(lambda n: parse_cookie('a="b=' + encoded * n + '"'), 2_000, max_ratio=20)


def test_parse_cookie_linear_many_pieces():
    assert_linear(lambda n: parse_cookie("a=b;" * n), 2_000)


# --- url_concat -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, args, expected",
    [
        ("https://localhost/path", [("y", "y"), ("z", "z")], "https://localhost/path?y=y&z=z"),
        ("https://localhost/path", [("y", "/y"), ("z", "z")], "https://localhost/path?y=%2Fy&z=z"),
        ("https://localhost/path?", [("y", "y"), ("z", "z")], "https://localhost/path?y=y&z=z"),
        ("https://localhost/path?x", [("y", "y"), ("z", "z")], "https://localhost/path?x=&y=y&z=z"),
        (
            "https://localhost/path?x&",
            [("y", "y"), ("z", "z")],
            "https://localhost/path?x=&y=y&z=z",
        ),
        ("https://localhost/path?a=1&b=2", [("y", "y")], "https://localhost/path?a=1&b=2&y=y"),
        ("https://localhost/path?r=1&t=2", [], "https://localhost/path?r=1&t=2"),
        ("https://localhost/path?r=1&t=2", None, "https://localhost/path?r=1&t=2"),
        ("https://localhost/path#tab", [("y", "y")], "https://localhost/path?y=y#tab"),
        ("https://localhost/path", [("y", "y1"), ("y", "y2")], "https://localhost/path?y=y1&y=y2"),
        ("https://localhost/path?r=1&r=2", [("y", "y")], "https://localhost/path?r=1&r=2&y=y"),
        ("https://localhost/path", {"y": "y"}, "https://localhost/path?y=y"),
        ("/rel;params?q=%20a", (("k", "v w"),), "/rel;params?q=+a&k=v+w"),
        ("http://h/p?a=%2F", {"é": "ü"}, "http://h/p?a=%2F&%C3%A9=%C3%BC"),
        ("", {"a": "b"}, "?a=b"),
    ],
)
def test_url_concat(url, args, expected):
    assert url_concat(url, args) == expected
    assert t_httputil.url_concat(url, args) == expected


def test_url_concat_bad_args():
    ours = outcome(url_concat, "/", "a=b")
    assert ours == outcome(t_httputil.url_concat, "/", "a=b")
    assert ours[1] == "TypeError"


# --- qs_to_qsl, split_host_and_port, encode_username_password -----------------------


def test_qs_to_qsl():
    qs = urllib.parse.parse_qs("a=1&b=2&a=3")
    assert list(qs_to_qsl(qs)) == [("a", "1"), ("a", "3"), ("b", "2")]
    assert list(qs_to_qsl({"x": [b"1", b"2"]})) == [("x", b"1"), ("x", b"2")]


@pytest.mark.parametrize(
    "netloc",
    [
        "example.com",
        "example.com:8080",
        "[::1]:80",
        "[::1]",
        "a:b:1",
        ":80",
        "a:",
        "a:80\n",
        "a:\u0663",
        "host:port",
        "",
        "::",
        "a:1:",
    ],
)
def test_split_host_and_port(netloc):
    both("split_host_and_port", netloc)


def test_split_host_and_port_linear():
    assert_linear(lambda n: split_host_and_port(":1" * n + "x"), 5_000)


@pytest.mark.parametrize(
    "user, password",
    [("user", "pass"), ("u\u0301ser", "p\u00e1ss"), (b"raw", "x"), ("a:b", b"\xff"), ("", "")],
)
def test_encode_username_password(user, password):
    both("encode_username_password", user, password)


def test_encode_username_password_normalises():
    assert encode_username_password("e\u0301", "x") == "\u00e9:x".encode()


# --- ranges ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "bytes=1-2",
        "bytes=6-",
        "bytes=-6",
        "bytes=-0",
        "bytes=",
        "foo=42",
        "bytes=1-2,6-10",
        " bytes = 3 - 4 ",
        "bytes=a-b",
        "bytes=+1-_2",
        "bytes=0-0",
        "bytes=-",
        "bytes",
        "bytes=1_0-",
    ],
)
def test_parse_request_range(header):
    both("_parse_request_range", header)


@FUZZ
@given(st.text(alphabet=st.sampled_from(list("bytes=-0123, +_a"))))
def test_parse_request_range_fuzz(header):
    both("_parse_request_range", header)


@pytest.mark.parametrize(
    "start, end, total", [(None, 1, 4), (1, 3, 4), (None, None, 4), (0, 0, 10), (5, None, 10)]
)
def test_get_content_range(start, end, total):
    assert _get_content_range(start, end, total) == t_httputil._get_content_range(start, end, total)


def test_int_or_none():
    assert _int_or_none(" 5 ") == 5
    assert _int_or_none("") is None
    assert _int_or_none("   ") is None
    with pytest.raises(ValueError):
        _int_or_none("x")


# --- format_timestamp ------------------------------------------------------------------

TIMESTAMP = 1359312200.503611
EXPECTED = "Sun, 27 Jan 2013 18:43:20 GMT"


@pytest.mark.parametrize(
    "value",
    [
        TIMESTAMP,
        int(TIMESTAMP),
        time.gmtime(TIMESTAMP),
        tuple(time.gmtime(TIMESTAMP)),
        datetime.datetime.fromtimestamp(TIMESTAMP, datetime.timezone.utc).replace(tzinfo=None),
        datetime.datetime.fromtimestamp(TIMESTAMP, datetime.timezone.utc),
        datetime.datetime.fromtimestamp(TIMESTAMP, datetime.timezone(datetime.timedelta(hours=-4))),
    ],
)
def test_format_timestamp(value):
    assert format_timestamp(value) == EXPECTED
    assert t_httputil.format_timestamp(value) == EXPECTED


@FUZZ
@given(
    st.floats(min_value=-62135596800, max_value=253402300799, allow_nan=False)
    | st.integers(min_value=-62135596800, max_value=253402300799)
)
@example(1.9999999)
@example(-0.5)
@example(True)
def test_format_timestamp_fuzz(ts):
    both("format_timestamp", ts)


@pytest.mark.parametrize("bad", ["2013", None, float("nan"), float("inf"), 1e20, object()])
def test_format_timestamp_errors(bad):
    both("format_timestamp", bad)


# --- _parseparam and _parse_header ------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        'form-data; name="files"; filename="ab.txt"',
        'form-data; foo="b\\\\a\\"r"; file*=utf-8\'\'T%C3%A4st',
        'form-data; name="a;b"; x=y',
        'x="a;b;c;d";e',
        'x="a\\";b";c',
        '"";"',
        'a";b;c;d;"e;f',
        "permessage-deflate; client_max_window_bits; server_no_context_takeover",
        "",
        ";;;",
        "A; B=1; b=2",
        "a; n*=x; n*0=y",
        "a; n*0=x; n*1=y",
        "a; n*0*=utf-8''%C3; n*1*=%A9",
        "a; f*=bad''%ZZ",
        "a; f*=iso-8859-1'en'%E9",
        'a; f="\\\\"',
        "a; = ; =x; y=",
        'form-data; name="f"; filename="x"; filename*=UTF-8\'\'%C3%A1b.txt',
    ],
)
def test_parse_header_like_tornado(line):
    both("_parse_header", line)
    assert list(_parseparam(";" + line)) == list(t_httputil._parseparam(";" + line))


PARAM_ALPHABET = st.sampled_from(list(";\"\\= a*'%C3") + ["utf-8''", "%A9"])


@FUZZ
@given(st.lists(PARAM_ALPHABET, max_size=30).map("".join))
def test_parse_header_fuzz(line):
    assert list(_parseparam(";" + line)) == list(t_httputil._parseparam(";" + line))
    assert outcome(_parse_header, line) == outcome(t_httputil._parse_header, line)


def test_parseparam_requires_leading_semicolon():
    assert list(_parseparam("abc")) == list(t_httputil._parseparam("abc")) == []


def test_parse_header_doc_example():
    ct, params = _parse_header('form-data; foo="b\\\\a\\"r"; file*=utf-8\'\'T%C3%A4st')
    assert ct == "form-data"
    assert params["file"] == "T\u00e4st"
    assert params["foo"] == 'b\\a"r'


def test_parse_header_linear():
    # CVE-2025-67726
    assert_linear(lambda n: _parse_header('form-data; x="' + ";" * n + '"; name="f"'), 1_000)
    assert_linear(lambda n: _parse_header("form-data" + "; a=b" * n), 1_000)


def test_encode_header():
    for key, params in [
        ("permessage-deflate", {"client_max_window_bits": 15, "client_no_context_takeover": None}),
        ("a", {}),
        ("a", {"z": "1", "b": None}),
    ]:
        both("_encode_header", key, params)


# --- urlencoded bodies -----------------------------------------------------------------


def parse_both(content_type, body, headers=None, config=None):
    """Run parse_body_arguments in both implementations; return our (args, files)."""
    results = []
    for module in (httputil, t_httputil):
        args: dict = {}
        files: dict = {}
        h = None
        if headers is not None:
            h = module.HTTPHeaders(headers)
        kwargs = {}
        if config is not None:
            kwargs["config"] = config(module)
        res = outcome(module.parse_body_arguments, content_type, body, args, files, h, **kwargs)
        if res[0] == "ok":
            res = ("ok", args, {k: [dict(f) for f in v] for k, v in files.items()})
        results.append(res)
    assert results[0] == results[1]
    return results[0]


def test_urlencoded():
    assert parse_both("application/x-www-form-urlencoded", b"a=1&b=2&a=3") == (
        "ok",
        {"a": [b"1", b"3"], "b": [b"2"]},
        {},
    )


@pytest.mark.parametrize(
    "body",
    [b"", b"a", b"a=", b"&&", b"a=%41%zz&+=+", b"\xff=\xfe", b"a=1;b=2", b"%E9=%E9", b"==&=="],
)
@pytest.mark.parametrize(
    "content_type",
    [
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=utf-8",
        "application/x-www-form-urlencodedXYZ",
        "text/plain",
        "",
    ],
)
def test_urlencoded_like_tornado(body, content_type):
    parse_both(content_type, body)


def test_urlencoded_limit():
    ok = b"".join(b"a=1&" for _ in range(999)) + b"a=1"
    assert len(parse_both("application/x-www-form-urlencoded", ok)[1]["a"]) == 1000
    too_many = b"".join(b"a=1&" for _ in range(1001))
    result = parse_both("application/x-www-form-urlencoded", too_many)
    assert result[1] == "HTTPInputError"
    assert "Max number of fields exceeded" in result[2]
    with pytest.raises(HTTPInputError) as info:
        parse_body_arguments("application/x-www-form-urlencoded", too_many, {}, {})
    assert info.value.code == 400


def test_urlencoded_limit_from_config():
    result = parse_both(
        "application/x-www-form-urlencoded",
        b"a&b&c",
        config=lambda m: m.ParseBodyConfig(urlencoded=m.ParseUrlEncodedConfig(max_arguments=2)),
    )
    assert result[1] == "HTTPInputError"


def test_content_encoding_rejected():
    for ct in ("application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        result = parse_both(ct, b"a=1", headers={"Content-Encoding": "gzip"})
        assert result == ("error", "HTTPInputError", "Unsupported Content-Encoding: gzip")
    # An empty HTTPHeaders is falsy and checks nothing.
    assert parse_both("application/x-www-form-urlencoded", b"a=1", headers={})[0] == "ok"


def test_urlencoded_linear():
    body = lambda n: b"a=" + b"%41" * n + b"&b=" + b"x+" * n
    assert_linear(
        lambda n: parse_body_arguments("application/x-www-form-urlencoded", body(n), {}, {}), 10_000
    )


# --- multipart bodies --------------------------------------------------------------------


def crlf(s: bytes) -> bytes:
    return s.replace(b"\n", b"\r\n")


FILE_UPLOAD = crlf(b"""--1234
Content-Disposition: form-data; name="files"; filename="ab.txt"

Foo
--1234--""")


def multipart_both(boundary, data, config=None):
    results = []
    for module in (httputil, t_httputil):
        args: dict = {}
        files: dict = {}
        kwargs = {} if config is None else {"config": config(module)}
        res = outcome(module.parse_multipart_form_data, boundary, data, args, files, **kwargs)
        if res[0] == "ok":
            res = ("ok", args, {k: [dict(f) for f in v] for k, v in files.items()})
        results.append(res)
    assert results[0] == results[1]
    return results[0]


def test_file_upload():
    args: dict = {}
    files: dict = {}
    parse_multipart_form_data(b"1234", FILE_UPLOAD, args, files)
    f = files["files"][0]
    assert isinstance(f, HTTPFile)
    assert f["filename"] == f.filename == "ab.txt"
    assert f["body"] == f.body == b"Foo"
    assert f.content_type == "application/unknown"
    assert multipart_both(b"1234", FILE_UPLOAD)[0] == "ok"


def test_httpfile_is_a_dict_with_attributes():
    f = HTTPFile(filename="a", body=b"b", content_type="c")
    assert f == {"filename": "a", "body": b"b", "content_type": "c"}
    f.extra = 1
    assert f["extra"] == 1
    with pytest.raises(AttributeError):
        f.missing  # noqa: B018
    assert pickle.loads(pickle.dumps(f)) == f


def multipart(headers: bytes, value: bytes = b"Foo", boundary: bytes = b"1234") -> bytes:
    return b"--" + boundary + b"\r\n" + headers + b"\r\n\r\n" + value + b"\r\n--" + boundary + b"--"


MULTIPART_CASES = {
    "file": FILE_UPLOAD,
    "unquoted names": multipart(b"Content-Disposition: form-data; name=files; filename=ab.txt"),
    "plain field": multipart(b'Content-Disposition: form-data; name="f"'),
    "content type": multipart(
        b'Content-Disposition: form-data; name="f"; filename="a"\r\nContent-Type: text/x'
    ),
    "rfc5987": multipart(
        b'Content-Disposition: form-data; name="files"; filename="ab.txt"; '
        b"filename*=UTF-8''%C3%A1b.txt"
    ),
    "raw utf8 filename": multipart(
        'Content-Disposition: form-data; name="files"; filename="测试.txt"'.encode()
    ),
    "missing headers": crlf(b"--1234\n\nFoo\n--1234--"),
    "invalid disposition": multipart(
        b'Content-Disposition: invalid; name="files"; filename="ab.txt"'
    ),
    "no crlf before boundary": crlf(
        b'--1234\nContent-Disposition: form-data; name="files"; filename="ab.txt"\n\nFoo--1234--'
    ),
    "no name": multipart(b'Content-Disposition: form-data; filename="ab.txt"'),
    "empty name": multipart(b'Content-Disposition: form-data; name=""'),
    "empty filename": multipart(b'Content-Disposition: form-data; name="n"; filename=""'),
    "data after final boundary": FILE_UPLOAD + b"\r\n",
    "junk after final boundary": FILE_UPLOAD + b"\r\n--1234\r\njunk",
    "no final boundary": crlf(b'--1234\nContent-Disposition: form-data; name="a"\n\nFoo\n--1234'),
    "preamble": b"preamble text\r\n" + FILE_UPLOAD,
    "two values": crlf(
        b'--1234\nContent-Disposition: form-data; name="a"\n\n1\n'
        b'--1234\nContent-Disposition: form-data; name="a"\n\n2\n--1234--'
    ),
    "empty body": b"--1234--",
    "value with boundary-like text": multipart(
        b'Content-Disposition: form-data; name="a"', b"--1234x\r\n--123"
    ),
    "cr in header": multipart(b'Content-Disposition: form-data; name="a"; filename="a\rb.txt"'),
    "nul in header": multipart(b'Content-Disposition: form-data; name="a"; filename="a\x00b.txt"'),
    "bs in header": multipart(b'Content-Disposition: form-data; name="a"; filename="a\x08b.txt"'),
    "lf-only header lines": b'--1234\r\nX: y\nContent-Disposition: form-data; name="a"\r\n\r\nv\r\n--1234--',
    "header without colon": multipart(b'Content-Disposition form-data; name="a"'),
    "folded header": multipart(b'Content-Disposition: form-data;\r\n name="a"'),
    "bad header name": multipart(b'Content Disposition: form-data; name="a"'),
    "non-utf8 header": multipart(b'Content-Disposition: form-data; name="\xff"'),
    "rfc2231 mixed": multipart(b"Content-Disposition: form-data; name=a; n*=x; n*0=y"),
    "only crlf part": b"--1234\r\n\r\n\r\n--1234--",
    "tiny part": b"--1234\r\n\r\n\r\n\r\n--1234--",
    "bare crlf part": b"--1234\r\n\r\n--1234--",
    "missing crlf after value": b'--1234\r\nContent-Disposition: form-data; name="a"\r\n\r\nv--1234--',
    "boundary twice in a row": b"--1234\r\n--1234\r\n--1234--",
}


@pytest.mark.parametrize("case", sorted(MULTIPART_CASES))
@pytest.mark.parametrize("boundary", [b"1234", b'"1234"'])
def test_multipart_like_tornado(case, boundary):
    multipart_both(boundary, MULTIPART_CASES[case])


@pytest.mark.parametrize(
    "filename",
    [
        "a;b.txt",
        'a"b.txt',
        'a";b.txt',
        'a;"b.txt',
        'a";";.txt',
        'a\\"b.txt',
        "a\\b.txt",
        "a b.txt",
        "a\tb.txt",
    ],
)
def test_special_filenames(filename):
    quoted = filename.replace("\\", "\\\\").replace('"', '\\"')
    data = multipart(f'Content-Disposition: form-data; name="files"; filename="{quoted}"'.encode())
    result = multipart_both(b"1234", data)
    assert result[2]["files"][0]["filename"] == filename


@pytest.mark.parametrize("filename", ["a\rb.txt", "a\0b.txt", "a\x08b.txt"])
def test_invalid_filename_chars(filename):
    data = multipart(
        f'Content-Disposition: form-data; name="files"; filename="{filename}"'.encode()
    )
    with pytest.raises(HTTPInputError, match="Invalid header value"):
        parse_multipart_form_data(b"1234", data, {}, {})


def test_non_ascii_filename_rfc5987():
    args: dict = {}
    files: dict = {}
    parse_multipart_form_data(b"1234", MULTIPART_CASES["rfc5987"], args, files)
    assert files["files"][0]["filename"] == "áb.txt"


@pytest.mark.parametrize(
    "content_type",
    [
        "multipart/form-data; boundary=1234",
        'multipart/form-data; boundary="1234"',
        "multipart/form-data;boundary=1234;charset=x",
        "multipart/form-data; charset=x; boundary=1234",
        "multipart/form-data",
        "multipart/form-data; boundary=",
        "multipart/form-dataxyz; boundary=1234",
        "multipart/form-data ; boundary=1234",
        "multipart/form-data; boundary=12",
        "multipart/form-data; BOUNDARY=1234",
        "multipart/form-data; boundary=\u00e9",
    ],
)
@pytest.mark.parametrize(
    "case", ["file", "missing headers", "no final boundary", "non-utf8 header", "rfc2231 mixed"]
)
def test_parse_body_multipart_like_tornado(content_type, case):
    parse_both(content_type, MULTIPART_CASES[case])


def test_parse_body_multipart_errors_are_input_errors():
    for case in (
        "missing headers",
        "no final boundary",
        "non-utf8 header",
        "rfc2231 mixed",
        "no name",
    ):
        with pytest.raises(HTTPInputError) as info:
            parse_body_arguments(
                "multipart/form-data; boundary=1234", MULTIPART_CASES[case], {}, {}
            )
        assert str(info.value).startswith("Invalid multipart/form-data: ")


def _parts(n, boundary=b"1234"):
    part = b"--" + boundary + b'\r\nContent-Disposition: form-data; name="a"\r\n\r\nv\r\n'
    return part * n + b"--" + boundary + b"--\r\n"


@pytest.mark.parametrize("n", [0, 1, 98, 99, 100, 101, 5000])
def test_multipart_part_limit_like_tornado(n):
    result = multipart_both(b"1234", _parts(n))
    if n < 100:
        assert result[0] == "ok"
        assert len(result[1].get("a", [])) == n
    else:
        assert result == ("error", "HTTPInputError", "multipart/form-data has too many parts")


def test_multipart_part_limit_checked_before_parsing_parts():
    # 100 000 broken parts: one error from the count, no part is looked at.
    data = b"--1234\r\nbroken\r\n" * 100_000 + b"--1234--"
    with pytest.raises(HTTPInputError, match="too many parts"):
        parse_multipart_form_data(b"1234", data, {}, {})
    assert (
        peak_memory(lambda: outcome(parse_multipart_form_data, b"1234", data, {}, {})) < 1024 * 1024
    )


def test_multipart_part_header_size_limit():
    limit = ParseMultipartConfig().max_part_header_size
    base = b'Content-Disposition: form-data; name="a"\r\nX: '
    fits = base + b"x" * (limit - len(base))
    assert len(fits) == limit
    assert multipart_both(b"1234", multipart(fits))[0] == "ok"
    too_big = fits + b"x"
    assert multipart_both(b"1234", multipart(too_big)) == (
        "error",
        "HTTPInputError",
        "multipart/form-data part header too large",
    )


def test_multipart_config_like_tornado():
    body = crlf(b"""--1234
Content-Disposition: form-data; name="files"; filename="ab.txt"

--1234--""")
    assert multipart_both(b"1234", body, config=lambda m: m.ParseMultipartConfig())[0] == "ok"
    assert (
        "too many parts"
        in multipart_both(b"1234", body, config=lambda m: m.ParseMultipartConfig(max_parts=0))[2]
    )
    assert (
        "header too large"
        in multipart_both(
            b"1234", body, config=lambda m: m.ParseMultipartConfig(max_part_header_size=10)
        )[2]
    )
    assert (
        "parsing is disabled"
        in multipart_both(b"1234", body, config=lambda m: m.ParseMultipartConfig(enabled=False))[2]
    )


def test_set_parse_body_config_disables_multipart():
    content_type = "multipart/form-data; boundary=foo"
    parse_body_arguments(content_type, b"--foo--\r\n", {}, {})
    try:
        set_parse_body_config(ParseBodyConfig(multipart=ParseMultipartConfig(enabled=False)))
        with pytest.raises(HTTPInputError, match="multipart/form-data parsing is disabled"):
            parse_body_arguments(content_type, b"--foo--\r\n", {}, {})
        with pytest.raises(HTTPInputError, match="disabled"):
            parse_multipart_form_data(b"foo", b"--foo--\r\n", {}, {})
    finally:
        set_parse_body_config(ParseBodyConfig())
    parse_body_arguments(content_type, b"--foo--\r\n", {}, {})


def test_malformed_parts_never_log(caplog):
    # CVE-2025-47287: thousands of malformed parts used to log a warning each.
    caplog.set_level(logging.DEBUG)
    data = b"--1234\r\n\r\n" * 99 + b"--1234--"
    with pytest.raises(HTTPInputError):
        parse_body_arguments("multipart/form-data; boundary=1234", data, {}, {})
    assert caplog.records == []


MULTIPART_PIECES = st.sampled_from(
    [
        b"--B\r\n",
        b"--B--",
        b"--B",
        b"\r\n",
        b"\r\n\r\n",
        b"\r",
        b"\n",
        b"x",
        b":",
        b";",
        b'Content-Disposition: form-data; name="a"',
        b'; filename="f"',
        b"Content-Type: t",
        b"\xff",
        b"\x00",
        b"X: y",
        b" ",
        b'"',
    ]
)


@FUZZ
@given(st.lists(MULTIPART_PIECES, max_size=25).map(b"".join), st.integers(0, 4))
def test_multipart_fuzz_like_tornado(data, max_parts):
    multipart_both(b"B", data)
    multipart_both(b"B", data, config=lambda m: m.ParseMultipartConfig(max_parts=max_parts))


def test_multipart_disposition_linear():
    # CVE-2025-67726, through the multipart parser.
    def f(n):
        message = (
            b"--1234\r\nContent-Disposition: form-data; "
            + b'x="'
            + b";" * n
            + b'"; '
            + b'name="files"; filename="a.txt"\r\n\r\nFoo\r\n--1234--\r\n'
        )
        parse_multipart_form_data(b"1234", message, {}, {})

    assert_linear(f, 1_000)


def test_multipart_large_value_linear_and_small():
    bodies = {}

    def f(n):
        if n not in bodies:
            bodies[n] = multipart(b'Content-Disposition: form-data; name="a"', b"x" * n)
        parse_multipart_form_data(b"1234", bodies[n], {}, {})

    # Both sizes above malloc's mmap threshold, so both pay the same per byte.
    assert_linear(f, 300_000)
    body = multipart(b'Content-Disposition: form-data; name="a"', b"x" * 1_000_000)
    assert peak_memory(parse_multipart_form_data, b"1234", body, {}, {}) < 1.5 * len(body)


def test_multipart_memory_many_parts():
    part = (
        b"--1234\r\n"
        b'Content-Disposition: form-data; name="a"; filename="b"\r\n'
        b"Content-Type: text/plain\r\n\r\n\r\n"
    )
    body = part * 99 + b"--1234--\r\n"
    files: dict = {}
    assert peak_memory(parse_multipart_form_data, b"1234", body, {}, files) < 10 * len(body)


# --- HTTPServerRequest._parse_body ----------------------------------------------------


def test_parse_body_merges_arguments():
    h = HTTPHeaders({"Host": "x", "Content-Type": "application/x-www-form-urlencoded"})
    r = HTTPServerRequest(
        start_line=start("/?a=q&b=1", method="POST"), headers=h, body=b"a=body&c=2"
    )
    r._parse_body()
    assert r.body_arguments == {"a": [b"body"], "c": [b"2"]}
    assert r.query_arguments == {"a": [b"q"], "b": [b"1"]}
    assert r.arguments == {"a": [b"q", b"body"], "b": [b"1"], "c": [b"2"]}


def test_parse_body_multipart_files():
    h = HTTPHeaders({"Host": "x", "Content-Type": "multipart/form-data; boundary=1234"})
    r = HTTPServerRequest(start_line=start(method="POST"), headers=h, body=FILE_UPLOAD)
    r._parse_body()
    assert r.files["files"][0].filename == "ab.txt"
    assert r.arguments == {}


def test_parse_body_without_content_type_is_ignored():
    r = HTTPServerRequest(start_line=start(version="HTTP/1.0", method="POST"), body=b"a=1")
    r._parse_body()
    assert r.body_arguments == {} and r.files == {}


def test_parse_body_error_is_input_error():
    h = HTTPHeaders({"Host": "x", "Content-Type": "multipart/form-data; boundary=1234"})
    r = HTTPServerRequest(start_line=start(method="POST"), headers=h, body=b"garbage")
    with pytest.raises(HTTPInputError):
        r._parse_body()
