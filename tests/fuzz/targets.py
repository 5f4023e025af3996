"""Fuzz targets: each takes arbitrary bytes and raises AssertionError on a finding.

A finding is any behaviour a hostile peer must never get out of us:

``httpparse``
    the compiled request parser and its readable twin disagree (events,
    attributes, errors, buffered bytes) on the same stream, split at a point
    and under limits both chosen by the input; or either raises anything but
    its ``HTTPInputError``.
``body``
    `embedtornado.httputil.parse_body_arguments` raises anything but
    ``HTTPInputError`` on a urlencoded or multipart body (boundary, content
    type and limits chosen by the input), or returns arguments/files of the
    wrong types.
``cookie``
    `embedtornado.httputil.parse_cookie` raises at all, or returns anything
    but a ``dict`` of ``str`` to ``str``.

Slowness counts too: the runner gives libFuzzer a per-input time limit, so a
super-linear case is reported as a timeout. ``tests/fuzz/run.py`` drives
these with atheris; ``tests/fuzz/test_fuzz.py`` replays every saved input
under ``tests/data/fuzz/<target>/`` in the normal test run.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any, Callable

_HERE = os.path.dirname(os.path.abspath(__file__))
if os.path.dirname(_HERE) not in sys.path:  # tests/, for parsetools
    sys.path.insert(0, os.path.dirname(_HERE))

from parsetools import trace  # noqa: E402

from embedtornado import _accel, httputil  # noqa: E402
from embedtornado._pure import httpparse as py_parser  # noqa: E402


def _compiled_parser() -> Any:
    if _accel.NO_EXTENSIONS:
        return None
    try:
        return importlib.import_module("embedtornado._speedups.httpparse")
    except ImportError:
        if _accel.REQUIRE_EXTENSIONS:
            raise
        return None


C_PARSER = _compiled_parser()

_LIMIT_CHOICES = ({}, {"max_header_size": 200, "max_body_size": 40, "max_request_line": 40,
                       "max_header_count": 5, "max_chunk_line": 10})


def httpparse(data: bytes) -> None:
    if not data:
        return
    control, stream = data[0], data[1:]
    limits = _LIMIT_CHOICES[control & 1]
    split = (control >> 1) % (len(stream) + 1)
    chunks = [stream[:split], stream[split:]] if split else [stream]
    expected = trace(py_parser, chunks, limits)
    if C_PARSER is not None:
        got = trace(C_PARSER, chunks, limits)
        assert got == expected, f"parsers differ on {chunks!r} with {limits}:\n{got}\n{expected}"


_CONTENT_TYPES = (
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=",
    'multipart/form-data; boundary="',
    "multipart/form-data;boundary=",
)


def body(data: bytes) -> None:
    if len(data) < 2:
        return
    control, blen = data[0], data[1] % 16
    boundary, payload = data[2:2 + blen], data[2 + blen:]
    ctype = _CONTENT_TYPES[control % len(_CONTENT_TYPES)]
    if ctype.startswith("multipart"):
        ctype += boundary.decode("latin-1") + ('"' if ctype.endswith('"') else "")
    config = httputil.ParseBodyConfig() if control & 0x10 else httputil.ParseBodyConfig(
        multipart=httputil.ParseMultipartConfig(max_parts=4, max_part_header_size=64),
        urlencoded=httputil.ParseUrlEncodedConfig(max_arguments=8),
    )
    arguments: dict[str, list[bytes]] = {}
    files: dict[str, list[httputil.HTTPFile]] = {}
    try:
        httputil.parse_body_arguments(ctype, payload, arguments, files, config=config)
    except httputil.HTTPInputError:
        return
    for name, values in arguments.items():
        assert isinstance(name, str) and all(isinstance(v, bytes) for v in values), arguments
    for name, fs in files.items():
        assert isinstance(name, str) and all(isinstance(f, httputil.HTTPFile) for f in fs), files


def cookie(data: bytes) -> None:
    text = data.decode("utf-8", "surrogateescape")
    result = httputil.parse_cookie(text)
    assert isinstance(result, dict)
    for k, v in result.items():
        assert isinstance(k, str) and isinstance(v, str), result


TARGETS: dict[str, Callable[[bytes], None]] = {
    "httpparse": httpparse, "body": body, "cookie": cookie,
}
