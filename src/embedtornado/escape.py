"""Escaping and unescaping for HTML, JSON and URLs, plus str/bytes conversion helpers.

This is embedtornado's version of ``tornado.escape``: the same names, the
same results, and the same handling of ``str`` and ``bytes`` arguments::

    from embedtornado.escape import xhtml_escape, url_escape, json_encode, utf8

    xhtml_escape('<a href="x">')     # '&lt;a href=&quot;x&quot;&gt;'
    url_escape("a b/c")              # 'a+b%2Fc'
    url_escape("a b/c", plus=False)  # 'a%20b/c'
    json_encode({"k": "</script>"})  # '{"k": "<\\\\/script>"}'
    utf8("é")                        # b'\\xc3\\xa9'

Most functions here have a close relative in the standard library; they
differ from it in accepting both ``str`` and ``bytes`` and in always
returning a predictable type. The query-string and URL decoders are built
for hostile input: their cost is linear in the input, and they allocate a
small constant number of bytes per input byte, however many ``%`` escapes
the input holds.
"""

from __future__ import annotations

import binascii
import re
import typing
from collections.abc import Callable, Container
from typing import Any

# NOTE(embedtornado): json, html and urllib.parse load on first use
# (json_encode, json_decode, xhtml_unescape, url_escape, url_unescape), not
# at import: a server that sends no JSON never needs them
# (tests/test_startup.py). ``escape.json``, ``escape.html`` and
# ``escape.urllib`` still resolve, through __getattr__ at the end.

# ---------------------------------------------------------------------------
# str / bytes conversion
# ---------------------------------------------------------------------------


@typing.overload
def utf8(value: bytes) -> bytes: ...


@typing.overload
def utf8(value: str) -> bytes: ...


@typing.overload
def utf8(value: None) -> None: ...


def utf8(value: str | bytes | None) -> bytes | None:
    """Return ``value`` as UTF-8 encoded ``bytes``.

    ``bytes`` (including subclasses) and ``None`` come back unchanged; a
    ``str`` is encoded as UTF-8. Anything else raises `TypeError`.
    """
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    raise TypeError(f"Expected bytes, unicode, or None; got {type(value)!r}")


@typing.overload
def to_unicode(value: str) -> str: ...


@typing.overload
def to_unicode(value: bytes) -> str: ...


@typing.overload
def to_unicode(value: None) -> None: ...


def to_unicode(value: str | bytes | None) -> str | None:
    """Return ``value`` as ``str``, decoding ``bytes`` as UTF-8.

    ``str`` (including subclasses) and ``None`` come back unchanged.
    Anything else raises `TypeError`; undecodable bytes raise
    `UnicodeDecodeError`.
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8")
    raise TypeError(f"Expected bytes, unicode, or None; got {type(value)!r}")


#: Alias of :func:`to_unicode` (the historical name, kept for ported code).
_unicode = to_unicode
#: Alias of :func:`to_unicode`: on Python 3 the native string type is ``str``.
native_str = to_unicode
#: Alias of :func:`to_unicode`.
to_basestring = to_unicode


def recursive_unicode(obj: Any) -> Any:
    """Return a copy of ``obj`` with every ``bytes`` inside it decoded to ``str``.

    Walks dicts (keys and values), lists and tuples; other objects are
    returned as they are.
    """
    if isinstance(obj, dict):
        return {recursive_unicode(k): recursive_unicode(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [recursive_unicode(item) for item in obj]
    if isinstance(obj, tuple):
        return tuple(recursive_unicode(item) for item in obj)
    if isinstance(obj, bytes):
        return to_unicode(obj)
    return obj


# ---------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------


def xhtml_escape(value: str | bytes) -> str:
    """Escape ``&``, ``<``, ``>``, ``"`` and ``'`` so the text is safe in HTML or XML.

    The result is always a ``str`` (``bytes`` are decoded as UTF-8 first),
    and is identical to :func:`html.escape` with ``quote=True``: the single
    quote becomes ``&#x27;``. Attribute values must still be quoted.
    """
    if type(value) is not str:
        value = to_unicode(value)
    # NOTE(embedtornado): five chained str.replace calls beat str.translate
    # with a mapping by 3-8x on markup-heavy or non-ASCII text (translate
    # only wins, by ~40%, on long pure-ASCII text with nothing to escape).
    # '&' must go first so the entities added later are not escaped again.
    return (
        value.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#x27;")
    )


def xhtml_unescape(value: str | bytes) -> str:
    """Replace HTML character references with the characters they stand for.

    Always returns ``str``; the result is that of :func:`html.unescape`
    (HTML5 rules, so ``&#xyz;`` is left alone and references such as
    ``&#128;`` map to their Windows-1252 characters).
    """
    import html

    return html.unescape(to_unicode(value))


# ---------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------


def json_encode(value: Any) -> str:
    """Serialise ``value`` as JSON, in a form that is safe inside ``<script>``.

    The output is :func:`json.dumps`'s, except that every ``</`` is written
    as ``<\\/`` (an equivalent JSON escape), so the text can never close
    the surrounding script element.
    """
    fast = _fast_json_bytes(value)
    if fast is not None:
        return fast.decode("ascii")
    return _json_encode_general(value)


def _json_encode_general(value: Any) -> str:
    """`json_encode` for any value: json's C encoder (or json.dumps itself)."""
    try:
        make_encoder = _make_json_encoder
    except NameError:  # the first call: import json, probe the C encoder
        make_encoder = _json_setup()
    if make_encoder is not None:
        try:
            encoder = _json_encoders.pop()
        except IndexError:
            encoder = make_encoder(
                {}, _json_default, _json_encode_str, None, ": ", ", ", False, False, True
            )
        chunks = encoder(value, 0)
        # Back to the pool only after a success: its circular-reference
        # markers are empty again then (an error may leave some behind).
        if len(_json_encoders) < 8:
            _json_encoders.append(encoder)
        return "".join(chunks).replace("</", "<\\/")
    import json

    return json.dumps(value).replace("</", "<\\/")


def _json_bytes(value: Any) -> bytes:
    """``json_encode(value).encode("utf-8")``, without the ``str`` when it can."""
    fast = _fast_json_bytes(value)
    return fast if fast is not None else _json_encode_general(value).encode("utf-8")


def _fast_json_bytes(value: Any) -> bytes | None:
    """The compiled encoder's answer for ``value`` (None: not taken, or no compiled module)."""
    dumps = _fast_json
    if dumps is _UNSET:
        dumps = _fast_json_setup()
    return dumps(value) if dumps is not None else None  # type: ignore[no-any-return]


# NOTE(embedtornado): the compiled encoder (embedtornado._speedups.jsonenc)
# writes the JSON of the common values (str-keyed dicts, lists, tuples, str,
# int, float, bool, None) itself, as json_encode's exact text; for any other
# value it returns None and the general route below runs. With the twins live
# it is not used: the twin is the specification (json.dumps after a type walk),
# slower than the general route. Looked up on the first call.
_UNSET: Any = object()
_fast_json: Any = _UNSET


def _fast_json_setup() -> Any:
    global _fast_json
    from embedtornado import _accel

    module = _accel.load("jsonenc")
    _fast_json = module.dumps if module.__name__.startswith("embedtornado._speedups.") else None
    return _fast_json


# NOTE(embedtornado): json.dumps(value) with its default options ends in the
# C encoder that json.encoder.c_make_encoder builds, through two Python-level
# methods; calling it directly saves them (about 0.7 us per call). The result
# and the errors are the same, since it is the same encoder with the same
# arguments (a fresh markers dict each call, as JSONEncoder.iterencode
# does). Used only when a probe gives json.dumps's exact output. The three
# globals below are set by _json_setup on the first json_encode call (or the
# first read of one of them from outside), so importing this module does not
# import json.
_JSON_GLOBALS = ("_json_default", "_json_encode_str", "_make_json_encoder")
_json_default: Callable[[Any], Any]  # (annotations only: no value until _json_setup)
_json_encode_str: Any
_make_json_encoder: Any
# Encoders made by _make_json_encoder, not in use: list.pop and append are
# atomic, so no two threads ever share one (or its markers dict).
_json_encoders: list[Any] = []


def _json_setup() -> Any:
    """Import json, set the C-encoder globals, and return ``_make_json_encoder``."""
    global _json_default, _json_encode_str, _make_json_encoder
    import json.encoder

    _json_default = json.JSONEncoder().default
    _json_encode_str = getattr(json.encoder, "encode_basestring_ascii", None)
    _make_json_encoder = getattr(json.encoder, "c_make_encoder", None)
    if _make_json_encoder is None or _json_encode_str is None:
        _make_json_encoder = None
    else:
        _probe_json_encoder()
    return _make_json_encoder


def _probe_json_encoder() -> None:
    global _make_json_encoder
    import json

    probe = {"a": ["\u00e9</", 1.5, float("inf"), None, True], "b": {"1": -0.0}, "c": "x"}
    try:
        if _json_encode_general(probe) != json.dumps(probe).replace("</", "<\\/"):
            _make_json_encoder = None
    except Exception:  # another signature in a future Python
        _make_json_encoder = None


def json_decode(value: str | bytes) -> Any:
    """Parse a JSON document given as ``str`` or (UTF-8) ``bytes``."""
    import json

    return json.loads(value)


# ---------------------------------------------------------------------------
# Whitespace
# ---------------------------------------------------------------------------

_CONTROL_AND_SPACE_RUN = re.compile(r"[\x00-\x20]+")


def squeeze(value: str) -> str:
    """Collapse each run of ASCII whitespace and control characters into one space.

    The result is then stripped of leading and trailing whitespace.
    """
    return _CONTROL_AND_SPACE_RUN.sub(" ", value).strip()


# ---------------------------------------------------------------------------
# URLs and query strings
# ---------------------------------------------------------------------------


def url_escape(value: str | bytes, plus: bool = True) -> str:
    """Percent-encode ``value`` for use in a URL.

    With ``plus=True`` (the default, meant for query strings) a space
    becomes ``+`` and ``/`` is encoded, as :func:`urllib.parse.quote_plus`
    does. With ``plus=False`` (meant for paths) a space becomes ``%20`` and
    ``/`` is kept, as :func:`urllib.parse.quote` does. ``str`` is encoded as
    UTF-8; ``bytes`` are used as they are.

    .. versionadded:: 3.1
        The ``plus`` argument
    """
    try:
        parse = _urllib_parse
    except NameError:  # the first call
        parse = _import_urllib_parse()
    if plus:
        return parse.quote_plus(value)
    return parse.quote(value)


_urllib_parse: Any  # urllib.parse once imported (annotation only: see url_escape)


def _import_urllib_parse() -> Any:
    global _urllib_parse
    import urllib.parse

    _urllib_parse = urllib.parse
    return urllib.parse


# bytes.translate table exchanging b"%" and b"=".
_SWAP_PERCENT_AND_EQUALS = bytes.maketrans(b"%=", b"=%")


def _unquote_to_bytes(data: bytes) -> bytes:
    """Decode ``%XX`` escapes in ``data``; same result as :func:`urllib.parse.unquote_to_bytes`.

    The standard library builds a Python object per escape, which costs
    around 20 bytes of memory and a fraction of a microsecond per input
    byte for escape-heavy input. This version does all its work in a few
    C-level passes over the data.

    How it works: :func:`binascii.a2b_qp` decodes quoted-printable
    ``=XX`` escapes in C. After exchanging ``%`` and ``=`` the percent
    escapes are ``=XX`` escapes, and literal ``=`` signs are ``%``, which
    a2b_qp leaves alone. Three things need care before decoding:

    * escapes whose decoded byte is itself ``%`` or ``=``
      (``%25``, ``%3D``/``%3d``) would be exchanged back by the final swap,
      so they are exchanged with each other beforehand;
    * an ``=`` that a2b_qp would not copy through is an invalid percent
      escape, which must stay a literal ``%``: one followed by ``=`` (a2b_qp
      reads ``==`` as one ``=``), by CR or LF (a soft line break), or at the
      very end (dropped). Each is rewritten as ``=3D``, the escape for
      ``=``, which the final swap turns back into ``%``;
    * every other ``=`` not followed by two hex digits is copied through by
      a2b_qp unchanged, like urllib keeps an invalid escape.
    """
    # NOTE(embedtornado): find() and unconditional replace() calls, not
    # ``in`` tests: ``bytes in bytes`` goes through the buffer protocol and
    # costs several times more than a replace() that finds nothing.
    if data.find(b"%") < 0:
        return data
    data = data.translate(_SWAP_PERCENT_AND_EQUALS)
    # Exchange the escapes of "%" and "=" (case-insensitively for "3d"),
    # using "=3d" as a temporary name. Every "=" starts a 3-byte escape or
    # is not followed by two hex digits, so these tokens never overlap.
    data = (
        data.replace(b"=3d", b"=3D")
        .replace(b"=25", b"=3d")
        .replace(b"=3D", b"=25")
        .replace(b"=3d", b"=3D")
    )
    # bytes.replace, not a regex: it allocates nothing per match. Its matches
    # do not overlap, so "===" needs a second pass for the pair formed by
    # the "=" that ends one replacement and the "=" after it.
    data = data.replace(b"==", b"=3D=").replace(b"==", b"=3D=")
    data = data.replace(b"=\r", b"=3D\r").replace(b"=\n", b"=3D\n")
    if data.endswith(b"="):
        data += b"3D"
    return binascii.a2b_qp(data).translate(_SWAP_PERCENT_AND_EQUALS)


@typing.overload
def url_unescape(value: str | bytes, encoding: None, plus: bool = True) -> bytes: ...


@typing.overload
def url_unescape(value: str | bytes, encoding: str = "utf-8", plus: bool = True) -> str: ...


def url_unescape(
    value: str | bytes, encoding: str | None = "utf-8", plus: bool = True
) -> str | bytes:
    """Decode a percent-encoded URL component.

    ``value`` may be ``str`` or ``bytes`` (``bytes`` must be UTF-8). With
    ``encoding=None`` the result is the decoded ``bytes``; otherwise it is
    a ``str`` decoded with ``encoding`` (undecodable bytes become U+FFFD),
    exactly as :func:`urllib.parse.unquote` would give.

    With ``plus=True`` (the default, for query strings and form values)
    ``+`` means a space, so a literal plus must be written ``%2B``; with
    ``plus=False`` (for paths) ``+`` is kept.

    The work is linear in the input with a small constant memory cost per
    byte, whatever the number of escapes.

    .. versionadded:: 3.1
       The ``plus`` argument
    """
    text = to_unicode(value)
    if plus:
        text = text.replace("+", " ")
    if encoding is None:
        return _unquote_to_bytes(text.encode("utf-8"))
    if "%" not in text:
        return text
    if text.isascii():
        # For ASCII input urllib decodes the whole string as one run of
        # bytes, which is what this does, without an object per escape.
        return _unquote_to_bytes(text.encode("ascii")).decode(encoding, "replace")
    import urllib.parse

    return urllib.parse.unquote(text, encoding=encoding)


def parse_qs_bytes(
    qs: str | bytes,
    keep_blank_values: bool = False,
    strict_parsing: bool = False,
    *,
    max_num_fields: int | None = None,
) -> dict[str, list[bytes]]:
    """Parse a query string into ``{name: [value, ...]}``, keeping values as ``bytes``.

    Fields are separated by ``&`` only. Names are decoded as Latin-1 (so
    every byte survives) and values stay ``bytes``, since the right charset
    is only known later (see ``RequestHandler.decode_argument``). A ``str``
    argument is first encoded as Latin-1.

    :arg keep_blank_values: keep fields whose value is empty.
    :arg strict_parsing: raise `ValueError` for empty fields and fields
        without ``=``.
    :arg max_num_fields: raise `ValueError` ("Max number of fields
        exceeded") if the string has more fields than this, counting empty
        ones; the check happens before any field is decoded.

    .. versionadded:: 6.5.8
       The ``max_num_fields`` argument.
    """
    if isinstance(qs, str):
        qs = qs.encode("latin1")
    result: dict[str, list[bytes]] = {}
    if not qs:
        return result
    if max_num_fields is not None and qs.count(b"&") + 1 > max_num_fields:
        raise ValueError("Max number of fields exceeded")
    # NOTE(embedtornado): most query strings have neither escapes nor "+";
    # then names and values are taken as they are, with no decoding pass.
    plain = qs.find(b"%") < 0 and qs.find(b"+") < 0
    for field in qs.split(b"&"):
        if not field and not strict_parsing:
            continue
        name, eq, raw_value = field.partition(b"=")
        if plain:
            if strict_parsing and not eq:
                raise ValueError(f"bad query field: {field!r}")
            if raw_value or keep_blank_values:
                key = name.decode("latin1")
                values = result.get(key)
                if values is None:
                    result[key] = [raw_value]
                else:
                    values.append(raw_value)
            continue
        if strict_parsing and not eq:
            raise ValueError(f"bad query field: {field!r}")
        if raw_value or keep_blank_values:
            key = _unquote_to_bytes(name.replace(b"+", b" ")).decode("latin1")
            decoded = _unquote_to_bytes(raw_value.replace(b"+", b" "))
            values = result.get(key)
            if values is None:
                result[key] = [decoded]
            else:
                values.append(decoded)
    return result


# ---------------------------------------------------------------------------
# linkify
# ---------------------------------------------------------------------------

# The URL pattern is built from parts so each can be read on its own. It is
# applied to already-escaped HTML, so "&" may only appear as "&amp;" or
# "&quot;"; no part can backtrack more than linearly (Gruber's original
# pattern was exponential on trailing dots or open parentheses).
_URL_SCHEME = r"([\w-]+):(/{1,3})"  # groups 2 and 3
_URL_CHAR = r"(?:[^\s&()]|&amp;|&quot;)"
_URL_LAST_CHAR = r"[^!\"#$%&'()*+,.:;<=>?@\[\]^`{|}~\s]"  # no trailing punctuation
_URL_SEGMENT = rf"(?:{_URL_CHAR}*{_URL_LAST_CHAR})|(?:\({_URL_CHAR}*\))"
# (compiled on the first linkify call)
_URL_PATTERN = rf"\b((?:{_URL_SCHEME}|www[.])(?:{_URL_SEGMENT})+)"

_SHORTEN_MAX_LEN = 30


def _shorten_url(url: str, prefix_len: int, href: str, params: str) -> tuple[str, str]:
    """Return the display text and link attributes for a long ``url``."""
    full = url
    host, slash, path = url[prefix_len:].partition("/")
    if slash:
        # Keep the host and a hint of the first path segment.
        hint = path.split("/", 1)[0][:8].split("?", 1)[0].split(".", 1)[0]
        url = url[:prefix_len] + host + "/" + hint
    if len(url) > _SHORTEN_MAX_LEN * 1.5:
        url = url[:_SHORTEN_MAX_LEN]
    if url == full:
        return url, params
    amp = url.rfind("&")
    if amp > _SHORTEN_MAX_LEN - 5:
        url = url[:amp]  # do not cut an "&amp;" in half
    url += "..."
    if len(url) >= len(full):
        return full, params
    # The full URL shows on mouse-over.
    return url, params + f' title="{href}"'


def linkify(
    text: str | bytes,
    shorten: bool = False,
    extra_params: str | Callable[[str], str] = "",
    require_protocol: bool = False,
    permitted_protocols: Container[str] = ("http", "https"),
) -> str:
    """Turn the URLs in plain ``text`` into HTML links; the rest is HTML-escaped.

    ``linkify("Hello http://tornadoweb.org!")`` returns
    ``'Hello <a href="http://tornadoweb.org">http://tornadoweb.org</a>!'``.

    :arg shorten: show long URLs shortened (host plus a bit of the path,
        then ``...``), with the full URL in a ``title`` attribute.
    :arg extra_params: more attributes for each ``<a>`` tag, such as
        ``'rel="nofollow" class="external"'``, or a callable that receives
        the link's ``href`` and returns them.
    :arg require_protocol: leave ``www.example.com``-style URLs (no
        scheme) as plain text. Otherwise they link to ``http://``.
    :arg permitted_protocols: schemes that may become links. Never include
        ``javascript`` or similar.
    """
    if extra_params and not callable(extra_params):
        extra_params = " " + extra_params.strip()

    def link(m: re.Match[str]) -> str:
        url, proto, slashes = m.group(1, 2, 3)
        if proto:
            if proto not in permitted_protocols:
                return url
            href = url
        else:
            if require_protocol:
                return url
            href = "http://" + url
        if callable(extra_params):
            params = " " + extra_params(href).strip()
        else:
            params = extra_params
        if shorten and len(url) > _SHORTEN_MAX_LEN:
            prefix_len = len(proto) + 1 + len(slashes) if proto else 0
            url, params = _shorten_url(url, prefix_len, href, params)
        return f'<a href="{href}"{params}>{url}</a>'

    try:
        url_re = _URL_RE
    except NameError:  # the first call
        url_re = _compile_url_re()
    return url_re.sub(link, xhtml_escape(text))


_URL_RE: re.Pattern[str]  # (annotation only: see _compile_url_re)


def _compile_url_re() -> re.Pattern[str]:
    global _URL_RE
    _URL_RE = re.compile(_URL_PATTERN)
    return _URL_RE


def __getattr__(name: str) -> Any:
    # The lazily loaded names (see the NOTEs on the imports and json_encode).
    if name in _JSON_GLOBALS:
        _json_setup()
        return globals()[name]
    if name == "_URL_RE":
        return _compile_url_re()
    if name in ("json", "html", "urllib"):
        import importlib

        if name == "urllib":
            importlib.import_module("urllib.parse")  # escape.urllib.parse, as before
        module = importlib.import_module(name)
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
