"""How `~.RequestHandler.render` works: loaders, the template namespace, module resources.

`RequestHandler` keeps the public methods (``render``, ``render_string``,
``get_template_namespace``, ``create_template_loader``) and calls these
helpers, so that subclasses override the methods as in Tornado::

    html = _render.render_string(handler, "page.html", {"title": "Hi"})
    html = _render.insert_module_resources(handler, html)   # what render() adds
    handler.finish(html)

The steps of one ``render("page.html", **kwargs)``:

1. the loader for ``handler.get_template_path()`` (made once per path by
   ``handler.create_template_loader`` and kept in
   ``RequestHandler._template_loaders``; the ``compiled_template_cache=False``
   setting, on in debug mode, resets them before each request, so edited
   templates are read again) loads the template, compiled once;
2. the template runs with ``handler.get_template_namespace()`` updated with
   ``kwargs``;
3. the CSS, JavaScript and extra markup of the UI modules the page used are
   inserted before ``</head>`` and ``</body>``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from embedtornado.escape import _unicode, utf8

if TYPE_CHECKING:
    from embedtornado.template import BaseLoader
    from embedtornado.web.handler import RequestHandler


def _framework_files() -> frozenset[str]:
    from embedtornado.web import handler, uimodules

    return frozenset((handler.__file__ or "", uimodules.__file__ or "", __file__))


def caller_directory() -> str:
    """The directory of the first caller outside the web framework's own rendering code.

    Templates load from there when a handler has no template path.
    """
    framework = _framework_files()
    frame = sys._getframe(1)
    while frame.f_code.co_filename in framework and frame.f_back is not None:
        frame = frame.f_back
    return os.path.dirname(frame.f_code.co_filename)


def render_string(handler: RequestHandler, template_name: str, kwargs: dict[str, Any]) -> bytes:
    """Load ``template_name`` with the handler's loader and run it; return UTF-8 bytes."""
    from embedtornado.web.handler import RequestHandler

    template_path = handler.get_template_path() or caller_directory()
    loaders = RequestHandler._template_loaders
    with RequestHandler._template_loader_lock:
        loader = loaders.get(template_path)
        if loader is None:
            loader = loaders[template_path] = handler.create_template_loader(template_path)
    template = loader.load(template_name)
    namespace = handler.get_template_namespace()
    namespace.update(kwargs)
    return template.generate(**namespace)  # type: ignore[no-any-return]


def template_namespace(handler: RequestHandler) -> dict[str, Any]:
    """The names the templates of ``handler`` see (`~.RequestHandler.get_template_namespace`)."""
    locale = handler.locale
    namespace = {
        "handler": handler,
        "request": handler.request,
        "current_user": handler.current_user,
        "locale": locale,
        "_": locale.translate,
        "pgettext": locale.pgettext,
        "static_url": handler.static_url,
        "xsrf_form_html": handler.xsrf_form_html,
        "reverse_url": handler.reverse_url,
    }
    namespace.update(handler.ui)
    return namespace


def create_loader(settings: dict[str, Any], template_path: str) -> BaseLoader:
    """The default loader for ``template_path`` (see `~.RequestHandler.create_template_loader`)."""
    if "template_loader" in settings:
        return settings["template_loader"]  # type: ignore[no-any-return]
    from embedtornado import template

    kwargs: dict[str, Any] = {}
    # Only when given: autoescape=None means "no escaping", not "default".
    if "autoescape" in settings:
        kwargs["autoescape"] = settings["autoescape"]
    if "template_whitespace" in settings:
        kwargs["whitespace"] = settings["template_whitespace"]
    return template.Loader(template_path, **kwargs)


def _add_files(files: list[str], part: Any) -> None:
    if isinstance(part, (str, bytes)):
        files.append(_unicode(part))  # type: ignore[arg-type]
    else:
        files.extend(part)


def insert_module_resources(handler: RequestHandler, html: bytes) -> bytes:
    """Add what the page's UI modules asked for to the rendered ``html``.

    Linked scripts, then embedded scripts, go before the last ``</body>``;
    linked stylesheets, embedded CSS and the modules' ``html_head`` before
    the first ``</head>``; their ``html_body`` before the first ``</body>``.
    Each group is followed by a newline. A page lacking the tag it needs
    raises `ValueError`.
    """
    modules: Iterable[Any] = getattr(handler, "_active_modules", {}).values()
    js_embed: list[bytes] = []
    js_files: list[str] = []
    css_embed: list[bytes] = []
    css_files: list[str] = []
    heads: list[bytes] = []
    bodies: list[bytes] = []
    for module in modules:
        part = module.embedded_javascript()
        if part:
            js_embed.append(utf8(part))
        part = module.javascript_files()
        if part:
            _add_files(js_files, part)
        part = module.embedded_css()
        if part:
            css_embed.append(utf8(part))
        part = module.css_files()
        if part:
            _add_files(css_files, part)
        part = module.html_head()
        if part:
            heads.append(utf8(part))
        part = module.html_body()
        if part:
            bodies.append(utf8(part))

    if js_files:
        html = _insert(html, html.rindex(b"</body>"), utf8(handler.render_linked_js(js_files)))
    if js_embed:
        html = _insert(html, html.rindex(b"</body>"), handler.render_embed_js(js_embed))
    if css_files:
        html = _insert(html, html.index(b"</head>"), utf8(handler.render_linked_css(css_files)))
    if css_embed:
        html = _insert(html, html.index(b"</head>"), handler.render_embed_css(css_embed))
    if heads:
        html = _insert(html, html.index(b"</head>"), b"".join(heads))
    if bodies:
        html = _insert(html, html.index(b"</body>"), b"".join(bodies))
    return html


def _insert(html: bytes, at: int, text: bytes) -> bytes:
    return html[:at] + text + b"\n" + html[at:]
