"""Logging for a service: ``<N>`` priority prefixes when stderr is the journal.

systemd connects a service's stderr to journald and says so in
``$JOURNAL_STREAM`` (``device:inode`` of that stream).  journald reads a
``<N>`` prefix (syslog priority 0-7) at the start of each line and adds its
own timestamp, so a journal line is just ``<6>embedtornado.access: 200 GET /``;
elsewhere (a terminal, a file, a pipe) lines keep the timestamps of
`embedtornado.log.LogFormatter`::

    from embedtornado.daemon.journal import configure_logging, stderr_is_journal

    configure_logging(options)    # the logging options, journal-aware
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from embedtornado.log import LogFormatter, enable_pretty_logging

__all__ = ["JournalFormatter", "configure_logging", "stderr_is_journal", "syslog_priority"]


def syslog_priority(levelno: int) -> int:
    """The syslog priority of a `logging` level (DEBUG 7 ... CRITICAL 2)."""
    if levelno >= logging.CRITICAL:
        return 2
    if levelno >= logging.ERROR:
        return 3
    if levelno >= logging.WARNING:
        return 4
    if levelno >= logging.INFO:
        return 6
    return 7


def stderr_is_journal(environ: dict[str, str] | None = None, fd: int = 2) -> bool:
    """Whether ``fd`` is the stream named by ``$JOURNAL_STREAM``.

    Comparing device and inode (as systemd.exec(5) advises) keeps the prefixes
    out of a stderr that was redirected elsewhere after systemd started us.
    """
    env = os.environ if environ is None else environ
    value = env.get("JOURNAL_STREAM", "")
    dev_text, _, ino_text = value.partition(":")
    try:
        dev, ino = int(dev_text), int(ino_text)
        st = os.fstat(fd)
    except (ValueError, OSError):
        return False
    return st.st_dev == dev and st.st_ino == ino


class JournalFormatter(logging.Formatter):
    """``<N>logger: message``, every line (tracebacks too) with the prefix,
    so journald keeps each at the record's priority."""

    def format(self, record: logging.LogRecord) -> str:
        try:
            message = record.getMessage()
        except Exception as exc:
            message = f"Bad message ({exc!r}): {record.__dict__!r}"
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            message = message.rstrip() + "\n" + record.exc_text
        prefix = f"<{syslog_priority(record.levelno)}>"
        name = record.name
        name = name.removeprefix("embedtornado.")
        lines = message.split("\n")
        first = f"{prefix}{name}: {lines[0]}"
        return "\n".join([first] + [f"{prefix}    {line}" for line in lines[1:]])


#: Handlers this module installed on the root logger, removed on reconfiguration.
_installed: list[logging.Handler] = []


class _NoStderr:
    """The logging options with ``log_to_stderr`` forced off (the journal
    handler replaces the coloured one)."""

    def __init__(self, options: Any) -> None:
        self._options = options

    def __getattr__(self, name: str) -> Any:
        if name == "log_to_stderr":
            return False
        return getattr(self._options, name)


def configure_logging(options: Any, journal: bool | None = None) -> bool:
    """(Re)configure the root logger from the logging options.

    Handlers installed by an earlier call are removed first, so a reload can
    change the level or the log file.  ``--logging=none`` leaves logging alone.

    :arg options: an object with the options of
        `embedtornado.log.define_logging_options`.
    :arg journal: force (or suppress) the journal format; by default it is
        used when `stderr_is_journal`.
    :returns: whether the journal format is in use.
    """
    root = logging.getLogger()
    for handler in _installed:
        root.removeHandler(handler)
        handler.close()
    _installed.clear()
    if options.logging is None or str(options.logging).lower() == "none":
        return False
    if journal is None:
        journal = stderr_is_journal()
    before = set(root.handlers)
    if journal:
        enable_pretty_logging(_NoStderr(options), root)
        if options.log_to_stderr is not False:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(JournalFormatter())
            root.addHandler(handler)
    else:
        if options.log_to_stderr is None and not options.log_file_prefix:
            # NOTE(daemon): a daemon logs to stderr unless told otherwise, even
            # when a test harness left a handler on the root logger.
            enable_pretty_logging(_ForceStderr(options), root)
        else:
            enable_pretty_logging(options, root)
    _installed.extend(h for h in root.handlers if h not in before)
    return journal


class _ForceStderr(_NoStderr):
    def __getattr__(self, name: str) -> Any:
        if name == "log_to_stderr":
            return True
        return getattr(self._options, name)


# Kept for symmetry with the journal formatter: the plain format is Tornado's.
PlainFormatter = LogFormatter
