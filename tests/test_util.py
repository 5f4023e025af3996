"""Tests for embedtornado.util, side by side with tornado.util where behaviour must match."""

from __future__ import annotations

import asyncio
import datetime
import errno
import gzip
import os
import re
import sys
import zlib

from typing import Any

import pytest
import tornado.util

from embedtornado import util
from embedtornado.util import (
    ArgReplacer,
    Configurable,
    GzipDecompressor,
    ObjectDict,
    errno_from_exception,
    import_object,
    raise_exc_info,
    re_unescape,
    timedelta_to_seconds,
)

# --- ObjectDict ---------------------------------------------------------------


def test_objectdict_attribute_access():
    d = ObjectDict(a=1)
    assert d.a == 1
    d.b = 2
    assert d["b"] == 2
    assert dict(d) == {"a": 1, "b": 2}
    with pytest.raises(AttributeError):
        _ = d.missing
    assert getattr(d, "missing", "dflt") == "dflt"
    assert not hasattr(d, "missing")


# --- import_object ------------------------------------------------------------


def test_import_object():
    import embedtornado.util as mod

    assert import_object("embedtornado.util") is mod
    assert import_object("embedtornado.util.ObjectDict") is ObjectDict
    assert import_object("os") is os
    assert import_object("os.path") is os.path
    with pytest.raises(ImportError):
        import_object("embedtornado.util.no_such_name")
    with pytest.raises(ImportError):
        import_object("embedtornado.no_such_module_xyz")


def test_import_object_missing_message_matches_tornado():
    with pytest.raises(ImportError) as ours:
        import_object("os.no_such_thing")
    with pytest.raises(ImportError) as theirs:
        tornado.util.import_object("os.no_such_thing")
    assert str(ours.value) == str(theirs.value)


def test_exec_in_does_not_inherit_future_imports():
    ns: dict = {}
    # This module has "from __future__ import annotations"; the executed code
    # must not: its annotations are evaluated eagerly.
    util.exec_in("def f(x: int) -> int: return x\nann = f.__annotations__", ns)
    assert ns["ann"] == {"x": int, "return": int}


# --- small functions ----------------------------------------------------------


def test_timeout_error_alias():
    assert util.TimeoutError is asyncio.TimeoutError
    assert util.TimeoutError is tornado.util.TimeoutError
    if sys.version_info >= (3, 11):
        assert util.TimeoutError is TimeoutError


def test_timedelta_to_seconds():
    assert timedelta_to_seconds(datetime.timedelta(minutes=1, milliseconds=500)) == 60.5


def test_errno_from_exception():
    assert errno_from_exception(OSError(errno.EBADF, "x")) == errno.EBADF
    assert errno_from_exception(Exception(errno.EPIPE)) == errno.EPIPE
    assert errno_from_exception(Exception()) is None
    for exc in (OSError(errno.EBADF, "x"), Exception(7), Exception(), OSError()):
        assert errno_from_exception(exc) == tornado.util.errno_from_exception(exc)


def test_raise_exc_info_keeps_traceback():
    try:
        raise KeyError("k")
    except KeyError:
        info = sys.exc_info()
    with pytest.raises(KeyError) as caught:
        raise_exc_info(info)
    assert caught.value is info[1]
    assert caught.value.__traceback__ is not None
    with pytest.raises(TypeError):
        raise_exc_info((None, None, None))


@pytest.mark.parametrize(
    "text", ["", "abc", "a.b*c", "/path/(?P<x>[^/]+)", "tab\tnl\n", "ünï©ødé", "\\", "a b#c"]
)
def test_re_unescape_roundtrip(text):
    assert re_unescape(re.escape(text)) == text
    assert re_unescape(re.escape(text)) == tornado.util.re_unescape(re.escape(text))


@pytest.mark.parametrize("bad", [r"\d", r"\b", r"a\Z", r"\1"])
def test_re_unescape_rejects_non_escape_output(bad):
    with pytest.raises(ValueError) as ours:
        re_unescape(bad)
    with pytest.raises(ValueError) as theirs:
        tornado.util.re_unescape(bad)
    assert str(ours.value) == str(theirs.value)


# --- ArgReplacer --------------------------------------------------------------


def _target(a, b, callback=None, *, kwonly=None):
    return a, b, callback


def test_arg_replacer_positional_and_keyword():
    r = ArgReplacer(_target, "callback")
    assert r.get_old_value((1, 2, "cb"), {}) == "cb"
    assert r.get_old_value((1, 2), {"callback": "kw"}) == "kw"
    assert r.get_old_value((1, 2), {}, default="d") == "d"

    old, args, kwargs = r.replace("new", (1, 2, "cb"), {})
    assert (old, list(args), kwargs) == ("cb", [1, 2, "new"], {})
    old, args, kwargs = r.replace("new", (1, 2), {"callback": "kw"})
    assert (old, tuple(args), kwargs) == ("kw", (1, 2), {"callback": "new"})
    old, args, kwargs = r.replace("new", (1, 2), {})
    assert (old, kwargs) == (None, {"callback": "new"})


def test_arg_replacer_keyword_only_and_missing():
    r = ArgReplacer(_target, "kwonly")
    assert r.arg_pos is None
    assert r.replace(5, (1, 2, 3), {}) == (None, (1, 2, 3), {"kwonly": 5})
    assert ArgReplacer(_target, "nope").arg_pos is None


def test_arg_replacer_matches_tornado():
    cases: list[tuple[tuple, dict]] = [
        ((1, 2, "cb"), {}),
        ((1, 2), {"callback": "x"}),
        ((1,), {}),
        ((), {"a": 1}),
    ]
    for args, kwargs in cases:
        ours = ArgReplacer(_target, "callback").replace("N", args, dict(kwargs))
        theirs = tornado.util.ArgReplacer(_target, "callback").replace("N", args, dict(kwargs))
        assert (ours[0], list(ours[1]), ours[2]) == (theirs[0], list(theirs[1]), theirs[2])


def test_arg_replacer_cython_like_function():
    class FakeCode:
        co_varnames = ("a", "callback", "local")
        co_argcount = 2

    # inspect rejects this object; ArgReplacer falls back on func_code, as
    # it must for Cython-compiled functions.
    class Rejected:
        func_code = FakeCode()

    assert ArgReplacer(Rejected(), "callback").arg_pos == 1
    with pytest.raises(TypeError):
        ArgReplacer(object(), "callback")


# --- Configurable -------------------------------------------------------------


class Base(Configurable):
    @classmethod
    def configurable_base(cls):
        return Base

    @classmethod
    def configurable_default(cls):
        return Impl1

    def initialize(self, a=None, b=None):
        self.a = a
        self.b = b


class Impl1(Base):
    pass


class Impl2(Base):
    def initialize(self, a=None, b=None, c=None):
        super().initialize(a, b)
        self.c = c


class SubBase(Base):
    """A second configurable level under Base."""

    @classmethod
    def configurable_base(cls):
        return SubBase

    @classmethod
    def configurable_default(cls):
        return SubImpl1


class SubImpl1(SubBase):
    pass


class SubImpl2(SubBase):
    pass


@pytest.fixture
def saved_config():
    saved = (Base._save_configuration(), SubBase._save_configuration())
    yield
    Base._restore_configuration(saved[0])
    SubBase._restore_configuration(saved[1])


def test_configurable_default(saved_config):
    obj = Base()
    assert type(obj) is Impl1
    assert obj.a is None
    obj = Base(1, b=2)
    assert (obj.a, obj.b) == (1, 2)
    assert type(Impl2(c=3)) is Impl2
    assert Base.configured_class() is Impl1


def test_configurable_configure_class_and_kwargs(saved_config):
    Base.configure(Impl2, b=5, c=6)
    obj = Base(a=1)
    assert type(obj) is Impl2
    assert (obj.a, obj.b, obj.c) == (1, 5, 6)
    # explicit arguments override configured ones
    assert Base(b=7).b == 7
    # constructing a subclass directly ignores the configured kwargs
    assert Impl1().b is None
    Base.configure(f"{__name__}.Impl1")
    assert type(Base()) is Impl1
    Base.configure(None)
    assert type(Base()) is Impl1


def test_configurable_rejects_unrelated_class(saved_config):
    with pytest.raises(ValueError):
        Base.configure(SubImpl1.__mro__[-1])  # object
    with pytest.raises(ValueError):
        Impl1.configure(Impl2)


def test_configurable_two_levels(saved_config):
    Base.configure(SubBase)
    assert type(Base()) is SubImpl1
    SubBase.configure(SubImpl2, a=9)
    obj = Base()
    assert type(obj) is SubImpl2 and obj.a == 9
    # configuring the lower level leaves the upper one alone
    assert Base.configured_class() is SubBase
    assert type(SubBase()) is SubImpl2


def test_configurable_matches_tornado():
    # Same class layout built on tornado's Configurable: same results.
    def build(cfg_base: Any) -> list:
        class B(cfg_base):  # type: ignore[misc,valid-type]
            @classmethod
            def configurable_base(cls):
                return B

            @classmethod
            def configurable_default(cls):
                return I1

            def initialize(self, x=0):
                self.x = x

        class I1(B):
            pass

        class I2(B):
            pass

        results = [type(B()).__name__]
        B.configure(I2, x=3)
        results += [type(B()).__name__, B().x, B(x=4).x, I1().x]
        B.configure(None)
        results += [type(B()).__name__]
        return results

    assert build(Configurable) == build(tornado.util.Configurable)


# --- GzipDecompressor ---------------------------------------------------------

PAYLOAD = os.urandom(2000) + b"a" * 100_000 + bytes(range(256)) * 50


def _decompress_all(d, data, chunk, max_length):
    out = []
    for i in range(0, len(data), chunk):
        piece = data[i : i + chunk]
        while piece:
            got = d.decompress(piece, max_length)
            assert len(got) <= max_length
            out.append(got)
            piece = d.unconsumed_tail
    d.flush()
    return b"".join(out)


@pytest.mark.parametrize("chunk", [1, 7, 1000, 10**7])
@pytest.mark.parametrize("max_length", [1, 333, 65536])
def test_gzip_bounded_decompression(chunk, max_length):
    data = gzip.compress(PAYLOAD)
    if chunk == 1 and max_length == 1:
        data = gzip.compress(PAYLOAD[:3000])
        assert _decompress_all(GzipDecompressor(), data, chunk, max_length) == PAYLOAD[:3000]
        return
    assert _decompress_all(GzipDecompressor(), data, chunk, max_length) == PAYLOAD


def test_gzip_multiple_members():
    data = gzip.compress(b"first ") + gzip.compress(b"") + gzip.compress(b"second")
    for chunk in (1, 3, len(data)):
        assert _decompress_all(GzipDecompressor(), data, chunk, 4) == b"first second"


def test_gzip_empty_stream_is_valid():
    d = GzipDecompressor()
    assert d.decompress(b"", 10) == b""
    assert d.flush() == b""


def test_gzip_truncated_stream():
    data = gzip.compress(b"hello world")
    d = GzipDecompressor()
    assert d.decompress(data[:-3], 100) == b"hello world"
    with pytest.raises(zlib.error):
        d.flush()


def test_gzip_trailing_garbage():
    data = gzip.compress(b"hello") + b"junk"
    d = GzipDecompressor()
    out = d.decompress(data, 100)
    assert out == b"hello"
    assert d.unconsumed_tail == b"junk"
    with pytest.raises(zlib.error):
        d.decompress(d.unconsumed_tail, 100)


def test_gzip_not_gzip():
    with pytest.raises(zlib.error):
        GzipDecompressor().decompress(b"\x00\x01", 10)
    # A lone first magic byte is accepted until the second arrives.
    d = GzipDecompressor()
    assert d.decompress(b"\x1f", 10) == b""


def test_gzip_flush_with_tail_is_an_error():
    data = gzip.compress(b"x" * 1000)
    d = GzipDecompressor()
    d.decompress(data, 10)
    assert d.unconsumed_tail
    with pytest.raises(ValueError):
        d.flush()


def test_gzip_without_max_length_is_deprecated_but_complete():
    data = gzip.compress(b"one") + gzip.compress(b"two")
    d = GzipDecompressor()
    with pytest.warns(DeprecationWarning):
        assert d.decompress(data) == b"onetwo"
    assert d.unconsumed_tail == b""
    d.flush()


@pytest.mark.parametrize(
    "data",
    [
        gzip.compress(PAYLOAD[:5000]),
        gzip.compress(b"a") + gzip.compress(b"b"),
        gzip.compress(b"a") + b"\x1f",
        gzip.compress(b"abc")[:-1],
        gzip.compress(b"abc") + b"garbage",
        b"",
        b"\x1f\x8b\x08\x00",
    ],
)
@pytest.mark.parametrize("chunk", [1, 5, 100000])
def test_gzip_matches_tornado(data, chunk):
    def run(cls):
        d = cls()
        events = []
        try:
            for i in range(0, max(len(data), 1), chunk):
                piece = data[i : i + chunk]
                while True:
                    events.append(("out", d.decompress(piece, 17)))
                    piece = d.unconsumed_tail
                    events.append(("tail", piece))
                    if not piece:
                        break
            events.append(("flush", d.flush()))
        except (zlib.error, ValueError) as e:
            events.append(("error", type(e).__name__))
        return events

    assert run(GzipDecompressor) == run(tornado.util.GzipDecompressor)
