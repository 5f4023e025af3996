"""UI modules: reusable page parts that bring their own CSS and JavaScript.

A module renders a fragment where a template calls it, and may ask for
stylesheets, scripts and ``<head>``/``<body>`` markup, which
`~.RequestHandler.render` adds to the page once::

    from embedtornado.web import Application, RequestHandler, UIModule

    class Entry(UIModule):
        def render(self, entry, show_comments=False):
            return self.render_string("module-entry.html", entry=entry,
                                      show_comments=show_comments)

        def css_files(self):
            return ["entry.css"]                  # relative: through static_url

        def embedded_javascript(self):
            return "initEntries();"

    app = Application([...], ui_modules={"Entry": Entry}, static_path="static",
                      template_path="templates")

    # templates/home.html:  {% for e in entries %}{% module Entry(e) %}{% end %}

Every application has three modules besides its own: ``linkify`` (text with
its URLs turned into links), ``xsrf_form_html`` (the XSRF form field) and
``Template`` (`TemplateModule`, an include with its own namespace).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from embedtornado import escape

if TYPE_CHECKING:
    from embedtornado.web.handler import RequestHandler

__all__ = ["TemplateModule", "UIModule"]


class UIModule:
    """A reusable piece of a page, called from templates as ``{% module Name(...) %}``.

    Subclasses implement `render`. One instance serves every call of the
    module during a request, so it can gather the resources of all of
    them; the other methods are asked once, after the page is rendered.
    """

    def __init__(self, handler: RequestHandler) -> None:
        self.handler = handler
        self.request = handler.request
        self.ui = handler.ui
        self.locale = handler.locale

    @property
    def current_user(self) -> Any:
        """The handler's `~.RequestHandler.current_user`."""
        return self.handler.current_user

    def render(self, *args: Any, **kwargs: Any) -> str | bytes:
        """Return this module's HTML for one call; subclasses must implement it."""
        raise NotImplementedError()

    def embedded_javascript(self) -> str | None:
        """JavaScript to put in a ``<script>`` element at the end of the page's body."""
        return None

    def javascript_files(self) -> Iterable[str] | None:
        """Scripts to link at the end of the body (relative paths go through ``static_url``)."""
        return None

    def embedded_css(self) -> str | None:
        """CSS to put in a ``<style>`` element at the end of the page's head."""
        return None

    def css_files(self) -> Iterable[str] | None:
        """Stylesheets to link in the head (relative paths go through ``static_url``)."""
        return None

    def html_head(self) -> str | None:
        """HTML to add at the end of the ``<head>`` element."""
        return None

    def html_body(self) -> str | None:
        """HTML to add at the end of the ``<body>`` element."""
        return None

    def render_string(self, path: str, **kwargs: Any) -> bytes:
        """Render the template ``path`` with the handler's namespace plus ``kwargs``."""
        return self.handler.render_string(path, **kwargs)


class _linkify(UIModule):
    def render(self, text: str, **kwargs: Any) -> str:  # type: ignore[override]
        return escape.linkify(text, **kwargs)


class _xsrf_form_html(UIModule):
    def render(self) -> str:  # type: ignore[override]
        return self.handler.xsrf_form_html()


class TemplateModule(UIModule):
    """The ``Template`` module: ``{% module Template("x.html", **kwargs) %}``.

    Like ``{% include "x.html" %}``, except that the template gets a
    namespace of its own (the handler's plus ``kwargs``) instead of the
    including template's. The template may also declare resources by calling
    ``set_resources`` with keyword arguments named after `UIModule`'s
    methods::

        {{ set_resources(css_files=["box.css"], embedded_javascript="boxes();") }}

    Resources are kept once per template file, whatever the arguments, so
    they must not depend on them: declaring different ones for the same
    file raises `ValueError`.
    """

    def __init__(self, handler: RequestHandler) -> None:
        super().__init__(handler)
        # In order of first use, and by template path.
        self._resource_list: list[dict[str, Any]] = []
        self._resource_dict: dict[str, dict[str, Any]] = {}

    def render(self, path: str, **kwargs: Any) -> bytes:  # type: ignore[override]
        def set_resources(**resources: Any) -> str:
            known = self._resource_dict.get(path)
            if known is None:
                self._resource_dict[path] = resources
                self._resource_list.append(resources)
            elif known != resources:
                raise ValueError("set_resources called with different resources "
                                 "for the same template")
            return ""

        return self.render_string(path, set_resources=set_resources, **kwargs)

    def _get_resources(self, key: str) -> Iterable[Any]:
        return (r[key] for r in self._resource_list if key in r)

    def _files(self, key: str) -> list[str]:
        files: list[str] = []
        for item in self._get_resources(key):
            if isinstance(item, (str, bytes)):
                files.append(item)  # type: ignore[arg-type]
            else:
                files.extend(item)
        return files

    def embedded_javascript(self) -> str:
        return "\n".join(self._get_resources("embedded_javascript"))

    def javascript_files(self) -> list[str]:
        return self._files("javascript_files")

    def embedded_css(self) -> str:
        return "\n".join(self._get_resources("embedded_css"))

    def css_files(self) -> list[str]:
        return self._files("css_files")

    def html_head(self) -> str:
        return "".join(self._get_resources("html_head"))

    def html_body(self) -> str:
        return "".join(self._get_resources("html_body"))


# The UI modules every application has (its ``ui_modules`` come on top).
_DEFAULT_UI_MODULES: dict[str, type[UIModule]] = {
    "linkify": _linkify,
    "xsrf_form_html": _xsrf_form_html,
    "Template": TemplateModule,
}
