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

``Subprocess`` (Tornado's `subprocess.Popen` wrapper with `.PipeIOStream`
pipes) is not provided yet; it arrives with the iostream pipe support in a
later change. `CalledProcessError` is re-exported as in Tornado.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time

__all__ = ["CalledProcessError", "cpu_count", "fork_processes", "task_id"]

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
