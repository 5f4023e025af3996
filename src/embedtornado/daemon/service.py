"""The running daemon: application generations, listeners, signals, drain.

`Daemon` owns the listening sockets and the `HTTPServer`; the application
(routes of every plugin, settings from the config) is a *generation* that a
reload replaces while the sockets and the connections stay::

    SIGHUP   -> RELOADING=1 + MONOTONIC_USEC, build a new generation from the
                config file and plugins; on success new requests go to it
                (requests in flight finish on the old one); on any error the
                old generation keeps serving and the error is logged and sent
                as STATUS=.  Then READY=1.
    SIGTERM, SIGINT
             -> STOPPING=1, stop listening, close idle keep-alive connections,
                let each request in flight finish (its connection closes after
                the response), close WebSockets with 1001; after
                ``drain_timeout`` whatever is left is closed.  Exit status 0.
                A second SIGINT closes everything at once.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import ssl
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import embedtornado
from embedtornado import httputil, netutil
from embedtornado.daemon import config as _config
from embedtornado.daemon import plugins as _plugins
from embedtornado.daemon import tls as _tls
from embedtornado.daemon.config import Config, ConfigError
from embedtornado.daemon.journal import configure_logging
from embedtornado.daemon.ops import Metrics, ops_routes
from embedtornado.daemon.plugins import Plugin, PluginError, PluginSet
from embedtornado.daemon.sdnotify import Notifier, monotonic_usec
from embedtornado.httpserver import HTTPServer
from embedtornado.log import access_log, gen_log
from embedtornado.options import OptionParser

__all__ = ["Daemon", "Generation", "load_generation"]


@dataclass
class Generation:
    """One loaded configuration: its application and plugins."""

    app: Any
    plugins: PluginSet
    settings: dict[str, Any] = field(default_factory=dict)
    number: int = 0


# --- building a generation -------------------------------------------------------------


def _websocket_base() -> type | None:
    """`embedtornado.websocket.WebSocketHandler` if this tree has it."""
    try:
        from embedtornado.websocket import WebSocketHandler
    except ImportError:
        return None
    return WebSocketHandler  # type: ignore[no-any-return]


def _wrapper(daemon: Daemon | None) -> Callable[[Plugin, Any], Any]:
    """Returns ``wrap(plugin, target)`` for `plugins.build_rules`.

    A handler class is subclassed (under the same name) so that it renders
    from its plugin's templates, links its plugin's static files, reports
    its plugin in /metrics, and (WebSocket handlers) is counted and closed
    with 1001 at shutdown.  The plugin's own class is never modified.
    """
    from embedtornado.web import RequestHandler
    from embedtornado.web.static import StaticFileHandler

    ws_base = _websocket_base()
    cache: dict[tuple[str, Any], Any] = {}

    def wrap(plugin: Plugin, target: Any) -> Any:
        if not (isinstance(target, type) and issubclass(target, RequestHandler)):
            return target
        key = (plugin.name, target)
        if key in cache:
            return cache[key]
        templates, static = _plugins.plugin_dirs(plugin)
        static_prefix = f"{plugin.prefix or '/plugins/' + plugin.name}/static/"
        ns: dict[str, Any] = {
            "__module__": target.__module__,
            "__qualname__": target.__qualname__,
            "__doc__": target.__doc__,
            "_et_metric_name": f"{plugin.name}.{target.__name__}",
        }
        if templates and target.get_template_path is RequestHandler.get_template_path:
            ns["get_template_path"] = lambda self: templates
        if static and target.static_url is RequestHandler.static_url:
            static_settings = {"static_path": static, "static_url_prefix": static_prefix}

            def static_url(self: Any, path: str, include_host: bool | None = None,
                           **kwargs: Any) -> str:
                if include_host is None:
                    include_host = getattr(self, "include_host", False)
                base = self.request.protocol + "://" + self.request.host if include_host else ""
                return base + StaticFileHandler.make_static_url(static_settings, path, **kwargs)

            ns["static_url"] = static_url
        if ws_base is not None and daemon is not None and issubclass(target, ws_base):
            registry = daemon.websockets

            def open(self: Any, *args: Any, **kwargs: Any) -> Any:
                registry.add(self)
                return target.open(self, *args, **kwargs)  # type: ignore[attr-defined]

            def on_close(self: Any) -> Any:
                registry.discard(self)
                return target.on_close(self)  # type: ignore[attr-defined]

            ns["open"] = open
            ns["on_close"] = on_close
        cls = type(target.__name__, (target,), ns)
        cache[key] = cls
        return cls

    return wrap


def cookie_secret(o: OptionParser, cfg: Config, environ: dict[str, str],
                  create: bool = True) -> tuple[str, str]:
    """The cookie key and where it came from.

    ``cookie_secret`` if set; else the file ``cookie_secret_file`` (default
    ``$STATE_DIRECTORY/cookie_secret`` under systemd), created with a random
    key, mode 0600, if missing (unless ``create`` is false: ``--check-config``
    and ``--help`` change nothing); else a random key for this run only.
    """
    if o.cookie_secret:
        return o.cookie_secret, "cookie_secret"
    path = cfg.resolve(o.cookie_secret_file)
    if not path and environ.get("STATE_DIRECTORY"):
        path = os.path.join(environ["STATE_DIRECTORY"].split(":")[0], "cookie_secret")
    if not path:
        return secrets.token_urlsafe(32), "random (for this run only)"
    if not create and not os.path.exists(path):
        return secrets.token_urlsafe(32), f"{path} (to be created)"
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                         | os.O_CLOEXEC, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(48) + "\n")
            gen_log.info("Created cookie secret file %s (mode 0600)", path)
        with open(path, encoding="utf-8") as f:
            secret = f.read().strip()
        mode = os.stat(path).st_mode & 0o777
    except OSError as exc:
        raise cfg.error("cookie_secret_file", f"cannot use {path}: {exc}") from None
    if not secret:
        raise cfg.error("cookie_secret_file", f"{path} is empty")
    if mode & 0o077:
        gen_log.warning("Cookie secret file %s is readable by others (mode %o); "
                        "chmod 600 it", path, mode)
    return secret, path


async def load_generation(parser: OptionParser, cfg: Config, *, strict: bool,
                          daemon: Daemon | None = None, environ: dict[str, str] | None = None,
                          ops_on_main: bool = False, number: int = 0,
                          dry_run: bool = False) -> Generation:
    """Import the plugins, finish reading the options, build the application.

    ``cfg.read(known_only=True)`` must have run.  Reads the config and the
    command line a second time, once plugins have defined their options.

    :arg strict: raise the first `PluginError` instead of recording it.
    :arg dry_run: create no files (``--check-config``, ``--help``).
    :raises ConfigError: for any option problem.
    :raises PluginError: for a plugin problem when ``strict``.
    """
    from embedtornado.web import Application

    o = parser
    env = dict(os.environ) if environ is None else environ
    dirs = [str(cfg.resolve(d)) for d in o.plugins_dir]
    found = _plugins.discover(dirs)
    wanted = list(o.plugins)
    for name in wanted:
        if name not in found:
            raise cfg.error("plugins", f"plugin {name!r} not found in {', '.join(dirs) or '[]'}")
    disabled = set(o.disable_plugins)
    plugins: list[Plugin] = []
    for name, plugin in found.items():
        if (wanted and name not in wanted) or name in disabled:
            plugin.state = "disabled"
        plugins.append(plugin)

    def fail(plugin: Plugin, exc: PluginError) -> None:
        if strict:
            raise exc
        plugin.state, plugin.error = "failed", str(exc)
        gen_log.error("%s; starting without it (set strict = True to refuse)", exc)

    def registry_keys() -> set[str]:
        return set(_config._registry(parser))

    for plugin in plugins:
        if plugin.state == "disabled":
            continue
        try:
            _plugins.import_plugin(plugin, registry_keys)
        except PluginError as exc:
            fail(plugin, exc)
    # Second pass: plugin options now exist, so the file and the command line
    # may set them (and unknown command-line names are errors).
    cfg.read(known_only=False)
    cfg.validate()

    prefixes = dict(entry.split("=", 1) for entry in o.plugin_prefix)
    for name in prefixes:
        if name not in found:
            raise cfg.error("plugin_prefix", f"no plugin named {name!r}")
    wrap = _wrapper(daemon)
    ui_modules: dict[str, Any] = {}
    ui_methods: list[Any] = []
    for plugin in plugins:
        if plugin.state != "pending":
            continue
        module = plugin.module
        plugin.prefix = (prefixes.get(plugin.name) or getattr(module, "url_prefix", "")
                         or "").rstrip("/")
        try:
            if plugin.prefix and not plugin.prefix.startswith("/"):
                raise PluginError(plugin.name, f"url_prefix must start with '/', "
                                               f"not {plugin.prefix!r}")
            plugin.rules = _plugins.build_rules(plugin, wrap)
            _, static = _plugins.plugin_dirs(plugin)
            if static:
                from embedtornado.routing import URLSpec
                from embedtornado.web.static import StaticFileHandler
                pattern = f"{plugin.prefix or '/plugins/' + plugin.name}/static/(.*)"
                plugin.rules.append(URLSpec(pattern, wrap(plugin, StaticFileHandler),
                                            {"path": static}))
            mods = getattr(module, "ui_modules", None) or {}
            if not isinstance(mods, dict):
                mods = {n: getattr(mods, n) for n in dir(mods) if not n.startswith("_")}
            for ui_name in mods:
                if ui_name in ui_modules and ui_modules[ui_name][0] != plugin.name:
                    raise PluginError(plugin.name, f"UI module {ui_name!r} is already "
                                                   f"provided by {ui_modules[ui_name][0]}")
            for ui_name, ui_cls in mods.items():
                ui_modules[ui_name] = (plugin.name, ui_cls)
            methods = getattr(module, "ui_methods", None)
            if methods:
                ui_methods.append(methods)
        except PluginError as exc:
            fail(plugin, exc)
            continue
        plugin.state = "loaded"

    reserved: dict[str, str] = {}
    ops = ops_routes(daemon, o.healthz, o.metrics) if (ops_on_main and daemon) else []
    for pattern, _, _ in ops:
        reserved[pattern + "$"] = "the built-in ops endpoints"
    static_path = cfg.resolve(o.static_path)
    if static_path:
        reserved[o.static_url_prefix + "(.*)$"] = "the static_path setting"
    for dup in _plugins.check_duplicates([p for p in plugins if p.state == "loaded"],
                                         reserved):
        fail(next(p for p in plugins if p.name == dup.plugin), dup)

    secret, _source = cookie_secret(o, cfg, env, create=not dry_run)
    settings: dict[str, Any] = {
        "debug": o.debug,
        "autoreload": False,  # SIGHUP reloads; never re-exec under a service manager
        "xsrf_cookies": o.xsrf_cookies,
        "cookie_secret": secret,
        "compress_response": o.compress_response,
        "static_url_prefix": o.static_url_prefix,
        "ui_modules": {name: cls for name, (_, cls) in ui_modules.items()},
        "ui_methods": ui_methods,
    }
    if static_path:
        settings["static_path"] = static_path
    template_path = cfg.resolve(o.template_path)
    if template_path:
        settings["template_path"] = template_path
    if o.login_url:
        settings["login_url"] = o.login_url
    if daemon is not None:
        settings["log_function"] = daemon.log_request
        settings["embedtornado_daemon"] = daemon
    handlers: list[Any] = list(ops)
    for plugin in plugins:
        if plugin.state == "loaded":
            handlers.extend(plugin.rules)
    app = Application(handlers, **settings)
    if o.hsts_max_age and _tls.enabled(o):
        app.add_transform(_tls.hsts_transform(o.hsts_max_age))

    await _attach_database(app, o, cfg, env, plugins, daemon, dry_run)

    for plugin in plugins:
        if plugin.state != "loaded":
            continue
        try:
            await _plugins.run_setup(plugin, app, parser, o.setup_timeout)
        except PluginError as exc:
            fail(plugin, exc)
            ids = {id(r) for r in plugin.rules}
            for rule in [r for r in app.wildcard_router.rules if id(r) in ids]:
                app.wildcard_router.rules.remove(rule)
            continue
        plugin.setup_done = True
    return Generation(app, PluginSet(plugins), settings, number)


def database_path(o: OptionParser, cfg: Config, environ: dict[str, str]) -> str | None:
    """The database file: ``database`` (relative to the config file), else
    ``$STATE_DIRECTORY/embedtornado.db`` under systemd, else ``None`` (no
    database: a daemon run from a checkout by a normal user must not reach
    for /var/lib)."""
    if o.database:
        return cfg.resolve(o.database)
    state = environ.get("STATE_DIRECTORY", "").split(":")[0]
    return os.path.join(state, "embedtornado.db") if state else None


def plugin_migrations(plugins: list[Plugin]) -> list[tuple[str, str]]:
    """(plugin name, migrations folder) for each loaded plugin that has one:
    its module's ``migrations`` attribute (relative to the plugin), else a
    package plugin's ``migrations/`` folder."""
    plan = []
    for plugin in plugins:
        if plugin.state != "loaded":
            continue
        value = getattr(plugin.module, "migrations", None)
        if value is None and plugin.is_package:
            value = "migrations"
        if not isinstance(value, str):
            continue
        path = os.path.join(plugin.directory, value)
        if os.path.isdir(path):
            plan.append((plugin.name, path))
    return plan


async def _attach_database(app: Any, o: OptionParser, cfg: Config, environ: dict[str, str],
                           plugins: list[Plugin], daemon: Daemon | None,
                           dry_run: bool) -> None:
    """Set ``app.db`` (and ``settings["db"]``) before the plugins' setup runs.

    The daemon's first generation opens the database and applies every
    plugin's migrations; a reload keeps that same `Database` (a changed
    ``database`` takes effect at the next restart) and applies the
    migrations it has not seen yet.  ``--check-config`` (``dry_run``) opens
    nothing: ``app.db`` is ``None``.

    :raises ConfigError: naming the migration file and statement that failed.
    """
    from embedtornado.db import DatabaseError, open_for_app

    app.db = None
    app.settings["db"] = None
    path = database_path(o, cfg, environ)
    if dry_run or path is None:
        return
    plan = plugin_migrations(plugins)
    try:
        if daemon is not None and daemon.generation.app is not None and daemon.db is None:
            return  # a reload: turning the database on takes effect at the next restart
        if daemon is not None and daemon.db is not None:
            if plan:
                await daemon.db.migrate_all(plan)
            app.db = app.settings["db"] = daemon.db
            return
        os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
        db = open_for_app(app, path, migrations=plan,
                          synchronous=str(o.database_synchronous).upper())
    except (DatabaseError, OSError) as exc:
        raise cfg.error("database", f"{path}: {exc}") from None
    gen_log.info("Database %s open (%d plugin migration folders)", path, len(plan))
    if daemon is not None:
        daemon.db = db


# --- the server ----------------------------------------------------------------------


class _Dispatcher(httputil.HTTPServerConnectionDelegate):
    """Hands each new request to the current generation's application."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def start_request(self, server_conn: object,
                      request_conn: httputil.HTTPConnection) -> httputil.HTTPMessageDelegate:
        return self.app.start_request(server_conn, request_conn)  # type: ignore[no-any-return]

    def on_close(self, server_conn: object) -> None:
        self.app.on_close(server_conn)


class DaemonHTTPServer(HTTPServer):
    """`HTTPServer` that counts the connections its ``max_connections`` refused."""

    metrics: Metrics | None = None

    def open_connections(self) -> int:
        """Open HTTP connections (upgraded WebSockets are counted on their own)."""
        return sum(1 for c in self._connections if not getattr(c, "_detached", False))

    def _refuse_connection(self, conn: socket.socket, address: Any) -> None:
        if self.metrics is not None:
            self.metrics.rejected_connections += 1
        super()._refuse_connection(conn, address)


def server_kwargs(o: OptionParser) -> dict[str, Any]:
    """`HTTPServer` keyword arguments from the limit options."""
    return {
        "xheaders": o.xheaders,
        "trusted_downstream": list(o.trusted_downstream) or None,
        "no_keep_alive": o.no_keep_alive,
        "decompress_request": o.decompress_request,
        "chunk_size": o.chunk_size,
        "max_header_size": o.max_header_size,
        "idle_connection_timeout": o.idle_connection_timeout,
        "body_timeout": o.body_timeout or None,
        "max_body_size": o.max_body_size,
        "max_request_line": o.max_request_line,
        "max_header_count": o.max_header_count,
        "max_write_buffer": o.max_write_buffer,
        "ssl_handshake_timeout": o.ssl_handshake_timeout,
    }


def bind_listeners(o: OptionParser, cfg: Config,
                   passed: list[tuple[socket.socket, str]]) -> tuple[list[socket.socket],
                                                                     list[socket.socket]]:
    """The (main, ops) listening sockets: the passed ones, else bound from the options."""
    if passed:
        main = [s for s, name in passed if name not in ("ops", "redirect")]
        ops = [s for s, name in passed if name == "ops"]
        if not main:
            raise ConfigError("socket activation passed only an 'ops' socket; "
                              "name the HTTP socket FileDescriptorName=http")
        return main, ops
    try:
        if o.unix_socket:
            path = str(cfg.resolve(o.unix_socket))
            main = [netutil.bind_unix_socket(path, mode=int(str(o.unix_socket_mode), 8),
                                             backlog=o.backlog)]
        else:
            main = netutil.bind_sockets(o.port, address=o.address or None, backlog=o.backlog,
                                        reuse_port=o.reuse_port)
    except (OSError, ValueError) as exc:
        name = "unix_socket" if o.unix_socket else "port"
        raise cfg.error(name, f"cannot listen: {exc}") from None
    ops_socks: list[socket.socket] = []
    if o.ops_port and (o.healthz or o.metrics):
        try:
            ops_socks = netutil.bind_sockets(o.ops_port, address=o.ops_address or None,
                                       backlog=o.backlog)
        except OSError as exc:
            raise cfg.error("ops_port", f"cannot listen: {exc}") from None
    return main, ops_socks


def describe_sockets(socks: list[socket.socket]) -> str:
    parts = []
    for s in socks:
        try:
            name = s.getsockname()
        except OSError:
            name = "?"
        if isinstance(name, tuple):
            host = name[0]
            parts.append(f"[{host}]:{name[1]}" if ":" in host else f"{host}:{name[1]}")
        else:
            parts.append(str(name) or "unix")
    return ", ".join(parts)


class Daemon:
    """The running service.  See the module docstring for the signals.

    :arg parser: the option parser (already read once by ``cfg``).
    :arg cfg: the `Config` the first generation comes from.
    :arg notifier: the service manager connection.
    :arg watchdog: seconds between ``WATCHDOG=1`` pings, or ``None``.
    """

    def __init__(self, parser: OptionParser, cfg: Config, notifier: Notifier,
                 watchdog: float | None, environ: dict[str, str]) -> None:
        self.parser = parser
        self.cfg = cfg
        self.notifier = notifier
        self.watchdog_interval = watchdog
        self.environ = environ
        self.version = embedtornado.version
        self.started = time.monotonic()
        self.metrics = Metrics()
        self.websockets: set[Any] = set()
        self.loop_lag = 0.0
        self.watchdog_pings = 0
        self.last_reload_error: str | None = None
        self.generation: Generation = Generation(None, PluginSet([]))
        #: The shared `embedtornado.db.Database` (kept across reloads), or None.
        self.db: Any = None
        self.server: DaemonHTTPServer | None = None
        self.ops_server: HTTPServer | None = None
        self.redirect_server: HTTPServer | None = None
        #: Plain-HTTP sockets that only redirect to HTTPS (``redirect_http_port``).
        self.redirect_socks: list[socket.socket] = []
        #: The main listener's TLS context (`prepare_tls`); ``None``: plain HTTP.
        self.ssl_context: ssl.SSLContext | None = None
        self._tls_prepared = False
        self.listen_description = ""
        self.stopping = False
        self._stop_event: asyncio.Event | None = None
        self._abort_now = False
        self._reload_lock: asyncio.Lock | None = None
        self._reload_again = False
        self._timers: list[asyncio.Handle] = []
        self._access_log = True
        #: Stop signals that arrived before the loop handled signals.
        self.early_signals: list[int] = []

    @property
    def config_path(self) -> str | None:
        return self.cfg.path

    # --- per-request bookkeeping ------------------------------------------------

    def log_request(self, handler: Any) -> None:
        """The application's ``log_function``: metrics, then the access log line."""
        status = handler.get_status()
        seconds = handler.request.request_time()
        name = getattr(type(handler), "_et_metric_name", None) or type(handler).__name__
        self.metrics.observe(name, status, seconds)
        if not self._access_log:
            return
        level = 20 if status < 400 else 30 if status < 500 else 40
        if access_log.isEnabledFor(level):
            access_log.log(level, "%d %s %.2fms", status, handler._request_summary(),
                           1000.0 * seconds)

    def open_connections(self) -> int:
        return self.server.open_connections() if self.server is not None else 0

    def health_status(self) -> str:
        if self.stopping:
            return "stopping"
        return "degraded" if self.generation.plugins.failed() else "ok"

    def status_line(self) -> str:
        loaded = len(self.generation.plugins.loaded())
        failed = len(self.generation.plugins.failed())
        text = f"serving on {self.listen_description} ({loaded} plugins"
        text += f", {failed} failed)" if failed else ")"
        return text

    # --- start ---------------------------------------------------------------------

    def prepare_tls(self) -> None:
        """Load (or make) the certificate for the main listener.

        :raises ConfigError: naming the option, for missing or bad files.
        """
        o = self.parser
        self.ssl_context = _tls.build_context(o, self.cfg, self.environ,
                                              [o.address] if o.address else [])
        self._tls_prepared = True

    async def run(self, generation: Generation, main_socks: list[socket.socket],
                  ops_socks: list[socket.socket], send_ready: bool = True) -> int:
        """Serve until a stop signal; returns the exit status."""
        loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        self._reload_lock = asyncio.Lock()
        o = self.parser
        self.generation = generation
        self._access_log = o.access_log
        if not self._tls_prepared:
            self.prepare_tls()
        self.dispatcher = _Dispatcher(generation.app)
        server = DaemonHTTPServer(self.dispatcher, ssl_options=self.ssl_context,
                                  **server_kwargs(o))
        server.max_connections = o.max_connections
        server.metrics = self.metrics
        server.add_sockets(main_socks)
        self.server = server
        self.listen_description = describe_sockets(main_socks)
        if ops_socks:
            from embedtornado.web import Application

            routes = ops_routes(self, o.healthz, o.metrics)
            if not routes:
                gen_log.warning("An ops socket was passed but healthz and metrics are off")
            ops_app = Application(routes, log_function=lambda h: None)
            self.ops_server = HTTPServer(ops_app, idle_connection_timeout=10.0)
            self.ops_server.add_sockets(ops_socks)
            gen_log.info("Operations endpoints on %s", describe_sockets(ops_socks))
        if self.redirect_socks:
            redirect = _tls.redirect_app(_tls.listen_port(main_socks))
            self.redirect_server = HTTPServer(redirect, idle_connection_timeout=10.0,
                                              max_body_size=64 * 1024)
            self.redirect_server.add_sockets(self.redirect_socks)
            gen_log.info("Redirecting plain HTTP on %s to HTTPS",
                         describe_sockets(self.redirect_socks))
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop, sig)
        loop.add_signal_handler(signal.SIGHUP, self.request_reload)
        for early in self.early_signals:
            self.request_stop(early)
        if self.watchdog_interval:
            self._schedule_watchdog()
        self._schedule_lag_check(loop.time())
        gen_log.info("embedtornado %s %s (pid %d)", self.version, self.status_line(),
                     os.getpid())
        if send_ready:
            self.notifier.send("READY=1", f"STATUS={self.status_line()}",
                               f"MAINPID={os.getpid()}")
        else:
            self.notifier.send(f"STATUS={self.status_line()}")
        await self._stop_event.wait()
        await self._drain()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)
        for timer in self._timers:
            timer.cancel()
        await self.close_db()
        return 0

    async def close_db(self) -> None:
        """Close the database (after the drain: no request uses it any more)."""
        db, self.db = self.db, None
        if db is not None:
            await db.close()
            gen_log.info("Database %s closed", db.path)

    # --- watchdog and loop lag ---------------------------------------------------

    def _schedule_watchdog(self) -> None:
        assert self.watchdog_interval
        loop = asyncio.get_running_loop()

        def ping() -> None:
            if self.notifier.send("WATCHDOG=1"):
                self.watchdog_pings += 1
            self._timers[0] = loop.call_later(self.watchdog_interval, ping)  # type: ignore[arg-type]

        self._timers.insert(0, loop.call_soon(ping))

    def _schedule_lag_check(self, expected: float) -> None:
        loop = asyncio.get_running_loop()
        period = 1.0

        def check(due: float) -> None:
            now = loop.time()
            self.loop_lag = max(0.0, now - due)
            self._timers[-1] = loop.call_at(now + period, check, now + period)

        self._timers.append(loop.call_at(expected + period, check, expected + period))

    # --- reload --------------------------------------------------------------------

    def request_reload(self) -> None:
        if self.stopping:
            return
        asyncio.ensure_future(self.reload())

    async def reload(self) -> bool:
        """Load the config and plugins again; keep the old generation on any error.

        :returns: whether the new configuration is now serving.
        """
        assert self._reload_lock is not None
        if self._reload_lock.locked():
            self._reload_again = True
            return False
        async with self._reload_lock:
            ok = await self._reload_once()
            while self._reload_again and not self.stopping:
                self._reload_again = False
                ok = await self._reload_once()
        return ok

    async def _reload_once(self) -> bool:
        parser = self.parser
        old = self.generation
        self.notifier.send("RELOADING=1", f"MONOTONIC_USEC={monotonic_usec()}",
                           "STATUS=reloading configuration")
        gen_log.info("Reloading configuration (SIGHUP)")
        saved_options = _config.snapshot(parser)
        before = {name: parser[name] for name in _config.RESTART_OPTIONS}
        saved_modules: dict[str, Any] = {}
        for plugin in old.plugins:
            saved_modules.update(_plugins.forget_modules(plugin.name))
        registry = _config._registry(parser)
        for key in old.plugins.option_keys():
            registry.pop(key, None)
        _config.reset_values(parser)
        try:
            cfg = Config(parser, self.cfg.argv, self.environ)
            cfg.read(known_only=True)
            cfg.validate()
            new_ssl = None
            if self.ssl_context is not None and _tls.enabled(parser):
                # Certificates are read again on every reload: new handshakes
                # use them, open connections keep theirs.
                new_ssl = _tls.build_context(parser, cfg, self.environ,
                                             [parser.address] if parser.address else [])
            new = await load_generation(parser, cfg, strict=True, daemon=self,
                                        environ=self.environ,
                                        ops_on_main=self.ops_server is None,
                                        number=old.number + 1)
        except (ConfigError, PluginError) as exc:
            _config.restore(parser, saved_options)
            for plugin in old.plugins:
                _plugins.forget_modules(plugin.name)
            sys.modules.update(saved_modules)
            self.metrics.reloads["failed"] += 1
            self.last_reload_error = str(exc)
            gen_log.error("Reload failed, still serving the previous configuration: %s", exc)
            self.notifier.send("READY=1", f"STATUS={self.status_line()}; "
                                          f"reload failed: {exc}")
            return False
        self.cfg = cfg
        self.generation = new
        self.dispatcher.app = new.app
        if new_ssl is not None and self.server is not None:
            self.ssl_context = new_ssl
            self.server._ssl_context = new_ssl
        self._apply_limits()
        for plugin in old.plugins:
            _plugins.run_teardown(plugin, old.app)
        changed = [name for name in _config.RESTART_OPTIONS if parser[name] != before[name]]
        if changed:
            gen_log.warning("Changes to %s take effect only after a restart",
                            ", ".join(changed))
        self.metrics.reloads["ok"] += 1
        self.last_reload_error = None
        gen_log.info("Reloaded: %s", self.status_line())
        self.notifier.send("READY=1", f"STATUS={self.status_line()}")
        return True

    def _apply_limits(self) -> None:
        o = self.parser
        self._access_log = o.access_log
        journal = {"yes": True, "true": True, "no": False, "false": False}.get(
            str(o.journal).lower())
        configure_logging(o, journal)
        server = self.server
        if server is None:
            return
        server.max_connections = o.max_connections
        kwargs = server_kwargs(o)
        fresh = HTTPServer(self.dispatcher, **kwargs)
        # New connections pick the limits up; connections already open keep
        # their own parameters object (and their parsers, pooled per object).
        server.conn_params = fresh.conn_params
        server.ssl_handshake_timeout = fresh.ssl_handshake_timeout
        server.xheaders = fresh.xheaders
        server.trusted_downstream = fresh.trusted_downstream

    # --- stop ------------------------------------------------------------------------

    def request_stop(self, sig: int = signal.SIGTERM) -> None:
        if self.stopping:
            if sig == signal.SIGINT:
                gen_log.warning("Second interrupt: closing every connection now")
                self._abort_now = True
            return
        self.stopping = True
        gen_log.info("Received %s: draining (up to %gs)", signal.Signals(sig).name,
                     self.parser.drain_timeout)
        assert self._stop_event is not None
        self._stop_event.set()

    async def _drain(self) -> None:
        server = self.server
        assert server is not None
        self.notifier.send("STOPPING=1", "STATUS=draining connections")
        server.stop()
        server.conn_params.no_keep_alive = True
        for proto in list(server._connections):
            # connections from before a reload hold an older parameters object
            params = getattr(proto, "params", None)
            if params is not None:
                params.no_keep_alive = True
        for ws in list(self.websockets):
            try:
                ws.close(1001, "server shutting down")
            except Exception:
                gen_log.debug("Closing a WebSocket failed", exc_info=True)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.parser.drain_timeout
        while not self._abort_now and loop.time() < deadline:
            active = self._close_idle(server)
            if not active:
                break
            await asyncio.sleep(0.02)
        leftover = server.open_connections()
        if leftover:
            gen_log.warning("%d connection(s) still busy after drain_timeout=%gs; closing them",
                            leftover, self.parser.drain_timeout)
        await self._close_all(server)
        if self.ops_server is not None:
            self.ops_server.stop()
            await self.ops_server.close_all_connections()
        if self.redirect_server is not None:
            self.redirect_server.stop()
            await self.redirect_server.close_all_connections()
        for plugin in self.generation.plugins:
            _plugins.run_teardown(plugin, self.generation.app)
        gen_log.info("Stopped")

    @staticmethod
    def _close_idle(server: DaemonHTTPServer) -> int:
        """Close connections waiting for a request; mark busy ones to close after
        their response.  Returns how many connections remain."""
        # NOTE(daemon): HTTPServer has no drain API; this reads the protocol's
        # state (the compiled twin declares these fields public). A connection
        # is idle when no request is in progress and no partial head is
        # buffered (an idle connection may hold no parser at all).
        remaining = 0
        for proto in list(server._connections):
            if getattr(proto, "_detached", False):
                continue
            remaining += 1
            try:
                request = getattr(proto, "_request", None)
                if request is not None:
                    request._disconnect_on_finish = True
                    continue
                parser = getattr(proto, "_parser", None)
                if parser is None or not parser.in_message:
                    proto.close()
            except Exception:
                gen_log.error("Could not close a connection gracefully", exc_info=True)
                proto._abort()
        return remaining

    @staticmethod
    async def _close_all(server: DaemonHTTPServer) -> None:
        for proto in list(server._connections):
            if not getattr(proto, "_detached", False):
                proto._abort()
        for _ in range(100):
            if not server.open_connections():
                break
            await asyncio.sleep(0.01)
