"""Loggers, the log formatter and the logging options of embedtornado.

embedtornado writes to three standard-library loggers, which can be routed
and filtered separately:

* ``embedtornado.access`` (`access_log`): one line per HTTP request served.
* ``embedtornado.application`` (`app_log`): uncaught exceptions from
  application code (handlers, callbacks).
* ``embedtornado.general`` (`gen_log`): everything else the framework has to
  say, such as connection errors and warnings.

Parsing options with `embedtornado.options` sets up logging for you through
`enable_pretty_logging`; a program that does not use the options module can
call it directly::

    import logging
    from embedtornado.log import LogFormatter, access_log, enable_pretty_logging

    enable_pretty_logging()          # root logger at INFO, coloured on a tty

    # or: send request logs to their own file
    handler = logging.FileHandler("/var/log/myapp/access.log")
    handler.setFormatter(LogFormatter(color=False))
    access_log.addHandler(handler)
    access_log.propagate = False

.. note:: embedtornado differs from Tornado 6.6.1: the loggers are named
   ``embedtornado.*`` instead of ``tornado.*``; configure those names.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

# NOTE(embedtornado): curses, colorama and logging.handlers load on first use
# (a colour check, a log file), not at import: a server logging to a pipe or
# the journal never needs them. ``log.curses`` / ``log.colorama`` still read
# (and monkeypatch) as before: the module, or None when it is not installed.

__all__ = [
    "LogFormatter",
    "access_log",
    "app_log",
    "define_logging_options",
    "enable_pretty_logging",
    "gen_log",
]

#: Per-request log lines from the HTTP server.
access_log = logging.getLogger("embedtornado.access")
#: Uncaught exceptions from application code.
app_log = logging.getLogger("embedtornado.application")
#: Framework messages that are neither of the above.
gen_log = logging.getLogger("embedtornado.general")


def _optional(name: str) -> Any:
    """The module ``curses`` or ``colorama`` (imported on first use), or None if absent."""
    g = globals()
    if name not in g:
        try:
            g[name] = importlib.import_module(name)
        except ImportError:
            g[name] = None
    return g[name]


def __getattr__(name: str) -> Any:
    if name in ("curses", "colorama"):
        return _optional(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _stderr_supports_color() -> bool:
    """Tell whether `sys.stderr` is a terminal that can show colours.

    Any failure while asking (no terminfo entry, odd stream objects) counts
    as "no": plain logs are better than a crash at start-up.
    """
    try:
        isatty = getattr(sys.stderr, "isatty", None)
        if isatty is None or not isatty():
            return False
        curses = _optional("curses")
        if curses is not None:
            curses.setupterm()
            return bool(curses.tigetnum("colors") > 0)
        colorama = _optional("colorama")
        if colorama is not None:
            # colorama only helps once colorama.init() has wrapped stderr.
            return sys.stderr is getattr(colorama.initialise, "wrapped_stderr", object())
    except Exception:
        pass
    return False


def _as_text(value: Any) -> str:
    """Return ``value`` as text: bytes are decoded as UTF-8 (their repr if
    that fails), other objects go through `str`."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return repr(value)
    return value if isinstance(value, str) else str(value)


class LogFormatter(logging.Formatter):
    """The formatter `enable_pretty_logging` installs.

    Each record becomes one line such as::

        [I 240131 09:15:02 web:2271] 200 GET / (127.0.0.1) 0.52ms

    (level initial, date and time, module and line, message).  Lines after
    the first, including tracebacks, are indented by four spaces.  On a
    terminal that supports colours the bracketed prefix is coloured by level.
    A message that cannot be formatted (wrong ``%`` arguments) is logged as
    ``Bad message (...)`` with the record's fields rather than raising.

    The constructor takes the keywords `logging.config.dictConfig` passes,
    so the class can be named in a dictConfig ``formatters`` section.

    On Windows, colours need the ``colorama`` package and a prior call to
    ``colorama.init()``.
    """

    DEFAULT_FORMAT = (
        "%(color)s[%(levelname)1.1s %(asctime)s %(module)s:%(lineno)d]%(end_color)s %(message)s"
    )
    DEFAULT_DATE_FORMAT = "%y%m%d %H:%M:%S"
    #: Terminal colour number per level: blue, green, yellow, red, magenta.
    DEFAULT_COLORS = {
        logging.DEBUG: 4,
        logging.INFO: 2,
        logging.WARNING: 3,
        logging.ERROR: 1,
        logging.CRITICAL: 5,
    }

    def __init__(
        self,
        fmt: str = DEFAULT_FORMAT,
        datefmt: str = DEFAULT_DATE_FORMAT,
        style: str = "%",
        color: bool = True,
        colors: dict[int, int] = DEFAULT_COLORS,
    ) -> None:
        """
        :arg fmt: ``%``-style format applied to the record's attributes.
            ``%(color)s`` and ``%(end_color)s`` mark the part to colour.
        :arg datefmt: `time.strftime` format for ``%(asctime)s``.
        :arg style: accepted for `logging.config.dictConfig`; only ``%``
            formats are supported.
        :arg color: colour the output when `sys.stderr` is a terminal that
            supports it.
        :arg colors: terminal colour number for each logging level.
        """
        super().__init__(datefmt=datefmt)
        self._fmt = fmt
        self._colors: dict[int, str] = {}
        self._normal = ""
        if not (color and _stderr_supports_color()):
            return
        curses = _optional("curses")
        if curses is not None:
            set_fg = curses.tigetstr("setaf") or curses.tigetstr("setf") or b""
            for levelno, number in colors.items():
                self._colors[levelno] = curses.tparm(set_fg, number).decode("ascii")
            reset = curses.tigetstr("sgr0")
            self._normal = reset.decode("ascii") if reset is not None else ""
        else:
            # Without curses (Windows with colorama) use plain ANSI codes.
            for levelno, number in colors.items():
                self._colors[levelno] = f"\033[2;3{number}m"
            self._normal = "\033[0m"

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` as described in the class docstring.

        :arg record: the record to format; its ``message``, ``asctime``,
            ``color`` and ``end_color`` attributes are set as a side effect.
        """
        try:
            record.message = _as_text(record.getMessage())
        except Exception as exc:
            record.message = f"Bad message ({exc!r}): {record.__dict__!r}"
        record.asctime = self.formatTime(record, self.datefmt)
        color = self._colors.get(record.levelno)
        record.color = color or ""
        record.end_color = self._normal if color is not None else ""
        text = self._fmt % record.__dict__ if self._fmt is not None else record.message
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            parts = [text.rstrip()]
            parts.extend(_as_text(line) for line in record.exc_text.split("\n"))
            text = "\n".join(parts)
        return text.replace("\n", "\n    ")


def enable_pretty_logging(options: Any = None, logger: logging.Logger | None = None) -> None:
    """Configure ``logger`` from the logging options.

    Sets the level from ``options.logging``; adds a rotating file handler
    at ``options.log_file_prefix`` when that is set (rotating by size or by
    time according to ``options.log_rotate_mode``); and adds a stderr
    handler with a colour-capable `LogFormatter` when ``log_to_stderr`` is
    true, or when it is unset and the logger has no handlers yet.  Does
    nothing when ``options.logging`` is ``None`` or ``"none"`` (any case).

    `embedtornado.options` calls this after each final parse.

    :arg options: an object with the attributes `define_logging_options`
        defines; the global `embedtornado.options.options` by default.
    :arg logger: the logger to configure; the root logger by default.
    :raises ValueError: when ``log_rotate_mode`` is neither ``"size"`` nor
        ``"time"``.
    """
    if options is None:
        import embedtornado.options

        options = embedtornado.options.options
    if options.logging is None or options.logging.lower() == "none":
        return
    if logger is None:
        logger = logging.getLogger()
    logger.setLevel(getattr(logging, options.logging.upper()))
    if options.log_file_prefix:
        from logging import handlers

        mode = options.log_rotate_mode
        channel: logging.Handler
        if mode == "size":
            channel = handlers.RotatingFileHandler(
                filename=options.log_file_prefix,
                maxBytes=options.log_file_max_size,
                backupCount=options.log_file_num_backups,
                encoding="utf-8",
            )
        elif mode == "time":
            channel = handlers.TimedRotatingFileHandler(
                filename=options.log_file_prefix,
                when=options.log_rotate_when,
                interval=options.log_rotate_interval,
                backupCount=options.log_file_num_backups,
                encoding="utf-8",
            )
        else:
            raise ValueError(
                f'The value of log_rotate_mode option should be "size" or "time", not "{mode}".'
            )
        channel.setFormatter(LogFormatter(color=False))
        logger.addHandler(channel)
    if options.log_to_stderr or (options.log_to_stderr is None and not logger.handlers):
        stderr_channel = logging.StreamHandler()
        stderr_channel.setFormatter(LogFormatter())
        logger.addHandler(stderr_channel)


def define_logging_options(options: Any = None) -> None:
    """Define the logging options on ``options`` and hook up
    `enable_pretty_logging` as a parse callback.

    The global `embedtornado.options.options` already has them; call this
    for an `~embedtornado.options.OptionParser` of your own.  The options:

    ``logging`` (str, ``"info"``)
        Level for the root logger; ``none`` leaves logging untouched.
    ``log_to_stderr`` (bool, ``None``)
        Log to stderr; when unset, only if no other handler is configured.
    ``log_file_prefix`` (str, ``None``)
        Path of the log file; no file logging when unset.
    ``log_file_max_size`` (int, ``100000000``)
        Bytes before a size-based rollover.
    ``log_file_num_backups`` (int, ``10``)
        Rotated files to keep.
    ``log_rotate_when`` (str, ``"midnight"``)
        `~logging.handlers.TimedRotatingFileHandler` ``when``.
    ``log_rotate_interval`` (int, ``1``)
        `~logging.handlers.TimedRotatingFileHandler` ``interval``.
    ``log_rotate_mode`` (str, ``"size"``)
        ``"size"`` or ``"time"`` rotation.

    :arg options: the parser to extend; the global one by default.

    .. note:: embedtornado differs from Tornado 6.6.1: the ``--help`` texts
       of these options are worded differently.
    """
    if options is None:
        import embedtornado.options

        options = embedtornado.options.options
    options.define(
        "logging",
        default="info",
        help="Python log level for the root logger; 'none' leaves logging configuration alone.",
        metavar="debug|info|warning|error|none",
    )
    options.define(
        "log_to_stderr",
        type=bool,
        default=None,
        help=(
            "Log to stderr, in colour on a terminal. When unset, stderr is used only "
            "if no log file and no other handler is configured."
        ),
    )
    options.define(
        "log_file_prefix",
        type=str,
        default=None,
        metavar="PATH",
        help=(
            "Write logs to this file (rotated). Each process needs its own path, "
            "e.g. one that includes the port."
        ),
    )
    options.define(
        "log_file_max_size",
        type=int,
        default=100 * 1000 * 1000,
        help="Bytes a log file may reach before it is rotated.",
    )
    options.define(
        "log_file_num_backups",
        type=int,
        default=10,
        help="How many rotated log files to keep.",
    )
    options.define(
        "log_rotate_when",
        type=str,
        default="midnight",
        help="When to rotate in time mode: 'S', 'M', 'H', 'D', 'W0'-'W6' or 'midnight'.",
    )
    options.define(
        "log_rotate_interval",
        type=int,
        default=1,
        help="How many log_rotate_when units between rotations in time mode.",
    )
    options.define(
        "log_rotate_mode",
        type=str,
        default="size",
        help="Rotate log files by 'size' or by 'time'.",
    )
    options.add_parse_callback(lambda: enable_pretty_logging(options))
