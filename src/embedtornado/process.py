"""Running a server as several forked worker processes (Tornado's ``tornado.process``).

Bind the listening sockets first, then fork, then start a loop in each
child; each worker learns its *task id* (0 .. N-1)::

    from embedtornado import netutil, process
    from embedtornado.httpserver import HTTPServer
    from embedtornado.ioloop import IOLoop

    sockets = netutil.bind_sockets(8888)
    task_id = process.fork_processes(0)         # one worker per CPU
    server = HTTPServer(app)
    server.add_sockets(sockets)
    IOLoop.current().start()

The parent never returns from `fork_processes`: it supervises the workers,
restarts any that die from a signal or exit non-zero, and exits when all of
them have exited cleanly.

`Subprocess` wraps `subprocess.Popen` with `.PipeIOStream` pipes and an
exit notification that does not block the loop::

    proc = process.Subprocess(["ls", "-l"], stdout=process.Subprocess.STREAM)
    listing = await proc.stdout.read_until_close()
    status = await proc.wait_for_exit(raise_error=False)

`CalledProcessError` is re-exported as in Tornado.

.. note:: embedtornado differs from Tornado 6.6.1: `Subprocess` learns of a
   child's exit from a Linux pidfd watched by the event loop (one per
   child), not from a process-wide ``SIGCHLD`` handler, so it works in any
   thread and leaves ``SIGCHLD`` alone. `Subprocess.initialize` and
   `Subprocess.uninitialize` exist but do nothing. Without pidfd support
   (Linux < 5.3) the exit is polled every 50 ms.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from typing import Any, Callable

__all__ = ["CalledProcessError", "Subprocess", "cpu_count", "fork_processes", "task_id"]

gen_log = logging.getLogger("embedtornado.general")

#: Re-exported from `subprocess` for convenience, as Tornado does.
CalledProcessError = subprocess.CalledProcessError

_DEFAULT_MAX_RESTARTS = 100

_task_id: int | None = None


def cpu_count() -> int:
    """Return the number of processors, or 1 if it cannot be found out."""
    count = os.cpu_count()
    if count:
        return count
    try:
        count = os.sysconf("SC_NPROCESSORS_CONF")
    except (AttributeError, ValueError, OSError):
        count = 0
    if count and count > 0:
        return count
    gen_log.error("Could not detect number of processors; assuming 1")
    return 1


def _reseed_random() -> None:
    """Give a forked child its own `random` sequence (if `random` is in use)."""
    if "random" not in sys.modules:
        return
    import random

    try:
        seed = int.from_bytes(os.urandom(16), "big")
    except NotImplementedError:
        seed = int(time.time() * 1000) ^ os.getpid()
    random.seed(seed)


def fork_processes(num_processes: int | None, max_restarts: int | None = None) -> int:
    """Fork worker processes and, in the parent, supervise them.

    In each child this returns the child's task id, an integer from ``0`` to
    ``num_processes - 1``; `task_id` returns it later. In the parent it does
    not return: it waits for the children, forks a replacement with the same
    task id for each one that was killed by a signal or exited with a
    non-zero status, and calls ``sys.exit(0)`` once every child has exited
    with status 0.

    No `.IOLoop` (or anything that uses one) may exist before the fork.
    Multiple processes do not work with `embedtornado.autoreload` (or
    ``debug=True`` / ``autoreload=True`` in an application).

    :arg num_processes: how many children to fork; ``None`` or ``<= 0``
        means one per CPU (`cpu_count`).
    :arg max_restarts: how many restarts, over all children together, are
        allowed (default 100).
    :raises RuntimeError: in the parent, when a restart would exceed
        *max_restarts*.
    :raises AssertionError: if called a second time in one process tree.

    Availability: Unix.
    """
    if sys.platform == "win32":
        raise Exception("fork not available on windows")
    if max_restarts is None:
        max_restarts = _DEFAULT_MAX_RESTARTS
    if _task_id is not None:
        # Tornado checks this with a bare assert; raise explicitly so the
        # check survives python -O.
        raise AssertionError("fork_processes has already been called in this process")
    if num_processes is None or num_processes <= 0:
        num_processes = cpu_count()
    gen_log.info("Starting %d processes", num_processes)
    children: dict[int, int] = {}  # pid -> task id

    def spawn(task: int) -> bool:
        """Fork a child for *task*; return True in the child."""
        global _task_id
        pid = os.fork()
        if pid == 0:
            _reseed_random()
            _task_id = task
            return True
        children[pid] = task
        return False

    for task in range(num_processes):
        if spawn(task):
            return task

    restarts = 0
    while children:
        pid, status = os.wait()
        if pid not in children:
            continue  # not one of ours (some other child of this process)
        task = children.pop(pid)
        if os.WIFSIGNALED(status):
            gen_log.warning(
                "child %d (pid %d) killed by signal %d, restarting",
                task,
                pid,
                os.WTERMSIG(status),
            )
        elif os.WEXITSTATUS(status) != 0:
            gen_log.warning(
                "child %d (pid %d) exited with status %d, restarting",
                task,
                pid,
                os.WEXITSTATUS(status),
            )
        else:
            gen_log.info("child %d (pid %d) exited normally", task, pid)
            continue
        restarts += 1
        if restarts > max_restarts:
            raise RuntimeError("Too many child restarts, giving up")
        if spawn(task):
            return task
    # Every worker finished cleanly. Exit rather than return, so the caller's
    # code after fork_processes (usually: start serving) does not run here.
    sys.exit(0)


def task_id() -> int | None:
    """Return this process's task id, or ``None`` if `fork_processes` did not create it."""
    return _task_id


class Subprocess:
    """`subprocess.Popen` with non-blocking pipes and an exit callback.

    Pass ``Subprocess.STREAM`` as ``stdin``, ``stdout`` or ``stderr`` to get
    that pipe as a `.PipeIOStream` attribute of the same name; every other
    argument goes to `subprocess.Popen` unchanged. ``proc`` is the `Popen`
    object, ``pid`` its pid, ``returncode`` the exit status once known
    (negative: killed by that signal).
    """

    STREAM = object()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from embedtornado.ioloop import IOLoop
        from embedtornado.iostream import PipeIOStream

        self.io_loop = IOLoop.current()
        pipe_fds: list[int] = []
        to_close: list[int] = []
        streams: dict[str, PipeIOStream] = {}
        try:
            if kwargs.get("stdin") is Subprocess.STREAM:
                in_r, in_w = os.pipe()
                pipe_fds.extend((in_r, in_w))
                kwargs["stdin"] = in_r
                to_close.append(in_r)
                streams["stdin"] = PipeIOStream(in_w)
            for name in ("stdout", "stderr"):
                if kwargs.get(name) is Subprocess.STREAM:
                    r, w = os.pipe()
                    pipe_fds.extend((r, w))
                    kwargs[name] = w
                    to_close.append(w)
                    streams[name] = PipeIOStream(r)
            self.proc = subprocess.Popen(*args, **kwargs)
        except BaseException:
            for stream in streams.values():
                pipe_fds.remove(stream.fd)
                stream.close()
            for fd in pipe_fds:
                os.close(fd)
            raise
        for fd in to_close:
            os.close(fd)
        self.pid = self.proc.pid
        for name in ("stdin", "stdout", "stderr"):
            setattr(self, name, streams[name] if name in streams else getattr(self.proc, name))
        self._exit_callback: Callable[[int], None] | None = None
        self._watch_fd: int | None = None
        self._poll_handle: Any = None
        self.returncode: int | None = None

    def set_exit_callback(self, callback: Callable[[int], None]) -> None:
        """Call *callback* with the exit status once the process ends.

        The status is the `subprocess.Popen.returncode` convention: the exit
        code, or minus the signal number that killed it.
        """
        self._exit_callback = callback
        if self._watch_fd is not None or self._poll_handle is not None:
            return
        loop = self.io_loop.asyncio_loop
        pidfd_open = getattr(os, "pidfd_open", None)
        if pidfd_open is not None:
            try:
                self._watch_fd = pidfd_open(self.pid)
            except OSError:
                self._watch_fd = None
        if self._watch_fd is not None:
            loop.add_reader(self._watch_fd, self._check_exit)
        self._check_exit()

    def _check_exit(self) -> None:
        status = self.proc.poll()
        if status is None:
            if self._watch_fd is None:
                self._poll_handle = self.io_loop.asyncio_loop.call_later(0.05, self._check_exit)
            return
        if self._watch_fd is not None:
            self.io_loop.asyncio_loop.remove_reader(self._watch_fd)
            os.close(self._watch_fd)
            self._watch_fd = None
        self._poll_handle = None
        self.returncode = status
        if self._exit_callback is not None:
            callback, self._exit_callback = self._exit_callback, None
            self.io_loop.add_callback(callback, status)

    def wait_for_exit(self, raise_error: bool = True) -> Any:
        """Return a future resolved with the exit status once the process ends.

        :arg raise_error: if true (the default), a non-zero status fails the
            future with `CalledProcessError` instead.
        """
        from embedtornado.concurrent import (
            future_set_exception_unless_cancelled,
            future_set_result_unless_cancelled,
        )

        future = self.io_loop.asyncio_loop.create_future()

        def callback(ret: int) -> None:
            if ret != 0 and raise_error:
                future_set_exception_unless_cancelled(future, CalledProcessError(ret, "unknown"))
            else:
                future_set_result_unless_cancelled(future, ret)

        self.set_exit_callback(callback)
        return future

    @classmethod
    def initialize(cls) -> None:
        """Kept for Tornado compatibility: nothing to set up (see the module note)."""

    @classmethod
    def uninitialize(cls) -> None:
        """Kept for Tornado compatibility: nothing to tear down."""
