"""Memory and start-up benchmark: embedtornado beside Tornado 6.6.1 (and nginx, and bare Python).

    python bench/bench_memory.py                      # all three measurements
    python bench/bench_memory.py --connections 2000   # a smaller C10K run
    python bench/bench_memory.py --only idle,spawn    # pick measurements
    python bench/bench_memory.py --only idle,spawn --no-site   # every Python with -S

Three measurements, each printed as a table with ratios from the same run:

``idle``
    Idle RSS of the hello-world server (``bench/servers/embedtornado_app.py``
    and ``tornado_app.py``, the programs bench_http.py loads): started, sent
    one request, left alone for a moment, then ``VmRSS`` (and ``Pss``) read
    from ``/proc``. Median of ``--repeats`` fresh starts.
``c10k``
    ``--connections`` (10,000) idle keep-alive connections held by one server
    process: this script opens them in batches, sends one ``GET /`` on each
    and reads the answer, so every connection has been served and is idle.
    The server's RSS (its whole process group, so nginx's master and worker)
    before and after, divided by the count, is the cost per connection.
    Kernel socket buffers are not in RSS, for any of the servers.
``spawn``
    Spawn to first 200: from ``Popen`` of the server to the first complete
    ``200`` answer to ``GET /`` (polling every millisecond), beside the time
    ``python -c pass`` and ``python -c "import asyncio"`` take from ``Popen``
    to exit (asyncio is the floor for both servers: both import it).
    Median of ``--repeats``.

``--no-site`` starts every Python child with ``-S`` (Tornado found through
``PYTHONPATH``): ``site`` runs every ``.pth`` file in site-packages, and on a
machine where one of them imports a heavy package (a sandbox's certifi hook,
say) that cost lands on every row and hides the differences.

The bytecode of ``src/embedtornado`` is compiled first (``compileall``) and
``PYTHONDONTWRITEBYTECODE`` is dropped for the children, as in a deployment:
with it set, an edited module would be compiled from source at every start.

The idle table also has a bare-Python row that imports asyncio and sleeps:
the RSS floor for any server on asyncio.

Every Python process is started with the real interpreter binary
(``sys.executable``, resolved through a pyenv-style shell shim if the script
was started through one: a shim costs tens of milliseconds per spawn).

Every server runs pinned to core 0 (``taskset``) like bench_http.py; the
file-system cache is warmed by one untimed start of each. The machine this
was written on is shared, so read the ratios (same run), not the absolute
figures. nginx (``worker_processes 1``) is in the C10K table only, when
installed (``apt-get install -y nginx-light``).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import resource
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SERVERS = BENCH / "servers"
SRC = BENCH.parent / "src"
SBIN = ["/usr/local/sbin", "/usr/sbin", "/sbin"]
HELLO = b"Hello World!"
REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
START_TIMEOUT = 20.0
PAGE_KB = os.sysconf("SC_PAGESIZE") // 1024

NGINX_CONF = """\
worker_processes 1;
worker_rlimit_nofile {nofile};
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections {nofile}; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    keepalive_timeout 600s;
    keepalive_requests 100000000;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{
            default_type text/plain;
            return 200 "Hello World!";
        }}
    }}
}}
"""


def real_python() -> str:
    """The interpreter binary to spawn: ``sys.executable``, unless that is a shell-script
    shim (pyenv's ``shims/python``), in which case the binary the shim runs."""
    exe = sys.executable
    with contextlib.suppress(OSError), open(exe, "rb") as f:
        if f.read(2) == b"#!":
            exe = subprocess.run([exe, "-c", "import sys; print(sys.executable)"],
                                 check=True, capture_output=True, text=True).stdout.strip()
    return exe


PYTHON = real_python()
#: Interpreter flags for every Python child: ``["-S"]`` with ``--no-site``.
PY_FLAGS: list[str] = []
#: Bare-Python baselines: spawn to exit, and (idle table) the RSS after the import.
BASELINES = {"python -c pass": "pass", "python -c 'import asyncio'": "import asyncio"}
IDLE_BASELINE = "import asyncio, time; print('ready', flush=True); time.sleep(600)"


def which(tool: str) -> str | None:
    return shutil.which(tool) or shutil.which(tool, path=os.pathsep.join(SBIN))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pin_prefix() -> list[str]:
    try:
        cpus = os.sched_getaffinity(0)
    except AttributeError:
        return []
    return ["taskset", "-c", "0"] if shutil.which("taskset") and 0 in cpus else []


def env_for(kind: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("EMBEDTORNADO_NO_EXTENSIONS", None)
    # Bytecode is cached in every deployment; without this a changed module is
    # compiled from source at every start (and Tornado's never are).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONUNBUFFERED"] = "1"
    if kind == "embedtornado":
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(SRC), os.environ.get("PYTHONPATH", "")) if p)
    elif kind == "tornado" and PY_FLAGS:
        # Without site, Tornado is found through PYTHONPATH (no .pth file runs).
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (sysconfig.get_paths()["purelib"], os.environ.get("PYTHONPATH", "")) if p)
    return env


class Server:
    """A server subprocess in its own process group (``kind``: embedtornado, tornado, nginx)."""

    def __init__(self, kind: str, workdir: Path, nofile: int) -> None:
        self.kind = kind
        self.port = free_port()
        self.log = open(workdir / f"{kind}.log", "wb")  # noqa: SIM115 (closed in stop)
        if kind == "nginx":
            conf_dir = workdir / "nginx"
            conf_dir.mkdir(exist_ok=True)
            conf = conf_dir / "nginx.conf"
            conf.write_text(NGINX_CONF.format(tmp=conf_dir, port=self.port, nofile=nofile))
            cmd = [which("nginx") or "nginx", "-p", str(conf_dir), "-e",
                   str(conf_dir / "error.log"), "-c", str(conf)]
        else:
            script = "embedtornado_app.py" if kind == "embedtornado" else "tornado_app.py"
            cmd = [PYTHON, *PY_FLAGS, str(SERVERS / script), f"--port={self.port}",
                   "--logging=warning"]
        self.started = time.perf_counter()
        self.proc = subprocess.Popen([*pin_prefix(), *cmd], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     env=env_for(kind), start_new_session=True)

    def wait_first_200(self) -> float:
        """Poll until ``GET /`` answers 200; return seconds since the spawn."""
        deadline = self.started + START_TIMEOUT
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited with {self.proc.returncode}")
            try:
                if fetch_once(self.port):
                    return time.perf_counter() - self.started
            except OSError:
                time.sleep(0.001)
        raise RuntimeError(f"{self.kind} did not answer within {START_TIMEOUT:.0f}s")

    def pids(self) -> list[int]:
        out = []
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as f:
                    stat = f.read()
            except OSError:
                continue
            fields = stat[stat.rindex(b")") + 2:].split()
            if int(fields[2]) == self.proc.pid:  # process group
                out.append(int(entry.name))
        return out

    def rss_kb(self) -> int:
        """Resident set size of the process group, in KiB (the taskset exec is the server)."""
        total = 0
        for pid in self.pids():
            with contextlib.suppress(OSError), open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * PAGE_KB
        return total

    def pss_kb(self) -> int:
        total = 0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        return total

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.log.close()


def fetch_once(port: int) -> bool:
    """One ``GET /`` on a new connection; True for a 200 with the hello body."""
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return data.startswith(b"HTTP/1.1 200") and data.endswith(HELLO)


# --- measurements -----------------------------------------------------------------------


def baseline_rss_kb() -> tuple[float, float]:
    """(RSS, PSS) in KiB of a bare Python process that has imported asyncio and sleeps."""
    proc = subprocess.Popen([*pin_prefix(), PYTHON, *PY_FLAGS, "-c", IDLE_BASELINE],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, env=env_for("python"))
    try:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != b"ready":
            raise RuntimeError("the asyncio baseline did not start")
        time.sleep(0.5)
        rss = pss = 0.0
        with open(f"/proc/{proc.pid}/statm") as f:
            rss = int(f.read().split()[1]) * PAGE_KB
        for line in Path(f"/proc/{proc.pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
        return rss, pss
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def measure_idle(workdir: Path, repeats: int) -> dict[str, tuple[float, float]]:
    """Median (RSS MiB, PSS MiB) of a fresh, once-used hello server (and the asyncio floor)."""
    rss: dict[str, list[float]] = {"asyncio": [], "tornado": [], "embedtornado": []}
    pss: dict[str, list[float]] = {k: [] for k in rss}
    for _ in range(repeats):  # interleaved, so a change in the machine's load hits all alike
        r, p = baseline_rss_kb()
        rss["asyncio"].append(r / 1024)
        pss["asyncio"].append(p / 1024)
        for kind in ("tornado", "embedtornado"):
            server = Server(kind, workdir, 1024)
            try:
                server.wait_first_200()
                fetch_once(server.port)
                time.sleep(0.5)
                rss[kind].append(server.rss_kb() / 1024)
                pss[kind].append(server.pss_kb() / 1024)
            finally:
                server.stop()
    return {k: (statistics.median(rss[k]), statistics.median(pss[k])) for k in rss}


def hold_connections(port: int, count: int, batch: int = 200) -> list[socket.socket]:
    """Open *count* connections, one request and its answer on each; return them open."""
    socks: list[socket.socket] = []
    sel = selectors.DefaultSelector()
    try:
        while len(socks) < count:
            pending: dict[socket.socket, bytearray] = {}
            for _ in range(min(batch, count - len(socks))):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                s.connect(("127.0.0.1", port))
                s.sendall(REQUEST)
                s.setblocking(False)
                pending[s] = bytearray()
                sel.register(s, selectors.EVENT_READ)
                socks.append(s)
            deadline = time.monotonic() + 30
            while pending:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{len(pending)} answers missing after 30 s")
                for key, _ in sel.select(timeout=1):
                    s = key.fileobj  # type: ignore[assignment]
                    chunk = s.recv(65536)  # type: ignore[union-attr]
                    if not chunk:
                        raise RuntimeError("server closed an idle keep-alive connection")
                    buf = pending[s]  # type: ignore[index]
                    buf += chunk
                    if buf.endswith(HELLO):
                        if not buf.startswith(b"HTTP/1.1 200"):
                            raise RuntimeError(f"unexpected answer {bytes(buf[:40])!r}")
                        sel.unregister(s)
                        del pending[s]  # type: ignore[arg-type]
    except BaseException:
        for s in socks:
            s.close()
        raise
    finally:
        sel.close()
    return socks


def measure_c10k(workdir: Path, count: int) -> dict[str, tuple[float, float, float] | str]:
    """Per server: (RSS MiB before, RSS MiB with *count* idle connections, KiB each)."""
    kinds = ["tornado", "embedtornado"] + (["nginx"] if which("nginx") else [])
    out: dict[str, tuple[float, float, float] | str] = {}
    for kind in kinds:
        server = Server(kind, workdir, count + 1024)
        socks: list[socket.socket] = []
        try:
            server.wait_first_200()
            fetch_once(server.port)
            time.sleep(0.3)
            before = server.rss_kb()
            socks = hold_connections(server.port, count)
            time.sleep(1.0)  # let the server finish its bookkeeping
            if server.proc.poll() is not None:
                raise RuntimeError("exited while holding the connections")
            after = server.rss_kb()
            out[kind] = (before / 1024, after / 1024, (after - before) / count)
        except (OSError, RuntimeError) as e:
            out[kind] = f"unavailable: {e}"
        finally:
            for s in socks:
                s.close()
            server.stop()
    return out


def measure_spawn(workdir: Path, repeats: int) -> dict[str, tuple[float, float]]:
    """(median, minimum) milliseconds: spawn to first 200 (servers), spawn to exit (bare
    Python). On a loaded machine the minimum is the run least disturbed by other work."""
    times: dict[str, list[float]] = {k: [] for k in (*BASELINES, "tornado", "embedtornado")}
    for rnd in range(repeats + 1):  # round 0 warms the file-system cache, untimed
        for label, code in BASELINES.items():
            t0 = time.perf_counter()
            subprocess.run([*pin_prefix(), PYTHON, *PY_FLAGS, "-c", code], check=True,
                           env=env_for("python"))
            elapsed = time.perf_counter() - t0
            if rnd:
                times[label].append(elapsed * 1000)
        for kind in ("tornado", "embedtornado"):
            server = Server(kind, workdir, 1024)
            try:
                elapsed = server.wait_first_200()
            finally:
                server.stop()
            if rnd:
                times[kind].append(elapsed * 1000)
    return {k: (statistics.median(v), min(v)) for k, v in times.items()}


# --- report -----------------------------------------------------------------------------


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--connections", type=int, default=10_000,
                        help="idle keep-alive connections for c10k (10000)")
    parser.add_argument("--repeats", type=int, default=7, help="runs for idle and spawn (7)")
    parser.add_argument("--no-site", action="store_true",
                        help="start every Python with -S: no site module, no .pth files "
                             "(what a device without this machine's .pth hooks sees)")
    parser.add_argument("--only", default="idle,c10k,spawn",
                        help="comma-separated: idle, c10k, spawn")
    args = parser.parse_args(argv)
    if args.no_site:
        PY_FLAGS.append("-S")
    wanted = {w.strip() for w in args.only.split(",") if w.strip()}
    if not wanted <= {"idle", "c10k", "spawn"} or args.connections < 1 or args.repeats < 1:
        parser.error("--only takes idle, c10k, spawn; counts must be at least 1")

    need = args.connections + 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            sys.exit(f"bench_memory: needs {need} open files, the hard limit is {hard} "
                     f"(use --connections {max(hard - 1024, 1)})")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))  # inherited by the servers

    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"bench_memory {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load average {load}; "
          f"Python {platform.python_version()} ({PYTHON} {' '.join(PY_FLAGS)}); "
          f"servers pinned: {bool(pin_prefix())}")
    print("the machine may be shared: compare the ratios of one run, not absolute figures\n",
          flush=True)

    # Compile the package's bytecode first (as an install does), so neither
    # server compiles anything while being measured.
    subprocess.run([PYTHON, "-m", "compileall", "-q", str(SRC / "embedtornado")],
                   check=True, env=env_for("python"))
    with tempfile.TemporaryDirectory(prefix="bench_memory-") as tmp:
        workdir = Path(tmp)
        if "idle" in wanted:
            idle = measure_idle(workdir, args.repeats)
            t_rss = idle["tornado"][0]
            print(f"== idle RSS of the hello-world server (median of {args.repeats} starts)")
            print(f"{'server':<28} {'RSS MiB':>8} {'PSS MiB':>8} {'x Tornado':>9}")
            for kind, label in (("asyncio", "python -c 'import asyncio'"),
                                ("tornado", "Tornado 6.6.1"), ("embedtornado", "embedtornado")):
                k_rss, k_pss = idle[kind]
                print(f"{label:<28} {k_rss:>8.1f} {k_pss:>8.1f} {ratio(k_rss, t_rss):>9}")
            print("target: embedtornado at most 0.50x Tornado's RSS "
                  "(the asyncio row is the floor of both)\n", flush=True)
        if "c10k" in wanted:
            c10k = measure_c10k(workdir, args.connections)
            print(f"== {args.connections} idle keep-alive connections held by one process")
            print(f"{'server':<16} {'RSS before':>10} {'RSS after':>10} {'KiB/conn':>9} "
                  f"{'x Tornado':>9}")
            tornado_each = c10k.get("tornado")
            base = tornado_each[2] if isinstance(tornado_each, tuple) else 0.0
            labels = {"tornado": "Tornado 6.6.1", "embedtornado": "embedtornado",
                      "nginx": "nginx"}
            for kind, res in c10k.items():
                if isinstance(res, str):
                    print(f"{labels[kind]:<16} {res}")
                    continue
                before, after, each = res
                print(f"{labels[kind]:<16} {before:>9.1f}M {after:>9.1f}M {each:>9.2f} "
                      f"{ratio(each, base):>9}")
            print("target: embedtornado at most 2 KiB per connection\n", flush=True)
        if "spawn" in wanted:
            spawn = measure_spawn(workdir, args.repeats)
            print(f"== spawn to first 200 (median of {args.repeats}; bare Python: spawn to exit)")
            print(f"{'what':<28} {'median ms':>9} {'x Tornado':>9} {'min ms':>8} {'x Tornado':>9}")
            rows = [*((b, b) for b in BASELINES),
                    ("tornado", "Tornado 6.6.1"), ("embedtornado", "embedtornado")]
            t_med, t_min = spawn["tornado"]
            for kind, label in rows:
                med, low = spawn[kind]
                print(f"{label:<28} {med:>9.1f} {ratio(med, t_med):>9} "
                      f"{low:>8.1f} {ratio(low, t_min):>9}")
            print("target: embedtornado at most 60 ms where Tornado takes 97 ms "
                  "(0.62x in one run)\n", flush=True)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average at the end: {load}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
