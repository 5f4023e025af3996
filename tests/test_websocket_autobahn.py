"""The Autobahn|Testsuite fuzzingclient cases against our WebSocket server (via ``kosoku``).

By default this runs case groups 1-7 (framing, pings, reserved bits, opcodes,
fragmentation, UTF-8, closing: about 250 cases in a few seconds) in a
subprocess with a time budget. With ``EMBEDTORNADO_AUTOBAHN=full`` it also runs
9.* (up to 16 MiB messages) and 12.*/13.* (permessage-deflate), which take
minutes; CI can run the same with ``python tests/autobahn/run.py``. A case
passes when its behaviour is OK, NON-STRICT or INFORMATIONAL, as in Autobahn's
reports; any FAILED case fails the test.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

RUNNER = Path(__file__).parent / "autobahn" / "run.py"

pytestmark = pytest.mark.skipif(importlib.util.find_spec("kosoku") is None,
                                reason="kosoku (Autobahn cases) is not installed")


def run_cases(cases: list[str], budget: float) -> str:
    cmd = [sys.executable, str(RUNNER), "--budget", str(budget), "-p", "4"]
    for case in cases:
        cmd += ["-i", case]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=budget + 60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_autobahn_core_cases():
    out = run_cases(["1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*"], budget=300)
    assert " 0 FAILED" in out
    assert int(out.split("embedtornado: ")[1].split()[0]) > 200  # the cases really ran


@pytest.mark.skipif(os.environ.get("EMBEDTORNADO_AUTOBAHN") != "full",
                    reason="set EMBEDTORNADO_AUTOBAHN=full for 9.*, 12.* and 13.* (minutes)")
def test_autobahn_large_and_compressed_cases():
    out = run_cases(["9.*", "12.*", "13.*"], budget=1500)
    assert " 0 FAILED" in out
