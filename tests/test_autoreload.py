"""embedtornado.autoreload: real restarts of a child server process, and the pieces in-process."""

from __future__ import annotations

import http.client
import logging
import os
import queue
import re
import subprocess
import sys
import textwrap
import threading
import time
import types
import weakref

import pytest

from embedtornado import autoreload
from embedtornado.ioloop import IOLoop

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="restarts use os.execv")

TIMEOUT = 30.0  # generous bound for a restart; the child checks every 500 ms

SERVER = '''\
import os
import socket
import sys

import embedtornado.ioloop
import embedtornado.web
from embedtornado import autoreload, netutil
from embedtornado.httpserver import HTTPServer

import appmod


class Value(embedtornado.web.RequestHandler):
    def get(self):
        self.write(str(appmod.VALUE))


def main():
    app = embedtornado.web.Application([(r"/", Value)], autoreload=True)
    watched = os.environ.get("WATCH_FILE")
    if watched:
        autoreload.watch(watched)
        autoreload.add_reload_hook(lambda: print("HOOK", flush=True))
    socks = netutil.bind_sockets(0, "127.0.0.1", family=socket.AF_INET)
    server = HTTPServer(app)
    server.add_sockets(socks)
    spec = getattr(sys.modules["__main__"], "__spec__", None)
    print("READY", os.getpid(), socks[0].getsockname()[1], spec.name if spec else "-",
          " ".join(sys.argv[1:]), flush=True)
    embedtornado.ioloop.IOLoop.current().start()


if __name__ == "__main__":
    main()
'''


def write(path, text):
    """Replace a file's text and move its mtime forward (so the change is always seen)."""
    old = os.stat(path).st_mtime if os.path.exists(path) else time.time()
    with open(path, "w") as f:
        f.write(text)
    new = max(old, time.time()) + 2
    os.utime(path, (new, new))


class Child:
    """A subprocess whose output lines are collected by threads, for bounded waits."""

    def __init__(self, args, cwd, env=None):
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen(args, cwd=cwd, env=full_env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.out: queue.Queue[str] = queue.Queue()
        self.err_lines: list[str] = []
        self._err_cond = threading.Condition()
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.out.put),
                         daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, self._add_err),
                         daemon=True).start()

    @staticmethod
    def _pump(stream, put):
        for line in stream:
            put(line)

    def _add_err(self, line):
        with self._err_cond:
            self.err_lines.append(line)
            self._err_cond.notify_all()

    @property
    def stderr(self):
        with self._err_cond:
            return "".join(self.err_lines)

    def wait_stdout(self, pattern, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no line matching {pattern!r}; stderr:\n{self.stderr}")
            try:
                line = self.out.get(timeout=remaining)
            except queue.Empty:
                continue
            m = re.match(pattern, line)
            if m:
                return m

    def no_stdout(self, pattern, seconds):
        """Assert that no line matching *pattern* shows up for *seconds*."""
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self.out.get(timeout=remaining)
            except queue.Empty:
                return
            assert not re.match(pattern, line), f"unexpected {line!r}; stderr:\n{self.stderr}"

    def wait_stderr(self, text, timeout=TIMEOUT, start=0):
        deadline = time.monotonic() + timeout
        with self._err_cond:
            while text not in "".join(self.err_lines[start:]):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{text!r} not on stderr:\n{''.join(self.err_lines)}")
                self._err_cond.wait(remaining)
            return len(self.err_lines)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        for stream in (self.proc.stdout, self.proc.stderr):
            stream.close()


def ready(child):
    m = child.wait_stdout(r"READY (\d+) (\d+) (\S+) ?(.*)$")
    return int(m.group(1)), int(m.group(2)), m.group(3), m.group(4)


def fetch(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/")
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


@pytest.fixture
def app_dir(tmp_path):
    (tmp_path / "server.py").write_text(SERVER)
    (tmp_path / "appmod.py").write_text("VALUE = 1\n")
    return tmp_path


@pytest.fixture
def spawn():
    children = []

    def start(args, cwd, env=None):
        child = Child(args, cwd, env)
        children.append(child)
        return child

    yield start
    for child in children:
        child.close()


def test_restarts_on_change_and_keeps_serving_through_errors(app_dir, spawn):
    child = spawn([sys.executable, "server.py", "--flag"], app_dir)
    pid, port, spec, argv = ready(child)
    assert (spec, argv) == ("-", "--flag")
    assert fetch(port) == (200, "1")

    # A good change: the process re-executes itself (same pid) with new code.
    write(app_dir / "appmod.py", "VALUE = 2\n")
    pid2, port, spec, argv = ready(child)
    assert (pid2, spec, argv) == (pid, "-", "--flag")
    assert fetch(port) == (200, "2")

    # A syntax error: printed, and the old code keeps serving.
    write(app_dir / "appmod.py", "VALUE = (\n")
    mark = child.wait_stderr("SyntaxError")
    child.wait_stderr("has errors; not restarting, still running the previous code")
    assert "appmod.py" in child.stderr
    child.no_stdout(r"READY", 1.5)
    assert fetch(port) == (200, "2")

    # An error only importing shows: checked in a fresh interpreter, same outcome.
    write(app_dir / "appmod.py", "VALUE = undefined_name\n")
    child.wait_stderr("NameError: name 'undefined_name' is not defined", start=mark)
    child.no_stdout(r"READY", 1.5)
    assert fetch(port) == (200, "2")
    assert child.proc.poll() is None

    # Fixing it restarts with the fixed code.
    write(app_dir / "appmod.py", "VALUE = 3\n")
    pid3, port, _, _ = ready(child)
    assert pid3 == pid
    assert fetch(port) == (200, "3")


def test_main_script_syntax_error_keeps_serving(app_dir, spawn):
    child = spawn([sys.executable, "server.py"], app_dir)
    _, port, _, _ = ready(child)
    write(app_dir / "server.py", SERVER + "\ndef broken(:\n")
    child.wait_stderr("SyntaxError")
    assert "server.py" in child.stderr
    child.no_stdout(r"READY", 1.5)
    assert fetch(port) == (200, "1")
    # Another file changing meanwhile does not restart into the broken script.
    write(app_dir / "appmod.py", "VALUE = 5\n")
    child.wait_stderr("SyntaxError", start=len(child.err_lines))
    child.no_stdout(r"READY", 1.0)
    write(app_dir / "server.py", SERVER)
    _, port, _, _ = ready(child)
    assert fetch(port) == (200, "5")


def test_restart_keeps_python_dash_m(app_dir, spawn):
    child = spawn([sys.executable, "-m", "server", "a b", "c"], app_dir)
    pid, port, spec, argv = ready(child)
    assert (spec, argv) == ("server", "a b c")
    write(app_dir / "appmod.py", "VALUE = 7\n")
    pid2, port, spec, argv = ready(child)
    assert (pid2, spec, argv) == (pid, "server", "a b c")
    assert fetch(port) == (200, "7")


def test_watched_file_and_reload_hook(app_dir, spawn):
    watched = app_dir / "settings.conf"
    watched.write_text("a=1\n")
    child = spawn([sys.executable, "server.py"], app_dir, env={"WATCH_FILE": str(watched)})
    pid, _, _, _ = ready(child)
    write(watched, "a=2\n")  # not Python: no compile check
    child.wait_stdout(r"HOOK$")
    pid2, port, _, _ = ready(child)
    assert pid2 == pid
    assert fetch(port) == (200, "1")


def test_wrapper_waits_through_startup_errors(tmp_path, spawn):
    script = tmp_path / "job.py"
    script.write_text("import helper\nprint('RAN', helper.X, flush=True)\n")
    helper = tmp_path / "helper.py"
    helper.write_text("X = (\n")
    child = spawn([sys.executable, "-m", "embedtornado.autoreload", "--until-success",
                   str(script), "arg1"], tmp_path)
    # The script's import fails: the wrapper prints it and waits for a change.
    child.wait_stderr("SyntaxError")
    assert child.proc.poll() is None
    # The wrapper notes the files' times when it starts waiting, just after
    # printing the error; a change before that would go unseen (as in Tornado).
    time.sleep(1.0)
    write(helper, "X = 42\n")
    child.wait_stdout(r"RAN 42$")
    assert child.proc.wait(TIMEOUT) == 0


def test_wrapper_module_mode_and_argv(tmp_path, spawn):
    (tmp_path / "jobmod.py").write_text(
        "import sys\nprint('ARGV', sys.argv[1:], __name__, flush=True)\n")
    child = spawn([sys.executable, "-m", "embedtornado.autoreload", "--until-success", "-m",
                   "jobmod", "x", "-y"], tmp_path)
    m = child.wait_stdout(r"ARGV (.*)$")
    assert m.group(1) == "['x', '-y'] __main__"
    assert child.proc.wait(TIMEOUT) == 0


def test_wrapper_usage_errors(tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "embedtornado.autoreload", *args],
                              cwd=tmp_path, capture_output=True, text=True, timeout=60)

    r = run()
    assert r.returncode == 1 and "Either -m or a path must be specified" in r.stderr
    r = run("--bogus")
    assert r.returncode == 2 and "no such option: --bogus" in r.stderr
    r = run("-m")
    assert r.returncode == 2
    r = run("--help")
    assert r.returncode == 0 and "python -m embedtornado.autoreload" in r.stdout


# --- in-process pieces -----------------------------------------------------------------


@pytest.mark.parametrize("args,expected", [
    (["script.py", "-m", "x"], (None, False, ["script.py", "-m", "x"])),
    (["-m", "pkg.mod", "--until-success"], ("pkg.mod", False, ["--until-success"])),
    (["--until-success", "-m", "pkg"], ("pkg", True, [])),
    (["-mpkg", "a"], ("pkg", False, ["a"])),
    (["--until-success", "s.py", "a"], (None, True, ["s.py", "a"])),
    (["--", "-weird.py"], (None, False, ["-weird.py"])),
    ([], (None, False, [])),
])
def test_parse_args(args, expected):
    assert autoreload._parse_args(args) == expected


def test_check_file(tmp_path):
    path = tmp_path / "f.py"
    path.write_text("x = 1\n")
    times: dict[str, float] = {}
    assert autoreload._check_file(times, str(path)) is False  # first sight
    assert autoreload._check_file(times, str(path)) is False
    write(path, "x = 2\n")
    assert autoreload._check_file(times, str(path)) is True
    assert autoreload._check_file(times, str(path)) is False  # the new time is remembered
    assert autoreload._check_file(times, str(tmp_path / "missing.py")) is False


def test_compile_error(tmp_path):
    good = tmp_path / "good.py"
    good.write_text("x = '\\d'\n")  # an invalid escape warns, but compiles
    bad = tmp_path / "bad.py"
    bad.write_text("def f(:\n")
    nul = tmp_path / "nul.py"
    nul.write_bytes(b"x = 1\x00\n")
    other = tmp_path / "data.txt"
    other.write_text("def f(:\n")
    assert autoreload._compile_error(str(good)) is None
    error = autoreload._compile_error(str(bad))
    assert error is not None and "SyntaxError" in error and "bad.py" in error
    assert autoreload._compile_error(str(nul)) is not None
    assert autoreload._compile_error(str(other)) is None
    assert autoreload._compile_error(str(tmp_path / "missing.py")) is None


def test_modules_for(tmp_path, monkeypatch):
    (tmp_path / "ar_probe_mod.py").write_text("Y = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import ar_probe_mod  # noqa: F401

    try:
        path = str(tmp_path / "ar_probe_mod.py")
        assert autoreload._modules_for([path, "/nowhere.py"]) == ["ar_probe_mod"]
        main = sys.modules["__main__"]
        main_path = autoreload._source_path(main)
        if main_path:
            assert autoreload._modules_for([main_path]) == []
    finally:
        sys.modules.pop("ar_probe_mod", None)


@pytest.fixture
def fake_exec(monkeypatch):
    calls = []

    class Execd(Exception):
        pass

    def execv(path, args):
        calls.append((path, args))
        raise Execd()

    monkeypatch.setattr(autoreload.os, "execv", execv)
    monkeypatch.setattr(autoreload.signal, "setitimer", lambda *a: None)
    monkeypatch.setattr(autoreload, "_reload_attempted", False)
    monkeypatch.setattr(autoreload, "_reload_hooks", [])
    return calls, Execd


def test_reload_rebuilds_command_line(fake_exec, monkeypatch):
    calls, Execd = fake_exec
    hooks = []
    autoreload.add_reload_hook(lambda: hooks.append(1))
    fake_main = types.ModuleType("__main__")
    monkeypatch.setitem(sys.modules, "__main__", fake_main)
    monkeypatch.setattr(sys, "argv", ["/path/app.py", "--x"])

    fake_main.__spec__ = None
    with pytest.raises(Execd):
        autoreload._reload()
    assert calls[-1] == (sys.executable, [sys.executable, "/path/app.py", "--x"])
    assert hooks == [1] and autoreload._reload_attempted

    fake_main.__spec__ = types.SimpleNamespace(name="pkg.app")
    with pytest.raises(Execd):
        autoreload._reload()
    assert calls[-1][1] == [sys.executable, "-m", "pkg.app", "--x"]

    fake_main.__spec__ = types.SimpleNamespace(name="__main__")  # a directory or zip
    with pytest.raises(Execd):
        autoreload._reload()
    assert calls[-1][1] == [sys.executable, "/path/app.py", "--x"]

    monkeypatch.setattr(autoreload, "_autoreload_is_main", True)
    monkeypatch.setattr(autoreload, "_original_argv", ["/lib/autoreload.py", "s.py"])
    monkeypatch.setattr(autoreload, "_original_spec",
                        types.SimpleNamespace(name="embedtornado.autoreload"))
    with pytest.raises(Execd):
        autoreload._reload()
    assert calls[-1][1] == [sys.executable, "-m", "embedtornado.autoreload", "s.py"]


def test_reload_on_update_paths(fake_exec, tmp_path, monkeypatch, capsys):
    calls, Execd = fake_exec
    monkeypatch.setattr(autoreload, "_watched_files", set())
    state = autoreload._WatchState()
    watched = tmp_path / "w.py"
    watched.write_text("ok = 1\n")
    autoreload.watch(str(watched))
    autoreload._reload_on_update(state)  # records every file's time
    assert str(watched) in state.modify_times and calls == []

    write(watched, "broken = (\n")
    autoreload._reload_on_update(state)
    assert calls == [] and state.broken == {str(watched)}
    assert "SyntaxError" in capsys.readouterr().err

    monkeypatch.setattr(autoreload.process, "task_id", lambda: 0)
    write(watched, "fixed = 1\n")
    autoreload._reload_on_update(state)  # a forked child never restarts
    assert calls == []
    monkeypatch.setattr(autoreload.process, "task_id", lambda: None)
    monkeypatch.setattr(autoreload, "_reload_attempted", True)
    autoreload._reload_on_update(state)  # a restart was already tried
    assert calls == []
    monkeypatch.setattr(autoreload, "_reload_attempted", False)
    state.modify_times.pop(str(watched))
    autoreload._reload_on_update(state)  # first sight again: nothing
    write(watched, "fixed = 2\n")
    with pytest.raises(Execd):
        autoreload._reload_on_update(state)
    assert len(calls) == 1


def test_import_check_in_subprocess(fake_exec, tmp_path, monkeypatch, capsys):
    calls, Execd = fake_exec
    (tmp_path / "ar_check_mod.py").write_text("Z = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import ar_check_mod  # noqa: F401

    path = str(tmp_path / "ar_check_mod.py")
    loop = IOLoop(make_current=False)
    try:
        async def poll_until_done(state):
            for _ in range(300):
                if state.check is None:
                    return
                autoreload._poll_import_check(state, state.check)
                await __import__("asyncio").sleep(0.05)
            raise AssertionError("import check did not finish")

        state = autoreload._WatchState()
        write(path, "Z = missing_name\n")

        async def failing():
            autoreload._check_and_reload(state, [path])
            assert state.check is not None and state.check.modules == ["ar_check_mod"]
            await poll_until_done(state)

        loop.asyncio_loop.run_until_complete(failing())
        assert calls == [] and state.broken == {path}
        assert "NameError: name 'missing_name' is not defined" in capsys.readouterr().err

        write(path, "Z = 2\n")

        async def passing():
            autoreload._check_and_reload(state, [path])
            await poll_until_done(state)

        with pytest.raises(Execd):
            loop.asyncio_loop.run_until_complete(passing())
        assert len(calls) == 1 and not state.broken

        # An OSError while importing is the environment, not the code: restart.
        monkeypatch.setattr(autoreload, "_reload_attempted", False)
        write(path, "raise OSError('port in use')\n")
        with pytest.raises(Execd):
            loop.asyncio_loop.run_until_complete(passing())
        assert len(calls) == 2
    finally:
        sys.modules.pop("ar_check_mod", None)
        loop.close()


def test_import_check_timeout_restarts(fake_exec, tmp_path, monkeypatch):
    calls, Execd = fake_exec
    (tmp_path / "ar_slow_mod.py").write_text("S = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import ar_slow_mod  # noqa: F401

    path = str(tmp_path / "ar_slow_mod.py")
    monkeypatch.setattr(autoreload, "_CHECK_TIMEOUT", 0.0)
    loop = IOLoop(make_current=False)
    try:
        write(path, "import time\ntime.sleep(60)\n")
        state = autoreload._WatchState()

        async def go():
            autoreload._check_and_reload(state, [path])

        with pytest.raises(Execd):
            loop.asyncio_loop.run_until_complete(go())
        assert state.check is None and len(calls) == 1
    finally:
        sys.modules.pop("ar_slow_mod", None)
        loop.close()


def test_start_once_per_loop(monkeypatch, caplog):
    monkeypatch.setattr(autoreload, "_io_loops", weakref.WeakKeyDictionary())
    started = []

    class FakePeriodic:
        def __init__(self, callback, check_time):
            started.append(check_time)

        def start(self):
            pass

    monkeypatch.setattr(autoreload.ioloop, "PeriodicCallback", FakePeriodic)
    loops = [IOLoop(make_current=False), IOLoop(make_current=False)]
    try:
        async def go(check_time):
            autoreload.start(check_time)
            autoreload.start(check_time)

        with caplog.at_level(logging.WARNING, logger="embedtornado.general"):
            loops[0].asyncio_loop.run_until_complete(go(100))
            assert started == [100] and caplog.records == []
            loops[1].asyncio_loop.run_until_complete(go(200))
        assert started == [100, 200]
        assert [r.getMessage() for r in caplog.records] == [
            "embedtornado.autoreload started more than once in the same process"]
    finally:
        for lp in loops:
            lp.close()


def test_module_surface_like_tornado():
    import tornado.autoreload

    for name in ("start", "wait", "watch", "add_reload_hook", "main"):
        assert callable(getattr(autoreload, name))
        assert callable(getattr(tornado.autoreload, name))
    assert textwrap.dedent(autoreload.__doc__ or "").startswith("Restart the process")
