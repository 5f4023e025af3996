"""The daemon's options, its config file, and how errors in them are reported.

The config file is Python, read with `embedtornado.options.parse_config_file`
(so it must be root-owned: it is executed).  Every name that matches an
option sets it; the command line then overrides the file::

    # /etc/embedtornado/embedtornado.conf
    port = 8080
    plugins_dir = ["/usr/lib/embedtornado/plugins", "/etc/embedtornado/plugins.d"]
    max_body_size = 4 * 1024 * 1024

    $ embedtornado --config=/etc/embedtornado/embedtornado.conf --port=9000

The file is ``--config``, else ``$EMBEDTORNADO_CONFIG``, else
`DEFAULT_CONFIG` (which may be absent: then the defaults apply).  Relative
paths in path options are relative to the config file's directory.

Every error is a `ConfigError` whose message names the file, the line and
the option (or "the command line")::

    /etc/embedtornado/embedtornado.conf line 4: option 'port': ...
"""

from __future__ import annotations

import ast
import os
import re
import sys
import traceback
from collections.abc import Mapping, Sequence
from typing import Any

from embedtornado import options as _options_module
from embedtornado.options import Error as OptionsError
from embedtornado.options import OptionParser

__all__ = ["DEFAULT_CONFIG", "Config", "ConfigError", "define_daemon_options"]

#: Where the packaged config lives.
DEFAULT_CONFIG = "/etc/embedtornado/embedtornado.conf"

#: Exit status for configuration errors (sysexits' EX_CONFIG); the unit's
#: ``RestartPreventExitStatus=`` keeps systemd from restarting into it.
EX_CONFIG = 78

#: Options whose values are paths, resolved against the config file's directory.
PATH_OPTIONS = ("plugins_dir", "static_path", "template_path", "cookie_secret_file",
                "unix_socket", "certfile", "keyfile", "ssl_certfile", "ssl_keyfile",
                "ssl_client_ca", "database")

#: Options that only take effect at start; a reload that changes them logs so.
#: (Certificate files are read again on every reload; turning HTTPS on or off is not.)
RESTART_OPTIONS = ("port", "address", "unix_socket", "unix_socket_mode", "processes",
                   "backlog", "reuse_port", "ops_port", "ops_address", "https",
                   "redirect_http_port", "database", "database_synchronous")

_GROUPS = ("daemon", "listen", "https", "limits", "application", "plugins", "database",
           "operations")


class ConfigError(Exception):
    """A configuration problem; the message says where (file, line, option)."""


def define_daemon_options(parser: OptionParser) -> None:
    """Define the daemon's options on ``parser`` (once; later calls do nothing)."""
    if "drain_timeout" in parser:
        return
    d = parser.define
    # --- daemon ---------------------------------------------------------------
    d("config", type=str, default=None, metavar="PATH", group="daemon",
      help=f"config file (Python syntax); default $EMBEDTORNADO_CONFIG, else {DEFAULT_CONFIG}")
    d("check_config", type=bool, default=False, group="daemon",
      help="load the config and every plugin, report the first error and exit "
           f"(0 when valid, {EX_CONFIG} otherwise)")
    d("version", type=bool, default=False, group="daemon",
      help="print the version and which compiled modules are live, then exit")
    d("processes", type=int, default=1, group="daemon",
      help="worker processes sharing the sockets (0: one per CPU); reload and the "
           "watchdog need 1 -- prefer one instance per port (embedtornado@.service)")
    d("drain_timeout", type=float, default=10.0, metavar="SECONDS", group="daemon",
      help="on SIGTERM/SIGINT, how long in-flight requests may take to finish before "
           "their connections are closed")
    d("access_log", type=bool, default=True, group="daemon",
      help="log one line per request to embedtornado.access")
    d("journal", type=str, default="auto", metavar="auto|yes|no", group="daemon",
      help="log lines with <N> priority prefixes for journald: auto = when "
           "$JOURNAL_STREAM is stderr")
    # --- listen ---------------------------------------------------------------
    d("port", type=int, default=8080, group="listen",
      help="TCP port (ignored when sockets are passed by socket activation)")
    d("address", type=str, default="", group="listen",
      help="address to bind; empty for every interface")
    d("unix_socket", type=str, default=None, metavar="PATH", group="listen",
      help="listen on this Unix socket instead of address/port")
    d("unix_socket_mode", type=str, default="0660", metavar="OCTAL", group="listen",
      help="permissions of the Unix socket file, in octal")
    d("backlog", type=int, default=128, group="listen", help="listen() backlog")
    d("reuse_port", type=bool, default=False, group="listen",
      help="set SO_REUSEPORT, so several instances can bind one port")
    # --- https --------------------------------------------------------------------
    d("https", type=bool, default=False, group="https",
      help="serve HTTPS on the main listener; without ssl_certfile/ssl_keyfile a "
           "self-signed certificate is made in $STATE_DIRECTORY/tls/ on first start")
    d("ssl_certfile", type=str, default=None, metavar="PATH", group="https",
      help="certificate chain (PEM); setting it turns HTTPS on; read again on SIGHUP")
    d("ssl_keyfile", type=str, default=None, metavar="PATH", group="https",
      help="private key for ssl_certfile (PEM)")
    d("certfile", type=str, default=None, metavar="PATH", group="https",
      help="older name of ssl_certfile")
    d("keyfile", type=str, default=None, metavar="PATH", group="https",
      help="older name of ssl_keyfile")
    d("ssl_client_ca", type=str, default=None, metavar="PATH", group="https",
      help="require client certificates issued by these CAs (PEM)")
    d("ssl_handshake_timeout", type=float, default=10.0, metavar="SECONDS", group="https",
      help="time a client has to send its first byte and finish the TLS handshake")
    d("redirect_http_port", type=int, default=0, group="https",
      help="also listen for plain HTTP on this port, answering only with redirects to "
           "HTTPS (0: off; a socket passed as 'redirect' also does)")
    d("hsts_max_age", type=int, default=0, metavar="SECONDS", group="https",
      help="send Strict-Transport-Security: max-age=SECONDS on HTTPS responses (0: off)")
    # --- limits -------------------------------------------------------------------
    d("max_connections", type=int, default=1000, group="limits",
      help="open connections at most; beyond it new ones get 503 and are closed (0: no limit)")
    d("max_body_size", type=int, default=10 * 1024 * 1024, metavar="BYTES", group="limits",
      help="largest request body (413 beyond it)")
    d("max_header_size", type=int, default=64 * 1024, metavar="BYTES", group="limits",
      help="largest request head (431 beyond it)")
    d("max_request_line", type=int, default=8 * 1024, metavar="BYTES", group="limits",
      help="longest request line (414 beyond it)")
    d("max_header_count", type=int, default=100, group="limits",
      help="most header fields in a request (431 beyond it)")
    d("max_write_buffer", type=int, default=1024 * 1024, metavar="BYTES", group="limits",
      help="output buffered for a slow reader before the connection waits")
    d("chunk_size", type=int, default=64 * 1024, metavar="BYTES", group="limits",
      help="largest body piece handed to a streaming handler")
    d("idle_connection_timeout", type=float, default=60.0, metavar="SECONDS", group="limits",
      help="time allowed for a request head, and for an idle keep-alive connection")
    d("body_timeout", type=float, default=120.0, metavar="SECONDS", group="limits",
      help="time allowed to read a whole request body (0: no limit beyond the idle timeout)")
    d("no_keep_alive", type=bool, default=False, group="limits",
      help="close every connection after one response")
    d("decompress_request", type=bool, default=False, group="limits",
      help="accept gzip-encoded request bodies (the size limit applies decoded)")
    # --- application ----------------------------------------------------------
    d("debug", type=bool, default=False, group="application",
      help="development mode: tracebacks in error pages, no template cache (never on a device)")
    d("xheaders", type=bool, default=False, group="application",
      help="trust X-Real-Ip/X-Forwarded-For/X-Forwarded-Proto (behind a reverse proxy)")
    d("trusted_downstream", type=str, multiple=True, group="application",
      help="proxy addresses skipped in X-Forwarded-For")
    d("static_path", type=str, default=None, metavar="DIR", group="application",
      help="serve this directory under static_url_prefix")
    d("static_url_prefix", type=str, default="/static/", group="application",
      help="URL prefix of static_path")
    d("template_path", type=str, default=None, metavar="DIR", group="application",
      help="templates of handlers whose plugin has no templates/ directory")
    d("cookie_secret", type=str, default=None, group="application",
      help="key for signed cookies; prefer cookie_secret_file")
    d("cookie_secret_file", type=str, default=None, metavar="PATH", group="application",
      help="file holding the cookie key, created (mode 0600, random) on first start; "
           "default $STATE_DIRECTORY/cookie_secret under systemd, else a key per start")
    d("xsrf_cookies", type=bool, default=True, group="application",
      help="require an _xsrf token on POST/PUT/DELETE (plugins may opt out per handler)")
    d("login_url", type=str, default=None, group="application",
      help="where @authenticated handlers send anonymous users")
    d("compress_response", type=bool, default=False, group="application",
      help="gzip responses for clients that accept it")
    # --- plugins --------------------------------------------------------------
    d("plugins_dir", type=str, multiple=True, metavar="DIR[,DIR...]", group="plugins",
      help="directories of plugins (each .py file or package is one); a later "
           "directory's plugin replaces an earlier one of the same name")
    d("plugins", type=str, multiple=True, metavar="NAME[,NAME...]", group="plugins",
      help="load only these plugins (default: every plugin found)")
    d("disable_plugins", type=str, multiple=True, metavar="NAME[,NAME...]", group="plugins",
      help="never load these plugins")
    d("plugin_prefix", type=str, multiple=True, metavar="NAME=/PREFIX[,...]", group="plugins",
      help="mount a plugin's routes under a URL prefix (overrides its url_prefix)")
    d("strict", type=bool, default=False, group="plugins",
      help="refuse to start when a plugin fails; by default the daemon starts without "
           "it and /healthz reports it as failed (--check-config is always strict)")
    d("setup_timeout", type=float, default=30.0, metavar="SECONDS", group="plugins",
      help="how long an async plugin setup() may take")
    # --- database -------------------------------------------------------------
    d("database", type=str, default=None, metavar="PATH", group="database",
      help="SQLite file shared by the plugins (app.db); default "
           "$STATE_DIRECTORY/embedtornado.db under systemd, else no database")
    d("database_synchronous", type=str, default="FULL", metavar="FULL|NORMAL|EXTRA|OFF",
      group="database",
      help="SQLite synchronous level: FULL (a write is on the medium before it is "
           "acknowledged) or NORMAL (faster; the last writes may be lost at power loss)")
    # --- operations -----------------------------------------------------------
    d("healthz", type=bool, default=False, group="operations",
      help="serve /healthz (JSON: plugins, loop lag, uptime)")
    d("metrics", type=bool, default=False, group="operations",
      help="serve /metrics in the Prometheus text format")
    d("ops_port", type=int, default=0, group="operations",
      help="serve /healthz and /metrics on this port instead of the main listener "
           "(a socket passed as 'ops' by socket activation also does)")
    d("ops_address", type=str, default="127.0.0.1", group="operations",
      help="address for ops_port")


def _registry(parser: OptionParser) -> dict[str, Any]:
    # NOTE(daemon): reload needs to forget a plugin's options and restore the
    # previous values when a new config is rejected; options.py has no public
    # API for that, so this module reads the parser's registry directly.
    return parser.__dict__["_options"]


_UNSET = _options_module._Option.UNSET


def snapshot(parser: OptionParser) -> dict[str, tuple[Any, Any]]:
    """Every defined option and its current value (for `restore`)."""
    return {key: (opt, opt._value) for key, opt in _registry(parser).items()}


def restore(parser: OptionParser, state: Mapping[str, tuple[Any, Any]]) -> None:
    """Put the registry back as `snapshot` saw it (definitions and values)."""
    registry = _registry(parser)
    registry.clear()
    for key, (opt, value) in state.items():
        opt._value = value
        registry[key] = opt


def reset_values(parser: OptionParser) -> None:
    """Set every option back to its default (before a config is read again)."""
    for opt in _registry(parser).values():
        opt._value = _UNSET


def assigned_lines(path: str) -> dict[str, int]:
    """Line of the last module-level assignment of each name in a config file."""
    try:
        with open(path, "rb") as f:
            tree = ast.parse(f.read(), path)
    except (OSError, SyntaxError, ValueError):
        return {}
    lines: dict[str, int] = {}
    for node in tree.body:
        targets: list[ast.AST] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        for target in targets:
            for sub in ast.walk(target):
                if isinstance(sub, ast.Name):
                    lines[sub.id] = node.lineno
    return lines


class Config:
    """The options as read from one config file and one command line.

    :arg parser: the `OptionParser` (the global `embedtornado.options.options`
        in the daemon, since plugins `define` their options there).
    :arg argv: the command line, program name first.
    :arg environ: the environment (for ``EMBEDTORNADO_CONFIG``).
    """

    def __init__(self, parser: OptionParser, argv: Sequence[str],
                 environ: Mapping[str, str] | None = None) -> None:
        self.parser = parser
        self.argv = list(argv)
        env = os.environ if environ is None else environ
        self.path, self.path_explicit = self._find_path(env)
        self.lines: dict[str, int] = {}
        self.cmdline_names: set[str] = set()

    def _find_path(self, env: Mapping[str, str]) -> tuple[str | None, bool]:
        for arg in self.argv[1:]:
            name, has_value, value = arg.lstrip("-").partition("=")
            if arg.startswith("-") and name.replace("-", "_") == "config" and has_value:
                return os.path.abspath(value), True
        if env.get("EMBEDTORNADO_CONFIG"):
            return os.path.abspath(env["EMBEDTORNADO_CONFIG"]), True
        if os.path.exists(DEFAULT_CONFIG):
            return DEFAULT_CONFIG, False
        return None, False

    @property
    def base_dir(self) -> str:
        """Directory that relative paths are resolved against."""
        return os.path.dirname(self.path) if self.path else os.getcwd()

    def where(self, name: str) -> str:
        """Where option ``name`` got its value: ``FILE line N``, the command line, or default."""
        key = name.replace("-", "_")
        if key in self.cmdline_names:
            return "the command line"
        if self.path and key in self.lines:
            return f"{self.path} line {self.lines[key]}"
        return "the default"

    def error(self, name: str, message: str) -> ConfigError:
        """A `ConfigError` about option ``name``, located with `where`."""
        return ConfigError(f"{self.where(name)}: option {name!r}: {message}")

    def read(self, known_only: bool) -> None:
        """Read the config file, then the command line, into the parser.

        :arg known_only: skip command-line options the parser does not know
            yet (the first pass, before plugins have defined theirs).
        :raises ConfigError: naming file, line and option.
        """
        parser = self.parser
        if self.path is not None:
            if not os.path.isfile(self.path):
                raise ConfigError(f"config file {self.path} does not exist")
            self.lines = assigned_lines(self.path)
            try:
                parser.parse_config_file(self.path, final=False)
            except OptionsError as exc:
                raise ConfigError(self._with_option(str(exc))) from None
            except OSError as exc:
                raise ConfigError(f"cannot read config file {self.path}: {exc}") from None
            except Exception as exc:
                raise ConfigError(self._exec_error(exc)) from None
        args = [self.argv[0] if self.argv else "embedtornado"]
        for arg in self.argv[1:]:
            if not arg.startswith("-") or arg == "--":
                raise ConfigError(f"the command line: unexpected argument {arg!r} "
                                  "(options are written --name=value)")
            name = arg.lstrip("-").partition("=")[0].replace("-", "_")
            if known_only and name not in parser:
                continue
            if name not in parser:
                raise ConfigError(f"the command line: unknown option --{name} "
                                  "(see --help)")
            self.cmdline_names.add(name)
            args.append(arg)
        try:
            parser.parse_command_line(args, final=False)
        except OptionsError as exc:
            raise ConfigError(f"the command line: {exc}") from None

    def _with_option(self, message: str) -> str:
        # options.py says "Option 'port' is required to be a int (str given) in
        # FILE line N[: reason]"; lead with the location, as every message here does.
        m = re.match(r"(?s)(Option .*?) in (%s(?: line \d+)?)(: .*)?$" % re.escape(str(self.path)),
                     message)
        if m is None:
            return message if str(self.path) in message else f"{self.path}: {message}"
        return f"{m.group(2)}: {m.group(1)}{m.group(3) or ''}"

    def _exec_error(self, exc: BaseException) -> str:
        line = None
        for frame in traceback.extract_tb(exc.__traceback__):
            if frame.filename == self.path:
                line = frame.lineno
        where = f"{self.path} line {line}" if line else str(self.path)
        return f"{where}: {type(exc).__name__}: {exc}"

    def resolve(self, value: str | None) -> str | None:
        """An absolute path for a path option's value (relative to `base_dir`)."""
        if not value:
            return value
        value = os.path.expanduser(value)
        return value if os.path.isabs(value) else os.path.normpath(
            os.path.join(self.base_dir, value))

    def validate(self) -> None:
        """Check values the option types cannot (ranges, octal modes, paths).

        :raises ConfigError: the first problem, naming file, line and option.
        """
        o = self.parser
        if not 0 <= o.port <= 65535:
            raise self.error("port", f"must be 0-65535, not {o.port}")
        if not 0 <= o.ops_port <= 65535:
            raise self.error("ops_port", f"must be 0-65535, not {o.ops_port}")
        try:
            mode = int(str(o.unix_socket_mode), 8)
            if not 0 <= mode <= 0o7777:
                raise ValueError
        except ValueError:
            raise self.error("unix_socket_mode",
                             f"must be an octal mode such as '0660', not {o.unix_socket_mode!r}"
                             ) from None
        for name in ("drain_timeout", "idle_connection_timeout", "body_timeout",
                     "setup_timeout"):
            if o[name] < 0:
                raise self.error(name, f"must not be negative, not {o[name]}")
        for name in ("max_body_size", "max_header_size", "max_request_line",
                     "max_header_count", "max_write_buffer", "chunk_size", "backlog"):
            if o[name] <= 0:
                raise self.error(name, f"must be positive, not {o[name]}")
        if o.max_connections < 0:
            raise self.error("max_connections", "must be 0 (no limit) or positive")
        if o.processes < 0:
            raise self.error("processes", "must be 0 (one per CPU) or positive")
        if str(o.journal).lower() not in ("auto", "yes", "no", "true", "false"):
            raise self.error("journal", f"must be auto, yes or no, not {o.journal!r}")
        level = str(o.logging).lower() if o.logging is not None else "none"
        if level not in ("debug", "info", "warning", "error", "critical", "none"):
            raise self.error("logging", f"unknown level {o.logging!r}")
        for directory in o.plugins_dir:
            path = self.resolve(directory)
            if not os.path.isdir(str(path)):
                raise self.error("plugins_dir", f"plugins directory {path} does not exist")
        for name in ("static_path", "template_path"):
            path = self.resolve(o[name])
            if path and not os.path.isdir(path):
                raise self.error(name, f"directory {path} does not exist")
        for new, old in (("ssl_certfile", "certfile"), ("ssl_keyfile", "keyfile")):
            if o[new] and o[old] and self.resolve(o[new]) != self.resolve(o[old]):
                raise self.error(new, f"{new} and its older name {old} are both set, "
                                      "differently")
        cert, key = o.ssl_certfile or o.certfile, o.ssl_keyfile or o.keyfile
        if bool(cert) != bool(key):
            name = ("ssl_certfile" if o.ssl_certfile else "certfile") if cert else (
                "ssl_keyfile" if o.ssl_keyfile else "keyfile")
            raise self.error(name, "ssl_certfile and ssl_keyfile must be given together")
        for name in ("ssl_certfile", "ssl_keyfile", "certfile", "keyfile", "ssl_client_ca"):
            path = self.resolve(o[name])
            if path and not os.path.isfile(path):
                raise self.error(name, f"file {path} does not exist")
        if o.ssl_handshake_timeout <= 0:
            raise self.error("ssl_handshake_timeout",
                             f"must be positive, not {o.ssl_handshake_timeout}")
        if not 0 <= o.redirect_http_port <= 65535:
            raise self.error("redirect_http_port",
                             f"must be 0-65535, not {o.redirect_http_port}")
        if o.hsts_max_age < 0:
            raise self.error("hsts_max_age", f"must not be negative, not {o.hsts_max_age}")
        if str(o.database_synchronous).upper() not in ("FULL", "NORMAL", "EXTRA", "OFF"):
            raise self.error("database_synchronous",
                             f"must be FULL, NORMAL, EXTRA or OFF, not {o.database_synchronous!r}")
        for entry in o.plugin_prefix:
            plugin, sep, prefix = entry.partition("=")
            if not sep or not plugin or not prefix.startswith("/"):
                raise self.error("plugin_prefix",
                                 f"entries are NAME=/prefix, not {entry!r}")


def print_version(out: Any = None) -> None:
    """Print the version line (``--version``)."""
    import embedtornado

    live = ", ".join(f"{k}={v}" for k, v in embedtornado.speedups().items())
    print(f"embedtornado {embedtornado.version} (Tornado API {embedtornado.tornado_version};"
          f" {live})", file=out or sys.stdout)
