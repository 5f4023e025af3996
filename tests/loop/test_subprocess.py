"""Subprocesses on the loop: subprocess_exec, subprocess_shell and the
high-level asyncio.create_subprocess_* wrappers.

From the asyncio-eventloop page ("Running Subprocesses") and the
asyncio-subprocess page. embedtornado's loop may leave these out (issue 4:
"subprocess_exec/shell if cheap"); a NotImplementedError skips the test for
that loop only.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from conformance import run


class SubprocessRecorder(asyncio.SubprocessProtocol):
    def __init__(self, loop):
        self.out = bytearray()
        self.err = bytearray()
        self.exited = loop.create_future()
        self.lost = loop.create_future()
        self.made = False

    def connection_made(self, transport):
        self.made = True

    def pipe_data_received(self, fd, data):
        (self.out if fd == 1 else self.err).extend(data)

    def process_exited(self):
        if not self.exited.done():
            self.exited.set_result(None)

    def connection_lost(self, exc):
        if not self.lost.done():
            self.lost.set_result(exc)


async def _or_skip(coro, loop_name):
    try:
        return await coro
    except NotImplementedError:
        if loop_name == "embedtornado":
            pytest.skip("embedtornado's loop does not implement subprocesses")
        raise


def test_subprocess_exec_protocol(loop, loop_name):
    code = "import sys; d = sys.stdin.read(); sys.stdout.write(d.upper()); " \
           "sys.stderr.write('err'); sys.exit(3)"

    async def main():
        tr, proto = await _or_skip(loop.subprocess_exec(
            lambda: SubprocessRecorder(loop), sys.executable, "-c", code,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE), loop_name)
        try:
            assert proto.made
            assert isinstance(tr.get_pid(), int)
            stdin = tr.get_pipe_transport(0)
            stdin.write(b"shout")
            stdin.close()
            await proto.exited
            await proto.lost
            assert tr.get_returncode() == 3
            assert bytes(proto.out) == b"SHOUT"
            assert bytes(proto.err) == b"err"
        finally:
            tr.close()

    run(loop, main(), timeout=15)


def test_subprocess_shell_protocol(loop, loop_name):
    async def main():
        tr, proto = await _or_skip(loop.subprocess_shell(
            lambda: SubprocessRecorder(loop), "echo shell-ok; exit 0",
            stdin=None, stdout=subprocess.PIPE, stderr=None), loop_name)
        try:
            await proto.exited
            await proto.lost
            assert tr.get_returncode() == 0
            assert bytes(proto.out) == b"shell-ok\n"
        finally:
            tr.close()

    run(loop, main(), timeout=15)


def test_create_subprocess_exec_communicate(loop, loop_name):
    async def main():
        proc = await _or_skip(asyncio.create_subprocess_exec(
            sys.executable, "-c", "import sys; print(sys.stdin.read()[::-1], end='')",
            stdin=subprocess.PIPE, stdout=subprocess.PIPE), loop_name)
        out, err = await proc.communicate(b"olleh")
        assert (out, err) == (b"hello", None)
        assert proc.returncode == 0
        assert await proc.wait() == 0

    run(loop, main(), timeout=15)


def test_subprocess_shell_wrapper_and_kill(loop, loop_name):
    async def main():
        proc = await _or_skip(asyncio.create_subprocess_shell(
            "sleep 30", stdout=subprocess.DEVNULL), loop_name)
        proc.kill()
        assert await proc.wait() == -9

    run(loop, main(), timeout=15)
