"""Tests for embedtornado.log, compared with tornado.log where it matters."""

from __future__ import annotations

import copy
import logging
import logging.handlers
import os
import re
import subprocess
import sys
from unittest import mock

import pytest
import tornado.log
import tornado.options

import embedtornado.log
import embedtornado.options
from embedtornado.log import (
    LogFormatter,
    access_log,
    app_log,
    define_logging_options,
    enable_pretty_logging,
    gen_log,
)
from embedtornado.options import OptionParser


def make_record(msg, *args, level=logging.INFO, exc_info=None):
    record = logging.LogRecord(
        "embedtornado.test", level, "/srv/app/handlers.py", 42, msg, args, exc_info
    )
    record.created = 1706692502.25  # 2024-01-31 09:15:02.25 UTC
    record.msecs = 250.0
    record.module = "handlers"
    return record


def format_both(record, **kwargs):
    """Format copies of ``record`` with our formatter and Tornado's."""
    ours = LogFormatter(**kwargs).format(copy.copy(record))
    theirs = tornado.log.LogFormatter(**kwargs).format(copy.copy(record))
    return ours, theirs


@pytest.fixture
def root_logger():
    """The root logger, with its level and handlers restored afterwards."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield root
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


@pytest.fixture
def test_logger():
    """A private logger that does not propagate; cleaned afterwards."""
    logger = logging.getLogger("embedtornado.test.pretty")
    logger.propagate = False
    # pytest >= 9.2 attaches its capture handlers here too; enable_pretty_logging
    # looks at whether the logger has handlers, so take them off for the test.
    foreign = [h for h in logger.handlers if h not in own(logger)]
    for handler in foreign:
        logger.removeHandler(handler)
    yield logger
    for handler in foreign:
        logger.addHandler(handler)
    for handler in own(logger):
        logger.removeHandler(handler)
        handler.close()
    logger.setLevel(logging.NOTSET)
    logger.propagate = True


def own(logger: logging.Logger) -> list[logging.Handler]:
    """The logger's handlers, less those pytest's log capture attaches (pytest >= 9.2)."""
    return [h for h in logger.handlers if not type(h).__module__.startswith("_pytest")]


def logging_parser(**values):
    parser = OptionParser()
    define_logging_options(parser)
    for name, value in values.items():
        setattr(parser, name, value)
    return parser


# --------------------------------------------------------------------------
# Loggers and formatter defaults
# --------------------------------------------------------------------------


def test_logger_names():
    assert access_log is logging.getLogger("embedtornado.access")
    assert app_log is logging.getLogger("embedtornado.application")
    assert gen_log is logging.getLogger("embedtornado.general")


def test_formatter_defaults_match_tornado():
    assert LogFormatter.DEFAULT_FORMAT == tornado.log.LogFormatter.DEFAULT_FORMAT
    assert LogFormatter.DEFAULT_FORMAT == (
        "%(color)s[%(levelname)1.1s %(asctime)s %(module)s:%(lineno)d]%(end_color)s %(message)s"
    )
    assert LogFormatter.DEFAULT_DATE_FORMAT == "%y%m%d %H:%M:%S"
    assert LogFormatter.DEFAULT_COLORS == tornado.log.LogFormatter.DEFAULT_COLORS


def test_format_line_shape():
    text = LogFormatter(color=False).format(make_record("hello %s", "world"))
    assert re.fullmatch(r"\[I \d{6} \d\d:\d\d:\d\d handlers:42\] hello world", text)


@pytest.mark.parametrize(
    "msg,args,level",
    [
        ("plain", (), logging.INFO),
        ("hello %s %d", ("world", 3), logging.WARNING),
        ("caf\u00e9 \u2603", (), logging.DEBUG),
        (b"\xe9bytes", (), logging.ERROR),
        ("line one\nline two", (), logging.CRITICAL),
        ("bad %d args", ("x",), logging.INFO),
        ("missing %s %s", ("one",), logging.INFO),
        (12345, (), 15),
    ],
)
def test_format_matches_tornado(msg, args, level):
    ours, theirs = format_both(make_record(msg, *args, level=level), color=False)
    assert ours == theirs


def test_bad_message_does_not_raise():
    text = LogFormatter(color=False).format(make_record("bad %d", "x"))
    assert "Bad message (TypeError(" in text


def test_exception_is_indented_and_matches_tornado():
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        exc_info = sys.exc_info()
    ours, theirs = format_both(make_record("failed", level=logging.ERROR, exc_info=exc_info), color=False)
    assert ours == theirs
    lines = ours.split("\n")
    assert lines[0].endswith("failed")
    assert lines[1] == "    Traceback (most recent call last):"
    assert "    ValueError: boom" in lines
    assert "        second line" not in lines and "    second line" in lines


def test_custom_fmt_and_datefmt_positional_like_dictconfig():
    fmt = LogFormatter("%(levelname)s|%(asctime)s|%(message)s", "%Y", "%")
    text = fmt.format(make_record("x"))
    assert re.fullmatch(r"INFO\|\d{4}\|x", text)


def test_no_colour_when_stderr_is_not_a_tty(monkeypatch):
    class NotATty:
        def isatty(self):
            return False

        def write(self, data):
            pass

    monkeypatch.setattr(sys, "stderr", NotATty())
    assert LogFormatter()._colors == {}
    assert LogFormatter()._normal == ""
    monkeypatch.setattr(sys, "stderr", object())  # no isatty at all
    assert LogFormatter()._colors == {}


def test_colour_markers_wrap_the_prefix():
    fmt = LogFormatter(color=False)
    fmt._colors = {logging.ERROR: "\u0001"}
    fmt._normal = "\u0002"
    text = fmt.format(make_record("oops", level=logging.ERROR))
    assert text.startswith("\u0001[E ") and "]\u0002 oops" in text
    plain = fmt.format(make_record("fine"))
    assert "\u0001" not in plain and "\u0002" not in plain


def test_colour_on_a_real_terminal(monkeypatch):
    curses = pytest.importorskip("curses")
    pty = pytest.importorskip("pty")
    monkeypatch.setenv("TERM", "xterm-256color")
    try:
        curses.setupterm("xterm-256color")
    except curses.error:
        pytest.skip("no terminfo entry for xterm-256color")
    master, slave = pty.openpty()
    try:
        with os.fdopen(slave, "w") as tty:
            monkeypatch.setattr(sys, "stderr", tty)
            ours = LogFormatter()
            theirs = tornado.log.LogFormatter()
            monochrome = LogFormatter(color=False)
    finally:
        os.close(master)
    assert set(ours._colors) == set(LogFormatter.DEFAULT_COLORS)
    assert ours._colors == theirs._colors
    assert ours._normal == theirs._normal != ""
    assert monochrome._colors == {}
    record = make_record("warned", level=logging.WARNING)
    assert ours.format(copy.copy(record)) == theirs.format(copy.copy(record))
    assert ours.format(record).startswith(ours._colors[logging.WARNING] + "[W ")


def test_ansi_fallback_without_curses(monkeypatch):
    monkeypatch.setattr(embedtornado.log, "curses", None)
    monkeypatch.setattr(embedtornado.log, "_stderr_supports_color", lambda: True)
    fmt = LogFormatter()
    assert fmt._colors[logging.ERROR] == "\033[2;31m"
    assert fmt._normal == "\033[0m"


# --------------------------------------------------------------------------
# define_logging_options
# --------------------------------------------------------------------------


def test_define_logging_options_matches_tornado():
    ours, theirs = OptionParser(), tornado.options.OptionParser()
    define_logging_options(ours)
    tornado.log.define_logging_options(theirs)
    assert list(ours) == list(theirs)
    assert ours.as_dict() == theirs.as_dict()
    assert ours.as_dict() == {
        "help": None,
        "logging": "info",
        "log_to_stderr": None,
        "log_file_prefix": None,
        "log_file_max_size": 100 * 1000 * 1000,
        "log_file_num_backups": 10,
        "log_rotate_when": "midnight",
        "log_rotate_interval": 1,
        "log_rotate_mode": "size",
    }
    for key, option in ours._options.items():
        other = theirs._options[key]
        assert (option.type, option.metavar, option.multiple) == (
            other.type, other.metavar, other.multiple
        )
    assert len(ours._parse_callbacks) == 1


def test_define_logging_options_defaults_to_global():
    with pytest.raises(embedtornado.options.Error, match="'logging' already defined"):
        define_logging_options()


# --------------------------------------------------------------------------
# enable_pretty_logging
# --------------------------------------------------------------------------


@pytest.mark.parametrize("level", ["debug", "INFO", "Warning", "error", "critical"])
def test_level_is_set(test_logger, level):
    enable_pretty_logging(logging_parser(logging=level), test_logger)
    assert test_logger.level == getattr(logging, level.upper())


@pytest.mark.parametrize("value", ["none", "None", "NONE", None])
def test_logging_none_leaves_logger_alone(test_logger, value):
    test_logger.setLevel(logging.ERROR)
    enable_pretty_logging(logging_parser(logging=value, log_file_prefix="/nonexistent/x.log"), test_logger)
    assert test_logger.level == logging.ERROR
    assert own(test_logger) == []


def test_unknown_level_raises(test_logger):
    with pytest.raises(AttributeError):
        enable_pretty_logging(logging_parser(logging="loud"), test_logger)


def test_stderr_handler_when_nothing_else(test_logger):
    foreign = [h for h in test_logger.handlers if h not in own(test_logger)]
    for handler in foreign:  # pytest >= 9.2 re-attaches its capture for the call phase
        test_logger.removeHandler(handler)
    enable_pretty_logging(logging_parser(), test_logger)
    for handler in foreign:
        test_logger.addHandler(handler)
    [handler] = own(test_logger)
    assert type(handler) is logging.StreamHandler
    assert isinstance(handler.formatter, LogFormatter)
    assert test_logger.level == logging.INFO


def test_log_to_stderr_false(test_logger):
    enable_pretty_logging(logging_parser(log_to_stderr=False), test_logger)
    assert own(test_logger) == []


def test_size_rotating_file_at_prefix(test_logger, tmp_path):
    prefix = str(tmp_path / "app.log")
    options = logging_parser(log_file_prefix=prefix, log_file_max_size=200, log_file_num_backups=2)
    enable_pretty_logging(options, test_logger)
    [handler] = own(test_logger)  # a file and no stderr when log_to_stderr is unset
    assert type(handler) is logging.handlers.RotatingFileHandler
    assert handler.baseFilename == prefix
    assert (handler.maxBytes, handler.backupCount, handler.encoding) == (200, 2, "utf-8")
    assert isinstance(handler.formatter, LogFormatter)
    assert handler.formatter._colors == {}
    for i in range(40):
        test_logger.info("line %d caf\u00e9", i)
    handler.flush()
    names = sorted(os.listdir(tmp_path))
    assert names == ["app.log", "app.log.1", "app.log.2"]
    content = (tmp_path / "app.log").read_text(encoding="utf-8")
    assert re.search(r"^\[I \d{6} \d\d:\d\d:\d\d test_log:\d+\] line 39 caf\u00e9$", content, re.M)


def test_time_rotating_file(test_logger, tmp_path):
    prefix = str(tmp_path / "timed.log")
    options = logging_parser(
        log_file_prefix=prefix,
        log_rotate_mode="time",
        log_rotate_when="S",
        log_rotate_interval=7,
        log_file_num_backups=3,
        log_to_stderr=True,
    )
    enable_pretty_logging(options, test_logger)
    timed, stream = own(test_logger)
    assert type(timed) is logging.handlers.TimedRotatingFileHandler
    assert timed.baseFilename == prefix
    assert (timed.when, timed.interval, timed.backupCount) == ("S", 7, 3)
    assert type(stream) is logging.StreamHandler
    test_logger.warning("written")
    timed.flush()
    assert "written" in (tmp_path / "timed.log").read_text(encoding="utf-8")


def test_bad_rotate_mode(test_logger, tmp_path):
    options = logging_parser(log_file_prefix=str(tmp_path / "x.log"), log_rotate_mode="hourly")
    with pytest.raises(ValueError, match='should be "size" or "time", not "hourly"'):
        enable_pretty_logging(options, test_logger)
    assert own(test_logger) == []
    assert not os.path.exists(tmp_path / "x.log")


def test_defaults_to_global_options(test_logger):
    with mock.patch.object(embedtornado.options.options.mockable(), "logging", "none"):
        enable_pretty_logging(logger=test_logger)
    assert own(test_logger) == [] and test_logger.level == logging.NOTSET
    with mock.patch.object(embedtornado.options.options.mockable(), "logging", "error"):
        enable_pretty_logging(logger=test_logger)
    assert test_logger.level == logging.ERROR


# --------------------------------------------------------------------------
# The parse callback configures the root logger
# --------------------------------------------------------------------------


def test_parse_command_line_applies_logging_options(root_logger, tmp_path):
    prefix = str(tmp_path / "server.log")
    parser = logging_parser()
    before = list(root_logger.handlers)
    parser.parse_command_line(
        ["prog", "--logging=debug", f"--log-file-prefix={prefix}", "--log_file_num_backups=4"],
        final=False,
    )
    assert root_logger.handlers == before  # not final: nothing applied yet
    parser.run_parse_callbacks()
    assert root_logger.level == logging.DEBUG
    added = [h for h in root_logger.handlers if h not in before]
    assert len(added) == 1
    assert isinstance(added[0], logging.handlers.RotatingFileHandler)
    assert added[0].baseFilename == prefix and added[0].backupCount == 4
    assert os.path.exists(prefix)


def test_parse_config_file_applies_logging_options(root_logger, tmp_path):
    conf = tmp_path / "log.conf"
    conf.write_text(f"logging = 'warning'\nlog_file_prefix = {str(tmp_path / 'c.log')!r}\n")
    parser = logging_parser()
    before = list(root_logger.handlers)
    parser.parse_config_file(str(conf))
    assert root_logger.level == logging.WARNING
    [added] = [h for h in root_logger.handlers if h not in before]
    assert added.baseFilename == str(tmp_path / "c.log")


def test_logging_none_on_command_line(root_logger):
    root_logger.setLevel(logging.ERROR)
    before = list(root_logger.handlers)
    logging_parser().parse_command_line(["prog", "--logging=none", "--log_to_stderr"])
    assert root_logger.level == logging.ERROR
    assert root_logger.handlers == before


def run_program(statement, args=()):
    program = "; ".join(
        [
            "from embedtornado.options import options, parse_command_line",
            statement,
            "import logging",
            "logging.debug('dbg-line')",
            "logging.info('info-line')",
        ]
    )
    proc = subprocess.run(
        [sys.executable, "-c", program, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout
    return proc.stdout.decode()


@pytest.mark.parametrize(
    "statement,args,info,debug",
    [
        ("pass", [], False, False),
        ("parse_command_line()", [], True, False),
        ("parse_command_line()", ["--logging=debug"], True, True),
        ("parse_command_line()", ["--logging=warning"], False, False),
        ("parse_command_line()", ["--logging=none"], False, False),
        ("parse_command_line()", ["--logging=None"], False, False),
        ("options.logging = 'none'; parse_command_line()", [], False, False),
        ("options.logging = None; parse_command_line()", [], False, False),
        ("options.logging = None; parse_command_line()", ["--logging=info"], True, False),
        ("parse_command_line(final=False)", [], False, False),
    ],
)
def test_global_logging_end_to_end(statement, args, info, debug):
    out = run_program(statement, args)
    assert ("info-line" in out) is info
    assert ("dbg-line" in out) is debug
    if info:
        assert re.search(r"^\[I \d{6} \d\d:\d\d:\d\d <string>:1\] info-line$", out, re.M)
