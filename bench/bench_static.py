"""Static-file load benchmark: embedtornado's StaticFileHandler beside Tornado 6.6.1 and nginx.

    python bench/bench_static.py                                 # both files, defaults
    python bench/bench_static.py --duration 3 --repeats 1        # quick look
    python bench/bench_static.py --only tornado,embedtornado --scenario 1m

Two files are served from a temporary directory: ``small.bin`` (4 KiB) and
``large.bin`` (1 MiB), both random bytes. The Python servers are one small
program, written here into the work directory, that mounts the directory
with the ``static_path`` setting; the embedtornado program is the Tornado
one with ``tornado`` replaced by ``embedtornado`` (the port rule), and the
"twins" row runs it with ``EMBEDTORNADO_NO_EXTENSIONS=1``. The "chunked" row
runs it with ``--chunked=true``: a ``static_handler_class`` whose
``get_content`` merely calls the base one, which makes embedtornado read and
write the file in 64 KiB chunks as Tornado does (the path before sendfile).
nginx serves the same directory under ``location /static/`` with ``sendfile
on`` (its usual setting: it never copies the file through user space).

The method is bench_http.py's, and so are its helpers (imported from it):
each server runs in its own process group pinned to core 0, ``wrk -t1`` is
pinned to core 1, every server is checked first (status 200, the exact bytes
of the file), then a 1 s warm-up and ``--repeats`` round-robin rounds. Each
table row is the median of the runs: requests/s, body MB/s (requests/s times
the file size, in 10^6 bytes), p99 latency, the ratios to Tornado and to
embedtornado, the server's CPU share and requests per CPU-second.

embedtornado sends a file with ``loop.sendfile`` (``sendfile(2)``) on a
plain connection; Tornado reads and writes it in 64 KiB chunks.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_http as bh

FILES = {"4k": ("small.bin", 4 * 1024), "1m": ("large.bin", 1024 * 1024)}
SCENARIOS = {"4k": "GET /static/small.bin (4 KiB)", "1m": "GET /static/large.bin (1 MiB)"}

TORNADO_PROGRAM = '''\
"""Serve --root under /static/ with Tornado's StaticFileHandler (written by bench_static.py)."""
import os
import sys

if "--twin" in sys.argv:
    sys.argv.remove("--twin")
    os.environ["EMBEDTORNADO_NO_EXTENSIONS"] = "1"

# --- program ---
import tornado.httpserver
import tornado.ioloop
import tornado.options
import tornado.web
from tornado.options import define, options

define("port", default=8000, type=int, help="run server on the given port.")
define("address", default="127.0.0.1", help="address to listen on.")
define("root", default=".", help="the directory to serve under /static/.")
define("chunked", default=False, type=bool, help="override get_content (chunked path)")


class ChunkedStaticFileHandler(tornado.web.StaticFileHandler):
    @classmethod
    def get_content(cls, abspath, start=None, end=None):
        return super().get_content(abspath, start, end)


if __name__ == "__main__":
    tornado.options.parse_command_line()
    settings = {}
    if options.chunked:
        settings["static_handler_class"] = ChunkedStaticFileHandler
    app = tornado.web.Application([], static_path=options.root, **settings)
    server = tornado.httpserver.HTTPServer(app)
    server.listen(options.port, options.address)
    tornado.ioloop.IOLoop.current().start()
'''

NGINX_STATIC_CONF = """\
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    types {{ }}
    default_type application/octet-stream;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    keepalive_requests 100000000;
    server {{
        listen 127.0.0.1:{port};
        location /static/ {{
            alias {root}/;
        }}
    }}
}}
"""


@dataclass
class StaticServer:
    name: str
    label: str
    kind: str  # "tornado", "embedtornado" or "nginx"
    args: list[str] = field(default_factory=list)


SERVER_LIST = [
    StaticServer("tornado", "Tornado 6.6.1", "tornado"),
    StaticServer("embedtornado", "embedtornado", "embedtornado"),
    StaticServer("embedtornado-twins", "embedtornado (twins)", "embedtornado", ["--twin"]),
    StaticServer("embedtornado-chunked", "embedtornado (chunked)", "embedtornado",
                 ["--chunked=true"]),
    StaticServer("nginx", "nginx (sendfile)", "nginx"),
]


def write_programs(workdir: Path) -> dict[str, Path]:
    """The Tornado program and its port (imports renamed, nothing else)."""
    head, program = TORNADO_PROGRAM.split("# --- program ---\n", 1)
    ported = head + "# --- program ---\n" + program.replace("tornado", "embedtornado")
    paths = {"tornado": workdir / "static_tornado.py",
             "embedtornado": workdir / "static_embedtornado.py"}
    paths["tornado"].write_text(TORNADO_PROGRAM)
    paths["embedtornado"].write_text(ported)
    return paths


def write_files(root: Path) -> dict[str, bytes]:
    # nginx's worker (not root) must be able to read them.
    root.parent.chmod(0o755)
    root.mkdir(mode=0o755)
    contents = {}
    for scenario, (name, size) in FILES.items():
        data = os.urandom(size)
        (root / name).write_bytes(data)
        (root / name).chmod(0o644)
        contents[scenario] = data
    return contents


class RunningStatic(bh.RunningServer):
    """A bench_http.RunningServer for a static server (the Python program or nginx)."""

    def __init__(self, server: StaticServer, port: int, workdir: Path, prefix: list[str],
                 programs: dict[str, Path], root: Path) -> None:
        self.server = server  # type: ignore[assignment]
        self.port = port
        self.log_path = workdir / f"{server.name}.log"
        if server.kind == "nginx":
            confdir = workdir / "nginx"
            confdir.mkdir(exist_ok=True)
            conf = confdir / "nginx.conf"
            conf.write_text(NGINX_STATIC_CONF.format(tmp=confdir, port=port, root=root))
            cmd = [bh.which("nginx") or "nginx", "-p", str(confdir), "-e",
                   str(confdir / "error.log"), "-c", str(conf)]
            env = bh.server_env(needs_src=False)
        else:
            cmd = [sys.executable, str(programs[server.kind]), *server.args,
                   "--logging=warning", f"--port={port}", f"--root={root}"]
            env = bh.server_env(needs_src=server.kind == "embedtornado")
        self.log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop())
        self.proc = subprocess.Popen([*prefix, *cmd], stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env, start_new_session=True)

    def wait_ready(self, scenario: str) -> str | None:  # type: ignore[override]
        raise NotImplementedError  # see wait_static

    def wait_static(self, scenario: str, expected: bytes) -> str | None:
        """Wait until the file comes back whole; return the problem, or None."""
        deadline = time.monotonic() + bh.START_TIMEOUT
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return f"exited with {self.proc.returncode}: {self.log_tail()}"
            try:
                return check_static(self.port, scenario, expected)
            except OSError as e:
                last = str(e)
                time.sleep(0.1)
        return f"no answer within {bh.START_TIMEOUT:.0f}s ({last})"


def check_static(port: int, scenario: str, expected: bytes) -> str | None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/static/" + FILES[scenario][0])
        resp = conn.getresponse()
        body = resp.read()
    finally:
        conn.close()
    if resp.status != 200:
        return f"answered {resp.status} {resp.reason}"
    if body != expected:
        return f"wrong body ({len(body)} bytes, expected {len(expected)})"
    return None


@dataclass
class Row:
    server: StaticServer
    runs: list[bh.RunResult] = field(default_factory=list)
    unavailable: str | None = None


def run_wrk(prefix: list[str], port: int, scenario: str, seconds: int,
            connections: int) -> bh.RunResult:
    cmd = [*prefix, bh.which("wrk") or "wrk", "-t1", f"-c{connections}", f"-d{seconds}s",
           "--latency", f"http://127.0.0.1:{port}/static/{FILES[scenario][0]}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr.strip()}")
    return bh.parse_wrk(proc.stdout)


def run_benchmark(servers: list[StaticServer], scenarios: list[str], args: argparse.Namespace,
                  workdir: Path, server_prefix: list[str],
                  client_prefix: list[str]) -> dict[str, list[Row]]:
    root = workdir / "files"
    contents = write_files(root)
    programs = write_programs(workdir)
    rows = {sc: [Row(s) for s in servers] for sc in scenarios}
    running: dict[str, RunningStatic] = {}
    try:
        for server in servers:
            if server.kind == "nginx" and bh.which("nginx") is None:
                continue
            running[server.name] = RunningStatic(server, bh.free_port(), workdir, server_prefix,
                                                 programs, root)
        for scenario in scenarios:
            for row in rows[scenario]:
                rs = running.get(row.server.name)
                row.unavailable = (rs.wait_static(scenario, contents[scenario]) if rs
                                   else "nginx not installed")
        for scenario in scenarios:
            connections = args.connections
            for row in rows[scenario]:
                if row.unavailable:
                    print(f"[{scenario}] {row.server.label}: unavailable: {row.unavailable}")
            for rnd in range(-1, args.repeats):
                seconds = bh.WARMUP_SECONDS if rnd < 0 else args.duration
                what = "warm-up" if rnd < 0 else f"round {rnd + 1}/{args.repeats}"
                print(f"[{scenario}] {what}:", end="", flush=True)
                for row in rows[scenario]:
                    if row.unavailable:
                        continue
                    rs = running[row.server.name]
                    try:
                        if rs.proc.poll() is not None:
                            raise RuntimeError(f"died during the run: {rs.log_tail()}")
                        cpu_before = rs.cpu_seconds()
                        result = run_wrk(client_prefix, rs.port, scenario, seconds, connections)
                        result.server_cpu = rs.cpu_seconds() - cpu_before
                    except (RuntimeError, ValueError, subprocess.TimeoutExpired) as e:
                        row.unavailable = str(e).splitlines()[0]
                        print(f" {row.server.name} failed", end="", flush=True)
                        continue
                    if rnd >= 0:
                        row.runs.append(result)
                    print(f" {row.server.name} {result.rps:.0f}", end="", flush=True)
                print(flush=True)
    finally:
        for rs in running.values():
            rs.stop()
    return rows


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def format_table(scenario: str, rows: list[Row], args: argparse.Namespace, pin_note: str) -> str:
    size = FILES[scenario][1]

    def rps(row: Row) -> float | None:
        return None if row.unavailable else median([r.rps for r in row.runs])

    def per_cpu(row: Row) -> float | None:
        values = [r.per_cpu_second for r in row.runs]
        if row.unavailable or not values or None in values:
            return None
        return median([v for v in values if v is not None])

    tornado = next((rps(r) for r in rows if r.server.name == "tornado"), None)
    ours = next((rps(r) for r in rows if r.server.name == "embedtornado"), None)
    nginx = next((rps(r) for r in rows if r.server.name == "nginx"), None)
    tornado_cpu = next((per_cpu(r) for r in rows if r.server.name == "tornado"), None)

    def ratio(value: float | None, base: float | None) -> str:
        return f"{value / base:.2f}x" if value and base else "-"

    out = [
        f"== {scenario}: {SCENARIOS[scenario]}",
        (f"   wrk -t1 -c{args.connections} -d{args.duration}s --latency, median of "
         f"{args.repeats} round-robin run(s) after a {bh.WARMUP_SECONDS}s warm-up; {pin_note}"),
        "   MB/s = req/s x file size (10^6 bytes of body); CPU% and req/CPU-s as in bench_http",
        "",
        (f"{'server':<28} {'req/s':>8} {'MB/s':>8} {'p99 ms':>7} {'x Tornado':>9} "
         f"{'x embedt.':>9} {'x nginx':>8} {'CPU%':>5} {'req/CPU-s':>9} {'x Tornado':>9}"
         f"  runs req/s"),
        "-" * 127,
    ]
    for row in rows:
        value = rps(row)
        if value is None:
            out.append(f"{row.server.label:<28} unavailable: {row.unavailable}")
            continue
        p99 = statistics.median(r.p99_ms for r in row.runs)
        share = statistics.median(r.cpu_share for r in row.runs) * 100
        cpu = per_cpu(row)
        line = (f"{row.server.label:<28} {value:>8.0f} {value * size / 1e6:>8.1f} {p99:>7.2f} "
                f"{ratio(value, tornado):>9} {ratio(value, ours):>9} "
                f"{ratio(value, nginx):>8} {share:>5.0f} "
                f"{(f'{cpu:.0f}' if cpu else '-'):>9} {ratio(cpu, tornado_cpu):>9}  "
                + " ".join(f"{r.rps:.0f}" for r in row.runs))
        bad = sum(r.non_2xx for r in row.runs)
        errors = sum(r.socket_errors for r in row.runs)
        if bad or errors:
            line += f"  [non-2xx {bad}, socket errors {errors}]"
        out.append(line)
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run (5)")
    parser.add_argument("--repeats", type=int, default=3, help="wrk runs per server (3)")
    parser.add_argument("--connections", type=int, default=50, help="wrk connections (50)")
    parser.add_argument("--only", default="",
                        help="comma-separated servers: " + ",".join(s.name for s in SERVER_LIST))
    parser.add_argument("--scenario", choices=["4k", "1m", "all"], default="all")
    args = parser.parse_args(argv)
    if args.duration < 1 or args.repeats < 1 or args.connections < 1:
        parser.error("--duration, --repeats and --connections must be at least 1")
    servers = SERVER_LIST
    if args.only:
        wanted = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = set(wanted) - {s.name for s in SERVER_LIST}
        if unknown:
            parser.error(f"unknown server(s) {', '.join(sorted(unknown))}; choose from "
                         + ", ".join(s.name for s in SERVER_LIST))
        servers = [s for s in SERVER_LIST if s.name in wanted]
    scenarios = ["4k", "1m"] if args.scenario == "all" else [args.scenario]

    bh.ensure_requirements()
    server_prefix, client_prefix, pin_note = bh.pinning()
    print(f"bench_static {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    print(f"machine: {bh.machine_note()}")
    print(f"versions: {bh.versions()}")
    if any(s.kind == "embedtornado" for s in servers):
        print(f"embedtornado from {bh.SRC}: compiled {bh.speedups_report(False)}, "
              f"twins row {bh.speedups_report(True)}")
    print(flush=True)
    with tempfile.TemporaryDirectory(prefix="bench_static-") as tmp:
        rows = run_benchmark(servers, scenarios, args, Path(tmp), server_prefix, client_prefix)
    print(f"\nload average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    print("\n\n".join(format_table(sc, rows[sc], args, pin_note) for sc in scenarios))
    return 0


if __name__ == "__main__":
    sys.exit(main())
