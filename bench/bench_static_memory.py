"""Memory while serving a big file: a 1 GiB file to 50 slow clients at once.

    python bench/bench_static_memory.py                     # 1 GiB, 50 clients, 15 s each
    python bench/bench_static_memory.py --size-mib 256 --clients 20 --seconds 5

Issue 5 asks that memory stay flat while a big static file streams to many
clients. Each server (Tornado 6.6.1's StaticFileHandler; embedtornado's, which
sends it with ``sendfile(2)``; the twins, on asyncio's loop and its
sendfile; embedtornado with ``--chunked=true``, which reads and writes 64 KiB
chunks as Tornado does; nginx with ``sendfile on``) serves a sparse file of
``--size-mib`` from the same directory, using bench_static.py's programs and
nginx configuration. ``--clients`` raw-socket clients each send one GET and
then read slowly (``--rate-kib`` KiB/s each, so the server's send buffers and
its own queue fill) for ``--seconds``, then hang up. The server's RSS (the sum
of ``/proc/<pid>/status`` over its process group: nginx's master and worker)
is sampled every 50 ms; the table shows RSS before, the peak, the growth, and
how many bytes the clients received in all. A server that reads the file
whole, or queues a file's worth of chunks for a slow client, shows a growth
near the file size (or a multiple of it).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_http as bh
import bench_static as bs


def rss_kib(pgid: int) -> int:
    """RSS of every process in process group *pgid*, in KiB."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            # pgrp is the 5th field; the 2nd (comm) may hold spaces.
            if int(stat.rsplit(")", 1)[1].split()[2]) != pgid:
                continue
            with open(f"/proc/{entry}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
    return total


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
    p.add_argument("--only", default="", help="comma list of: "
                   + ",".join(s.name for s in bs.SERVER_LIST))
    args = p.parse_args(argv)
    wanted = [s for s in bs.SERVER_LIST
              if (not args.only or s.name in args.only.split(","))
              and (s.kind != "nginx" or bh.which("nginx"))]
    server_prefix, _, pin_note = bh.pinning()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-static-mem-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)  # nginx's worker (not root) reads the file
        root = work / "root"
        root.mkdir(mode=0o755)
        big = root / "big.bin"
        with open(big, "wb") as f:
            f.truncate(args.size_mib * 1024 * 1024)  # sparse: no disk, the page cache serves zeros
        big.chmod(0o644)
        programs = bs.write_programs(work)
        for server in wanted:
            port = bh.free_port()
            if server.kind == "nginx":
                confdir = work / "nginx"
                confdir.mkdir(exist_ok=True)
                conf = confdir / "nginx.conf"
                conf.write_text(bs.NGINX_STATIC_CONF.format(tmp=confdir, port=port, root=root))
                cmd = [bh.which("nginx") or "nginx", "-p", str(confdir), "-e",
                       str(confdir / "error.log"), "-c", str(conf)]
            else:
                cmd = [sys.executable, str(programs[server.kind]), *server.args,
                       "--logging=warning", f"--port={port}", f"--root={root}"]
            env = bh.server_env(needs_src=server.kind == "embedtornado")
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
    print("(the machine may be loaded: compare rows of one run, not runs)")
    tornado_growth = next((peak - before for label, before, peak, _r in rows
                           if label.startswith("Tornado")), None)
    print("| server | RSS before (MiB) | peak (MiB) | growth (MiB) | growth per client (KiB) "
          "| growth x Tornado | received (MiB) |")
    print("|---|---|---|---|---|---|---|")
    for label, before, peak, received in rows:
        growth = peak - before
        ratio = f"{growth / tornado_growth:.2f}x" if tornado_growth else "-"
        print(f"| {label} | {before / 1024:.1f} | {peak / 1024:.1f} | {growth / 1024:.1f} | "
              f"{growth / args.clients:.0f} | {ratio} | {received / 2**20:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
