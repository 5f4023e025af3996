"""embedtornado.template against Tornado 6.6.1's, byte for byte.

Every case renders the same templates with the same data under both engines,
through a `DictLoader` and through a `Loader` on a temporary directory, with
each template runtime (``tmplrt`` fixture: compiled and pure), and compares
the outcome: the output bytes, or the exception (class and message; for
`ParseError` also file name and line). Runtime errors are compared by the
``# name:line`` comment of the generated line the traceback points at.
"""

from __future__ import annotations

import importlib
import logging
import os
import pickle
import re
import threading
import traceback

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from embedtornado import _accel, template

tornado_template = pytest.importorskip("tornado.template")

REQUIRE = os.environ.get("EMBEDTORNADO_REQUIRE_EXTENSIONS", "") not in ("", "0")


@pytest.fixture(params=["cython", "python"], ids=["c-tmplrt", "py-tmplrt"])
def tmplrt(request, monkeypatch):
    """Make templates compiled during the test use this runtime (compiled or pure)."""
    if request.param == "python":
        mod = importlib.import_module("embedtornado._pure.tmplrt")
    else:
        try:
            mod = importlib.import_module("embedtornado._speedups.tmplrt")
        except ImportError:
            if REQUIRE:
                raise
            pytest.skip("compiled embedtornado._speedups.tmplrt is not built")
    monkeypatch.setattr(template, "tmplrt", mod)
    return mod


@pytest.fixture(params=["dict", "file"])
def loaders(request, tmp_path, tmplrt):
    """``make(templates, **loader_kwargs) -> (tornado_loader, our_loader)``."""
    def make(templates, **kwargs):
        if request.param == "dict":
            return (tornado_template.DictLoader(templates, **kwargs),
                    template.DictLoader(templates, **kwargs))
        for name, text in templates.items():
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(text.encode("utf-8", "surrogatepass")
                             if isinstance(text, str) else text)
        return (tornado_template.Loader(str(tmp_path), **kwargs),
                template.Loader(str(tmp_path), **kwargs))
    return make


# NOTE(embedtornado): "else outside {'if', 'for', 'while', 'try'} block" shows a
# set, whose order depends on the hash seed and on the order in which the set
# constant was written into Tornado's .pyc; the names are compared, not the order.
_SET_REPR = re.compile(r"\{'[a-z]+'(?:, '[a-z]+')*\}")


def _sorted_sets(text):
    return _SET_REPR.sub(lambda m: "{" + ", ".join(sorted(m.group()[1:-1].split(", "))) + "}",
                         text)


def outcome(fn):
    """The result of ``fn()``, or a comparable description of what it raised."""
    try:
        return ("ok", fn())
    except SyntaxError:
        # The position is in generated code, which differs.
        return ("SyntaxError",)
    except Exception as e:  # noqa: BLE001
        if type(e).__name__ == "ParseError":
            return ("ParseError", _sorted_sets(str(e)), e.filename, e.lineno,
                    (_sorted_sets(e.args[0]),) + e.args[1:])
        frames = traceback.extract_tb(e.__traceback__)
        where = [f.line.rpartition("  # ")[2] for f in frames
                 if f.filename.endswith(".generated.py") and f.line]
        return (type(e).__name__, str(e), where[-1:])


def both(make, templates, name, kwargs=None, **loader_kwargs):
    kwargs = kwargs or {}
    t_loader, e_loader = make(templates, **loader_kwargs)
    theirs = outcome(lambda: t_loader.load(name).generate(**kwargs))
    ours = outcome(lambda: e_loader.load(name).generate(**kwargs))
    return ours, theirs


def check(make, templates, name="page.html", kwargs=None, **loader_kwargs):
    ours, theirs = both(make, templates, name, kwargs, **loader_kwargs)
    assert ours == theirs
    return ours


class Thing:
    def __str__(self):
        return "<thing & 'co'>"


class BadStr:
    def __str__(self):
        raise ValueError("no str <here>")


VALUES = {
    "s": "<a href=\"x\">Tom & Jerry's</a>",
    "u": "Zoë ☃ 😀 <é>",
    "b": b"<b>bytes & \xc3\xa9</b>",
    "badb": b"\xff<",
    "sur": "a\ud800b",
    "n": None,
    "i": 42,
    "f": 1.5,
    "t": True,
    "l": [1, "<x>", b"y"],
    "d": {"k": "<v>"},
    "o": Thing(),
    "bad": BadStr(),
    "rows": [{"name": f"r<{i}>", "ok": i % 2 == 0} for i in range(4)],
}

# name -> template text; each rendered with VALUES.
SIMPLE = {
    "expr_str": "{{ s }}",
    "expr_unicode": "{{ u }}",
    "expr_bytes": "{{ b }}",
    "expr_bad_bytes": "{{ badb }}",
    "expr_surrogate": "x{{ sur }}",
    "expr_none": "[{{ n }}]",
    "expr_int_float_bool": "{{ i }} {{ f }} {{ t }}",
    "expr_list_dict": "{{ l }} {{ d }}",
    "expr_object": "{{ o }}",
    "expr_bad_str": "a\n\n{{ bad }}",
    "expr_tuple": "{{ i, s }}",
    "expr_chained_assign": "{{ z = i }}",
    "expr_trailing_comment": "{{ i # a comment }}",
    "expr_multiline": "{{ (i +\n 1) }}",
    "expr_undefined": "line1\n{{ nope }}",
    "expr_zero_division": "1\n2\n{{ 1 / 0 }}",
    "raw_str": "{% raw s %}",
    "raw_bytes_bad": "{% raw badb %}",
    "raw_surrogate": "{% raw sur %}",
    "raw_object": "{% raw o %} {% raw n %}",
    "raw_empty": "{% raw %}",
    "autoescape_none": "{% autoescape None %}{{ s }}",
    "autoescape_none_late": "{{ s }}{% autoescape None %}{{ s }}",
    "autoescape_url": "{% autoescape url_escape %}{{ s }} {{ u }}",
    "autoescape_json": "{% autoescape json_encode %}{{ s }}",
    "autoescape_squeeze": "{% autoescape squeeze %}{{ s }}",
    "autoescape_escape_alias": "{% autoescape escape %}{{ s }}{{ b }}",
    "autoescape_dotted": "{% autoescape escape.__call__ %}{{ s }}",
    "autoescape_empty": "{% autoescape %}{{ s }}",
    "autoescape_missing": "{% autoescape nosuchfn %}{{ s }}",
    "literal_braces": "{{! s }} {%! if %} {#! c #} {{!}}",
    "triple_braces": "{{{ i }}} {{{{ i }}}} {{{{{x}} {{{% if t %}y{% end %}",
    "triple_brace_tag": "{{{% if t %}y{% end %}",
    "lone_braces": "a { b } {x} {",
    "brace_at_end": "{{ i }}{",
    "percent_hash_text": "% } # } 100%",
    "comment": "a{# {{ nope }} #}b{# multi\nline #}c",
    "comment_tag": "a{% comment this is {{ not }} output %}b",
    "set": "{% set x = i * 2 %}{{ x }}",
    "set_unbound": "{{ x }}{% set x = 1 %}",
    "import": "{% import math %}{{ math.floor(f) }}",
    "from_import": "{% from math import floor %}{{ floor(f) }}",
    "if_elif_else": "{% for v in [0, 1, 2] %}{% if v == 0 %}zero{% elif v == 1 %}one"
                    "{% else %}many{% end %},{% end %}",
    "if_empty_bodies": "{% if t %}{% elif n %}{% else %}{% end %}ok",
    "for_break_continue": "{% for v in range(10) %}{% if v == 2 %}{% continue %}{% end %}"
                          "{% if v == 5 %}{% break %}{% end %}{{ v }}{% end %}",
    "for_else": "{% for v in [] %}x{% else %}empty{% end %}",
    "for_rows": "<ul>{% for r in rows %}<li class=\"{{ 'y' if r['ok'] else 'n' }}\">"
                "{{ r['name'] }}</li>{% end %}</ul>",
    "nested_for_break": "{% for a in range(3) %}{% for b in range(3) %}{% if b > a %}"
                        "{% break %}{% end %}{{ a }}{{ b }} {% end %}{% end %}",
    "while": "{% set k = 0 %}{% while k < 3 %}{{ k }}{% set k += 1 %}{% end %}",
    "while_break": "{% set k = 0 %}{% while True %}{% set k += 1 %}{% if k > 3 %}"
                   "{% break %}{% end %}{{ k }}{% end %}",
    "try_except": "{% try %}{{ 1 / 0 }}{% except ZeroDivisionError %}div{% end %}",
    "try_else_finally": "{% try %}a{% except Exception %}b{% else %}c{% finally %}d{% end %}",
    "try_finally_raise": "{% try %}\n{{ nope }}\n{% finally %}f{% end %}",
    "apply_upper": "{% apply up %}a {{ s }} b{% end %}",
    "apply_nested": "{% apply up %}x{% apply rev %}abc{{ i }}{% end %}y{% end %}",
    "apply_returns_str": "{% apply to_str %}é{% end %}",
    "apply_returns_none": "{% apply to_none %}x{% end %}",
    "apply_in_loop": "{% for v in range(2) %}{% apply up %}v{{ v }}{% end %}{% end %}",
    "apply_set_scope": "{% apply up %}{% set q = 1 %}{% end %}{{ q }}",
    "namespace_functions": "{{ url_escape(s) }}|{{ json_encode(d) }}|{{ squeeze('  a \\n b ') }}"
                           "|{% raw linkify('see http://x.com/<a> & www.y.org') %}"
                           "|{{ escape(s) }}|{{ xhtml_escape(b) }}|{{ datetime.date(2020, 1, 2) }}",
    "tt_names": "{{ _tt_utf8('é') }} {{ _tt_string_types }}",
    "module": "{% module Hello(s, n=2) %}",
    "module_missing": "{% module Hello() %}",
    "non_ascii_text": "Zoë ☃ {{ u }} — fin",
    "unicode_whitespace": "a\u00a0\u00a0b\u2003\u2003c\n\n\u3000d",
    "pre": "<pre>  keep   this\n\n  </pre>   squash   \n\n  this",
    "escaped_markup_text": "<p class='x'>&amp;{{ s }}</p>",
}

UP = {"up": lambda b: b.upper(), "rev": lambda b: b[::-1],
      "to_str": lambda b: b.decode() + "<s>", "to_none": lambda b: None}


class Modules:
    def Hello(self, who, n=1):
        return f"<hello {who}>" * n


@pytest.mark.parametrize("name", list(SIMPLE))
@pytest.mark.parametrize("ext", [".html", ".txt"])
def test_simple(loaders, name, ext):
    kwargs = dict(VALUES, **UP)
    if name == "module":
        kwargs["_tt_modules"] = Modules()
    check(loaders, {"page" + ext: SIMPLE[name]}, "page" + ext, kwargs)


@pytest.mark.parametrize("name", ["expr_str", "expr_bytes", "expr_object", "raw_str",
                                  "autoescape_url", "for_rows"])
@pytest.mark.parametrize("autoescape", [None, "xhtml_escape", "url_escape", "up", "to_none"])
def test_loader_autoescape(loaders, name, autoescape):
    check(loaders, {"page.html": SIMPLE[name]}, "page.html", dict(VALUES),
          autoescape=autoescape, namespace=dict(UP))


def test_namespace_precedence(loaders):
    # defaults < loader namespace < generate() keywords; the autoescape
    # function is looked up by name, so both may replace it.
    page = {"page.html": "{{ s }}|{{ squeeze(s) }}|{{ i }}"}
    ns = {"xhtml_escape": lambda b: b"[" + b + b"]", "i": "ns-i"}
    assert check(loaders, page, kwargs={"s": "<a>"}, namespace=ns)[0] == "ok"
    check(loaders, page, kwargs={"s": "<a>", "i": 1, "xhtml_escape": lambda b: b * 2},
          namespace=ns)
    check(loaders, {"page.html": "{% set xhtml_escape = up %}{{ s }}"},
          kwargs={"s": "<a>", "up": UP["up"]})
    check(loaders, {"page.html": "{% for escape in [up] %}{% autoescape escape %}{{ s }}{% end %}"},
          kwargs={"s": "<a>", "up": UP["up"]})


# --- inheritance and includes -------------------------------------------------

BASE = """<html>
<head><title>{% block title %}Base title{% end %}</title></head>
<body>
{% block header %}<h1>{% block heading %}Base heading{% end %}</h1>{% end %}
{% block body %}base body{% end %}
{% include "footer.html" %}
</body></html>
"""
MID = """{% extends "base.html" %}
{% block title %}Mid: {{ title }}{% end %}
{% block body %}<div>{% block content %}mid content{% end %}</div>{% end %}
ignored text outside blocks {{ nope }}
"""
LEAF = """{% extends "mid.html" %}
{% block content %}
  leaf content {{ s }}
  {% for r in rows %}<p>{{ r["name"] }}</p>{% end %}
{% end %}
{% block heading %}Leaf heading{% end %}
"""
FOOTER = "<footer>{% block footer %}{{ year }} &copy;{% end %}</footer>"

INHERIT = {"base.html": BASE, "mid.html": MID, "leaf.html": LEAF, "footer.html": FOOTER}


@pytest.mark.parametrize("name", ["base.html", "mid.html", "leaf.html", "footer.html"])
def test_three_level_inheritance(loaders, name):
    out = check(loaders, INHERIT, name, dict(VALUES, title="<T>", year=2026))
    assert out[0] == "ok"


def test_child_overrides_block_of_included_file(loaders):
    templates = dict(INHERIT)
    templates["leaf2.html"] = LEAF + '{% block footer %}leaf footer {{ s }}{% end %}'
    check(loaders, templates, "leaf2.html", dict(VALUES, title="t", year=1))


def test_include_inside_block_and_block_inside_include(loaders):
    templates = {
        "base.html": "[{% block a %}A{% end %}]{% include 'inc.html' %}",
        "inc.html": "<inc>{% block b %}B{% end %}{% include 'sub/deep.html' %}</inc>",
        "sub/deep.html": "{% autoescape None %}<deep {{ s }}>{% include '../leaf.txt' %}"
                         "{% include 'sib.txt' %}",
        "sub/sib.txt": "sibling {{ s }}",
        "leaf.txt": "leaf {{ s }}",
        "page.html": "{% extends 'base.html' %}{% block a %}{% include 'inc2.html' %}{% end %}"
                     "{% block b %}child-b {{ s }}{% end %}",
        "inc2.html": "in a block: {{ s }}",
    }
    assert check(loaders, templates, "page.html", {"s": "<&>"})[0] == "ok"
    check(loaders, templates, "base.html", {"s": "<&>"})
    check(loaders, templates, "sub/deep.html", {"s": "<&>"})


def test_autoescape_is_per_file(loaders):
    templates = {
        "base.html": "{% autoescape None %}{{ s }}|{% block x %}{{ s }}{% end %}|"
                     "{% include 'inc.html' %}",
        "inc.html": "{{ s }}",
        "page.html": "{% extends 'base.html' %}{% block x %}child {{ s }}{% end %}",
    }
    check(loaders, templates, "page.html", {"s": "<&>"})


def test_multiple_extends_and_nested_extends(loaders):
    templates = {
        "a.html": "a[{% block x %}ax{% end %}]",
        "b.html": "b[{% block x %}bx{% end %}{% block y %}by{% end %}]",
        "two.html": "{% extends 'a.html' %}{% extends 'b.html' %}{% block y %}Y{% end %}",
        "nested.html": "{% if True %}{% extends 'a.html' %}{% end %}x",
        "inc_child.html": "{% include 'two.html' %}",
        "self.html": "{% include 'self.html' %}",
    }
    check(loaders, templates, "two.html")
    check(loaders, templates, "nested.html")
    check(loaders, templates, "inc_child.html")
    ours, theirs = both(loaders, templates, "self.html")
    assert ours[0] == theirs[0] == "RecursionError"


def test_missing_templates(loaders):
    templates = {"page.html": "{% extends 'nope.html' %}", "inc.html": "{% include 'nope.html' %}"}
    ours, theirs = both(loaders, templates, "page.html")
    assert ours[0] == theirs[0]
    ours, theirs = both(loaders, templates, "inc.html")
    assert ours[0] == theirs[0]


# --- whitespace -----------------------------------------------------------------

WS_TEXT = "  <p>\n\n   a   \t b  </p>  \n  {{ s }}  \n\t\n  <pre>  x \n\n y</pre>  \n  end  "


@pytest.mark.parametrize("name", ["page.html", "page.js", "page.txt", "page.htm", "page.css"])
@pytest.mark.parametrize("whitespace", [None, "all", "single", "oneline"])
def test_whitespace_modes(loaders, name, whitespace):
    check(loaders, {name: WS_TEXT}, name, {"s": " <s>  x "}, whitespace=whitespace)


def test_whitespace_directive(loaders):
    text = ("a  \n\n  b{% whitespace oneline %}  c \n\n d {% whitespace all %}  e \n\n f"
            "{% whitespace single %}  g \n\n h")
    check(loaders, {"page.html": text})
    check(loaders, {"page.html": "{% whitespace bogus %}"})


@pytest.mark.parametrize("kwargs", [{}, {"whitespace": "oneline"}, {"compress_whitespace": True},
                                    {"compress_whitespace": False},
                                    {"compress_whitespace": True, "whitespace": "all"},
                                    {"whitespace": "bogus"}, {"autoescape": None},
                                    {"autoescape": "url_escape"}])
@pytest.mark.parametrize("name", ["<string>", "t.html", "t.txt"])
def test_template_constructor(tmplrt, kwargs, name):
    text = "  a  \n\n  {{ s }}  b  "
    theirs = outcome(lambda: tornado_template.Template(text, name, **kwargs).generate(s="<&>"))
    ours = outcome(lambda: template.Template(text, name, **kwargs).generate(s="<&>"))
    assert ours == theirs


@settings(max_examples=300, deadline=None)
@given(mode=st.sampled_from(["all", "single", "oneline"]),
       text=st.text(alphabet=" \t\n\r\x0b\x0c\u00a0\u2003ab", max_size=30))
def test_filter_whitespace(mode, text):
    assert template.filter_whitespace(mode, text) == tornado_template.filter_whitespace(mode, text)


def test_filter_whitespace_bad_mode():
    with pytest.raises(Exception, match="^invalid whitespace mode x$"):
        template.filter_whitespace("x", "")


# --- errors ---------------------------------------------------------------------

PARSE_ERRORS = {
    "missing_end": "a\n{% if t %}\nb",
    "missing_end_nested": "{% for a in b %}\n{% while x %}\n{% end %}",
    "extra_end": "a\n\n{% end %}",
    "unknown_operator": "\n{% frobnicate x %}",
    "tab_after_operator": "{% if\tt %}{% end %}",
    "else_outside": "{% else %}",
    "elif_outside": "\n\n{% elif x %}",
    "except_outside": "{% except %}",
    "finally_outside": "{% finally %}",
    "elif_in_for": "{% for a in b %}{% elif x %}{% end %}",
    "except_in_if": "{% if t %}\n{% except %}{% end %}",
    "else_in_block": "{% block x %}{% else %}{% end %}",
    "else_in_apply": "{% apply up %}{% else %}{% end %}",
    "break_outside": "{% break %}",
    "continue_outside": "{% if t %}{% continue %}{% end %}",
    "break_in_apply_in_loop": "{% for a in b %}{% apply up %}{% break %}{% end %}{% end %}",
    "empty_expression": "{{\n\n}}",
    "empty_block": "a\n{%  %}",
    "missing_end_expression": "{{ a \n\n",
    "missing_end_comment": "\n{# a ",
    "missing_end_block": "{% if \n",
    "extends_missing_path": "{% extends '' %}",
    "include_missing_path": "{% include \"\" %}",
    "set_missing": "{% set %}",
    "import_missing": "{% import %}",
    "from_missing": "{% from %}",
    "apply_missing": "{% apply %}\nx\n{% end %}",
    "block_missing": "{% block %}{% end %}",
    "block_unclosed": "{% block x %}",
    "syntax_error": "{{ 1 + }}",
    "syntax_error_statement": "{% if %}{% end %}",
    "syntax_error_set": "{% set x = = 1 %}",
}


@pytest.mark.parametrize("name", list(PARSE_ERRORS))
def test_errors(loaders, name):
    ours = check(loaders, {"page.html": PARSE_ERRORS[name]}, kwargs=dict(VALUES, **UP))
    assert ours[0] in ("ParseError", "SyntaxError")


def test_errors_in_included_file(loaders):
    templates = {"page.html": "a\n{% include 'inc.html' %}", "inc.html": "\n\n{% end %}"}
    assert check(loaders, templates)[0] == "ParseError"
    templates = {"page.html": "a\n{% include 'inc.html' %}", "inc.html": "x\n\n{{ 1 / 0 }}"}
    assert check(loaders, templates)[2] == ["inc.html:3 (via page.html:2)"]
    templates = dict(INHERIT, **{"mid.html": MID.replace("mid content", "{{ 1 / 0 }}")})
    assert check(loaders, templates, "leaf.html", dict(VALUES, title="", year=1))[0] == "ok"
    ours = check(loaders, templates, "mid.html", dict(VALUES, title="", year=1))
    assert ours[2] == ["mid.html:3 (via mid.html:3, base.html:5)"]


def test_extends_without_loader(tmplrt):
    text = "{% extends 'base.html' %}"
    theirs = outcome(lambda: tornado_template.Template(text))
    ours = outcome(lambda: template.Template(text))
    assert ours == theirs
    assert ours[1] == "{% extends %} block found, but no template loader at None:0"


def test_include_without_loader(tmplrt):
    theirs = outcome(lambda: tornado_template.Template("{% include 'x' %}"))
    ours = outcome(lambda: template.Template("{% include 'x' %}"))
    assert ours[0] == theirs[0] == "AssertionError"


def test_parse_error_api():
    e = template.ParseError("bad", "f.html", 3)
    assert str(e) == "bad at f.html:3"
    assert (e.message, e.filename, e.lineno, e.args) == ("bad", "f.html", 3, ("bad", "f.html", 3))
    assert str(template.ParseError("m")) == "m at None:0"
    again = pickle.loads(pickle.dumps(e))
    assert str(again) == str(e) and again.lineno == 3
    t = tornado_template.ParseError("bad", "f.html", 3)
    assert (repr(e), e.args) == (repr(t), t.args)


def test_syntax_error_logs_numbered_code(tmplrt, caplog):
    with caplog.at_level(logging.ERROR, logger="embedtornado.application"), \
            pytest.raises(SyntaxError):
        template.Template("a\n{{ 1 + }}", name="bad.html")
    [record] = [r for r in caplog.records if r.name == "embedtornado.application"]
    message = record.getMessage()
    assert message.startswith("bad.html code:\n")
    lines = message.split("\n")[1:]
    assert lines[0].startswith("1  def _tt_execute():  # bad.html:0")
    assert any(line.endswith("# bad.html:2") and "_tt_tmp = 1 +" in line for line in lines)


def test_runtime_traceback_shows_template_line(tmplrt):
    t = template.Template("ok\n\n  {{ values['missing'] }}\n", name="page.html")
    try:
        t.generate(values={})
    except KeyError:
        text = traceback.format_exc()
    else:
        pytest.fail("no KeyError")
    assert 'File "page_html.generated.py"' in text
    assert "_tt_tmp = values['missing']  # page.html:3" in text


def test_generated_code_and_names(tmplrt):
    t = template.Template("<p>{{ x }}</p>", name="a.b.html")
    assert t.name == "a.b.html"
    assert t.autoescape == "xhtml_escape" and t.loader is None and t.namespace == {}
    assert "# a.b.html:1" in t.code
    assert t.compiled.co_filename == "a_b_html.generated.py"
    assert t.generate(x=b"<b>") == b"<p>&lt;b&gt;</p>"
    assert template.Template(b"\xc3\xa9{{ 1 }}").generate() == "é1".encode()
    assert template._DEFAULT_AUTOESCAPE == "xhtml_escape"
    assert isinstance(template._UNSET, template._UnsetMarker)


def test_public_names_match_tornado():
    names = {n for n in dir(tornado_template) if not n.startswith("_")
             and getattr(getattr(tornado_template, n), "__module__", "") == "tornado.template"}
    assert names <= set(dir(template))


# --- loaders --------------------------------------------------------------------

def test_loader_cache_and_reset(tmp_path, tmplrt):
    (tmp_path / "a.html").write_text("one {{ x }}")
    loader = template.Loader(str(tmp_path))
    first = loader.load("a.html")
    assert loader.load("a.html") is first
    (tmp_path / "a.html").write_text("two {{ x }}")
    assert loader.load("a.html").generate(x=1) == b"one 1"
    loader.reset()
    again = loader.load("a.html")
    assert again is not first and again.generate(x=1) == b"two 1"


@pytest.mark.parametrize("parent,name", [
    ("sub/a.html", "b.html"), ("sub/a.html", "../b.html"), ("sub/a.html", "/abs.html"),
    ("sub/x/a.html", "../../b.html"), ("a.html", "../../etc/passwd"), ("<string>", "b.html"),
    ("/abs/a.html", "b.html"), (None, "b.html"), ("", "b.html"), ("sub/a.html", "./c/./d.html"),
])
def test_resolve_path(tmp_path, parent, name):
    for ours, theirs in ((template.Loader(str(tmp_path)), tornado_template.Loader(str(tmp_path))),
                         (template.DictLoader({}), tornado_template.DictLoader({}))):
        assert ours.resolve_path(name, parent) == theirs.resolve_path(name, parent)


def test_base_loader_is_abstract():
    loader = template.BaseLoader()
    assert (loader.autoescape, loader.namespace, loader.whitespace) == ("xhtml_escape", {}, None)
    with pytest.raises(NotImplementedError):
        loader.load("x")


def test_loader_is_thread_safe(tmplrt):
    compiled = []

    class Counting(template.DictLoader):
        def _create_template(self, name):
            compiled.append(name)
            return super()._create_template(name)

    loader = Counting({"page.html": "{% extends 'base.html' %}{% block b %}{{ i }}{% end %}",
                       "base.html": "<{% block b %}{% end %}>"})
    results = []
    barrier = threading.Barrier(8)

    def work(i):
        barrier.wait()
        t = loader.load("page.html")
        results.append((t, t.generate(i=i)))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(compiled) == ["base.html", "page.html"]
    assert len({id(t) for t, _ in results}) == 1
    assert sorted(out for _, out in results) == [b"<%d>" % i for i in range(8)]


def test_compile_is_linear():
    # A large template compiles quickly (no quadratic string building).
    text = "<tr><td>{{ a }}</td>{% if b %}x{% else %}y{% end %}</tr>\n" * 3000
    t = template.Template(text, name="big.html")
    assert t.generate(a="<", b=True).count(b"&lt;") == 3000


def test_default_runtime_is_the_accelerated_one():
    assert template.tmplrt is _accel.load("tmplrt")


# --- generated templates ----------------------------------------------------------

FRAGMENTS = ["{{", "}}", "{%", "%}", "{#", "#}", "{", "}", "!", " ", "\n", "  ", "x", "s",
             "<p>", "if t", "for v in l", "while n", "else", "elif i", "end", "try",
             "except", "finally", "break", "continue", "set y = 1", "block q", "raw s",
             "apply up", "comment c", "autoescape None", "whitespace oneline", "import math",
             "nope", "1 +", "#"]


@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(st.sampled_from(FRAGMENTS), max_size=25))
def test_generated_templates_match(tmplrt, parts):
    text = "".join(parts)
    kwargs = dict(VALUES, **UP)
    theirs = outcome(lambda: tornado_template.Template(text, "gen.html").generate(**kwargs))
    ours = outcome(lambda: template.Template(text, "gen.html").generate(**kwargs))
    assert ours == theirs, text
