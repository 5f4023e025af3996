"""Footprint of the appliance daemon beside Tornado 6.6.1's hello world.

    python bench/bench_daemon.py [--runs=5]

Prints, for the same machine and the same run:

* installed size of the package directory (``embedtornado`` and ``tornado``;
  ``.so`` files also counted stripped, as the .deb ships them);
* start to READY=1 for ``embedtornado --config=device/embedtornado.conf``
  (all five demo plugins) on a test NOTIFY_SOCKET, and start to the first
  HTTP 200 for it and for a Tornado hello world (medians of --runs);
* idle RSS after a few requests (daemon: status page, JSON API, healthz;
  Tornado: its hello page), medians.

Absolute numbers depend on the machine and its load: compare the ratios.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TORNADO_HELLO = """
import asyncio, sys
import tornado.web
class H(tornado.web.RequestHandler):
    def get(self):
        self.write("Hello, world")
async def main():
    tornado.web.Application([(r"/", H)]).listen(int(sys.argv[1]), "127.0.0.1")
    await asyncio.Event().wait()
asyncio.run(main())
"""


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def tree_size(path: Path) -> tuple[int, int]:
    """(bytes, bytes with .so files stripped) of the files under ``path``."""
    total = stripped = 0
    strip = shutil.which("strip")
    with tempfile.TemporaryDirectory() as tmp:
        for f in path.rglob("*"):
            if not f.is_file() or "__pycache__" in f.parts:
                continue
            size = f.stat().st_size
            total += size
            if f.suffix == ".so" and strip:
                copy = Path(tmp) / f.name
                shutil.copy(f, copy)
                subprocess.run([strip, "--strip-unneeded", str(copy)], check=False)
                size = copy.stat().st_size
            stripped += size
    return total, stripped


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def get(port: int, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path)
    resp = conn.getresponse()
    resp.read()
    conn.close()
    return resp.status


def wait_http(port: int, path: str, start: float, proc: subprocess.Popen) -> float:
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"exited {proc.returncode}")
        try:
            if get(port, path) == 200:
                return time.perf_counter() - start
        except OSError:
            time.sleep(0.002)


def run_daemon(tmp: Path) -> tuple[float, float, int]:
    notify = tmp / "notify.sock"
    if notify.exists():
        notify.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(notify))
    sock.settimeout(30)
    port = free_port()
    env = dict(os.environ, NOTIFY_SOCKET=str(notify))
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "embedtornado",
                             "--config=device/embedtornado.conf", f"--port={port}",
                             "--logging=warning"], cwd=ROOT, env=env)
    try:
        while b"READY=1" not in sock.recv(4096):
            pass
        ready = time.perf_counter() - start
        first = wait_http(port, "/", start, proc)
        for path in ("/", "/api/v1/info", "/healthz", "/upload"):
            get(port, path)
        time.sleep(0.5)
        return ready, first, rss_kib(proc.pid)
    finally:
        proc.terminate()
        proc.wait(30)
        sock.close()


def run_tornado(tmp: Path) -> tuple[float, int]:
    script = tmp / "tornado_hello.py"
    script.write_text(TORNADO_HELLO)
    port = free_port()
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(script), str(port)])
    try:
        first = wait_http(port, "/", start, proc)
        for _ in range(4):
            get(port, "/")
        time.sleep(0.5)
        return first, rss_kib(proc.pid)
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    import tornado

    import embedtornado

    et_dir = Path(embedtornado.__file__).parent
    to_dir = Path(tornado.__file__).parent
    et_size, et_stripped = tree_size(et_dir)
    to_size, to_stripped = tree_size(to_dir)
    to_tests = sum(f.stat().st_size for f in (to_dir / "test").rglob("*")
                   if f.is_file() and "__pycache__" not in f.parts) if (to_dir / "test").exists() \
        else 0
    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} CPUs, load average {load:.2f} at start "
          "(shared machine: compare ratios)")
    print(f"embedtornado {embedtornado.version} speedups={embedtornado.speedups()}")
    print()
    print("installed size (package directory, no __pycache__)")
    print(f"  embedtornado {et_size / 1024:8.0f} KiB   .so stripped: {et_stripped / 1024:8.0f} KiB")
    print(f"  tornado      {to_size / 1024:8.0f} KiB   .so stripped: {to_stripped / 1024:8.0f} KiB"
          f"   (of which tornado/test: {to_tests / 1024:.0f} KiB)")
    print(f"  ratio (stripped) {et_stripped / to_stripped:.2f}")
    d_ready, d_first, d_rss, t_first, t_rss = [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for _ in range(args.runs):
            r, f, m = run_daemon(tmp)
            d_ready.append(r)
            d_first.append(f)
            d_rss.append(m)
            f, m = run_tornado(tmp)
            t_first.append(f)
            t_rss.append(m)
    med = statistics.median
    print()
    print(f"start-up (median of {args.runs})")
    print(f"  embedtornado daemon, 5 demo plugins: READY=1 {med(d_ready) * 1000:6.0f} ms, "
          f"first 200 {med(d_first) * 1000:6.0f} ms")
    print(f"  tornado hello world:                            first 200 "
          f"{med(t_first) * 1000:6.0f} ms")
    print(f"  ratio (first 200) {med(d_first) / med(t_first):.2f}")
    print()
    print(f"idle RSS after a few requests (median of {args.runs})")
    print(f"  embedtornado daemon, 5 demo plugins {med(d_rss) / 1024:6.1f} MiB")
    print(f"  tornado hello world                 {med(t_rss) / 1024:6.1f} MiB")
    print(f"  ratio {med(d_rss) / med(t_rss):.2f}")
    print("  (anchors measured on this machine kind: lighttpd ~2.7 MiB, civetweb ~2.1 MiB)")


if __name__ == "__main__":
    main()
