"""systemd/ units: `systemd-analyze verify` prints nothing and the services'
offline exposure score is at most 1.5.

The units name /usr/bin/embedtornado and /bin/kill, so they are verified inside
a scratch root (``--root``) holding stand-ins for those, the units, and the
host's targets and slices, as on an installed system.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "systemd"
ANALYZE = shutil.which("systemd-analyze")

pytestmark = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")

#: The issue's target (``--threshold`` is in tenths).
MAX_EXPOSURE = 1.5


def _version() -> int:
    out = subprocess.run([ANALYZE, "--version"], capture_output=True, text=True).stdout
    m = re.search(r"systemd (\d+)", out)
    return int(m.group(1)) if m else 0


def _scratch_root(tmp_path: Path, units: Path = UNITS) -> Path:
    root = tmp_path / "root"
    unit_dir = root / "lib/systemd/system"
    unit_dir.mkdir(parents=True)
    for pattern in ("*.target", "*.slice"):
        for f in glob.glob(f"/lib/systemd/system/{pattern}"):
            shutil.copy(f, unit_dir)
    for f in units.iterdir():
        shutil.copy(f, unit_dir)
    for exe in ("usr/bin/embedtornado", "bin/kill"):
        path = root / exe
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)
    return root


def _verify(root: Path, *names: str) -> subprocess.CompletedProcess:
    return subprocess.run([ANALYZE, "verify", f"--root={root}", *names], capture_output=True,
                          text=True, timeout=60)


def test_units_verify_without_any_output(tmp_path):
    root = _scratch_root(tmp_path)
    for names in (("embedtornado.service", "embedtornado.socket"),
                  ("embedtornado@8081.service",)):
        r = _verify(root, *names)
        # verify exits 0 on unknown keys; any output at all is a failure
        assert (r.returncode, r.stdout, r.stderr) == (0, "", ""), names


def test_verify_check_catches_a_bad_key(tmp_path):
    units = tmp_path / "units"
    shutil.copytree(UNITS, units)
    service = units / "embedtornado.service"
    service.write_text(service.read_text().replace("WatchdogSec=", "WatchdogSecs="))
    r = _verify(_scratch_root(tmp_path, units), "embedtornado.service")
    assert "Unknown key" in r.stderr


@pytest.mark.skipif(_version() < 252 if ANALYZE else True,
                    reason="the exposure target is defined on systemd 252+")
@pytest.mark.parametrize("unit", ["embedtornado.service", "embedtornado@8081.service"])
def test_exposure_score(tmp_path, unit):
    root = _scratch_root(tmp_path)
    r = subprocess.run([ANALYZE, "security", "--offline=yes", f"--root={root}",
                        f"--threshold={int(MAX_EXPOSURE * 10)}", "--no-pager", unit],
                       capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, SYSTEMD_COLORS="0"))
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d)", r.stdout)
    assert m, r.stdout + r.stderr
    assert float(m.group(1)) <= MAX_EXPOSURE
    assert r.returncode == 0, r.stdout[-500:]
