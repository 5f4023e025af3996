"""Stream errors shared by the HTTP server, the client and WebSocket code.

Tornado programs catch these by name::

    from embedtornado.iostream import StreamClosedError

    try:
        await handler.flush()
    except StreamClosedError:
        pass  # the client went away

.. note:: embedtornado differs from Tornado 6.6.1: the HTTP server does not
   run on ``IOStream`` but on an asyncio protocol fed straight from the
   event loop. The ``IOStream`` class for raw TCP servers and clients is
   built by a later issue; until then this module holds the exceptions only.
"""

from __future__ import annotations


class StreamClosedError(IOError):
    """The stream was closed while an operation was pending.

    ``real_error`` holds the exception that closed it, if any.
    """

    def __init__(self, real_error: BaseException | None = None) -> None:
        super().__init__("Stream is closed")
        self.real_error = real_error


class UnsatisfiableReadError(Exception):
    """A read cannot be satisfied, e.g. a delimiter was not found within ``max_bytes``."""


class StreamBufferFullError(Exception):
    """A buffer grew past its configured limit."""
