"""call_later, call_at, TimerHandle and the loop's clock.

From the asyncio-eventloop page, "Scheduling delayed callbacks" and
"Callback Handles". Only lower bounds on elapsed time are asserted (STYLE.md
rule 15); upper bounds are the per-test timeout.
"""

from __future__ import annotations

import asyncio
import contextvars
import time

import pytest
from conformance import assert_handle, run, run_forever_bounded

var = contextvars.ContextVar("var", default="unset")

# uvloop's clock has millisecond resolution; deadlines this far apart are
# distinct on every loop.
GAP = 0.01


def test_time_is_monotonic_and_advances(loop):
    # Docs: time() "Return the current time, as a float value, according to the
    # event loop's internal monotonic clock."
    samples = [loop.time() for _ in range(1000)]
    assert all(isinstance(t, float) for t in samples[:3])
    assert samples == sorted(samples)
    t0 = loop.time()
    time.sleep(0.03)
    assert loop.time() - t0 >= 0.025


def test_time_advances_while_running(loop):
    async def main():
        t0 = loop.time()
        await asyncio.sleep(0.03)
        return loop.time() - t0

    assert run(loop, main()) >= 0.025


def test_call_later_fires_in_deadline_order(loop):
    order = []
    for i, delay in enumerate([4, 1, 3, 0, 2]):
        loop.call_later(delay * GAP, order.append, delay)
    loop.call_later(6 * GAP, loop.stop)
    assert run_forever_bounded(loop)
    assert order == [0, 1, 2, 3, 4]


def test_call_at_fires_in_deadline_order(loop):
    order = []
    base = loop.time()
    for delay in [3, 0, 4, 2, 1]:
        loop.call_at(base + delay * GAP, order.append, delay)
    loop.call_at(base + 6 * GAP, loop.stop)
    assert run_forever_bounded(loop)
    assert order == [0, 1, 2, 3, 4]


def test_equal_deadlines_all_fire_once(loop):
    # Docs (call_later): "If two callbacks are scheduled for exactly the same
    # time, it is undefined which will be called first." So no order is
    # checked here: the stdlib loop does not keep FIFO order among equal
    # deadlines (its timer heap is not stable), uvloop happens to.
    when = loop.time() + GAP
    fired = []
    for i in range(50):
        loop.call_at(when, fired.append, i)
    loop.call_at(when + 2 * GAP, loop.stop)
    assert run_forever_bounded(loop)
    assert sorted(fired) == list(range(50))


def test_timers_do_not_fire_early(loop):
    late = []

    def check(h_box, scheduled_when):
        late.append(loop.time() - scheduled_when)

    for delay in (0.0, 0.005, 0.02, 0.04):
        box = []
        h = loop.call_later(delay, check, box, loop.time() + delay)
        box.append(h)
    run(loop, asyncio.sleep(0.06))
    assert len(late) == 4
    # A millisecond of slack for clocks that round to the millisecond.
    assert min(late) >= -0.0011, late


def test_call_soon_runs_before_due_timer_scheduled_later(loop):
    # A due timer does not jump the ready queue: call_soon callbacks queued
    # before the loop starts run before a call_later(0) registered after them.
    order = []
    loop.call_soon(order.append, "soon-1")
    loop.call_later(0, order.append, "later-0")
    loop.call_soon(order.append, "soon-2")
    loop.call_later(GAP, loop.stop)
    assert run_forever_bounded(loop)
    assert order.index("soon-1") < order.index("later-0")
    assert set(order) == {"soon-1", "soon-2", "later-0"}


def test_timer_handle_when(loop):
    # Docs: TimerHandle.when() "Return a scheduled callback time as float
    # seconds. The time is an absolute timestamp, using the same time
    # reference as loop.time()."
    target = loop.time() + 100.0
    h = loop.call_at(target, print)
    assert_handle(h, timer=True)
    assert h.when() == pytest.approx(target, abs=0.002)
    before = loop.time()
    h2 = loop.call_later(50.0, print)
    after = loop.time()
    assert before + 50.0 - 0.002 <= h2.when() <= after + 50.0 + 0.002
    h.cancel()
    h2.cancel()


def test_cancel_timer(loop):
    fired = []
    h1 = loop.call_later(GAP, fired.append, "cancelled")
    h2 = loop.call_later(GAP, fired.append, "kept")
    assert not h1.cancelled()
    h1.cancel()
    assert h1.cancelled()
    h1.cancel()
    run(loop, asyncio.sleep(3 * GAP))
    assert fired == ["kept"]
    h2.cancel()  # after it fired: harmless


def test_timer_cancelled_from_earlier_timer(loop):
    fired = []
    later = loop.call_later(2 * GAP, fired.append, "victim")
    loop.call_later(GAP, lambda: (fired.append("killer"), later.cancel()))
    run(loop, asyncio.sleep(4 * GAP))
    assert fired == ["killer"]


def test_many_cancelled_timers_then_one_due(loop):
    handles = [loop.call_later(3600 + i, print) for i in range(10_000)]
    for h in handles:
        h.cancel()
    fired = []
    loop.call_later(0.001, fired.append, 1)
    run(loop, asyncio.sleep(0.02))
    assert fired == [1]


def test_cancel_nearest_timer_loop_still_wakes_for_next(loop):
    # Cancelling the earliest timer must not leave the loop sleeping past (or
    # waking only at) the next one.
    fired = []
    h = loop.call_later(GAP, fired.append, "first")
    loop.call_later(2 * GAP, lambda: (fired.append("second"), loop.stop()))
    h.cancel()
    assert run_forever_bounded(loop)
    assert fired == ["second"]


def test_call_later_args_and_context(loop):
    ctx = contextvars.Context()
    ctx.run(var.set, "timerctx")
    seen = []
    loop.call_later(0, lambda a, b: seen.append((a, b, var.get())), "x", 2, context=ctx)
    loop.call_at(loop.time(), lambda: seen.append(var.get()), context=ctx)
    run(loop, asyncio.sleep(GAP))
    assert sorted(map(str, seen)) == sorted(map(str, [("x", 2, "timerctx"), "timerctx"]))


def test_negative_and_past_deadlines_fire_soon(loop):
    # Reference behaviour: a deadline in the past means "as soon as possible".
    fired = []
    loop.call_later(-1, fired.append, "negative")
    loop.call_at(loop.time() - 10, fired.append, "past")
    run(loop, asyncio.sleep(GAP))
    assert sorted(fired) == ["negative", "past"]


def test_timer_rescheduling_itself(loop):
    ticks = []
    done = loop.create_future()

    def tick():
        ticks.append(loop.time())
        if len(ticks) < 5:
            loop.call_later(0.002, tick)
        else:
            done.set_result(None)

    loop.call_soon(tick)
    run(loop, done)
    assert len(ticks) == 5
    assert ticks == sorted(ticks)


def test_timer_scheduled_while_loop_blocked_in_selector(loop):
    # A timer added by a callback (while a far timer is the only deadline)
    # shortens the loop's sleep.
    fut = loop.create_future()
    loop.call_later(3600, print).cancel()
    far = loop.call_later(3600, print)
    loop.call_soon(loop.call_later, GAP, fut.set_result, "near")
    assert run(loop, fut) == "near"
    far.cancel()


def test_callback_chain_does_not_starve_timers(loop):
    fired = loop.create_future()
    spins = [0]

    def spin():
        spins[0] += 1
        if not fired.done():
            loop.call_soon(spin)

    loop.call_soon(spin)
    loop.call_later(0.01, fired.set_result, "timer ran")
    assert run(loop, fired) == "timer ran"


def test_far_future_deadlines(loop):
    # Deadlines far past any poll timeout (an int of milliseconds overflows
    # after ~24.8 days) neither break the loop nor delay a nearer timer.
    fired = []
    far = [loop.call_later(86400 * 365 * 100, fired.append, "far"),
           loop.call_at(loop.time() + 1e12, fired.append, "farther")]
    loop.call_later(GAP, fired.append, "near")
    run(loop, asyncio.sleep(3 * GAP))
    assert fired == ["near"]
    for h in far:
        h.cancel()


@pytest.mark.parametrize("pending", ["none", "far-timer", "near-timer"])
def test_idle_loop_blocks_instead_of_spinning(loop, pending):
    # While nothing is ready, the loop sleeps in its poll: over 0.2 s of
    # waiting for a thread's wake-up it uses far less than 0.2 s of CPU.
    # (A correctness check, not a speed figure: a spinning loop uses ~100%.)
    import threading

    handles = []
    if pending == "far-timer":
        handles.append(loop.call_later(86400 * 30, print))
    elif pending == "near-timer":
        handles.append(loop.call_later(0.1, lambda: None))
    fut = loop.create_future()
    t = threading.Timer(0.2, loop.call_soon_threadsafe, (fut.set_result, "woken"))
    cpu0 = time.process_time()
    t.start()
    try:
        assert run(loop, fut) == "woken"
    finally:
        t.join()
    cpu = time.process_time() - cpu0
    for h in handles:
        h.cancel()
    assert cpu < 0.1, f"the loop used {cpu:.3f} s of CPU while idle for 0.2 s"


def test_asyncio_sleep_lower_bound(loop):
    async def main():
        t0 = time.monotonic()
        await asyncio.sleep(0.02)
        return time.monotonic() - t0

    assert run(loop, main()) >= 0.015
