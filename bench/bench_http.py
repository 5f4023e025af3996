"""HTTP load benchmark: embedtornado beside Tornado 6.6.1, aiohttp, raw uvicorn and nginx.

    python bench/bench_http.py                                   # both scenarios, defaults
    python bench/bench_http.py --duration 3 --repeats 1          # quick look
    python bench/bench_http.py --only tornado,embedtornado --scenario hello

Each server (a small script in ``bench/servers/``, or nginx from a generated
config) runs as a subprocess in its own process group, pinned to core 0
(``taskset -c 0``); ``wrk -t1`` runs pinned to core 1. The servers are started
on free ports, each is waited for and its answer to every scenario checked;
then, per scenario, a one-second warm-up against each, and ``--repeats``
rounds that run wrk once against every server in turn (round-robin, so a noisy
spell on a shared machine hits every row alike; an idle server costs nothing).
At the end every server's process group is terminated, then killed. One table
per scenario: the median requests/s and median p99 latency of the runs, the
ratios to Tornado and to embedtornado, and the server's CPU share and requests
per CPU-second (read from ``/proc``; preemption by other processes on a shared
machine disturbs that less than req/s), all from the same run of this script.

Scenarios: ``hello`` is ``GET /`` answering ``Hello World!``; ``json`` is
``GET /json?a=...`` with a query string and 10 browser request headers (sent
by a small wrk Lua script), answering ``{"a": ..., "n": 1, "items": [1, 2, 3]}``.

Missing tools are installed first: ``wrk`` and ``nginx-light`` from apt (when
root), and ``tornado==6.6.1 aiohttp uvicorn uvloop httptools`` with pip. Every
server is started with ``sys.executable``; the embedtornado servers import the
package from this checkout's ``src/``. Timings live here, never in tests
(STYLE.md rule 15). See bench/README.md for what each row is.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import http.client
import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SERVERS = BENCH / "servers"
SRC = BENCH.parent / "src"
SBIN = ["/usr/local/sbin", "/usr/sbin", "/sbin"]

SERVER_CORE = "0"
CLIENT_CORE = "1"
WARMUP_SECONDS = 1
START_TIMEOUT = 20.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

PIP_PACKAGES = {  # import name -> pip requirement
    "tornado": "tornado==6.6.1",
    "aiohttp": "aiohttp",
    "uvicorn": "uvicorn",
    "uvloop": "uvloop",
    "httptools": "httptools",
}

HELLO_BODY = b"Hello World!"
JSON_A = "hello"
JSON_PATH = f"/json?a={JSON_A}&page=2&sort=desc"
JSON_EXPECTED = {"a": JSON_A, "n": 1, "items": [1, 2, 3]}

# Ten request headers as a desktop browser sends them (wrk adds Host itself).
BROWSER_HEADERS = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
                  "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,"
              "image/avif,image/webp,*/*;q=0.8",
    "Accept-Language": "en-US,en;q=0.9,de;q=0.8",
    "Accept-Encoding": "gzip, deflate, br",
    "Cache-Control": "max-age=0",
    "Connection": "keep-alive",
    "Cookie": "_ga=GA1.1.1234567890.1700000000; session=8f14e45fceea167a5a36dedd4bea2543",
    "Referer": "http://127.0.0.1/dashboard",
    "Upgrade-Insecure-Requests": "1",
    "Sec-Fetch-Mode": "navigate",
}

SCENARIOS = {
    "hello": f'GET / -> "{HELLO_BODY.decode()}"',
    "json": f"GET {JSON_PATH} with {len(BROWSER_HEADERS)} browser headers -> JSON dict",
    "hello500": f'GET / -> "{HELLO_BODY.decode()}" over 500 connections (the p99 target)',
}
#: Scenarios that send the hello request; hello500 also fixes its connection count.
HELLO_LIKE = ("hello", "hello500")
FIXED_CONNECTIONS = {"hello500": 500}

TORNADO_ROW = "tornado"
EMBEDTORNADO_ROW = "embedtornado"
UVICORN_ROW = "uvicorn"


@dataclass
class Server:
    name: str  # --only name
    label: str  # table row
    script: str | None  # in bench/servers/; None for nginx
    args: list[str] = field(default_factory=list)
    scenarios: tuple[str, ...] = ("hello", "json", "hello500")
    needs_src: bool = False  # import embedtornado from this checkout


SERVER_LIST = [
    Server("tornado", "Tornado 6.6.1", "tornado_app.py", ["--logging=warning"]),
    Server("embedtornado", "embedtornado", "embedtornado_app.py", ["--logging=warning"],
           needs_src=True),
    Server("embedtornado-stdloop", "embedtornado on the stdlib loop", "embedtornado_app.py",
           ["--stdlib-loop", "--logging=warning"], needs_src=True),
    Server("embedtornado-twins", "embedtornado (twins)", "embedtornado_app.py",
           ["--twin", "--logging=warning"], needs_src=True),
    Server("embedtornado-raw", "embedtornado raw HTTPServer", "embedtornado_raw.py",
           ["--logging=warning"], needs_src=True),
    Server("aiohttp", "aiohttp", "aiohttp_app.py"),
    Server("uvicorn", "uvicorn raw ASGI (uvloop+httptools)", "uvicorn_raw.py"),
    Server("nginx", "nginx (return 200, ceiling)", None, scenarios=("hello", "hello500")),
]


@dataclass
class RunResult:
    rps: float
    p99_ms: float
    requests: int
    seconds: float  # wrk's measured duration
    non_2xx: int = 0
    socket_errors: int = 0
    server_cpu: float = 0.0  # CPU seconds the server's process group used during the run

    @property
    def cpu_share(self) -> float:
        """The server's CPU time over the wall time: 1.0 is its whole core."""
        return self.server_cpu / self.seconds if self.seconds else 0.0

    @property
    def per_cpu_second(self) -> float | None:
        """Requests per CPU-second of the server; None when it used no measurable CPU."""
        return self.requests / self.server_cpu if self.server_cpu > 0 else None


@dataclass
class Row:
    server: Server
    runs: list[RunResult] = field(default_factory=list)
    unavailable: str | None = None


# --- setup ----------------------------------------------------------------------------


def which(tool: str) -> str | None:
    return shutil.which(tool) or shutil.which(tool, path=os.pathsep.join(SBIN))


def run_logged(cmd: list[str]) -> int:
    print("  $ " + " ".join(cmd), flush=True)
    return subprocess.call(cmd)


def ensure_requirements() -> None:
    """Install wrk/nginx (apt, when root) and the Python peers (pip) if they are missing."""
    missing_tools = [t for t in ("wrk", "nginx") if which(t) is None]
    if missing_tools:
        apt_names = ["nginx-light" if t == "nginx" else t for t in missing_tools]
        if os.geteuid() == 0 and shutil.which("apt-get"):
            print(f"installing from apt: {' '.join(apt_names)}")
            env_cmd = ["apt-get", "install", "-y", *apt_names]
            if run_logged(env_cmd) != 0:
                run_logged(["apt-get", "update"])
                run_logged(env_cmd)
        else:
            print(f"missing {', '.join(missing_tools)}, and not root: "
                  f"sudo apt-get install -y {' '.join(apt_names)}")
    if which("wrk") is None:
        sys.exit("bench_http: wrk is required (apt-get install -y wrk)")

    to_install = []
    for module, requirement in PIP_PACKAGES.items():
        absent = importlib.util.find_spec(module) is None
        if absent or (module == "tornado" and importlib.metadata.version("tornado") != "6.6.1"):
            to_install.append(requirement)
    if to_install:
        print(f"installing with pip: {' '.join(to_install)}")
        if run_logged([sys.executable, "-m", "pip", "install", *to_install]) != 0:
            print("bench_http: pip install failed; the servers that need it will be unavailable")
        importlib.invalidate_caches()


def pinning() -> tuple[list[str], list[str], str]:
    """The taskset prefixes for server and client, and a note saying what was done."""
    try:
        cpus = os.sched_getaffinity(0)
    except AttributeError:
        cpus = set(range(os.cpu_count() or 1))
    if shutil.which("taskset") and {int(SERVER_CORE), int(CLIENT_CORE)} <= cpus:
        return (["taskset", "-c", SERVER_CORE], ["taskset", "-c", CLIENT_CORE],
                f"server pinned to core {SERVER_CORE}, wrk to core {CLIENT_CORE}")
    return [], [], "NOT pinned (needs taskset and cores 0 and 1): figures are less comparable"


def check_port_rule() -> str | None:
    """Say how embedtornado_app.py drifted from tornado_app.py, or None when it has not."""
    def program(name: str) -> list[str]:
        text = (SERVERS / name).read_text()
        return text.split("\n# --- program ---\n", 1)[-1].strip().splitlines()

    ported = [line.replace("tornado", "embedtornado") for line in program("tornado_app.py")]
    if ported != program("embedtornado_app.py"):
        return "embedtornado_app.py is no longer tornado_app.py with its imports renamed"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def speedups_report(twins: bool) -> str:
    env = server_env(needs_src=True)
    if twins:
        env["EMBEDTORNADO_NO_EXTENSIONS"] = "1"
    code = "import embedtornado; print(embedtornado.speedups())"
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=30, check=False)
    return proc.stdout.strip() if proc.returncode == 0 else "import failed"


def server_env(needs_src: bool) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("EMBEDTORNADO_NO_EXTENSIONS", None)
    env["PYTHONUNBUFFERED"] = "1"
    if needs_src:
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(SRC), os.environ.get("PYTHONPATH", "")) if p)
    return env


# --- servers --------------------------------------------------------------------------


NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    keepalive_requests 100000000;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            default_type text/plain;
            return 200 "{body}";
        }}
    }}
}}
"""


class RunningServer:
    """One server subprocess in its own process group, output to a log file."""

    def __init__(self, server: Server, port: int, workdir: Path, prefix: list[str]) -> None:
        self.server = server
        self.port = port
        self.log_path = workdir / f"{server.name}.log"
        if server.script is None:  # nginx
            confdir = workdir / "nginx"
            confdir.mkdir(exist_ok=True)
            conf = confdir / "nginx.conf"
            conf.write_text(NGINX_CONF.format(tmp=confdir, port=port, body=HELLO_BODY.decode()))
            cmd = [which("nginx") or "nginx", "-p", str(confdir), "-e", str(confdir / "error.log"),
                   "-c", str(conf)]
            env = server_env(needs_src=False)
        else:
            cmd = [sys.executable, str(SERVERS / server.script), *server.args, f"--port={port}"]
            env = server_env(server.needs_src)
        self.log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop())
        self.proc = subprocess.Popen([*prefix, *cmd], stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env, start_new_session=True)

    def log_tail(self) -> str:
        """The server's last line of output (the exception, when it crashed), shortened."""
        self.log.flush()
        lines = [ln.strip() for ln in self.log_path.read_text(errors="replace").splitlines()]
        lines = [ln for ln in lines if ln]
        last = lines[-1] if lines else "no output"
        return last if len(last) <= 110 else last[:107] + "..."

    def wait_ready(self, scenario: str) -> str | None:
        """Wait until the server answers the scenario's request correctly; return the problem."""
        deadline = time.monotonic() + START_TIMEOUT
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return f"exited with {self.proc.returncode}: {self.log_tail()}"
            try:
                return check_response(self.port, scenario)
            except OSError as e:
                last = str(e)
                time.sleep(0.1)
        return f"no answer within {START_TIMEOUT:.0f}s ({last})"

    def cpu_seconds(self) -> float:
        """User+system CPU seconds used so far by the live processes of the server's group."""
        ticks = 0
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as f:
                    stat = f.read()
            except OSError:
                continue  # exited meanwhile
            fields = stat[stat.rindex(b")") + 2:].split()
            if int(fields[2]) == self.proc.pid:  # pgrp; 11 and 12 are utime, stime
                ticks += int(fields[11]) + int(fields[12])
        return ticks / CLOCK_TICKS

    def stop(self) -> None:
        """SIGTERM the process group, then SIGKILL whatever is left of it."""
        pgid = self.proc.pid  # start_new_session: the group id is the leader's pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)  # leftovers (nginx worker, a hung loop)
        self.proc.wait()
        self.log.close()


def check_response(port: int, scenario: str) -> str | None:
    """Fetch the scenario's request once; None when the answer is right, else what is wrong."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        if scenario in HELLO_LIKE:
            conn.request("GET", "/")
        else:
            conn.request("GET", JSON_PATH, headers=BROWSER_HEADERS)
        resp = conn.getresponse()
        body = resp.read()
    finally:
        conn.close()
    if resp.status != 200:
        return f"answered {resp.status} {resp.reason}"
    if scenario in HELLO_LIKE:
        if body.strip() != HELLO_BODY:
            return f"wrong body {body[:60]!r}"
        return None
    if not (resp.getheader("Content-Type") or "").startswith("application/json"):
        return f"wrong Content-Type {resp.getheader('Content-Type')!r}"
    try:
        doc = json.loads(body)
    except ValueError:
        return f"body is not JSON: {body[:60]!r}"
    return None if doc == JSON_EXPECTED else f"wrong JSON {doc!r}"


# --- wrk ------------------------------------------------------------------------------


_UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def parse_wrk(output: str) -> RunResult:
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    p99 = re.search(r"^\s+99(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", output, re.MULTILINE)
    total = re.search(r"^\s+(\d+) requests in ([\d.]+)(us|ms|s|m|h),", output, re.MULTILINE)
    if not rps or not p99 or not total:
        raise ValueError("could not parse wrk output:\n" + output)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       output)
    return RunResult(
        rps=float(rps.group(1)),
        p99_ms=float(p99.group(1)) * _UNITS_MS[p99.group(2)],
        requests=int(total.group(1)),
        seconds=float(total.group(2)) * _UNITS_MS[total.group(3)] / 1e3,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(g) for g in errors.groups()) if errors else 0,
    )


def write_lua(workdir: Path) -> Path:
    lines = ['wrk.method = "GET"', f'wrk.path = "{JSON_PATH}"']
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in BROWSER_HEADERS.items()]
    path = workdir / "json_request.lua"
    path.write_text("\n".join(lines) + "\n")
    return path


def run_wrk(prefix: list[str], port: int, scenario: str, seconds: int, connections: int,
            lua: Path) -> RunResult:
    cmd = [*prefix, which("wrk") or "wrk", "-t1", f"-c{connections}", f"-d{seconds}s",
           "--latency"]
    if scenario == "json":
        cmd += ["-s", str(lua), f"http://127.0.0.1:{port}{JSON_PATH}"]
    else:
        cmd += [f"http://127.0.0.1:{port}/"]
    proc = subprocess.run(cmd, capture_output=True, text=True,
                          timeout=seconds + 60, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr.strip()}")
    return parse_wrk(proc.stdout)


# --- the run --------------------------------------------------------------------------


def run_benchmark(servers: list[Server], scenarios: list[str], args: argparse.Namespace,
                  workdir: Path, lua: Path, server_prefix: list[str],
                  client_prefix: list[str]) -> dict[str, list[Row]]:
    """Start every server, check its answers, then run wrk round-robin; stop them all.

    All servers stay up (idle, so they cost nothing) while the others are
    measured, and each round runs wrk once against every server in turn: a
    noisy spell on the shared machine then hits every row alike instead of
    sinking one server's runs.
    """
    rows = {sc: [Row(s) for s in servers if sc in s.scenarios] for sc in scenarios}
    running: dict[str, RunningServer] = {}
    try:
        for server in servers:
            if not any(sc in server.scenarios for sc in scenarios):
                continue
            if server.script is None and which("nginx") is None:
                continue
            running[server.name] = RunningServer(server, free_port(), workdir, server_prefix)
        for scenario in scenarios:
            for row in rows[scenario]:
                rs = running.get(row.server.name)
                row.unavailable = rs.wait_ready(scenario) if rs else "nginx not installed"
        for scenario in scenarios:
            live = [row for row in rows[scenario] if row.unavailable is None]
            for row in rows[scenario]:
                if row.unavailable:
                    print(f"[{scenario}] {row.server.label}: unavailable: {row.unavailable}")
            for rnd in range(-1, args.repeats):  # round -1 is the warm-up
                seconds = WARMUP_SECONDS if rnd < 0 else args.duration
                what = "warm-up" if rnd < 0 else f"round {rnd + 1}/{args.repeats}"
                print(f"[{scenario}] {what}:", end="", flush=True)
                for row in live:
                    if row.unavailable:
                        continue
                    rs = running[row.server.name]
                    try:
                        if rs.proc.poll() is not None:
                            raise RuntimeError(f"died during the run: {rs.log_tail()}")
                        cpu_before = rs.cpu_seconds()
                        result = run_wrk(client_prefix, rs.port, scenario, seconds,
                                         FIXED_CONNECTIONS.get(scenario, args.connections),
                                         lua)
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


def median_rps(row: Row) -> float | None:
    if row.unavailable or not row.runs:
        return None
    return statistics.median(r.rps for r in row.runs)


def median_p99(row: Row) -> float | None:
    if row.unavailable or not row.runs:
        return None
    return statistics.median(r.p99_ms for r in row.runs)


def median_per_cpu(row: Row) -> float | None:
    values = [r.per_cpu_second for r in row.runs]
    if row.unavailable or not values or None in values:
        return None
    return statistics.median(v for v in values if v is not None)


def format_table(scenario: str, rows: list[Row], args: argparse.Namespace, pin_note: str) -> str:
    tornado = next((median_rps(r) for r in rows if r.server.name == TORNADO_ROW), None)
    ours = next((median_rps(r) for r in rows if r.server.name == EMBEDTORNADO_ROW), None)
    uvicorn = next((median_rps(r) for r in rows if r.server.name == UVICORN_ROW), None)
    uvicorn_p99 = next((median_p99(r) for r in rows if r.server.name == UVICORN_ROW), None)
    connections = FIXED_CONNECTIONS.get(scenario, args.connections)
    tornado_cpu = next((median_per_cpu(r) for r in rows if r.server.name == TORNADO_ROW), None)

    def ratio(value: float | None, base: float | None) -> str:
        return f"{value / base:.2f}x" if value and base else "-"

    out = [
        f"== {scenario}: {SCENARIOS[scenario]}",
        (f"   wrk -t1 -c{connections} -d{args.duration}s --latency, median of "
         f"{args.repeats} round-robin run(s) after a {WARMUP_SECONDS}s warm-up; {pin_note}"),
        ("   access logging off in every server: Tornado and embedtornado the same way "
         "(--logging=warning),"),
        "   aiohttp access_log=None, uvicorn access_log=False, nginx access_log off",
        ("   CPU% = the server's CPU time over the run's wall time (100 = its whole core); "
         "req/CPU-s = requests per"),
        ("   CPU-second of the server, which a busy shared machine disturbs less than "
         "req/s does"),
        "",
        ("   x uvicorn = req/s over raw uvicorn's; p99/uv = p99 latency over uvicorn's "
         "(below 1 is better)"),
        "",
        (f"{'server':<36} {'req/s':>7} {'p99 ms':>7} {'p99/uv':>6} {'x Tornado':>9}"
         f" {'x uvicorn':>9} {'x embedt.':>9} {'CPU%':>5} {'req/CPU-s':>9} {'x Tornado':>9}"
         "  runs req/s"),
        "-" * 136,
    ]
    for row in rows:
        rps = median_rps(row)
        if rps is None:
            out.append(f"{row.server.label:<36} unavailable: {row.unavailable}")
            continue
        p99 = median_p99(row) or 0.0
        share = statistics.median(r.cpu_share for r in row.runs) * 100
        per_cpu = median_per_cpu(row)
        per_cpu_text = f"{per_cpu:.0f}" if per_cpu else "-"
        runs = " ".join(f"{r.rps:.0f}" for r in row.runs)
        p99_ratio = f"{p99 / uvicorn_p99:.2f}" if uvicorn_p99 else "-"
        line = (f"{row.server.label:<36} {rps:>7.0f} {p99:>7.2f} {p99_ratio:>6} "
                f"{ratio(rps, tornado):>9} {ratio(rps, uvicorn):>9} "
                f"{ratio(rps, ours):>9} {share:>5.0f} {per_cpu_text:>9} "
                f"{ratio(per_cpu, tornado_cpu):>9}  {runs}")
        bad = sum(r.non_2xx for r in row.runs)
        errors = sum(r.socket_errors for r in row.runs)
        if bad or errors:
            line += f"  [non-2xx {bad}, socket errors {errors}]"
        out.append(line)
    return "\n".join(out)


def machine_note() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{cpu}, {os.cpu_count()} cores, load average {load}"


def versions() -> str:
    parts = [f"Python {platform.python_version()}"]
    for dist in ("tornado", "aiohttp", "uvicorn", "uvloop", "httptools"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            parts.append(f"{dist} {importlib.metadata.version(dist)}")
    wrk = subprocess.run([which("wrk") or "wrk", "--version"], capture_output=True, text=True,
                         check=False)
    parts.append((wrk.stdout or wrk.stderr).split(" [")[0].strip())
    if which("nginx"):
        ng = subprocess.run([which("nginx") or "nginx", "-v"], capture_output=True, text=True,
                            check=False)
        parts.append(ng.stderr.strip().split(": ")[-1])
    return ", ".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run (5)")
    parser.add_argument("--repeats", type=int, default=3, help="wrk runs per server (3)")
    parser.add_argument("--connections", type=int, default=50, help="wrk connections (50)")
    parser.add_argument("--only", default="",
                        help="comma-separated servers: " + ",".join(s.name for s in SERVER_LIST))
    parser.add_argument("--scenario", choices=[*SCENARIOS, "all"], default="all",
                        help="hello, json, hello500 (500 connections) or all")
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
    scenarios = list(SCENARIOS) if args.scenario == "all" else [args.scenario]

    ensure_requirements()
    server_prefix, client_prefix, pin_note = pinning()
    print(f"bench_http {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    print(f"machine: {machine_note()}")
    print(f"versions: {versions()}")
    if any(s.needs_src for s in servers):
        compiled = speedups_report(False)
        print(f"embedtornado from {SRC}: compiled {compiled}, "
              f"twins row {speedups_report(True)}")
        if "cython" not in compiled or "python" in compiled:
            print("WARNING: the embedtornado rows do not run (all) compiled modules; "
                  "build the extensions into src/ first")
    drift = check_port_rule()
    if drift:
        print(f"WARNING: {drift}")
    print(flush=True)

    with tempfile.TemporaryDirectory(prefix="bench_http-") as tmp:
        workdir = Path(tmp)
        lua = write_lua(workdir)
        rows = run_benchmark(servers, scenarios, args, workdir, lua, server_prefix,
                             client_prefix)
    tables = [format_table(sc, rows[sc], args, pin_note) for sc in scenarios]
    print(f"\nload average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    print("\n\n".join(tables))
    return 0


if __name__ == "__main__":
    sys.exit(main())
