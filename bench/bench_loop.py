"""Event-loop micro-benchmarks: embedtornado's compiled loop beside asyncio and uvloop.

    python bench/bench_loop.py                    # all rows, 5 repeats each
    python bench/bench_loop.py --repeats 9 --cpu 1
    python bench/bench_loop.py --only asyncio,uvloop --quick

Rows (each repeat runs on a new loop, which is closed afterwards):

* ``call_soon batch``: schedule 1,000,000 ``call_soon`` callbacks up front,
  then ``run_forever`` until a final ``stop``. Scheduling and running are
  both timed. Figure: million callbacks per second.
* ``call_soon chain``: one callback re-schedules itself 1,000,000 times, so
  every callback is one trip around the loop (poll with zero timeout, run the
  ready queue). Figure: million callbacks per second.
* ``call_later fire``: schedule 100,000 ``call_later`` timers with delays
  spread at random (fixed seed) over 0-10 ms, run until the last one fired.
  Figure: thousand timers per second (scheduling plus firing).
* ``call_later cancel``: schedule 100,000 timers one hour out, cancel them
  all, then run one loop iteration (which drops the cancelled timers).
  Figure: thousand timers per second.
* ``tcp echo 1 KiB`` / ``tcp echo 64 KiB``: an echo server protocol and a
  client protocol in the same loop over 127.0.0.1 (``create_server`` and
  ``create_connection``; both ends set TCP_NODELAY, as asyncio does). The
  client sends one message, waits until all of it came back, and sends the
  next: 20,000 round trips of 1 KiB, 2,000 of 64 KiB. Figures: round trips
  per second, and MB/s of payload echoed (message size x round trips / time;
  each byte crosses the connection twice).

Every figure is the median of ``--repeats`` runs (5), with min-max of the
repeats as the spread; higher is better everywhere. The loops take turns
(one run of each per repeat), and the cyclic GC is off while a run is timed
(``--gc`` leaves it on): a million queued handles otherwise make the batch
row measure full collections rather than the loop. Ratio columns divide
within this run: ``uv/aio`` is uvloop over asyncio, ``ours/aio`` and
``ours/uv`` are embedtornado's loop over the other two (above 1: ours is
faster). The machine is shared: read the ratios, run it twice.

embedtornado's loop is ``embedtornado.loop.new_event_loop()`` when the
compiled ``embedtornado._speedups.loop`` imports and that call really returns
a loop built on it; otherwise its column says why it is missing. Nothing here
asserts a speed (STYLE.md rule 15).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

OURS_MODULE = "embedtornado._speedups.loop"
Factory = Callable[[], asyncio.AbstractEventLoop]


# --------------------------------------------------------------------------- loops

def loop_factories(only: set[str] | None) -> tuple[dict[str, Factory], dict[str, str]]:
    """Return ({name: factory}, {name: reason it is missing})."""
    factories: dict[str, Factory] = {}
    missing: dict[str, str] = {}
    if not only or "asyncio" in only:
        factories["asyncio"] = asyncio.new_event_loop
    if not only or "uvloop" in only:
        try:
            import uvloop
        except ImportError as exc:
            missing["uvloop"] = f"uvloop not installed ({exc})"
        else:
            factories["uvloop"] = uvloop.new_event_loop
    if not only or "embedtornado" in only:
        try:
            importlib.import_module(OURS_MODULE)
            import embedtornado.loop
        except ImportError as exc:
            missing["embedtornado"] = f"compiled loop not built ({exc})"
        else:
            probe = embedtornado.loop.new_event_loop()
            ok = any(c.__module__ == OURS_MODULE for c in type(probe).__mro__)
            kind = type(probe)
            probe.close()
            if ok:
                factories["embedtornado"] = embedtornado.loop.new_event_loop
            else:
                missing["embedtornado"] = (f"{OURS_MODULE} is built, but "
                                           f"embedtornado.loop.new_event_loop() returns "
                                           f"{kind.__module__}.{kind.__qualname__}")
    return factories, missing


# --------------------------------------------------------------------------- benchmarks
# Each takes a new loop, runs the workload once, and returns (seconds, units).

def bench_call_soon_batch(loop: asyncio.AbstractEventLoop, n: int) -> tuple[float, int]:
    count = [0]

    def cb() -> None:
        count[0] += 1

    call_soon = loop.call_soon
    t0 = time.perf_counter()
    for _ in range(n):
        call_soon(cb)
    call_soon(loop.stop)
    loop.run_forever()
    dt = time.perf_counter() - t0
    assert count[0] == n, count
    return dt, n


def bench_call_soon_chain(loop: asyncio.AbstractEventLoop, n: int) -> tuple[float, int]:
    left = [n]
    call_soon = loop.call_soon

    def cb() -> None:
        left[0] -= 1
        if left[0]:
            call_soon(cb)
        else:
            loop.stop()

    t0 = time.perf_counter()
    call_soon(cb)
    loop.run_forever()
    dt = time.perf_counter() - t0
    assert left[0] == 0
    return dt, n


def bench_call_later_fire(loop: asyncio.AbstractEventLoop, n: int) -> tuple[float, int]:
    rng = random.Random(1234)
    delays = [rng.random() * 0.01 for _ in range(n)]
    left = [n]

    def cb() -> None:
        left[0] -= 1
        if not left[0]:
            loop.stop()

    call_later = loop.call_later
    t0 = time.perf_counter()
    for d in delays:
        call_later(d, cb)
    loop.run_forever()
    dt = time.perf_counter() - t0
    assert left[0] == 0
    return dt, n


def bench_call_later_cancel(loop: asyncio.AbstractEventLoop, n: int) -> tuple[float, int]:
    call_later = loop.call_later
    t0 = time.perf_counter()
    handles = [call_later(3600.0 + i * 1e-6, print) for i in range(n)]
    for h in handles:
        h.cancel()
    loop.call_soon(loop.stop)
    loop.run_forever()
    dt = time.perf_counter() - t0
    return dt, n


class _EchoServer(asyncio.Protocol):
    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)


class _EchoClient(asyncio.Protocol):
    def __init__(self, loop: asyncio.AbstractEventLoop, msg: bytes, rounds: int) -> None:
        self.msg = msg
        self.size = len(msg)
        self.rounds = rounds
        self.got = 0
        self.done = loop.create_future()

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def start(self) -> None:
        self.transport.write(self.msg)

    def data_received(self, data: bytes) -> None:
        self.got += len(data)
        if self.got >= self.size:
            assert self.got == self.size
            self.got = 0
            self.rounds -= 1
            if self.rounds:
                self.transport.write(self.msg)
            elif not self.done.done():
                self.done.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(exc or ConnectionError("closed early"))


def bench_tcp_echo(loop: asyncio.AbstractEventLoop, size: int, rounds: int) -> tuple[float, int]:
    msg = bytes(range(256)) * (size // 256)

    async def main() -> float:
        server = await loop.create_server(_EchoServer, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        tr, client = await loop.create_connection(
            lambda: _EchoClient(loop, msg, rounds), "127.0.0.1", port)
        try:
            t0 = time.perf_counter()
            client.start()
            await asyncio.wait_for(client.done, 120)
            return time.perf_counter() - t0
        finally:
            tr.close()
            server.close()
            await server.wait_closed()
            await asyncio.sleep(0.01)

    return loop.run_until_complete(main()), rounds


# --------------------------------------------------------------------------- harness

def run_row(factories: dict[str, Factory], fn: Callable[..., tuple[float, int]], args: tuple,
            repeats: int, scale: float, keep_gc: bool) -> dict[str, tuple[float, float, float]]:
    """Median, min, max of *repeats* runs per loop, as units/second x *scale*.

    The loops take turns (round-robin) rather than one loop's repeats in a
    row, so a noisy spell on the shared machine hits every column alike.
    """
    rates: dict[str, list[float]] = {name: [] for name in factories}
    for _ in range(repeats):
        for name, factory in factories.items():
            gc.collect()
            loop = factory()
            if not keep_gc:
                gc.disable()
            try:
                dt, units = fn(loop, *args)
            finally:
                gc.enable()
                loop.close()
            rates[name].append(units / dt * scale)
    return {name: (statistics.median(r), min(r), max(r)) for name, r in rates.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5, help="runs per cell (5)")
    ap.add_argument("--cpu", type=int, default=None, help="pin this process to one CPU")
    ap.add_argument("--only", default="", help="comma-separated: asyncio,uvloop,embedtornado")
    ap.add_argument("--quick", action="store_true", help="a tenth of the work per run")
    ap.add_argument("--gc", action="store_true",
                    help="leave the cyclic GC on while timing (off by default)")
    args = ap.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    only = {s.strip() for s in args.only.split(",") if s.strip()} or None
    factories, missing = loop_factories(only)
    q = 10 if args.quick else 1

    rows: list[tuple[str, str, Callable[..., tuple[float, int]], tuple, float]] = [
        ("call_soon batch, 1M", "Mcb/s", bench_call_soon_batch, (1_000_000 // q,), 1e-6),
        ("call_soon chain, 1M", "Mcb/s", bench_call_soon_chain, (1_000_000 // q,), 1e-6),
        ("call_later fire, 100k", "k/s", bench_call_later_fire, (100_000 // q,), 1e-3),
        ("call_later cancel, 100k", "k/s", bench_call_later_cancel, (100_000 // q,), 1e-3),
        ("tcp echo 1 KiB, 20k rt", "krt/s", bench_tcp_echo, (1024, 20_000 // q), 1e-3),
        ("tcp echo 64 KiB, 2k rt", "krt/s", bench_tcp_echo, (65536, 2_000 // q), 1e-3),
    ]
    names = ["asyncio", "uvloop", "embedtornado"]
    if only:
        names = [n for n in names if n in only]

    print(f"Python {platform.python_version()} on {platform.machine()}, "
          f"{os.cpu_count()} CPUs{'' if args.cpu is None else f', pinned to CPU {args.cpu}'}; "
          f"median of {args.repeats} (min-max), loops round-robin, "
          f"GC {'on' if args.gc else 'off'} while timing{' [quick]' if args.quick else ''}; "
          f"load average {os.getloadavg()[0]:.2f} at start")
    if "uvloop" in factories:
        import uvloop

        print(f"uvloop {uvloop.__version__}")
    for name, why in missing.items():
        print(f"{name}: skipped: {why}")
    print()

    results: dict[tuple[str, str], tuple[float, float, float]] = {}
    ordered = {n: factories[n] for n in names if n in factories}
    for label, unit, fn, fargs, scale in rows:
        for name, r in run_row(ordered, fn, fargs, args.repeats, scale, args.gc).items():
            results[(label, name)] = r
            print(f"  {label:<26} {name:<13} {r[0]:10.2f} {unit}", file=sys.stderr, flush=True)

    def cell(label: str, name: str) -> str:
        r = results.get((label, name))
        if r is None:
            return "n/a"
        med, lo, hi = r
        return f"{med:.2f} ({lo:.2f}-{hi:.2f})"

    def ratio(label: str, a: str, b: str) -> str:
        ra, rb = results.get((label, a)), results.get((label, b))
        return f"{ra[0] / rb[0]:.2f}" if ra and rb else "-"

    header = (f"{'benchmark':<26} {'unit':<6} " + " ".join(f"{n:<21}" for n in names)
              + f" {'uv/aio':>7} {'ours/aio':>8} {'ours/uv':>8}")
    print(header)
    print("-" * len(header))
    for label, unit, _fn, _a, _s in rows:
        line = f"{label:<26} {unit:<6} " + " ".join(f"{cell(label, n):<21}" for n in names)
        line += (f" {ratio(label, 'uvloop', 'asyncio'):>7} "
                 f"{ratio(label, 'embedtornado', 'asyncio'):>8} "
                 f"{ratio(label, 'embedtornado', 'uvloop'):>8}")
        print(line)
    for label, _unit, _fn, (size, *_rest), _s in rows[4:]:
        parts = []
        for name in names:
            echo = results.get((label, name))
            if echo:
                parts.append(f"{name} {echo[0] * 1e3 * size / 1e6:.0f} MB/s")
        if parts:
            print(f"{label}: payload echoed: " + ", ".join(parts))


if __name__ == "__main__":
    main()
