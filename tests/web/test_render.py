"""render(), templates in the web layer and UI modules, side by side with Tornado 6.6.1.

The same handlers and template files are served by both frameworks (each
with its own template engine); the pages must come out byte for byte equal.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import re
import sys
import textwrap
import types

import pytest
import tornado.template
import tornado.web
from webtools import Dual, DualHarness, LogCapture, req, translations_in_both

import embedtornado.web
from embedtornado import template
from embedtornado.web import (
    Application,
    RequestHandler,
    StaticFileHandler,
    TemplateModule,
    UIModule,
    _render,
)
from rawhttp import ServerHarness

TEMPLATES = {
    "base.html": """\
<html>
<head><title>{% block title %}Site{% end %}</title></head>
<body>
{% block body %}{% end %}
{% include "footer.html" %}
</body>
</html>
""",
    "footer.html": "<footer>{{ handler.request.path }}</footer>",
    "middle.html": """\
{% extends "base.html" %}
{% block title %}Middle / {% block subtitle %}none{% end %}{% end %}
""",
    "page.html": """\
{% extends "middle.html" %}
{% block subtitle %}{{ title }}{% end %}
{% block body %}
<ul>{% for item in items %}<li class="{{ 'odd' if item % 2 else 'even' }}">{{ item }}</li>{% end %}</ul>
<p>{{ text }}</p>
{% end %}
""",
    "modules.html": """\
<html><head><title>m</title></head><body>
{% module Widget("one") %}
{% module Widget("<two>") %}
{{ modules.Widget("three") }}
{% module Template("tmod.html", n=1) %}
{% module Template("tmod.html", n=2) %}
{% module Template("tmod2.html") %}
{% module linkify("see http://example.com/x?a=1&b=2 now") %}
</body></html>
""",
    "tmod.html": """\
{{ set_resources(css_files=["t.css", "/abs/t.css"], embedded_javascript="tjs();", \
html_head="<meta name=t>", html_body="<div id=t></div>", embedded_css=".t{}", \
javascript_files="t.js") }}<i>{{ n }}</i>""",
    "tmod2.html": """\
{{ set_resources(javascript_files=["t2.js", "t.js"], embedded_css=".t2{}") }}<b>t2</b>""",
    "nobody.html": "<html><head></head>{% module Widget('x') %}</html>",
    "namespace.html": """\
path={{ request.path }} handler={{ type(handler).__name__ }} user={{ current_user }}
locale={{ locale.code }} tr={{ _("apple") }}/{{ _("apple", "apples", 2) }}/{{ _("apple", "apples", 1) }}
ctx={{ pgettext("fruit", "apple") }}/{{ pgettext("fruit", "apple", "apples", 3) }}
static={{ static_url("style.css") }} nover={{ static_url("style.css", include_version=False) }}
rev={{ reverse_url("item", 42) }} rev2={{ reverse_url("item", "a b") }}
shout={{ shout("hi") }} extra={{ extra }} kw={{ kw }}
modules={{ sorted(k for k in ["linkify", "xsrf_form_html", "Template", "Widget"]) }}
""",
    "escape.html": "{{ text }}|{% raw text %}",
    "noescape.html": "{% autoescape None %}{{ text }}|{% raw text %}",
    "ws.html": "<p>\n\n   a   \n\n   b\n</p>\n",
    "error.html": "line1\n{{ 1 // zero }}\n",
    "xsrf.html": "{% module xsrf_form_html() %}",
    "xsrf2.html": "{{ xsrf_form_html() }}",
}


def widget_class(web):
    """A UI module using all six resource hooks."""

    class Widget(web.UIModule):
        def render(self, label):
            self.calls = getattr(self, "calls", 0) + 1
            label = label.replace("<", "&lt;").replace(">", "&gt;")
            return "<span>%s #%d</span>" % (label, self.calls)

        def embedded_javascript(self):
            return "widget(%d);" % self.calls

        def javascript_files(self):
            return ["w.js", "http://cdn.example/w.js", "w.js"]

        def embedded_css(self):
            return ".w { color: red }"

        def css_files(self):
            return "w.css"

        def html_head(self):
            return "<meta name=widget>"

        def html_body(self):
            return "<div id=widget-end></div>"

    return Widget


def shout(handler, text):
    return text.upper() + "!"


def handlers(web):
    class Page(web.RequestHandler):
        def get(self, name):
            kwargs = {"title": "T<1>", "items": [1, 2, 3], "text": "a & b",
                      "extra": "kw-extra", "kw": "given"}
            self.render(name, **kwargs)

        def get_current_user(self):
            return "ann"

        def get_template_namespace(self):
            ns = super().get_template_namespace()
            ns["extra"] = "ns-extra"
            return ns

    class String(web.RequestHandler):
        def get(self):
            out = self.render_string("escape.html", text="<a&b>")
            assert isinstance(out, bytes)
            self.set_header("Content-Type", "text/plain")
            self.write(out)

    class Twice(web.RequestHandler):
        def get(self):
            self.render("escape.html", text="x")
            try:
                self.render("escape.html", text="y")
            except RuntimeError as e:
                self.application.settings["errors"].append(str(e))

    class Awaited(web.RequestHandler):
        async def get(self):
            f = self.render("escape.html", text="awaited")
            assert isinstance(f, asyncio.Future) or hasattr(f, "__await__")
            await f

    class Item(web.RequestHandler):
        def get(self, n):
            self.write(n)

    return [
        (r"/page/(.*)", Page),
        (r"/string", String),
        (r"/twice", Twice),
        (r"/awaited", Awaited),
        web.url(r"/item/([^/]+)", Item, name="item"),
    ]


@pytest.fixture(scope="module")
def tdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("templates")
    for name, text in TEMPLATES.items():
        (root / name).write_text(text)
    static = tmp_path_factory.mktemp("static")
    for name in ("style.css", "w.js", "w.css", "t.css", "t.js", "t2.js"):
        (static / name).write_text("/* %s */" % name)
    return root, static


class RenderHarness(DualHarness):
    """A DualHarness whose apps get each framework's own Widget module and settings."""

    def __init__(self, handlers_fn, **settings):
        super().__init__(handlers_fn, **dict(settings, ui_modules={
            "Widget": widget_class(embedtornado.web)}))
        self.tornado_app = tornado.web.Application(
            handlers_fn(tornado.web), **dict(settings, ui_modules={
                "Widget": widget_class(tornado.web)}))


@pytest.fixture(scope="module")
def dual(tdir):
    root, static = tdir
    settings = {"template_path": str(root), "static_path": str(static),
                "ui_methods": {"shout": shout}, "errors": []}
    with RenderHarness(handlers, **settings) as h:
        yield Dual(h)


def page(path: str) -> bytes:
    return req("GET", path)


# --- layouts and the namespace ---------------------------------------------------------------


def test_namespace_translates_with_the_browser_locale(dual, tmp_path):
    (tmp_path / "fr.csv").write_text('"apple","pomme"\n"apples","pommes","plural"\n'
                                     '"apple","pomme","singular"\n')
    with translations_in_both(str(tmp_path)):
        r = dual.same(req("GET", "/page/namespace.html", {"Accept-Language": "fr-CA, en;q=0.5"}))
        assert "locale=fr tr=pomme/pommes/pomme" in r.body.decode()


def test_layout_three_levels_with_include(dual):
    r = dual.same(page("/page/page.html"))
    assert r.code == 200
    assert r.headers["content-type"] == "text/html; charset=UTF-8"
    body = r.body.decode()
    assert "<title>Middle / T&lt;1&gt;</title>" in body
    assert '<li class="odd">1</li><li class="even">2</li>' in body
    assert "<p>a &amp; b</p>" in body
    assert "<footer>/page/page.html</footer>" in body


def test_namespace(dual):
    r = dual.same(page("/page/namespace.html"))
    body = r.body.decode()
    assert "path=/page/namespace.html handler=Page user=ann" in body
    assert "locale=en_US tr=apple/apples/apple" in body
    assert "ctx=apple/apples" in body
    assert "static=/static/style.css?v=" in body and "nover=/static/style.css\n" in body
    assert "rev=/item/42 rev2=/item/a%20b" in body
    # ui methods get the handler; render kwargs win over the namespace.
    assert "shout=HI! extra=kw-extra kw=given" in body


def test_render_string_and_escaping(dual):
    r = dual.same(page("/string"))
    assert r.body == b"&lt;a&amp;b&gt;|<a&b>"
    # {% autoescape None %} applies to the whole file, wherever it stands.
    assert dual.same(page("/page/noescape.html")).body == b"a & b|a & b"


def test_render_after_finish_raises(dual):
    errors = dual.h.app.settings["errors"]  # the same list in both applications
    errors.clear()
    dual.same(page("/twice"))
    assert errors == ["Cannot render() after finish()"] * 2


def test_render_returns_the_finish_future(dual):
    assert dual.same(page("/awaited")).body == b"awaited|awaited"


def test_missing_template_is_500(dual):
    with LogCapture("embedtornado.application", "tornado.application") as logs:
        ours, theirs = dual.both(page("/page/nothere.html"))
    assert ours.code == theirs.code == 500
    assert len(logs.by("embedtornado.application")) == 1


def test_template_error_is_500_and_logged_with_the_template_line(dual):
    with LogCapture("embedtornado.application", "tornado.application") as logs:
        ours, theirs = dual.both(page("/page/error.html"))
    assert ours.code == theirs.code == 500
    [record] = logs.by("embedtornado.application")
    assert record.exc_info is not None
    assert "error.html:2" in "".join(__import__("traceback").format_exception(*record.exc_info))


# --- UI modules ---------------------------------------------------------------------------------


def test_ui_modules_insert_all_six_hooks(dual):
    r = dual.same(page("/page/modules.html"))
    body = r.body.decode()
    head, _, rest = body.partition("</head>")
    # In the head: linked CSS, then embedded CSS, then html_head.
    assert '<link href="/static/w.css?v=' in head
    assert '<link href="/abs/t.css" type="text/css" rel="stylesheet"/>' in head
    assert head.index("w.css") < head.index('<style type="text/css">') < head.index(
        "<meta name=widget>")
    assert ".w { color: red }\n.t{}\n.t2{}" in head
    # In the body: each module's output, then the scripts and html_body.
    assert "<span>one #1</span>" in rest and "<span>&lt;two&gt; #2</span>" in rest
    assert "&lt;span&gt;three #3&lt;/span&gt;" in rest  # {{ }} escapes, {% module %} does not
    assert "<i>1</i>" in rest and "<i>2</i>" in rest and "<b>t2</b>" in rest
    assert 'see <a href="http://example.com/x?a=1&amp;b=2">' in rest
    # Scripts once each, in order; the module's JavaScript after the three calls.
    assert rest.count('src="/static/w.js?v=') == 1 and rest.count('src="/static/t.js?v=') == 1
    assert rest.index("w.js") < rest.index("http://cdn.example/w.js") < rest.index("t.js") \
        < rest.index("t2.js")
    assert "//<![CDATA[\nwidget(3);\ntjs();\n//]]>" in rest
    assert rest.index("<div id=widget-end></div><div id=t></div>") < rest.index("</body>")


def test_page_without_body_tag_fails(dual):
    with LogCapture("embedtornado.application", "tornado.application"):
        ours, theirs = dual.both(page("/page/nobody.html"))
    assert ours.code == theirs.code == 500


def test_xsrf_form_html_renders_the_hidden_field(dual):
    # Both render the hidden _xsrf field (tokens are random, so only the
    # shape is compared) and set the _xsrf cookie the token comes from.
    for name in ("xsrf.html", "xsrf2.html"):
        ours, theirs = dual.both(page("/page/" + name))
        shapes = []
        for resp in (ours, theirs):
            assert resp.code == 200 and b"_xsrf" in resp.body
            assert resp.headers["set-cookie"].startswith("_xsrf=2|")
            shapes.append(re.sub(rb"2\|[0-9a-f]{8}\|[0-9a-f]{32}\|[0-9]+", b"TOKEN", resp.body))
        assert shapes[0] == shapes[1] and b"TOKEN" in shapes[0]


def test_default_ui_modules():
    app = Application()
    theirs = tornado.web.Application()
    assert sorted(app.ui_modules) == sorted(theirs.ui_modules) == [
        "Template", "linkify", "xsrf_form_html"]
    assert app.ui_modules["Template"] is TemplateModule
    assert all(issubclass(m, UIModule) for m in app.ui_modules.values())


def test_ui_methods_and_modules_from_a_python_module():
    mod = types.ModuleType("myui")

    def upper(handler, s):
        return s.upper()

    class Hello(UIModule):
        def render(self, who):
            return "hello " + who

    mod.upper = upper  # type: ignore[attr-defined]
    mod._private = upper  # type: ignore[attr-defined]
    mod.Hello = Hello  # type: ignore[attr-defined]
    app = Application(ui_methods=mod, ui_modules=[mod])
    assert set(app.ui_methods) == {"upper"}
    assert app.ui_modules["Hello"] is Hello


def test_ui_module_attributes(tdir):
    root, _ = tdir
    seen = {}

    class Probe(UIModule):
        def render(self):
            seen.update(handler=self.handler, request=self.request, ui=self.ui,
                        locale=self.locale, user=self.current_user)
            return self.render_string("escape.html", text="<m>")

    class H(RequestHandler):
        def get_current_user(self):
            return "bob"

        def get(self):
            self.write(self._ui_module("Probe", Probe)())

    app = Application([(r"/", H)], template_path=str(root))
    with ServerHarness(app) as h:
        r = h.run(h.request(page("/")))
    assert r.body == b"&lt;m&gt;|<m>"
    assert isinstance(seen["handler"], H) and seen["request"] is seen["handler"].request
    assert seen["locale"].code == "en_US" and seen["user"] == "bob"
    assert "Probe" not in seen["ui"] and "modules" in seen["ui"]


def test_template_module_resources_must_agree(tdir, tmp_path):
    (tmp_path / "r.html").write_text("{{ set_resources(css_files=[x]) }}{{ x }}")

    class H(RequestHandler):
        def get(self):
            self.write(self._ui_module("Template", TemplateModule)("r.html", x="a.css"))
            self.write(self._ui_module("Template", TemplateModule)("r.html", x="b.css"))

    app = Application([(r"/", H)], template_path=str(tmp_path))
    with ServerHarness(app) as h, LogCapture("embedtornado.application") as logs:
        r = h.run(h.request(page("/")))
    assert r.code == 500
    assert "set_resources called with different resources" in str(logs.records[0].exc_info[1])


# --- loaders, settings and caching ------------------------------------------------------------------


def dict_loader_handlers(web):
    class H(web.RequestHandler):
        def get(self, name):
            self.render(name, text="<x>")

    return [(r"/(.*)", H)]


def test_template_loader_setting():
    for module, web in ((template, embedtornado.web), (tornado.template, tornado.web)):
        loader = module.DictLoader({"a.html": "a={{ text }}"})
        app = web.Application(template_loader=loader)
        fake = types.SimpleNamespace(application=app)
        assert web.RequestHandler.create_template_loader(fake, "/anything") is loader


def test_create_template_loader_settings(tmp_path):
    for settings, escape_out, ws in (
        ({}, b"&lt;x&gt;", b"<p>\na\nb\n</p>\n"),
        ({"autoescape": None}, b"<x>", b"<p>\na\nb\n</p>\n"),
        ({"template_whitespace": "all"}, b"&lt;x&gt;", TEMPLATES["ws.html"].encode()),
        ({"template_whitespace": "oneline"}, b"&lt;x&gt;", b"<p> a b </p> "),
    ):
        (tmp_path / "e.html").write_text("{{ text }}")
        (tmp_path / "ws.html").write_text(TEMPLATES["ws.html"])
        with DualHarness(dict_loader_handlers, template_path=str(tmp_path), **settings) as h:
            d = Dual(h)
            assert d.same(page("/e.html")).body == escape_out
            assert d.same(page("/ws.html")).body == ws
        tornado.web.RequestHandler._template_loaders.clear()
        RequestHandler._template_loaders.clear()


def test_custom_create_template_loader_and_path(tmp_path):
    made = []

    class H(RequestHandler):
        def get_template_path(self):
            return "custom-path"

        def create_template_loader(self, template_path):
            made.append(template_path)
            return template.DictLoader({"x.html": "custom {{ 1 + 1 }}"})

        def get(self):
            self.render("x.html")

    RequestHandler._template_loaders.pop("custom-path", None)
    with ServerHarness(Application([(r"/", H)])) as h:
        assert h.run(h.request(page("/"))).body == b"custom 2"
        assert h.run(h.request(page("/"))).body == b"custom 2"
    assert made == ["custom-path"]  # one loader per template path
    RequestHandler._template_loaders.pop("custom-path", None)


@pytest.mark.parametrize("settings, reloads", [
    ({}, False),
    ({"compiled_template_cache": False}, True),
    ({"debug": True, "autoreload": False}, True),
])
def test_compiled_template_cache(tmp_path, settings, reloads):
    (tmp_path / "c.html").write_text("version 1")

    def rules(web):
        class H(web.RequestHandler):
            def get(self):
                self.render("c.html")

        return [(r"/", H)]

    with DualHarness(rules, template_path=str(tmp_path), **settings) as h:
        d = Dual(h)
        assert d.same(page("/")).body == b"version 1"
        (tmp_path / "c.html").write_text("version 2 {{ 1 }}")
        assert d.same(page("/")).body == (b"version 2 1" if reloads else b"version 1")
    tornado.web.RequestHandler._template_loaders.clear()
    RequestHandler._template_loaders.clear()


def test_templates_next_to_the_calling_file(tmp_path):
    """Without template_path, templates load from the directory of the handler's module."""
    (tmp_path / "here.html").write_text("here {{ who }}")
    (tmp_path / "inner.html").write_text("inner")
    (tmp_path / "handlers_mod.py").write_text(textwrap.dedent("""\
        from embedtornado.web import RequestHandler

        class Here(RequestHandler):
            def get(self):
                self.render("here.html", who="me")

        class Str(RequestHandler):
            def get(self):
                self.write(self.render_string("inner.html"))
    """))
    spec = importlib.util.spec_from_file_location("handlers_mod_render_test",
                                                  tmp_path / "handlers_mod.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    app = Application([(r"/", mod.Here), (r"/s", mod.Str)])
    try:
        with ServerHarness(app) as h:
            assert h.run(h.request(page("/"))).body == b"here me"
            assert h.run(h.request(page("/s"))).body == b"inner"
    finally:
        RequestHandler._template_loaders.pop(str(tmp_path), None)
    assert _render.caller_directory() == os.path.dirname(__file__)


def test_static_url_in_templates_and_module_files(tdir):
    root, static = tdir
    StaticFileHandler.reset()

    class H(RequestHandler):
        def get(self):
            self.render("namespace.html", extra="e", kw="k")

        def reverse_url(self, name, *args):
            return "/r"

    app = Application([(r"/", H)], template_path=str(root), static_path=str(static),
                      static_url_prefix="/assets/", ui_methods={"shout": shout})
    with ServerHarness(app) as h:
        body = h.run(h.request(page("/"))).body.decode()
    assert "static=/assets/style.css?v=" in body and "rev=/r" in body


def test_handler_namespace_methods_match_tornado():
    import inspect

    for name in ("render", "render_string", "get_template_namespace", "create_template_loader",
                 "get_template_path", "static_url", "render_linked_js", "render_embed_js",
                 "render_linked_css", "render_embed_css"):
        ours = inspect.signature(getattr(RequestHandler, name))
        theirs = inspect.signature(getattr(tornado.web.RequestHandler, name))
        assert list(ours.parameters) == list(theirs.parameters), name
    for name in ("render", "embedded_javascript", "javascript_files", "embedded_css",
                 "css_files", "html_head", "html_body", "render_string"):
        assert hasattr(UIModule, name) and hasattr(tornado.web.UIModule, name)
    assert sys.modules["embedtornado.web"].TemplateModule is TemplateModule
