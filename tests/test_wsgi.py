"""WSGIContainer: one WSGI application served by embedtornado and by Tornado 6.6.1.

Each differential case sends the same bytes to both (one server each, in the
same event loop; through `HTTPServer` directly and through `FallbackHandler`)
and asserts the same status, reason, headers (Date and Server values aside)
and body. Where embedtornado deliberately differs (an application that
raises, bodies on HEAD/204/304 responses), the test says so and checks ours.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import tornado.httpserver
import tornado.web
import tornado.wsgi

import embedtornado
from embedtornado import web, wsgi
from embedtornado.routing import PathMatches, Rule, RuleRouter
from rawhttp import Response, ServerHarness, read_response

sys.path.insert(0, str(Path(__file__).parent / "web"))
from webtools import DualServer  # noqa: E402

#: What the application saw, per path: filled by the app, read by the tests.
SEEN: dict[str, list[Any]] = {}


class Body:
    """A response iterable that records when it is closed (PEP 3333 ``close``)."""

    def __init__(self, key: str, pieces: list[bytes], fail_at: int | None = None) -> None:
        self.key = key
        self.pieces = pieces
        self.fail_at = fail_at

    def __iter__(self):
        for i, piece in enumerate(self.pieces):
            if i == self.fail_at:
                raise RuntimeError("iteration failed")
            SEEN.setdefault(self.key + ":iter-thread", []).append(threading.get_ident())
            yield piece

    def close(self) -> None:
        SEEN.setdefault(self.key + ":closed", []).append(threading.get_ident())


ENVIRON_KEYS = [
    "REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "REMOTE_ADDR",
    "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "CONTENT_TYPE", "CONTENT_LENGTH",
    "wsgi.version", "wsgi.url_scheme", "wsgi.multithread", "wsgi.multiprocess",
    "wsgi.run_once",
]  # fmt: skip


def application(environ: dict[str, Any], start_response: Any) -> Any:
    path = environ["PATH_INFO"]
    SEEN.setdefault(path + ":thread", []).append(threading.get_ident())
    if path == "/":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"Hello, WSGI"]
    if path == "/nolen":
        start_response("200 OK", [("X-Piece", "a")])
        return [b"hello", b" ", b"world"]
    if path == "/len":
        start_response("201 Created", [("Content-Length", "5"), ("Content-Type", "x/y")])
        return [b"12345"]
    if path == "/empty":
        start_response("200 OK", [])
        return []
    if path == "/304":
        start_response("304 Not Modified", [("ETag", '"x"')])
        return []
    if path == "/204":
        start_response("204 No Content", [])
        return []
    if path == "/404":
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"nope"]
    if path == "/teapot":
        start_response("418 I'm a teapot", [])
        return [b"short and stout"]
    if path == "/repeat":
        start_response("200 OK", [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("X-A", "1")])
        return [b"two cookies"]
    if path == "/server":
        start_response("200 OK", [("Server", "MyWSGI/1.0")])
        return [b"own server header"]
    if path == "/write":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written ")
        return [b"then returned"]
    if path == "/generator":
        start_response("200 OK", [])

        def gen():
            yield b"one "
            yield b""
            yield b"two"

        return gen()
    if path == "/closing":
        start_response("200 OK", [])
        return Body("/closing", [b"a", b"b", b"c"])
    if path == "/exc_info":
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise ValueError("changed my mind")
        except ValueError:
            start_response("500 Internal Server Error", [("X-Err", "1")], sys.exc_info())
        return [b"error page"]
    if path == "/large":
        start_response("200 OK", [])
        return [bytes([i % 256]) * 1000 for i in range(300)]
    if path.startswith("/environ"):
        body = environ["wsgi.input"].read()
        out = {k: environ.get(k) for k in ENVIRON_KEYS}
        out["HTTP"] = sorted((k, v) for k, v in environ.items() if k.startswith("HTTP_"))
        out["body"] = body.decode("latin-1")
        out["errors_is_stderr"] = environ["wsgi.errors"] is sys.stderr
        out["PATH_INFO"] = environ["PATH_INFO"]
        SEEN.setdefault("environ", []).append(environ)
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(out, sort_keys=True).encode()]
    if path == "/raise":
        raise ValueError("application failed")
    if path == "/raise-iter":
        start_response("200 OK", [])
        return Body("/raise-iter", [b"a", b"b"], fail_at=1)
    if path == "/no-start":
        return [b"forgot start_response"]
    if path == "/bad-status":
        start_response("200", [])
        return [b"no reason phrase"]
    start_response("404 Not Found", [])
    return [b"unknown"]


def mount(kind: str, container: Any, web_module: Any) -> Any:
    if kind == "server":
        return container
    return web_module.Application([(r".*", web_module.FallbackHandler, {"fallback": container})])


@pytest.fixture(scope="module", params=["server", "fallback"])
def dual(request):
    ours = mount(request.param, wsgi.WSGIContainer(application), web)
    theirs = mount(request.param, tornado.wsgi.WSGIContainer(application), tornado.web)
    with DualServer(ours, theirs) as h:
        yield h


def get(path: str, method: str = "GET", headers: dict[str, str] | None = None,
        body: bytes | None = None, host: str = "example.com") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


def normalized(resp: Response) -> tuple:
    headers = [(k.lower(), v) for k, v in resp.header_list if k.lower() not in ("date", "server")]
    return resp.code, resp.reason, headers, resp.body


def assert_same(ours: Response, theirs: Response) -> None:
    assert normalized(ours) == normalized(theirs)
    assert ("server" in ours.headers) == ("server" in theirs.headers)


SAME_PATHS = ["/", "/nolen", "/len", "/empty", "/304", "/204", "/404", "/teapot", "/repeat",
              "/server", "/write", "/generator", "/closing", "/exc_info", "/large", "/elsewhere"]


@pytest.mark.parametrize("path", SAME_PATHS)
def test_same_response_as_tornado(dual, path):
    ours, theirs = dual.both(get(path))
    assert_same(ours, theirs)


def test_defaults_added_to_a_bare_response(dual):
    ours, _ = dual.both(get("/nolen"))
    assert ours.header_list[:3] == [
        ("X-Piece", "a"),
        ("Content-Length", "11"),
        ("Content-Type", "text/html; charset=UTF-8"),
    ]
    assert ours.headers["server"] == "embedtornado/%s" % embedtornado.version
    assert ours.body == b"hello world"


def test_application_server_header_is_kept(dual):
    ours, _ = dual.both(get("/server"))
    assert [v for k, v in ours.header_list if k.lower() == "server"] == ["MyWSGI/1.0"]


ENVIRON_REQUESTS = {
    "plain": get("/environ"),
    "query": get("/environ?a=1&b=%20x&a=2"),
    "quoted-path": get("/environ/caf%C3%A9/a%2Fb+c?x=y+z"),
    "high-bit-path": get("/environ/%FF%00"),
    "post": get("/environ", "POST", {"Content-Type": "application/x-www-form-urlencoded"},
                b"k=v&k2=v2"),
    "headers": get("/environ", headers={"X-Thing": "one", "x-thing": "two",
                                        "User-Agent": "test/1", "Accept-Encoding": "gzip"}),
    "host-port": get("/environ", host="example.com:8080"),
    "host-no-port": get("/environ", host="example.com"),
    "host-ipv6": get("/environ", host="[::1]:8080"),
    "http10": b"GET /environ HTTP/1.0\r\nHost: h\r\n\r\n",
}


@pytest.mark.parametrize("name", sorted(ENVIRON_REQUESTS))
def test_environ_same_as_tornado(dual, name):
    ours, theirs = dual.both(ENVIRON_REQUESTS[name])
    assert ours.code == 200, ours
    assert json.loads(ours.body) == json.loads(theirs.body)


def test_environ_contents(dual):
    ours, _ = dual.both(
        get("/environ/caf%C3%A9?q=1", "POST", {"Content-Type": "text/plain", "X-A": "b"}, b"body")
    )
    seen = json.loads(ours.body)
    assert seen == {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/environ/caf\u00c3\u00a9",  # the UTF-8 bytes as latin-1 (PEP 3333)
        "QUERY_STRING": "q=1",
        "REMOTE_ADDR": "127.0.0.1",
        "SERVER_NAME": "example.com",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_TYPE": "text/plain",
        "CONTENT_LENGTH": "4",
        "wsgi.version": [1, 0],
        "wsgi.url_scheme": "http",
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "HTTP": [["HTTP_HOST", "example.com"], ["HTTP_X_A", "b"]],
        "body": "body",
        "errors_is_stderr": True,
    }


def test_environ_leaves_request_headers_alone():
    # Tornado pops Content-Type and Content-Length from request.headers (a
    # second environ() call then lacks them); ours does not touch the request.
    captured: list[Any] = []

    def app(environ, start_response):
        start_response("200 OK", [])
        return [b""]

    container = wsgi.WSGIContainer(app)

    def callback(request):
        captured.append(request)
        container(request)

    with ServerHarness(callback) as h:
        resp = h.run(h.request(get("/", "POST", {"Content-Type": "text/plain"}, b"abc")))
    assert resp.code == 200
    (request,) = captured
    first = container.environ(request)
    second = container.environ(request)
    assert request.headers["Content-Type"] == "text/plain"
    assert request.headers["Content-Length"] == "3"
    for env in (first, second):
        assert env["CONTENT_TYPE"] == "text/plain"
        assert env["CONTENT_LENGTH"] == "3"
        assert "HTTP_CONTENT_TYPE" not in env and "HTTP_CONTENT_LENGTH" not in env
        assert env["wsgi.input"].read() == b"abc"
    assert first["wsgi.input"] is not second["wsgi.input"]


def test_https_scheme_and_default_port():
    from embedtornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine

    class Context:
        remote_ip = "10.0.0.1"
        protocol = "https"

    class Conn:
        context = Context()

    request = HTTPServerRequest(
        connection=Conn(),  # type: ignore[arg-type]
        start_line=RequestStartLine("GET", "/x?y", "HTTP/1.1"),
        headers=HTTPHeaders({"Host": "secure.example"}),
    )
    env = wsgi.WSGIContainer(application).environ(request)
    assert env["wsgi.url_scheme"] == "https"
    assert env["SERVER_NAME"] == "secure.example"
    assert env["SERVER_PORT"] == "443"
    assert env["REMOTE_ADDR"] == "10.0.0.1"
    assert env["QUERY_STRING"] == "y"


def test_keep_alive_across_requests(dual):
    async def two(port: int) -> list[Response]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        dual._writers.append(writer)
        writer.write(get("/nolen") + get("/len"))
        return [await read_response(reader), await read_response(reader)]

    ours = dual.run(two(dual.port))
    theirs = dual.run(two(dual.tornado_port))
    for a, b in zip(ours, theirs, strict=True):
        assert_same(a, b)


def test_access_log_like_tornado(dual, caplog):
    with caplog.at_level(logging.INFO):
        dual.both(get("/len?x=1"))
        dual.both(get("/404"))
        dual.both(get("/teapot"))
    ours = [r for r in caplog.records if r.name == "embedtornado.access"]
    theirs = [r for r in caplog.records if r.name == "tornado.access"]

    def shape(records):
        return [(r.levelno, r.getMessage().rsplit(" ", 1)[0]) for r in records]

    assert shape(ours) == shape(theirs)
    assert shape(ours) == [
        (logging.INFO, "201 GET /len?x=1 (127.0.0.1)"),
        (logging.WARNING, "404 GET /404 (127.0.0.1)"),
        (logging.WARNING, "418 GET /teapot (127.0.0.1)"),
    ]
    assert all(r.getMessage().endswith("ms") for r in ours)


def test_body_close_called_once_on_the_loop_thread(dual):
    SEEN.clear()
    resp = dual.run(dual.request(get("/closing")))
    assert resp.body == b"abc"
    assert SEEN["/closing:closed"] == [threading.get_ident()]


def test_sync_mode_runs_on_the_loop_thread(dual):
    SEEN.clear()
    dual.run(dual.request(get("/closing")))
    me = threading.get_ident()  # the harness runs its loop on this thread
    assert SEEN["/closing:thread"] == [me]
    assert set(SEEN["/closing:iter-thread"]) == {me}


# --- Executor mode --------------------------------------------------------------------


@pytest.fixture(scope="module")
def executor():
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        yield pool


@pytest.fixture(scope="module")
def dual_executor(executor):
    ours = wsgi.WSGIContainer(application, executor=executor)
    theirs = tornado.wsgi.WSGIContainer(application, executor=executor)
    with DualServer(ours, theirs) as h:
        yield h


@pytest.mark.parametrize("path", ["/", "/nolen", "/304", "/write", "/generator", "/closing"])
def test_executor_same_response_as_tornado(dual_executor, path):
    ours, theirs = dual_executor.both(get(path))
    assert_same(ours, theirs)


def test_executor_environ_same_as_tornado(dual_executor):
    ours, theirs = dual_executor.both(ENVIRON_REQUESTS["post"])
    assert json.loads(ours.body) == json.loads(theirs.body)
    assert json.loads(ours.body)["wsgi.multithread"] is True


def test_executor_runs_the_application_off_the_loop(dual_executor):
    SEEN.clear()
    resp = dual_executor.run(dual_executor.request(get("/closing")))
    assert resp.body == b"abc"
    me = threading.get_ident()
    (app_thread,) = SEEN["/closing:thread"]
    assert app_thread != me
    assert me not in SEEN["/closing:iter-thread"]
    assert SEEN["/closing:closed"] == [me]


def test_executor_serves_requests_concurrently(executor):
    # Two requests, each waiting for the other inside the application: only
    # possible when both run at once on the executor's threads.
    barrier = threading.Barrier(2, timeout=10)

    def app(environ, start_response):
        barrier.wait()
        start_response("200 OK", [])
        return [environ["PATH_INFO"].encode()]

    with ServerHarness(wsgi.WSGIContainer(app, executor=executor)) as h:

        async def both():
            return await asyncio.gather(h.request(get("/a")), h.request(get("/b")))

        a, b = h.run(both())
    assert (a.body, b.body) == (b"/a", b"/b")


def test_executor_client_gone_before_the_answer(executor, caplog):
    release = threading.Event()
    closed = threading.Event()

    class Slow:
        def __iter__(self):
            release.wait(10)
            yield b"late"

        def close(self):
            closed.set()

    def app(environ, start_response):
        start_response("200 OK", [])
        return Slow()

    with ServerHarness(wsgi.WSGIContainer(app, executor=executor)) as h:

        async def go():
            _, writer = await h.connect()
            writer.write(get("/"))
            await writer.drain()
            await asyncio.sleep(0.05)
            writer.close()
            await asyncio.sleep(0.05)
            release.set()
            while not closed.is_set():
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.05)

        h.run(go())
    assert closed.is_set()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR
                and r.name.startswith("embedtornado.application")]


# --- Deliberate differences: failures and bodiless responses ----------------------------


@pytest.fixture(params=["server", "fallback", "executor"])
def ours_only(request, executor):
    container = wsgi.WSGIContainer(
        application, executor=executor if request.param == "executor" else None
    )
    with ServerHarness(mount("fallback" if request.param == "fallback" else "server",
                             container, web)) as h:
        yield h


@pytest.mark.parametrize(("path", "message"), [
    ("/raise", "Uncaught exception in WSGI application"),
    ("/raise-iter", "Uncaught exception in WSGI application"),
    ("/bad-status", "Uncaught exception in WSGI application"),
    ("/no-start", "WSGI application did not call start_response"),
])  # fmt: skip
def test_failing_application_gets_a_500(ours_only, caplog, path, message):
    # Tornado logs the error and never answers (the client waits); we answer 500.
    SEEN.clear()
    with caplog.at_level(logging.INFO):
        resp = ours_only.run(ours_only.request(get(path)))
        again = ours_only.run(ours_only.request(get("/")))
    assert resp.code == 500
    assert resp.headers["content-type"] == "text/html; charset=UTF-8"
    assert b"500: Internal Server Error" in resp.body
    assert again.code == 200
    errors = [r for r in caplog.records if r.name == "embedtornado.application"]
    assert len(errors) == 1
    assert errors[0].getMessage().startswith(message)
    assert errors[0].getMessage().endswith(f"GET {path} (127.0.0.1)")
    assert (errors[0].exc_info is not None) == (path != "/no-start")
    access = [r for r in caplog.records if r.name == "embedtornado.access"]
    assert access[0].levelno == logging.ERROR
    assert access[0].getMessage().startswith(f"500 GET {path} (127.0.0.1)")
    if path == "/raise-iter":
        assert len(SEEN["/raise-iter:closed"]) == 1


def test_failing_application_keeps_the_connection(ours_only):
    async def two():
        reader, writer = await ours_only.connect()
        writer.write(get("/raise") + get("/len"))
        return await read_response(reader), await read_response(reader)

    first, second = ours_only.run(two())
    assert (first.code, second.code, second.body) == (500, 201, b"12345")


def test_head_sends_headers_without_the_body(ours_only):
    # Tornado drops the connection when the application returns a body for HEAD.
    SEEN.clear()

    async def two():
        reader, writer = await ours_only.connect()
        writer.write(get("/closing", "HEAD") + get("/len"))
        return await read_response(reader, "HEAD"), await read_response(reader)

    head, after = ours_only.run(two())
    assert head.code == 200
    assert head.headers["content-length"] == "3"
    assert head.body == b""
    assert len(SEEN["/closing:closed"]) == 1
    assert (after.code, after.body) == (201, b"12345")


def test_head_of_a_failing_application(ours_only):
    resp = ours_only.run(ours_only.request(get("/raise", "HEAD"), "HEAD"))
    assert resp.code == 500
    assert resp.body == b""


def test_304_with_a_body_drops_the_body():
    def app(environ, start_response):
        start_response("304 Not Modified", [])
        return [b"should not be sent"]

    with ServerHarness(wsgi.WSGIContainer(app)) as h:
        raw = h.run(h.exchange(get("/", headers={"Connection": "close"})))
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 304 Not Modified\r\n")
    assert b"Content-Length" not in head
    assert body == b""


# --- Other ways to mount it, and the module's small names ----------------------------


def test_as_a_routing_target():
    router = RuleRouter([Rule(PathMatches("/wsgi.*"), wsgi.WSGIContainer(application))])
    with ServerHarness(router) as h:
        resp = h.run(h.request(get("/wsgi")))
    # The path is PATH_INFO as a whole: the router does not strip a prefix.
    assert (resp.code, resp.body) == (404, b"unknown")


def test_to_wsgi_str():
    assert wsgi.to_wsgi_str(b"caf\xc3\xa9\xff") == "caf\u00c3\u00a9\u00ff"
    assert wsgi.to_wsgi_str(b"caf\xc3\xa9\xff") == tornado.wsgi.to_wsgi_str(b"caf\xc3\xa9\xff")
    with pytest.raises(TypeError):
        wsgi.to_wsgi_str("text")  # type: ignore[arg-type]


def test_public_names():
    from embedtornado.httputil import HTTPServerRequest

    assert wsgi.HTTPRequest is HTTPServerRequest
    container = wsgi.WSGIContainer(application)
    assert container.wsgi_application is application
    assert container.executor is embedtornado.concurrent.dummy_executor
    assert "wsgi" in embedtornado.__all__
