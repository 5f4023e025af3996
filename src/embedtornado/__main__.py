"""``embedtornado`` console script and ``python -m embedtornado``: the appliance daemon.

See `embedtornado.daemon.cli` and ``docs/daemon.md``.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Run the daemon (`embedtornado.daemon.cli.main`)."""
    from embedtornado.daemon.cli import main as daemon_main

    return daemon_main(argv)


if __name__ == "__main__":
    sys.exit(main())
