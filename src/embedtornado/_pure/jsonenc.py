"""JSON for responses, the readable twin of ``embedtornado._speedups.jsonenc``.

``dumps(value)`` returns what :func:`embedtornado.escape.json_encode` returns
(``json.dumps(value)`` with every ``</`` written ``<\\/``), as ASCII
``bytes``, for the values a handler usually writes; for any other value it
returns ``None`` and the caller takes the general route (``json.dumps``
itself, with its own errors and its ``default`` hook)::

    dumps({"a": "x</y", "n": [1, 2.5, None, True]})
    # b'{"a": "x<\\\\/y", "n": [1, 2.5, null, true]}'
    dumps({1: "a"})  # None: a key that is not a str

A value is taken when it is built only from the exact types ``dict`` (with
``str`` keys), ``list``, ``tuple``, ``str``, ``int`` (from -2**63 to 2**63-1),
``float``, ``bool`` and ``None``, nested at most `MAX_DEPTH` containers deep
(so a circular structure is never taken either). Subclasses are not taken,
since ``json.dumps`` may treat them differently. This module is the
specification of that rule; the compiled twin must give the same answer
(``None`` included) for every argument.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MAX_DEPTH", "dumps"]

#: Containers nested deeper than this are left to json.dumps.
MAX_DEPTH = 32

_INT_MIN = -(2**63)
_INT_MAX = 2**63 - 1


def _simple(value: Any, depth: int) -> bool:
    kind = type(value)
    if kind is str or kind is float or kind is bool or value is None:
        return True
    if kind is int:
        return _INT_MIN <= value <= _INT_MAX
    if kind is dict:
        if depth >= MAX_DEPTH:
            return False
        return all(type(k) is str and _simple(v, depth + 1) for k, v in value.items())
    if kind is list or kind is tuple:
        if depth >= MAX_DEPTH:
            return False
        return all(_simple(v, depth + 1) for v in value)
    return False


def dumps(value: Any) -> bytes | None:
    """``escape.json_encode(value)`` as ASCII bytes, or ``None`` (see the module docstring)."""
    if not _simple(value, 0):
        return None
    import json

    return json.dumps(value).replace("</", "<\\/").encode("ascii")
