"""Tests for embedtornado.escape, side by side with tornado.escape 6.6.1."""

from __future__ import annotations

import inspect
import urllib.parse

import pytest
import tornado.escape as t_escape
from hypothesis import example, given, settings
from hypothesis import strategies as st

from embedtornado import escape
from embedtornado.escape import (
    _unquote_to_bytes,
    json_decode,
    json_encode,
    linkify,
    parse_qs_bytes,
    recursive_unicode,
    to_unicode,
    url_escape,
    url_unescape,
    utf8,
    xhtml_escape,
    xhtml_unescape,
)
from scaling import assert_linear, outcome, peak_memory

FUZZ = settings(max_examples=300, deadline=None)


def same_as_tornado(name, *args, **kwargs):
    ours = outcome(getattr(escape, name), *args, **kwargs)
    theirs = outcome(getattr(t_escape, name), *args, **kwargs)
    assert ours == theirs, (name, args, kwargs)
    return ours


# --- API surface --------------------------------------------------------------

PUBLIC = [
    "xhtml_escape",
    "xhtml_unescape",
    "json_encode",
    "json_decode",
    "squeeze",
    "url_escape",
    "url_unescape",
    "parse_qs_bytes",
    "utf8",
    "to_unicode",
    "_unicode",
    "native_str",
    "to_basestring",
    "recursive_unicode",
    "linkify",
    "_unquote_to_bytes",
]


@pytest.mark.parametrize("name", PUBLIC)
def test_signature_matches_tornado(name):
    ours = inspect.signature(getattr(escape, name))
    theirs = inspect.signature(getattr(t_escape, name))
    assert list(ours.parameters) == list(theirs.parameters)
    for p, q in zip(ours.parameters.values(), theirs.parameters.values()):
        assert p.kind == q.kind
        if name != "linkify" or p.name != "permitted_protocols":
            assert p.default == q.default


def test_aliases():
    assert escape._unicode is to_unicode
    assert escape.native_str is to_unicode
    assert escape.to_basestring is to_unicode


# --- str / bytes ----------------------------------------------------------------


def test_utf8():
    assert utf8("é") == b"\xc3\xa9"
    assert utf8(b"\xff") == b"\xff"
    assert utf8(None) is None
    b = b"abc"
    assert utf8(b) is b
    for bad in (1, bytearray(b"x"), ["x"], 1.5):
        same_as_tornado("utf8", bad)
        with pytest.raises(TypeError):
            utf8(bad)


def test_to_unicode():
    assert to_unicode(b"\xc3\xa9") == "é"
    s = "x"
    assert to_unicode(s) is s
    assert to_unicode(None) is None
    with pytest.raises(UnicodeDecodeError):
        to_unicode(b"\xff")
    for bad in (1, bytearray(b"x"), memoryview(b"x")):
        same_as_tornado("to_unicode", bad)
        with pytest.raises(TypeError):
            to_unicode(bad)


def test_recursive_unicode():
    data = {b"k": [b"a", (b"b", 1, None)], "s": {b"x": b"y"}, 3: 4.5}
    assert recursive_unicode(data) == {"k": ["a", ("b", 1, None)], "s": {"x": "y"}, 3: 4.5}
    assert recursive_unicode(data) == t_escape.recursive_unicode(data)
    assert type(recursive_unicode((b"a",))) is tuple
    assert recursive_unicode(b"foo") == "foo"
    assert recursive_unicode({b"a"}) == {b"a"}  # sets are not walked


# --- HTML ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, escaped",
    [
        ("<foo>", "&lt;foo&gt;"),
        (b"<foo>", "&lt;foo&gt;"),
        ("<>&\"'", "&lt;&gt;&amp;&quot;&#x27;"),
        ("&amp;", "&amp;amp;"),
        ("<\u00e9>", "&lt;\u00e9&gt;"),
        (b"<\xc3\xa9>", "&lt;\u00e9&gt;"),
        ("", ""),
        ("plain", "plain"),
    ],
)
def test_xhtml_escape(raw, escaped):
    assert xhtml_escape(raw) == escaped
    assert type(xhtml_escape(raw)) is str
    assert xhtml_unescape(escaped) == to_unicode(raw)


def test_xhtml_escape_errors_like_tornado():
    for bad in (None, 1, b"\xff"):
        same_as_tornado("xhtml_escape", bad)


class _Str(str):
    pass


def test_xhtml_escape_str_subclass():
    assert xhtml_escape(_Str("<")) == "&lt;"
    assert type(xhtml_escape(_Str("a"))) is str


@FUZZ
@given(st.text(alphabet=st.sampled_from("<>&\"'a é\x00;#x")))
def test_xhtml_escape_fuzz(s):
    assert xhtml_escape(s) == t_escape.xhtml_escape(s)
    assert xhtml_escape(s.encode()) == t_escape.xhtml_escape(s.encode())
    assert xhtml_unescape(xhtml_escape(s)) == s


@pytest.mark.parametrize(
    "text",
    [
        "foo&#32;bar",
        "foo&#x20;bar",
        "foo&#X20;bar",
        "foo&#xabc;bar",
        "foo&#xyz;bar",
        "foo&#;bar",
        "foo&#x;bar",
        "&#128;",
        "&amp;&lt;&unknown;&amp",
        b"&lt;\xc3\xa9",
    ],
)
def test_xhtml_unescape(text):
    same_as_tornado("xhtml_unescape", text)


def test_xhtml_escape_linear():
    assert_linear(lambda n: xhtml_escape("<a href='x'>&</a>" * n), 2000)


# --- JSON ---------------------------------------------------------------------


def test_json_encode_escapes_script_close():
    assert json_encode("</script>") == '"<\\/script>"'
    assert json_decode(json_encode("</script>")) == "</script>"
    for value in ["</", {"a": ["</b>", 1, None]}, "\u00e9", 1.5, [True, False]]:
        same_as_tornado("json_encode", value)
    same_as_tornado("json_encode", b"bytes")  # TypeError in both


@pytest.mark.parametrize("direct", [True, False])
def test_json_encode_same_as_json_dumps(monkeypatch, direct):
    # json_encode calls the C encoder directly when it can (else json.dumps):
    # both ways give json.dumps's output and errors, with "</" escaped.
    import json

    if not direct:
        monkeypatch.setattr(escape, "_make_json_encoder", None)
    elif escape._make_json_encoder is None:
        pytest.skip("no C JSON encoder here")
    circular: dict = {}
    circular["self"] = circular
    values = [
        {"a": "hello", "n": 1, "items": [1, 2, 3]},
        {"x": ["</script>", 1.5, -0.0, float("nan"), float("-inf"), None, True]},
        {1: "int key", 2.5: "float key", None: "n", False: "f"},
        "\u00e9\U0001f600</", 10**30, [], {},
        {"bad": object()}, {(1, 2): "tuple key"}, circular, b"bytes",
    ]
    for value in values:
        expected = outcome(lambda v: json.dumps(v).replace("</", "<\\/"), value)
        assert outcome(json_encode, value) == expected
        same_as_tornado("json_encode", value)


def test_json_decode():
    assert json_decode(b'"foo"') == "foo"
    assert json_decode('"foo"') == "foo"
    assert json_decode(utf8('"\u00e9"')) == "\u00e9"
    same_as_tornado("json_decode", "{bad")


# --- whitespace -----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "sequences     of    whitespace   chars",
        "  lead and trail \t\n",
        "ctl\x00\x01\x1fchars",
        "unicode\u00a0space\u2003keeps",
        "\u00a0edges\u00a0",
        "",
    ],
)
def test_squeeze(text):
    same_as_tornado("squeeze", text)


# --- URLs -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, plus, expected",
    [
        ("+ #%", True, "%2B+%23%25"),
        ("+ #%", False, "%2B%20%23%25"),
        ("a/b c", True, "a%2Fb+c"),
        ("a/b c", False, "a/b%20c"),
        ("\u00e9", True, "%C3%A9"),
        ("\u00e9".encode("latin1"), True, "%E9"),
        (b"\xc3\xa9", False, "%C3%A9"),
    ],
)
def test_url_escape(raw, plus, expected):
    assert url_escape(raw, plus=plus) == expected
    assert t_escape.url_escape(raw, plus=plus) == expected


@pytest.mark.parametrize(
    "escaped, encoding, plus, expected",
    [
        ("%C3%A9", "utf8", True, "\u00e9"),
        ("%C3%A9", "latin1", True, "\u00c3\u00a9"),
        ("%C3%A9", None, True, b"\xc3\xa9"),
        ("%2B+%23%25", "utf-8", True, "+ #%"),
        ("%2B%20%23%25", "utf-8", False, "+ #%"),
        ("a+b", "utf-8", False, "a+b"),
        ("a+b", None, False, b"a+b"),
        ("a+b", None, True, b"a b"),
        ("%ZZ%4", None, False, b"%ZZ%4"),
        ("%FF", "utf-8", False, "\ufffd"),
    ],
)
def test_url_unescape(escaped, encoding, plus, expected):
    for value in (escaped, escaped.encode()):
        assert url_unescape(value, encoding, plus=plus) == expected
        assert t_escape.url_unescape(value, encoding, plus=plus) == expected


URL_ALPHABET = st.sampled_from(list("%+=2534dDaAfF0zZ\r\n é\u20ac/?&"))
ENCODINGS = st.sampled_from([None, "utf-8", "utf8", "latin1", "ascii", "shift_jis", "utf-16"])


@FUZZ
@given(st.text(alphabet=URL_ALPHABET), ENCODINGS, st.booleans(), st.booleans())
@example("%C3é%A9", "utf-8", False, False)
@example("%81%40", "shift_jis", False, False)
@example("%81@", "shift_jis", False, False)
def test_url_unescape_fuzz(text, encoding, plus, as_bytes):
    value = text.encode() if as_bytes else text
    ours = outcome(url_unescape, value, encoding, plus=plus)
    theirs = outcome(t_escape.url_unescape, value, encoding, plus=plus)
    assert ours == theirs


def test_url_unescape_invalid_input_like_tornado():
    same_as_tornado("url_unescape", b"\xff%41")  # not UTF-8
    same_as_tornado("url_unescape", "%41", "no-such-codec")
    same_as_tornado("url_unescape", "abc", "no-such-codec")  # no '%': never decoded


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"a=b",
        b"%41%3d%3D%25",
        b"%%41",
        b"%%%",
        b"%zz%4",
        b"%",
        b"a%",
        b"%\r\nb",
        b"%\rb\nc",
        b"%\n",
        b"=%41=",
        b"==%3D==",
        b"%3d%25%253D",
        b"a \r\n%20\t",
        b"=3D%3d=25",
        bytes(range(256)),
    ],
)
def test_unquote_to_bytes_cases(data):
    assert _unquote_to_bytes(data) == urllib.parse.unquote_to_bytes(data)


@FUZZ
@given(
    st.binary().map(lambda b: b.replace(b"\x00", b""))
    | st.lists(
        st.sampled_from(
            [b"%", b"=", b"2", b"5", b"3", b"d", b"D", b"4", b"1", b"\r", b"\n", b"z", b"%3", b"=3"]
        )
    ).map(b"".join)
)
def test_unquote_to_bytes_fuzz(data):
    assert _unquote_to_bytes(data) == urllib.parse.unquote_to_bytes(data)


def test_unquote_linear_and_small():
    assert_linear(lambda n: url_unescape("%41" * n, encoding=None, plus=False), 10_000)
    assert_linear(lambda n: url_unescape("%41" * n), 10_000)
    for data in (b"%41" * 100_000, b"%" * 300_000, b"%25%3d" * 50_000):
        assert peak_memory(_unquote_to_bytes, data) < 10 * len(data)
        assert peak_memory(parse_qs_bytes, b"a=" + data) < 12 * len(data)


# --- query strings -------------------------------------------------------------------


def test_parse_qs_bytes():
    assert parse_qs_bytes(b"a=1&b=%41+%2B&a=2&&c&d=", keep_blank_values=True) == {
        "a": [b"1", b"2"],
        "b": [b"A +"],
        "c": [b""],
        "d": [b""],
    }
    assert parse_qs_bytes("%E9=%E9") == {"\xe9": [b"\xe9"]}
    assert parse_qs_bytes(b"c&d=", keep_blank_values=False) == {}
    assert parse_qs_bytes(b"") == {}
    with pytest.raises(ValueError):
        parse_qs_bytes(b"a=1&&b=2", strict_parsing=True)
    with pytest.raises(ValueError, match="bad query field"):
        parse_qs_bytes(b"a=1&b", strict_parsing=True)
    with pytest.raises(ValueError, match="Max number of fields exceeded"):
        parse_qs_bytes(b"a=1&b=2", max_num_fields=1)
    assert parse_qs_bytes(b"a=1&b=2", max_num_fields=2) == {"a": [b"1"], "b": [b"2"]}


def test_parse_qs_bytes_counts_empty_fields():
    # 1000 fields are fine, 1001 are not, even if they are empty.
    assert parse_qs_bytes(b"&" * 999, max_num_fields=1000) == {}
    with pytest.raises(ValueError):
        parse_qs_bytes(b"&" * 1000, max_num_fields=1000)


QS_ALPHABET = st.sampled_from(list("a=&+%41zé;\x00 "))


@FUZZ
@given(
    st.text(alphabet=QS_ALPHABET),
    st.booleans(),
    st.booleans(),
    st.none() | st.integers(0, 5),
    st.booleans(),
)
def test_parse_qs_bytes_fuzz(text, keep_blank, strict, max_fields, as_bytes):
    qs = text.encode("utf-8") if as_bytes else text
    kwargs = {
        "keep_blank_values": keep_blank,
        "strict_parsing": strict,
        "max_num_fields": max_fields,
    }
    assert outcome(parse_qs_bytes, qs, **kwargs) == outcome(t_escape.parse_qs_bytes, qs, **kwargs)


@FUZZ
@given(
    st.text(alphabet=st.sampled_from(list("ab=&;\x00 \xe9"))),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)
def test_parse_qs_bytes_without_escapes_fuzz(text, keep_blank, strict, as_bytes):
    # Without "%" and "+" a faster path runs; it must agree with Tornado too.
    qs = text.encode("utf-8") if as_bytes else text
    kwargs = {"keep_blank_values": keep_blank, "strict_parsing": strict}
    assert outcome(parse_qs_bytes, qs, **kwargs) == outcome(t_escape.parse_qs_bytes, qs, **kwargs)


def test_parse_qs_bytes_without_escapes():
    assert parse_qs_bytes(b"a=hello&page=2&a=&b&=v", keep_blank_values=True) == {
        "a": [b"hello", b""], "page": [b"2"], "b": [b""], "": [b"v"],
    }
    assert parse_qs_bytes("\xe9=\xe9") == {"\xe9": [b"\xe9"]}
    with pytest.raises(ValueError, match="bad query field"):
        parse_qs_bytes(b"a=1&b", strict_parsing=True)


def test_parse_qs_bytes_linear():
    assert_linear(lambda n: parse_qs_bytes(b"a=" + b"%41+" * n), 10_000)
    # Over the limit, the count fails before any field is split or decoded.
    with pytest.raises(ValueError):
        parse_qs_bytes(b"&" * 10_000_000, max_num_fields=1000)


# --- linkify --------------------------------------------------------------------

LINKIFY_TEXTS = [
    "hello http://world.com/!",
    "hello http://world.com/with?param=true&stuff=yes",
    "http://url.com/w(aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "http://url.com/withmany.......................................",
    "http://url.com/withmany((((((((((((((((((((((((((((((((((a)",
    "http://foo.com/blah_blah",
    "http://foo.com/blah_blah/",
    "(Something like http://foo.com/blah_blah)",
    "http://foo.com/blah_blah_(wikipedia)",
    "http://foo.com/blah_(blah)_(wikipedia)_blah",
    "(Something like http://foo.com/blah_blah_(wikipedia))",
    "http://foo.com/blah_blah.",
    "http://foo.com/blah_blah/.",
    "<http://foo.com/blah_blah>",
    "<http://foo.com/blah_blah/>",
    "http://foo.com/blah_blah,",
    "http://www.example.com/wpstyle/?p=364.",
    "rdar://1234",
    "rdar:/1234",
    "http://userid:password@example.com:8080",
    "http://userid@example.com",
    "message://%3c330e7f8409726r6a4ba78dkf1fd71420c1bf6ff@mail.gmail.com%3e",
    "http://\u27a1.ws/\u4a39",
    "<tag>http://example.com</tag>",
    "Just a www.example.com link.",
    "A http://reallylong.com/link/that/exceedsthelenglimit.html",
    "A http://reallylongdomainnamethatwillbetoolong.com/hi!",
    "A file:///passwords.txt and http://web.com link",
    "www.external-link.com and www.internal-link.com/blogs extra",
    "http://example.com/a&b&c&d&e&f&g&h&i&j&k&l&m&n&o&p&q&r/and/more/path",
    "http://example.com/this-is-a-very-long-first-segment.html?x=1/y",
    "https://a.b/" + "x" * 50,
    "javascript://alert(1) and https://ok.example/",
    'quote "http://q.example/a"b" here',
    b"bytes http://b.example/\xc3\xa9",
    "no links at all",
    "",
]
LINKIFY_KWARGS = [
    {},
    {"shorten": True},
    {"require_protocol": True},
    {"require_protocol": True, "shorten": True},
    {"permitted_protocols": ["http", "rdar", "message"]},
    {"permitted_protocols": ["file"]},
    {"permitted_protocols": ("javascript",)},
    {"extra_params": 'rel="nofollow" class="external"'},
    {"extra_params": "   "},
    {"extra_params": lambda href: "    rel='x'  "},
    {"extra_params": lambda href: ""},
    {
        "extra_params": lambda href: 'class="internal"' if "internal" in href else 'rel="nofollow"',
        "shorten": True,
    },
]


@pytest.mark.parametrize("kwargs", LINKIFY_KWARGS)
@pytest.mark.parametrize("text", LINKIFY_TEXTS)
def test_linkify_matches_tornado(text, kwargs):
    assert linkify(text, **kwargs) == t_escape.linkify(text, **kwargs)


def test_linkify_examples():
    assert (
        linkify("Hello http://tornadoweb.org!")
        == 'Hello <a href="http://tornadoweb.org">http://tornadoweb.org</a>!'
    )
    assert (
        linkify("Just a www.example.com link.")
        == 'Just a <a href="http://www.example.com">www.example.com</a> link.'
    )


LINK_ALPHABET = st.sampled_from(
    [
        "http://",
        "https://",
        "www.",
        "ftp:/",
        "a",
        "b.com",
        "/",
        ".",
        "(",
        ")",
        "&",
        "<",
        '"',
        "?",
        "=",
        " ",
        "!",
        "x" * 12,
        "\u00e9",
        ":",
        "-",
        "_",
    ]
)


@FUZZ
@given(
    st.lists(LINK_ALPHABET, max_size=30).map("".join),
    st.booleans(),
    st.booleans(),
)
def test_linkify_fuzz(text, shorten, require_protocol):
    kwargs = {"shorten": shorten, "require_protocol": require_protocol}
    assert linkify(text, **kwargs) == t_escape.linkify(text, **kwargs)


def test_linkify_linear_on_hostile_text():
    assert_linear(lambda n: linkify("http://url.com/w(" + "a" * n), 2_000)
    assert_linear(lambda n: linkify("http://url.com/w" + "." * n), 2_000)
    assert_linear(lambda n: linkify("www.a " * n, shorten=True), 500)
