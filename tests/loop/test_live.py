"""Guard: embedtornado's compiled loop is really what the ``embedtornado`` rows test.

falcon's ``test_cython.py`` idea (STYLE.md rule 14). Skips while the compiled
loop is not built, fails when it must be (see ``conformance.ours_factory``).
"""

from __future__ import annotations

import asyncio

from conformance import OURS_MODULE, close_loop, is_compiled_loop, ours_factory


def test_new_event_loop_returns_compiled_loop():
    factory = ours_factory()
    loop = factory()
    try:
        assert is_compiled_loop(loop), f"{type(loop)!r} is not built on {OURS_MODULE}"
        assert isinstance(loop, asyncio.AbstractEventLoop)
    finally:
        close_loop(loop)


def test_loop_class_is_exposed():
    ours_factory()
    import embedtornado.loop

    assert issubclass(embedtornado.loop.Loop, asyncio.AbstractEventLoop)
    assert any(c.__module__ == OURS_MODULE for c in embedtornado.loop.Loop.__mro__)
    loop = embedtornado.loop.Loop()
    try:
        assert is_compiled_loop(loop)
    finally:
        close_loop(loop)


def test_is_compiled_loop_rejects_references():
    # The guard itself: the stdlib loop is not mistaken for ours.
    loop = asyncio.new_event_loop()
    try:
        assert not is_compiled_loop(loop)
    finally:
        loop.close()
