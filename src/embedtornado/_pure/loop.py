"""The twin of the compiled event loop: the standard library's selector loop.

``embedtornado._speedups.loop`` exports ``LoopBase``, the compiled epoll core
that `embedtornado.loop` combines with `asyncio.AbstractEventLoop`. Its
readable reference is not a second implementation written here but asyncio's
own `asyncio.SelectorEventLoop` (epoll on Linux): the loop Tornado runs on, and
the spec the compiled loop is tested against (tests/loop runs every case on
both). `embedtornado.loop` uses :data:`LoopBase` directly when this module is
the live one.
"""

from __future__ import annotations

import asyncio

#: The loop class itself (not a base to combine): stdlib asyncio's selector loop.
LoopBase = asyncio.SelectorEventLoop

#: Marks this module as the stdlib stand-in; the compiled module lacks it.
IS_STDLIB = True
