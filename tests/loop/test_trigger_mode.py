"""Per-fd edge/level trigger mode: ``Loop.set_edge_triggered`` and its loop-agnostic helper.

Our compiled loop can watch an fd edge-triggered (``EPOLLET``): a reader or
writer callback then runs once per readiness edge instead of on every
iteration while the fd stays ready. asyncio has no such mode; the helper
`embedtornado.loop.set_edge_triggered` is a no-op there, which is a valid
implementation because an edge-mode callback drains to ``EAGAIN`` anyway.

Call counts are compared after a fixed number of loop iterations
(``await asyncio.sleep(0)`` is one iteration each), never after a delay.
"""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest
from conformance import close_loop, is_compiled_loop, ours_factory, run

import embedtornado.loop
from embedtornado.loop import set_edge_triggered


@pytest.fixture
def ours():
    """Our compiled loop (skipped under EMBEDTORNADO_NO_EXTENSIONS=1)."""
    lp = ours_factory()()
    assert is_compiled_loop(lp)
    try:
        yield lp
    finally:
        close_loop(lp)


@pytest.fixture
def pair():
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    yield a, b
    a.close()
    b.close()


def spin(loop: asyncio.AbstractEventLoop, iterations: int = 10) -> None:
    """Run *loop* for exactly *iterations* turns of ``sleep(0)``."""
    async def turns() -> None:
        for _ in range(iterations):
            await asyncio.sleep(0)

    loop.run_until_complete(turns())


def wait_for_count(loop: asyncio.AbstractEventLoop, calls: list, n: int) -> None:
    """Run *loop* until ``len(calls) >= n`` (bounded by the harness timeout)."""
    async def until() -> None:
        while len(calls) < n:
            await asyncio.sleep(0.001)

    run(loop, until())


def one_byte_reader(sock: socket.socket, calls: list):
    def on_readable() -> None:
        calls.append(sock.recv(1))
    return on_readable


def drain(sock: socket.socket) -> bytes:
    out = bytearray()
    while True:
        try:
            chunk = sock.recv(65536)
        except BlockingIOError:
            return bytes(out)
        if not chunk:
            return bytes(out)
        out += chunk


# --------------------------------------------------------------------------- our loop

def test_edge_reader_called_once_per_edge(ours, pair):
    a, b = pair
    calls: list[bytes] = []
    ours.add_reader(a, one_byte_reader(a, calls))
    ours.set_edge_triggered(a)
    assert ours.is_edge_triggered(a) and ours.is_edge_triggered(a.fileno())
    b.send(b"0123456789")
    spin(ours)
    # One edge, one call: 9 bytes stay unread and nobody is told again.
    assert calls == [b"0"]
    b.send(b"x")
    spin(ours)
    assert calls == [b"0", b"1"]
    ours.remove_reader(a)
    assert drain(a) == b"23456789x"


def test_level_reader_called_every_iteration(ours, pair):
    a, b = pair
    calls: list[bytes] = []
    ours.add_reader(a, one_byte_reader(a, calls))
    assert not ours.is_edge_triggered(a)
    b.send(b"0123456789" * 10)
    spin(ours)
    assert len(calls) >= 5
    assert b"".join(calls) == (b"0123456789" * 10)[:len(calls)]
    ours.remove_reader(a)


def test_edge_writer_called_once_until_buffer_fills_and_drains(ours, pair):
    a, b = pair
    calls: list[int] = []
    ours.add_writer(a, lambda: calls.append(1))
    ours.set_edge_triggered(a)
    spin(ours)
    assert len(calls) == 1          # writable from the start: one edge only
    ours.remove_writer(a)

    # A writer that fills the buffer to EAGAIN hears again once the peer reads.
    sent = [0]

    def fill() -> None:
        calls.append(2)
        try:
            while True:
                sent[0] += a.send(b"w" * 65536)
        except BlockingIOError:
            pass

    calls.clear()
    ours.add_writer(a, fill)
    ours.set_edge_triggered(a)
    spin(ours)
    assert calls == [2] and sent[0] > 0
    got = 0
    while got < sent[0]:
        got += len(drain(b))
    wait_for_count(ours, calls, 2)
    assert calls[:2] == [2, 2]
    ours.remove_writer(a)


def test_level_writer_called_every_iteration(ours, pair):
    a, _b = pair
    calls: list[int] = []
    ours.add_writer(a, lambda: calls.append(1))
    spin(ours)
    assert len(calls) >= 5
    ours.remove_writer(a)


def test_switch_mode_while_registered(ours, pair):
    a, b = pair
    calls: list[bytes] = []
    ours.add_reader(a, one_byte_reader(a, calls))
    b.send(b"z" * 100)
    spin(ours, 5)
    level_calls = len(calls)
    assert level_calls >= 3
    ours.set_edge_triggered(a, True)
    spin(ours, 3)                   # the switch is applied, at most one more edge
    settled = len(calls)
    spin(ours)
    assert len(calls) == settled    # edge: silent though data is pending
    ours.set_edge_triggered(a, False)
    assert not ours.is_edge_triggered(a)
    spin(ours)
    assert len(calls) >= settled + 5   # level again: called on every turn
    ours.remove_reader(a)


def test_reader_and_writer_share_edge_mode(ours, pair):
    a, b = pair
    reads: list[bytes] = []
    writes: list[int] = []
    ours.add_reader(a, one_byte_reader(a, reads))
    ours.add_writer(a, lambda: writes.append(1))
    ours.set_edge_triggered(a)
    spin(ours)
    assert reads == [] and len(writes) == 1
    b.send(b"ab")
    spin(ours)
    # The read edge is reported once; epoll reports every ready direction with
    # it, so the writer may hear once more (the documented extra call).
    assert reads == [b"a"] and len(writes) in (1, 2)
    before = len(writes)
    spin(ours)
    assert reads == [b"a"] and len(writes) == before
    # Dropping one side keeps the mode (and the combined mask) for the other.
    assert ours.remove_writer(a)
    assert ours.is_edge_triggered(a)
    b.send(b"c")
    spin(ours)
    assert reads == [b"a", b"b"]
    assert ours.remove_reader(a)
    assert not ours.is_edge_triggered(a)


def test_adding_second_callback_keeps_edge(ours, pair):
    a, b = pair
    reads: list[bytes] = []
    ours.add_reader(a, one_byte_reader(a, reads))
    ours.set_edge_triggered(a)
    b.send(b"xyz")
    spin(ours)
    assert reads == [b"x"]
    writes: list[int] = []
    ours.add_writer(a, lambda: writes.append(1))      # EPOLL_CTL_MOD, EPOLLET kept
    spin(ours)
    assert len(writes) == 1
    after = len(reads)              # the MOD re-arms: at most one extra read call
    assert after in (1, 2)
    spin(ours)
    assert len(reads) == after and len(writes) == 1
    ours.remove_reader(a)
    ours.remove_writer(a)


def test_remove_both_resets_mode(ours, pair):
    a, b = pair
    calls: list[bytes] = []
    ours.add_reader(a, one_byte_reader(a, calls))
    ours.set_edge_triggered(a)
    assert ours.remove_reader(a)
    assert not ours.is_edge_triggered(a)
    ours.add_reader(a, one_byte_reader(a, calls))  # re-added: level again
    assert not ours.is_edge_triggered(a)
    b.send(b"q" * 50)
    spin(ours)
    assert len(calls) >= 5
    ours.remove_reader(a)


def test_replacing_the_reader_keeps_edge(ours, pair):
    a, b = pair
    first: list[bytes] = []
    second: list[bytes] = []
    ours.add_reader(a, one_byte_reader(a, first))
    ours.set_edge_triggered(a)
    ours.add_reader(a, one_byte_reader(a, second))   # replace, not remove
    assert ours.is_edge_triggered(a)
    b.send(b"0123")
    spin(ours)
    assert first == [] and second == [b"0"]
    ours.remove_reader(a)


def test_reused_fd_number_starts_level(ours):
    a, b = socket.socketpair()
    a.setblocking(False)
    calls: list[bytes] = []
    ours.add_reader(a, one_byte_reader(a, calls))
    ours.set_edge_triggered(a)
    number = a.fileno()
    ours.remove_reader(a)
    a.close()
    b.close()
    c, d = socket.socketpair()
    try:
        c.setblocking(False)
        # The kernel hands out the lowest free number: the closed one.
        assert number in (c.fileno(), d.fileno())
        new = c if c.fileno() == number else d
        peer = d if new is c else c
        assert not ours.is_edge_triggered(number)
        ours.add_reader(new, one_byte_reader(new, calls))
        new.setblocking(False)
        peer.send(b"r" * 50)
        spin(ours)
        assert len(calls) >= 5      # level-triggered, as any new fd
        ours.remove_reader(new)
    finally:
        c.close()
        d.close()


def test_closed_transport_fd_reused_starts_level(ours):
    # A transport's close forgets its fd (LoopBase._forget_fd); the mode of a
    # user fd removed earlier with that number must be gone as well.
    a, b = socket.socketpair()
    a.setblocking(False)
    ours.add_reader(a, lambda: None)
    ours.set_edge_triggered(a)
    ours.remove_reader(a)

    async def via_transport() -> None:
        tr, _ = await ours.connect_accepted_socket(asyncio.Protocol, a)
        tr.close()
        await asyncio.sleep(0)

    number = a.fileno()
    run(ours, via_transport())
    b.close()
    assert not ours.is_edge_triggered(number)


def test_errors(ours, pair):
    a, _b = pair
    with pytest.raises(ValueError):
        ours.set_edge_triggered(a)               # nothing watched yet
    ours.set_edge_triggered(a, False)            # level on an unwatched fd: no-op
    with pytest.raises(ValueError):
        ours.set_edge_triggered(-1)
    with pytest.raises((TypeError, ValueError)):
        ours.set_edge_triggered("not an fd")


def test_transport_fd_refused(ours):
    a, b = socket.socketpair()

    async def main() -> None:
        tr, _ = await ours.connect_accepted_socket(asyncio.Protocol, a)
        try:
            with pytest.raises(RuntimeError):
                ours.set_edge_triggered(a.fileno())
        finally:
            tr.close()
            await asyncio.sleep(0)

    try:
        run(ours, main())
    finally:
        b.close()


def test_internal_wakeups_stay_working(ours, pair):
    # The loop's eventfd (call_soon_threadsafe) and signal fd stay level and
    # keep working beside edge-mode user fds.
    a, b = pair
    calls: list[bytes] = []
    ours.add_reader(a, one_byte_reader(a, calls))
    ours.set_edge_triggered(a)

    async def main() -> None:
        for i in range(3):
            fut = ours.create_future()
            t = threading.Thread(target=ours.call_soon_threadsafe,
                                 args=(fut.set_result, i))
            t.start()
            assert await fut == i
            t.join()

    run(ours, main())
    assert calls == []
    b.send(b"xy")
    spin(ours)
    assert calls == [b"x"]          # the wake-ups did not disturb the edge fd
    ours.remove_reader(a)


def test_closed_loop_refuses(pair):
    lp = ours_factory()()
    lp.close()
    with pytest.raises(RuntimeError):
        lp.set_edge_triggered(pair[0])


# --------------------------------------------------------------------------- the helper, every loop

def test_helper_on_each_loop(loop, pair):
    a, b = pair
    calls: list[bytes] = []
    loop.add_reader(a, one_byte_reader(a, calls))
    applied = set_edge_triggered(loop, a)
    assert applied == is_compiled_loop(loop)
    b.send(b"0123456789")
    spin(loop)
    if applied:
        assert calls == [b"0"]
    else:
        assert len(calls) >= 5      # level semantics: called again and again
    loop.remove_reader(a)


def _drain_to_eagain_reader(sock: socket.socket, got: bytearray, calls: list):
    def on_readable() -> None:
        calls.append(1)
        got.extend(drain(sock))
    return on_readable


def test_helper_drain_contract_both_modes(pair):
    # embedtornado.loop.new_event_loop(): ours when compiled, the stdlib loop
    # under EMBEDTORNADO_NO_EXTENSIONS=1 -- where the helper is a no-op.
    a, b = pair
    lp = embedtornado.loop.new_event_loop()
    try:
        got = bytearray()
        calls: list[int] = []
        lp.add_reader(a, _drain_to_eagain_reader(a, got, calls))
        assert set_edge_triggered(lp, a) is embedtornado.loop.COMPILED
        for chunk in (b"one", b"two", b"three"):
            b.send(chunk)
            wait_for_count(lp, calls, len(calls) + 1)
        assert bytes(got) == b"onetwothree"
        # Fully drained: neither mode calls again without new data.
        before = len(calls)
        spin(lp)
        assert len(calls) == before
        assert set_edge_triggered(lp, a, False) is embedtornado.loop.COMPILED
        lp.remove_reader(a)
    finally:
        close_loop(lp)
