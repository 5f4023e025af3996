"""In-process cost of one request: the server protocol and the web layer without sockets.

    python bench/bench_inproc.py                      # hello, JSON and raw, compiled modules
    EMBEDTORNADO_NO_EXTENSIONS=1 python bench/bench_inproc.py   # the twins
    python bench/bench_inproc.py --profile hello      # cProfile of the hello path
    python bench/bench_inproc.py --instructions       # instructions per request (callgrind)

A protocol from ``HTTPServer._make_protocol()`` gets a fake transport whose
``write`` keeps nothing, then the same request bytes are fed to its
``data_received`` N times: parse, ``HTTPServerRequest``, routing, the
``RequestHandler``, ``write_headers``. No loop, no syscalls, no client; what
is left is the CPU cost the Python and compiled code add per request, which
is what bench_http.py's req/s is made of besides the kernel. Printed per
scenario: microseconds per request of wall time and of process CPU time (CPU
time is what a loaded machine disturbs least; read that one).

``--instructions`` counts instead of timing: each scenario runs twice under
``valgrind --tool=callgrind`` (1 and ``-n`` requests after the warm-up, with
``PYTHONHASHSEED=0`` and the cyclic GC off), and the difference divided by
``-n`` is the cost of one request in machine instructions. It does not
depend on the machine's load, so it is the figure to compare two versions of
the code with (a change of under 1% is noise); it counts instructions, not
cache misses or stalls.

Scenarios: ``hello`` (``RequestHandler`` writing ``Hello World!``), ``json``
(the bench_http.py JSON handler and its 10 browser headers), ``raw``
(``HTTPServer`` with a plain callback, no web layer). Timings live here,
never in tests (STYLE.md rule 15).
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import embedtornado
from embedtornado import loop as eloop
from embedtornado import web
from embedtornado.httpserver import HTTPServer
from embedtornado.httputil import HTTPHeaders, ResponseStartLine

HELLO_REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n"
JSON_REQUEST = (
    b"GET /json?a=hello&page=2&sort=desc HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    b"Chrome/124.0.0.0 Safari/537.36\r\n"
    b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    b"*/*;q=0.8\r\n"
    b"Accept-Language: en-US,en;q=0.9,de;q=0.8\r\nAccept-Encoding: gzip, deflate, br\r\n"
    b"Cache-Control: max-age=0\r\nConnection: keep-alive\r\n"
    b"Cookie: _ga=GA1.1.1234567890.1700000000; session=8f14e45fceea167a5a36dedd4bea2543\r\n"
    b"Referer: http://127.0.0.1/dashboard\r\nUpgrade-Insecure-Requests: 1\r\n"
    b"Sec-Fetch-Mode: navigate\r\n\r\n"
)


class HelloHandler(web.RequestHandler):
    def get(self) -> None:
        self.write("Hello World!")


class JSONHandler(web.RequestHandler):
    def get(self) -> None:
        self.write({"a": self.get_argument("a"), "n": 1, "items": [1, 2, 3]})


def raw_callback(request: object) -> None:
    conn = request.connection  # type: ignore[attr-defined]
    conn.write_headers(ResponseStartLine("HTTP/1.1", 200, "OK"),
                       HTTPHeaders({"Content-Type": "text/plain", "Content-Length": "12"}),
                       b"Hello World!")
    conn.finish()


class NullTransport:
    """Takes writes and forgets them; counts responses."""

    def __init__(self) -> None:
        self.writes = 0
        self.last = b""

    def write(self, data: bytes) -> None:
        self.writes += 1
        self.last = data

    def get_extra_info(self, name: str, default: object = None) -> object:
        return {"peername": ("127.0.0.1", 1234)}.get(name, default)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass

    def is_closing(self) -> bool:
        return False


SCENARIOS = {
    "hello": (HELLO_REQUEST, False),
    "json": (JSON_REQUEST, False),
    "raw": (HELLO_REQUEST, True),
}


async def measure(scenario: str, n: int, profile: bool) -> tuple[float, float, bytes]:
    request, raw = SCENARIOS[scenario]
    app = web.Application([(r"/", HelloHandler), (r"/json", JSONHandler)])
    server = HTTPServer(raw_callback if raw else app)
    proto = server._make_protocol()
    transport = NullTransport()
    proto.connection_made(transport)  # type: ignore[attr-defined]
    feed = proto.data_received  # type: ignore[attr-defined]
    for _ in range(2000):
        feed(request)
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(n):
        feed(request)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    if profiler is not None:
        import pstats

        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    if transport.writes != n + 2000:
        raise RuntimeError(f"{scenario}: {transport.writes} responses for {n + 2000} requests")
    return wall / n * 1e6, cpu / n * 1e6, transport.last


def _callgrind_total(scenario: str, n: int) -> int:
    """Instructions callgrind counts for a child process serving *n* requests of *scenario*."""
    env = dict(os.environ, PYTHONHASHSEED="0")
    proc = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
         __file__, "--child", scenario, "-n", str(n)],
        capture_output=True, text=True, env=env, timeout=1800, check=False)
    found = re.search(r"Collected : (\d+)", proc.stderr)
    if proc.returncode != 0 or found is None:
        raise RuntimeError(f"callgrind run failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return int(found.group(1))


def instructions(n: int) -> int:
    if shutil.which("valgrind") is None:
        print("--instructions needs valgrind (apt-get install valgrind)", file=sys.stderr)
        return 1
    print(f"embedtornado {embedtornado.version}: {embedtornado.speedups()}")
    print(f"{'scenario':<8} {'instructions/req':>17}  (callgrind, {n} requests)")
    for scenario in SCENARIOS:
        per_request = (_callgrind_total(scenario, n + 1) - _callgrind_total(scenario, 1)) / n
        print(f"{scenario:<8} {per_request:>17.0f}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("-n", type=int, default=None,
                        help="requests per run (100000; 10000 with --instructions)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per scenario (3)")
    parser.add_argument("--profile", choices=list(SCENARIOS), help="cProfile one scenario")
    parser.add_argument("--instructions", action="store_true",
                        help="count instructions per request under callgrind instead")
    parser.add_argument("--child", choices=list(SCENARIOS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.instructions:
        return instructions(args.n or 10_000)
    n = args.n or 100_000
    if args.child:  # one run for instructions(): no output
        gc.disable()
        loop = eloop.new_event_loop()
        loop.run_until_complete(measure(args.child, n, False))
        loop.close()
        return 0
    print(f"embedtornado {embedtornado.version}: {embedtornado.speedups()}")
    loop = eloop.new_event_loop()
    try:
        if args.profile:
            loop.run_until_complete(measure(args.profile, n, True))
            return 0
        print(f"{'scenario':<8} {'wall us/req':>12} {'CPU us/req':>11}  (median of "
              f"{args.repeats} x {n})")
        for scenario in SCENARIOS:
            runs = [loop.run_until_complete(measure(scenario, n, False))
                    for _ in range(args.repeats)]
            wall = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[1] for r in runs)
            print(f"{scenario:<8} {wall:>12.2f} {cpu:>11.2f}")
    finally:
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
