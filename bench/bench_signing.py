"""Signed values and XSRF checks: embedtornado beside Tornado 6.6.1, in one process.

    python bench/bench_signing.py               # 9 repeats of ~0.2 s per row
    python bench/bench_signing.py --repeats 15

Rows (µs per operation, median of ``--repeats`` timeit repeats):

* *create v2*: ``create_signed_value(secret, "user", "alice")``.
* *decode v2*: ``decode_signed_value`` of a valid version-2 value.
* *decode forged*: the same with the last signature character changed.
* *decode v1*: a valid version-1 value.
* *xsrf check*: ``check_xsrf_cookie()`` on a handler whose request carries a
  masked token and its cookie (handler made once; the per-request cache of
  the raw token is cleared before each call).

Before timing, each framework must decode the other's values. Ratios are
ours/Tornado's within this run (below 1: faster). The machine may be
shared: read the ratios, not the absolute figures.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import timeit
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "web"))

import tornado.web
from sectools import make

import embedtornado.web

SECRET = "bench-secret-0123456789abcdef"


def per_op(fn: Callable[[], Any], repeats: int) -> float:
    timer = timeit.Timer(fn)
    number, _ = timer.autorange()
    number = max(1, number)
    return statistics.median(t / number for t in timer.repeat(repeats, number)) * 1e6


def xsrf_case(web: Any) -> Callable[[], None]:
    maker = make(web)
    token = maker.xsrf_token.decode()
    h = make(web, method="POST", headers={"Cookie": "_xsrf=" + token, "X-XSRFToken": token})

    def check() -> None:
        h.__dict__.pop("_raw_xsrf_token", None)
        h.check_xsrf_cookie()

    return check


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    ours, theirs = embedtornado.web, tornado.web
    v2 = theirs.create_signed_value(SECRET, "user", "alice")
    v1 = theirs.create_signed_value(SECRET, "user", "alice", version=1)
    forged = v2[:-1] + (b"0" if v2[-1:] != b"0" else b"1")
    assert ours.decode_signed_value(SECRET, "user", v2) == b"alice"
    assert theirs.decode_signed_value(SECRET, "user",
                                      ours.create_signed_value(SECRET, "user", "alice")) == b"alice"
    rows = [
        ("create v2", lambda w: lambda: w.create_signed_value(SECRET, "user", "alice")),
        ("decode v2", lambda w: lambda: w.decode_signed_value(SECRET, "user", v2)),
        ("decode forged", lambda w: lambda: w.decode_signed_value(SECRET, "user", forged)),
        ("decode v1", lambda w: lambda: w.decode_signed_value(SECRET, "user", v1)),
        ("xsrf check", xsrf_case),
    ]
    print(f"Python {platform.python_version()}, tornado {tornado.version}; "
          f"median of {args.repeats} repeats, µs/op (machine may be shared)")
    print(f"{'row':<16}{'embedtornado':>14}{'tornado':>10}{'ratio':>8}")
    for name, build in rows:
        a = per_op(build(ours), args.repeats)
        b = per_op(build(theirs), args.repeats)
        print(f"{name:<16}{a:>14.2f}{b:>10.2f}{a / b:>8.2f}")


if __name__ == "__main__":
    main()
