"""A simple template language that compiles to Python: embedtornado's ``tornado.template``.

Templates are text with Python expressions in ``{{ }}`` and control
statements in ``{% %}``; a template compiles once to a Python function and
then renders to UTF-8 ``bytes``::

    from embedtornado import template

    t = template.Template("<h1>{{ title }}</h1>{% for u in users %}<p>{{ u }}</p>{% end %}")
    t.generate(title="Users", users=["ann", "<bob>"])
    # b'<h1>Users</h1><p>ann</p><p>&lt;bob&gt;</p>'

    loader = template.Loader("/srv/app/templates")   # or DictLoader({"base.html": ...})
    loader.load("page.html").generate(items=[1, 2, 3])

The language is Tornado 6.6.1's, and a template renders to the same bytes
under both. In brief (see Tornado's documentation for the full guide):

``{{ expr }}``
    The value of a Python expression, converted to text (``str`` and
    ``bytes`` as they are, anything else with ``str()``), escaped with the
    template's autoescape function (`xhtml_escape` unless changed), UTF-8.
``{# ... #}``
    A comment, left out of the output.
``{{!``, ``{%!``, ``{#!``
    Write ``{{``, ``{%`` or ``{#`` literally (the ``!`` is dropped).
``{% apply f %}...{% end %}``
    Pass the output of the body (``bytes``) through ``f``.
``{% autoescape f %}``
    Set the escape function of this template file (``None`` turns escaping
    off). It applies to every ``{{ }}`` of the file, wherever it stands.
``{% block name %}...{% end %}`` and ``{% extends "base.html" %}``
    Template inheritance: a child names its parent and overrides its named
    blocks, over as many levels as needed.
``{% comment ... %}``
    A one-tag comment.
``{% for x in y %}``, ``{% while c %}`` (with ``{% break %}`` and
``{% continue %}``), ``{% if c %}``/``{% elif c %}``/``{% else %}``,
``{% try %}``/``{% except E %}``/``{% else %}``/``{% finally %}``, ``{% end %}``
    The Python statements of the same name; ``{% end %}`` closes each.
``{% import m %}``, ``{% from m import n %}``, ``{% set x = y %}``
    Python statements, run where they stand.
``{% include "other.html" %}``
    The other template, inlined (it sees the same variables).
``{% module expr %}``
    ``modules.expr`` of the web layer's UI modules, not escaped.
``{% raw expr %}``
    Like ``{{ expr }}`` without escaping.
``{% whitespace mode %}``
    ``all``, ``single`` or ``oneline`` from here on; see `filter_whitespace`.

Every template sees ``escape``/``xhtml_escape``, ``url_escape``,
``json_encode``, ``squeeze``, ``linkify`` and ``datetime``, then the loader's
``namespace``, then the keyword arguments of `Template.generate`.

Errors: syntax errors raise `ParseError` with the file name and line. Every
generated line ends with a ``# name:line`` comment naming the template line it
comes from (with ``(via ...)`` for included files and blocks), and the
template's ``__loader__`` serves that code to :mod:`traceback`, so a runtime
error's traceback shows the template line. If the generated code does not
compile, it is logged with line numbers on ``embedtornado.application``.

Templates run arbitrary Python in the server process: treat them as code, not
as user input. Only ``{{ }}`` is autoescaped.

.. note:: embedtornado differs from Tornado 6.6.1: the generated code
   (`Template.code`) is different, faster code for the same output. It does
   not look up ``str``, ``_tt_utf8`` or ``_tt_string_types`` in the template
   namespace for ``{{ }}`` (a variable of those names does not change how
   values are converted), and it needs the names ``_tt_text``,
   ``_tt_escaped`` and ``_tt_join``, which it adds to the namespace. The
   messages ``else outside {...} block`` and ``break outside {...} block``
   show a set of tag names as Tornado's do, but the order of the names
   (which in Tornado depends on the hash seed and on its ``.pyc``) may differ.
"""

from __future__ import annotations

import datetime
import keyword
import linecache
import os.path
import posixpath
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from embedtornado import _accel, escape
from embedtornado.log import app_log
from embedtornado.util import ObjectDict

if TYPE_CHECKING:
    from embedtornado._pure import tmplrt
else:
    tmplrt = _accel.load("tmplrt")

__all__ = [
    "BaseLoader",
    "DictLoader",
    "Loader",
    "ParseError",
    "Template",
    "filter_whitespace",
]

#: The escape function of templates whose loader or constructor names none.
_DEFAULT_AUTOESCAPE = "xhtml_escape"


class _UnsetMarker:
    """Type of `_UNSET`: "argument not given", distinct from ``None``."""


_UNSET = _UnsetMarker()

_SPACE_TAB_RUN = re.compile(r"[\t ]+")
_SPACE_AROUND_NEWLINE = re.compile(r"\s*\n\s*")
_SPACE_RUN = re.compile(r"\s+")


def filter_whitespace(mode: str, text: str) -> str:
    """Return ``text`` with its whitespace treated as ``mode`` says.

    :arg str mode: one of

        * ``"all"``: keep all whitespace as it is;
        * ``"single"``: each run of spaces and tabs becomes one space, and each
          run of whitespace that holds a newline becomes that one newline;
        * ``"oneline"``: each run of whitespace, newlines included, becomes one
          space.

    Any other mode raises `Exception`.

    .. versionadded:: 4.3
    """
    if mode == "all":
        return text
    if mode == "single":
        return _SPACE_AROUND_NEWLINE.sub("\n", _SPACE_TAB_RUN.sub(" ", text))
    if mode == "oneline":
        return _SPACE_RUN.sub(" ", text)
    raise Exception(f"invalid whitespace mode {mode}")  # noqa: TRY002 - as Tornado


class ParseError(Exception):
    """A template syntax error.

    Its ``filename`` and ``lineno`` attributes say where the error is; ``str()``
    gives ``"<message> at <filename>:<lineno>"``.

    .. versionchanged:: 4.3
       Added ``filename`` and ``lineno`` attributes.
    """

    def __init__(self, message: str, filename: str | None = None, lineno: int = 0) -> None:
        # Exception.__new__ has already stored the positional arguments in
        # ``args``; they are kept as given (so the error pickles).
        self.message = message
        self.filename = filename
        self.lineno = lineno

    def __str__(self) -> str:
        return "%s at %s:%d" % (self.message, self.filename, self.lineno)  # noqa: UP031


class Template:
    """A compiled template; `generate` renders it.

    :arg template_string: the template's text (``bytes`` are decoded as UTF-8).
    :arg str name: its name, shown in errors and tracebacks (a file name when
        it comes from a `Loader`).
    :arg loader: the `BaseLoader` that resolves ``{% extends %}`` and
        ``{% include %}``; its ``autoescape``, ``namespace`` and
        ``whitespace`` are this template's defaults.
    :arg bool compress_whitespace: deprecated (Tornado 4.3): true means
        ``whitespace="single"``, false ``whitespace="all"``.
    :arg str autoescape: the name of the escape function for ``{{ }}`` in the
        template namespace, or ``None`` for no escaping.
    :arg str whitespace: see `filter_whitespace`. By default the loader's, or
        else ``"single"`` for names ending in ``.html`` or ``.js`` and
        ``"all"`` for the rest.

    .. versionchanged:: 4.3
       Added the ``whitespace`` argument; deprecated ``compress_whitespace``.
    """

    def __init__(
        self,
        template_string: str | bytes,
        name: str = "<string>",
        loader: BaseLoader | None = None,
        compress_whitespace: bool | _UnsetMarker = _UNSET,
        autoescape: str | _UnsetMarker | None = _UNSET,
        whitespace: str | None = None,
    ) -> None:
        self.name: str = escape.native_str(name)
        if compress_whitespace is not _UNSET:
            if whitespace is not None:
                raise Exception(  # noqa: TRY002 - as Tornado
                    "cannot set both whitespace and compress_whitespace")
            whitespace = "single" if compress_whitespace else "all"
        if whitespace is None:
            if loader and loader.whitespace:
                whitespace = loader.whitespace
            elif name.endswith((".html", ".js")):
                whitespace = "single"
            else:
                whitespace = "all"
        filter_whitespace(whitespace, "")  # rejects an unknown mode

        if not isinstance(autoescape, _UnsetMarker):
            self.autoescape: str | None = autoescape
        elif loader:
            self.autoescape = loader.autoescape
        else:
            self.autoescape = _DEFAULT_AUTOESCAPE
        self.namespace: dict[str, Any] = loader.namespace if loader else {}
        scanner = _Scanner(self.name, escape.native_str(template_string), whitespace)
        self.file = _File(self, _parse(scanner, self))
        self.code: str = self._generate_python(loader)
        self.loader = loader
        try:
            # dont_inherit: this module's __future__ imports must not apply.
            self.compiled = compile(
                self.code, self.name.replace(".", "_") + ".generated.py", "exec",
                dont_inherit=True,
            )
        except Exception:
            app_log.error("%s code:\n%s", self.name, _format_code(self.code).rstrip())
            raise
        # The part of the namespace that is the same for every render;
        # __name__ and __loader__ let linecache find the generated code.
        self._defaults: dict[str, Any] = {
            "escape": escape.xhtml_escape,
            "xhtml_escape": escape.xhtml_escape,
            "url_escape": escape.url_escape,
            "json_encode": escape.json_encode,
            "squeeze": escape.squeeze,
            "linkify": escape.linkify,
            "datetime": datetime,
            "_tt_utf8": escape.utf8,
            "_tt_string_types": (str, bytes),
            "_tt_text": tmplrt.text,
            "_tt_escaped": tmplrt.escaped,
            "_tt_join": tmplrt.join,
            "__name__": self.name.replace(".", "_"),
            "__loader__": ObjectDict(get_source=lambda name: self.code),
        }

    def generate(self, **kwargs: Any) -> bytes:
        """Render the template with ``kwargs`` as its variables; return UTF-8 ``bytes``."""
        namespace = self._defaults.copy()
        namespace.update(self.namespace)
        namespace.update(kwargs)
        exec(self.compiled, namespace)  # noqa: S102 - the template is code
        execute: Callable[[], bytes] = namespace["_tt_execute"]
        # Forget cached source lines, which may belong to an earlier template
        # of the same name.
        linecache.clearcache()
        return execute()

    def _generate_python(self, loader: BaseLoader | None) -> str:
        ancestors = self._get_ancestors(loader)
        ancestors.reverse()  # the root layout first, this template last
        named_blocks: dict[str, _NamedBlock] = {}
        for ancestor in ancestors:
            ancestor.find_named_blocks(loader, named_blocks)
        writer = _CodeWriter(named_blocks, loader, ancestors[0].template)
        ancestors[0].generate(writer)
        return writer.getvalue()

    def _get_ancestors(self, loader: BaseLoader | None) -> list[_File]:
        ancestors = [self.file]
        for chunk in self.file.body.chunks:
            if isinstance(chunk, _ExtendsBlock):
                if not loader:
                    raise ParseError("{% extends %} block found, but no template loader")
                parent = loader.load(chunk.name, self.name)
                ancestors.extend(parent._get_ancestors(loader))
        return ancestors


class BaseLoader:
    """Base class of template loaders, which find templates by name and cache them.

    ``{% extends %}`` and ``{% include %}`` need a loader. A loaded template
    stays cached until `reset`. Loading is thread-safe.

    :arg str autoescape: the default escape function of the templates, by
        name in the template namespace (such as ``"xhtml_escape"``), or
        ``None`` for no escaping.
    :arg dict namespace: names added to the default template namespace.
    :arg str whitespace: the default whitespace mode of the templates (see
        `filter_whitespace`); by default it depends on the file name, as
        `Template` says.

    .. versionchanged:: 4.3
       Added the ``whitespace`` argument.
    """

    def __init__(
        self,
        autoescape: str | None = _DEFAULT_AUTOESCAPE,
        namespace: dict[str, Any] | None = None,
        whitespace: str | None = None,
    ) -> None:
        self.autoescape = autoescape
        self.namespace = namespace or {}
        self.whitespace = whitespace
        self.templates: dict[str, Template] = {}
        # Reentrant: compiling a template loads its parents and includes.
        self.lock = threading.RLock()

    def reset(self) -> None:
        """Drop every cached template, so the next `load` reads and compiles again."""
        with self.lock:
            self.templates = {}

    def resolve_path(self, name: str, parent_path: str | None = None) -> str:
        """Return the name under which ``name``, referenced from ``parent_path``, is loaded."""
        raise NotImplementedError()

    def load(self, name: str, parent_path: str | None = None) -> Template:
        """Return the template ``name`` (relative to ``parent_path`` if given), compiled."""
        name = self.resolve_path(name, parent_path=parent_path)
        with self.lock:
            template = self.templates.get(name)
            if template is None:
                template = self.templates[name] = self._create_template(name)
            return template

    def _create_template(self, name: str) -> Template:
        raise NotImplementedError()


def _is_relative_reference(name: str, parent_path: str | None) -> bool:
    return bool(
        parent_path
        and not parent_path.startswith("<")
        and not parent_path.startswith("/")
        and not name.startswith("/")
    )


class Loader(BaseLoader):
    """Loads templates from files under ``root_directory``.

    `load` takes names relative to the root (or absolute paths); names in
    ``{% extends %}`` and ``{% include %}`` are relative to the directory of
    the template that holds them.
    """

    def __init__(self, root_directory: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.root = os.path.abspath(root_directory)

    def resolve_path(self, name: str, parent_path: str | None = None) -> str:
        if _is_relative_reference(name, parent_path):
            assert parent_path is not None
            here = os.path.dirname(os.path.abspath(os.path.join(self.root, parent_path)))
            candidate = os.path.abspath(os.path.join(here, name))
            if candidate.startswith(self.root):
                name = candidate[len(self.root) + 1:]
        return name

    def _create_template(self, name: str) -> Template:
        with open(os.path.join(self.root, name), "rb") as f:
            return Template(f.read(), name=name, loader=self)


class DictLoader(BaseLoader):
    """Loads templates from a dictionary of names to template strings."""

    def __init__(self, dict: dict[str, str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dict = dict

    def resolve_path(self, name: str, parent_path: str | None = None) -> str:
        if _is_relative_reference(name, parent_path):
            assert parent_path is not None
            name = posixpath.normpath(posixpath.join(posixpath.dirname(parent_path), name))
        return name

    def _create_template(self, name: str) -> Template:
        return Template(self.dict[name], name=name, loader=self)


# ---------------------------------------------------------------------------
# Code generation
# ---------------------------------------------------------------------------


class _CodeWriter:
    """Collects the lines of the generated module, each with its ``# name:line`` comment.

    Consecutive text output is merged into one append; the merged text is
    written out before any other line, indentation change or change of
    template.
    """

    def __init__(
        self,
        named_blocks: dict[str, _NamedBlock],
        loader: BaseLoader | None,
        current_template: Template,
    ) -> None:
        self.named_blocks = named_blocks
        self.loader = loader
        self.current_template = current_template
        self.apply_counter = 0
        self.include_stack: list[tuple[Template, int]] = []
        self._indent = 0
        self._lines: list[str] = []
        self._text: list[bytes] = []
        self._text_line = 0
        self._via = ""

    def getvalue(self) -> str:
        self._flush_text()
        return "".join(self._lines)

    def indent_size(self) -> int:
        return self._indent

    @contextmanager
    def indent(self) -> Iterator[_CodeWriter]:
        self._flush_text()
        self._indent += 1
        try:
            yield self
        finally:
            self._flush_text()
            self._indent -= 1

    @contextmanager
    def include(self, template: Template, line: int) -> Iterator[_CodeWriter]:
        self._flush_text()
        self.include_stack.append((self.current_template, line))
        self.current_template = template
        self._set_via()
        try:
            yield self
        finally:
            self._flush_text()
            self.current_template = self.include_stack.pop()[0]
            self._set_via()

    def _set_via(self) -> None:
        if self.include_stack:
            via = ", ".join(f"{t.name}:{n:d}" for t, n in reversed(self.include_stack))
            self._via = f" (via {via})"
        else:
            self._via = ""

    def write_text(self, data: bytes, line: int) -> None:
        if not self._text:
            self._text_line = line
        self._text.append(data)

    def _flush_text(self) -> None:
        if self._text:
            data = b"".join(self._text)
            self._text = []
            self._emit(f"_tt_append({data!r})", self._text_line, self._indent)

    def write_line(self, line: str, line_number: int, indent: int | None = None) -> None:
        self._flush_text()
        self._emit(line, line_number, self._indent if indent is None else indent)

    def _emit(self, line: str, line_number: int, indent: int) -> None:
        self._lines.append(f"{'    ' * indent}{line}  # {self.current_template.name}:"
                           f"{line_number:d}{self._via}\n")


def _format_code(code: str) -> str:
    """``code`` with each line numbered, for the compile-error log."""
    lines = code.splitlines()
    width = len(str(len(lines) + 1))
    return "".join(f"{i:>{width}}  {line}\n" for i, line in enumerate(lines, 1))


class _Node:
    line = 0

    def each_child(self) -> tuple[_Node, ...] | list[_Node]:
        return ()

    def generate(self, writer: _CodeWriter) -> None:
        raise NotImplementedError()

    def find_named_blocks(
        self, loader: BaseLoader | None, named_blocks: dict[str, _NamedBlock]
    ) -> None:
        for child in self.each_child():
            child.find_named_blocks(loader, named_blocks)


class _File(_Node):
    def __init__(self, template: Template, body: _ChunkList) -> None:
        self.template = template
        self.body = body
        self.line = 0

    def each_child(self) -> tuple[_Node, ...]:
        return (self.body,)

    def generate(self, writer: _CodeWriter) -> None:
        _write_function(writer, "_tt_execute", self.body, self.line)


def _write_function(writer: _CodeWriter, name: str, body: _Node, line: int) -> None:
    writer.write_line(f"def {name}():", line)
    with writer.indent():
        writer.write_line("_tt_buffer = []", line)
        writer.write_line("_tt_append = _tt_buffer.append", line)
        body.generate(writer)
        writer.write_line("return _tt_join(_tt_buffer)", line)


class _ChunkList(_Node):
    def __init__(self, chunks: list[_Node]) -> None:
        self.chunks = chunks

    def each_child(self) -> list[_Node]:
        return self.chunks

    def generate(self, writer: _CodeWriter) -> None:
        for chunk in self.chunks:
            chunk.generate(writer)


class _NamedBlock(_Node):
    def __init__(self, name: str, body: _Node, template: Template, line: int) -> None:
        self.name = name
        self.body = body
        self.template = template
        self.line = line

    def each_child(self) -> tuple[_Node, ...]:
        return (self.body,)

    def generate(self, writer: _CodeWriter) -> None:
        # The most derived template's version of the block wins.
        block = writer.named_blocks[self.name]
        with writer.include(block.template, self.line):
            block.body.generate(writer)

    def find_named_blocks(
        self, loader: BaseLoader | None, named_blocks: dict[str, _NamedBlock]
    ) -> None:
        named_blocks[self.name] = self
        super().find_named_blocks(loader, named_blocks)


class _ExtendsBlock(_Node):
    # Only meaningful at the top level of a file; anywhere else generating it
    # raises NotImplementedError, as in Tornado.
    def __init__(self, name: str) -> None:
        self.name = name


class _IncludeBlock(_Node):
    def __init__(self, name: str, template_name: str, line: int) -> None:
        self.name = name
        self.template_name = template_name
        self.line = line

    def find_named_blocks(
        self, loader: BaseLoader | None, named_blocks: dict[str, _NamedBlock]
    ) -> None:
        assert loader is not None
        loader.load(self.name, self.template_name).file.find_named_blocks(loader, named_blocks)

    def generate(self, writer: _CodeWriter) -> None:
        assert writer.loader is not None
        included = writer.loader.load(self.name, self.template_name)
        with writer.include(included, self.line):
            included.file.body.generate(writer)


class _ApplyBlock(_Node):
    def __init__(self, method: str, line: int, body: _Node) -> None:
        self.method = method
        self.line = line
        self.body = body

    def each_child(self) -> tuple[_Node, ...]:
        return (self.body,)

    def generate(self, writer: _CodeWriter) -> None:
        name = f"_tt_apply{writer.apply_counter}"
        writer.apply_counter += 1
        _write_function(writer, name, self.body, self.line)
        writer.write_line(f"_tt_append(_tt_utf8({self.method}({name}())))", self.line)


class _ControlBlock(_Node):
    def __init__(self, statement: str, line: int, body: _Node) -> None:
        self.statement = statement
        self.line = line
        self.body = body

    def each_child(self) -> tuple[_Node, ...]:
        return (self.body,)

    def generate(self, writer: _CodeWriter) -> None:
        writer.write_line(f"{self.statement}:", self.line)
        with writer.indent():
            self.body.generate(writer)
            writer.write_line("pass", self.line)  # the body may be empty


class _IntermediateControlBlock(_Node):
    def __init__(self, statement: str, line: int) -> None:
        self.statement = statement
        self.line = line

    def generate(self, writer: _CodeWriter) -> None:
        writer.write_line("pass", self.line)  # the part before may be empty
        writer.write_line(f"{self.statement}:", self.line, writer.indent_size() - 1)


class _Statement(_Node):
    def __init__(self, statement: str, line: int) -> None:
        self.statement = statement
        self.line = line

    def generate(self, writer: _CodeWriter) -> None:
        writer.write_line(self.statement, self.line)


def _is_name(text: str) -> bool:
    return text.isidentifier() and not keyword.iskeyword(text)


class _Expression(_Node):
    def __init__(self, expression: str, line: int, raw: bool = False) -> None:
        self.expression = expression
        self.line = line
        self.raw = raw

    def generate(self, writer: _CodeWriter) -> None:
        # An assignment, not a call argument, so that exactly the
        # expressions Tornado accepts are accepted (``a, b``, ``x = y``, a
        # trailing ``# comment``).
        writer.write_line(f"_tt_tmp = {self.expression}", self.line)
        autoescape = writer.current_template.autoescape
        if self.raw or autoescape is None:
            writer.write_line("_tt_append(_tt_text(_tt_tmp))", self.line)
        elif _is_name(autoescape):
            writer.write_line(f"_tt_append(_tt_escaped(_tt_tmp, {autoescape}))", self.line)
        else:
            # Not a plain name: paste it as Tornado does.
            writer.write_line(f"_tt_append(_tt_utf8({autoescape}(_tt_text(_tt_tmp))))",
                              self.line)


class _Module(_Expression):
    def __init__(self, expression: str, line: int) -> None:
        super().__init__("_tt_modules." + expression, line, raw=True)


class _Text(_Node):
    def __init__(self, value: str, line: int, whitespace: str) -> None:
        self.value = value
        self.line = line
        self.whitespace = whitespace

    def generate(self, writer: _CodeWriter) -> None:
        value = self.value
        # Whitespace inside <pre> must stay: a chunk that holds "<pre>" is
        # left alone (a rough rule, Tornado's).
        if "<pre>" not in value:
            value = filter_whitespace(self.whitespace, value)
        if value:
            writer.write_text(value.encode("utf-8"), self.line)


# ---------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------


class _Scanner:
    """The template text with a read position and the line number at that position."""

    def __init__(self, name: str, text: str, whitespace: str) -> None:
        self.name = name
        self.text = text
        self.whitespace = whitespace
        self.pos = 0
        self.line = 1

    def take(self, end: int) -> str:
        """Return the text from the read position to ``end`` and move there."""
        text = self.text
        start = self.pos
        self.line += text.count("\n", start, end)
        self.pos = end
        return text[start:end]

    def error(self, message: str) -> ParseError:
        return ParseError(message, self.name, self.line)


# Tags that may stand between a block's opening and its {% end %}, and the
# blocks that accept each one (set literals in this order give the messages
# Tornado gives).
_INTERMEDIATE = {
    "else": {"if", "for", "while", "try"},
    "elif": {"if"},
    "except": {"try"},
    "finally": {"try"},
}
_ONE_TAG = frozenset(
    ("extends", "include", "set", "import", "from", "comment", "autoescape", "whitespace",
     "raw", "module")
)
_WITH_BODY = frozenset(("apply", "block", "try", "if", "for", "while"))


def _next_tag(text: str, start: int) -> int:
    """Index of the next ``{{``, ``{%`` or ``{#`` at or after ``start``, or -1.

    A ``{`` that is the last character starts no tag. In a run of three or
    more ``{``, the last two are the tag (for languages such as LaTeX where
    braces are common).
    """
    end = len(text) - 1
    i = start
    while True:
        i = text.find("{", i)
        if i < 0 or i == end:
            return -1
        c = text[i + 1]
        if c == "{":
            if i + 2 <= end and text[i + 2] == "{":
                i += 1
                continue
            return i
        if c == "%" or c == "#":
            return i
        i += 1


def _parse(
    sc: _Scanner, template: Template, in_block: str | None = None, in_loop: str | None = None
) -> _ChunkList:
    body: list[_Node] = []
    text = sc.text
    while True:
        tag = _next_tag(text, sc.pos)
        if tag < 0:
            if in_block:
                raise sc.error(f"Missing {{% end %}} block for {in_block}")
            rest = sc.take(len(text))
            body.append(_Text(rest, sc.line, sc.whitespace))
            return _ChunkList(body)
        if tag > sc.pos:
            before = sc.take(tag)
            body.append(_Text(before, sc.line, sc.whitespace))
        start_brace = sc.take(tag + 2)
        line = sc.line

        # "{{!", "{%!" and "{#!" stand for the two characters themselves.
        if text.startswith("!", sc.pos):
            sc.take(sc.pos + 1)
            body.append(_Text(start_brace, line, sc.whitespace))
            continue

        closer = {"{#": "#}", "{{": "}}", "{%": "%}"}[start_brace]
        end = text.find(closer, sc.pos)
        if start_brace == "{#":
            if end < 0:
                raise sc.error("Missing end comment #}")
            sc.take(end + 2)
            continue
        if start_brace == "{{":
            if end < 0:
                raise sc.error("Missing end expression }}")
            contents = sc.take(end).strip()
            sc.take(end + 2)
            if not contents:
                raise sc.error("Empty expression")
            body.append(_Expression(contents, line))
            continue

        if end < 0:
            raise sc.error("Missing end block %}")
        contents = sc.take(end).strip()
        sc.take(end + 2)
        if not contents:
            raise sc.error("Empty block tag ({% %})")
        operator, _, suffix = contents.partition(" ")
        suffix = suffix.strip()

        parents = _INTERMEDIATE.get(operator)
        if parents is not None:
            if not in_block:
                raise sc.error(f"{operator} outside {parents} block")
            if in_block not in parents:
                raise sc.error(f"{operator} block cannot be attached to {in_block} block")
            body.append(_IntermediateControlBlock(contents, line))
        elif operator == "end":
            if not in_block:
                raise sc.error("Extra {% end %} block")
            return _ChunkList(body)
        elif operator in _ONE_TAG:
            node = _one_tag(sc, template, operator, contents, suffix, line)
            if node is not None:
                body.append(node)
        elif operator in _WITH_BODY:
            # An apply body becomes a function of its own, so a loop around
            # it does not make break/continue legal inside it.
            if operator in ("for", "while"):
                inner = _parse(sc, template, operator, operator)
            else:
                inner = _parse(sc, template, operator, None if operator == "apply" else in_loop)
            if operator == "apply":
                if not suffix:
                    raise sc.error("apply missing method name")
                body.append(_ApplyBlock(suffix, line, inner))
            elif operator == "block":
                if not suffix:
                    raise sc.error("block missing name")
                body.append(_NamedBlock(suffix, inner, template, line))
            else:
                body.append(_ControlBlock(contents, line, inner))
        elif operator in ("break", "continue"):
            if not in_loop:
                loops = {"for", "while"}
                raise sc.error(f"{operator} outside {loops} block")
            body.append(_Statement(contents, line))
        else:
            raise sc.error(f"unknown operator: {operator!r}")


def _one_tag(
    sc: _Scanner, template: Template, operator: str, contents: str, suffix: str, line: int
) -> _Node | None:
    """The node for a tag without a body, or ``None`` for one that only sets state."""
    if operator == "comment":
        return None
    if operator == "autoescape":
        name = suffix.strip()
        template.autoescape = None if name == "None" else name
        return None
    if operator == "whitespace":
        mode = suffix.strip()
        filter_whitespace(mode, "")  # rejects an unknown mode
        sc.whitespace = mode
        return None
    if operator in ("extends", "include"):
        path = suffix.strip('"').strip("'")
        if not path:
            raise sc.error(f"{operator} missing file path")
        if operator == "extends":
            return _ExtendsBlock(path)
        return _IncludeBlock(path, sc.name, line)
    if operator in ("import", "from"):
        if not suffix:
            raise sc.error("import missing statement")
        return _Statement(contents, line)
    if operator == "set":
        if not suffix:
            raise sc.error("set missing statement")
        return _Statement(suffix, line)
    if operator == "raw":
        return _Expression(suffix, line, raw=True)
    assert operator == "module"
    return _Module(suffix, line)
