"""Handler plugins: each ``.py`` file or package in a plugins directory.

A plugin is an ordinary module.  Everything in it is optional::

    # /etc/embedtornado/plugins.d/hello.py
    from embedtornado.options import define, options
    from embedtornado.web import RequestHandler

    define("greeting", default="Hello", group="hello", help="what /hello says")

    class HelloHandler(RequestHandler):
        def get(self):
            self.write(f"{options.greeting}, world")

    routes = [(r"/hello", HelloHandler)]
    url_prefix = "/demo"             # routes become /demo/hello (plugin_prefix overrides)
    ui_modules = {}                  # merged into the application's UI modules
    ui_methods = {}

    async def setup(app, options):   # or a plain function; after the routes are mounted
        ...

    def teardown(app):               # before a reload replaces the application, and at stop
        ...

A package plugin (a directory with ``__init__.py``) may keep ``templates/`` and
``static/`` beside its code: its handlers then render from its own templates,
and ``static_url()`` points at its files, served under
``<url_prefix or /plugins/NAME>/static/``.  A module or package can set
``template_path``/``static_path`` (relative to itself) to choose other
directories.

Failures are reported as `PluginError`, naming the plugin and the cause: an
import that raises, two plugins claiming the same route (or UI module), a
malformed ``routes`` entry, a ``setup`` that raises or times out.  With
``strict`` the daemon refuses to start; without it (the default) it starts
without the plugin and ``/healthz`` lists the plugin as ``failed`` with the
error.  ``--check-config`` is always strict.
"""

from __future__ import annotations

import asyncio
import importlib.machinery
import importlib.util
import inspect
import os
import sys
import traceback
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from embedtornado.log import gen_log
from embedtornado.routing import PathMatches, Rule, URLSpec

__all__ = ["Plugin", "PluginError", "PluginSet", "discover"]

#: Package under which plugins are imported (``embedtornado_plugins.NAME``).
NAMESPACE = "embedtornado_plugins"


class PluginError(Exception):
    """A plugin that cannot be used; ``plugin`` is its name."""

    def __init__(self, plugin: str, message: str) -> None:
        super().__init__(f"plugin {plugin!r}: {message}")
        self.plugin = plugin


@dataclass
class Plugin:
    """One plugin and its state (``loaded``, ``failed`` or ``disabled``)."""

    name: str
    path: str
    is_package: bool
    state: str = "pending"
    error: str | None = None
    module: types.ModuleType | None = None
    prefix: str = ""
    rules: list[Rule] = field(default_factory=list)
    option_keys: set[str] = field(default_factory=set)
    setup_done: bool = False

    @property
    def directory(self) -> str:
        """The directory its templates and static files are looked up in."""
        return self.path if self.is_package else os.path.dirname(self.path)

    def describe(self) -> dict[str, Any]:
        """The JSON form shown by /healthz."""
        info: dict[str, Any] = {"state": self.state, "path": self.path}
        if self.prefix:
            info["prefix"] = self.prefix
        if self.state == "loaded":
            info["routes"] = [_pattern_of(r) for r in self.rules]
        if self.error:
            info["error"] = self.error
        version = getattr(self.module, "__version__", None)
        if version is not None:
            info["version"] = str(version)
        return info


def discover(directories: Iterable[str]) -> dict[str, Plugin]:
    """Find plugins in ``directories`` (in order; a later one replaces a same-named
    earlier one).  Names starting with ``_`` or ``.`` are skipped."""
    found: dict[str, Plugin] = {}
    for directory in directories:
        for entry in sorted(os.listdir(directory)):
            if entry.startswith(("_", ".")):
                continue
            path = os.path.join(directory, entry)
            if entry.endswith(".py") and os.path.isfile(path):
                name, is_package = entry[:-3], False
            elif os.path.isfile(os.path.join(path, "__init__.py")):
                name, is_package = entry, True
            else:
                continue
            if not name.isidentifier():
                gen_log.warning("Skipping %s: %r is not a valid plugin (module) name", path, name)
                continue
            if name in found:
                gen_log.warning("Plugin %r in %s replaces the one in %s", name, path,
                                found[name].path)
            found[name] = Plugin(name, path, is_package)
    return found


class _NoBytecodeLoader(importlib.machinery.SourceFileLoader):
    """Compiles the plugin's source every time: a reload never sees stale
    bytecode, and nothing is written next to the plugin (read-only /usr, flash)."""

    def get_code(self, fullname: str) -> Any:
        path = self.get_filename(fullname)
        return compile(self.get_data(path), path, "exec", dont_inherit=True)


def _ensure_namespace() -> None:
    if NAMESPACE not in sys.modules:
        ns = types.ModuleType(NAMESPACE)
        ns.__path__ = []  # a package, so plugin packages can use relative imports
        sys.modules[NAMESPACE] = ns


def module_name(plugin: str) -> str:
    """The ``sys.modules`` name a plugin is imported as."""
    return f"{NAMESPACE}.{plugin}"


def forget_modules(plugin: str) -> dict[str, types.ModuleType]:
    """Remove a plugin's module and submodules from `sys.modules`; return them."""
    base = module_name(plugin)
    removed = {}
    for name in [n for n in sys.modules if n == base or n.startswith(base + ".")]:
        removed[name] = sys.modules.pop(name)
    return removed


def _where(exc: BaseException, path: str) -> str:
    """`` (FILE line N)`` for the deepest traceback frame inside the plugin."""
    root = path if os.path.isdir(path) else os.path.dirname(path)
    last = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == path or frame.filename.startswith(root + os.sep):
            last = frame
    if isinstance(exc, SyntaxError) and exc.filename:
        return f" ({exc.filename} line {exc.lineno})"
    return f" ({last.filename} line {last.lineno})" if last else ""


def import_plugin(plugin: Plugin, registry_keys: Callable[[], set[str]]) -> None:
    """Import ``plugin`` as `module_name`; sets ``module`` and ``option_keys``.

    :raises PluginError: when the import raises (the message names the
        exception and the plugin's line).
    """
    _ensure_namespace()
    name = module_name(plugin.name)
    forget_modules(plugin.name)
    file = os.path.join(plugin.path, "__init__.py") if plugin.is_package else plugin.path
    loader = _NoBytecodeLoader(name, file)
    spec = importlib.util.spec_from_file_location(
        name, file, loader=loader,
        submodule_search_locations=[plugin.path] if plugin.is_package else None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    before = registry_keys()
    sys.modules[name] = module
    try:
        loader.exec_module(module)
    except (Exception, SystemExit) as exc:
        forget_modules(plugin.name)
        plugin.option_keys = registry_keys() - before
        raise PluginError(plugin.name, f"failed to import: {type(exc).__name__}: {exc}"
                          f"{_where(exc, plugin.path)}") from exc
    plugin.option_keys = registry_keys() - before
    plugin.module = module


def _pattern_of(rule: Rule) -> str:
    regex = getattr(rule.matcher, "regex", None)
    return regex.pattern if regex is not None else repr(rule.matcher)


def _join(prefix: str, pattern: str) -> str:
    if not prefix:
        return pattern
    anchored = pattern.startswith("^")
    body = pattern[1:] if anchored else pattern
    if not body.startswith("/"):
        body = "/" + body
    return ("^" if anchored else "") + prefix.rstrip("/") + body


def build_rules(plugin: Plugin, wrap: Callable[[Plugin, Any], Any]) -> list[Rule]:
    """Turn the plugin's ``routes`` into `Rule` objects under its prefix.

    :arg wrap: called with each handler class; returns the class to route to.
    :raises PluginError: for an entry that is not a route.
    """
    routes = getattr(plugin.module, "routes", None) or []
    if not isinstance(routes, (list, tuple)):
        raise PluginError(plugin.name, f"'routes' must be a list, not {type(routes).__name__}")
    rules: list[Rule] = []
    for index, entry in enumerate(routes):
        try:
            if isinstance(entry, URLSpec):
                rule: Rule = URLSpec(_join(plugin.prefix, entry.regex.pattern),
                                     wrap(plugin, entry.handler_class), entry.kwargs, entry.name)
            elif isinstance(entry, Rule):
                if plugin.prefix and isinstance(entry.matcher, PathMatches):
                    matcher: Any = PathMatches(_join(plugin.prefix, entry.matcher.regex.pattern))
                else:
                    matcher = entry.matcher
                rule = Rule(matcher, wrap(plugin, entry.target), entry.target_kwargs, entry.name)
            elif isinstance(entry, (tuple, list)) and 2 <= len(entry) <= 4 \
                    and isinstance(entry[0], str):
                pattern, target, *rest = entry
                kwargs = rest[0] if rest else None
                name = rest[1] if len(rest) > 1 else None
                rule = URLSpec(_join(plugin.prefix, pattern), wrap(plugin, target), kwargs, name)
            else:
                raise TypeError("expected (pattern, handler[, kwargs[, name]]), url() or Rule")
        except PluginError:
            raise
        except Exception as exc:
            raise PluginError(plugin.name, f"routes[{index}] is not a valid route ({exc}): "
                                           f"{entry!r}") from exc
        rules.append(rule)
    return rules


def check_duplicates(plugins: Iterable[Plugin], reserved: dict[str, str]) -> list[PluginError]:
    """Find routes claimed twice.  ``reserved`` maps a pattern to its built-in owner.

    The first plugin (in load order) keeps a route; every later claimant is
    an error naming both.
    """
    owner = dict(reserved)
    errors = []
    for plugin in plugins:
        for rule in plugin.rules:
            pattern = _pattern_of(rule)
            if pattern in owner and owner[pattern] != plugin.name:
                errors.append(PluginError(plugin.name, f"route {pattern} is already claimed by "
                                                        f"{owner[pattern]}"))
                break
            owner.setdefault(pattern, plugin.name)
    return errors


async def run_setup(plugin: Plugin, app: Any, options: Any, timeout: float) -> None:
    """Call the plugin's ``setup(app, options)``, awaiting it if it is async.

    :raises PluginError: when it raises or outlasts ``timeout`` seconds.
    """
    setup = getattr(plugin.module, "setup", None)
    if setup is None:
        return
    try:
        result = setup(app, options)
        if inspect.isawaitable(result):
            await asyncio.wait_for(result, timeout or None)
    except asyncio.TimeoutError as exc:
        raise PluginError(plugin.name, f"setup() did not finish within {timeout:g}s") from exc
    except Exception as exc:
        raise PluginError(plugin.name, f"setup() failed: {type(exc).__name__}: {exc}"
                                       f"{_where(exc, plugin.path)}") from exc


def run_teardown(plugin: Plugin, app: Any) -> None:
    """Call the plugin's ``teardown(app)``; errors are logged, never raised."""
    teardown = getattr(plugin.module, "teardown", None)
    if teardown is None or not plugin.setup_done:
        return
    try:
        teardown(app)
    except Exception:
        gen_log.error("Plugin %r: teardown() failed", plugin.name, exc_info=True)


def plugin_dirs(plugin: Plugin) -> tuple[str | None, str | None]:
    """The plugin's (templates, static) directories, each ``None`` if absent."""
    module = plugin.module
    result: list[str | None] = []
    for attr, default in (("template_path", "templates"), ("static_path", "static")):
        value = getattr(module, attr, None)
        if value is None:
            value = default if plugin.is_package else None
        path = os.path.join(plugin.directory, value) if value else None
        result.append(path if path and os.path.isdir(path) else None)
    return result[0], result[1]


class PluginSet:
    """The plugins of one configuration generation, in load order."""

    def __init__(self, plugins: list[Plugin]) -> None:
        self.plugins = plugins

    def __iter__(self) -> Any:
        return iter(self.plugins)

    def loaded(self) -> list[Plugin]:
        return [p for p in self.plugins if p.state == "loaded"]

    def failed(self) -> list[Plugin]:
        return [p for p in self.plugins if p.state == "failed"]

    def option_keys(self) -> set[str]:
        keys: set[str] = set()
        for p in self.plugins:
            keys |= p.option_keys
        return keys

    def describe(self) -> dict[str, Any]:
        return {p.name: p.describe() for p in self.plugins}
