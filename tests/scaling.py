"""Checks shared by the test modules: outcomes, linear-time scaling, peak memory."""

from __future__ import annotations

import gc
import time
import tracemalloc


def outcome(func, *args, **kwargs):
    """The result of a call, or the exception's class name and message."""
    try:
        return ("ok", func(*args, **kwargs))
    except Exception as e:  # noqa: BLE001 - compared with the other implementation
        return ("error", type(e).__name__, str(e))


def _cost(func, n, min_time=0.03):
    iterations = 1
    while True:
        start = time.perf_counter()
        for _ in range(iterations):
            func(n)
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            return elapsed / iterations
        iterations *= 2


def assert_linear(func, n, *, factor=10, max_ratio=20, attempts=3):
    """Fail if func(factor * n) costs more than max_ratio times func(n)."""
    ratio = 0.0
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(attempts):
            func(n)
            small = min(_cost(func, n) for _ in range(3))
            large = min(_cost(func, n * factor) for _ in range(3))
            ratio = large / small
            if ratio < max_ratio:
                return
    finally:
        if gc_was_enabled:
            gc.enable()
    raise AssertionError(f"not linear: ratio {ratio:.1f} for x{factor} input")


def peak_memory(func, *args):
    tracemalloc.start()
    try:
        func(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
