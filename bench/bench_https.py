"""HTTPS benchmark: embedtornado beside Tornado 6.6.1, same certificate, same run.

    python bench/bench_https.py                      # defaults: 5 s runs, 3 rounds
    python bench/bench_https.py --duration 2 --repeats 1

Both servers run the same hello-world program (``tornado`` or
``embedtornado`` substituted in its imports) with ``ssl_options`` naming one
EC P-256 certificate made for this run, pinned to core 0; ``wrk -t1`` runs
pinned to core 1. Scenarios:

``keepalive``  ``GET /`` over 50 kept-alive TLS connections: requests/s.
``handshake``  ``GET /`` with ``Connection: close`` over 20 connections:
               every request is a new TLS handshake, so requests/s is
               new handshakes per second.

Rounds are round-robin over the servers (a noisy spell on a shared machine
hits both alike); the table shows medians and the ratio to Tornado. Rows:
``embedtornado`` (compiled loop and modules) and ``embedtornado stdlib-loop``
(compiled modules on asyncio's selector loop). Timings live here, never in
tests.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"

PROGRAM = '''
import asyncio, sys
if "--stdlib-loop" in sys.argv:
    asyncio.set_event_loop(asyncio.new_event_loop())
import {pkg}.httpserver, {pkg}.ioloop, {pkg}.web

class Hello({pkg}.web.RequestHandler):
    def get(self):
        self.write("Hello World!")

app = {pkg}.web.Application([(r"/", Hello)])
server = {pkg}.httpserver.HTTPServer(app, ssl_options={{"certfile": sys.argv[2], "keyfile": sys.argv[3]}})
server.listen(int(sys.argv[1]), "127.0.0.1")
{pkg}.ioloop.IOLoop.current().start()
'''

SERVERS = {
    "tornado 6.6.1": ("tornado", []),
    "embedtornado": ("embedtornado", []),
    "embedtornado stdlib-loop": ("embedtornado", ["--stdlib-loop"]),
}

SCENARIOS = {
    "keepalive": ["-c50"],
    "handshake": ["-c20", "-H", "Connection: close"],
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_https(port: int, timeout: float = 20.0) -> None:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as raw, \
                    ctx.wrap_socket(raw) as s:
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                data = b""
                while chunk := s.recv(4096):
                    data += chunk
                if b"Hello World!" in data:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"server on {port} did not answer")
        time.sleep(0.1)


def wrk(port: int, args: list[str], duration: float) -> float:
    cmd = ["taskset", "-c", "1", "wrk", "-t1", f"-d{max(1, round(duration))}s", *args,
           f"https://127.0.0.1:{port}/"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60,
                         check=False).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not m:
        raise RuntimeError(f"wrk output not understood: {out}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"wrk saw errors: {out}")
    return float(m.group(1))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt install wrk)", file=sys.stderr)
        return 1
    sys.path.insert(0, str(SRC))
    from embedtornado import _tls

    tmp = Path(tempfile.mkdtemp(prefix="bench-https-"))
    cert, key = str(tmp / "cert.pem"), str(tmp / "key.pem")
    _tls.make_self_signed(cert, key, ["localhost"], ["127.0.0.1"])
    procs: dict[str, tuple[subprocess.Popen, int]] = {}
    env = dict(os.environ, PYTHONPATH=str(SRC))
    try:
        for name, (pkg, extra) in SERVERS.items():
            script = tmp / f"{pkg}_server.py"
            script.write_text(PROGRAM.format(pkg=pkg))
            port = free_port()
            proc = subprocess.Popen(["taskset", "-c", "0", sys.executable, str(script),
                                     str(port), cert, key, *extra],
                                    env=env, start_new_session=True)
            procs[name] = (proc, port)
        for _proc, port in procs.values():
            wait_https(port)
        results: dict[tuple[str, str], list[float]] = {}
        for scenario, wrk_args in SCENARIOS.items():
            for _proc, port in procs.values():
                wrk(port, wrk_args, 1.0)  # warm-up
            for _ in range(args.repeats):
                for name, (_proc, port) in procs.items():
                    results.setdefault((scenario, name), []).append(
                        wrk(port, wrk_args, args.duration))
        print(f"HTTPS hello world, wrk -t1, {args.repeats} x {args.duration:g} s, "
              f"Python {sys.version.split()[0]}, {ssl.OPENSSL_VERSION}")
        print("(machine shared with other work: compare the ratios, not the absolute figures)")
        for scenario in SCENARIOS:
            label = "requests/s" if scenario == "keepalive" else "new handshakes/s"
            print(f"\n{scenario} ({label})")
            base = statistics.median(results[(scenario, "tornado 6.6.1")])
            for name in SERVERS:
                med = statistics.median(results[(scenario, name)])
                print(f"  {name:<26} {med:>10.0f}   x{med / base:.2f} vs Tornado")
    finally:
        for proc, _port in procs.values():
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except OSError:
                pass
        for proc, _port in procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
