"""process.Subprocess with PipeIOStream pipes.

Not run beside Tornado's: its Subprocess keeps a process-wide SIGCHLD handler
bound to one IOLoop, which does not survive the fresh loop each test uses
here; ours watches a pidfd per child on whatever loop is current.
"""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from streamtools import impl_module, run


@pytest.fixture
def process():
    return impl_module("embedtornado", "process")


def test_stdout_stream_and_exit(process):
    async def go():
        proc = process.Subprocess([sys.executable, "-c", "print('hello'); print('world')"],
                                  stdout=process.Subprocess.STREAM)
        assert await proc.stdout.read_until(b"\n") == b"hello\n"
        assert await proc.stdout.read_until_close() == b"world\n"
        assert await proc.wait_for_exit() == 0
        assert proc.returncode == 0
    run(go)


def test_stdin_and_stderr_streams(process):
    code = "import sys; d = sys.stdin.read(); sys.stdout.write(d.upper()); sys.stderr.write('e')"

    async def go():
        proc = process.Subprocess([sys.executable, "-c", code], stdin=process.Subprocess.STREAM,
                                  stdout=process.Subprocess.STREAM,
                                  stderr=process.Subprocess.STREAM)
        await proc.stdin.write(b"shout\n" * 1000)
        proc.stdin.close()
        out = await proc.stdout.read_until_close()
        err = await proc.stderr.read_until_close()
        assert out == b"SHOUT\n" * 1000 and err == b"e"
        assert await proc.wait_for_exit() == 0
    run(go)


def test_nonzero_exit(process):
    async def go():
        proc = process.Subprocess([sys.executable, "-c", "raise SystemExit(3)"])
        with pytest.raises(subprocess.CalledProcessError) as info:
            await proc.wait_for_exit()
        assert info.value.returncode == 3
        proc2 = process.Subprocess([sys.executable, "-c", "raise SystemExit(4)"])
        assert await proc2.wait_for_exit(raise_error=False) == 4
    run(go)


def test_killed_by_signal_and_exit_callback(process):
    async def go():
        import asyncio

        proc = process.Subprocess([sys.executable, "-c", "import time; time.sleep(60)"])
        got = asyncio.get_running_loop().create_future()
        proc.set_exit_callback(got.set_result)
        proc.proc.send_signal(signal.SIGTERM)
        assert await got == -signal.SIGTERM
        assert proc.returncode == -signal.SIGTERM
    run(go)


def test_already_exited_before_callback(process):
    async def go():
        proc = process.Subprocess([sys.executable, "-c", "pass"])
        proc.proc.wait()  # reaped before anyone asked
        assert await proc.wait_for_exit() == 0
    run(go)


def test_popen_error_closes_pipes(process):
    import os

    before = len(os.listdir("/proc/self/fd"))

    async def go():
        with pytest.raises(FileNotFoundError):
            process.Subprocess(["/nonexistent/program"], stdout=process.Subprocess.STREAM,
                               stdin=process.Subprocess.STREAM)
    run(go)
    assert len(os.listdir("/proc/self/fd")) <= before
