"""Tests for embedtornado.httputil, side by side with tornado.httputil 6.6.1."""

from __future__ import annotations

import copy
import datetime
import gc
import http.client
import http.cookies
import inspect
import logging
import pickle
import ssl
import time
import tracemalloc
import urllib.parse
import warnings

import pytest
import tornado.httputil as t_httputil
from hypothesis import example, given, settings
from hypothesis import strategies as st

import embedtornado._httpdefs as httpdefs
from embedtornado import httputil
from embedtornado.httputil import (
    HTTPFile,
    HTTPHeaders,
    HTTPInputError,
    HTTPServerRequest,
    ParseBodyConfig,
    ParseMultipartConfig,
    ParseUrlEncodedConfig,
    RequestStartLine,
    ResponseStartLine,
    _get_content_range,
    _int_or_none,
    _normalize_header,
    _parse_header,
    _parseparam,
    encode_username_password,
    format_timestamp,
    parse_body_arguments,
    parse_cookie,
    parse_multipart_form_data,
    parse_request_start_line,
    parse_response_start_line,
    qs_to_qsl,
    set_parse_body_config,
    split_host_and_port,
    url_concat,
)

FUZZ = settings(max_examples=300, deadline=None)


def outcome(func, *args, **kwargs):
    """The result of a call, or the exception's class name and message."""
    try:
        return ("ok", func(*args, **kwargs))
    except Exception as e:  # noqa: BLE001 - compared with the other implementation
        return ("error", type(e).__name__, str(e))


def both(name, *args, **kwargs):
    """Call ``name`` in both modules; assert the same outcome and return ours."""
    ours = outcome(getattr(httputil, name), *args, **kwargs)
    theirs = outcome(getattr(t_httputil, name), *args, **kwargs)
    assert ours == theirs, (name, args, kwargs)
    return ours


def _cost(func, n, min_time=0.03):
    iterations = 1
    while True:
        start = time.perf_counter()
        for _ in range(iterations):
            func(n)
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            return elapsed / iterations
        iterations *= 2


def assert_linear(func, n, *, factor=10, max_ratio=20, attempts=3):
    """Fail if func(factor * n) costs more than max_ratio times func(n)."""
    ratio = 0.0
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(attempts):
            func(n)
            small = min(_cost(func, n) for _ in range(3))
            large = min(_cost(func, n * factor) for _ in range(3))
            ratio = large / small
            if ratio < max_ratio:
                return
    finally:
        if gc_was_enabled:
            gc.enable()
    raise AssertionError(f"not linear: ratio {ratio:.1f} for x{factor} input")


def peak_memory(func, *args):
    tracemalloc.start()
    try:
        func(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def start(uri="/", version="HTTP/1.1", method="GET"):
    return RequestStartLine(method, uri, version)


# --- API surface ----------------------------------------------------------------------


def _public_names(module):
    return sorted(
        name
        for name, obj in vars(module).items()
        if not name.startswith("__")
        and (inspect.isclass(obj) or inspect.isfunction(obj) or name.isupper())
        and getattr(obj, "__module__", module.__name__) == module.__name__
    )


# Tornado's cookie-unquoting regex helpers are private; ours have other names.
TORNADO_NAMES = [n for n in _public_names(t_httputil) if n != "_unquote_replace"]


@pytest.mark.parametrize("name", TORNADO_NAMES)
def test_every_tornado_name_exists(name):
    assert hasattr(httputil, name)


CALLABLES = [n for n in TORNADO_NAMES if inspect.isfunction(getattr(t_httputil, n))]


@pytest.mark.parametrize("name", CALLABLES)
def test_function_signature_matches(name):
    ours = inspect.signature(getattr(httputil, name))
    theirs = inspect.signature(getattr(t_httputil, name))
    assert [(p.name, p.kind, p.default) for p in ours.parameters.values()] == [
        (p.name, p.kind, p.default) for p in theirs.parameters.values()
    ]


INTERFACE_METHODS = [
    ("HTTPServerConnectionDelegate", "start_request"),
    ("HTTPServerConnectionDelegate", "on_close"),
    ("HTTPMessageDelegate", "headers_received"),
    ("HTTPMessageDelegate", "data_received"),
    ("HTTPMessageDelegate", "finish"),
    ("HTTPMessageDelegate", "on_connection_close"),
    ("HTTPConnection", "write_headers"),
    ("HTTPConnection", "write"),
    ("HTTPConnection", "finish"),
    ("HTTPHeaders", "add"),
    ("HTTPHeaders", "get_list"),
    ("HTTPHeaders", "get_all"),
    ("HTTPHeaders", "parse_line"),
    ("HTTPHeaders", "parse"),
    ("HTTPHeaders", "copy"),
    ("HTTPServerRequest", "__init__"),
    ("HTTPServerRequest", "full_url"),
    ("HTTPServerRequest", "request_time"),
    ("HTTPServerRequest", "get_ssl_certificate"),
    ("HTTPServerRequest", "_parse_body"),
]


@pytest.mark.parametrize("cls, method", INTERFACE_METHODS)
def test_method_signature_matches(cls, method):
    ours = inspect.signature(getattr(getattr(httputil, cls), method))
    theirs = inspect.signature(getattr(getattr(t_httputil, cls), method))
    assert [(p.name, p.kind, p.default) for p in ours.parameters.values()] == [
        (p.name, p.kind, p.default) for p in theirs.parameters.values()
    ]


def test_interfaces_default_behaviour():
    delegate = httputil.HTTPServerConnectionDelegate()
    with pytest.raises(NotImplementedError):
        delegate.start_request(object(), httputil.HTTPConnection())
    assert delegate.on_close(object()) is None
    message = httputil.HTTPMessageDelegate()
    assert message.headers_received(start(), HTTPHeaders()) is None
    assert message.data_received(b"x") is None
    assert message.finish() is None
    assert message.on_connection_close() is None
    conn = httputil.HTTPConnection()
    for call in (
        lambda: conn.write_headers(ResponseStartLine("HTTP/1.1", 200, "OK"), HTTPHeaders()),
        lambda: conn.write(b"x"),
        conn.finish,
    ):
        with pytest.raises(NotImplementedError):
            call()


def test_errors_are_the_shared_ones():
    assert httputil.HTTPInputError is httpdefs.HTTPInputError
    assert httputil.HTTPOutputError is httpdefs.HTTPOutputError
    for name in (
        "RequestURITooLong",
        "PayloadTooLarge",
        "RequestHeaderFieldsTooLarge",
        "TransferCodingNotImplemented",
        "HTTPVersionNotSupported",
    ):
        assert getattr(httputil, name) is getattr(httpdefs, name)
        assert issubclass(getattr(httputil, name), HTTPInputError)


def test_responses_equals_http_client_responses():
    # Built from http.HTTPStatus as http.client builds its own, so a server does
    # not import http.client (and its email parser) at start-up.
    assert httputil.responses == http.client.responses
    assert httputil.HTTP_WHITESPACE == t_httputil.HTTP_WHITESPACE


def test_default_configs_match_tornado():
    assert dataclass_fields(ParseBodyConfig()) == dataclass_fields(t_httputil.ParseBodyConfig())
    assert ParseMultipartConfig().max_parts == 100
    assert ParseMultipartConfig().max_part_header_size == 10 * 1024
    assert ParseMultipartConfig().enabled is True
    assert ParseUrlEncodedConfig().max_arguments == 1000


def dataclass_fields(obj):
    import dataclasses

    return dataclasses.asdict(obj)


# --- _normalize_header ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "content-type",
        "coNtent-TYPE",
        "X",
        "x-",
        "-x",
        "a--b",
        "ETAG",
        "www-authenticate",
        "x_y-z",
        "1a-2b",
        "",
        "\u00dfx-\u00e9a",
        "ǆx",
    ],
)
def test_normalize_header(name):
    assert _normalize_header(name) == t_httputil._normalize_header(name)


@FUZZ
@given(st.text(alphabet=st.sampled_from(list("aZ-_9 é\u01c6ß"))))
def test_normalize_header_fuzz(name):
    assert _normalize_header(name) == t_httputil._normalize_header(name)


# --- HTTPHeaders: Tornado's own cases ----------------------------------------------------------


def test_doc_example():
    h = HTTPHeaders({"content-type": "text/html"})
    assert list(h.keys()) == ["Content-Type"]
    assert h["Content-Type"] == "text/html"
    h.add("Set-Cookie", "A=B")
    h.add("Set-Cookie", "C=D")
    assert h["set-cookie"] == "A=B,C=D"
    assert h.get_list("set-cookie") == ["A=B", "C=D"]
    assert sorted(h.get_all()) == [
        ("Content-Type", "text/html"),
        ("Set-Cookie", "A=B"),
        ("Set-Cookie", "C=D"),
    ]


def test_folding_rejected():
    with pytest.raises(HTTPInputError, match="folding not supported"):
        HTTPHeaders.parse("Foo: bar\r\n\tasdf")
    with pytest.raises(HTTPInputError):
        HTTPHeaders.parse("Foo: bar\r\n asdf\r\n")


@pytest.mark.parametrize("c", range(0x100))
def test_forbidden_ascii_characters(c):
    data = f"Foo: bar{chr(c)}baz\r\n"
    if c == 0x09 or (c >= 0x20 and c != 0x7F):
        assert HTTPHeaders.parse(data)["Foo"] == f"bar{chr(c)}baz"
    else:
        with pytest.raises(HTTPInputError):
            HTTPHeaders.parse(data)
    assert (
        outcome(lambda: list(HTTPHeaders.parse(data).get_all()))[0]
        == outcome(lambda: list(t_httputil.HTTPHeaders.parse(data).get_all()))[0]
    )


@pytest.mark.parametrize(
    "encoded",
    [
        c.encode(enc)
        for c in ("\u0085", "\u2028", "\u2029")
        for enc in ("utf8", "latin1")
        if enc == "utf8" or c == "\u0085"
    ],
)
def test_unicode_newlines_are_not_line_breaks(encoded):
    data = (b"Cookie: foo=" + encoded + b"bar").decode("latin1")
    headers = HTTPHeaders.parse(data)
    assert list(headers.get_all()) == [("Cookie", "foo=" + encoded.decode("latin1") + "bar")]


@pytest.mark.parametrize(
    "c, stripped", [(" ", True), ("\t", True), ("\u00a0", False), ("\u0085", False)]
)
def test_only_sp_and_htab_are_stripped(c, stripped):
    headers = HTTPHeaders.parse(f"Transfer-Encoding: {c}chunked{c}")
    value = "chunked" if stripped else f"{c}chunked{c}"
    assert list(headers.get_all()) == [("Transfer-Encoding", value)]


def test_optional_cr():
    with pytest.raises(HTTPInputError):
        HTTPHeaders.parse("CRLF: crlf\r\nLF: lf\nCR: cr\rMore: more\r\n")
    headers = HTTPHeaders.parse("CRLF: crlf\r\nLF: lf\nMore: more\r\n")
    assert list(headers.get_all()) == [("Crlf", "crlf"), ("Lf", "lf"), ("More", "more")]


def test_copy():
    all_pairs = [("A", "1"), ("A", "2"), ("B", "c")]
    h1 = HTTPHeaders()
    for k, v in all_pairs:
        h1.add(k, v)
    h2 = h1.copy()
    h3 = copy.copy(h1)
    h4 = copy.deepcopy(h1)
    for headers in [h1, h2, h3, h4]:
        assert sorted(headers.get_all()) == all_pairs
    for headers in [h2, h3, h4]:
        assert headers is not h1
        assert headers.get_list("A") is not h1.get_list("A")
        assert type(headers) is HTTPHeaders
    h2.add("A", "3")
    assert h1.get_list("A") == ["1", "2"]


def test_copy_revalidates_like_tornado():
    for cls in (HTTPHeaders, t_httputil.HTTPHeaders):
        h = cls()
        h["X"] = "bad\x00value"  # __setitem__ does not validate
        with pytest.raises(Exception) as info:
            h.copy()
        assert type(info.value).__name__ == "HTTPInputError"


def test_pickle_roundtrip():
    headers = HTTPHeaders()
    headers.add("Set-Cookie", "a=b")
    headers.add("Set-Cookie", "c=d")
    headers.add("Content-Type", "text/html")
    _ = headers["Set-Cookie"]  # populate the cache
    unpickled = pickle.loads(pickle.dumps(headers))
    assert sorted(headers.get_all()) == sorted(unpickled.get_all())
    assert sorted(headers.items()) == sorted(unpickled.items())
    unpickled.add("Set-Cookie", "e=f")
    assert unpickled["Set-Cookie"] == "a=b,c=d,e=f"


def test_setdefault():
    headers = HTTPHeaders()
    headers["foo"] = "bar"
    assert headers.setdefault("foo", "baz") == "bar"
    assert headers["foo"] == "bar"
    assert headers.setdefault("quux", "xyzzy") == "xyzzy"
    assert headers["quux"] == "xyzzy"
    assert sorted(headers.get_all()) == [("Foo", "bar"), ("Quux", "xyzzy")]


def test_delitem():
    headers = HTTPHeaders()
    headers["foo"] = "bar"
    del headers["foo"]
    assert list(headers.get_all()) == []
    with pytest.raises(KeyError):
        del headers["foo"]
    headers.add("Set-Cookie", "a=b")
    headers.add("Set-Cookie", "c=d")
    del headers["set-cookie"]
    assert list(headers.get_all()) == []
    assert "Set-Cookie" not in headers


def test_string_roundtrip():
    headers = HTTPHeaders()
    for v in ("1", "2", "3"):
        headers.add("Foo", v)
    headers.add("Bar", "x")
    assert str(headers) == "Foo: 1\nFoo: 2\nFoo: 3\nBar: x\n"
    assert HTTPHeaders.parse(str(headers)) == headers
    assert str(headers) == str(t_httputil.HTTPHeaders.parse(str(headers)))


@pytest.mark.parametrize(
    "name",
    ["", "foo bar", "foo\tbar", "foo\nbar", "foo\x00bar", "foo ", " foo", "é", "a:b", "a\x7f"],
)
def test_invalid_header_names(name):
    with pytest.raises(HTTPInputError, match="Invalid header name"):
        HTTPHeaders().add(name, "bar")


@pytest.mark.parametrize(
    "value", [" lead", "trail ", "\tx", "x\t", "a\rb", "a\nb", "a\x00b", "\u20ac"]
)
def test_invalid_header_values(value):
    with pytest.raises(HTTPInputError, match="Invalid header value"):
        HTTPHeaders().add("X", value)
    with pytest.raises(t_httputil.HTTPInputError):
        t_httputil.HTTPHeaders().add("X", value)


@pytest.mark.parametrize("value", ["", "a", "a b\tc", "\xff\x80", "!~"])
def test_valid_header_values(value):
    h = HTTPHeaders()
    h.add("X", value)
    assert h["X"] == value


def test_add_accepts_bytes_values_like_tornado():
    for cls in (HTTPHeaders, t_httputil.HTTPHeaders):
        h = cls()
        h.add("X", b"abc")  # type: ignore[arg-type]
        assert h.get_list("X") == [b"abc"]
        with pytest.raises(Exception) as info:
            h.add("Y", b" abc")  # type: ignore[arg-type]
        assert type(info.value).__name__ == "HTTPInputError"


def test_chars_are_bytes_false_allows_unicode():
    h = HTTPHeaders.parse(
        'Content-Disposition: form-data; filename="\u6d4b"', _chars_are_bytes=False
    )
    assert h["Content-Disposition"].endswith('"\u6d4b"')
    with pytest.raises(HTTPInputError):
        HTTPHeaders.parse("X: a\x08b", _chars_are_bytes=False)


# --- HTTPHeaders: API semantics ------------------------------------------------------


@pytest.mark.parametrize(
    "args, kwargs",
    [
        ((), {}),
        (({"content-type": "text/html", "X-A": "1"},), {}),
        (([("a", "1"), ("A", "2"), ("b", "3")],), {}),
        ((), {"content_type": "x", "Host": "h"}),
        (({"a": "1"},), {"b": "2"}),
        (({"Canary": ["Coal Mine"]},), {}),
    ],
)
def test_constructor_like_tornado(args, kwargs):
    ours = HTTPHeaders(*args, **kwargs)
    theirs = t_httputil.HTTPHeaders(*args, **kwargs)
    assert list(ours.get_all()) == list(theirs.get_all())
    assert list(ours.items()) == list(theirs.items())


def test_copy_constructor():
    a = HTTPHeaders()
    a.add("X", "1")
    a.add("x", "2")
    b = HTTPHeaders(a)
    assert b.get_list("X") == ["1", "2"]
    assert b._as_list["X"] is not a._as_list["X"]


def test_get_all_groups_by_name_in_first_seen_order():
    h = HTTPHeaders()
    for name, value in [("B", "1"), ("A", "2"), ("b", "3"), ("C", "4"), ("a", "5")]:
        h.add(name, value)
    assert list(h.get_all()) == [("B", "1"), ("B", "3"), ("A", "2"), ("A", "5"), ("C", "4")]
    assert list(h) == ["B", "A", "C"]
    assert len(h) == 3


def test_getitem_and_cache_invalidation():
    h = HTTPHeaders()
    h.add("X", "1")
    assert h["x"] == "1"
    h.add("X", "2")
    assert h["X"] == "1,2"
    h.add("X", "3")
    assert h["X"] == "1,2,3"
    h["X"] = "new"
    assert h["X"] == "new"
    assert h.get_list("X") == ["new"]
    h.add("X", "more")
    assert h["X"] == "new,more"
    del h["X"]
    with pytest.raises(KeyError) as info:
        h["x"]
    assert info.value.args == ("X",)
    h.add("x", "again")
    assert h["X"] == "again"
    h.parse_line("X: line")
    assert h["X"] == "again,line"


def test_get_and_contains():
    h = HTTPHeaders()
    h.add("A", "1")
    h.add("A", "2")
    h.add("B", "")
    assert h.get("a") == "1,2"
    assert h.get("b") == ""
    assert h.get("c") is None
    assert h.get("c", "d") == "d"
    assert "a" in h and "A" in h
    assert "c" not in h
    assert 1 not in h
    assert b"A" not in h
    assert h.get_list("missing") == []


def test_equality_and_mapping_views():
    a = HTTPHeaders({"A": "1", "B": "2"})
    b = HTTPHeaders({"b": "2", "a": "1"})
    assert a == b
    assert a == {"A": "1", "B": "2"}
    assert a != {"A": "1"}
    assert dict(a) == {"A": "1", "B": "2"}
    assert list(a.values()) == ["1", "2"]
    a.update({"c": "3"}, D="4")
    assert list(a) == ["A", "B", "C", "D"]
    assert a.pop("c") == "3"
    a.clear()
    assert len(a) == 0


def test_repr():
    h = HTTPHeaders()
    h.add("A", "1")
    h.add("A", "2")
    assert repr(h) == "HTTPHeaders([('A', '1'), ('A', '2')])"
    assert repr(HTTPHeaders()) == "HTTPHeaders([])"


def test_parse_line():
    h = HTTPHeaders()
    h.parse_line("Content-Type: text/html")
    h.parse_line("Content-Length: 42\r\n")
    h.parse_line("X:  spaced\t \n")
    h.parse_line("\r\n")
    h.parse_line("")
    assert list(h.get_all()) == [
        ("Content-Type", "text/html"),
        ("Content-Length", "42"),
        ("X", "spaced"),
    ]
    with pytest.raises(HTTPInputError, match="no colon"):
        h.parse_line("nocolon\r\n")
    with pytest.raises(HTTPInputError, match="folding"):
        h.parse_line(" X: y")


@pytest.mark.parametrize(
    "line",
    [
        "a: b\n\n",
        "a: b\r\n\n",
        "a: b\n\r\n",
        "a: b\r\r\n",
        "a: b\r",
        "a: b\n",
        "\n",
        "\r\n",
        "a:b:c",
        ": x",
        "a : b",
        "a:",
        "a:\t",
        "x: \u20ac",
    ],
)
def test_parse_line_like_tornado(line):
    def run(cls):
        h = cls()
        h.parse_line(line)
        return list(h.get_all())

    assert outcome(run, HTTPHeaders) == outcome(run, t_httputil.HTTPHeaders)


HEADER_PIECES = st.sampled_from(
    [
        "X-A",
        "x-a",
        "Host",
        "a",
        ":",
        ": ",
        " ",
        "\t",
        "\r\n",
        "\n",
        "\r",
        "v",
        "v v",
        "\x00",
        "\x0b",
        "\x85",
        "\xa0",
        "\xe9",
        "\u20ac",
        "(",
        "é",
        ",",
        ";",
    ]
)


@FUZZ
@given(st.lists(HEADER_PIECES, max_size=25).map("".join), st.booleans())
@example("A: 1\r\n\r\nB: 2", True)
@example("A: 1\r\nA: 2\nA:3\r\n", True)
def test_parse_fuzz_like_tornado(data, chars_are_bytes):
    def run(cls):
        h = cls.parse(data, _chars_are_bytes=chars_are_bytes)
        return list(h.get_all()), dict(h.items()), str(h)

    assert outcome(run, HTTPHeaders) == outcome(run, t_httputil.HTTPHeaders)


OPS = st.lists(
    st.tuples(
        st.sampled_from(["add", "set", "del", "get", "get_list", "contains", "parse_line", "copy"]),
        st.sampled_from(["a", "A", "b-c", "B-C", "Set-Cookie", "bad name"]),
        st.sampled_from(["1", "2", "x y", " bad", ""]),
    ),
    max_size=30,
)


@FUZZ
@given(OPS)
def test_operation_sequences_like_tornado(ops):
    """Any sequence of operations gives the same answers as Tornado's HTTPHeaders."""
    ours, theirs = HTTPHeaders(), t_httputil.HTTPHeaders()

    def apply(h, op, name, value):
        if op == "add":
            return h.add(name, value)
        if op == "set":
            h[name] = value
            return None
        if op == "del":
            del h[name]
            return None
        if op == "get":
            return h[name]
        if op == "get_list":
            return list(h.get_list(name))
        if op == "contains":
            return name in h
        if op == "parse_line":
            return h.parse_line(f"{name}: {value}\r\n")
        return list(h.copy().get_all())

    for op, name, value in ops:
        assert outcome(apply, ours, op, name, value) == outcome(apply, theirs, op, name, value)
        assert list(ours.get_all()) == list(theirs.get_all())
        assert len(ours) == len(theirs)
        assert list(ours.items()) == list(theirs.items())
        assert str(ours) == str(theirs)


# --- HTTPHeaders: the parser contract ---------------------------------------------------------


def test_from_lists_adopts_without_copying():
    d = {"Content-Type": ["text/html"], "Set-Cookie": ["a=1", "b=2"]}
    h = HTTPHeaders._from_lists(d)
    assert type(h) is HTTPHeaders
    assert h._as_list is d
    assert h["content-type"] == "text/html"
    assert h["Set-Cookie"] == "a=1,b=2"
    h.add("Set-Cookie", "c=3")
    assert d["Set-Cookie"] == ["a=1", "b=2", "c=3"]
    assert h["Set-Cookie"] == "a=1,b=2,c=3"
    h["Content-Type"] = "x"
    assert d["Content-Type"] == ["x"]
    del h["set-cookie"]
    assert "Set-Cookie" not in d
    assert list(h.get_all()) == [("Content-Type", "x")]


def test_from_lists_does_not_renormalise():
    # The parser promises normalised names; _from_lists trusts it.
    h = HTTPHeaders._from_lists({"Content-Type": ["a"]})
    assert vars(h).keys() == {"_as_list", "_combined_cache"}
    assert "content-type" in h


def test_from_lists_subclass():
    class Sub(HTTPHeaders):
        pass

    assert type(Sub._from_lists({})) is Sub


def test_only_state_is_as_list_and_cache():
    h = HTTPHeaders({"A": "1"})
    assert set(vars(h)) == {"_as_list", "_combined_cache"}
    assert h._as_list == {"A": ["1"]}


def test_single_value_getitem_does_not_touch_the_cache():
    h = HTTPHeaders._from_lists({"A": ["1"]})
    value = h._as_list["A"][0]
    assert h["A"] is value
    assert h._combined_cache == {}


# --- HTTPHeaders: linear time (CVE-2025-67725) -------------------------------------------


def test_add_repeated_is_linear():
    def f(n):
        h = HTTPHeaders()
        for _ in range(n):
            h.add("X-Foo", "bar")

    assert_linear(f, 10_000)


def test_parse_repeated_is_linear():
    assert_linear(lambda n: HTTPHeaders.parse("X-Foo: bar\r\n" * n), 10_000)


def test_parse_100k_repeated_lines():
    h = HTTPHeaders.parse("X-Foo: bar\r\n" * 100_000)
    assert len(h.get_list("X-Foo")) == 100_000
    assert len(h["X-Foo"]) == 100_000 * 4 - 1


def test_getitem_on_many_values_is_cached():
    def f(n):
        h = HTTPHeaders._from_lists({"X": ["v"] * n})
        for _ in range(1000):
            h["X"]

    assert_linear(f, 10_000)


def test_obs_fold_flood_is_rejected_immediately():
    data = "X: a\r\n" + " b\r\n" * 50_000
    with pytest.raises(HTTPInputError):
        HTTPHeaders.parse(data)


def test_parse_memory():
    data = "".join(f"X{i}: b\r\n" for i in range(8_000))
    assert peak_memory(HTTPHeaders.parse, data) < 30 * len(data)


# --- start lines -----------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "GET /foo HTTP/1.1",
        "GET / HTTP/1.0",
        "OPTIONS * HTTP/1.1",
        "GET /é HTTP/1.1",
        "GET / HTTP/2.0",
        "GET / HTTP/1.32",
        "GET  / HTTP/1.1",
        "GET / HTTP/1.1 ",
        "G=T / HTTP/1.1",
        "GET /a\x00b HTTP/1.1",
        "GET /a\x7fb HTTP/1.1",
        "GET /\u20ac HTTP/1.1",
        "GET\t/ HTTP/1.1",
        "",
        "GET /",
        "get / http/1.1",
        "GET / HTTP/1.1\n",
    ],
)
def test_parse_request_start_line(line):
    both("parse_request_start_line", line)


def test_parse_request_start_line_fields():
    r = parse_request_start_line("GET /foo HTTP/1.1")
    assert r == RequestStartLine(method="GET", path="/foo", version="HTTP/1.1")
    assert (r.method, r.path, r.version) == ("GET", "/foo", "HTTP/1.1")
    with pytest.raises(HTTPInputError, match="Malformed HTTP request line"):
        parse_request_start_line("GET / HTTP/1.1 x")
    with pytest.raises(HTTPInputError, match="Unexpected HTTP version"):
        parse_request_start_line("GET / HTTP/2.0")


@pytest.mark.parametrize(
    "line",
    [
        "HTTP/1.1 200 OK",
        "HTTP/1.1 200",
        "HTTP/1.1 200 ",
        "HTTP/1.0 404 Not Found",
        "HTTP/2.0 200 OK",
        "HTTP/1.1 20 OK",
        "HTTP/1.1 2000 OK",
        "HTTP/1.1 200 O\tK x",
        "HTTP/1.1 200 \x00",
        "HTTP/1.1 200 caf\xe9",
        "HTTP/1.1 200 \u20ac",
    ],
)
def test_parse_response_start_line(line):
    both("parse_response_start_line", line)


def test_response_start_line_fields():
    r = parse_response_start_line("HTTP/1.1 200 OK")
    assert r == ResponseStartLine(version="HTTP/1.1", code=200, reason="OK")
    assert parse_response_start_line("HTTP/1.1 204 ").reason is None


@FUZZ
@given(st.text(alphabet=st.sampled_from(list("GET /HTP1.02\t\x00é:x"))))
def test_start_lines_fuzz(line):
    both("parse_request_start_line", line)
    both("parse_response_start_line", line)


def test_start_line_regexes_linear():
    assert_linear(
        lambda n: outcome(parse_request_start_line, "GET /" + "a" * n + " HTTP/1.1x"), 10_000
    )
    assert_linear(
        lambda n: outcome(parse_response_start_line, "HTTP/1.1 200 " + "a " * n + "\x00"), 10_000
    )


# --- HTTPServerRequest --------------------------------------------------------------


class _Context:
    remote_ip = "10.1.2.3"
    protocol = "https"


class _Conn:
    context = _Context()


def test_request_basic():
    headers = HTTPHeaders({"Host": "Example.COM:8080", "Cookie": "a=1"})
    r = HTTPServerRequest(
        start_line=start("/p/q?x=1&y=&x=2"), headers=headers, body=b"data", connection=_Conn()
    )
    assert (r.method, r.uri, r.version) == ("GET", "/p/q?x=1&y=&x=2", "HTTP/1.1")
    assert r.path == "/p/q"
    assert r.query == "x=1&y=&x=2"
    assert r.headers is headers
    assert r.body == b"data"
    assert r.remote_ip == "10.1.2.3"
    assert r.protocol == "https"
    assert r.host == "Example.COM:8080"
    assert r.host_name == "example.com"
    assert r.arguments == {"x": [b"1", b"2"], "y": [b""]}
    assert r.query_arguments == r.arguments
    assert r.query_arguments["x"] is not r.arguments["x"]
    assert r.body_arguments == {}
    assert r.files == {}
    assert r.connection is not None
    assert r.server_connection is None
    assert r.full_url() == "https://Example.COM:8080/p/q?x=1&y=&x=2"
    assert isinstance(r._start_time, float)
    assert r._finish_time is None


def test_request_defaults_without_context():
    r = HTTPServerRequest(start_line=start(version="HTTP/1.0"))
    assert r.remote_ip is None
    assert r.protocol == "http"
    assert r.host == "127.0.0.1"
    assert r.host_name == "127.0.0.1"
    assert r.body == b""
    assert isinstance(r.body, bytes)
    assert r.path == "/" and r.query == ""
    assert r.arguments == {} and r.query_arguments == {}
    assert r.full_url() == "http://127.0.0.1/"

    class NoContext:
        pass

    r = HTTPServerRequest(start_line=start(version="HTTP/1.0"), connection=NoContext())
    assert (r.remote_ip, r.protocol) == (None, "http")


def _compare_requests(**kwargs):
    def build(module):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            headers = kwargs.pop("headers_pairs", None)
            kw = dict(kwargs)
            if headers is not None:
                h = module.HTTPHeaders()
                for k, v in headers:
                    h.add(k, v)
                kw["headers"] = h
            if "start_line" in kw:
                kw["start_line"] = module.RequestStartLine(*kw["start_line"])
            r = module.HTTPServerRequest(**kw)
            return (
                r.method,
                r.uri,
                r.version,
                r.path,
                r.query,
                r.host,
                r.host_name,
                r.remote_ip,
                r.protocol,
                r.arguments,
                r.query_arguments,
                r.body,
                r.full_url(),
                repr(r).replace("tornado.httputil", "embedtornado.httputil"),
            )

    pairs = kwargs.get("headers_pairs")
    ours = outcome(build, httputil)
    if pairs is not None:
        kwargs["headers_pairs"] = pairs
    theirs = outcome(build, t_httputil)
    assert ours == theirs
    return ours


@pytest.mark.parametrize(
    "version, hosts",
    [
        ("HTTP/1.1", []),
        ("HTTP/1.0", []),
        ("HTTP/1.1", ["example.com"]),
        ("HTTP/1.1", [""]),
        ("HTTP/1.1", ["a", "b"]),
        ("HTTP/1.1", ["a,b"]),
        ("HTTP/1.1", ["[::1]:8080"]),
        ("HTTP/1.1", ["EXAMPLE.com:80"]),
        ("HTTP/1.1", ["http//1.1.1.1:80"]),
        ("HTTP/1.1", ["a b"]),
        ("HTTP/1.1", ["google.com\x00.kallus.org"]),
        ("HTTP/1.1", ["%41%zz"]),
        ("HTTP/1.1", ["caf\xe9.example"]),
        ("HTTP/1.1", ["host:99999999999999999999"]),
        ("HTTP/2.0", []),
    ],
)
def test_request_host_rules_like_tornado(version, hosts):
    _compare_requests(start_line=("GET", "/", version), headers_pairs=[("Host", h) for h in hosts])


def test_request_missing_host():
    with pytest.raises(HTTPInputError, match="Missing Host header"):
        HTTPServerRequest(start_line=start())
    with pytest.raises(HTTPInputError, match="Multiple host headers"):
        h = HTTPHeaders()
        h.add("Host", "a")
        h.add("Host", "a")
        HTTPServerRequest(start_line=start(), headers=h)
    with pytest.raises(HTTPInputError, match="Invalid Host header"):
        HTTPServerRequest(start_line=start(), headers=HTTPHeaders({"Host": "a b"}))


@pytest.mark.parametrize(
    "uri",
    [
        "/",
        "/?",
        "/?a",
        "/?a=1&a=2&b",
        "/p?%41=%42&+=+",
        "/?&&&",
        "/a?b?c=d",
        "*",
        "/?\u00e9=1",
        "/?\u20ac=1",
    ],
)
def test_request_query_like_tornado(uri):
    _compare_requests(start_line=("GET", uri, "HTTP/1.0"))


def test_query_argument_limit():
    n = ParseUrlEncodedConfig().max_arguments
    uri = "/?" + "&".join(f"a={i}" for i in range(n))
    r = HTTPServerRequest(start_line=start(uri, "HTTP/1.0"))
    assert len(r.arguments["a"]) == n
    uri = "/?" + "&".join(f"a={i}" for i in range(n + 1))
    with pytest.raises(HTTPInputError, match="Max number of fields exceeded"):
        HTTPServerRequest(start_line=start(uri, "HTTP/1.0"))
    with pytest.raises(HTTPInputError):
        HTTPServerRequest(start_line=start("/?" + "&" * 1000, "HTTP/1.0"))


def test_query_argument_limit_follows_global_config():
    try:
        set_parse_body_config(ParseBodyConfig(urlencoded=ParseUrlEncodedConfig(max_arguments=2)))
        HTTPServerRequest(start_line=start("/?a&b", "HTTP/1.0"))
        with pytest.raises(HTTPInputError):
            HTTPServerRequest(start_line=start("/?a&b&c", "HTTP/1.0"))
    finally:
        set_parse_body_config(ParseBodyConfig())


def test_deprecated_constructor_arguments_warn_like_tornado():
    with pytest.warns(DeprecationWarning, match="start_line"):
        r = HTTPServerRequest(method="POST", uri="/x?a=1", version="HTTP/1.0")
    assert (r.method, r.uri, r.version, r.arguments) == (
        "POST",
        "/x?a=1",
        "HTTP/1.0",
        {"a": [b"1"]},
    )
    with pytest.warns(DeprecationWarning):
        r = HTTPServerRequest()
    assert (r.method, r.uri, r.version) == ("GET", "/", "HTTP/1.0")
    with pytest.warns(DeprecationWarning, match="host argument"):
        r = HTTPServerRequest(start_line=start(), host="h.example")
    assert r.host == "h.example" and r.headers["Host"] == "h.example"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        HTTPServerRequest(start_line=start(version="HTTP/1.0"))  # no warning


def test_request_without_uri_has_empty_path_and_query():
    # Deliberate difference: Tornado raises AttributeError here.
    r = HTTPServerRequest(start_line=RequestStartLine("GET", None, "HTTP/1.0"))  # type: ignore[arg-type]
    assert (r.path, r.query, r.arguments) == ("", "", {})


def test_request_time():
    r = HTTPServerRequest(start_line=start(version="HTTP/1.0"))
    assert 0 <= r.request_time() < 5
    r._finish_time = r._start_time + 1.5
    assert r.request_time() == 1.5


def test_request_repr_like_tornado():
    r = HTTPServerRequest(
        start_line=start(version="HTTP/1.0"),
        headers=HTTPHeaders({"Canary": ["Coal Mine"]}),
        connection=_Conn(),
    )
    assert "Canary" not in repr(r)
    assert repr(r) == (
        "HTTPServerRequest(protocol='https', host='127.0.0.1', method='GET', uri='/', "
        "version='HTTP/1.0', remote_ip='10.1.2.3')"
    )


class _FakeSocket:
    def __init__(self, result):
        self.result = result

    def getpeercert(self, binary_form=False):
        if isinstance(self.result, Exception):
            raise self.result
        return (self.result, binary_form)


class _FakeStream:
    def __init__(self, result):
        self.socket = _FakeSocket(result)


class _StreamConn:
    def __init__(self, result):
        self.stream = _FakeStream(result)


def test_get_ssl_certificate():
    r = HTTPServerRequest(start_line=start(version="HTTP/1.0"))
    assert r.get_ssl_certificate() is None
    r.connection = _StreamConn({"subject": ()})
    assert r.get_ssl_certificate() == ({"subject": ()}, False)
    assert r.get_ssl_certificate(binary_form=True) == ({"subject": ()}, True)
    r.connection = _StreamConn(ssl.SSLError("no cert"))
    assert r.get_ssl_certificate() is None


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


# --- doctests ------------------------------------------------------------------------


def test_module_doctests():
    import unittest

    result = unittest.TestResult()
    httputil.doctests().run(result)
    assert result.testsRun > 5
    assert result.wasSuccessful(), result.failures + result.errors


@pytest.mark.parametrize("mod", [httputil, t_httputil], ids=["ours", "tornado"])
def test_server_request_keeps_headers_unless_empty(mod):
    # ``headers or HTTPHeaders()``: a non-empty HTTPHeaders is used as it is,
    # an empty one (or a falsy mapping) is replaced by a new HTTPHeaders.
    start = mod.RequestStartLine("GET", "/", "HTTP/1.0")
    full = mod.HTTPHeaders({"Host": "example.com"})
    assert mod.HTTPServerRequest(start_line=start, headers=full).headers is full
    empty = mod.HTTPHeaders()
    replaced = mod.HTTPServerRequest(start_line=start, headers=empty).headers
    assert replaced is not empty and type(replaced) is mod.HTTPHeaders and len(replaced) == 0
    replaced = mod.HTTPServerRequest(start_line=start, headers={}).headers
    assert type(replaced) is mod.HTTPHeaders and len(replaced) == 0
