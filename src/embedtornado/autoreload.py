"""Restart the process when a source file changes (Tornado's ``tornado.autoreload``).

Applications rarely use this module directly: ``Application(...,
autoreload=True)`` (or ``debug=True``, which turns it on) calls `start`. It
can also be used by hand, or as a wrapper that runs a script and runs it
again whenever its sources change::

    from embedtornado import autoreload

    autoreload.watch("/etc/myapp/settings.conf")   # more than the imported modules
    autoreload.add_reload_hook(flush_caches)        # called just before restarting
    autoreload.start()                              # check every 500 ms

    # or, from a shell (handy for test runners and to survive import errors):
    #   python -m embedtornado.autoreload path/to/script.py [args...]
    #   python -m embedtornado.autoreload -m package.module [args...]

Every ``check_time`` milliseconds the modification times of every imported
module's source file and of every `watch`\\ ed file are compared with what
was seen before. On a change the process replaces itself (``os.execv``) with
a fresh run of the same command line, ``python -m`` included, so the new
code is loaded from scratch. Restarting is destructive: requests in progress
are dropped.

A change is checked before restarting, so that a mistake in the new code
does not take the server down: every changed Python file must compile, and
every changed module (other than the main script) must import in a fresh
interpreter. If a check fails the error is printed on standard error, the
old code keeps running, and the files are checked again when they next
change; a change that fixes them restarts the process.

.. note:: embedtornado differs from Tornado 6.6.1: Tornado restarts on any
   change, so new code that fails to import makes the new process exit with
   its traceback and the server is gone (unless the ``python -m
   tornado.autoreload`` wrapper runs it, which then waits, not serving, for
   the next change). Here the old process keeps serving instead. The import
   check runs in a subprocess and does not block the event loop; it cannot
   see errors that only show when the main script itself runs (those still
   end the new process, as in Tornado). Standard output and error are also
   flushed before restarting, so buffered lines are not lost, and the files'
   times are first noted by `start` itself (Tornado: at the first check, so
   a change in the first ``check_time`` is missed).

Like Tornado's, this module does not work with `.HTTPServer`'s multi-process
mode (forked children never restart themselves), and a restart loses
interpreter options such as ``-u`` or ``-W`` (it runs ``sys.executable``
with ``sys.argv``).
"""

from __future__ import annotations

import os
import sys

# When run as ``python -m embedtornado.autoreload``, Python puts this file's
# directory first on sys.path, where it would shadow top-level modules with
# the package's own (say ``log`` or ``util``). Take it off before any import.
if __name__ == "__main__":
    if sys.path[0] == os.path.dirname(__file__):
        del sys.path[0]

import functools
import importlib.util
import json
import signal
import subprocess
import tempfile
import traceback
import types
import warnings
import weakref
from typing import IO, Any, Callable

from embedtornado import ioloop, process
from embedtornado.log import gen_log

__all__ = ["add_reload_hook", "main", "start", "wait", "watch"]

_watched_files: set[str] = set()
_reload_hooks: list[Callable[[], None]] = []
_reload_attempted = False
_io_loops: weakref.WeakKeyDictionary[ioloop.IOLoop, bool] = weakref.WeakKeyDictionary()
_autoreload_is_main = False
_original_argv: list[str] | None = None
_original_spec: Any = None
_states: list[_WatchState] = []  # one per loop watching

#: Seconds an import check may take before the restart goes ahead unchecked.
_CHECK_TIMEOUT = 30.0

#: Exit status of the import check when only an `OSError` (such as a port in
#: use) stopped an import: not a mistake in the code, so the restart goes ahead.
_CHECK_ENVIRONMENT_ERROR = 3

# Run by the import check in a fresh interpreter: argv[1] is the parent's
# sys.path as JSON, the rest are the modules to import.
_CHECK_SCRIPT = r"""
import importlib, json, sys, traceback
sys.path[:] = json.loads(sys.argv[1])
status = 0
for name in sys.argv[2:]:
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name != name:  # else: not importable by name; nothing to check
            traceback.print_exc()
            status = 1
    except OSError:
        traceback.print_exc()
        status = status or 3
    except BaseException:
        traceback.print_exc()
        status = 1
sys.stdout.flush()
sys.stderr.flush()
sys.exit(status)
"""


def start(check_time: int = 500) -> None:
    """Begin watching source files for changes, on the current `.IOLoop`.

    Calling it again for the same loop does nothing.

    :arg check_time: milliseconds between checks.
    """
    io_loop = ioloop.IOLoop.current()
    if io_loop in _io_loops:
        return
    _io_loops[io_loop] = True
    if len(_io_loops) > 1:
        gen_log.warning("embedtornado.autoreload started more than once in the same process")
    state = _WatchState()
    _states.append(state)
    # Note every file's time now, so that a change made before the first
    # check is not missed.
    _changed_files(state.modify_times)
    callback = functools.partial(_reload_on_update, state)
    scheduler = ioloop.PeriodicCallback(callback, check_time)
    scheduler.start()


def wait() -> None:
    """Run a new `.IOLoop` until a watched file changes, then restart the process.

    Meant for the end of scripts such as test runners, to run them again
    after any source change (see also `main`).
    """
    io_loop = ioloop.IOLoop()
    io_loop.add_callback(start)
    io_loop.start()


def watch(filename: str) -> None:
    """Also restart when *filename* changes (imported modules are always watched)."""
    _watched_files.add(filename)
    for state in _states:
        # Note its time now: a change before the next check then counts.
        _check_file(state.modify_times, filename)


def add_reload_hook(fn: Callable[[], None]) -> None:
    """Call *fn* (no arguments) just before the process restarts.

    Sockets and files opened by Python are closed by the restart anyway
    (they are not inheritable); use a hook for other cleanup.
    """
    _reload_hooks.append(fn)


class _WatchState:
    """What one watching loop knows: files' last times, and pending checks."""

    def __init__(self) -> None:
        #: path -> st_mtime last seen.
        self.modify_times: dict[str, float] = {}
        #: files whose last check failed: checked again with any new change.
        self.broken: set[str] = set()
        #: the import check in progress, if any.
        self.check: _ImportCheck | None = None


def _source_path(module: types.ModuleType) -> str | None:
    path = getattr(module, "__file__", None)
    if not path or not isinstance(path, str):
        return None
    if path.endswith((".pyc", ".pyo")):
        path = path[:-1]
    return path


def _reload_on_update(state: _WatchState) -> None:
    """One periodic check: look for changes, check them, restart if they pass."""
    if _reload_attempted:
        return  # a restart failed before; do not try again
    if process.task_id() is not None:
        # A child of fork_processes: if children restarted themselves they
        # would all fork again.
        return
    changed = _changed_files(state.modify_times)
    check = state.check
    if changed:
        for path in changed:
            gen_log.info("%s modified; restarting server", path)
        if check is not None:
            check.cancel()  # superseded: start over with everything
            state.check = None
        _check_and_reload(state, changed)
    elif check is not None:
        _poll_import_check(state, check)


def _changed_files(modify_times: dict[str, float]) -> list[str]:
    """Files (imported modules' sources and watched files) changed since last seen."""
    changed: list[str] = []
    for module in list(sys.modules.values()):
        # Some modules replace themselves in sys.modules with other objects;
        # only real modules have a meaningful __file__.
        if not isinstance(module, types.ModuleType):
            continue
        path = _source_path(module)
        if path and _check_file(modify_times, path):
            changed.append(path)
    for path in list(_watched_files):
        if _check_file(modify_times, path) and path not in changed:
            changed.append(path)
    return changed


def _check_file(modify_times: dict[str, float], path: str) -> bool:
    """Note *path*'s modification time; return ``True`` if it changed since last seen."""
    try:
        modified = os.stat(path).st_mtime
    except (OSError, ValueError):  # gone, or not a usable path
        return False
    previous = modify_times.get(path)
    modify_times[path] = modified
    return previous is not None and previous != modified


def _check_and_reload(state: _WatchState, changed: list[str]) -> None:
    """Check *changed* (and files that failed before), then restart or report."""
    paths = list(dict.fromkeys(changed + sorted(state.broken)))
    state.broken.clear()
    compile_errors = False
    for path in paths:
        error = _compile_error(path)
        if error is not None:
            compile_errors = True
            state.broken.add(path)
            _report(path, error)
    if compile_errors:
        state.broken.update(paths)  # check them all again with the next change
        return
    modules = _modules_for(paths)
    if not modules:
        _reload()
        return
    state.check = _ImportCheck(modules, paths)
    _poll_import_check(state, state.check)


def _compile_error(path: str) -> str | None:
    """Compile a changed Python file; return the formatted error, or ``None``."""
    if not path.endswith(".py"):
        return None
    try:
        with open(path, "rb") as f:
            source = f.read()
    except OSError:
        return None  # gone, or unreadable: the restart will tell
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. invalid escape sequences
            compile(source, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as e:
        return "".join(traceback.format_exception_only(type(e), e))
    return None


def _modules_for(paths: list[str]) -> list[str]:
    """Importable names of the modules (other than ``__main__``) loaded from *paths*."""
    main = sys.modules.get("__main__")
    main_path = _source_path(main) if main is not None else None
    wanted = {p for p in paths if p.endswith(".py") and p != main_path}
    names = []
    for module in list(sys.modules.values()):
        if not isinstance(module, types.ModuleType) or module is main:
            continue
        spec = getattr(module, "__spec__", None)
        name = getattr(spec, "name", None)
        if name and name != "__main__" and _source_path(module) in wanted:
            names.append(name)
    return sorted(set(names))


def _report(path: str, error: str) -> None:
    """Print why a change was not loaded; the old code keeps running."""
    sys.stderr.write(error if error.endswith("\n") else error + "\n")
    sys.stderr.flush()
    gen_log.error("%s has errors; not restarting, still running the previous code", path)


class _ImportCheck:
    """Imports changed modules in a fresh interpreter, without blocking the loop."""

    def __init__(self, modules: list[str], paths: list[str]) -> None:
        self.modules = modules
        self.paths = paths
        self.started = ioloop.IOLoop.current().time()
        self.output: IO[bytes] = tempfile.TemporaryFile()
        path_json = json.dumps([p for p in sys.path if isinstance(p, str)])
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _CHECK_SCRIPT, path_json, *modules],
            stdin=subprocess.DEVNULL, stdout=self.output, stderr=subprocess.STDOUT,
            close_fds=True,
        )

    def cancel(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.output.close()

    def result(self) -> tuple[int | None, str]:
        """The exit status (``None`` while running) and what the check printed."""
        status = self.proc.poll()
        if status is None:
            return None, ""
        self.output.seek(0)
        text = self.output.read().decode("utf-8", "replace")
        self.output.close()
        return status, text


def _poll_import_check(state: _WatchState, check: _ImportCheck) -> None:
    status, output = check.result()
    if status is None:
        if ioloop.IOLoop.current().time() - check.started < _CHECK_TIMEOUT:
            return  # look again at the next tick
        gen_log.warning("Import check of %s still running after %ds; restarting anyway",
                        ", ".join(check.modules), _CHECK_TIMEOUT)
        check.cancel()
        state.check = None
        _reload()
        return
    state.check = None
    if status in (0, _CHECK_ENVIRONMENT_ERROR):
        _reload()
        return
    state.broken.update(check.paths)
    _report(", ".join(check.paths), output)


def _reload() -> None:
    """Replace this process with a fresh run of the same command line."""
    global _reload_attempted
    _reload_attempted = True
    for fn in _reload_hooks:
        fn()
    # Clear any interval timer (such as a blocking-log alarm) so that it
    # does not fire in the new program.
    signal.setitimer(signal.ITIMER_REAL, 0, 0)
    # Under ``python -m`` the main module has a __spec__ and Python has
    # dropped "-m name" from sys.argv: put it back so that the new process
    # runs the module the same way (and gets the same sys.path). A spec named
    # exactly "__main__" means a directory or zip file was run: no -m then.
    if _autoreload_is_main:
        assert _original_argv is not None
        spec = _original_spec
        argv = _original_argv
    else:
        spec = getattr(sys.modules["__main__"], "__spec__", None)
        argv = sys.argv
    if spec and spec.name != "__main__":
        argv = ["-m", spec.name] + argv[1:]
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass  # a closed or broken stream must not stop the restart
    os.execv(sys.executable, [sys.executable] + argv)


_USAGE = """\
usage: python -m embedtornado.autoreload [--until-success] -m module.to.run [args...]
       python -m embedtornado.autoreload [--until-success] path/to/script.py [args...]

Run a script, then run it again whenever one of its source files changes.

  -m MODULE        run the module MODULE (as python -m does)
  --until-success  stop once the program exits successfully (status 0)
  -h, --help       show this help and exit
"""


def _parse_args(args: list[str]) -> tuple[str | None, bool, list[str]]:
    """Parse the wrapper's options, stopping at the script (as python itself does).

    :returns: ``(module, until_success, rest)``; *rest* starts with the
        script path when no module is given.
    """
    module = None
    until_success = False
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--until-success":
            until_success = True
        elif arg in ("-h", "--help"):
            sys.stdout.write(_USAGE)
            sys.exit(0)
        elif arg == "-m":
            if i + 1 >= len(args):
                sys.stderr.write(_USAGE + "error: -m option requires an argument\n")
                sys.exit(2)
            return args[i + 1], until_success, args[i + 2:]
        elif arg.startswith("-m") and not arg.startswith("--"):
            return arg[2:], until_success, args[i + 1:]
        elif arg == "--":
            return module, until_success, args[i + 1:]
        elif arg.startswith("-"):
            sys.stderr.write(_USAGE + "error: no such option: %s\n" % arg)
            sys.exit(2)
        else:
            return module, until_success, args[i:]
        i += 1
    return module, until_success, []


def main() -> None:
    """Run a script or module, then run it again whenever its source changes.

    Used from a shell::

        python -m embedtornado.autoreload -m myapp.server --port=8000
        python -m embedtornado.autoreload myapp/server.py --port=8000

    This is like calling `wait` at the end of the script, and more: an
    error while the script starts (a syntax error, say) is printed and the
    wrapper waits for the next change instead of exiting. With
    ``--until-success`` it stops once the program exits with status 0.
    Combine it with ``autoreload=True`` in the application, which restarts
    the running server on changes.
    """
    # Record how we were started, both here (this module may be __main__)
    # and in the importable module that Application's autoreload uses.
    import embedtornado.autoreload as importable  # noqa: PLW0406 (see above)

    global _autoreload_is_main, _original_argv, _original_spec
    importable._autoreload_is_main = _autoreload_is_main = True
    original_argv = sys.argv
    importable._original_argv = _original_argv = original_argv
    original_spec = getattr(sys.modules["__main__"], "__spec__", None)
    importable._original_spec = _original_spec = original_spec

    module, until_success, rest = _parse_args(sys.argv[1:])
    if module is None:
        if not rest:
            sys.stderr.write("Either -m or a path must be specified\n")
            sys.exit(1)
        path: str | None = rest[0]
        sys.argv = rest[:]
    else:
        path = None
        sys.argv = [sys.argv[0]] + rest

    exit_status: int | str | None = 1
    try:
        import runpy

        if module is not None:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
        else:
            assert path is not None
            runpy.run_path(path, run_name="__main__")
    except SystemExit as e:
        exit_status = e.code
        gen_log.info("Script exited with status %s", e.code)
    except Exception as e:  # noqa: BLE001 (the script's own failure, reported)
        gen_log.warning("Script exited with uncaught exception", exc_info=True)
        # A module that failed while importing is not in sys.modules, so
        # watch every file the traceback went through.
        for frame in traceback.extract_tb(e.__traceback__):
            watch(frame.filename)
        if isinstance(e, SyntaxError) and e.filename is not None:
            # The frame of a SyntaxError's file is not in its traceback.
            watch(e.filename)
    else:
        exit_status = 0
        gen_log.info("Script exited normally")
    sys.argv = original_argv  # the restart runs the wrapper again

    if module is not None:
        # runpy ran the module as __main__ and then removed it from
        # sys.modules: watch its file explicitly.
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            spec = None
        if spec is not None and spec.has_location and spec.origin:
            watch(spec.origin)
    if until_success and not exit_status:
        return
    wait()


if __name__ == "__main__":
    main()
