"""Run the Autobahn|Testsuite fuzzingclient cases (via ``kosoku``) against our WebSocket server.

Usage::

    python tests/autobahn/run.py                 # cases 1-7, 9, 12, 13 on embedtornado
    python tests/autobahn/run.py --server tornado -i '1.*'
    python tests/autobahn/run.py --budget 600

The echo server runs in its own process (``--serve`` mode of this file), with
``websocket_max_message_size`` raised to 16 MiB as case group 9 needs and
permessage-deflate enabled for groups 12 and 13. kosoku writes its JSON
report to a temporary directory; every case whose ``behavior`` (or
``behaviorClose``) is ``FAILED`` is printed, and the exit status is 1 if there
was any, or if the run did not finish within ``--budget`` seconds. OK,
NON-STRICT and INFORMATIONAL results pass, as in Autobahn's own reports.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_CASES = ["1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "9.*", "12.*", "13.*"]
MAX_MESSAGE = 16 * 1024 * 1024


def serve(kind: str, port: int) -> None:
    if kind == "tornado":
        import tornado.ioloop as ioloop
        import tornado.web as web
        import tornado.websocket as websocket
    else:
        import embedtornado.ioloop as ioloop  # type: ignore[no-redef]
        import embedtornado.web as web  # type: ignore[no-redef]
        import embedtornado.websocket as websocket  # type: ignore[no-redef]

    class Echo(websocket.WebSocketHandler):  # type: ignore[name-defined,misc]
        def on_message(self, message):  # type: ignore[no-untyped-def]
            self.write_message(message, binary=isinstance(message, bytes))

        def get_compression_options(self):  # type: ignore[no-untyped-def]
            return {}

    app = web.Application([(r"/.*", Echo)], websocket_max_message_size=MAX_MESSAGE)
    app.listen(port, "127.0.0.1")
    print("ready", flush=True)
    ioloop.IOLoop.current().start()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def failures(report_dir: Path) -> tuple[int, list[str]]:
    """(number of case results read, descriptions of FAILED ones) from kosoku's JSON."""
    seen = 0
    failed = []
    for path in sorted(report_dir.rglob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError):
            continue
        if not isinstance(data, dict) or "behavior" not in data:
            continue
        seen += 1
        if data.get("behavior") == "FAILED" or data.get("behaviorClose") == "FAILED":
            failed.append("%s: %s / close %s: %s" % (
                data.get("id"), data.get("behavior"), data.get("behaviorClose"),
                data.get("result") or data.get("resultClose")))
    return seen, failed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--server", choices=["embedtornado", "tornado"], default="embedtornado")
    ap.add_argument("-i", "--include", action="append", help="case glob (repeatable)")
    ap.add_argument("-x", "--exclude", action="append", default=[])
    ap.add_argument("-p", "--parallelism", type=int, default=4)
    ap.add_argument("--budget", type=float, default=900.0, help="seconds for the whole run")
    ap.add_argument("--keep", help="copy the report directory here")
    ap.add_argument("--serve", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve:
        serve(args.server, int(args.serve))
        return 0
    if importlib.util.find_spec("kosoku") is None:
        print("kosoku is not installed (pip install kosoku)", file=sys.stderr)
        return 2
    # Its console script, run with this interpreter (found without PATH).
    kosoku = [sys.executable, "-c", "from kosoku._cli import main; main()"]
    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--server", args.server,
                               "--serve", str(port)], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        if server.stdout.readline().strip() != "ready":
            print("the server did not start", file=sys.stderr)
            return 2
        with tempfile.TemporaryDirectory() as tmp:
            cmd = kosoku + ["-m", "fuzzingclient", "-p", str(args.parallelism), "-o", tmp]
            for case in args.include or DEFAULT_CASES:
                cmd += ["-i", case]
            for case in args.exclude:
                cmd += ["-x", case]
            cmd.append("127.0.0.1:%d" % port)
            t0 = time.monotonic()
            try:
                run = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, timeout=args.budget)
            except subprocess.TimeoutExpired:
                print("kosoku did not finish within %.0f s" % args.budget, file=sys.stderr)
                return 1
            elapsed = time.monotonic() - t0
            seen, failed = failures(Path(tmp))
            if args.keep:
                shutil.copytree(tmp, args.keep, dirs_exist_ok=True)
            print("autobahn (kosoku) against %s: %d case results in %.1f s, %d FAILED"
                  % (args.server, seen, elapsed, len(failed)))
            for line in failed:
                print("  FAILED", line)
            if seen == 0:
                print(run.stdout[-4000:])
                print("no case results found in kosoku's report", file=sys.stderr)
                return 1
            return 1 if failed else 0
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    sys.exit(main())
