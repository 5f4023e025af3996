"""Differential test: the compiled request parser against its readable twin, the spec.

The same byte streams, split the same way, go through
``embedtornado._speedups.httpparse`` and ``embedtornado._pure.httpparse``, and
the two must say exactly the same thing: every event with the attributes it
publishes (and their types), every DATA payload, ``pending()`` and
``in_message`` after each step, what ``take_buffer()`` returns at the end, and
for bad input the same exception class with the same message (raised again,
the same object, by the next call).

Inputs:

* the corpus ``tests/data/http/{valid,invalid}/*.http`` (one request stream per
  file), each fed whole, byte by byte and split in two at every position, under
  the default limits and under a set of small limits;
* hypothesis: random mutations of the corpus (bit flips, inserted CR, LF, NUL,
  SP, HTAB, 0x80, 0xff and delimiters, deletions, truncations), random feed
  boundaries and random small (or absurd) limits; and pipelined heads built
  from the fields the parser interprets (Host, Content-Length,
  Transfer-Encoding, Connection, Expect) with odd list values;
* each limit exactly at its value and one byte over, and odd limit values
  (0, negative, 2**64 and beyond, floats).

Set ``EMBEDTORNADO_DIFF_EXAMPLES`` to change the number of hypothesis examples.
"""

from __future__ import annotations

import importlib
import os
import pathlib
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from embedtornado import _httpdefs
from embedtornado._pure import httpparse as py_parser
from parsetools import trace

REQUIRE = os.environ.get("EMBEDTORNADO_REQUIRE_EXTENSIONS", "") not in ("", "0")
try:
    c_parser: Any = importlib.import_module("embedtornado._speedups.httpparse")
except ImportError as exc:  # pragma: no cover - depends on the build
    c_parser = None
    _import_error = exc

DATA_DIR = pathlib.Path(__file__).parent / "data" / "http"
CORPUS = {
    f"{kind}/{path.stem}": path.read_bytes()
    for kind in ("valid", "invalid")
    for path in sorted((DATA_DIR / kind).glob("*.http"))
}

#: Limits small enough that most corpus files run into one of them somewhere.
SMALL = {"max_header_size": 256, "max_body_size": 24, "max_request_line": 48,
         "max_header_count": 6, "max_chunk_line": 12}
CONFIGS = {"default": {}, "small": SMALL}


@pytest.fixture(scope="module")
def cmod():
    if c_parser is None:
        if REQUIRE:
            pytest.fail(f"EMBEDTORNADO_REQUIRE_EXTENSIONS is set but the compiled parser does "
                        f"not import: {_import_error}")
        pytest.skip("embedtornado._speedups.httpparse is not built")
    return c_parser


# --- running one implementation ----------------------------------------------------------


def check_same(cmod, chunks: list[bytes], limits: dict) -> list[tuple]:
    expected = trace(py_parser, chunks, limits)
    got = trace(cmod, chunks, limits)
    if got != expected:
        for i, (g, e) in enumerate(zip(got, expected)):
            if g != e:
                break
        else:
            i = min(len(got), len(expected))
        pytest.fail(
            f"compiled parser differs from the twin at step {i} with limits {limits}\n"
            f"chunks: {chunks!r}\ncompiled: {got[i:i + 3]!r}\ntwin:     {expected[i:i + 3]!r}"
        )
    return expected


def all_splits(data: bytes, stride: int = 1) -> list[list[bytes]]:
    """Whole, byte by byte, and in two at every *stride*-th position (and the last few)."""
    out = [[data], [data[i:i + 1] for i in range(len(data))]]
    cuts = set(range(1, len(data), stride)) | set(range(max(1, len(data) - 8), len(data)))
    out.extend([data[:i], data[i:]] for i in sorted(cuts))
    return out


def _stride(data: bytes) -> int:
    return 1 if len(data) <= 2000 else 37


# --- the corpus ---------------------------------------------------------------------------


def test_corpus_is_big_enough():
    valid = [k for k in CORPUS if k.startswith("valid/")]
    assert len(valid) >= 20 and len(CORPUS) - len(valid) >= 40


@pytest.mark.parametrize("config", sorted(CONFIGS))
@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus(cmod, name, config):
    data = CORPUS[name]
    limits = CONFIGS[config]
    whole = check_same(cmod, [data], limits)
    if name.startswith("valid/") and config == "default":
        assert whole[-1][0] == "final" and not any(e[0] == "error" for e in whole), whole
        assert whole[-1][2] is False or name.endswith("websocket_upgrade_then_bytes"), whole
    for chunks in all_splits(data, _stride(data))[1:]:
        check_same(cmod, chunks, limits)


# Messages that quote the peer's input are built by helpers in _httpdefs (Tornado's
# texts); each helper stands for the forms it can return, up to the quoted input.
_MESSAGE_FORMS = {
    "unexpected_version": [_httpdefs.unexpected_version("@")],
    "invalid_header_name": [_httpdefs.invalid_header_name("@")],
    "invalid_header_value": [_httpdefs.invalid_header_value("@")],
    "bad_host": [_httpdefs.bad_host(["@"]), _httpdefs.bad_host(["@", "@"])],
    "unsupported_transfer_encoding": [_httpdefs.unsupported_transfer_encoding(["@"])],
    "bad_content_length": [_httpdefs.bad_content_length(["@"]),
                           _httpdefs.bad_content_length(["@", "#"])],
}
_PREFIXES = [m.split("@")[0] for forms in _MESSAGE_FORMS.values() for m in forms]


def _message_form(message: str) -> str:
    """*message* with the quoted peer input cut off (the message itself if it quotes none)."""
    for prefix in _PREFIXES:
        if message.startswith(prefix):
            return prefix
    return message


def _twin_messages() -> set[tuple[str, str]]:
    """Every (exception class, message form) the twin can raise, read from its source."""
    src = pathlib.Path(py_parser.__file__).read_text()
    found = set()
    for cls, arg in re.findall(r"\b(\w+(?:Error|TooLong|TooLarge|NotSupported|NotImplemented))"
                               r"\(\s*(\"[^\"]+\"|[A-Z_]+\b(?!\()|[a-z_]+\()", src):
        if arg.startswith('"'):
            found.add((cls, arg[1:-1]))
        elif arg.endswith("("):
            found.update((cls, m.split("@")[0]) for m in _MESSAGE_FORMS[arg[:-1]])
        else:
            found.add((cls, getattr(_httpdefs, arg)))
    assert len(found) > 25, found
    return found


def test_corpus_reaches_every_error_of_the_twin(cmod):
    seen = set()
    for data in CORPUS.values():
        for limits in CONFIGS.values():
            for step in check_same(cmod, [data], limits):
                if step[0] == "error":
                    seen.add((step[1].__name__, _message_form(step[2])))
    # (split_query's one error is no parser error: test_split_query_limit reaches it.)
    missing = _twin_messages() - seen - {("ValueError", "Max number of fields exceeded")}
    assert not missing, f"no corpus file reaches {sorted(missing)}"


# --- generated inputs ---------------------------------------------------------------------

SMALL_CORPUS = [v for v in CORPUS.values() if len(v) <= 2000]
INSERTS = [b"\r", b"\n", b"\r\n", b"\x00", b" ", b"\t", b"\x80", b"\xff", b":", b",", b";",
           b"=", b'"', b"\\", b"0", b"F", b"\x7f", b"\r\n\r\n", b"\r\n \r\n", b"-"]

_limit = st.one_of(st.integers(-2, 80), st.integers(80, 600),
                   st.sampled_from([0, 2**31 - 1, 2**63, 2**64, 10**30]))
LIMITS: st.SearchStrategy[dict] = st.one_of(
    st.just({}),
    st.just(SMALL),
    st.fixed_dictionaries({}, optional={
        "max_header_size": _limit, "max_body_size": _limit, "max_request_line": _limit,
        "max_header_count": st.integers(-1, 12), "max_chunk_line": _limit,
    }),
)


@st.composite
def mutated_streams(draw) -> list[bytes]:
    data = bytearray(draw(st.sampled_from(SMALL_CORPUS)))
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(("flip", "insert", "insert", "replace", "delete", "truncate")))
        i = draw(st.integers(0, len(data)))
        if op == "insert":
            data[i:i] = draw(st.sampled_from(INSERTS))
        elif op == "truncate":
            del data[i:]
        elif op == "delete":
            del data[i:i + draw(st.integers(1, 12))]
        elif data:
            i = min(i, len(data) - 1)
            if op == "flip":
                data[i] ^= 1 << draw(st.integers(0, 7))
            else:
                data[i] = draw(st.sampled_from(INSERTS))[0]
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=6)))
    return [bytes(data[a:b]) for a, b in zip([0, *cuts], [*cuts, len(data)])]


@settings(
    max_examples=int(os.environ.get("EMBEDTORNADO_DIFF_EXAMPLES", "2500")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(chunks=mutated_streams(), limits=LIMITS)
def test_mutated_corpus(cmod, chunks, limits):
    check_same(cmod, chunks, limits)


@settings(max_examples=300, deadline=None, database=None)
@given(body=st.binary(max_size=300), limits=LIMITS)
def test_random_bytes_after_a_request_line(cmod, body, limits):
    data = b"POST / HTTP/1.1\r\n" + body
    check_same(cmod, [data], limits)
    check_same(cmod, [data[i:i + 1] for i in range(len(data))], limits)


_WORDS = [b"chunked", b"Chunked", b"gzip", b"identity", b"close", b"CLOSE", b"keep-alive",
          b"Keep-Alive", b"upgrade", b"100-continue", b"100-Continue", b"0", b"00", b"5", b"05",
          b"18446744073709551616", b"999999999999999999", b"[::1]", b"a.b", b"%41", b"%4", b":",
          b":80", b"x@y", b"", b"\xe9", b"\x85"]
_SEPS = [b",", b", ", b" ,", b"\t,\t", b",,", b" ", b"\t", b""]
_NAMES = [b"Transfer-Encoding", b"transfer-encoding", b"Content-Length", b"content-LENGTH",
          b"Connection", b"connection", b"Expect", b"X-Other", b"TE", b"Upgrade", b"hOST"]


@st.composite
def generated_requests(draw) -> list[bytes]:
    """Heads built from the fields the parser interprets, with list-valued odd values."""
    out = b""
    for _ in range(draw(st.integers(1, 3))):
        method = draw(st.sampled_from([b"GET", b"POST", b"HEAD", b"PUT"]))
        version = draw(st.sampled_from([b"HTTP/1.1"] * 4 + [b"HTTP/1.0"] * 2 + [b"HTTP/2.0"]))
        head = method + b" /p " + version + b"\r\n"
        if draw(st.sampled_from([True] * 9 + [False])):
            head += b"Host: a\r\n"
        for _ in range(draw(st.integers(0, 5))):
            words = draw(st.lists(st.sampled_from(_WORDS), min_size=1, max_size=3))
            value = words[0]
            for w in words[1:]:
                value += draw(st.sampled_from(_SEPS)) + w
            ows = draw(st.sampled_from([b"", b" ", b"\t ", b"  "]))
            head += draw(st.sampled_from(_NAMES)) + b":" + ows + value + ows + b"\r\n"
        body = draw(st.sampled_from([b"", b"hello", b"5\r\nhello\r\n0\r\n\r\n",
                                     b"0\r\nT: v\r\n\r\n"]))
        out += head + b"\r\n" + body
    cuts = sorted(draw(st.lists(st.integers(0, len(out)), max_size=3)))
    return [out[a:b] for a, b in zip([0, *cuts], [*cuts, len(out)])]


@settings(max_examples=1500, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(chunks=generated_requests(), limits=LIMITS)
def test_generated_heads(cmod, chunks, limits):
    check_same(cmod, chunks, limits)


# --- limits: exactly at each, and one byte over -----------------------------------------

E = _httpdefs


def _get(extra: bytes = b"", target: bytes = b"/") -> bytes:
    return b"GET " + target + b" HTTP/1.1\r\nHost: a\r\n" + extra + b"\r\n"


_HEAD = _get(b"X: " + b"a" * 100 + b"\r\n")
_TARGET = b"/" + b"t" * 60
_FIELDS = b"".join(b"F%d: v\r\n" % i for i in range(7))  # 8 fields with Host
_CHUNKED = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
_CHUNK_LINE = b"5;ext=" + b"e" * 20
_TRAILER = b"X-T: " + b"v" * 300 + b"\r\n\r\n"  # longer than the head before it

#: (id, bytes, limit, value at which the bytes just fit, error class one byte over)
LIMIT_CASES = [
    ("head size", _HEAD, "max_header_size", len(_HEAD), E.RequestHeaderFieldsTooLarge),
    ("head size, incomplete", _HEAD[:-1], "max_header_size", len(_HEAD) - 1,
     E.RequestHeaderFieldsTooLarge),
    ("request line", _get(target=_TARGET), "max_request_line",
     len(b"GET " + _TARGET + b" HTTP/1.1"), E.RequestURITooLong),
    # no CRLF yet: n bytes are fine while a CR could still end a line of n - 1 bytes
    ("request line, incomplete", b"GET " + _TARGET, "max_request_line",
     len(b"GET " + _TARGET) - 1, E.RequestURITooLong),
    ("header count", _get(_FIELDS), "max_header_count", 8, E.RequestHeaderFieldsTooLarge),
    ("body, Content-Length", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 37\r\n\r\n" + b"b" * 37,
     "max_body_size", 37, E.PayloadTooLarge),
    ("body, chunked", _CHUNKED + b"10\r\n" + b"c" * 16 + b"\r\n15\r\n" + b"d" * 21 + b"\r\n0\r\n\r\n",
     "max_body_size", 37, E.PayloadTooLarge),
    ("chunk line", _CHUNKED + _CHUNK_LINE + b"\r\nhello\r\n0\r\n\r\n", "max_chunk_line",
     len(_CHUNK_LINE), E.HTTPInputError),
    ("chunk line, incomplete", _CHUNKED + _CHUNK_LINE, "max_chunk_line", len(_CHUNK_LINE) - 1,
     E.HTTPInputError),
    ("trailer section", _CHUNKED + b"0\r\n" + _TRAILER, "max_header_size", len(_TRAILER),
     E.RequestHeaderFieldsTooLarge),
    ("16 hex digits within a 64-bit limit", _CHUNKED + b"FFFFFFFFFFFFFFFF\r\nabc", "max_body_size",
     2**64 - 1, E.PayloadTooLarge),
    ("18-digit Content-Length",
     b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 999999999999999999\r\n\r\nabc",
     "max_body_size", 10**18 - 1, E.PayloadTooLarge),
]


@pytest.mark.parametrize("case", LIMIT_CASES, ids=[c[0] for c in LIMIT_CASES])
def test_limit_exact_and_one_over(cmod, case):
    _, data, name, fits, error = case
    stride = 1 if len(data) <= 600 else 7
    for value, ok in ((fits, True), (fits - 1, False), (fits + 1, True)):
        for chunks in all_splits(data, stride):
            result = check_same(cmod, chunks, {name: value})
            errors = [step for step in result if step[0] == "error"]
            if ok:
                assert not errors, (value, chunks, errors)
            else:
                assert errors and errors[0][1] is error, (value, chunks, result)


@pytest.mark.parametrize("value", [2**64, 2**64 + 1, 10**30, -2, -1, 0, 1, 2.5, float("inf"),
                                   float("-inf"), float("nan"), True])
def test_odd_limit_values(cmod, value):
    # Limits are plain Python numbers in the twin; the compiled parser clamps them to C types
    # without changing a single outcome.
    streams = [*CORPUS.values(), _CHUNKED + b"FFFFFFFFFFFFFFFF\r\nabc"]
    for name in ("max_header_size", "max_body_size", "max_request_line", "max_header_count",
                 "max_chunk_line"):
        if isinstance(value, float) and name != "max_body_size":
            continue  # lengths are ints; only the body limit is compared as a number
        for data in streams:
            check_same(cmod, [data], {name: value})
            p, q = cmod.RequestParser(**{name: value}), py_parser.RequestParser(**{name: value})
            assert getattr(p, name) is value and getattr(q, name) is value


def test_limit_changed_between_events(cmod):
    # http1connection may lower max_body_size after HEAD (Tornado's set_max_body_size).
    data = _CHUNKED + b"5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n"
    results = []
    for mod in (py_parser, cmod):
        p = mod.RequestParser()
        p.feed(data[:len(_CHUNKED)])
        assert p.next_event() == mod.HEAD
        p.max_body_size = 7
        p.feed(data[len(_CHUNKED):])
        steps = []
        try:
            while True:
                ev = p.next_event()
                steps.append((ev, p.data))
                if ev == mod.NEED_DATA:
                    break
        except mod.HTTPInputError as e:
            steps.append((type(e), str(e)))
        results.append(steps)
    assert results[0] == results[1]
    assert results[0][-1] == (E.PayloadTooLarge, "chunked body too large")


# --- the rest of the public surface ---------------------------------------------------


def test_same_public_names(cmod):
    assert sorted(cmod.__all__) == sorted(py_parser.__all__)
    for name in py_parser.__all__:
        assert hasattr(cmod, name), name
    for name in ("NEED_DATA", "HEAD", "DATA", "END"):
        assert getattr(cmod, name) == getattr(py_parser, name)
    for name in ("HTTPInputError", "PayloadTooLarge", "RequestURITooLong"):
        assert getattr(cmod, name) is getattr(py_parser, name)
    p, q = cmod.RequestParser(), py_parser.RequestParser()
    for attr in ("method", "target", "version", "headers", "keep_alive", "chunked",
                 "content_length", "expect_continue", "data", "max_header_size",
                 "max_body_size", "max_request_line", "max_header_count", "max_chunk_line",
                 "in_message"):
        assert getattr(p, attr) == getattr(q, attr), attr
        assert type(getattr(p, attr)) is type(getattr(q, attr)), attr
    assert p.pending() == q.pending() == 0 and p.take_buffer() == q.take_buffer() == b""
    assert p.next_event() == q.next_event() == cmod.NEED_DATA


def test_positional_limits(cmod):
    args = (300, 10, 50, 5, 9)
    p, q = cmod.RequestParser(*args), py_parser.RequestParser(*args)
    for name, value in zip(("max_header_size", "max_body_size", "max_request_line",
                            "max_header_count", "max_chunk_line"), args):
        assert getattr(p, name) == getattr(q, name) == value


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_feed_accepts_buffers(cmod, kind):
    data = CORPUS["valid/pipelined_mixed"]
    for mod in (cmod, py_parser):
        p = mod.RequestParser()
        p.feed(kind(data[:50]))
        p.feed(kind(b""))
        p.feed(kind(data[50:]))
        assert p.pending() == len(data)
    assert trace(cmod, [data], {}) == trace(py_parser, [data], {})
    with pytest.raises(TypeError):
        cmod.RequestParser().feed("GET / HTTP/1.1\r\n")


@pytest.mark.parametrize("name", ["content-TYPE", "x", "X-", "-a-B-", "a--b", "sec-ch-ua",
                                  "123abc-xYZ", "", "ßtraße-ǆ", "İi-ı"])
def test_normalize_header_name(cmod, name):
    assert cmod.normalize_header_name(name) == py_parser.normalize_header_name(name)


def test_take_buffer_mid_head_and_reuse(cmod):
    for mod in (cmod, py_parser):
        p = mod.RequestParser()
        p.feed(b"GET / HTTP/1.1\r\nHo")
        assert p.next_event() == mod.NEED_DATA
        assert p.take_buffer() == b"GET / HTTP/1.1\r\nHo"
        p.feed(b"GET /b HTTP/1.1\r\nHost: a\r\n\r\n")
        assert p.next_event() == mod.HEAD and p.target == "/b"


def test_large_feeds_and_buffer_reuse(cmod):
    # Over the compiled parser's shrink threshold, then small again, many times.
    body = bytes(range(256)) * 2048
    data = (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % len(body) + body
            + CORPUS["valid/get_browser"]) * 3
    for chunks in ([data], [data[i:i + 65536] for i in range(0, len(data), 65536)],
                   [data[i:i + 1000] for i in range(0, len(data), 1000)]):
        check_same(cmod, chunks, {})


def test_feed_from_a_finalizer_during_parse_is_refused(cmod):
    # The compiled parser reads its buffer through raw pointers while it allocates; a
    # finalizer run by the garbage collector at that moment must not move the buffer.
    import gc

    p = cmod.RequestParser(max_header_count=1000)
    refused = []

    def callback(phase, info):
        if phase == "start":
            try:
                p.feed(b"x" * 100000)
            except RuntimeError as e:
                refused.append(e)

    # 400 fields: more new lists than the list free list holds, so the parse allocates
    # from the GC and, with a threshold of 1, collects while it runs.
    p.feed(_get(b"".join(b"F%d: v\r\n" % i for i in range(400))))
    threshold = gc.get_threshold()
    gc.callbacks.append(callback)
    gc.set_threshold(1)
    try:
        assert p.next_event() == cmod.HEAD
    finally:
        gc.set_threshold(*threshold)
        gc.callbacks.remove(callback)
    assert refused
    assert len(p.headers) == 401 and p.headers["F399"] == ["v"]


# --- encode_head (the response head writer) ----------------------------------------------

#: Text with the characters encode_head cares about: CR, LF, Latin-1 and beyond.
_HEAD_TEXT = st.text(alphabet=st.sampled_from(
    ["a", "Z", "-", " ", "\t", ":", "\r", "\n", "\x00", "\x7f", "\xe9", "\xff", "\u0100",
     "\u2603", "\U0001f600"]), max_size=12)
_HEAD_VALUE = st.one_of(_HEAD_TEXT, st.integers(), st.none())  # (bytes: -bb in hypothesis)
_HEAD_FIELDS = st.dictionaries(
    st.one_of(_HEAD_TEXT, st.integers(0, 3)),
    st.one_of(st.lists(_HEAD_VALUE, max_size=3), st.lists(_HEAD_TEXT, min_size=1, max_size=3),
              st.lists(_HEAD_TEXT, min_size=1, max_size=3), _HEAD_TEXT, st.tuples(_HEAD_TEXT)),
    max_size=5)


@settings(max_examples=int(os.environ.get("EMBEDTORNADO_DIFF_EXAMPLES", "300")),
          suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(status=st.binary(max_size=20), fields=_HEAD_FIELDS, tail=st.binary(max_size=20))
def test_encode_head_is_the_twin(cmod, status, fields, tail):
    expected = py_parser.encode_head(status, fields, tail)
    assert cmod.encode_head(status, fields, tail) == expected
    if expected is not None:  # the twin's definition, restated
        lines = b"".join(name.encode("latin-1") + b": " + value.encode("latin-1") + b"\r\n"
                         for name, values in fields.items() for value in values)
        assert expected == status + lines + b"\r\n" + tail


@pytest.mark.parametrize(("fields", "written"), [
    ({}, True),
    ({"Server": ["x"], "Set-Cookie": ["a=1", "b=2"]}, True),
    ({"X": ["caf\xe9", ""]}, True),
    ({"X": ["snow \u2603"]}, False),    # not Latin-1
    ({"X": ["a\r\nY: 1"]}, False),      # CR LF in a value
    ({"X\n": ["a"]}, False),            # LF in a name
    ({"X": "ab"}, False),               # values not in a list
    ({"X": [b"ab"]}, False),            # a bytes value
    ({1: ["a"]}, False),                # a name that is not str
])
def test_encode_head_cases(cmod, fields, written):
    got = cmod.encode_head(b"HTTP/1.1 200 OK\r\n", fields, b"body")
    assert got == py_parser.encode_head(b"HTTP/1.1 200 OK\r\n", fields, b"body")
    assert (got is not None) == written
    with pytest.raises(TypeError):
        cmod.encode_head(None, fields, b"")
    with pytest.raises(TypeError):
        cmod.encode_head(b"", fields, None)


# --- split_query (the query string of a request) ------------------------------------------

_QUERY = st.text(alphabet=st.sampled_from(list("ab=&%+ \xe9\u2603;/?#0")), max_size=16)


@settings(max_examples=int(os.environ.get("EMBEDTORNADO_DIFF_EXAMPLES", "300")),
          suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(query=_QUERY, limit=st.one_of(st.none(), st.integers(0, 6)))
def test_split_query_is_the_twin(cmod, query, limit):
    def run(module):
        try:
            return module.split_query(query, limit)
        except ValueError as e:
            return ("error", str(e))

    expected = run(py_parser)
    assert run(cmod) == expected
    if expected is not None and expected[0] != "error":
        from embedtornado.escape import parse_qs_bytes

        arguments, query_arguments = expected
        assert arguments == parse_qs_bytes(query, keep_blank_values=True) == query_arguments
        for name, values in arguments.items():
            assert values is not query_arguments[name]


def test_split_query_limit(cmod):
    for module in (cmod, py_parser):
        assert module.split_query("a=1&b=2&&", 4) == ({"a": [b"1"], "b": [b"2"]},) * 2
        with pytest.raises(ValueError, match="^Max number of fields exceeded$"):
            module.split_query("a=1&b=2&&", 3)
        assert module.split_query("a=%41", None) is None
        assert module.split_query(b"a=1", None) is None
