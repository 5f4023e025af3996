"""Tests for embedtornado.process.

fork_processes runs in a separate Python process, so that its forking and its
``sys.exit`` never touch the test runner.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import tornado.process

import embedtornado
from embedtornado import process

SRC_DIR = os.path.dirname(os.path.dirname(embedtornado.__file__))


def run_script(body: str, tmp_path, timeout: float = 40) -> subprocess.CompletedProcess:
    script = textwrap.dedent(
        """
        import logging, os, random, signal, sys
        logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                            format="%(name)s %(levelname)s %(message)s")
        from embedtornado import process
        OUT = sys.argv[1]

        def record(line):
            fd = os.open(OUT, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, (line + "\\n").encode())
            finally:
                os.close(fd)
        """
    ) + textwrap.dedent(body)
    out = tmp_path / "out.txt"
    env = dict(os.environ, PYTHONPATH=SRC_DIR)
    return subprocess.run(
        [sys.executable, "-c", script, str(out)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
    )


def read_lines(tmp_path) -> list[list[str]]:
    path = tmp_path / "out.txt"
    if not path.exists():
        return []
    return [line.split() for line in path.read_text().splitlines()]


def test_cpu_count():
    n = process.cpu_count()
    assert isinstance(n, int) and n >= 1
    assert n == tornado.process.cpu_count()


def test_task_id_none_outside_fork():
    assert process.task_id() is None


def test_called_process_error_reexport():
    assert process.CalledProcessError is subprocess.CalledProcessError


def test_fork_processes_restarts_killed_children(tmp_path):
    # Each child dies from SIGKILL the first time it runs (marker file absent),
    # is restarted with the same task id, then exits cleanly.
    proc = run_script(
        f"""
        MARK = {str(tmp_path)!r}
        tid = process.fork_processes(3, max_restarts=10)
        assert process.task_id() == tid
        marker = os.path.join(MARK, "started-%d" % tid)
        if not os.path.exists(marker):
            open(marker, "w").close()
            record("killed %d %d" % (tid, os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        record("done %d %d %r" % (tid, os.getpid(), random.random()))
        os._exit(0)
        """,
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    lines = read_lines(tmp_path)
    killed = sorted(int(line[1]) for line in lines if line[0] == "killed")
    done = sorted(int(line[1]) for line in lines if line[0] == "done")
    assert killed == [0, 1, 2]
    assert done == [0, 1, 2]
    # restarted children are new processes
    pids = [line[2] for line in lines]
    assert len(set(pids)) == 6
    # random was reseeded in each child
    randoms = [line[3] for line in lines if line[0] == "done"]
    assert len(set(randoms)) == 3
    assert "Starting 3 processes" in proc.stderr
    assert proc.stderr.count("killed by signal 9, restarting") == 3
    assert proc.stderr.count("exited normally") == 3
    assert "embedtornado.general" in proc.stderr


def test_fork_processes_restarts_on_nonzero_exit(tmp_path):
    proc = run_script(
        f"""
        MARK = {str(tmp_path)!r}
        tid = process.fork_processes(2)
        marker = os.path.join(MARK, "started-%d" % tid)
        if tid == 1 and not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(3)
        record("done %d" % tid)
        os._exit(0)
        """,
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert sorted(int(line[1]) for line in read_lines(tmp_path)) == [0, 1]
    assert "child 1" in proc.stderr and "exited with status 3, restarting" in proc.stderr


def test_fork_processes_gives_up_after_max_restarts(tmp_path):
    proc = run_script(
        """
        try:
            tid = process.fork_processes(2, max_restarts=3)
        except RuntimeError as e:
            record("parent %s" % str(e).replace(" ", "_"))
            sys.exit(7)
        record("child %d" % tid)
        os._exit(1)
        """,
        tmp_path,
    )
    assert proc.returncode == 7, proc.stderr
    lines = read_lines(tmp_path)
    assert ["parent", "Too_many_child_restarts,_giving_up"] in lines
    starts = [line for line in lines if line[0] == "child"]
    # 2 initial children + 3 restarts; the 4th failure makes the parent give up.
    assert len(starts) == 5
    assert {line[1] for line in starts} <= {"0", "1"}


def test_fork_processes_default_count_and_zero(tmp_path):
    proc = run_script(
        """
        tid = process.fork_processes(0)
        record("child %d" % tid)
        os._exit(0)
        """,
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    ids = sorted(int(line[1]) for line in read_lines(tmp_path))
    assert ids == list(range(process.cpu_count()))


def test_fork_processes_twice_is_an_error(tmp_path):
    proc = run_script(
        """
        tid = process.fork_processes(1)
        try:
            process.fork_processes(1)
        except AssertionError:
            record("refused %d" % tid)
        os._exit(0)
        """,
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert read_lines(tmp_path) == [["refused", "0"]]


@pytest.mark.parametrize("mod", [process, tornado.process], ids=["embedtornado", "tornado"])
def test_public_names(mod):
    for name in ("cpu_count", "fork_processes", "task_id", "CalledProcessError"):
        assert hasattr(mod, name)
