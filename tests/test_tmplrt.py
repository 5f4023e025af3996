"""The template runtime: compiled and pure twins agree, and both do what Tornado's generated code does.

The oracle is the sequence of statements Tornado 6.6.1 generates for
``{{ expr }}`` (``_tt_utf8`` of the value or of ``str()`` of it, then
``_tt_utf8(autoescape(...))``), run with ``tornado.escape``. Results are
compared as bytes; exceptions by class and message.
"""

from __future__ import annotations

import importlib
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from embedtornado import _accel, escape

tornado_escape = pytest.importorskip("tornado.escape")

REQUIRE = os.environ.get("EMBEDTORNADO_REQUIRE_EXTENSIONS", "") not in ("", "0")


def _load(kind: str):
    if kind == "python":
        return importlib.import_module("embedtornado._pure.tmplrt")
    try:
        return importlib.import_module("embedtornado._speedups.tmplrt")
    except ImportError:
        if REQUIRE:
            raise
        pytest.skip("compiled embedtornado._speedups.tmplrt is not built")


@pytest.fixture(params=["cython", "python"], ids=["c-tmplrt", "py-tmplrt"])
def tmplrt(request):
    """The template runtime module, compiled and pure."""
    return _load(request.param)


# --- oracles: Tornado's generated statements -------------------------------

def tornado_text(value):
    if isinstance(value, (str, bytes)):
        return tornado_escape.utf8(value)
    return tornado_escape.utf8(str(value))


def tornado_escaped(value, fn):
    return tornado_escape.utf8(fn(tornado_text(value)))


def outcome(fn, *args):
    try:
        return ("ok", fn(*args))
    except Exception as e:  # noqa: BLE001 - comparing exceptions is the point
        return (type(e).__name__, str(e))


# --- values ------------------------------------------------------------------

class StrSub(str):
    pass


class BytesSub(bytes):
    pass


class OddStr:
    """An object whose __str__ returns whatever it was given (or raises it)."""

    def __init__(self, result):
        self.result = result

    def __str__(self):
        if isinstance(self.result, BaseException):
            raise self.result
        return self.result

    def __repr__(self):
        return f"OddStr({self.result!r})"


SPECIAL = "<>&\"' \x00é€😀\ud800\udfff"
text_st = st.text(alphabet=st.sampled_from(list(SPECIAL) + list("ab\n\t;#")), max_size=20)
unicode_st = st.text(max_size=20)
bytes_st = st.one_of(
    st.binary(max_size=20),
    text_st.map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.text(max_size=10).map(lambda s: s.encode("utf-8", "surrogatepass")),
)
value_st = st.one_of(
    text_st,
    unicode_st,
    bytes_st,
    st.integers(),
    st.floats(allow_nan=True),
    st.booleans(),
    st.none(),
    st.lists(st.one_of(st.integers(), text_st), max_size=3),
    text_st.map(StrSub),
    bytes_st.map(BytesSub),
    text_st.map(OddStr),
    text_st.map(lambda s: OddStr(StrSub(s))),
    st.sampled_from([OddStr(ValueError("boom <x>")), OddStr(b"bytes from __str__"),
                     OddStr(42), OddStr(None)]),
)

FIXED = ["", "plain", "<a href='x'>&amp;</a>", 'q"q', "é", "\ud800", "a\udcff<", "\x00<\x00",
         b"", b"plain", b"<&>", b"\xc3\xa9<", b"\xff", b"<\xc3", b"\xed\xa0\x80",
         0, -1, 10**30, 1.5, float("nan"), True, None, [1, "<"], {"k": "<v>"},
         StrSub("<s>"), BytesSub(b"<b>"), BytesSub(b"\xff"), OddStr("<o>"),
         OddStr(StrSub("<os>")), OddStr(ValueError("no")), OddStr(b"x"), OddStr(None)]


def upper(value):
    return value.upper()


def to_str(value):
    return value.decode("utf-8", "replace") + "<!>"


def to_none(value):
    return None


def to_int(value):
    return 7


def fails(value):
    raise KeyError("escape failed")


ESCAPES = [escape.xhtml_escape, escape.url_escape, escape.json_encode, escape.squeeze,
           upper, to_str, to_none, to_int, fails]


# --- tests -------------------------------------------------------------------

@pytest.mark.parametrize("value", FIXED, ids=repr)
def test_text_matches_tornado(tmplrt, value):
    assert outcome(tmplrt.text, value) == outcome(tornado_text, value)


@pytest.mark.parametrize("fn", ESCAPES, ids=lambda f: f.__name__)
@pytest.mark.parametrize("value", FIXED, ids=repr)
def test_escaped_matches_tornado(tmplrt, value, fn):
    # Tornado's pipeline with our escape functions: they are the same
    # functions as Tornado's (tested in test_escape.py).
    assert outcome(tmplrt.escaped, value, fn) == outcome(tornado_escaped, value, fn)


@pytest.mark.parametrize("value", FIXED, ids=repr)
def test_stock_escape_matches_tornados_own(tmplrt, value):
    got = outcome(tmplrt.escaped, value, escape.xhtml_escape)
    assert got == outcome(tornado_escaped, value, tornado_escape.xhtml_escape)


@settings(max_examples=400, deadline=None)
@given(value=value_st)
def test_twins_agree_on_generated_values(value):
    pure = _load("python")
    comp = _load("cython")
    assert outcome(comp.text, value) == outcome(pure.text, value)
    for fn in (escape.xhtml_escape, upper, to_none):
        assert outcome(comp.escaped, value, fn) == outcome(pure.escaped, value, fn)
    assert outcome(pure.escaped, value, escape.xhtml_escape) == outcome(
        tornado_escaped, value, tornado_escape.xhtml_escape)


@settings(max_examples=200, deadline=None)
@given(value=value_st)
def test_python_twin_is_tornados_pipeline(value):
    pure = _load("python")
    assert outcome(pure.text, value) == outcome(tornado_text, value)


def test_exception_attributes_match(tmplrt):
    for value in ("ab\ud800", b"ok\xff"):
        with pytest.raises(UnicodeError) as ours:
            tmplrt.escaped(value, escape.xhtml_escape)
        with pytest.raises(UnicodeError) as theirs:
            tornado_escaped(value, tornado_escape.xhtml_escape)
        for attr in ("encoding", "object", "start", "end", "reason"):
            assert getattr(ours.value, attr) == getattr(theirs.value, attr)


def test_str_is_called_once(tmplrt):
    calls = []

    class Counted:
        def __str__(self):
            calls.append(1)
            return "<c>"

    assert tmplrt.escaped(Counted(), escape.xhtml_escape) == b"&lt;c&gt;"
    assert tmplrt.escaped(Counted(), upper) == b"<C>"
    assert tmplrt.text(Counted()) == b"<c>"
    assert len(calls) == 3


def test_long_and_large_values(tmplrt):
    s = ("<&>\"'é" * 10000) + "x"
    assert tmplrt.escaped(s, escape.xhtml_escape) == tornado_escaped(
        s, tornado_escape.xhtml_escape)
    b = b"a" * 100000
    assert tmplrt.escaped(b, escape.xhtml_escape) == b


def test_join(tmplrt):
    assert tmplrt.join([b"a", b"", BytesSub(b"c")]) == b"ac"
    assert tmplrt.join([]) == b""
    assert outcome(tmplrt.join, [b"a", None]) == outcome(b"".join, [b"a", None])
    assert outcome(tmplrt.join, [b"a", "s"]) == outcome(b"".join, [b"a", "s"])


def test_same_public_names():
    pure = _load("python")
    comp = _load("cython")
    assert pure.__all__ == comp.__all__
    for name in pure.__all__:
        assert hasattr(comp, name)


def test_compiled_runtime_is_live():
    mod = _accel.load("tmplrt")
    if _accel.NO_EXTENSIONS:
        assert mod.__name__ == "embedtornado._pure.tmplrt"
    elif REQUIRE:
        assert mod.__name__ == "embedtornado._speedups.tmplrt"
        assert mod.__file__.endswith((".so", ".pyd"))
    from embedtornado import template

    assert template.tmplrt is mod
    assert template.Template("{{ x }}")._defaults["_tt_escaped"] is mod.escaped
