"""Helpers shared by the httputil test modules."""

from __future__ import annotations

import tornado.httputil as t_httputil
from hypothesis import settings

from embedtornado import httputil
from embedtornado.httputil import RequestStartLine
from scaling import assert_linear, outcome, peak_memory  # noqa: F401 - re-exported

FUZZ = settings(max_examples=300, deadline=None)


def both(name, *args, **kwargs):
    """Call ``name`` in both modules; assert the same outcome and return ours."""
    ours = outcome(getattr(httputil, name), *args, **kwargs)
    theirs = outcome(getattr(t_httputil, name), *args, **kwargs)
    assert ours == theirs, (name, args, kwargs)
    return ours


def start(uri="/", version="HTTP/1.1", method="GET"):
    return RequestStartLine(method, uri, version)
