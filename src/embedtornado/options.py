"""Command-line and config-file options that any module can declare.

Options live in one registry (`options`), so the module that uses a setting
also declares it, and ``main()`` only has to parse.  This is the API of
``tornado.options``; a program ports by changing the import::

    # myapp/server.py
    from embedtornado.options import define, options

    define("port", default=8080, help="TCP port to serve on")
    define("backends", default=["127.0.0.1:9000"], multiple=True,
           help="upstream servers")

    def start() -> None:
        make_app().listen(options.port)

    # myapp/__main__.py
    import embedtornado.options
    import myapp.server

    if __name__ == "__main__":
        rest = embedtornado.options.parse_command_line()
        # or: embedtornado.options.parse_config_file("/etc/myapp.conf")
        myapp.server.start()

``python -m myapp --port=8000 --backends=10.0.0.1:9000,10.0.0.2:9000`` then
sets both options.  Every module that defines options must be imported before
parsing.  Names may be written with dashes or underscores, interchangeably:
``--log-file-prefix`` and ``log_file_prefix`` are the same option.

Each value is converted by its option's type: `str`, `int`, `float`, `bool`,
`~datetime.datetime` or `~datetime.timedelta` (or any callable that takes a
string).  ``multiple=True`` options take comma-separated lists; integer ones
also take inclusive ranges such as ``8000:8003``.

The global `options` also carries the logging options from
`embedtornado.log.define_logging_options` (``--logging=debug``,
``--log_file_prefix=...``); the first final parse configures the root logger.
Pass ``--logging=none`` (or set ``options.logging = None``) to keep your own
logging setup.  When several ``parse_*`` calls are combined, pass
``final=False`` to all but the last one so that parse callbacks run once.

Additional `OptionParser` instances hold independent sets of options, for
example one per subcommand.
"""

from __future__ import annotations

import ast
import datetime
import numbers
import os
import re
import sys
import textwrap
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TextIO

from embedtornado.log import define_logging_options

__all__ = [
    "Error",
    "OptionParser",
    "add_parse_callback",
    "define",
    "options",
    "parse_command_line",
    "parse_config_file",
    "print_help",
]


class Error(Exception):
    """Raised for every problem the options module reports.

    .. note:: embedtornado differs from Tornado 6.6.1: a value that does not
       parse as its option's type raises an `Error` that is also a
       `ValueError`, and a config file with bad syntax raises an `Error` that
       is also a `SyntaxError`.  Tornado lets the bare `ValueError`,
       `SyntaxError` (or, for a bad time interval, a message-less
       `Exception`) through; code catching any of those still works.
    """


class _BadValueError(Error, ValueError):
    """A string that does not convert to its option's type.

    :arg head: what was expected, e.g. ``Option 'port' is required to be a
        int (str given)``.
    :arg reason: why the conversion failed, appended after a colon.
    """

    def __init__(self, head: str, reason: str = "") -> None:
        super().__init__(f"{head}: {reason}" if reason else head)
        self.head = head
        self.reason = reason


class _ConfigSyntaxError(Error, SyntaxError):
    """A config file that is not valid Python."""


def _code_file() -> str:
    return _code_file.__code__.co_filename


_OWN_FILE = _code_file()


class OptionParser:
    """A registry of defined options, read like an object or a dict.

    ``parser.port``, ``parser["port"]`` and ``parser["po-rt"]``-style access
    all normalise the name first, so dashes and underscores are the same.
    Reading or setting a name that was never defined raises `AttributeError`.

    The module-level functions (`define`, `parse_command_line`, ...) act on
    the global instance `options`; build your own `OptionParser` for a
    separate namespace.
    """

    _options: dict[str, _Option]
    _parse_callbacks: list[Callable[[], None]]

    def __init__(self) -> None:
        # Plain attributes go straight into __dict__: __setattr__ is reserved
        # for option values.
        self.__dict__["_options"] = {}
        self.__dict__["_parse_callbacks"] = []
        self.define(
            "help",
            type=bool,
            help="show this help information",
            callback=self._help_callback,
        )

    @staticmethod
    def _normalize_name(name: str) -> str:
        return name.replace("_", "-")

    def _lookup(self, name: str) -> _Option:
        key = self._normalize_name(name)
        found = self.__dict__.get("_options", {}).get(key)
        if not isinstance(found, _Option):
            raise AttributeError(f"Unrecognized option {key!r}")
        return found

    def __getattr__(self, name: str) -> Any:
        return self._lookup(name).value()

    def __setattr__(self, name: str, value: Any) -> None:
        self._lookup(name).set(value)

    def __getitem__(self, name: str) -> Any:
        return self._lookup(name).value()

    def __setitem__(self, name: str, value: Any) -> None:
        self._lookup(name).set(value)

    def __contains__(self, name: str) -> bool:
        return self._normalize_name(name) in self._options

    def __iter__(self) -> Iterator[str]:
        """Yield each option's name as it was spelled in `define`."""
        return iter([opt.name for opt in self._options.values()])

    def items(self) -> Iterable[tuple[str, Any]]:
        """Return ``(name, value)`` pairs for every option.

        .. versionadded:: 3.1
        """
        return [(opt.name, opt.value()) for opt in self._options.values()]

    def groups(self) -> set[str]:
        """Return the set of group names (the ``group`` given to `define`, or
        the defining file when none was given).

        .. versionadded:: 3.1
        """
        return {opt.group_name for opt in self._options.values()}

    def group_dict(self, group: str) -> dict[str, Any]:
        """Return ``{name: value}`` for the options in one group.

        An empty ``group`` selects every option.  Handy for feeding a group
        straight into application settings::

            define("debug", default=False, group="application")
            define("static_path", group="application")
            parse_command_line()
            app = Application(routes, **options.group_dict("application"))

        :arg group: the group name to select.

        .. versionadded:: 3.1
        """
        return {
            opt.name: opt.value()
            for opt in self._options.values()
            if not group or opt.group_name == group
        }

    def as_dict(self) -> dict[str, Any]:
        """Return ``{name: value}`` for every option.

        .. versionadded:: 3.1
        """
        return {opt.name: opt.value() for opt in self._options.values()}

    def define(
        self,
        name: str,
        default: Any = None,
        type: type | None = None,
        help: str | None = None,
        metavar: str | None = None,
        multiple: bool = False,
        group: str | None = None,
        callback: Callable[[Any], None] | None = None,
    ) -> None:
        """Declare a new option.

        :arg name: the option's name; dashes and underscores are
            interchangeable, and the name must be unique in this parser.
        :arg default: the value before anything sets it.  For
            ``multiple=True`` a missing default becomes an empty list.
        :arg type: `str`, `int`, `float`, `bool`, `~datetime.datetime`,
            `~datetime.timedelta`, or any callable taking one string.  When
            omitted, the type of ``default`` is used if there is a default
            and the option is not ``multiple``; otherwise `str`.
        :arg help: one-line description for `print_help`.
        :arg metavar: placeholder shown as ``--name=METAVAR`` in the help.
        :arg multiple: the value is a list of ``type``; on the command line
            it is written comma-separated (integers also accept ``lo:hi``
            ranges, both ends included).
        :arg group: heading under which `print_help` lists the option, and
            the key for `group_dict`.  Defaults to the file that called
            `define`.
        :arg callback: called with the new value each time the option is
            set or parsed.  For instance a ``--config`` option can load a
            file as soon as it is seen::

                define("config", type=str,
                       callback=lambda path: parse_config_file(path, final=False))

        Defining a name twice raises `Error` naming where the first
        definition was made.

        .. note:: embedtornado differs from Tornado 6.6.1: the duplicate
           definition message gives ``file:line`` rather than the file only.
        """
        key = self._normalize_name(name)
        if key in self._options:
            raise Error(f"Option {key!r} already defined in {self._options[key].defined_at}")
        caller = sys._getframe(1)
        if (
            caller.f_code.co_filename == _OWN_FILE
            and caller.f_code.co_name == "define"
            and caller.f_back is not None
        ):
            # Called through the module-level define(): look one frame further.
            caller = caller.f_back
        where = caller.f_code.co_filename
        defined_at = f"{where}:{caller.f_lineno}"
        # Options the parser defines for itself (``help``) have no file.
        file_name = "" if where == _OWN_FILE else where
        if type is None:
            type = str if multiple or default is None else default.__class__
        self._options[key] = _Option(
            name,
            default=default,
            type=type,
            help=help,
            metavar=metavar,
            multiple=multiple,
            file_name=file_name,
            group_name=group or file_name,
            callback=callback,
            defined_at=defined_at,
        )

    def parse_command_line(self, args: list[str] | None = None, final: bool = True) -> list[str]:
        """Set options from command-line arguments and return the rest.

        ``args[0]`` is skipped as the program name (``args`` defaults to
        `sys.argv`).  Each following argument of the form ``--name=value``
        (any number of leading dashes) sets an option; a `bool` option may
        drop ``=value`` to mean true.  Parsing stops at the first argument
        that does not start with ``-`` or just after a ``--``; the arguments
        from there on are returned.

        An unknown name prints the help to stderr and raises `Error`; so does
        a missing value for a non-boolean option (without the help).
        ``--help`` prints the help and exits with status 0.

        :arg args: the argument vector, program name first.
        :arg final: when true (the default), run the parse callbacks
            (`add_parse_callback`) afterwards.  Pass ``False`` when another
            source of options will be parsed later.
        :returns: the arguments that were not options.
        """
        argv = sys.argv if args is None else args
        rest: list[str] = []
        for index in range(1, len(argv)):
            arg = argv[index]
            if not arg.startswith("-"):
                rest = argv[index:]
                break
            if arg == "--":
                rest = argv[index + 1 :]
                break
            raw_name, has_value, text = arg.lstrip("-").partition("=")
            key = self._normalize_name(raw_name)
            option = self._options.get(key)
            if option is None:
                self.print_help()
                raise Error(f"Unrecognized command line option: {key!r}")
            if not has_value:
                if option.type is not bool:
                    raise Error(f"Option {key!r} requires a value")
                text = "true"
            option.parse(text)
        if final:
            self.run_parse_callbacks()
        return rest

    def parse_config_file(self, path: str, final: bool = True) -> None:
        """Set options from a Python file.

        The file (read as UTF-8) is executed as Python with ``__file__`` set
        to its absolute path, so it must be trusted.  Afterwards each global
        name that matches a defined option sets that option; other names are
        ignored.  A value may have the option's type (a list for
        ``multiple`` options) or be a string, which is converted as on the
        command line::

            port = 8000
            started = "2024-01-31 09:00"
            backends = ["10.0.0.1:9000", "10.0.0.2:9000"]
            backends = "10.0.0.1:9000,10.0.0.2:9000"   # same thing

        :arg path: the file to execute.
        :arg final: when true (the default), run the parse callbacks
            afterwards.
        :raises Error: for a value of the wrong type or a string that does
            not convert, naming the option, the file and the line that
            assigned it; and for a syntax error, naming file and line.

        .. note:: embedtornado differs from Tornado 6.6.1: the file is
           compiled under its own path rather than ``<string>``, so
           tracebacks point into it; bad values and syntax errors raise
           `Error` with the file and line in the message (see `Error`).
        """
        location = os.path.abspath(path)
        with open(path, "rb") as f:
            source = f.read().decode("utf-8")
        try:
            tree = ast.parse(source, location)
            code = compile(tree, location, "exec", dont_inherit=True)
        except SyntaxError as exc:
            where = location if exc.lineno is None else f"{location} line {exc.lineno}"
            raise _ConfigSyntaxError(f"Syntax error in {where}: {exc.msg}") from exc
        namespace: dict[str, Any] = {"__file__": location}
        exec(code, namespace, namespace)
        for name, value in list(namespace.items()):
            option = self._options.get(self._normalize_name(name))
            if option is None:
                continue
            try:
                converted = option.coerce_config_value(value)
            except Error as exc:
                line = _binding_lines(tree).get(name)
                where = location if line is None else f"{location} line {line}"
                if isinstance(exc, _BadValueError):
                    raise _BadValueError(f"{exc.head} in {where}", exc.reason) from exc
                raise Error(f"{exc} in {where}") from exc
            option.assign(converted)
        if final:
            self.run_parse_callbacks()

    def print_help(self, file: TextIO | None = None) -> None:
        """Write a usage summary of all options.

        Options are grouped by their ``group`` (by default the defining
        file), groups in sorted order, options sorted by name inside each.
        Every line shows ``--name[=METAVAR]``, the help text and the default.

        :arg file: where to write; `sys.stderr` when omitted.
        """
        out = sys.stderr if file is None else file
        print(f"Usage: {sys.argv[0]} [OPTIONS]", file=out)
        print("\nOptions:\n", file=out)
        grouped: dict[str, list[_Option]] = {}
        for opt in self._options.values():
            grouped.setdefault(opt.group_name, []).append(opt)
        for group_name in sorted(grouped):
            if group_name:
                print(f"\n{os.path.normpath(group_name)} options:\n", file=out)
            for opt in sorted(grouped[group_name], key=lambda o: o.name):
                print("\n".join(_help_lines(opt)), file=out)
        print(file=out)

    def _help_callback(self, value: bool) -> None:
        if value:
            self.print_help()
            sys.exit(0)

    def add_parse_callback(self, callback: Callable[[], None]) -> None:
        """Register ``callback`` to run after each final parse.

        :arg callback: called with no arguments.
        """
        self._parse_callbacks.append(callback)

    def run_parse_callbacks(self) -> None:
        """Run every parse callback, in registration order."""
        for callback in self._parse_callbacks:
            callback()

    def mockable(self) -> _Mockable:
        """Return a proxy that `unittest.mock.patch.object` can patch.

        `mock.patch` restores an attribute by deleting it, which an
        `OptionParser` does not support; the proxy turns that deletion back
        into setting the saved value::

            with mock.patch.object(options.mockable(), "port", 9999):
                assert options.port == 9999
        """
        return _Mockable(self)


class _Mockable:
    """Proxy over an `OptionParser` whose ``delattr`` restores a value.

    Each name may be set once per proxy; deleting it sets the value it had
    before.
    """

    _options: OptionParser
    _originals: dict[str, Any]

    def __init__(self, options: OptionParser) -> None:
        self.__dict__["_options"] = options
        self.__dict__["_originals"] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._options, name)

    def __setattr__(self, name: str, value: Any) -> None:
        assert name not in self._originals, "don't reuse mockable objects"
        self._originals[name] = getattr(self._options, name)
        setattr(self._options, name, value)

    def __delattr__(self, name: str) -> None:
        setattr(self._options, name, self._originals.pop(name))


def _help_lines(opt: _Option) -> list[str]:
    """Render one option for `OptionParser.print_help`."""
    flag = OptionParser._normalize_name(opt.name)
    if opt.metavar:
        flag = f"{flag}={opt.metavar}"
    text = opt.help or ""
    if opt.default is not None and opt.default != "":
        text = f"{text} (default {opt.default})"
    # Flag column: 2 spaces, "--", 30 characters, a space; text wraps in 44.
    wrapped = textwrap.wrap(text, 44)
    if not wrapped or len(flag) > 30:
        wrapped.insert(0, "")
    lines = ["  --" + flag.ljust(30) + " " + wrapped[0]]
    lines.extend(" " * 35 + more for more in wrapped[1:])
    return lines


def _binding_lines(tree: ast.Module) -> dict[str, int]:
    """Map each name bound at module level in ``tree`` to its last binding line.

    Nested function, class, lambda and comprehension scopes are not entered.
    """
    lines: dict[str, int] = {}
    stack: list[ast.AST] = [tree]
    # Depth-first, children in source order: a later binding overwrites.
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            lines[node.id] = node.lineno
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            lines[node.name] = node.lineno
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                lines[alias.asname or alias.name.split(".")[0]] = node.lineno
            continue
        if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            continue
        stack.extend(reversed(list(ast.iter_child_nodes(node))))
    return lines


# Formats tried, in order, for datetime options.
_DATETIME_FORMATS = (
    "%a %b %d %H:%M:%S %Y",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y%m%d %H:%M:%S",
    "%Y%m%d %H:%M",
    "%Y-%m-%d",
    "%Y%m%d",
    "%H:%M:%S",
    "%H:%M",
)

# Short unit names for timedelta options; the full keyword names of
# datetime.timedelta ("hours", "weeks", ...) are accepted as they are.
_TIMEDELTA_UNITS = {
    "w": "weeks",
    "d": "days",
    "h": "hours",
    "m": "minutes",
    "min": "minutes",
    "s": "seconds",
    "sec": "seconds",
    "ms": "milliseconds",
    "us": "microseconds",
}

# One "<number><unit>" term of an interval such as "1h 30m" or "2.5e3ms";
# the unit is a run of word characters, so "1h30m" is one (unknown) unit.
# (compiled on first use, from re's own cache after that: most programs
# define no timedelta option)
_INTERVAL_TERM = r"\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*(\w*)\s*"

# Spellings (case-insensitive) that make a bool option false; all else is true.
_FALSE_WORDS = frozenset({"false", "0", "f"})


def _parse_datetime(text: str) -> datetime.datetime:
    for fmt in _DATETIME_FORMATS:
        try:
            return datetime.datetime.strptime(text, fmt)
        except ValueError:
            pass
    raise _BadValueError(f"Unrecognized date/time format: {text!r}")


def _parse_timedelta(text: str) -> datetime.timedelta:
    total = datetime.timedelta()
    pos = 0
    while pos < len(text):
        term = re.compile(_INTERVAL_TERM, re.IGNORECASE).match(text, pos)
        if term is None:
            raise _BadValueError(f"Unrecognized time interval: {text!r}")
        unit = term.group(2) or "seconds"
        unit = _TIMEDELTA_UNITS.get(unit, unit)
        try:
            total += datetime.timedelta(**{unit: float(term.group(1))})
        except (TypeError, OverflowError) as exc:
            raise _BadValueError(f"Unrecognized time interval: {text!r} ({exc})") from exc
        pos = term.end()
    return total


def _parse_bool(text: str) -> bool:
    return text.lower() not in _FALSE_WORDS


def _parse_str(text: str) -> str:
    return text


_PARSERS: dict[Any, Callable[[str], Any]] = {
    datetime.datetime: _parse_datetime,
    datetime.timedelta: _parse_timedelta,
    bool: _parse_bool,
    str: _parse_str,
}


class _Option:
    """One defined option: its declaration and current value."""

    UNSET: Any = object()

    def __init__(
        self,
        name: str,
        default: Any = None,
        type: type | None = None,
        help: str | None = None,
        metavar: str | None = None,
        multiple: bool = False,
        file_name: str | None = None,
        group_name: str | None = None,
        callback: Callable[[Any], None] | None = None,
        defined_at: str | None = None,
    ) -> None:
        if type is None:
            raise ValueError("type must not be None")
        self.name = name
        self.type = type
        self.help = help
        self.metavar = metavar
        self.multiple = multiple
        self.file_name = file_name or ""
        self.group_name = group_name or ""
        self.callback = callback
        self.default = [] if default is None and multiple else default
        self.defined_at = defined_at or "<unknown>"
        self._value: Any = _Option.UNSET

    def value(self) -> Any:
        """Return the value last set, or the default."""
        return self.default if self._value is _Option.UNSET else self._value

    def _type_phrase(self) -> str:
        if self.multiple:
            return f"a list of {self.type.__name__}"
        return f"a {self.type.__name__}"

    def convert(self, text: str) -> Any:
        """Convert command-line ``text`` to this option's value, or raise
        `Error` (also a `ValueError`) saying what went wrong."""
        parse = _PARSERS.get(self.type, self.type)
        try:
            if not self.multiple:
                return parse(text)
            values: list[Any] = []
            for part in text.split(","):
                if issubclass(self.type, numbers.Integral):
                    # "lo:hi" is an inclusive range; "n" alone is "n:n".
                    lo_text, _, hi_text = part.partition(":")
                    lo = parse(lo_text)
                    hi = parse(hi_text) if hi_text else lo
                    values.extend(range(lo, hi + 1))
                else:
                    values.append(parse(part))
            return values
        except ValueError as exc:
            raise _BadValueError(
                f"Option {self.name!r} is required to be {self._type_phrase()} (str given)",
                str(exc),
            ) from exc

    def check(self, value: Any) -> None:
        """Raise `Error` unless ``value`` may be assigned as it is."""
        if self.multiple:
            if not isinstance(value, list) or any(
                item is not None and not isinstance(item, self.type) for item in value
            ):
                raise Error(f"Option {self.name!r} is required to be {self._type_phrase()}")
        elif value is not None and not isinstance(value, self.type):
            raise Error(
                f"Option {self.name!r} is required to be {self._type_phrase()} "
                f"({type(value).__name__} given)"
            )

    def coerce_config_value(self, value: Any) -> Any:
        """Turn a config-file global into this option's value.

        Strings are converted as on the command line (except for a plain
        `str` option); anything else must already have the right type.
        """
        if self.multiple and not isinstance(value, (list, str)):
            raise Error(
                f"Option {self.name!r} is required to be a list of {self.type.__name__} "
                "or a comma-separated string"
            )
        if type(value) is str and (self.multiple or self.type is not str):
            return self.convert(value)
        self.check(value)
        return value

    def assign(self, value: Any) -> None:
        """Store an already-checked value and run the option's callback."""
        self._value = value
        if self.callback is not None:
            self.callback(value)

    def parse(self, value: str) -> Any:
        """Convert ``value`` from its command-line spelling and store it.

        .. note:: embedtornado differs from Tornado 6.6.1: a ``multiple``
           option keeps its old value when one item fails to convert.
        """
        self.assign(self.convert(value))
        return self.value()

    def set(self, value: Any) -> None:
        """Check and store ``value``.

        .. note:: embedtornado differs from Tornado 6.6.1: the wrong-type
           message gives the type's name (``str given``), not its repr.
        """
        self.check(value)
        self.assign(value)


options = OptionParser()
"""The global `OptionParser`; every option defined with `define` is an
attribute of it."""


def define(
    name: str,
    default: Any = None,
    type: type | None = None,
    help: str | None = None,
    metavar: str | None = None,
    multiple: bool = False,
    group: str | None = None,
    callback: Callable[[Any], None] | None = None,
) -> None:
    """Declare an option on the global `options`; see `OptionParser.define`."""
    options.define(
        name,
        default=default,
        type=type,
        help=help,
        metavar=metavar,
        multiple=multiple,
        group=group,
        callback=callback,
    )


def parse_command_line(args: list[str] | None = None, final: bool = True) -> list[str]:
    """Parse the command line into the global `options`; see
    `OptionParser.parse_command_line`."""
    return options.parse_command_line(args, final=final)


def parse_config_file(path: str, final: bool = True) -> None:
    """Load a config file into the global `options`; see
    `OptionParser.parse_config_file`."""
    options.parse_config_file(path, final=final)


def print_help(file: TextIO | None = None) -> None:
    """Print the global options' help (to stderr by default); see
    `OptionParser.print_help`."""
    options.print_help(file)


def add_parse_callback(callback: Callable[[], None]) -> None:
    """Register a callback on the global `options`; see
    `OptionParser.add_parse_callback`."""
    options.add_parse_callback(callback)


# The global parser carries the logging options, as in Tornado.
define_logging_options(options)
