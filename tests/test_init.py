"""The package itself: ``__all__`` and the lazy submodule attributes (PEP 562)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap

import pytest

import embedtornado

#: Tornado 6.6.1 names that are not (yet) modules here, so not in ``__all__``.
ABSENT = {"curl_httpclient"}
#: Modules we list although Tornado's ``__all__`` does not.
EXTRA = {"websocket", "wsgi"}


def run_child(code: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-W", "error", "-c", textwrap.dedent(code)],
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "", proc.stderr
    return proc.stdout


def test_all_lists_tornado_names_we_have():
    tornado = pytest.importorskip("tornado")
    ours = set(embedtornado.__all__)
    assert len(ours) == len(embedtornado.__all__), "duplicates in __all__"
    assert ours - set(tornado.__all__) <= EXTRA
    for name in set(tornado.__all__) - ours:
        assert name in ABSENT, f"{name} is missing from embedtornado.__all__"
        exists = importlib.util.find_spec("embedtornado." + name) is not None
        assert not exists, f"embedtornado.{name} exists now: add it to __all__"


def test_every_name_is_reachable_lazily_in_a_fresh_process():
    out = run_child(
        """
        import json, sys
        import embedtornado

        eager = sorted(
            m for m in sys.modules
            if m.startswith("embedtornado.") and m != "embedtornado._version"
        )
        found = {}
        for name in embedtornado.__all__:
            mod = getattr(embedtornado, name)
            found[name] = [mod.__name__, sys.modules["embedtornado." + name] is mod]
        print(json.dumps({"eager": eager, "found": found}))
        """
    )
    result = json.loads(out)
    assert result["eager"] == []
    assert result["found"] == {
        name: ["embedtornado." + name, True] for name in embedtornado.__all__
    }


def test_star_import_binds_every_submodule():
    out = run_child(
        """
        import json
        from embedtornado import *
        import embedtornado
        print(json.dumps([
            n for n in embedtornado.__all__
            if globals()[n] is not getattr(embedtornado, n)
        ]))
        """
    )
    assert json.loads(out) == []


def test_every_name_imports_by_statement():
    for name in embedtornado.__all__:
        mod = importlib.import_module("embedtornado." + name)
        assert getattr(embedtornado, name) is mod


def test_our_own_loop_module_is_lazy_too():
    assert embedtornado.loop is sys.modules["embedtornado.loop"]
    assert "loop" not in embedtornado.__all__


def test_unknown_attribute_raises_attribute_error():
    with pytest.raises(AttributeError, match="no_such_module"):
        embedtornado.no_such_module  # noqa: B018
    assert not hasattr(embedtornado, "Application")
    assert getattr(embedtornado, "no_such_module", None) is None
