"""Run one fuzz target under atheris (libFuzzer), bounded or for as long as you like.

    python tests/fuzz/run.py httpparse -max_total_time=600          # ten minutes
    python tests/fuzz/run.py body -runs=200000
    EMBEDTORNADO_NO_EXTENSIONS=1 python tests/fuzz/run.py cookie -max_total_time=60

The seed corpus is ``tests/data/http`` (for ``httpparse``) plus
``tests/data/fuzz/<target>/``. New interesting inputs go to a scratch folder
(``--corpus-out``, default a temporary directory), never into the repository;
a crash is written as ``crash-<sha1>`` in the current directory (libFuzzer's
``-artifact_prefix=`` changes that). To keep a finding, copy the file into
``tests/data/fuzz/<target>/`` and fix the code: ``tests/fuzz/test_fuzz.py``
replays every file there in both implementations from then on.

Per-input slowness is a finding too: ``-timeout=`` defaults to 5 seconds here.
"""

from __future__ import annotations

import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[1].startswith("-"):
        raise SystemExit(f"usage: {argv[0]} httpparse|body|cookie [--corpus-out=DIR] [libFuzzer flags]")
    name = argv[1]
    rest = argv[2:]
    out = next((a.split("=", 1)[1] for a in rest if a.startswith("--corpus-out=")), None)
    rest = [a for a in rest if not a.startswith("--corpus-out=")]
    import atheris

    sys.path.insert(0, HERE)
    with atheris.instrument_imports(include=["embedtornado", "targets", "parsetools"]):
        import targets
    if name not in targets.TARGETS:
        raise SystemExit(f"unknown target {name!r}; choose from {sorted(targets.TARGETS)}")
    target = targets.TARGETS[name]
    out = out or tempfile.mkdtemp(prefix=f"fuzz-{name}-")
    seeds = [os.path.join(TESTS, "data", "fuzz", name)]
    if name == "httpparse":
        seeds += [os.path.join(TESTS, "data", "http", kind) for kind in ("valid", "invalid")]
    if not any(a.startswith("-timeout=") for a in rest):
        rest.append("-timeout=5")
    if not any(a.startswith("-rss_limit_mb=") for a in rest):
        rest.append("-rss_limit_mb=1024")
    fuzz_args = [argv[0], *rest, out, *[s for s in seeds if os.path.isdir(s)]]
    atheris.Setup(fuzz_args, target)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
