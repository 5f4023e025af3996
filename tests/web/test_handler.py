"""RequestHandler output, status, headers, errors, Etags, hooks and async methods.

Each case runs the same handler code under embedtornado and Tornado 6.6.1 (one
server each, in the same event loop) and asserts the same status, reason,
headers (Date and Server values aside) and body.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import json
import logging
import re

import pytest
from webtools import Dual, LogCapture, dual_harness, events, record, req

import embedtornado
from embedtornado.web import HTTPError, RequestHandler

CASES: dict[str, dict] = {}


def handlers(web):
    class Hello(web.RequestHandler):
        def get(self):
            self.write("Hello World!")

    class Out(web.RequestHandler):
        """One output behaviour per ?case=."""

        def get(self):
            case = self.get_query_argument("case")
            getattr(self, "case_" + case)()

        def case_bytes(self):
            self.write(b"\xff\x00abc")

        def case_unicode(self):
            self.write("h\xe9llo \u2603")

        def case_dict(self):
            self.write({"a": 1, "b": "</script>", "c": [1, 2]})

        def case_dict_then_ctype(self):
            self.write({"a": 1})
            self.set_header("Content-Type", "text/plain")

        def case_list(self):
            self.write([1, 2])

        def case_tuple(self):
            self.write((1, 2))

        def case_none(self):
            self.write(None)

        def case_multi(self):
            self.write("one ")
            self.write(b"two ")
            self.write("three")

        def case_empty(self):
            pass

        def case_finish_chunk(self):
            self.write("a")
            self.finish("done")

        def case_finish_dict(self):
            self.finish({"x": 1})

        def case_write_after_finish(self):
            self.finish("x")
            try:
                self.write("y")
            except RuntimeError as e:
                record(web).append(str(e))

        def case_finish_twice(self):
            self.finish("x")
            self.finish()

        def case_flush(self):
            self.write("part1 ")
            self.flush()
            self.write("part2")

        def case_flush_empty(self):
            self.flush()

        def case_flush_cl(self):
            self.set_header("Content-Length", 10)
            self.write("01234")
            self.flush()
            self.write("56789")

        def case_clear(self):
            self.set_header("X-Gone", "1")
            self.write("gone")
            self.set_status(404)
            self.clear()
            self.write("kept")

        def case_204_body(self):
            self.set_status(204)
            self.write("x")

        def case_204(self):
            self.set_status(204)

        def case_304(self):
            self.set_status(304)

        def case_1xx(self):
            self.set_status(199)

    class Hdr(web.RequestHandler):
        def get(self):
            case = self.get_query_argument("case")
            value = HEADER_VALUES[case]
            self.set_header("X-Test", value)
            self.write("ok")

    class AddHdr(web.RequestHandler):
        def get(self):
            self.add_header("X-Multi", "a")
            self.add_header("X-Multi", 2)
            self.set_header("X-Single", "first")
            self.set_header("x-single", "second")
            self.add_header("Link", "<a>")
            self.set_header("X-Cleared", "v")
            self.clear_header("x-cleared")
            self.clear_header("X-Never-Set")
            self.set_header("Content-Type", "text/plain")
            self.clear_header("Server")
            self.write("ok")

    class AddBad(web.RequestHandler):
        def get(self):
            case = self.get_query_argument("case")
            if case == "name":
                self.add_header("Bad Name", "v")
            elif case == "space":
                self.add_header("X-Space", " padded ")
            elif case == "crlf":
                self.add_header("X-A", "a\r\nX-B: b")
            self.write("ok")

    class Status(web.RequestHandler):
        def get(self):
            code, reason = STATUS_CASES[self.get_query_argument("case")]
            self.set_status(code, reason)
            self.write("status %d" % self.get_status())

    class Redirect(web.RequestHandler):
        def get(self):
            case = self.get_query_argument("case")
            if case == "default":
                self.redirect("/target")
            elif case == "permanent":
                self.redirect("/target", permanent=True)
            elif case == "303":
                self.redirect("/target", status=303)
            elif case == "307_permanent":
                self.redirect("/target", permanent=True, status=307)
            elif case == "status200":
                self.redirect("/target", status=200)
            elif case == "protocol_relative":
                self.redirect("//evil.example/x")
            elif case == "backslash":
                self.redirect("/\\evil.example")
            elif case == "absolute":
                self.redirect("http://other.example/path?q=1")
            elif case == "crlf":
                self.redirect("/x\r\nSet-Cookie: a=b")
            elif case == "unicode":
                self.redirect("/caf\xe9")
            elif case == "after_flush":
                self.write("x")
                self.flush()
                self.redirect("/target")
            elif case == "written":
                self.write("discarded?")
                self.redirect("/target")

    class SendError(web.RequestHandler):
        def get(self):
            case = self.get_query_argument("case")
            if case == "404":
                self.send_error(404)
            elif case == "default":
                self.send_error()
            elif case == "reason":
                self.send_error(500, reason="Custom Reason")
            elif case == "bad_reason":
                self.send_error(500, reason="bad\r\nreason")
            elif case == "unknown":
                self.send_error(599)
            elif case == "after_write":
                self.set_header("X-Lost", "1")
                self.write("discarded")
                self.send_error(403)
            elif case == "304":
                self.send_error(304)
            elif case == "204":
                self.send_error(204)
            elif case == "twice":
                self.send_error(400)
                self.send_error(401)
            elif case == "then_write":
                # The seed tutorial's "what goes wrong" example.
                self.write("main")
                self.send_error(404, content="error 404")
                self.write("after")

    class SeedWriteError(web.RequestHandler):
        """The seed tutorial's custom write_error (ported to Python 3)."""

        def get(self):
            err_code = self.get_argument("code", None)
            err_title = self.get_argument("title", "")
            err_content = self.get_argument("content", "")
            if err_code:
                self.send_error(int(err_code), title=err_title, content=err_content)
            else:
                self.write("home")

        def write_error(self, status_code, **kwargs):
            self.write("<h1>Error!</h1>")
            self.write("<p>title: %s</p>" % kwargs["title"])
            self.write("<p>content: %s</p>" % kwargs["content"])

    class Raise(web.RequestHandler):
        def get(self):
            case = self.get_query_argument("case")
            if case == "http403":
                raise web.HTTPError(403, "not allowed for %s", "you")
            if case == "http_plain":
                raise web.HTTPError(404)
            if case == "http_unknown":
                raise web.HTTPError(599)
            if case == "http_reason":
                raise web.HTTPError(404, reason="Gone Fishing")
            if case == "http_bad_reason":
                raise web.HTTPError(400, reason="bad\nreason")
            if case == "http_xss_reason":
                raise web.HTTPError(400, reason="<script>")
            if case == "http_304":
                raise web.HTTPError(304)
            if case == "exception":
                raise ValueError("boom")
            if case == "after_write":
                self.write("partial")
                raise ValueError("boom")
            if case == "after_flush":
                self.write("partial")
                self.flush()
                raise ValueError("boom")
            if case == "finish":
                self.set_status(401)
                self.set_header("WWW-Authenticate", 'Basic realm="x"')
                raise web.Finish()
            if case == "finish_arg":
                raise web.Finish("finished with this")
            if case == "finish_after_finish":
                self.finish("done")
                raise web.Finish()
            if case == "error_after_finish":
                self.finish("done")
                raise ValueError("late")
            if case == "missing":
                self.get_argument("nope")
            if case == "keyboard":
                raise RuntimeError("runtime")

    class BadWriteError(web.RequestHandler):
        def get(self):
            raise ValueError("first")

        def write_error(self, status_code, **kwargs):
            self.write("half")
            raise RuntimeError("write_error failed")

    class Etag(web.RequestHandler):
        def get(self):
            self.write("etag body")

        def post(self):
            self.write("etag body")

        def head(self):
            self.write("etag body")

    class EtagMulti(web.RequestHandler):
        def get(self):
            self.write("part a, ")
            self.write("part b")

    class EtagNone(web.RequestHandler):
        def get(self):
            self.write("no tag")

        def compute_etag(self):
            return None

    class EtagCustom(web.RequestHandler):
        def get(self):
            self.set_header("Etag", '"v1"')
            self.set_header("Content-Language", "en")
            self.set_header("Content-Encoding", "identity")
            self.set_header("X-Other", "kept")
            self.write("custom tag")

    class EtagCompute(web.RequestHandler):
        def get(self):
            self.write("computed")

        def compute_etag(self):
            return 'W/"weak-1"'

    class EtagEarly(web.RequestHandler):
        """The documented pattern: check If-None-Match before doing the work."""

        def compute_etag(self):
            return '"early"'

        def get(self):
            self.set_etag_header()
            if self.check_etag_header():
                self.set_status(304)
                return
            self.write("expensive")

    class Etag201(web.RequestHandler):
        def get(self):
            self.set_status(201)
            self.write("created")

    class EtagEmpty(web.RequestHandler):
        def get(self):
            pass

    class Order(web.RequestHandler):
        """The seed tutorial's call-order example."""

        def initialize(self):
            record(web).append("initialize")

        def prepare(self):
            record(web).append("prepare")

        def set_default_headers(self):
            record(web).append("set_default_headers")

        def write_error(self, status_code, **kwargs):
            record(web).append("write_error")

        def get(self):
            record(web).append("get")

        def post(self):
            record(web).append("post")
            self.send_error(200)

        def on_finish(self):
            record(web).append("on_finish")

    class OrderRaise(Order):
        def get(self):
            record(web).append("get")
            raise web.HTTPError(500)

    class DefaultHeaders(web.RequestHandler):
        """The seed tutorial's set_default_headers example."""

        def set_default_headers(self):
            self.set_header("Content-Type", "application/json; charset=UTF-8")
            self.set_header("itcast", "python")
            self.set_header("Server", "custom")

        def get(self):
            self.write('{"name": "zhangsan"}')
            self.set_header("itcast", "i love python")

        def post(self):
            raise web.HTTPError(400)

    class Init(web.RequestHandler):
        def initialize(self, subject, extra="none"):
            self.subject = subject
            self.extra = extra

        def get(self):
            self.write("%s %s" % (self.subject, self.extra))

    class AsyncGet(web.RequestHandler):
        async def get(self):
            await asyncio.sleep(0)
            self.write("async ")
            await asyncio.sleep(0.001)
            self.write("done")

    class AsyncPrepare(web.RequestHandler):
        async def prepare(self):
            await asyncio.sleep(0)
            self.value = "prepared"

        def get(self):
            self.write(self.value)

    class PrepareFinish(web.RequestHandler):
        def prepare(self):
            self.finish("from prepare")

        def get(self):
            raise AssertionError("get must not run")

    class AsyncPrepareFinish(web.RequestHandler):
        async def prepare(self):
            await asyncio.sleep(0)
            self.finish("from async prepare")

        def get(self):
            raise AssertionError("get must not run")

    class AsyncError(web.RequestHandler):
        async def get(self):
            await asyncio.sleep(0)
            raise web.HTTPError(409, reason="Busy")

    class AsyncPrepareError(web.RequestHandler):
        async def prepare(self):
            raise ValueError("prepare failed")

    class NoAutoFinish(web.RequestHandler):
        def get(self):
            self._auto_finish = False
            self.write("later ")
            asyncio.get_running_loop().call_later(0.01, self.finish, "finished")

    class AwaitFinish(web.RequestHandler):
        async def get(self):
            self.write("x")
            await self.flush()
            await self.finish("y")

    class FutureMethod(web.RequestHandler):
        def get(self):
            fut = asyncio.get_running_loop().create_future()

            def done():
                self.write("from future")
                fut.set_result(None)

            asyncio.get_running_loop().call_soon(done)
            return fut

    class CancelSelf(web.RequestHandler):
        async def get(self):
            self.write("discarded")
            asyncio.current_task().cancel()
            await asyncio.sleep(0)

    class CancelledOther(web.RequestHandler):
        async def get(self):
            fut = asyncio.get_running_loop().create_future()
            fut.cancel()
            await fut

    class Head(web.RequestHandler):
        def head(self):
            self.write("head body is not sent")

        def get(self):
            self.write("get body")

    class HeadFlush(web.RequestHandler):
        def head(self):
            self.write("abc")
            self.flush()
            self.write("def")

    class Options(web.RequestHandler):
        def options(self):
            self.set_header("Allow", "GET, OPTIONS")
            self.set_status(204)

    class Propfind(web.RequestHandler):
        SUPPORTED_METHODS = web.RequestHandler.SUPPORTED_METHODS + ("PROPFIND",)

        def propfind(self):
            self.write("propfind ok")

    class OnlyGet(web.RequestHandler):
        SUPPORTED_METHODS = ("GET",)

        def get(self):
            self.write("only get")

        def post(self):
            self.write("not reached")

    class SeedJson(web.RequestHandler):
        """The seed tutorial's two ways of sending JSON, and set_header after write."""

        def get(self):
            stu = {"name": "zhangsan", "age": 24, "gender": 1}
            how = self.get_query_argument("how")
            if how == "dumps":
                self.write(json.dumps(stu))
            elif how == "dict":
                self.write(stu)
            else:
                self.write(json.dumps(stu))
                self.set_header("Content-Type", "application/json; charset=UTF-8")

    class SeedIndex(web.RequestHandler):
        def get(self):
            self.write("hello itcast 1!")
            self.write("hello itcast 2!")
            self.write("hello itcast 3!")

    class SeedLogin(web.RequestHandler):
        """The seed tutorial's redirect example."""

        def get(self):
            self.write('<from method="post"><input type="submit" value="login"></from>')

        def post(self):
            self.redirect("/")

    return [
        (r"/seed_json", SeedJson),
        (r"/seed_index", SeedIndex),
        (r"/login", SeedLogin),
        (r"/", Hello),
        (r"/out", Out),
        (r"/hdr", Hdr),
        (r"/addhdr", AddHdr),
        (r"/addbad", AddBad),
        (r"/status", Status),
        (r"/redirect", Redirect),
        (r"/senderror", SendError),
        (r"/seed_write_error", SeedWriteError),
        (r"/raise", Raise),
        (r"/bad_write_error", BadWriteError),
        (r"/etag", Etag),
        (r"/etag_multi", EtagMulti),
        (r"/etag_none", EtagNone),
        (r"/etag_custom", EtagCustom),
        (r"/etag_compute", EtagCompute),
        (r"/etag_early", EtagEarly),
        (r"/etag_201", Etag201),
        (r"/etag_empty", EtagEmpty),
        (r"/order", Order),
        (r"/order_raise", OrderRaise),
        (r"/default_headers", DefaultHeaders),
        (r"/init", Init, {"subject": "python"}),
        (r"/init2", Init, {"subject": "c++", "extra": "yes"}),
        (r"/async_get", AsyncGet),
        (r"/async_prepare", AsyncPrepare),
        (r"/prepare_finish", PrepareFinish),
        (r"/async_prepare_finish", AsyncPrepareFinish),
        (r"/async_error", AsyncError),
        (r"/async_prepare_error", AsyncPrepareError),
        (r"/no_auto_finish", NoAutoFinish),
        (r"/await_finish", AwaitFinish),
        (r"/future_method", FutureMethod),
        (r"/cancel_self", CancelSelf),
        (r"/cancelled_other", CancelledOther),
        (r"/head", Head),
        (r"/head_flush", HeadFlush),
        (r"/options", Options),
        (r"/propfind", Propfind),
        (r"/only_get", OnlyGet),
    ]


HEADER_VALUES = {
    "str": "plain value",
    "int": 42,
    "bool": True,
    "datetime": datetime.datetime(2013, 1, 27, 18, 43, 20),
    "aware": datetime.datetime(2013, 1, 27, 20, 43, 20,
                               tzinfo=datetime.timezone(datetime.timedelta(hours=2))),
    "bytes_latin1": b"caf\xe9",
    "str_latin1": "caf\xe9",
    "str_wide": "snow \u2603",
    "tab": "a\tb",
    "empty": "",
    "cr": "a\rb",
    "lf": "a\nb",
    "crlf_injection": "a\r\nX-Injected: 1",
    "nul": "a\x00b",
    "ctrl": "a\x01b",
    "del": "a\x7fb",
    "float": 1.5,
    "none": None,
    "bytes_lf": b"a\nb",
}

STATUS_CASES = {
    "201": (201, None),
    "404": (404, None),
    "599_unknown": (599, None),
    "299_reason": (299, "My Reason"),
    "404_reason": (404, "Nope"),
    "reason_crlf": (200, "OK\r\nX-Injected: 1"),
    "reason_lf": (200, "A\nB"),
    "reason_lt": (200, "<script>"),
    "reason_empty": (200, ""),
    "reason_tab": (200, "Tab\there"),
    "reason_latin1": (200, "caf\xe9"),
    "reason_wide": (200, "snow \u2603"),
    "reason_nul": (200, "a\x00b"),
}


@pytest.fixture(scope="module")
def dual():
    yield from dual_harness(handlers)


@pytest.fixture(scope="module")
def dual_tb():
    yield from dual_harness(handlers, serve_traceback=True)


@pytest.fixture(autouse=True)
def quiet_logs():
    """Keep expected error logs out of the output (and check nothing else needs them)."""
    with LogCapture("embedtornado", "tornado") as cap:
        yield cap


def normalize_raw(data: bytes) -> bytes:
    data = re.sub(rb"Date: [^\r]*", b"Date: -", data)
    return re.sub(rb"Server: (embedtornado|TornadoServer)/[0-9.]+", b"Server: -", data)


def get(path: str, **headers: str) -> bytes:
    return req("GET", path, headers=headers)


# --- the basics ----------------------------------------------------------------------


def test_hello_world(dual: Dual):
    resp = dual.same(get("/"))
    assert resp.code == 200 and resp.body == b"Hello World!"
    assert [k for k, _ in resp.header_list] == [
        "Server", "Content-Type", "Date", "Etag", "Content-Length"]
    assert resp.headers["server"] == "embedtornado/%s" % embedtornado.version
    assert resp.headers["etag"] == '"%s"' % hashlib.sha1(b"Hello World!").hexdigest()


def test_server_header_is_a_deliberate_difference(dual: Dual):
    ours, theirs = dual.both(get("/"))
    assert ours.headers["server"] == "embedtornado/" + embedtornado.version
    assert theirs.headers["server"] == "TornadoServer/6.6.1"
    assert embedtornado.tornado_version == "6.6.1"


def test_date_header_is_an_http_date(dual: Dual):
    resp = dual.same(get("/"))
    parsed = datetime.datetime.strptime(resp.headers["date"], "%a, %d %b %Y %H:%M:%S GMT")
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    assert abs((now - parsed).total_seconds()) < 5


@pytest.mark.parametrize("case", [
    "bytes", "unicode", "dict", "dict_then_ctype", "list", "tuple", "none", "multi", "empty",
    "finish_chunk", "finish_dict", "write_after_finish", "finish_twice", "flush",
    "flush_empty", "flush_cl", "clear", "204_body", "204", "304", "1xx",
])
def test_output(dual: Dual, case: str):
    dual.same(get("/out?case=" + case))
    ours, theirs = events()
    assert ours == theirs


def test_seed_output_examples(dual: Dual):
    resp = dual.same(get("/seed_json?how=dumps"))
    assert resp.headers["content-type"] == "text/html; charset=UTF-8"
    resp = dual.same(get("/seed_json?how=dict"))
    assert resp.headers["content-type"] == "application/json; charset=UTF-8"
    assert json.loads(resp.body) == {"name": "zhangsan", "age": 24, "gender": 1}
    resp = dual.same(get("/seed_json?how=set_header"))
    assert resp.headers["content-type"] == "application/json; charset=UTF-8"
    assert dual.same(get("/seed_index")).body == \
        b"hello itcast 1!hello itcast 2!hello itcast 3!"
    resp = dual.same(req("POST", "/login", body=b""))
    assert resp.code == 302 and resp.headers["location"] == "/"
    assert dual.same(get("/login")).code == 200


def test_write_dict_is_json(dual: Dual):
    resp = dual.same(get("/out?case=dict"))
    assert resp.headers["content-type"] == "application/json; charset=UTF-8"
    assert resp.body == b'{"a": 1, "b": "<\\/script>", "c": [1, 2]}'


def test_write_list_is_refused(dual: Dual, quiet_logs):
    resp = dual.same(get("/out?case=list"))
    assert resp.code == 500
    errors = [r for r in quiet_logs.by("embedtornado.application")]
    assert "Lists not accepted for security reasons" in str(errors[0].exc_info[1])


def test_write_after_finish_raises(dual: Dual):
    dual.same(get("/out?case=write_after_finish"))
    ours, theirs = events()
    assert ours == theirs == ["Cannot write() after finish()"]


def test_flush_sends_chunked(dual: Dual):
    resp = dual.same(get("/out?case=flush"))
    assert resp.headers["transfer-encoding"] == "chunked"
    assert resp.body == b"part1 part2"
    assert "etag" not in resp.headers


@pytest.mark.parametrize("case", sorted(HEADER_VALUES))
def test_header_values(dual: Dual, case: str):
    dual.same(get("/hdr?case=" + case))


def test_header_conversions(dual: Dual):
    assert dual.same(get("/hdr?case=int")).headers["x-test"] == "42"
    assert dual.same(get("/hdr?case=datetime")).headers["x-test"] == \
        "Sun, 27 Jan 2013 18:43:20 GMT"
    assert dual.same(get("/hdr?case=aware")).headers["x-test"] == \
        "Sun, 27 Jan 2013 18:43:20 GMT"
    for case in ("cr", "lf", "crlf_injection", "nul", "ctrl", "del", "float", "none",
                 "str_wide"):
        assert dual.same(get("/hdr?case=" + case)).code == 500, case


def test_add_and_clear_header(dual: Dual):
    resp = dual.same(get("/addhdr"))
    assert [(k, v) for k, v in resp.header_list if k.startswith("X-")] == [
        ("X-Multi", "a"), ("X-Multi", "2"), ("X-Single", "second")]
    assert "server" not in resp.headers


@pytest.mark.parametrize("case", ["name", "space", "crlf"])
def test_add_header_invalid(dual: Dual, case: str):
    assert dual.same(get("/addbad?case=" + case)).code == 500


@pytest.mark.parametrize("case", sorted(STATUS_CASES))
def test_set_status(dual: Dual, case: str):
    # Includes a non-ASCII reason: the status line is UTF-8 on the wire in both.
    dual.same(get("/status?case=" + case))


def test_set_status_reason_rules(dual: Dual):
    assert dual.same(get("/status?case=599_unknown")).reason == "Unknown"
    assert dual.same(get("/status?case=299_reason")).reason == "My Reason"
    # CVE-2025-67724: a reason that could inject headers or markup becomes "Unknown".
    for case in ("reason_crlf", "reason_lf", "reason_lt", "reason_empty", "reason_wide",
                 "reason_nul"):
        assert dual.same(get("/status?case=" + case)).reason == "Unknown", case


@pytest.mark.parametrize("case", [
    "default", "permanent", "303", "307_permanent", "status200", "protocol_relative",
    "backslash", "absolute", "crlf", "unicode", "written",
])
def test_redirect(dual: Dual, case: str):
    dual.same(get("/redirect?case=" + case))


def test_redirect_after_flush(dual: Dual, quiet_logs):
    ours, theirs = dual.raw(req("GET", "/redirect?case=after_flush", {"Connection": "close"}))
    assert ours.endswith(b"\r\n\r\n1\r\nx\r\n")
    assert theirs.endswith(b"\r\n\r\n1\r\nx\r\n0\r\n\r\n")
    (rec,) = quiet_logs.by("embedtornado.application")
    assert str(rec.exc_info[1]) == "Cannot redirect after headers have been written"


def test_redirect_codes(dual: Dual):
    assert dual.same(get("/redirect?case=default")).code == 302
    assert dual.same(get("/redirect?case=permanent")).code == 301
    resp = dual.same(get("/redirect?case=303"))
    assert resp.code == 303 and resp.headers["location"] == "/target"
    # redirect() itself takes the URL as given, as Tornado does.
    assert dual.same(get("/redirect?case=protocol_relative")).headers["location"] == \
        "//evil.example/x"


@pytest.mark.parametrize("case", [
    "404", "default", "reason", "bad_reason", "unknown", "after_write", "304", "204",
    "twice", "then_write",
])
def test_send_error(dual: Dual, case: str):
    dual.same(get("/senderror?case=" + case))


def test_error_page_format(dual: Dual):
    resp = dual.same(get("/senderror?case=404"))
    assert resp.body == b"<html><title>404: Not Found</title><body>404: Not Found</body></html>"
    resp = dual.same(get("/senderror?case=reason"))
    assert resp.reason == "Custom Reason"
    assert b"500: Custom Reason" in resp.body


def test_seed_write_error(dual: Dual):
    resp = dual.same(get("/seed_write_error?code=404&title=T&content=C"))
    assert resp.code == 404
    assert resp.body == b"<h1>Error!</h1><p>title: T</p><p>content: C</p>"
    assert dual.same(get("/seed_write_error")).body == b"home"


@pytest.mark.parametrize("case", [
    "http403", "http_plain", "http_unknown", "http_reason", "http_bad_reason",
    "http_xss_reason", "http_304", "exception", "after_write", "finish", "finish_arg",
    "finish_after_finish", "error_after_finish", "missing", "keyboard",
])
def test_exceptions(dual: Dual, case: str):
    dual.same(get("/raise?case=" + case))


def test_http_error_reason(dual: Dual):
    resp = dual.same(get("/raise?case=http_reason"))
    assert (resp.code, resp.reason) == (404, "Gone Fishing")
    assert dual.same(get("/raise?case=http_xss_reason")).reason == "Unknown"
    assert dual.same(get("/raise?case=missing")).code == 400


def test_write_error_failure(dual: Dual, quiet_logs):
    resp = dual.same(get("/bad_write_error"))
    assert resp.code == 500 and resp.body == b"half"


def test_error_after_flush_closes_connection(dual: Dual):
    """Deliberate difference: the connection closes without ending the chunked body."""
    data = get("/raise?case=after_flush") + req("GET", "/", {"Connection": "close"})
    ours, theirs = dual.raw(data)
    assert theirs.count(b"HTTP/1.1 ") == 2 and theirs.count(b"0\r\n\r\n") == 1
    assert ours.count(b"HTTP/1.1 ") == 1
    assert ours.startswith(b"HTTP/1.1 200 OK\r\n")
    assert ours.endswith(b"\r\n\r\n7\r\npartial\r\n")  # no terminating chunk


def test_flush_with_content_length(dual: Dual):
    ours, theirs = dual.raw(get("/out?case=flush_cl") + req("GET", "/", {"Connection": "close"}))
    assert normalize_raw(ours) == normalize_raw(theirs)
    assert b"Content-Length: 10\r\n\r\n0123456789HTTP/1.1 200 OK" in ours


def test_error_after_flush_logged(dual: Dual, quiet_logs):
    dual.raw(req("GET", "/raise?case=after_flush", {"Connection": "close"}))
    ours = [r.getMessage() for r in quiet_logs.by("embedtornado.general")]
    theirs = [r.getMessage() for r in quiet_logs.by("tornado.general")]
    assert ours == theirs == ["Cannot send error response after headers written"]


def test_serve_traceback(dual_tb: Dual):
    ours, theirs = dual_tb.both(get("/raise?case=exception"))
    assert ours.code == theirs.code == 500
    assert ours.headers["content-type"] == theirs.headers["content-type"] == "text/plain"
    assert ours.body.startswith(b"Traceback (most recent call last):\n")
    assert ours.body.endswith(b"ValueError: boom\n")
    assert b"test_handler.py" in ours.body
    # HTTPError pages show their traceback too, with the log message.
    ours, theirs = dual_tb.both(get("/raise?case=http403"))
    assert ours.body.endswith(b"HTTPError: HTTP 403: Forbidden (not allowed for you)\n")
    assert theirs.body.endswith(b"HTTPError: HTTP 403: Forbidden (not allowed for you)\n")
    # send_error without an exception: the normal page.
    dual_tb.same(get("/senderror?case=404"))


# --- Etags -------------------------------------------------------------------------


BODY_TAG = '"%s"' % hashlib.sha1(b"etag body").hexdigest()


@pytest.mark.parametrize("inm", [
    None, BODY_TAG, "W/" + BODY_TAG, "*", '"other", ' + BODY_TAG, '"other"', "", "garbage",
    BODY_TAG[:-1], '"other", *',
])
def test_etag_get(dual: Dual, inm):
    headers = {} if inm is None else {"If-None-Match": inm}
    dual.same(req("GET", "/etag", headers))


def test_etag_304(dual: Dual):
    resp = dual.same(req("GET", "/etag", {"If-None-Match": BODY_TAG}))
    assert resp.code == 304 and resp.body == b""
    assert "content-type" not in resp.headers and "content-length" not in resp.headers
    assert resp.headers["etag"] == BODY_TAG


@pytest.mark.parametrize("method", ["HEAD", "POST"])
def test_etag_other_methods(dual: Dual, method: str):
    dual.same(req(method, "/etag", {"If-None-Match": BODY_TAG}, body=b"" if method == "POST"
                  else None))


@pytest.mark.parametrize("path", ["/etag_multi", "/etag_none", "/etag_custom", "/etag_compute",
                                  "/etag_early", "/etag_201", "/etag_empty"])
@pytest.mark.parametrize("inm", [None, '"v1"', 'W/"weak-1"', '"early"', "*"])
def test_etag_variants(dual: Dual, path: str, inm):
    headers = {} if inm is None else {"If-None-Match": inm}
    dual.same(req("GET", path, headers))


def test_etag_set_by_handler_disables_the_automatic_304(dual: Dual):
    resp = dual.same(req("GET", "/etag_custom", {"If-None-Match": '"v1"'}))
    assert resp.code == 200 and resp.headers["etag"] == '"v1"'


def test_etag_early_check(dual: Dual):
    resp = dual.same(req("GET", "/etag_early", {"If-None-Match": '"early"'}))
    assert resp.code == 304 and resp.body == b""
    assert "content-type" not in resp.headers


# --- hooks and their order -----------------------------------------------------------


def test_call_order_normal(dual: Dual):
    dual.same(get("/order"))
    ours, theirs = events()
    assert ours == theirs == ["set_default_headers", "initialize", "prepare", "get",
                              "on_finish"]


def test_call_order_error(dual: Dual):
    dual.same(req("POST", "/order", body=b""))
    ours, theirs = events()
    assert ours == theirs == ["set_default_headers", "initialize", "prepare", "post",
                              "set_default_headers", "write_error", "on_finish"]


def test_call_order_exception(dual: Dual):
    dual.same(get("/order_raise"))
    ours, theirs = events()
    assert ours == theirs == ["set_default_headers", "initialize", "prepare", "get",
                              "set_default_headers", "write_error", "on_finish"]


def test_call_order_405(dual: Dual):
    dual.same(req("PUT", "/order", body=b""))
    ours, theirs = events()
    assert ours == theirs == ["set_default_headers", "initialize", "prepare",
                              "set_default_headers", "write_error", "on_finish"]


def test_set_default_headers_seed_example(dual: Dual):
    resp = dual.same(get("/default_headers"))
    assert resp.headers["content-type"] == "application/json; charset=UTF-8"
    assert resp.headers["itcast"] == "i love python"
    assert resp.headers["server"] == "custom"
    resp = dual.same(req("POST", "/default_headers", body=b""))
    assert resp.code == 400 and resp.headers["itcast"] == "python"


def test_initialize_kwargs(dual: Dual):
    assert dual.same(get("/init")).body == b"python none"
    assert dual.same(get("/init2")).body == b"c++ yes"


# --- async methods ----------------------------------------------------------------------


@pytest.mark.parametrize("path", [
    "/async_get", "/async_prepare", "/prepare_finish", "/async_prepare_finish",
    "/async_error", "/async_prepare_error", "/no_auto_finish", "/await_finish",
    "/future_method",
])
def test_async(dual: Dual, path: str):
    dual.same(get(path))


@pytest.mark.parametrize("path", ["/cancel_self", "/cancelled_other"])
def test_cancelled(dual: Dual, quiet_logs, path: str):
    resp = dual.same(get(path))
    assert resp.code == 500
    for suffix in ("general", "application"):
        ours, theirs = _messages(quiet_logs, suffix)
        assert [m for _, m in ours] == [m for _, m in theirs]


def test_async_bodies(dual: Dual):
    assert dual.same(get("/async_get")).body == b"async done"
    assert dual.same(get("/async_prepare")).body == b"prepared"
    assert dual.same(get("/async_prepare_finish")).body == b"from async prepare"
    assert dual.same(get("/no_auto_finish")).body == b"later finished"
    resp = dual.same(get("/async_error"))
    assert (resp.code, resp.reason) == (409, "Busy")


def test_keep_alive_sequence(dual: Dual):
    """Sync and async requests pipelined on one connection are answered in order."""
    data = b"".join(get(p) for p in ("/", "/async_get", "/out?case=flush", "/raise?case=http403",
                                     "/no_auto_finish")) + req(
        "GET", "/", {"Connection": "close"})
    ours, theirs = dual.raw(data)
    assert normalize_raw(ours) == normalize_raw(theirs)
    assert ours.count(b"HTTP/1.1 ") == 6


# --- methods ----------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD",
                                    "PROPFIND", "TRACE"])
def test_unimplemented_methods(dual: Dual, method: str):
    body = b"" if method in ("POST", "PUT", "PATCH") else None
    resp = dual.same(req(method, "/", body=body))
    assert resp.code == 405
    # Tornado 6.6.1 sends no Allow header with its 405, and neither do we.
    assert "allow" not in resp.headers


def test_head(dual: Dual):
    resp = dual.same(req("HEAD", "/head"))
    assert resp.body == b"" and resp.headers["content-length"] == "21"
    dual.same(req("HEAD", "/head_flush"))
    dual.same(req("HEAD", "/head", {"If-None-Match": '"%s"' % hashlib.sha1(
        b"head body is not sent").hexdigest()}))


def test_options_and_custom_methods(dual: Dual):
    resp = dual.same(req("OPTIONS", "/options"))
    assert resp.code == 204 and resp.headers["allow"] == "GET, OPTIONS"
    assert dual.same(req("PROPFIND", "/propfind")).body == b"propfind ok"
    assert dual.same(req("POST", "/only_get", body=b"")).code == 405
    assert dual.same(get("/only_get")).body == b"only get"


# --- logging --------------------------------------------------------------------------------


def _messages(cap, suffix):
    ours = [(r.levelno, r.getMessage().replace("embedtornado", "T"))
            for r in cap.by("embedtornado." + suffix)]
    theirs = [(r.levelno, r.getMessage().replace("tornado", "T"))
              for r in cap.by("tornado." + suffix)]
    return ours, theirs


@pytest.mark.parametrize("path", [
    "/raise?case=http403", "/raise?case=http_plain", "/raise?case=missing",
    "/raise?case=exception", "/raise?case=error_after_finish", "/bad_write_error",
    "/async_prepare_error", "/",
])
def test_logging_matches(dual: Dual, quiet_logs, path: str):
    dual.both(get(path))
    for suffix in ("general", "application"):
        ours, theirs = _messages(quiet_logs, suffix)
        assert ours == theirs


def test_http_error_logged_as_warning(dual: Dual, quiet_logs):
    dual.both(get("/raise?case=http403"))
    (rec,) = quiet_logs.by("embedtornado.general")
    assert rec.levelno == logging.WARNING
    assert rec.getMessage() == "403 GET /raise?case=http403 (127.0.0.1): not allowed for you"
    assert rec.exc_info is None


def test_uncaught_exception_logged_with_traceback(dual: Dual, quiet_logs):
    dual.both(get("/raise?case=exception"))
    (rec,) = quiet_logs.by("embedtornado.application")
    assert rec.levelno == logging.ERROR
    assert rec.getMessage().startswith("Uncaught exception GET /raise?case=exception "
                                       "(127.0.0.1)\nHTTPServerRequest(")
    assert isinstance(rec.exc_info[1], ValueError)


def test_access_log(dual: Dual, quiet_logs):
    dual.both(get("/"))
    dual.both(get("/raise?case=http_plain"))
    dual.both(get("/raise?case=exception"))
    ours = [(r.levelno, r.getMessage().rsplit(" ", 1)[0]) for r in quiet_logs.by(
        "embedtornado.access")]
    theirs = [(r.levelno, r.getMessage().rsplit(" ", 1)[0]) for r in quiet_logs.by(
        "tornado.access")]
    assert ours == theirs == [
        (logging.INFO, "200 GET / (127.0.0.1)"),
        (logging.WARNING, "404 GET /raise?case=http_plain (127.0.0.1)"),
        (logging.ERROR, "500 GET /raise?case=exception (127.0.0.1)"),
    ]
    assert all(r.getMessage().endswith("ms") for r in quiet_logs.by("embedtornado.access"))


def test_module_names():
    assert RequestHandler.__module__ == "embedtornado.web.handler"
    assert HTTPError.__module__ == "embedtornado.web.errors"
