"""WebSocket benchmark: embedtornado beside Tornado 6.6.1 and the ``websockets`` package.

    python bench/bench_websocket.py                      # echo and idle, defaults
    python bench/bench_websocket.py --duration 3 --repeats 1 --idle 2000   # quick look
    python bench/bench_websocket.py --only echo

**Echo.** Each server is the same small echo program (``--serve KIND PORT`` of
this file): embedtornado's ``WebSocketHandler``, Tornado's, and
``websockets.asyncio.server.serve``. Each runs in its own process pinned to
core 0 (``taskset -c 0``). The load generator runs pinned to core 1 on uvloop
when it is installed: 100 connections, each with one 1 KiB binary message in
flight at a time (a masked frame built once); it measures messages echoed per
second and the round-trip time of every message. Rounds are round-robin over
the servers (``--repeats``), so a noisy spell on a shared machine hits every
row alike; the table gives medians, the p50/p99 round-trip time and the
ratios to Tornado and to embedtornado, plus the server's CPU share (from
``/proc``) and messages per server CPU-second, which preemption by other
processes disturbs less than messages/s.

**Idle.** For embedtornado and Tornado (and ``websockets``): one server
process (RLIMIT_NOFILE raised to its hard limit) and one client process
holding ``--idle`` (default 10,000) open WebSocket connections made with raw
sockets. The server's RSS (``VmRSS``) is read before and once all
connections are open; the table gives both, the growth per connection, and
the ratio to Tornado.

Timings live here, never in tests (STYLE.md rule 15).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import resource
import socket
import statistics
import struct
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SRC = BENCH.parent / "src"
SERVER_CORE = "0"
CLIENT_CORE = "1"
KINDS = ["embedtornado", "tornado", "websockets"]
MESSAGE_SIZE = 1024
CLIENTS = 100

HANDSHAKE = (b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
             b"Connection: Upgrade\r\nSec-WebSocket-Key: " + base64.b64encode(b"0123456789abcdef")
             + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")


def raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# --------------------------------------------------------------------------- servers


def serve(kind: str, port: int) -> None:
    raise_nofile()
    if kind == "websockets":
        import logging

        from websockets.asyncio.server import serve as ws_serve

        # The load generator drops its connections without a closing
        # handshake; websockets logs each one.
        logging.getLogger("websockets").setLevel(logging.CRITICAL)

        async def echo(ws):  # type: ignore[no-untyped-def]
            async for message in ws:
                await ws.send(message)

        async def main() -> None:
            async with ws_serve(echo, "127.0.0.1", port, compression=None,
                                max_size=16 * 1024 * 1024, ping_interval=None):
                print("ready", flush=True)
                await asyncio.Future()

        asyncio.run(main())
        return
    if kind == "tornado":
        import tornado.ioloop as ioloop
        import tornado.web as web
        import tornado.websocket as websocket
    else:
        sys.path.insert(0, str(SRC))
        import embedtornado.ioloop as ioloop  # type: ignore[no-redef]
        import embedtornado.web as web  # type: ignore[no-redef]
        import embedtornado.websocket as websocket  # type: ignore[no-redef]

    class Echo(websocket.WebSocketHandler):  # type: ignore[name-defined,misc]
        def on_message(self, message):  # type: ignore[no-untyped-def]
            self.write_message(message, binary=isinstance(message, bytes))

    app = web.Application([(r"/ws", Echo)])
    app.listen(port, "127.0.0.1")
    print("ready", flush=True)
    ioloop.IOLoop.current().start()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.port = free_port()
        env = dict(os.environ)
        env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
        self.proc = subprocess.Popen(
            ["taskset", "-c", SERVER_CORE, sys.executable, __file__, "--serve", kind,
             str(self.port)], stdout=subprocess.PIPE, text=True, env=env)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if line != "ready":
            raise RuntimeError("%s server did not start" % kind)

    def cpu_seconds(self) -> float:
        fields = Path("/proc/%d/stat" % self.proc.pid).read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_kib(self) -> int:
        for line in Path("/proc/%d/status" % self.proc.pid).read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# --------------------------------------------------------------------------- echo load


def masked_frame(payload: bytes) -> bytes:
    mask = os.urandom(4)
    n = len(payload)
    head = struct.pack("!BBH", 0x82, 0x80 | 126, n) if n >= 126 else bytes((0x82, 0x80 | n))
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class _EchoClient(asyncio.Protocol):
    """One connection: handshake, then one message in flight at a time."""

    def __init__(self, frame: bytes, reply_len: int, stats: dict, ready: asyncio.Future) -> None:
        self.frame = frame
        self.reply_len = reply_len
        self.stats = stats
        self.ready = ready
        self.got = 0
        self.head = b""
        self.sent_at = 0.0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport):  # type: ignore[no-untyped-def]
        self.transport = transport
        transport.write(HANDSHAKE)

    def data_received(self, data: bytes) -> None:
        if self.head is not None:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            if not self.head.startswith(b"HTTP/1.1 101"):
                raise RuntimeError(self.head[:200])
            data = self.head[end + 4:]
            self.head = None  # type: ignore[assignment]
            if not self.ready.done():
                self.ready.set_result(None)
        self.got += len(data)
        while self.got >= self.reply_len:
            self.got -= self.reply_len
            now = time.perf_counter()
            if self.stats["on"]:
                self.stats["n"] += 1
                self.stats["rtt"].append(now - self.sent_at)
            self.send()

    def send(self) -> None:
        self.sent_at = time.perf_counter()
        assert self.transport is not None
        self.transport.write(self.frame)


async def _echo_load(port: int, duration: float) -> tuple[int, list[float]]:
    loop = asyncio.get_running_loop()
    payload = os.urandom(MESSAGE_SIZE)
    frame = masked_frame(payload)
    reply_len = 4 + MESSAGE_SIZE
    stats: dict = {"on": False, "n": 0, "rtt": []}
    clients = []
    for _ in range(CLIENTS):
        ready = loop.create_future()
        _, proto = await loop.create_connection(
            lambda r=ready: _EchoClient(frame, reply_len, stats, r), "127.0.0.1", port)
        await ready
        clients.append(proto)
    for c in clients:
        c.send()
    await asyncio.sleep(0.5)  # warm-up
    stats["on"] = True
    await asyncio.sleep(duration)
    stats["on"] = False
    for c in clients:
        c.transport.abort()
    return stats["n"], stats["rtt"]


def echo_client_main(port: int, duration: float) -> None:
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    n, rtt = runner(_echo_load(port, duration))
    rtt.sort()
    p50 = rtt[len(rtt) // 2] if rtt else 0.0
    p99 = rtt[int(len(rtt) * 0.99)] if rtt else 0.0
    print("%d %.9f %.9f" % (n, p50, p99), flush=True)


def run_echo_client(port: int, duration: float) -> tuple[float, float, float]:
    out = subprocess.run(["taskset", "-c", CLIENT_CORE, sys.executable, __file__, "--echo-client",
                          str(port), str(duration)], capture_output=True, text=True,
                         timeout=duration + 60)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    n, p50, p99 = out.stdout.split()
    return int(n) / duration, float(p50), float(p99)


# --------------------------------------------------------------------------- idle connections


async def _hold_idle(port: int, count: int) -> list[socket.socket]:
    sem = asyncio.Semaphore(200)
    socks: list[socket.socket] = []
    loop = asyncio.get_running_loop()

    async def one() -> None:
        async with sem:
            s = socket.socket()
            s.setblocking(False)
            await loop.sock_connect(s, ("127.0.0.1", port))
            await loop.sock_sendall(s, HANDSHAKE)
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = await loop.sock_recv(s, 4096)
                if not chunk:
                    raise RuntimeError("closed during handshake")
                head += chunk
            if not head.startswith(b"HTTP/1.1 101"):
                raise RuntimeError(head[:200])
            socks.append(s)

    await asyncio.gather(*(one() for _ in range(count)))
    return socks


def idle_client_main(port: int, count: int) -> None:
    raise_nofile()
    socks = asyncio.run(_hold_idle(port, count))
    print("open %d" % len(socks), flush=True)
    sys.stdin.readline()  # hold until told to stop
    for s in socks:
        s.close()


def measure_idle(kind: str, count: int) -> tuple[int, int]:
    server = Server(kind)
    try:
        time.sleep(0.3)
        before = server.rss_kib()
        client = subprocess.Popen([sys.executable, __file__, "--idle-client", str(server.port),
                                   str(count)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True)
        assert client.stdout is not None and client.stdin is not None
        line = client.stdout.readline().strip()
        if line != "open %d" % count:
            raise RuntimeError("idle client failed: %r" % line)
        time.sleep(1.0)
        after = server.rss_kib()
        client.stdin.write("\n")
        client.stdin.flush()
        client.wait(60)
        return before, after
    finally:
        server.stop()


# --------------------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--idle", type=int, default=10_000)
    ap.add_argument("--only", choices=["echo", "idle"])
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--serve", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--echo-client", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--idle-client", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]))
        return 0
    if args.echo_client:
        echo_client_main(int(args.echo_client[0]), float(args.echo_client[1]))
        return 0
    if args.idle_client:
        idle_client_main(int(args.idle_client[0]), int(args.idle_client[1]))
        return 0
    raise_nofile()
    kinds = [k for k in args.kinds.split(",") if k]
    sys.path.insert(0, str(SRC))
    import embedtornado
    import tornado
    import websockets

    print("embedtornado %s %s; tornado %s; websockets %s; python %s; load average %s"
          % (embedtornado.version, embedtornado.speedups(), tornado.version,
             websockets.__version__, sys.version.split()[0],
             " ".join("%.2f" % x for x in os.getloadavg())))
    print("NOTE: the machine may be shared; compare ratios from one run, not absolute figures.")

    if args.only in (None, "echo"):
        servers = {k: Server(k) for k in kinds}
        results: dict[str, list[tuple[float, float, float, float]]] = {k: [] for k in kinds}
        try:
            for _ in range(args.repeats):
                for k, srv in servers.items():
                    cpu0 = srv.cpu_seconds()
                    t0 = time.monotonic()
                    rate, p50, p99 = run_echo_client(srv.port, args.duration)
                    wall = time.monotonic() - t0
                    results[k].append((rate, p50, p99, (srv.cpu_seconds() - cpu0) / wall))
        finally:
            for srv in servers.values():
                srv.stop()
        med = {k: tuple(statistics.median(r[i] for r in v) for i in range(4))
               for k, v in results.items()}
        print("\nEcho: %d clients, %d-byte binary messages, one in flight per client, "
              "%g s x %d rounds (medians)" % (CLIENTS, MESSAGE_SIZE, args.duration, args.repeats))
        print("%-13s %10s %9s %9s %8s %11s %9s %9s" % ("server", "msgs/s", "p50 ms", "p99 ms",
                                                      "srv CPU", "msgs/CPU-s", "vs torn.",
                                                      "vs ours"))
        for k in kinds:
            rate, p50, p99, cpu = med[k]
            per_cpu = rate / cpu if cpu else 0.0
            print("%-13s %10.0f %9.2f %9.2f %7.0f%% %11.0f %8.2fx %8.2fx" % (
                k, rate, p50 * 1e3, p99 * 1e3, cpu * 100, per_cpu,
                rate / med["tornado"][0] if "tornado" in med else float("nan"),
                rate / med["embedtornado"][0] if "embedtornado" in med else float("nan")))

    if args.only in (None, "idle"):
        print("\nIdle: %d open WebSocket connections held in one server process" % args.idle)
        print("%-13s %11s %11s %12s %9s" % ("server", "RSS before", "RSS after", "per conn",
                                             "vs torn."))
        idle = {k: measure_idle(k, args.idle) for k in kinds}
        for k in kinds:
            before, after = idle[k]
            growth = after - before
            ref = idle.get("tornado")
            ratio = after / ref[1] if ref else float("nan")
            print("%-13s %8.1f MiB %8.1f MiB %9.2f KiB %8.2fx" % (
                k, before / 1024, after / 1024, growth / args.idle, ratio))
        if "tornado" in idle and "embedtornado" in idle:
            g_ours = idle["embedtornado"][1] - idle["embedtornado"][0]
            g_t = idle["tornado"][1] - idle["tornado"][0]
            print("growth per connection, embedtornado / tornado: %.2fx" % (g_ours / g_t))
    return 0


if __name__ == "__main__":
    sys.exit(main())
