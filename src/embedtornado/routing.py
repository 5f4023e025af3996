"""Routing: choose the delegate that answers a request (Tornado's ``tornado.routing``).

A `Router` is an `~.httputil.HTTPServerConnectionDelegate` whose
`~Router.find_handler` picks an `~.httputil.HTTPMessageDelegate` for each
request, so any router can be given to `.HTTPServer` directly. The usual one
is `.web.Application`; `RuleRouter` and `ReversibleRuleRouter` build routing
tables from `Rule` objects, each a `Matcher` plus a target::

    from embedtornado.httpserver import HTTPServer
    from embedtornado.routing import HostMatches, PathMatches, Rule, RuleRouter
    from embedtornado.web import Application

    api = Application([(r"/api/items/([0-9]+)", ItemHandler)])
    admin = Application([(r"/admin/", AdminHandler)])

    router = RuleRouter([
        Rule(HostMatches(r"admin\\.example\\.com"), admin),   # by Host header
        Rule(PathMatches(r"/api/.*"), api),                    # by path
        (r"/health", lambda request: reply_ok(request)),       # plain callable
    ])
    server = HTTPServer(router)

A rule's target may be another `Router` (asked in turn), an
`~.httputil.HTTPServerConnectionDelegate` (such as an ``Application``), or a
callable taking the `~.httputil.HTTPServerRequest`. Rules are tried in order
and the first whose matcher matches and whose target gives a delegate wins;
nothing matching means a bare ``404`` (or, in an ``Application``, its
``default_handler_class``).

Named rules can be turned back into URLs with
`ReversibleRouter.reverse_url`: ``PathMatches(r"/items/([0-9]+)")`` reverses
``reverse(42)`` to ``/items/42``, escaping each argument for a URL path.

Routing is fast: a `RuleRouter` keeps an index of the rules whose pattern is a
plain path (no regular-expression syntax, such as ``r"/"`` or ``r"/api/status"``)
and looks a request's path up in a dict before trying, in order, only the
rules that need a regular expression. The result is always what trying every
rule in order would give; the index is rebuilt whenever the rule list or a
`Rule` or `PathMatches` attribute changes.

.. versionadded:: 4.5
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Iterable, Sequence
from functools import partial
from re import Pattern
from typing import Any, SupportsIndex, Union, overload

from embedtornado import httputil
from embedtornado.escape import url_escape, url_unescape, utf8
from embedtornado.httpserver import _CallableAdapter
from embedtornado.log import app_log
from embedtornado.util import import_object, re_unescape

__all__ = [
    "AnyMatches",
    "DefaultHostMatches",
    "HostMatches",
    "Matcher",
    "PathMatches",
    "ReversibleRouter",
    "ReversibleRuleRouter",
    "Router",
    "Rule",
    "RuleRouter",
    "URLSpec",
    "url",
]


class Router(httputil.HTTPServerConnectionDelegate):
    """The interface of a router: a connection delegate that routes each request.

    Subclasses implement `find_handler`; `start_request` wraps it so that the
    router can serve an `.HTTPServer` directly::

        class MethodRouter(Router):
            def __init__(self, app):
                self.app = app

            def find_handler(self, request, **kwargs):
                cls = ReadHandler if request.method == "GET" else WriteHandler
                return self.app.get_handler_delegate(request, cls, path_args=[request.path])
    """

    def find_handler(
        self, request: httputil.HTTPServerRequest, **kwargs: Any
    ) -> httputil.HTTPMessageDelegate | None:
        """Return the `~.httputil.HTTPMessageDelegate` that will serve *request*.

        :arg request: the `~.httputil.HTTPServerRequest`, with its headers
            (the body has not been read yet).
        :arg kwargs: extra routing parameters a parent router may pass down.
        :returns: a delegate, or ``None`` when this router has no match.
        """
        raise NotImplementedError()

    def start_request(
        self, server_conn: object, request_conn: httputil.HTTPConnection
    ) -> httputil.HTTPMessageDelegate:
        return _RoutingDelegate(self, server_conn, request_conn)


class ReversibleRouter(Router):
    """A router whose named routes can be turned back into URLs."""

    def reverse_url(self, name: str, *args: Any) -> str | None:
        """Build the URL of the route called *name* from *args*.

        :arg name: the route's name.
        :arg args: values for the route's capturing groups, in order.
        :returns: the URL path, or ``None`` if no route has that name.
        """
        raise NotImplementedError()


class _RoutingDelegate(httputil.HTTPMessageDelegate):
    """Builds the request once its head has arrived, routes it, then forwards to the delegate."""

    def __init__(
        self, router: Router, server_conn: object, request_conn: httputil.HTTPConnection
    ) -> None:
        self.server_conn = server_conn
        self.request_conn = request_conn
        self.delegate: httputil.HTTPMessageDelegate | None = None
        self.router: Router = router

    def headers_received(
        self,
        start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
        headers: httputil.HTTPHeaders,
    ) -> Awaitable[None] | None:
        assert isinstance(start_line, httputil.RequestStartLine)
        request = httputil.HTTPServerRequest(
            connection=self.request_conn,
            server_connection=self.server_conn,
            start_line=start_line,
            headers=headers,
        )
        delegate = self.router.find_handler(request)
        if delegate is None:
            app_log.debug("Delegate for %s %s request not found",
                          start_line.method, start_line.path)
            delegate = _DefaultMessageDelegate(self.request_conn)
        self.delegate = delegate
        return delegate.headers_received(start_line, headers)

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        assert self.delegate is not None
        return self.delegate.data_received(chunk)

    def finish(self) -> None:
        assert self.delegate is not None
        self.delegate.finish()

    def on_connection_close(self) -> None:
        if self.delegate is not None:
            self.delegate.on_connection_close()


class _DefaultMessageDelegate(httputil.HTTPMessageDelegate):
    """Answers ``404 Not Found`` with an empty body: what a router with no match gives."""

    def __init__(self, connection: httputil.HTTPConnection) -> None:
        self.connection = connection

    def finish(self) -> None:
        self.connection.write_headers(
            httputil.ResponseStartLine("HTTP/1.1", 404, "Not Found"),
            httputil.HTTPHeaders(),
        )
        self.connection.finish()


#: What `RuleRouter` accepts as rules: `Rule` objects, or tuples (or lists)
#: of `Rule` constructor arguments, where a ``str`` matcher means `PathMatches`.
_RuleList = Sequence[
    Union[
        "Rule",
        list[Any],
        tuple[Union[str, "Matcher"], Any],
        tuple[Union[str, "Matcher"], Any, dict[str, Any]],
        tuple[Union[str, "Matcher"], Any, dict[str, Any], str],
    ]
]


# --- the exact-path index -------------------------------------------------------------
#
# NOTE(embedtornado): Tornado tries every rule's regular expression in turn.
# Most routes are plain paths, so RuleRouter indexes those by path and only
# runs the regular expressions of the other rules, stopping at the first
# indexed match. To stay exact the index must never be stale: the rule list
# is a _TrackedRules that drops its index on every change, and any attribute
# assignment on a Rule or PathMatches bumps _generation, which also drops it.

_generation = 0

# Characters that make a pattern more than a plain path.
_REGEX_SYNTAX = frozenset("\\.^$*+?{}[]|()")


def _bump_generation() -> None:
    global _generation
    _generation += 1


def _literal_path(matcher: Matcher) -> str | None:
    """The one path *matcher* matches (give or take a final newline), or ``None``.

    Only a `PathMatches` itself (not a subclass, which may match differently)
    whose pattern is a plain string between an optional ``^`` and a final
    ``$`` qualifies. Such a pattern matches a path ``p`` exactly when ``p``
    is the string or the string plus ``"\\n"`` (``$`` matches before a final
    newline).
    """
    if type(matcher) is not PathMatches:
        return None
    regex = matcher.regex
    if not isinstance(regex, re.Pattern) or regex.flags != re.UNICODE:
        return None
    pattern = regex.pattern
    if not isinstance(pattern, str) or not pattern.endswith("$"):
        return None
    body = pattern[1:-1] if pattern.startswith("^") else pattern[:-1]
    if _REGEX_SYNTAX.isdisjoint(body):
        return body
    return None


# How a rule's target becomes a delegate, decided once per plan (see
# RuleRouter._target_kind). Anything but _GENERIC skips get_target_delegate,
# and is only chosen when the router's get_target_delegate is one whose
# answer for that target is known.
_GENERIC = 0  # self.get_target_delegate(target, request, **params)
_ROUTER = 1  # target.find_handler(request, **params)
_HANDLER = 2  # self.application.get_handler_delegate(request, target, **params)


class _RoutePlan:
    """The exact-path index of one rule list, for one router.

    ``exact`` maps a plain path to the position of the first rule matching
    only it; ``others`` lists, in order, the positions of every other rule;
    ``kinds[i]`` says how rule ``i``'s target gives a delegate, and
    ``match_all[i]`` that its matcher is an `AnyMatches`.
    """

    __slots__ = ("exact", "generation", "kinds", "match_all", "method", "others", "owner")

    def __init__(self, router: RuleRouter, rules: Sequence[Rule]) -> None:
        self.generation = _generation
        self.owner = router
        self.method = type(router).get_target_delegate
        exact: dict[str, int] = {}
        others: list[int] = []
        for i, rule in enumerate(rules):
            path = _literal_path(rule.matcher)
            if path is None:
                others.append(i)
            elif path not in exact:
                exact[path] = i
        self.exact = exact
        self.others = tuple(others)
        self.kinds = tuple(router._target_kind(rule.target) for rule in rules)
        self.match_all = tuple(type(rule.matcher) is AnyMatches for rule in rules)

    def first_exact(self, path: str) -> int:
        """Position of the first indexed rule matching *path*, or -1."""
        exact = self.exact
        i = exact.get(path, -1)
        if path.endswith("\n"):
            j = exact.get(path[:-1], -1)
            if j >= 0 and (i < 0 or j < i):
                i = j
        return i


class _TrackedRules(list):  # type: ignore[type-arg]
    """A list of rules that forgets its `_RoutePlan` whenever it changes."""

    _plan: _RoutePlan | None = None

    def plan(self, router: RuleRouter) -> _RoutePlan:
        plan = self._plan
        if (plan is None or plan.generation != _generation or plan.owner is not router
                or plan.method is not type(router).get_target_delegate):
            plan = self._plan = _RoutePlan(router, self)
        return plan

    def __setitem__(self, index: Any, value: Any) -> None:
        super().__setitem__(index, value)
        self._plan = None

    def __delitem__(self, index: Any) -> None:
        super().__delitem__(index)
        self._plan = None

    def __iadd__(self, other: Iterable[Any]) -> _TrackedRules:  # type: ignore[override,misc]
        super().__iadd__(other)
        self._plan = None
        return self

    def __imul__(self, n: SupportsIndex) -> _TrackedRules:  # type: ignore[override]
        super().__imul__(n)
        self._plan = None
        return self

    def append(self, value: Any) -> None:
        super().append(value)
        self._plan = None

    def extend(self, values: Iterable[Any]) -> None:
        super().extend(values)
        self._plan = None

    def insert(self, index: SupportsIndex, value: Any) -> None:
        super().insert(index, value)
        self._plan = None

    def pop(self, index: SupportsIndex = -1) -> Any:
        self._plan = None
        return super().pop(index)

    def remove(self, value: Any) -> None:
        super().remove(value)
        self._plan = None

    def clear(self) -> None:
        super().clear()
        self._plan = None

    def sort(self, *args: Any, **kwargs: Any) -> None:
        super().sort(*args, **kwargs)
        self._plan = None

    def reverse(self) -> None:
        super().reverse()
        self._plan = None


class RuleRouter(Router):
    """A router that tries a list of `Rule` objects in order.

    :arg rules: `Rule` objects, or tuples of `Rule` arguments where a
        string first element stands for a `PathMatches` pattern::

            RuleRouter([
                Rule(PathMatches("/handler"), Target),
                (PathMatches("/other"), Target),
                ("/third", Target),
            ])

    ``Target`` may be a nested `Router`, an
    `~.httputil.HTTPServerConnectionDelegate`, or a callable taking the
    request.

    .. note:: embedtornado differs from Tornado 6.6.1: ``rules`` is a `list`
       subclass that keeps the exact-path index current. Replacing
       ``router.rules`` with a plain list works, but routes by trying every
       rule in turn, as Tornado always does.
    """

    def __init__(self, rules: _RuleList | None = None) -> None:
        self.rules: list[Rule] = _TrackedRules()
        if rules:
            self.add_rules(rules)

    def __setattr__(self, name: str, value: Any) -> None:
        # An attribute such as get_target_delegate set on the instance may
        # change how targets are handled: plan again.
        object.__setattr__(self, name, value)
        _bump_generation()

    def add_rules(self, rules: _RuleList) -> None:
        """Append *rules* (`Rule` objects or tuples of `Rule` arguments).

        Each goes through `process_rule` first.
        """
        for rule in rules:
            if isinstance(rule, (tuple, list)):
                if len(rule) not in (2, 3, 4):
                    raise AssertionError("a rule tuple has 2, 3 or 4 items: %r" % (rule,))
                if isinstance(rule[0], str):
                    rule = Rule(PathMatches(rule[0]), *rule[1:])
                else:
                    rule = Rule(*rule)
            self.rules.append(self.process_rule(rule))

    def process_rule(self, rule: Rule) -> Rule:
        """Hook to adjust each rule as it is added; returns the rule to store.

        :arg rule: a `Rule` being added.
        """
        return rule

    def find_handler(
        self, request: httputil.HTTPServerRequest, **kwargs: Any
    ) -> httputil.HTTPMessageDelegate | None:
        rules = self.rules
        if type(rules) is not _TrackedRules:
            return self._find_from(rules, 0, request)
        plan = rules._plan
        if (plan is None or plan.generation != _generation or plan.owner is not self
                or plan.method is not type(self).get_target_delegate):
            plan = rules.plan(self)
        exact = plan.exact
        if exact:
            path = request.path
            if path[-1:] == "\n":
                first = plan.first_exact(path)
            else:
                first = exact.get(path, -1)
        else:
            first = -1
        kinds = plan.kinds
        match_all = plan.match_all
        # NOTE(embedtornado): the two blocks below are what the loop in
        # _find_from does for one rule, with get_target_delegate inlined for
        # the common targets; they are written out for speed.
        for i in plan.others:
            if 0 <= first < i:
                break
            rule = rules[i]
            if match_all[i] and not rule.target_kwargs:
                # An AnyMatches rule without arguments: nothing to pass on.
                kind = kinds[i]
                if kind == _ROUTER:
                    delegate = rule.target.find_handler(request)
                elif kind == _HANDLER:
                    delegate = self.application.get_handler_delegate(  # type: ignore[attr-defined]
                        request, rule.target)
                else:
                    delegate = self.get_target_delegate(rule.target, request)
                if delegate is not None:
                    return delegate
                continue
            if match_all[i]:
                target_params: dict[str, Any] = {}
            else:
                matched = rule.matcher.match(request)
                if matched is None:
                    continue
                target_params = matched
            if rule.target_kwargs:
                target_params["target_kwargs"] = rule.target_kwargs
            kind = kinds[i]
            if kind == _ROUTER:
                delegate = rule.target.find_handler(request, **target_params)
            elif kind == _HANDLER:
                delegate = self.application.get_handler_delegate(  # type: ignore[attr-defined]
                    request, rule.target, **target_params)
            else:
                delegate = self.get_target_delegate(rule.target, request, **target_params)
            if delegate is not None:
                return delegate
        if first < 0:
            return None
        rule = rules[first]
        kind = kinds[first]
        if rule.target_kwargs:
            first_params: dict[str, Any] | None = {"target_kwargs": rule.target_kwargs}
        else:
            first_params = None
        if kind == _HANDLER:
            if first_params is None:
                delegate = self.application.get_handler_delegate(  # type: ignore[attr-defined]
                    request, rule.target)
            else:
                delegate = self.application.get_handler_delegate(  # type: ignore[attr-defined]
                    request, rule.target, **first_params)
        elif first_params is None:
            if kind == _ROUTER:
                delegate = rule.target.find_handler(request)
            else:
                delegate = self.get_target_delegate(rule.target, request)
        elif kind == _ROUTER:
            delegate = rule.target.find_handler(request, **first_params)
        else:
            delegate = self.get_target_delegate(rule.target, request, **first_params)
        if delegate is not None:
            return delegate
        return self._find_from(rules, first + 1, request)

    def _target_kind(self, target: Any) -> int:
        """How `find_handler` may turn *target* into a delegate without `get_target_delegate`.

        Only when this router's `get_target_delegate` is `RuleRouter`'s own
        (not overridden) is a nested `Router` asked directly.
        Subclasses with a known `get_target_delegate` extend this.
        """
        if ("get_target_delegate" not in self.__dict__
                and type(self).get_target_delegate is RuleRouter.get_target_delegate
                and isinstance(target, Router)):
            return _ROUTER
        return _GENERIC

    def _find_from(self, rules: Sequence[Rule], start: int,
                   request: httputil.HTTPServerRequest) -> httputil.HTTPMessageDelegate | None:
        """Try ``rules[start:]`` in order, as Tornado does for the whole list."""
        for rule in rules[start:]:
            target_params = rule.matcher.match(request)
            if target_params is not None:
                if rule.target_kwargs:
                    target_params["target_kwargs"] = rule.target_kwargs
                delegate = self.get_target_delegate(rule.target, request, **target_params)
                if delegate is not None:
                    return delegate
        return None

    def get_target_delegate(
        self, target: Any, request: httputil.HTTPServerRequest, **target_params: Any
    ) -> httputil.HTTPMessageDelegate | None:
        """Return the `~.httputil.HTTPMessageDelegate` for a matched rule's target.

        Called by `find_handler`; override to support more kinds of target.

        :arg target: the rule's target.
        :arg request: the current `~.httputil.HTTPServerRequest`.
        :arg target_params: what the matcher returned, plus ``target_kwargs``
            when the rule has any.
        :returns: a delegate, or ``None`` to go on to the next rule.
        """
        if isinstance(target, Router):
            return target.find_handler(request, **target_params)
        if isinstance(target, httputil.HTTPServerConnectionDelegate):
            assert request.connection is not None
            return target.start_request(request.server_connection, request.connection)
        if callable(target):
            assert request.connection is not None
            return _CallableAdapter(partial(target, **target_params), request.connection)
        return None


class ReversibleRuleRouter(ReversibleRouter, RuleRouter):
    """A `RuleRouter` whose named rules can be reversed with `reverse_url`.

    A rule's ``name`` registers it; the URL is built by its matcher's
    `Matcher.reverse`. Nested reversible routers are searched too.
    """

    def __init__(self, rules: _RuleList | None = None) -> None:
        self.named_rules: dict[str, Any] = {}
        super().__init__(rules)

    def process_rule(self, rule: Rule) -> Rule:
        rule = super().process_rule(rule)
        if rule.name:
            if rule.name in self.named_rules:
                app_log.warning("Multiple handlers named %s; replacing previous value",
                                rule.name)
            self.named_rules[rule.name] = rule
        return rule

    def reverse_url(self, name: str, *args: Any) -> str | None:
        rule = self.named_rules.get(name)
        if rule is not None:
            return rule.matcher.reverse(*args)  # type: ignore[no-any-return]
        for rule in self.rules:
            if isinstance(rule.target, ReversibleRouter):
                reversed_url = rule.target.reverse_url(name, *args)
                if reversed_url is not None:
                    return reversed_url
        return None


class Rule:
    """One routing rule: a `Matcher` and the target it routes to.

    :arg matcher: decides whether the rule applies to a request.
    :arg target: what serves a matching request: usually a
        `~.web.RequestHandler` subclass, an
        `~.httputil.HTTPServerConnectionDelegate`, a nested `Router`, or a
        callable; a string is imported with `.util.import_object`.
    :arg target_kwargs: keyword arguments for the target (for a handler, its
        ``initialize`` arguments); passed down as ``target_kwargs``.
    :arg name: a name for `ReversibleRouter.reverse_url`.
    """

    def __init__(
        self,
        matcher: Matcher,
        target: Any,
        target_kwargs: dict[str, Any] | None = None,
        name: str | None = None,
    ) -> None:
        if isinstance(target, str):
            target = import_object(target)
        self.matcher: Matcher = matcher
        self.target = target
        self.target_kwargs = target_kwargs if target_kwargs else {}
        self.name = name

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        _bump_generation()

    def reverse(self, *args: Any) -> str | None:
        """Build this rule's URL from *args* (see `Matcher.reverse`)."""
        return self.matcher.reverse(*args)

    def __repr__(self) -> str:
        return "%s(%r, %s, kwargs=%r, name=%r)" % (
            self.__class__.__name__, self.matcher, self.target, self.target_kwargs, self.name)


class Matcher:
    """Decides whether a `Rule` applies to a request."""

    def match(self, request: httputil.HTTPServerRequest) -> dict[str, Any] | None:
        """Match *request*.

        :returns: ``None`` for no match; otherwise a dict (often empty) of
            parameters for the target, such as ``path_args`` and
            ``path_kwargs`` for a `~.web.RequestHandler`.
        """
        raise NotImplementedError()

    def reverse(self, *args: Any) -> str | None:
        """Build the URL this matcher matches from *args*, or ``None`` if it cannot."""
        return None


class AnyMatches(Matcher):
    """Matches every request."""

    def match(self, request: httputil.HTTPServerRequest) -> dict[str, Any] | None:
        return {}


class HostMatches(Matcher):
    """Matches requests whose host name (``request.host_name``) matches a pattern.

    :arg host_pattern: a regular expression (``$`` is appended when it does
        not end with one) or a compiled pattern, matched from the start.
    """

    def __init__(self, host_pattern: str | Pattern[str]) -> None:
        if isinstance(host_pattern, str):
            if not host_pattern.endswith("$"):
                host_pattern += "$"
            self.host_pattern = re.compile(host_pattern)
        else:
            self.host_pattern = host_pattern

    def match(self, request: httputil.HTTPServerRequest) -> dict[str, Any] | None:
        if self.host_pattern.match(request.host_name):
            return {}
        return None


class DefaultHostMatches(Matcher):
    """Matches when the application's ``default_host`` matches *host_pattern*.

    Never matches a request carrying ``X-Real-Ip``: behind a proxy the
    request's own host decides.
    """

    def __init__(self, application: Any, host_pattern: Pattern[str]) -> None:
        self.application = application
        self.host_pattern = host_pattern

    def match(self, request: httputil.HTTPServerRequest) -> dict[str, Any] | None:
        if ("X-Real-Ip" not in request.headers
                and self.host_pattern.match(self.application.default_host)):
            return {}
        return None


class PathMatches(Matcher):
    """Matches requests whose path (``request.path``) matches a regular expression.

    :arg path_pattern: a regular expression (``$`` is appended when it does
        not end with one) or a compiled pattern, matched from the start of
        the path. Its capturing groups must be all named or all unnamed.

    A match passes the groups on as ``path_args`` (unnamed groups, a list)
    or ``path_kwargs`` (named groups, a dict), each value percent-decoded to
    ``bytes`` (``+`` is kept) or ``None`` for a group that did not take part.
    """

    def __init__(self, path_pattern: str | Pattern[str]) -> None:
        if isinstance(path_pattern, str):
            if not path_pattern.endswith("$"):
                path_pattern += "$"
            self.regex = re.compile(path_pattern)
        else:
            self.regex = path_pattern
        if len(self.regex.groupindex) not in (0, self.regex.groups):
            raise AssertionError(
                "groups in url regexes must either be all named or all positional: %r"
                % self.regex.pattern)
        self._path, self._group_count = self._find_groups()

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        _bump_generation()

    def match(self, request: httputil.HTTPServerRequest) -> dict[str, Any] | None:
        regex = self.regex
        m = regex.match(request.path)
        if m is None:
            return None
        if not regex.groups:
            return {}
        if regex.groupindex:
            return {
                "path_args": [],
                "path_kwargs": {str(k): _unquote_or_none(v) for k, v in m.groupdict().items()},
            }
        return {"path_args": [_unquote_or_none(s) for s in m.groups()], "path_kwargs": {}}

    def reverse(self, *args: Any) -> str | None:
        """Fill the pattern's groups with *args* to build a URL path.

        Each argument is converted with `str` unless it is ``str`` or
        ``bytes``, encoded as UTF-8 and percent-escaped for a path (``/`` is
        kept, a space becomes ``%20``).

        :raises ValueError: if the pattern is too complex to reverse.
        :raises AssertionError: if the number of arguments is not the number
            of groups.
        """
        if self._path is None:
            raise ValueError("Cannot reverse url regex " + self.regex.pattern)
        if len(args) != self._group_count:
            raise AssertionError("required number of arguments not found")
        if not args:
            return self._path
        converted = []
        for a in args:
            if not isinstance(a, (str, bytes)):
                a = str(a)
            converted.append(url_escape(utf8(a), plus=False))
        return self._path % tuple(converted)

    def _find_groups(self) -> tuple[str | None, int | None]:
        """Return the ``%``-format that reverses the pattern, and its group count.

        ``/([0-9]{4})/([a-z-]+)/`` gives ``("/%s/%s/", 2)``. A pattern with
        nested or non-capturing groups, or with regular-expression syntax
        outside its groups, gives ``(None, None)``.
        """
        pattern = self.regex.pattern
        pattern = pattern.removeprefix("^")
        pattern = pattern.removesuffix("$")
        if self.regex.groups != pattern.count("("):
            return None, None  # non-capturing or escaped parentheses
        pieces = []
        for fragment in pattern.split("("):
            if ")" in fragment:
                # The text after a group's closing parenthesis.
                fragment = fragment[fragment.index(")") + 1:]
                prefix = "%s"
            else:
                prefix = ""
            try:
                pieces.append(prefix + re_unescape(fragment))
            except ValueError:
                return None, None  # regular-expression syntax that is not a literal
        return "".join(pieces), self.regex.groups


class URLSpec(Rule):
    """A `Rule` with a `PathMatches` matcher: the classic ``url(pattern, Handler)`` entry.

    :arg pattern: the path's regular expression; its capturing groups become
        the handler method's arguments (positional for unnamed groups,
        keyword for named ones; the two kinds cannot be mixed).
    :arg handler: the `~.web.RequestHandler` subclass (or its dotted name).
    :arg kwargs: arguments for the handler's ``initialize``.
    :arg name: a name for `~.web.Application.reverse_url`.

    ``regex``, ``handler_class`` and ``kwargs`` are kept as attributes.

    .. versionchanged:: 4.5
       Now a `Rule` subclass.
    """

    def __init__(
        self,
        pattern: str | Pattern[str],
        handler: Any,
        kwargs: dict[str, Any] | None = None,
        name: str | None = None,
    ) -> None:
        matcher = PathMatches(pattern)
        super().__init__(matcher, handler, kwargs, name)
        self.regex = matcher.regex
        self.handler_class = self.target
        self.kwargs = kwargs

    def __repr__(self) -> str:
        return "%s(%r, %s, kwargs=%r, name=%r)" % (
            self.__class__.__name__, self.regex.pattern, self.handler_class, self.kwargs,
            self.name)


#: Tornado's short name for `URLSpec`, used in handler lists.
url = URLSpec


@overload
def _unquote_or_none(s: str) -> bytes: ...


@overload
def _unquote_or_none(s: None) -> None: ...


def _unquote_or_none(s: str | None) -> bytes | None:
    """Percent-decode a matched group to ``bytes`` (``+`` kept); ``None`` stays ``None``.

    Groups reach the handler as bytes so that it chooses the encoding
    (`~.web.RequestHandler.decode_argument`). ``None`` is an optional group
    that did not take part in the match.
    """
    if s is None:
        return s
    if "%" not in s:
        return s.encode("utf-8")  # what url_unescape gives, without its passes
    return url_unescape(s, encoding=None, plus=False)
