"""The seam where embedtornado gets its asyncio event loop.

Every event loop that embedtornado creates itself (`.IOLoop()`, or
`.IOLoop.current()` in a thread that has none) comes from
:func:`new_event_loop` here, so swapping the loop implementation is a change
to this module alone::

    import asyncio
    import embedtornado.loop

    embedtornado.loop.install()          # optional: asyncio.run() uses Loop too
    loop = embedtornado.loop.new_event_loop()
    try:
        loop.run_until_complete(asyncio.sleep(0))
    finally:
        loop.close()

Today :data:`Loop` is the standard library's selector loop
(`asyncio.SelectorEventLoop`, epoll on Linux), so embedtornado runs on
exactly the loop Tornado runs on. A later change puts the compiled epoll loop
(``embedtornado._speedups.loop.LoopBase`` combined with
`asyncio.AbstractEventLoop`, uvloop style) behind this same name
``embedtornado.loop.Loop``; the stdlib loop stays its reference twin.
"""

from __future__ import annotations

import asyncio
from typing import Any

# EventLoopPolicy is also public; it is built on first access (see __getattr__).
__all__ = ["Loop", "install", "new_event_loop"]

#: The event loop class embedtornado provides (stdlib selector loop for now).
Loop = asyncio.SelectorEventLoop


def new_event_loop() -> asyncio.AbstractEventLoop:
    """Return a new, not yet running, event loop.

    This asks asyncio (and so the installed event loop policy) for the loop,
    as Tornado does: with the default policy that is a :data:`Loop`, after
    :func:`install` it is always one, and a program that installed another
    policy (uvloop's, say) keeps getting that policy's loops.
    """
    return asyncio.new_event_loop()


def install() -> None:
    """Make :data:`Loop` the loop asyncio creates (``asyncio.run`` included)."""
    asyncio.set_event_loop_policy(__getattr__("EventLoopPolicy")())


_policy_class: type | None = None


def __getattr__(name: str) -> Any:
    # asyncio's policy classes are deprecated from Python 3.14 on, and merely
    # reading asyncio.DefaultEventLoopPolicy warns there; build ours on demand.
    global _policy_class
    if name != "EventLoopPolicy":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if _policy_class is None:

        class EventLoopPolicy(asyncio.DefaultEventLoopPolicy):
            """An asyncio event loop policy whose loops are :data:`Loop` objects."""

            def _loop_factory(self) -> asyncio.AbstractEventLoop:
                return Loop()

        EventLoopPolicy.__module__ = __name__
        _policy_class = EventLoopPolicy
    return _policy_class
