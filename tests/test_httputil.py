"""Tests for embedtornado.httputil, side by side with tornado.httputil 6.6.1."""

from __future__ import annotations

import copy
import http.client
import http.cookies
import inspect
import pickle
import ssl
import warnings

import pytest
import tornado.httputil as t_httputil
from hypothesis import example, given
from hypothesis import strategies as st

import embedtornado._httpdefs as httpdefs
from embedtornado import httputil
from embedtornado.httputil import (
    HTTPHeaders,
    HTTPInputError,
    HTTPServerRequest,
    ParseBodyConfig,
    ParseMultipartConfig,
    ParseUrlEncodedConfig,
    RequestStartLine,
    ResponseStartLine,
    _normalize_header,
    parse_request_start_line,
    parse_response_start_line,
    set_parse_body_config,
)
from httputiltools import FUZZ, assert_linear, both, outcome, peak_memory, start

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
