"""Journal-style logging and socket-activation edge cases."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys

from daemonctl import BASE_CONFIG, TIMEOUT, Daemon, listening_socket, write_plugin

from embedtornado.daemon.journal import JournalFormatter, stderr_is_journal, syslog_priority


def _record(level, msg, exc_info=None, name="embedtornado.application"):
    return logging.LogRecord(name, level, __file__, 1, msg, (), exc_info)


def test_priorities():
    assert [syslog_priority(lv) for lv in (5, 10, 20, 30, 40, 50)] == [7, 7, 6, 4, 3, 2]


def test_journal_formatter_prefixes_every_line():
    f = JournalFormatter()
    assert f.format(_record(logging.INFO, "hello")) == "<6>application: hello"
    try:
        raise ValueError("bad")
    except ValueError:
        text = f.format(_record(logging.ERROR, "failed\nsecond", sys.exc_info()))
    lines = text.split("\n")
    assert lines[0] == "<3>application: failed"
    assert all(line.startswith("<3>") for line in lines)
    assert lines[-1] == "<3>    ValueError: bad"
    other = f.format(_record(logging.WARNING, "x", name="plugin.thing"))
    assert other == "<4>plugin.thing: x"


def test_stderr_is_journal_compares_device_and_inode(tmp_path):
    with open(tmp_path / "a", "w") as a, open(tmp_path / "b", "w") as b:
        st = os.fstat(a.fileno())
        env = {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}
        assert stderr_is_journal(env, a.fileno())
        assert not stderr_is_journal(env, b.fileno())
        assert not stderr_is_journal({"JOURNAL_STREAM": "garbage"}, a.fileno())
        assert not stderr_is_journal({}, a.fileno())


def test_plain_logs_have_timestamps_without_journal(tmp_path):
    write_plugin(tmp_path / "plugins")
    d = Daemon(tmp_path, BASE_CONFIG, sock=listening_socket(),
               env={"JOURNAL_STREAM": "1:1"})  # names some other stream
    try:
        d.wait_serving()
        d.get("/hello")
    finally:
        d.signal(signal.SIGTERM)
        assert d.wait() == 0
    err = d.output()[1]
    assert "<6>" not in err
    assert any(line.startswith("[I ") and "200 GET /hello" in line for line in err.splitlines())


def test_passed_descriptor_that_is_not_listening_is_refused(tmp_path):
    write_plugin(tmp_path / "plugins")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    conf = tmp_path / "c.conf"
    conf.write_text(BASE_CONFIG)
    fd = sock.fileno()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LISTEN_", "NOTIFY_"))}
    env["LISTEN_FDS"] = "1"
    r = subprocess.run(
        ["/bin/sh", "-c", 'LISTEN_PID=$$; export LISTEN_PID; exec "$@"', "sh",
         sys.executable, "-m", "embedtornado", f"--config={conf}"],
        env=env, capture_output=True, text=True, timeout=TIMEOUT,
        preexec_fn=lambda: os.dup2(fd, 3), pass_fds=(3,))
    sock.close()
    assert r.returncode == 1
    assert "passed descriptor 3 (unknown) is not a listening stream socket" in r.stderr


def test_listen_pid_of_another_process_is_ignored(tmp_path):
    """LISTEN_PID names someone else: the daemon binds its own port instead."""
    write_plugin(tmp_path / "plugins")
    probe = listening_socket()
    port = probe.getsockname()[1]
    probe.close()
    d = Daemon(tmp_path, BASE_CONFIG + f'address = "127.0.0.1"\nport = {port}\n',
               env={"LISTEN_FDS": "1", "LISTEN_PID": "1"})
    d.port = port
    try:
        d.wait_serving()
        assert d.get("/hello") == (200, b"hello v1")
    finally:
        d.signal(signal.SIGTERM)
        assert d.wait() == 0
