"""Response JSON: the compiled encoder against its readable twin and against json.dumps."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from embedtornado import escape
from embedtornado._pure import jsonenc as twin
from twins import implementations

IMPLS = implementations("jsonenc")


@pytest.fixture(params=IMPLS, ids=lambda m: m.__name__.split(".")[1])
def jsonenc(request):
    return request.param


def expected(value):
    return json.dumps(value).replace("</", "<\\/").encode("ascii")


class StrSub(str):
    pass


class IntSub(int):
    pass


class DictSub(dict):
    pass


TAKEN = [
    {}, [], (), "", 0, -1, 2**63 - 1, -(2**63), True, False, None, 0.0, -0.0, 1.5, 1e300,
    5e-324, 1e16, 123456789.125, math.inf, -math.inf, math.nan,
    {"a": "hello", "n": 1, "items": [1, 2, 3]},
    {"nested": {"list": [{"x": None}, (1, 2.5)], "t": True}},
    "</script><script>alert(1)</script>", "<</", "a</b</c", "/</", "</", "<", "/",
    '"\\\b\f\n\r\t\x00\x1f\x7f', "caf\xe9 \u2603 \U0001f600 \ud800 \udfff", "\u0100</x",
    "\U0001f600</\U0001f600", {"</key": "</value"}, {"\u2603": "\x7f"},
    [[[[[[[[[[1]]]]]]]]]], {"a": {"b": {"c": {}}}},
]

NOT_TAKEN = [
    {1: "a"}, {None: 1}, {"a": {2: 3}}, StrSub("x"), IntSub(3), DictSub(a=1), [StrSub("x")],
    2**63, -(2**63) - 1, [2**100], {"a": b"bytes"}, {1, 2}, object(), [object()],
    {"d": __import__("datetime").date(2020, 1, 1)},
]


@pytest.mark.parametrize("value", TAKEN, ids=repr)
def test_taken_values_are_json_dumps(jsonenc, value):
    assert jsonenc.dumps(value) == expected(value)
    assert jsonenc.dumps(value).decode("ascii") == escape.json_encode(value)


@pytest.mark.parametrize("value", NOT_TAKEN, ids=repr)
def test_other_values_are_left_to_json_dumps(jsonenc, value):
    assert jsonenc.dumps(value) is None


def nest(depth):
    value: object = 1
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


def test_depth_limit(jsonenc):
    assert jsonenc.dumps(nest(jsonenc.MAX_DEPTH)) == expected(nest(jsonenc.MAX_DEPTH))
    assert jsonenc.dumps(nest(jsonenc.MAX_DEPTH + 1)) is None
    assert jsonenc.MAX_DEPTH == twin.MAX_DEPTH


def test_circular_structures_are_not_taken(jsonenc):
    d: dict = {}
    d["self"] = d
    lst: list = []
    lst.append(lst)
    assert jsonenc.dumps(d) is None and jsonenc.dumps(lst) is None
    with pytest.raises(ValueError, match="Circular reference"):
        escape.json_encode(d)


def test_long_strings_and_many_escapes(jsonenc):
    for value in ["x" * 100_000, "</" * 10_000, "\u2603" * 5000, "\U0001f600" * 3000,
                  "\n" * 10_000, {"k" * 1000: ["v" * 1000] * 100}]:
        assert jsonenc.dumps(value) == expected(value)


_TEXT = st.text(alphabet=st.one_of(
    st.sampled_from(list("<>/\"\\ab\n\t\x00\x7f\xe9\u2603\U0001f600")),
    st.characters()), max_size=20)
_SCALAR = st.one_of(_TEXT, st.integers(), st.floats(), st.booleans(), st.none())
_VALUE = st.recursive(
    _SCALAR,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.tuples(inner, inner),
                            st.dictionaries(_TEXT, inner, max_size=4),
                            st.dictionaries(st.integers(), inner, max_size=2)),
    max_leaves=20)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(value=_VALUE)
def test_twins_agree(value):
    results = [impl.dumps(value) for impl in IMPLS]
    assert all(r == results[0] for r in results)
    if results[0] is not None:
        assert results[0] == expected(value)
