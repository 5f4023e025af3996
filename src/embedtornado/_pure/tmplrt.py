"""Template runtime: the readable twin of ``embedtornado._speedups.tmplrt``.

The code that :mod:`embedtornado.template` generates does its per-expression
work through the helpers here, which the template namespace binds as
``_tt_text``, ``_tt_escaped`` and ``_tt_join``::

    from embedtornado.escape import xhtml_escape
    from embedtornado._pure import tmplrt

    buf = [b"<p>"]
    buf.append(tmplrt.escaped('a < "b"', xhtml_escape))  # b'a &lt; &quot;b&quot;'
    buf.append(tmplrt.text(42))                          # b'42'
    tmplrt.join(buf)                                     # b'<p>a &lt; &quot;b&quot;42'

Each helper gives exactly the result, and raises exactly the exception (same
class, same message), of the statements Tornado 6.6.1 generates for an
expression, which are, for ``{{ expr }}`` with ``autoescape`` set to ``f``::

    value = expr
    value = utf8(value) if isinstance(value, (str, bytes)) else utf8(str(value))
    value = utf8(f(value))          # left out for {% raw %} and autoescape None

This module is the specification; the compiled twin must agree with it for
every argument. The shortcuts below only apply to the exact types ``str`` and
``bytes`` with the stock :func:`embedtornado.escape.xhtml_escape`; anything
else (subclasses, other escape functions) takes the literal route above.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from embedtornado.escape import utf8, xhtml_escape

__all__ = ["escaped", "join", "text", "xhtml_escape"]


def text(value: Any) -> bytes:
    """Return ``value`` as the UTF-8 ``bytes`` a ``{% raw %}`` expression writes.

    ``str`` is encoded (lone surrogates raise `UnicodeEncodeError`), ``bytes``
    pass through unchanged (they are not checked), and anything else,
    ``None`` included, is converted with ``str()`` first.
    """
    if type(value) is str:
        return value.encode("utf-8")
    if type(value) is bytes:
        return value
    if isinstance(value, (str, bytes)):
        return utf8(value)
    return utf8(str(value))


def _escape_utf8(data: bytes) -> bytes:
    # The five characters are ASCII, and in UTF-8 no byte of a multi-byte
    # sequence is ASCII, so escaping the encoded bytes gives the encoding of
    # the escaped text. "&" goes first, or the entities would be escaped again.
    return (
        data.replace(b"&", b"&amp;")
        .replace(b"<", b"&lt;")
        .replace(b">", b"&gt;")
        .replace(b'"', b"&quot;")
        .replace(b"'", b"&#x27;")
    )


def escaped(value: Any, escape: Callable[[bytes], Any]) -> bytes:
    """Return what ``{{ value }}`` writes when the template's autoescape is ``escape``.

    That is ``utf8(escape(text(value)))``: the escape function receives the
    expression as UTF-8 ``bytes``, and its result (``str`` or ``bytes``)
    becomes UTF-8 ``bytes`` again. With the stock `xhtml_escape` this is
    done in one pass; ``bytes`` values must then be valid UTF-8
    (`UnicodeDecodeError` otherwise), as `xhtml_escape` decodes them.
    """
    if escape is xhtml_escape:
        if type(value) is str:
            return _escape_utf8(value.encode("utf-8"))
        if type(value) is bytes:
            value.decode("utf-8")  # raises on invalid UTF-8, as xhtml_escape does
            return _escape_utf8(value)
    return utf8(escape(text(value)))  # type: ignore[return-value]


def join(chunks: Iterable[bytes]) -> bytes:
    """Concatenate the output buffer of a template (``b"".join``)."""
    return b"".join(chunks)
