"""``embedtornado`` console script and ``python -m embedtornado``.

The appliance daemon is built by a later issue; for now this prints the
version and which compiled modules are live.
"""

from __future__ import annotations

import argparse
import sys

import embedtornado


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="embedtornado",
        description="embedtornado: a Tornado-compatible HTTP server for appliances.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    args = parser.parse_args(argv)
    if args.version:
        live = ", ".join(f"{k}={v}" for k, v in embedtornado.speedups().items())
        print(f"embedtornado {embedtornado.version} (Tornado API {embedtornado.tornado_version};"
              f" {live})")
        return 0
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
