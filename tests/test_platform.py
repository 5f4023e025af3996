"""embedtornado.platform.asyncio: Tornado's names for the asyncio-backed IOLoop and helpers."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import warnings

import pytest
import tornado.platform.asyncio

import embedtornado
import embedtornado.platform
from embedtornado import gen, ioloop
from embedtornado.ioloop import IOLoop
from embedtornado.platform import asyncio as pasyncio

# --- The IOLoop classes are re-exported, not copies ------------------------------------


def test_loop_classes_are_the_ioloop_modules():
    assert pasyncio.BaseAsyncIOLoop is ioloop.BaseAsyncIOLoop
    assert pasyncio.AsyncIOMainLoop is ioloop.AsyncIOMainLoop
    assert pasyncio.AsyncIOLoop is ioloop.AsyncIOLoop
    assert issubclass(pasyncio.AsyncIOMainLoop, pasyncio.BaseAsyncIOLoop)
    assert issubclass(pasyncio.AsyncIOLoop, pasyncio.BaseAsyncIOLoop)


def test_ioloop_default_is_asyncioloop_as_in_tornado():
    assert tornado.ioloop.IOLoop.configurable_default() is tornado.platform.asyncio.AsyncIOLoop
    assert IOLoop.configurable_default() is pasyncio.AsyncIOLoop
    loop = IOLoop(make_current=False)
    try:
        assert type(loop) is pasyncio.AsyncIOLoop
    finally:
        loop.close()


def test_current_inside_asyncio_run_is_an_asynciomainloop():
    async def main():
        current = IOLoop.current()
        return type(current), current.asyncio_loop is asyncio.get_running_loop()

    kind, same = asyncio.run(main())
    assert kind is pasyncio.AsyncIOMainLoop
    assert same


def test_reachable_from_the_package():
    assert "platform" in embedtornado.__all__
    assert embedtornado.platform.asyncio is pasyncio


def test_tornado_public_names_exist():
    theirs = {n for n in dir(tornado.platform.asyncio) if not n.startswith("_")}
    theirs = {n for n in theirs if not isinstance(getattr(tornado.platform.asyncio, n), type(gen))}
    public = {
        n
        for n in theirs
        if getattr(getattr(tornado.platform.asyncio, n), "__module__", "")
        == "tornado.platform.asyncio"
    }
    public.add("AnyThreadEventLoopPolicy")
    missing = {n for n in public if not hasattr(pasyncio, n)}
    assert missing == set()


# --- Future converters ---------------------------------------------------------------


def test_to_tornado_future_is_identity():
    loop = asyncio.new_event_loop()
    try:
        fut = loop.create_future()
        assert pasyncio.to_tornado_future(fut) is fut
    finally:
        loop.close()


def test_to_asyncio_future_converts_yieldables_like_tornado():
    async def value(x):
        return x

    async def main(convert):
        fut = asyncio.get_running_loop().create_future()
        fut.set_result("f")
        same = convert(fut) is fut
        from_coro = await convert(value(1))
        from_list = await convert([value(2), value(3)])
        from_dict = await convert({"a": value(4)})
        with pytest.raises(
            gen.BadYieldError
            if convert is pasyncio.to_asyncio_future
            else tornado.gen.BadYieldError
        ):
            convert(object())
        return same, from_coro, from_list, from_dict

    ours = asyncio.run(main(pasyncio.to_asyncio_future))
    theirs = asyncio.run(main(tornado.platform.asyncio.to_asyncio_future))
    assert ours == theirs == (True, 1, [2, 3], {"a": 4})


# --- AnyThreadEventLoopPolicy --------------------------------------------------------


def test_any_thread_policy_is_made_lazily_and_cached():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cls = pasyncio.AnyThreadEventLoopPolicy  # access alone does not warn
    assert cls is pasyncio.AnyThreadEventLoopPolicy
    assert cls.__name__ == "AnyThreadEventLoopPolicy"
    assert issubclass(cls, asyncio.DefaultEventLoopPolicy)


def test_any_thread_policy_warns_on_instantiation_like_tornado():
    with pytest.warns(DeprecationWarning, match="AnyThreadEventLoopPolicy is deprecated") as ours:
        pasyncio.AnyThreadEventLoopPolicy()
    with pytest.warns(DeprecationWarning, match="AnyThreadEventLoopPolicy is deprecated") as theirs:
        tornado.platform.asyncio.AnyThreadEventLoopPolicy()
    # Both point at the caller.
    assert ours[0].filename == theirs[0].filename == __file__


def test_any_thread_policy_makes_a_loop_in_another_thread():
    with pytest.warns(DeprecationWarning):
        policy = pasyncio.AnyThreadEventLoopPolicy()
    out = {}

    def worker():
        first = policy.get_event_loop()
        out["same"] = policy.get_event_loop() is first
        out["open"] = not first.is_closed()
        first.close()
        policy.set_event_loop(None)

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert out == {"same": True, "open": True}


def test_unknown_module_attribute():
    with pytest.raises(AttributeError, match="no_such_name"):
        pasyncio.no_such_name  # noqa: B018


# --- SelectorThread / AddThreadSelectorEventLoop --------------------------------------


@pytest.fixture
def wrapped():
    real = asyncio.SelectorEventLoop()
    loop = pasyncio.AddThreadSelectorEventLoop(real)
    yield loop, real
    loop.close()
    assert real.is_closed()


def run(loop, coro, timeout=10):
    return loop.run_until_complete(asyncio.wait_for(coro, timeout))


def test_wrapper_forwards_everything_else(wrapped):
    loop, real = wrapped
    assert loop.call_soon.__self__ is real
    assert loop.is_closed() is False
    assert run(loop, asyncio.sleep(0, "done")) == "done"
    assert isinstance(loop, asyncio.AbstractEventLoop)


def test_reader_callback_runs_on_the_loop_thread(wrapped):
    loop, _ = wrapped
    a, b = socket.socketpair()
    a.setblocking(False)
    try:

        async def main():
            got = asyncio.get_running_loop().create_future()

            def on_readable(tag):
                if not got.done():
                    got.set_result((tag, a.recv(100), threading.get_ident()))

            loop.add_reader(a, on_readable, "tag")
            b.send(b"ping")
            result = await got
            assert loop.remove_reader(a) is True
            assert loop.remove_reader(a) is False
            return result

        assert run(loop, main()) == ("tag", b"ping", threading.get_ident())
    finally:
        a.close()
        b.close()


def test_writer_callback_and_removal(wrapped):
    loop, _ = wrapped
    a, b = socket.socketpair()
    try:

        async def main():
            got = asyncio.get_running_loop().create_future()
            loop.add_writer(a.fileno(), lambda: got.done() or got.set_result("writable"))
            result = await got
            assert loop.remove_writer(a.fileno()) is True
            assert loop.remove_writer(a.fileno()) is False
            return result

        assert run(loop, main()) == "writable"
    finally:
        a.close()
        b.close()


def test_failing_callback_is_logged_and_others_still_run(wrapped, caplog):
    loop, _ = wrapped
    a, b = socket.socketpair()
    c, d = socket.socketpair()
    a.setblocking(False)
    c.setblocking(False)
    try:

        def bad():
            a.recv(100)
            raise ValueError("callback failed")

        async def main():
            got = asyncio.get_running_loop().create_future()
            loop.add_reader(a, bad)
            loop.add_reader(c, lambda: got.done() or got.set_result(c.recv(100)))
            b.send(b"x")
            await asyncio.sleep(0.05)
            d.send(b"later")  # served after the failure: the thread kept going
            return await got

        with caplog.at_level(logging.ERROR, logger="embedtornado.application"):
            assert run(loop, main()) == b"later"
        assert any("selector callback" in r.getMessage() and r.exc_info for r in caplog.records)
        loop.remove_reader(a)
        loop.remove_reader(c)
    finally:
        for s in (a, b, c, d):
            s.close()


def test_close_stops_the_thread():
    real = asyncio.SelectorEventLoop()
    loop = pasyncio.AddThreadSelectorEventLoop(real)
    selector = loop._selector
    assert selector in pasyncio._open_selectors
    assert selector._thread.is_alive()
    loop.close()
    assert not selector._thread.is_alive()
    assert selector not in pasyncio._open_selectors
    assert real.is_closed()
    selector.close()  # idempotent


def test_selector_thread_on_a_running_loop():
    async def main():
        selector = pasyncio.SelectorThread(asyncio.get_running_loop())
        a, b = socket.socketpair()
        a.setblocking(False)
        try:
            got = asyncio.get_running_loop().create_future()
            selector.add_reader(a, lambda: got.done() or got.set_result(a.recv(10)))
            b.send(b"hi")
            return await asyncio.wait_for(got, 10)
        finally:
            selector.close()
            a.close()
            b.close()

    assert asyncio.run(main()) == b"hi"


def test_a_closed_but_registered_socket_does_not_stop_the_thread(wrapped):
    loop, _ = wrapped
    gone, _peer = socket.socketpair()
    a, b = socket.socketpair()
    a.setblocking(False)
    try:

        async def main():
            loop.add_reader(gone, lambda: None)
            gone.close()  # without remove_reader: select() now fails on it
            await asyncio.sleep(0.05)
            loop.remove_reader(gone)
            got = asyncio.get_running_loop().create_future()
            loop.add_reader(a, lambda: got.done() or got.set_result(a.recv(10)))
            b.send(b"still here")
            result = await got
            loop.remove_reader(a)
            return result

        assert run(loop, main()) == b"still here"
        assert loop._selector._thread.is_alive()
    finally:
        for s in (_peer, a, b):
            s.close()
