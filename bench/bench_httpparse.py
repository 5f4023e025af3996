"""Per-parse micro-benchmark of the request parser: one ~400-byte browser GET head.

    python bench/bench_httpparse.py                 # defaults: 9 repeats of ~0.2 s each
    python bench/bench_httpparse.py --repeats 15 --cpu 1

What one "parse" is, for each row (the same 417-byte head with 10 fields,
as Chrome sends for a script on a device's web UI):

* embedtornado, compiled (``embedtornado._speedups.httpparse``) and its twin
  (``embedtornado._pure.httpparse``): ``feed(head)`` then ``next_event()`` until
  HEAD, which builds ``method``, ``target``, ``version``, the ``headers`` dict
  of normalised name -> [str] and the Host/Content-Length/Transfer-Encoding/
  Connection/Expect checks. *Reused*: one parser for the whole run, so each
  parse also pays the ``next_event()`` that returns END and readies the parser
  for the next request (a keep-alive connection). *Fresh*: a new
  ``RequestParser()`` per parse (a new connection).
* Tornado 6.6.1, as its server reads a request: ``HTTP1Connection._parse_headers``
  (decode latin-1, split off the start line, ``HTTPHeaders.parse``) and
  ``httputil.parse_request_start_line`` on the head bytes. Tornado keeps no
  parser state, so it has one row.
* httptools (llhttp): ``HttpRequestParser(protocol).feed_data(head)`` with a
  protocol that starts a new header list in ``on_message_begin`` and collects
  ``on_url`` and ``on_header`` (bytes, neither decoded nor normalised), as
  uvicorn does. *Reused*: one parser for the run (llhttp resets itself after
  each message); *fresh*: a new protocol object and parser per parse.

Each figure is the median over ``--repeats`` timeit repeats of ns per parse
(each repeat runs the parse statement ``number`` times, auto-ranged to about
0.2 s, compiled into timeit's loop so no wrapper call is counted; one checked
parse per row runs first); the spread column is min-max of the repeats. Ratios are ours/peer (below 1: ours
is faster), computed within this run, compiled parser in the same mode
(reused vs reused, fresh vs fresh; Tornado against both). The machine is
shared, so read the ratios, not the absolute figures, and run it twice.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import os
import platform
import statistics
import sys
import timeit
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

HEAD = (
    b"GET /static/js/app.min.js?v=20240511 HTTP/1.1\r\n"
    b"Host: device.local:8080\r\n"
    b"Connection: keep-alive\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    b"Chrome/124.0.0.0 Safari/537.36\r\n"
    b"Accept: */*\r\n"
    b"Sec-Fetch-Site: same-origin\r\n"
    b"Sec-Fetch-Mode: no-cors\r\n"
    b"Sec-Fetch-Dest: script\r\n"
    b"Referer: http://device.local:8080/settings\r\n"
    b"Accept-Encoding: gzip, deflate, br\r\n"
    b"Accept-Language: en-US,en;q=0.9\r\n"
    b"\r\n"
)
N_FIELDS = 10


# --- one parse, per contender ------------------------------------------------------------
#
# Each contender is (statement, namespace, check): timeit compiles the statement into its
# timing loop, so no wrapper function call is measured; check() runs one parse with
# assertions before anything is timed.


def ours_reused(mod: Any) -> tuple[str, dict, Callable[[], int]]:
    p = mod.RequestParser()
    ns = {"feed": p.feed, "next_event": p.next_event, "H": HEAD}

    def check() -> int:
        p.feed(HEAD)
        assert p.next_event() == mod.HEAD and p.method == "GET"
        assert p.next_event() == mod.END
        return len(p.headers)

    return "feed(H); next_event(); next_event()", ns, check


def ours_fresh(mod: Any) -> tuple[str, dict, Callable[[], int]]:
    ns = {"RequestParser": mod.RequestParser, "H": HEAD}

    def check() -> int:
        p = mod.RequestParser()
        p.feed(HEAD)
        assert p.next_event() == mod.HEAD and p.method == "GET"
        return len(p.headers)

    return "p = RequestParser(); p.feed(H); p.next_event()", ns, check


def tornado_parse() -> tuple[str, dict, Callable[[], int]]:
    from tornado.http1connection import HTTP1Connection
    from tornado.httputil import parse_request_start_line

    # HTTP1Connection._read_message_inner: start_line_str, headers = self._parse_headers(data),
    # then parse_request_start_line(start_line_str). _parse_headers does not use self.
    ns = {"parse_headers": HTTP1Connection._parse_headers,
          "parse_request_start_line": parse_request_start_line, "H": HEAD}

    def check() -> int:
        start_line, headers = HTTP1Connection._parse_headers(None, HEAD)  # type: ignore[arg-type]
        assert parse_request_start_line(start_line).method == "GET"
        return len(list(headers.get_all()))

    return ("start_line, headers = parse_headers(None, H); "
            "parse_request_start_line(start_line)"), ns, check


class _Collect:
    """httptools protocol: the URL and the raw header pairs of the current message."""

    __slots__ = ("headers", "url")

    def __init__(self) -> None:
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []

    def on_message_begin(self) -> None:
        self.headers = []

    def on_url(self, url: bytes) -> None:
        self.url = url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))


def httptools_reused() -> tuple[str, dict, Callable[[], int]]:
    import httptools

    proto = _Collect()
    parser = httptools.HttpRequestParser(proto)
    ns = {"feed_data": parser.feed_data, "H": HEAD}

    def check() -> int:
        parser.feed_data(HEAD)
        assert proto.url == b"/static/js/app.min.js?v=20240511"
        return len(proto.headers)

    return "feed_data(H)", ns, check


def httptools_fresh() -> tuple[str, dict, Callable[[], int]]:
    import httptools

    ns = {"HttpRequestParser": httptools.HttpRequestParser, "Collect": _Collect, "H": HEAD}

    def check() -> int:
        proto = _Collect()
        httptools.HttpRequestParser(proto).feed_data(HEAD)
        assert proto.url == b"/static/js/app.min.js?v=20240511"
        return len(proto.headers)

    return "HttpRequestParser(Collect()).feed_data(H)", ns, check


# --- measuring --------------------------------------------------------------------------


def measure(stmt: str, ns: dict, repeats: int) -> tuple[float, float, float]:
    """(median, min, max) ns per run of *stmt* over *repeats* timeit repeats of ~0.2 s."""
    timer = timeit.Timer(stmt, globals=ns)
    number, _ = timer.autorange()  # at least 0.2 s
    times = [t / number * 1e9 for t in timer.repeat(repeat=repeats, number=number)]
    return statistics.median(times), min(times), max(times)


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=9, help="timeit repeats per row (9)")
    ap.add_argument("--cpu", type=int, default=None, help="pin this process to one CPU")
    args = ap.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})

    from embedtornado._pure import httpparse as twin

    try:
        compiled: Any = importlib.import_module("embedtornado._speedups.httpparse")
    except ImportError as exc:
        compiled = None
        print(f"compiled parser unavailable: {exc}")

    print(f"bench_httpparse: {len(HEAD)}-byte GET head, {N_FIELDS} fields")
    print(f"python {platform.python_version()} on {platform.machine()}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; "
          f"tornado {_version('tornado')}, httptools {_version('httptools')}")

    rows: list[tuple[str, str, tuple[str, dict, Callable[[], int]]]] = []
    if compiled is not None:
        rows += [("embedtornado compiled, reused parser", "reused", ours_reused(compiled)),
                 ("embedtornado compiled, fresh parser", "fresh", ours_fresh(compiled))]
    rows += [("embedtornado twin, reused parser", "reused", ours_reused(twin)),
             ("embedtornado twin, fresh parser", "fresh", ours_fresh(twin)),
             ("tornado 6.6.1 _parse_headers + start line", "both", tornado_parse())]
    try:
        rows += [("httptools, reused parser", "reused", httptools_reused()),
                 ("httptools, fresh parser", "fresh", httptools_fresh())]
    except ImportError as exc:
        print(f"httptools unavailable: {exc}")

    # Sanity: every contender sees the request line and the same ten fields.
    for name, _, (_, _, check) in rows:
        count = check()
        if count != N_FIELDS:
            raise SystemExit(f"{name}: parsed {count} fields, expected {N_FIELDS}")

    results = {}
    for name, mode, (stmt, ns, _) in rows:
        results[name] = (mode, *measure(stmt, ns, args.repeats))

    ours = {"reused": results.get("embedtornado compiled, reused parser"),
            "fresh": results.get("embedtornado compiled, fresh parser")}
    print()
    print(f"{'parser':44} {'ns/parse':>9} {'spread':>13}  {'ours/peer':>16}")
    for name, (mode, med, lo, hi) in results.items():
        ratios = []
        for m in (("reused", "fresh") if mode == "both" else (mode,)):
            mine = ours[m]
            if mine is not None:
                ratios.append(f"{mine[1] / med:.2f}" + (f" ({m[0]})" if mode == "both" else ""))
        print(f"{name:44} {med:9.0f} {lo:6.0f}-{hi:<6.0f}  {', '.join(ratios):>16}")
    print()
    print("ours/peer: the compiled parser's median over the row's, same mode "
          "((r) reused, (f) fresh); < 1 means ours is faster.")


if __name__ == "__main__":
    main()
