"""Guard: the implementation that is live is the one the environment asks for."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import embedtornado
from embedtornado import _accel


def test_speedups_reports_every_compiled_module():
    live = embedtornado.speedups()
    assert set(live) == set(_accel.MODULES)
    assert set(live.values()) <= {"cython", "python"}


@pytest.mark.skipif(not _accel.REQUIRE_EXTENSIONS, reason="EMBEDTORNADO_REQUIRE_EXTENSIONS unset")
def test_required_extensions_are_all_live():
    assert embedtornado.speedups() == {name: "cython" for name in _accel.MODULES}
    for name in _accel.MODULES:
        mod = _accel.load(name)
        assert mod.__name__ == f"embedtornado._speedups.{name}"
        assert mod.__file__.endswith((".so", ".pyd")), mod.__file__


@pytest.mark.skipif(not _accel.NO_EXTENSIONS, reason="EMBEDTORNADO_NO_EXTENSIONS unset")
def test_no_extensions_selects_twins():
    assert embedtornado.speedups() == {name: "python" for name in _accel.MODULES}


def _run(code: str, **env: str) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("EMBEDTORNADO_")}
    full_env.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=full_env, timeout=60)


def test_env_switch_in_a_fresh_process():
    r = _run("import embedtornado; print(embedtornado.speedups())", EMBEDTORNADO_NO_EXTENSIONS="1")
    assert r.returncode == 0, r.stderr
    assert "cython" not in r.stdout and "'httpparse': 'python'" in r.stdout


def test_missing_extension_falls_back_and_logs_once_at_debug():
    # Hide the compiled modules with an import hook, as if they were never built.
    code = """
import logging, sys
logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s %(message)s")
class Hide:
    def find_spec(self, name, path=None, target=None):
        if name.startswith("embedtornado._speedups."):
            raise ImportError("hidden for the test")
sys.meta_path.insert(0, Hide())
import embedtornado
print(embedtornado.speedups())
"""
    r = _run(code)
    assert r.returncode == 0, r.stderr
    assert "'httpparse': 'python'" in r.stdout
    assert r.stderr.count("compiled modules unavailable") == 1
    assert "DEBUG embedtornado.general" in r.stderr


def test_missing_extension_is_fatal_when_required():
    code = """
import sys
class Hide:
    def find_spec(self, name, path=None, target=None):
        if name.startswith("embedtornado._speedups."):
            raise ImportError("hidden for the test")
sys.meta_path.insert(0, Hide())
import embedtornado
embedtornado.speedups()
"""
    r = _run(code, EMBEDTORNADO_REQUIRE_EXTENSIONS="1")
    assert r.returncode != 0
    assert "EMBEDTORNADO_REQUIRE_EXTENSIONS is set" in r.stderr


def test_unknown_module_name_rejected():
    with pytest.raises(ValueError):
        _accel.load("nope")


def test_console_script_version():
    r = subprocess.run([sys.executable, "-m", "embedtornado", "--version"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0
    assert r.stdout.startswith("embedtornado %s " % embedtornado.version)
    r = subprocess.run([sys.executable, "-m", "embedtornado", "--help"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and "usage: embedtornado" in r.stdout


def test_import_does_not_touch_the_event_loop():
    # As Tornado's import_test: importing every module creates no event loop.
    code = """
import asyncio, importlib, warnings
warnings.simplefilter("error")
for m in ["httpserver", "httputil", "http1connection", "ioloop", "options", "log", "escape",
          "netutil", "process", "tcpserver", "util", "concurrent", "iostream", "loop"]:
    importlib.import_module("embedtornado." + m)
policy = asyncio.get_event_loop_policy()
assert getattr(policy._local, "_loop", None) is None, "an event loop was created at import"
print("ok")
"""
    r = _run(code)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
