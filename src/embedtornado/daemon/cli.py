"""``embedtornado``: the appliance daemon's command line.

::

    embedtornado [--config=PATH] [--name=value ...]
    embedtornado --check-config [--config=PATH]
    embedtornado --help | --version

Reads the config file (``--config``, ``$EMBEDTORNADO_CONFIG`` or
``/etc/embedtornado/embedtornado.conf``), then the command line, loads the
plugins and serves until SIGTERM/SIGINT (graceful drain, exit 0); SIGHUP
reloads.  Exit status 78 (EX_CONFIG) for a configuration or plugin error,
1 for other start-up failures.
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
import sys
from typing import Any

from embedtornado.daemon import activation
from embedtornado.daemon.config import (
    DEFAULT_CONFIG,
    EX_CONFIG,
    Config,
    ConfigError,
    define_daemon_options,
)
from embedtornado.daemon.journal import configure_logging
from embedtornado.daemon.plugins import PluginError
from embedtornado.daemon.sdnotify import Notifier, watchdog_interval
from embedtornado.log import gen_log

__all__ = ["main"]


def _flag(argv: list[str], name: str) -> bool:
    for arg in argv[1:]:
        key, has_value, value = arg.lstrip("-").partition("=")
        if arg.startswith("-") and key.replace("-", "_") == name:
            return not has_value or value.lower() not in ("false", "0", "f")
    return False


def _help(parser: Any, argv: list[str]) -> int:
    """``--help``: every option, plugin options included when the config loads."""
    from embedtornado.daemon.service import load_generation

    filtered = [a for a in argv if not _is(a, "help")]
    try:
        cfg = Config(parser, filtered, os.environ)
        cfg.read(known_only=True)
        asyncio.run(load_generation(parser, cfg, strict=False, environ=dict(os.environ),
                                    dry_run=True))
    except Exception as exc:
        print(f"(plugin options not listed: {exc})", file=sys.stderr)
    buf = io.StringIO()
    parser.print_help(buf)
    body = buf.getvalue().split("\n", 1)[1]  # our own usage line replaces its first line
    print("usage: embedtornado [--config=PATH] [--check-config] [--name=value ...]\n\n"
          "The appliance daemon: serves the routes of its plugins. Every option can be set\n"
          "in the config file (name = value, Python syntax) or here (--name=value); the\n"
          "command line wins. Signals: SIGTERM/SIGINT drain and exit 0; SIGHUP reloads.")
    print(body, end="")
    return 0


def _is(arg: str, name: str) -> bool:
    return arg.startswith("-") and arg.lstrip("-").partition("=")[0].replace("-", "_") == name


def main(argv: list[str] | None = None) -> int:
    """Run the daemon; returns the exit status."""
    import embedtornado.options

    argv = list(sys.argv if argv is None else argv)
    parser = embedtornado.options.options
    define_daemon_options(parser)
    if _flag(argv, "help"):
        import logging

        logging.disable(logging.CRITICAL)
        return _help(parser, argv)
    if _flag(argv, "version"):
        from embedtornado.daemon.config import print_version

        print_version()
        return 0
    check = _flag(argv, "check_config")
    if not check:
        _catch_early_signals()  # from here on a stop request is never lost
    try:
        cfg = Config(parser, argv, os.environ)
        cfg.read(known_only=True)
        cfg.validate()
    except ConfigError as exc:
        print(f"embedtornado: configuration error: {exc}", file=sys.stderr)
        return EX_CONFIG
    journal = {"yes": True, "true": True, "no": False, "false": False}.get(
        str(parser.journal).lower())
    configure_logging(parser, journal)
    if check:
        return _check(parser, cfg)
    return _serve(parser, cfg)


def _check(parser: Any, cfg: Config) -> int:
    from embedtornado.daemon.plugins import run_teardown
    from embedtornado.daemon.service import load_generation

    try:
        gen = asyncio.run(load_generation(parser, cfg, strict=True, environ=dict(os.environ),
                                          dry_run=True))
        _check_tls(parser, cfg)
    except (ConfigError, PluginError) as exc:
        print(f"embedtornado: configuration error: {exc}", file=sys.stderr)
        return EX_CONFIG
    for plugin in gen.plugins:
        run_teardown(plugin, gen.app)
    names = ", ".join(p.name for p in gen.plugins.loaded()) or "none"
    print(f"configuration OK: {cfg.path or '(defaults, no config file)'}; plugins: {names}")
    return 0


def _check_tls(parser: Any, cfg: Config) -> None:
    """Load the certificate files, if there are any yet (a generated one may not be)."""
    from embedtornado.daemon import tls

    if not tls.enabled(parser):
        return
    cert, key, generated = tls.tls_files(parser, cfg, os.environ)
    if generated and not (os.path.exists(cert) and os.path.exists(key)):
        return  # made on first start; --check-config creates nothing
    tls.build_context(parser, cfg, os.environ)


#: Stop signals received before the event loop handles signals.
_EARLY: list[int] = []


def _catch_early_signals() -> None:
    signal.signal(signal.SIGTERM, lambda signum, frame: _EARLY.append(signum))
    signal.signal(signal.SIGINT, lambda signum, frame: _EARLY.append(signum))
    signal.signal(signal.SIGHUP, signal.SIG_IGN)


def _serve(parser: Any, cfg: Config) -> int:
    from embedtornado.daemon import tls
    from embedtornado.daemon.service import Daemon, bind_listeners, load_generation

    environ = os.environ
    if cfg.path is None:
        gen_log.info("No config file (--config, $EMBEDTORNADO_CONFIG or %s); using the "
                     "defaults", DEFAULT_CONFIG)
    notifier = Notifier.from_environment(environ)
    watchdog = watchdog_interval(environ)
    try:
        passed = activation.listen_fds(environ)
    except activation.ActivationError as exc:
        print(f"embedtornado: {exc}", file=sys.stderr)
        notifier.send(f"STATUS=failed: {exc}", "ERRNO=22")
        return 1
    try:
        main_socks, ops_socks = bind_listeners(parser, cfg, passed)
        redirect_socks = tls.bind_redirect(parser, cfg, passed)
        if tls.enabled(parser):
            # Before any fork: every worker must serve the same certificate.
            tls.ensure_certificate(parser, cfg, environ,
                                   [parser.address] if parser.address else [])
    except ConfigError as exc:
        print(f"embedtornado: {exc}", file=sys.stderr)
        notifier.send(f"STATUS=failed: {exc}")
        return 1
    processes = parser.processes
    send_ready = True
    if processes != 1:
        # The parent stays the service's main process and supervises; the
        # sockets already listen, so the service is ready.  Children get no
        # notify socket (NotifyAccess=main would reject them anyway).
        _install_forwarding()
        notifier.send("READY=1", f"STATUS=serving with {processes or 'one per CPU'} processes")
        from embedtornado import process

        process.fork_processes(processes)
        notifier = Notifier(None)
        watchdog = None
        send_ready = False
        # A worker, until its event loop handles them: remember a stop
        # request (a worker killed by the signal would be restarted by its
        # parent); ignore SIGHUP (the config is being read right now anyway).
        _catch_early_signals()
    from embedtornado import loop as _loop

    daemon = Daemon(parser, cfg, notifier, watchdog, dict(environ))
    daemon.early_signals = _EARLY
    daemon.redirect_socks = redirect_socks

    async def run() -> int:
        try:
            gen = await load_generation(parser, cfg, strict=parser.strict, daemon=daemon,
                                        environ=dict(environ),
                                        ops_on_main=not ops_socks)
            daemon.prepare_tls()
        except (ConfigError, PluginError) as exc:
            print(f"embedtornado: configuration error: {exc}", file=sys.stderr)
            notifier.send(f"STATUS=failed: {exc}")
            await daemon.close_db()
            return EX_CONFIG
        return await daemon.run(gen, main_socks, ops_socks, send_ready=send_ready)

    try:
        status = _loop.run(run())
    except KeyboardInterrupt:
        status = 0
    except Exception:
        gen_log.critical("embedtornado failed", exc_info=True)
        notifier.send("STATUS=failed: see the log")
        status = 1
    notifier.close()
    return status


def _children(parent: int) -> list[int]:
    """Pids of ``parent``'s child processes (from /proc)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may contain spaces and parentheses
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) > 1 and int(fields[1]) == parent:
            pids.append(int(entry))
    return pids


def _install_forwarding() -> None:
    """In the multi-process parent: pass SIGTERM and SIGHUP on to the workers.

    Only to this process's children: the process group may hold others (a
    shell, a test runner) when not run by a service manager.
    """
    parent = os.getpid()

    def forward(signum: int, frame: Any) -> None:
        if os.getpid() != parent:
            return
        for pid in _children(parent):
            try:
                os.kill(pid, signum)
            except OSError:
                pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGHUP, forward)
    # A terminal's ^C reaches the whole process group already.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


if __name__ == "__main__":
    sys.exit(main())
