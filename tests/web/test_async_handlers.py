"""Asynchronous request handlers, side by side with Tornado 6.6.1.

``async def`` methods and ``prepare``, ``@gen.coroutine`` generator methods,
executors, requests that wait on each other (so one blocking the loop would
deadlock the test), and a client that leaves while its handler is still
working: the handler hears ``on_connection_close`` and its coroutine is
*not* cancelled (Tornado's behaviour), running on to ``on_finish``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime
import threading

import pytest
import tornado.concurrent
import tornado.gen
import tornado.ioloop
import tornado.locks
import tornado.web
from webtools import Dual, LogCapture, dual_harness, events, record, req

import embedtornado.concurrent
import embedtornado.gen
import embedtornado.ioloop
import embedtornado.locks

POOL = concurrent.futures.ThreadPoolExecutor(4)


def kit(web):
    """The gen, locks and concurrent modules of the framework *web* belongs to."""
    if web is tornado.web:
        return tornado.gen, tornado.locks, tornado.concurrent
    return embedtornado.gen, embedtornado.locks, embedtornado.concurrent


STATE: dict[str, dict] = {}


def handlers(web):
    gen, locks, concurrent = kit(web)
    state = STATE[web.__name__] = {
        "gate": locks.Event(),
        "thread_gate": threading.Event(),
        "left": locks.Event(),
        "finished": locks.Event(),
        "started": locks.Event(),
    }

    class AsyncPrepare(web.RequestHandler):
        async def prepare(self):
            await gen.sleep(0)
            self.prepared = await asyncio.sleep(0, "prepared")

        async def get(self):
            await asyncio.sleep(0)
            self.write(self.prepared + " get")

        async def post(self):
            await gen.sleep(0)
            self.write({"name": self.get_body_argument("name"), "prepared": self.prepared})

    class GenHandler(web.RequestHandler):
        @gen.coroutine
        def prepare(self):
            yield gen.sleep(0)
            self.seen = ["prepare"]

        @gen.coroutine
        def get(self):
            async def value(x):
                await asyncio.sleep(0)
                return x

            a, b = yield [value(1), gen.sleep(0)]
            d = yield {"x": value("y")}
            yield None
            r = yield gen.with_timeout(datetime.timedelta(seconds=60), value("in time"))
            self.seen += [a, b, d, r]
            self.write({"seen": self.seen})

    class PrepareFinishes(web.RequestHandler):
        async def prepare(self):
            await asyncio.sleep(0)
            self.finish("from prepare")

        def get(self):
            record(web).append("get called")

    class Failing(web.RequestHandler):
        async def get(self):
            case = self.get_query_argument("case")
            await asyncio.sleep(0)
            if case == "value":
                raise ValueError("boom")
            if case == "http":
                raise web.HTTPError(418)
            if case == "finish":
                raise web.Finish("finished by exception")

    class GenFailing(web.RequestHandler):
        @gen.coroutine
        def prepare(self):
            yield gen.sleep(0)
            raise web.HTTPError(403, "no")

        def get(self):
            record(web).append("gen failing get called")

    class Timeout(web.RequestHandler):
        async def get(self):
            never = asyncio.get_running_loop().create_future()
            try:
                await gen.with_timeout(_now(gen) + 0.01, never)  # an absolute deadline
            except gen.TimeoutError:
                self.write("timed out")
            never.cancel()

    class Executor(web.RequestHandler):
        executor = POOL

        @concurrent.run_on_executor
        def blocking(self, x):
            return threading.current_thread() is not threading.main_thread(), x * 2

        async def get(self):
            on_thread, doubled = await self.blocking(21)
            from_loop = await _ioloop(gen).run_in_executor(None, lambda: "via run_in_executor")
            self.write({"on_thread": on_thread, "doubled": doubled, "loop": from_loop})

    class WaitForThread(web.RequestHandler):
        async def get(self):
            # Blocks a worker thread, not the loop, until /release-thread comes in.
            ok = await _ioloop(gen).run_in_executor(POOL, state["thread_gate"].wait, 30)
            self.write("thread released: %s" % ok)

    class Wait(web.RequestHandler):
        async def get(self):
            await state["gate"].wait()
            self.write("released")

    class Release(web.RequestHandler):
        def get(self):
            which = self.get_query_argument("which")
            if which == "event":
                state["gate"].set()
            else:
                state["thread_gate"].set()
            self.write("ok")

    class Slow(web.RequestHandler):
        """Works on after its client has left; records what happens."""

        async def get(self):
            log = record(web)
            log.append("get started")
            state["started"].set()
            await state["left"].wait()
            log.append("resumed after close")
            await asyncio.sleep(0.01)
            log.append("still running")
            self.write("nobody reads this")
            try:
                await self.flush()
            except Exception as e:  # what Tornado raises here
                log.append("flush raised " + type(e).__name__)
            log.append("get ends")

        def on_connection_close(self):
            record(web).append("on_connection_close")
            state["left"].set()

        def on_finish(self):
            record(web).append("on_finish")
            state["finished"].set()

    class Cancellable(web.RequestHandler):
        """Stops its own work when the client leaves, the way the docs suggest."""

        async def get(self):
            log = record(web)
            self.work = asyncio.ensure_future(asyncio.sleep(30))
            state["started"].set()
            try:
                await self.work
            except asyncio.CancelledError:
                log.append("work cancelled")
                if self.get_query_argument("escape", None):
                    raise
                return
            log.append("work done")

        def on_connection_close(self):
            record(web).append("on_connection_close")
            self.work.cancel()

        def on_finish(self):
            record(web).append("on_finish")
            state["finished"].set()

    return [
        (r"/cancellable", Cancellable),
        (r"/async", AsyncPrepare),
        (r"/gen", GenHandler),
        (r"/prepare_finishes", PrepareFinishes),
        (r"/fail", Failing),
        (r"/gen_fail", GenFailing),
        (r"/timeout", Timeout),
        (r"/executor", Executor),
        (r"/wait", Wait),
        (r"/wait_thread", WaitForThread),
        (r"/release", Release),
        (r"/slow", Slow),
    ]


def _ioloop(gen):
    if gen is tornado.gen:
        return tornado.ioloop.IOLoop.current()
    return embedtornado.ioloop.IOLoop.current()


def _now(gen) -> float:
    return _ioloop(gen).time()


@pytest.fixture(scope="module")
def dual():
    yield from dual_harness(handlers)


@pytest.fixture(autouse=True)
def quiet_logs():
    with LogCapture("embedtornado", "tornado") as cap:
        yield cap


def test_async_prepare_and_methods(dual: Dual):
    assert dual.same(req("GET", "/async")).body == b"prepared get"
    body = b"name=ann"
    resp = dual.same(req("POST", "/async", {"Content-Type": "application/x-www-form-urlencoded"},
                         body))
    assert resp.body == b'{"name": "ann", "prepared": "prepared"}'


def test_gen_coroutine_methods(dual: Dual):
    resp = dual.same(req("GET", "/gen"))
    assert resp.body == b'{"seen": ["prepare", 1, null, {"x": "y"}, "in time"]}'


def test_async_prepare_that_finishes_skips_the_method(dual: Dual):
    events()
    assert dual.same(req("GET", "/prepare_finishes")).body == b"from prepare"
    assert events() == ([], [])


@pytest.mark.parametrize("case,status", [("value", 500), ("http", 418), ("finish", 200)])
def test_errors_after_await(dual: Dual, quiet_logs, case, status):
    resp = dual.same(req("GET", "/fail?case=" + case))
    assert resp.code == status
    errors = [r for r in quiet_logs.records
              if r.levelname == "ERROR" and not r.name.endswith(".access")]
    if case == "value":
        assert sorted(r.name for r in errors) == ["embedtornado.application",
                                                   "tornado.application"]
        assert all(r.exc_info[0] is ValueError for r in errors)
    else:
        assert errors == []


def test_gen_coroutine_prepare_raising_http_error(dual: Dual, quiet_logs):
    events()
    assert dual.same(req("GET", "/gen_fail")).code == 403
    assert events() == ([], [])
    warnings = sorted((r.name, r.getMessage()) for r in quiet_logs.records
                      if r.levelname == "WARNING" and r.name.endswith(".general"))
    assert [w[0] for w in warnings] == ["embedtornado.general", "tornado.general"]
    assert all(w[1].startswith("403 GET /gen_fail") and w[1].endswith(": no") for w in warnings)


def test_with_timeout_in_handler(dual: Dual):
    assert dual.same(req("GET", "/timeout")).body == b"timed out"


def test_executors(dual: Dual):
    resp = dual.same(req("GET", "/executor"))
    assert resp.body == b'{"on_thread": true, "doubled": 42, "loop": "via run_in_executor"}'


def _waiting_requests(dual: Dual, path: str, release: str, connect):
    """Start *path* (which waits), then /release on another connection; both must answer."""
    from rawhttp import read_response

    async def go():
        r1, w1 = await connect()
        w1.write(req("GET", path))
        await w1.drain()
        await asyncio.sleep(0.01)  # let it start waiting (not needed for correctness)
        r2, w2 = await connect()
        w2.write(req("GET", "/release?which=" + release))
        second = await read_response(r2)
        first = await read_response(r1)
        return first, second

    return dual.run(go())


@pytest.mark.parametrize("path,release", [("/wait", "event"), ("/wait_thread", "thread")])
def test_a_waiting_handler_does_not_block_other_requests(dual: Dual, path, release):
    # If the first request blocked the loop, the second could never be read
    # and both would time out.
    for web, connect in (("embedtornado.web", dual.h.connect),
                         ("tornado.web", dual.h.connect_tornado)):
        state = STATE[web]
        state["gate"].clear()
        state["thread_gate"].clear()
        first, second = _waiting_requests(dual, path, release, connect)
        assert second.body == b"ok"
        assert first.code == 200
        assert first.body in (b"released", b"thread released: True")


def test_client_leaving_calls_on_connection_close_without_cancelling(dual: Dual, quiet_logs):
    events()
    for web, connect in (("embedtornado.web", dual.h.connect),
                         ("tornado.web", dual.h.connect_tornado)):
        state = STATE[web]

        async def go(state=state, connect=connect):
            _, writer = await connect()
            writer.write(req("GET", "/slow"))
            await asyncio.wait_for(state["started"].wait(), 10)
            writer.close()
            await asyncio.wait_for(state["finished"].wait(), 10)
            await asyncio.sleep(0.01)

        dual.run(go())
    ours, theirs = events()
    assert ours == theirs
    # Not cancelled: the coroutine runs on; writing then fails (flush raises
    # StreamClosedError) and the request still finishes.
    assert ours == ["get started", "on_connection_close", "resumed after close",
                    "still running", "flush raised StreamClosedError", "get ends", "on_finish"]
    errors = [r for r in quiet_logs.records if r.levelname == "ERROR"]
    assert errors == []


@pytest.mark.parametrize("escape", [False, True])
def test_handler_stopping_its_work_on_connection_close(dual: Dual, quiet_logs, escape):
    events()
    for web, connect in (("embedtornado.web", dual.h.connect),
                         ("tornado.web", dual.h.connect_tornado)):
        state = STATE[web]
        state["started"].clear()
        state["finished"].clear()

        async def go(state=state, connect=connect):
            _, writer = await connect()
            writer.write(req("GET", "/cancellable" + ("?escape=1" if escape else "")))
            await asyncio.wait_for(state["started"].wait(), 10)
            writer.close()
            await asyncio.wait_for(state["finished"].wait(), 10)
            await asyncio.sleep(0.01)

        dual.run(go())
    ours, theirs = events()
    assert ours == theirs
    assert ours == ["on_connection_close", "work cancelled", "on_finish"]
    errors = sorted(r.name for r in quiet_logs.records
                    if r.levelname == "ERROR" and not r.name.endswith(".access"))
    if escape:
        # A CancelledError escaping the method is an uncaught exception to
        # both (logged, 500 for nobody), not a cancellation of the request.
        assert errors == ["embedtornado.application", "tornado.application"]
    else:
        assert errors == []
