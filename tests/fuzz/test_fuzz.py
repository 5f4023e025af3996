"""The fuzz targets in the normal test run: saved findings replayed, and a short fuzz.

Every file under ``tests/data/fuzz/<target>/`` is an input that once broke
something (or a seed worth keeping); it must pass its target in both
implementations. When atheris is installed, each target also runs for a few
seconds (``EMBEDTORNADO_FUZZ_SECONDS``, default 6; 0 skips) in a subprocess, and
any crash or timeout fails the test with the input libFuzzer saved.
"""

from __future__ import annotations

import importlib.util
import os
import pathlib
import subprocess
import sys

import pytest

import targets

HERE = pathlib.Path(__file__).parent
DATA = HERE.parent / "data" / "fuzz"
SECONDS = int(os.environ.get("EMBEDTORNADO_FUZZ_SECONDS", "6"))

SAVED = sorted(
    (name, path) for name in targets.TARGETS for path in (DATA / name).glob("*") if path.is_file()
)


@pytest.mark.parametrize("name,path", SAVED, ids=[f"{n}/{p.name}" for n, p in SAVED])
def test_saved_inputs(name, path):
    targets.TARGETS[name](path.read_bytes())


def test_every_target_has_saved_inputs():
    for name in targets.TARGETS:
        assert any((DATA / name).glob("*")), f"tests/data/fuzz/{name}/ is empty"


def test_targets_detect_a_broken_invariant(monkeypatch):
    # The targets must be able to fail: a parser that answers differently is caught.
    from embedtornado import httputil

    monkeypatch.setattr(httputil, "parse_cookie", lambda text: {"x": 1})
    with pytest.raises(AssertionError):
        targets.cookie(b"a=b")


@pytest.mark.skipif(importlib.util.find_spec("atheris") is None, reason="atheris not installed")
@pytest.mark.skipif(SECONDS <= 0, reason="EMBEDTORNADO_FUZZ_SECONDS=0")
@pytest.mark.parametrize("name", sorted(targets.TARGETS))
def test_short_fuzz(name, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    cmd = [sys.executable, str(HERE / "run.py"), name, f"--corpus-out={corpus}",
           f"-max_total_time={SECONDS}", f"-artifact_prefix={tmp_path}/", "-print_final_stats=0"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=SECONDS + 120,
                          cwd=tmp_path)
    found = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("crash-", "timeout-",
                                                                             "oom-", "slow-")))
    tail = proc.stderr[-3000:]
    assert proc.returncode == 0 and not found, (
        f"fuzz target {name} found {found} (exit {proc.returncode}); copy the file into "
        f"tests/data/fuzz/{name}/ and fix the code.\n{tail}")
