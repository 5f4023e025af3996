"""Memory while serving a big file: a 1 GiB file to 50 slow clients at once.

    python bench/bench_static_memory.py                     # 1 GiB, 50 clients, 15 s each
    python bench/bench_static_memory.py --size-mib 256 --clients 20 --seconds 5

Issue 5 asks that memory stay flat while a big static file streams to many
clients. Each server (Tornado 6.6.1's StaticFileHandler, embedtornado's, the
twins) serves a sparse file of ``--size-mib`` from the same directory, using
bench_static.py's programs (the embedtornado one is the Tornado one with the
imports renamed). ``--clients`` raw-socket clients each send one GET and then
read slowly (``--rate-kib`` KiB/s each, so the server's send buffers and its
own queue fill) for ``--seconds``, then hang up. The server's RSS
(``/proc/<pid>/status``) is sampled every 50 ms; the table shows RSS before,
the peak, the growth, and how many bytes the clients received in all. A server
that reads the file whole, or queues a file's worth of chunks for a slow
client, shows a growth near the file size (or a multiple of it).
"""

from __future__ import annotations

import argparse
import os
import selectors
import socket
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_http as bh
import bench_static as bs


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def wait_port(port: int, proc, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start")


def slow_clients(port: int, pid: int, clients: int, seconds: float, rate_kib: int,
                 name: str) -> tuple[int, int]:
    """Run the clients; return (peak RSS KiB, bytes received in all)."""
    sel = selectors.DefaultSelector()
    socks = []
    request = f"GET /static/{name} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
    for _ in range(clients):
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        s.sendall(request)
        s.setblocking(False)
        socks.append(s)
    per_tick = max(1, rate_kib * 1024 // 20)  # 20 ticks a second
    received = 0
    peak = rss_kib(pid)
    start = time.monotonic()
    next_tick = start
    while time.monotonic() - start < seconds:
        for s in socks:
            try:
                received += len(s.recv(per_tick))
            except BlockingIOError:
                pass
        peak = max(peak, rss_kib(pid))
        next_tick += 0.05
        time.sleep(max(0.0, next_tick - time.monotonic()))
    peak = max(peak, rss_kib(pid))
    for s in socks:
        s.close()
    return peak, received


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--size-mib", type=int, default=1024)
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--seconds", type=float, default=15.0)
    p.add_argument("--rate-kib", type=int, default=512, help="read rate per client, KiB/s")
    p.add_argument("--only", default="", help="comma list of: tornado,embedtornado,embedtornado-twins")
    args = p.parse_args(argv)
    wanted = [s for s in bs.SERVER_LIST if s.kind != "nginx"
              and (not args.only or s.name in args.only.split(","))]
    server_prefix, _, pin_note = bh.pinning()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-static-mem-") as tmp:
        work = Path(tmp)
        root = work / "root"
        root.mkdir()
        big = root / "big.bin"
        with open(big, "wb") as f:
            f.truncate(args.size_mib * 1024 * 1024)  # sparse: no disk, the page cache serves zeros
        programs = bs.write_programs(work)
        for server in wanted:
            port = bh.free_port()
            cmd = [sys.executable, str(programs[server.kind]), *server.args, "--logging=warning",
                   f"--port={port}", f"--root={root}"]
            env = bh.server_env(needs_src=server.kind == "embedtornado")
            import subprocess

            proc = subprocess.Popen([*server_prefix, *cmd], env=env, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    start_new_session=True)
            try:
                wait_port(port, proc)
                # Warm up: one HEAD computes the version hash paths, loads the code.
                with socket.create_connection(("127.0.0.1", port)) as s:
                    s.sendall(b"HEAD /static/big.bin HTTP/1.1\r\nHost: bench\r\n\r\n")
                    s.recv(4096)
                time.sleep(0.3)
                before = rss_kib(proc.pid)
                peak, received = slow_clients(port, proc.pid, args.clients, args.seconds,
                                              args.rate_kib, "big.bin")
                rows.append((server.label, before, peak, received))
            finally:
                os.killpg(proc.pid, 15)
                proc.wait(10)
    print(f"# {args.size_mib} MiB file, {args.clients} clients reading {args.rate_kib} KiB/s "
          f"each for {args.seconds:.0f} s; {pin_note}")
    print(f"| server | RSS before (MiB) | peak (MiB) | growth (MiB) | growth per client (KiB) "
          f"| received (MiB) |")
    print("|---|---|---|---|---|---|")
    for label, before, peak, received in rows:
        growth = peak - before
        print(f"| {label} | {before / 1024:.1f} | {peak / 1024:.1f} | {growth / 1024:.1f} | "
              f"{growth / args.clients:.0f} | {received / 2**20:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
