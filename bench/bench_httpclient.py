"""HTTP client and IOStream micro-benchmarks: embedtornado beside Tornado 6.6.1.

    python bench/bench_httpclient.py                  # 5 repeats of every row
    python bench/bench_httpclient.py --repeats 3 --requests 500

Everything runs in one process on one loop (embedtornado's compiled loop when
built, else the stdlib loop); the peer is the installed Tornado 6.6.1 on the
same loop, measured in the same run. Rows:

* ``fetch sequential``: one client fetches ``--requests`` small responses one
  after another from an embedtornado HTTPServer (hello world). Ours reuses
  one keep-alive connection; Tornado's simple client opens a connection per
  request (``Connection: close``), so this row shows mostly that difference.
* ``fetch seq. conn-close``: the same with ``Connection: close`` on every
  request, so both clients open a connection per request (like for like).
* ``fetch 10 concurrent``: the same number of requests, ten at a time
  (``max_clients=10``).
* ``fetch 1 MiB``: ``--requests // 10`` responses of 1 MiB each, sequential.
* ``iostream 64 KiB``: two IOStreams over a TCP pair on 127.0.0.1; one writes
  64 KiB messages, the other ``read_bytes`` them; 2,000 messages.

Figures: requests (or messages) per second, median of ``--repeats`` with the
min-max spread; ``ours/tornado`` above 1 means ours is faster. The
implementations take turns within each repeat. The machine may be shared
with other work: read the ratios, not the absolute figures.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import socket
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import embedtornado.loop  # noqa: E402
from embedtornado import netutil, web  # noqa: E402
from embedtornado.httpserver import HTTPServer  # noqa: E402


class Hello(web.RequestHandler):
    def get(self) -> None:
        self.write("Hello, world")


MIB = b"m" * (1 << 20)


class Big(web.RequestHandler):
    def get(self) -> None:
        self.write(MIB)


async def start_server() -> tuple[HTTPServer, int]:
    socks = netutil.bind_sockets(0, "127.0.0.1", family=socket.AF_INET)
    server = HTTPServer(web.Application([("/", Hello), ("/big", Big)]))
    server.add_sockets(socks)
    return server, socks[0].getsockname()[1]


def client_for(impl: str, **kwargs: Any) -> Any:
    if impl == "tornado":
        import tornado.httpclient as hc
    else:
        import embedtornado.httpclient as hc  # type: ignore[no-redef]
    return hc.AsyncHTTPClient(force_instance=True, **kwargs)


async def fetch_sequential(impl: str, port: int, n: int) -> float:
    client = client_for(impl)
    url = f"http://127.0.0.1:{port}/"
    t0 = time.perf_counter()
    for _ in range(n):
        await client.fetch(url)
    dt = time.perf_counter() - t0
    client.close()
    return n / dt


async def fetch_sequential_close(impl: str, port: int, n: int) -> float:
    client = client_for(impl)
    url = f"http://127.0.0.1:{port}/"
    t0 = time.perf_counter()
    for _ in range(n):
        await client.fetch(url, headers={"Connection": "close"})
    dt = time.perf_counter() - t0
    client.close()
    return n / dt


async def fetch_concurrent(impl: str, port: int, n: int) -> float:
    client = client_for(impl, max_clients=10)
    url = f"http://127.0.0.1:{port}/"
    t0 = time.perf_counter()
    await asyncio.gather(*(client.fetch(url) for _ in range(n)))
    dt = time.perf_counter() - t0
    client.close()
    return n / dt


async def fetch_big(impl: str, port: int, n: int) -> float:
    client = client_for(impl)
    url = f"http://127.0.0.1:{port}/big"
    n = max(1, n // 10)
    t0 = time.perf_counter()
    for _ in range(n):
        r = await client.fetch(url, decompress_response=False)
        assert len(r.body) == len(MIB)
    dt = time.perf_counter() - t0
    client.close()
    return n / dt


async def iostream_64k(impl: str, port: int, n: int) -> float:
    if impl == "tornado":
        import tornado.iostream as ios
    else:
        import embedtornado.iostream as ios  # type: ignore[no-redef]
    with socket.socket() as lst:
        lst.bind(("127.0.0.1", 0))
        lst.listen(1)
        a = socket.create_connection(lst.getsockname())
        b, _ = lst.accept()
    w, r = ios.IOStream(a), ios.IOStream(b)
    msg = b"x" * 65536
    count = 2000

    async def writer() -> None:
        for _ in range(count):
            await w.write(msg)

    t0 = time.perf_counter()
    task = asyncio.ensure_future(writer())
    for _ in range(count):
        await r.read_bytes(65536)
    await task
    dt = time.perf_counter() - t0
    w.close()
    r.close()
    return count / dt


ROWS: list[tuple[str, Callable[..., Any]]] = [
    ("fetch sequential", fetch_sequential),
    ("fetch seq. conn-close", fetch_sequential_close),
    ("fetch 10 concurrent", fetch_concurrent),
    ("fetch 1 MiB", fetch_big),
    ("iostream 64 KiB", iostream_64k),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--requests", type=int, default=1000)
    args = ap.parse_args()
    loop = embedtornado.loop.new_event_loop()
    asyncio.set_event_loop(loop)
    print(f"loop: {type(loop).__module__}.{type(loop).__name__}; "
          f"python {sys.version.split()[0]}; repeats {args.repeats}")
    server, port = loop.run_until_complete(start_server())
    impls = ["embedtornado", "tornado"]
    print(f"{'row':22} {'embedtornado/s':>22} {'tornado/s':>22} {'ours/tornado':>13}")
    for name, fn in ROWS:
        results: dict[str, list[float]] = {i: [] for i in impls}
        loop.run_until_complete(fn("embedtornado", port, 50))  # warm-up
        loop.run_until_complete(fn("tornado", port, 50))
        for _ in range(args.repeats):
            for impl in impls:
                gc.collect()
                results[impl].append(loop.run_until_complete(fn(impl, port, args.requests)))
        med = {i: statistics.median(v) for i, v in results.items()}

        def cell(i: str) -> str:
            v = results[i]
            return f"{med[i]:9.0f} ({min(v):.0f}-{max(v):.0f})"

        print(f"{name:22} {cell('embedtornado'):>22} {cell('tornado'):>22} "
              f"{med['embedtornado'] / med['tornado']:13.2f}")
    server.stop()
    loop.run_until_complete(server.close_all_connections())
    loop.close()


if __name__ == "__main__":
    main()
