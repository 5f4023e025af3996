"""Small helpers shared by the rest of embedtornado (Tornado's ``tornado.util``).

Nothing here knows about sockets or the event loop. The pieces most programs
meet are :class:`ObjectDict`, :func:`import_object` and the :class:`Configurable`
factory pattern behind `.IOLoop` and `.Resolver`::

    from embedtornado.util import Configurable, ObjectDict, import_object

    settings = ObjectDict(port=8888)
    settings.debug = False            # same as settings["debug"] = False

    escape = import_object("embedtornado.escape")

    class Greeter(Configurable):
        @classmethod
        def configurable_base(cls):
            return Greeter

        @classmethod
        def configurable_default(cls):
            return PlainGreeter

        def initialize(self, name="world"):
            self.name = name

    class PlainGreeter(Greeter):
        pass

    Greeter.configure(None, name="appliance")
    assert isinstance(Greeter(), PlainGreeter) and Greeter().name == "appliance"

:class:`GzipDecompressor` inflates ``Content-Encoding: gzip`` bodies in bounded
steps (its ``max_length`` argument), which is how the HTTP code keeps a small
compressed upload from expanding without limit.

``_websocket_mask(mask, data)`` XORs a payload with a 4-byte mask (WebSocket
frames, XSRF tokens); it is the live implementation of the ``wsmask`` twins.
"""

from __future__ import annotations

import asyncio
import re
import typing
import warnings
import zlib
from collections.abc import Callable, Mapping, Sequence
from inspect import getfullargspec
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import datetime

__all__ = [
    "ArgReplacer",
    "Configurable",
    "GzipDecompressor",
    "ObjectDict",
    "TimeoutError",
    "basestring_type",
    "bytes_type",
    "errno_from_exception",
    "exec_in",
    "import_object",
    "raise_exc_info",
    "re_unescape",
    "timedelta_to_seconds",
    "unicode_type",
]

#: Old spellings of the string types, kept because Tornado still exports them.
bytes_type = bytes
unicode_type = str
basestring_type = str

#: The exception raised by `.IOLoop.run_sync` and friends when time runs out.
#: It is `asyncio.TimeoutError`, which is the builtin `TimeoutError` on
#: Python 3.11 and later, so ``except TimeoutError`` catches it either way.
TimeoutError = asyncio.TimeoutError


class ObjectDict(dict[str, Any]):
    """A `dict` whose keys can also be read and written as attributes.

    A missing key read as an attribute raises `AttributeError`, so `getattr`
    with a default and `hasattr` behave as they do on ordinary objects.
    """

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value


class GzipDecompressor:
    """Incremental decompressor for gzip streams (:rfc:`1952`).

    It looks like `zlib.decompressobj` but checks the gzip header, CRC and
    length, and accepts a stream of several concatenated gzip members.
    Feed it with :meth:`decompress`, then call :meth:`flush` once at the end
    of the input to find out whether the stream was complete::

        d = GzipDecompressor()
        out = []
        for chunk in chunks:
            while chunk:
                out.append(d.decompress(chunk, max_length=65536))
                chunk = d.unconsumed_tail
        d.flush()          # raises zlib.error if the stream was cut short

    An empty stream is valid (as the body of a ``HEAD`` response is).
    Bytes after the last member that do not start another member are an
    error, and so is a stream that ends inside a member.
    """

    def __init__(self) -> None:
        # zlib object for the member being read; None before the first member
        # and between two members, the only places a stream may end.
        self._member: zlib._Decompress | None = None
        # Input not handed to zlib yet (held back by max_length, or the start
        # of the next member); reported as unconsumed_tail.
        self._tail = b""

    def decompress(self, value: bytes, max_length: int = 0) -> bytes:
        """Decompress *value* and return whatever output is ready.

        With a positive *max_length* at most that many bytes are returned,
        and input that was not used is left in :attr:`unconsumed_tail`,
        which the caller must pass back in. A call can return little or
        nothing while the tail is not empty (for example where one member
        ends and the next begins), so loop until the tail is empty.

        :arg value: the next piece of compressed input.
        :arg max_length: an upper bound on the output of this call; ``0``
            means no bound.
        :raises zlib.error: if the input is not valid gzip data.

        .. deprecated:: 6.6
           Calling without *max_length* (or with ``0``) warns with
           `DeprecationWarning`, as in Tornado, because a tiny input can
           inflate to an unbounded output.
        """
        if not max_length:
            warnings.warn(
                "GzipDecompressor.decompress without max_length is deprecated",
                DeprecationWarning,
                stacklevel=2,
            )
        out = self._step(value, max_length)
        if not max_length:
            # Unbounded callers expect everything now, including any further
            # members that were waiting in the tail.
            pieces = [out]
            while self._tail:
                pieces.append(self._step(self._tail, 0))
            out = b"".join(pieces)
        return out

    def _step(self, value: bytes, max_length: int) -> bytes:
        """Make exactly one call into zlib; the caller loops over the tail."""
        if not value:
            self._tail = b""
            return b""
        if self._member is None:
            # A new member must begin with the two gzip magic bytes. Only the
            # bytes present can be checked; a lone first byte is allowed.
            if not b"\x1f\x8b".startswith(value[:2]):
                raise zlib.error(f"expected a gzip member, got {value[:2]!r}")
            self._member = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out = self._member.decompress(value, max_length)
        if self._member.eof:
            # Whatever follows belongs to the next member (or is garbage that
            # the next call rejects). zlib reports it in unused_data; its
            # unconsumed_tail can hold a stale copy, so it is not consulted.
            self._tail = self._member.unused_data
            self._member = None
        else:
            self._tail = self._member.unconsumed_tail
        return out

    @property
    def unconsumed_tail(self) -> bytes:
        """Input that has not been decompressed yet; pass it to :meth:`decompress`."""
        return self._tail

    def flush(self) -> bytes:
        """Declare the end of the input and check that the stream was complete.

        Call it once, after the last :meth:`decompress`. It always returns
        ``b""`` (all output has already been returned); the return value
        exists so that the interface matches `zlib.Decompress.flush`.

        :raises ValueError: if :attr:`unconsumed_tail` still holds input.
        :raises zlib.error: if the input stopped partway through a member.
        """
        if self._tail:
            raise ValueError("unconsumed_tail must be passed to decompress before flush")
        if self._member is not None:
            # When max_length stops zlib, the rest of the member (at least its
            # 8-byte trailer) stays in the tail, which is empty here: so the
            # member really is unfinished, not merely held back.
            raise zlib.error("incomplete or truncated gzip stream")
        return b""


def import_object(name: str) -> Any:
    """Import and return the module or module attribute called *name*.

    ``import_object("x")`` behaves like ``import x``, and
    ``import_object("x.y.z")`` like ``from x.y import z``::

        >>> import embedtornado.util
        >>> import_object("embedtornado.util") is embedtornado.util
        True
        >>> import_object("embedtornado.util.ObjectDict") is ObjectDict
        True

    :raises ImportError: if the module or the final attribute is missing.
    """
    if "." not in name:
        return __import__(name)
    module_name, _, attr = name.rpartition(".")
    module = __import__(module_name, fromlist=[attr])
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ImportError(f"No module named {attr}") from None


def exec_in(code: Any, glob: dict[str, Any], loc: Mapping[str, Any] | None = None) -> None:
    """Execute *code* (a string or code object) in the given namespaces.

    A string is compiled first with ``dont_inherit=True`` so that the
    caller's ``from __future__`` imports do not leak into it.
    """
    if isinstance(code, str):
        code = compile(code, "<string>", "exec", dont_inherit=True)
    exec(code, glob, loc)


def raise_exc_info(
    exc_info: tuple[type | None, BaseException | None, TracebackType | None],
) -> typing.NoReturn:
    """Re-raise the exception in an ``(type, value, traceback)`` triple.

    :raises TypeError: if the triple holds no exception.
    """
    try:
        if exc_info[1] is None:
            raise TypeError("raise_exc_info called with no exception")
        raise exc_info[1].with_traceback(exc_info[2])
    finally:
        # Drop the frame's reference to the traceback to avoid a cycle.
        exc_info = (None, None, None)


def errno_from_exception(e: BaseException) -> int | None:
    """Return the ``errno`` of an exception, or ``None`` if it has none.

    Uses the ``errno`` attribute when present, else the first argument,
    and copes with exceptions created without arguments.
    """
    if hasattr(e, "errno"):
        return e.errno  # type: ignore[no-any-return]
    if e.args:
        return e.args[0]  # type: ignore[no-any-return]
    return None


_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_ESCAPED_CHAR = re.compile(r"\\(.)", re.DOTALL)


def _unescape_one(match: re.Match[str]) -> str:
    char = match.group(1)
    if char[0] in _ALNUM:
        # re.escape never escapes letters or digits, so "\d" and friends
        # cannot have come from it.
        raise ValueError(f"cannot unescape '\\\\{char[0]}'")
    return char


def re_unescape(s: str) -> str:
    r"""Undo `re.escape`.

    :raises ValueError: for input that `re.escape` cannot have produced,
        such as a pattern containing ``\d``.

    .. versionadded:: 4.4
    """
    return _ESCAPED_CHAR.sub(_unescape_one, s)


class Configurable:
    """Base for an interface whose constructor picks the implementation class.

    Calling the base class (``Resolver()``, ``IOLoop()``) builds an instance
    of whichever subclass has been chosen with :meth:`configure`, or of
    :meth:`configurable_default` if none has; calling a subclass builds that
    subclass. Keyword arguments given to :meth:`configure` are added to every
    construction through the base. ``isinstance`` works as usual.

    A subclass must define the class methods :meth:`configurable_base` and
    :meth:`configurable_default`, and initialise itself in ``initialize``
    rather than ``__init__``. Configuration can be set at more than one level
    of a hierarchy: when the chosen class has its own configurable base, it
    is asked in turn.
    """

    # Set on the configurable base class only (read through its __dict__).
    __impl_class: type[Configurable] | None = None
    __impl_kwargs: dict[str, Any] | None = None

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        base = cls.configurable_base()
        merged: dict[str, Any] = {}
        if cls is base:
            impl = cls.configured_class()
            if base.__impl_kwargs:
                merged.update(base.__impl_kwargs)
        else:
            impl = cls
        merged.update(kwargs)
        if impl.configurable_base() is not base:
            # The chosen class heads a configurable hierarchy of its own.
            return impl(*args, **merged)
        instance = super().__new__(impl)
        # initialize() rather than __init__, as in Tornado, so subclasses may
        # return cached instances from __new__ without being re-initialised.
        instance.initialize(*args, **merged)
        return instance

    @classmethod
    def configurable_base(cls) -> type[Configurable]:
        """Return the head of this configurable hierarchy.

        Normally the class that defines this method, not necessarily ``cls``.
        """
        raise NotImplementedError()

    @classmethod
    def configurable_default(cls) -> type[Configurable]:
        """Return the implementation used when nothing has been configured."""
        raise NotImplementedError()

    def _initialize(self) -> None:
        pass

    initialize: Callable[..., None] = _initialize
    """Initialise an instance; subclasses use this instead of ``__init__``.

    It receives the positional and keyword arguments given to the
    constructor, plus the keyword arguments saved by :meth:`configure`.
    """

    @classmethod
    def configure(cls, impl: str | type[Configurable] | None, **kwargs: Any) -> None:
        """Choose the class the base builds, and default keyword arguments.

        :arg impl: a subclass of ``cls``, its dotted name, or ``None`` to go
            back to :meth:`configurable_default`.
        :arg kwargs: added to the arguments of every construction through the
            base (explicit arguments win).
        :raises ValueError: if *impl* is not a subclass of ``cls``.
        """
        base = cls.configurable_base()
        if isinstance(impl, str):
            impl = typing.cast("type[Configurable]", import_object(impl))
        if impl is not None and not issubclass(impl, cls):
            raise ValueError(f"Invalid subclass of {cls}")
        base.__impl_class = impl
        base.__impl_kwargs = kwargs

    @classmethod
    def configured_class(cls) -> type[Configurable]:
        """Return the class that constructing the base would build now."""
        base = cls.configurable_base()
        # Look in the base's own __dict__: a value inherited from a
        # configurable higher up the hierarchy does not count.
        if base.__dict__.get("_Configurable__impl_class") is None:
            base.__impl_class = cls.configurable_default()
        impl = base.__impl_class
        if impl is None:
            raise ValueError("configured class not found")
        return impl

    @classmethod
    def _save_configuration(cls) -> tuple[type[Configurable] | None, dict[str, Any] | None]:
        base = cls.configurable_base()
        return (base.__impl_class, base.__impl_kwargs)

    @classmethod
    def _restore_configuration(
        cls, saved: tuple[type[Configurable] | None, dict[str, Any] | None]
    ) -> None:
        base = cls.configurable_base()
        base.__impl_class, base.__impl_kwargs = saved


class ArgReplacer:
    """Find, read and replace one named argument in an ``(args, kwargs)`` pair.

    Decorators use it to get at an argument whether the caller passed it by
    position or by keyword::

        replacer = ArgReplacer(func, "callback")
        old, args, kwargs = replacer.replace(new_callback, args, kwargs)

    :arg func: the function whose signature is inspected.
    :arg name: the parameter name.
    """

    def __init__(self, func: Callable[..., Any], name: str) -> None:
        self.name = name
        try:
            self.arg_pos: int | None = self._getargnames(func).index(name)
        except ValueError:
            self.arg_pos = None  # keyword-only, or not a parameter at all

    def _getargnames(self, func: Callable[..., Any]) -> list[str]:
        try:
            return getfullargspec(func).args
        except TypeError:
            # Cython functions carry a func_code that inspect does not accept;
            # read the positional names from it directly.
            code = getattr(func, "func_code", None)
            if code is None:
                raise
            return list(code.co_varnames[: code.co_argcount])

    def get_old_value(
        self, args: Sequence[Any], kwargs: dict[str, Any], default: Any = None
    ) -> Any:
        """Return the argument's current value, or *default* if it was not passed."""
        if self.arg_pos is not None and len(args) > self.arg_pos:
            return args[self.arg_pos]
        return kwargs.get(self.name, default)

    def replace(
        self, new_value: Any, args: Sequence[Any], kwargs: dict[str, Any]
    ) -> tuple[Any, Sequence[Any], dict[str, Any]]:
        """Put *new_value* in place of the argument.

        Returns ``(old_value, args, kwargs)``; the returned containers may be
        new objects, or the given ones changed in place. An argument that was
        not passed at all is added to ``kwargs`` and ``old_value`` is ``None``.
        """
        if self.arg_pos is not None and len(args) > self.arg_pos:
            old_value = args[self.arg_pos]
            new_args = list(args)
            new_args[self.arg_pos] = new_value
            return old_value, new_args, kwargs
        old_value = kwargs.get(self.name)
        kwargs[self.name] = new_value
        return old_value, args, kwargs


def timedelta_to_seconds(td: datetime.timedelta) -> float:
    """Return ``td.total_seconds()`` (kept for Tornado compatibility)."""
    return td.total_seconds()


def _load_websocket_mask() -> Callable[[bytes, bytes], bytes]:
    from embedtornado import _accel

    fn: Callable[[bytes, bytes], bytes] = _accel.load("wsmask").websocket_mask
    return fn


#: ``_websocket_mask(mask, data)``: *data* XOR the 4-byte *mask*, repeated.
#: Loaded on first use (the compiled ``wsmask`` module is not needed by a
#: server without WebSockets or XSRF cookies): see __getattr__.
_websocket_mask: Callable[[bytes, bytes], bytes]


def __getattr__(name: str) -> Any:
    if name == "_websocket_mask":
        fn = globals()["_websocket_mask"] = _load_websocket_mask()
        return fn
    if name == "_websocket_mask_python":
        # Tornado's name for the pure-Python mask (its tests compare the two);
        # here it is the twin of the compiled wsmask module.
        from embedtornado._pure import wsmask

        globals()[name] = wsmask.websocket_mask
        return wsmask.websocket_mask
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
