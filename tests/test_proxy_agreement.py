"""nginx in front of embedtornado: both must agree on every message boundary.

Request smuggling needs two parsers that disagree on where a request ends:
the proxy forwards what it took for one request, and the server behind it
finds two. For each malformed-framing case of HOSTILE-INPUTS.md section 3
(A and B: cases 1-29; D: the header cases 41-47) one connection carries a
valid request, the hostile request (whose body, when misframed, holds a
second request, ``GET /smuggled``), and a final ``GET /end`` with
``Connection: close``. The bytes go

1. to nginx (one worker, ``proxy_pass`` to our server over HTTP/1.1
   keep-alive). nginx tags every request it forwards with ``X-Req-Id:
   $request_id`` and logs each request it parsed (id, status, whether it
   went upstream, method, URI, body). The requests our server saw must be
   exactly the ones nginx forwarded (same id, method, URI and body); a
   request our server saw without an id would be one nginx never forwarded.
2. straight to our server. What our application saw must be what nginx
   forwarded, or a shorter prefix of it ending in an error answer of ours
   (we are stricter); wherever nginx refused, we refuse too.

nginx is started from a temporary prefix; the test is skipped (with the
reason) only when the ``nginx`` binary is missing (.ci/run installs
nginx-light).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from typing import Any

import pytest

from embedtornado import netutil
from embedtornado.httpserver import HTTPServer
from embedtornado.httputil import HTTPHeaders, ResponseStartLine
from embedtornado.ioloop import IOLoop

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt nginx-light)")

TIMEOUT = 30.0
# Both front doors give up on an incomplete request after this long (so a
# case that leaves either one waiting for more bytes ends in bounded time).
CLIENT_TIMEOUT = 2

NGINX_CONF = """
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log info;
events {{ worker_connections 256; }}
http {{
    log_format agree escape=json '{{"id":"$request_id","conn":"$connection",'
        '"status":"$status","up":"$upstream_addr","method":"$request_method",'
        '"uri":"$request_uri","body":"$request_body","request":"$request"}}';
    access_log {tmp}/access.log agree;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    client_header_timeout {t}s;
    client_body_timeout {t}s;
    keepalive_timeout {t}s;
    client_body_buffer_size 1m;
    client_max_body_size 1m;
    upstream embedtornado {{
        server 127.0.0.1:{upstream};
        keepalive 8;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://embedtornado;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Req-Id $request_id;
            proxy_next_upstream off;
        }}
    }}
}}
"""

SMUG = b"GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"
N = len(SMUG)
FIRST = b"GET /first HTTP/1.1\r\nHost: a\r\n\r\n"
END = b"GET /end HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
POST = b"POST /h HTTP/1.1\r\nHost: a\r\n"


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


CHUNKED_SMUG = _chunk(SMUG) + b"0\r\n\r\n"

# (id, the hostile request). The framing each side picks decides whether
# SMUG is a body or a request of its own.
CASES: list[tuple[str, bytes]] = [
    # A. Content-Length / Transfer-Encoding
    ("1-cl-plus", POST + b"Content-Length: +%d\r\n\r\n" % N + SMUG),
    ("1-cl-underscore", POST + b"Content-Length: %d_%d\r\n\r\n" % (N // 10, N % 10) + SMUG),
    ("1-cl-negative", POST + b"Content-Length: -1\r\n\r\n" + SMUG),
    ("2-cl-hex", POST + b"Content-Length: 0x%x\r\n\r\n" % N + SMUG),
    ("2-cl-leading-zero", POST + b"Content-Length: 0%d\r\n\r\n" % N + SMUG),
    ("3-cl-empty", POST + b"Content-Length:\r\n\r\n" + SMUG),
    ("3-cl-empty-then-value", POST + b"Content-Length: \r\nContent-Length: %d\r\n\r\n" % N
     + SMUG),
    ("4-cl-inner-space", POST + b"Content-Length: %d %d\r\n\r\n" % (N // 10, N % 10) + SMUG),
    ("4-cl-trailing-letter", POST + b"Content-Length: %dZ\r\n\r\n" % N + SMUG),
    ("5-cl-overflow", POST + b"Content-Length: 99999999999999999999999\r\n\r\n" + SMUG),
    ("6-cl-conflict", POST + b"Content-Length: %d\r\nContent-Length: 0\r\n\r\n" % N + SMUG),
    ("6-cl-conflict-zero-first", POST + b"Content-Length: 0\r\nContent-Length: %d\r\n\r\n" % N
     + SMUG),
    ("6-cl-same-twice", POST + b"Content-Length: %d\r\nContent-Length: %d\r\n\r\n" % (N, N)
     + SMUG),
    ("6-cl-list", POST + b"Content-Length: %d, %d\r\n\r\n" % (N, N) + SMUG),
    ("7-cl-space-before-colon", POST + b"Content-Length : %d\r\n\r\n" % N + SMUG),
    ("8-te-and-cl", POST + b"Transfer-Encoding: chunked\r\nContent-Length: %d\r\n\r\n"
     % len(CHUNKED_SMUG) + CHUNKED_SMUG),
    ("8-cl-and-te", POST + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
     + CHUNKED_SMUG),
    ("9-te-twice", POST + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
     + CHUNKED_SMUG),
    ("10-te-chunked-gzip", POST + b"Transfer-Encoding: chunked, gzip\r\n\r\n" + CHUNKED_SMUG),
    ("10-te-chunked-identity", POST + b"Transfer-Encoding: chunked, identity\r\n\r\n"
     + CHUNKED_SMUG),
    ("11-te-gzip-chunked", POST + b"Transfer-Encoding: gzip, chunked\r\n\r\n" + CHUNKED_SMUG),
    ("11-te-identity", POST + b"Transfer-Encoding: identity\r\nContent-Length: %d\r\n\r\n" % N
     + SMUG),
    ("12-te-xchunked", POST + b"Transfer-Encoding: xchunked\r\n\r\n" + CHUNKED_SMUG),
    ("12-te-chunkedchunked", POST + b"Transfer-Encoding: chunkedchunked\r\n\r\n"
     + CHUNKED_SMUG),
    ("12-te-leading-comma", POST + b"Transfer-Encoding: ,chunked\r\n\r\n" + CHUNKED_SMUG),
    ("12-te-params", POST + b"Transfer-Encoding: chunked;ext=val\r\n\r\n" + CHUNKED_SMUG),
    ("13-te-nbsp", POST + b"Transfer-Encoding: \xa0chunked\xa0\r\n\r\n" + CHUNKED_SMUG),
    ("13-te-nel", POST + b"Transfer-Encoding: \x85chunked\x85\r\n\r\n" + CHUNKED_SMUG),
    ("14-http10-te", b"POST /h HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n" + CHUNKED_SMUG),
    ("15-te-obs-fold", POST + b"Transfer-Encoding: chunked\r\n  abc\r\n\r\n" + CHUNKED_SMUG),
    ("16-cl-body-then-request", POST + b"Content-Length: 10\r\n\r\n0123456789" + SMUG),
    # B. chunked bodies
    ("17-size-underscore", POST + b"Transfer-Encoding: chunked\r\n\r\n1_a\r\n" + b"x" * 26
     + b"\r\n0\r\n\r\n"),
    ("17-size-0x", POST + b"Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n"),
    ("17-size-plus", POST + b"Transfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n0\r\n\r\n"),
    ("17-size-minus-0x0", POST + b"Transfer-Encoding: chunked\r\n\r\n-0x0\r\n\r\n" + SMUG),
    ("17-size-leading-spaces", POST + b"Transfer-Encoding: chunked\r\n\r\n   0\r\n\r\n" + SMUG),
    ("18-zero-underscore", POST + b"Transfer-Encoding: chunked\r\n\r\n0_2e\r\n\r\n"
     b"GET /smuggled HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n0\r\n\r\n"),
    ("19-size-overflow", POST + b"Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFF1\r\n"
     + SMUG + b"\r\n0\r\n\r\n"),
    ("20-bad-crlf-after-data", POST + b"Transfer-Encoding: chunked\r\n\r\n3\r\nxxx__1a\r\n"
     + SMUG + b"0\r\n\r\n"),
    ("20-cr-then-junk-after-data", POST + b"Transfer-Encoding: chunked\r\n\r\n3\r\nxxx\r_1a\r\n"
     + SMUG + b"0\r\n\r\n"),
    ("21-bare-lf-last-chunk", POST + b"Transfer-Encoding: chunked\r\n\r\n0\n\r\n" + SMUG),
    ("21-bare-lf-after-data", POST + b"Transfer-Encoding: chunked\r\n\r\n"
     b"a\r\n0123456789\n0\r\n\r\n" + SMUG),
    ("22-bare-cr-in-size", POST + b"Transfer-Encoding: chunked\r\n\r\n"
     b"5\r\r;ABCD\r\n34\r\nE\r\n0\r\n\r\n" + SMUG),
    ("23-chunk-extension", POST + b"Transfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n"
     b"0\r\n\r\n"),
    ("24-ext-bare-lf", POST + b"Transfer-Encoding: chunked\r\n\r\n5;\nhello\r\n0\r\n\r\n"),
    ("24-ext-unbalanced-quote", POST + b"Transfer-Encoding: chunked\r\n\r\n"
     b"5;a=\"b\r\nhello\r\n0\r\n\r\n"),
    ("24-ext-10k", POST + b"Transfer-Encoding: chunked\r\n\r\n5;" + b"e" * 10240
     + b"\r\nhello\r\n0\r\n\r\n"),
    ("25-space-after-size", POST + b"Transfer-Encoding: chunked\r\n\r\n"
     b"a \r\n0123456789\r\n0\r\n\r\n"),
    ("26-trailer", POST + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n"
     b"X-T: v\r\n\r\n"),
    ("27-runaway-chunk", POST + b"Transfer-Encoding: chunked\r\n\r\n4\r\nSEE-THIS\r\n"
     b"0\r\n\r\n" + SMUG),
    ("28-garbage-after-last-chunk", POST + b"Transfer-Encoding: chunked\r\n\r\n"
     b"5\r\nhello\r\n0\r\n\r\n\x00"),
    ("29-many-tiny-chunks", POST + b"Transfer-Encoding: chunked\r\n\r\n"
     + b"1\r\nA\r\n" * 3000 + b"0\r\n\r\n"),
    # D. header section (the ones that bear on framing)
    ("41-bare-cr-in-value", POST + b"Visible: :/\rContent-Length: %d\r\n\r\n" % N + SMUG),
    ("41-bare-cr-then-te", POST + b"X: y\rTransfer-Encoding: chunked\r\nContent-Length: %d"
     b"\r\n\r\n" % N + SMUG),
    ("42-nul-in-value", POST + b"Test: test\x00Content-Length: %d\r\n\r\n" % N + SMUG),
    ("43-bare-lf-line-end", POST + b"x:x\nTransfer-Encoding: chunked\r\n\r\n" + CHUNKED_SMUG),
    ("43-bare-lf-before-cl", POST + b"x:x\nContent-Length: %d\r\n\r\n" % N + SMUG),
    ("44-obs-fold", POST + b"X-Test: v1\r\n continuation\r\nContent-Length: %d\r\n\r\n" % N
     + SMUG),
    ("44-obs-fold-cl", POST + b"X-Test: v1\r\n Content-Length: %d\r\n\r\n" % N + SMUG),
    ("45-name-split", POST + b"Transfer-\r\nEncoding: chunked\r\n\r\n" + CHUNKED_SMUG),
    ("46-high-bytes-in-value", POST + b"User: \x85admin\xa0\r\nContent-Length: %d\r\n\r\n" % N
     + SMUG),
    ("47-cr-starts-line", (b"GET /h HTTP/1.1\r\nHost: a\r\n\rZGET /evil: HTTP/1.1\r\n"
                           b"Host: a\r\n\r\n")),
]


# Cases where nginx refuses and we accept, on purpose: a repeated
# Content-Length with one value (RFC 9110 section 8.6 lets a recipient
# either reject it or use the value; Tornado 6.6.1 uses it, and so do we).
# Only one framing exists, so there is nothing to smuggle: the test checks
# that we took exactly that one.
ACCEPTED_WHERE_NGINX_REFUSES = {
    "6-cl-same-twice": [("GET", "/first", b""), ("POST", "/h", SMUG), ("GET", "/end", b"")],
    "6-cl-list": [("GET", "/first", b""), ("POST", "/h", SMUG), ("GET", "/end", b"")],
}


class Upstream:
    """Our servers, in one loop owned by the test module: one behind nginx and
    one taking the same bytes directly. Both record what the application saw."""

    def __init__(self) -> None:
        self.io_loop = IOLoop(make_current=False)
        self.loop = self.io_loop.asyncio_loop
        self.seen: list[tuple[str | None, str, str, bytes]] = []
        self.servers: list[HTTPServer] = []
        self.ports: list[int] = []

    def handle(self, request: Any) -> None:
        self.seen.append((request.headers.get("X-Req-Id"), request.method, request.uri,
                          request.body))
        body = b"seen"
        request.connection.write_headers(
            ResponseStartLine("HTTP/1.1", 200, "OK"),
            HTTPHeaders({"Content-Length": str(len(body))}))
        request.connection.write(body)
        request.connection.finish()

    def start(self) -> None:
        async def start() -> None:
            # Behind nginx: nginx's keep-alive upstream connections must not
            # time out under it. Direct: gives up as nginx does.
            for timeout in (3600.0, float(CLIENT_TIMEOUT)):
                socks = netutil.bind_sockets(0, "127.0.0.1", family=socket.AF_INET)
                server = HTTPServer(self.handle, idle_connection_timeout=timeout)
                server.add_sockets(socks)
                self.servers.append(server)
                self.ports.append(socks[0].getsockname()[1])

        self.run(start())

    def stop(self) -> None:
        async def stop() -> None:
            for server in self.servers:
                server.stop()
                await server.close_all_connections()
            await asyncio.sleep(0)

        try:
            self.run(stop())
        finally:
            self.io_loop.close(all_fds=True)

    def run(self, coro: Any, timeout: float = TIMEOUT) -> Any:
        return self.loop.run_until_complete(asyncio.wait_for(coro, timeout))


async def exchange(port: int, data: bytes) -> bytes:
    """Send *data* on one connection; return what comes back until the close."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        out = b""
        while True:
            try:
                chunk = await asyncio.wait_for(reader.read(65536), TIMEOUT)
            except ConnectionError:
                break
            if not chunk:
                break
            out += chunk
        return out
    finally:
        writer.close()


def statuses(raw: bytes) -> list[int]:
    """Status codes of the responses in *raw* (our bodies never look like one)."""
    return [int(m) for m in re.findall(rb"HTTP/1\.[01] (\d{3}) ", raw)]


@pytest.fixture(scope="module")
def front(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("nginx")
    upstream = Upstream()
    upstream.start()
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    (tmp / "nginx.conf").write_text(NGINX_CONF.format(
        tmp=tmp, t=CLIENT_TIMEOUT, upstream=upstream.ports[0], port=port))
    os.chmod(tmp, 0o755)
    nginx = subprocess.Popen([NGINX, "-c", str(tmp / "nginx.conf"), "-p", str(tmp)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                raw = upstream.run(exchange(port, END))
                if statuses(raw) == [200]:
                    break
            except OSError:
                pass
            assert nginx.poll() is None, nginx.stderr.read()  # type: ignore[union-attr]
            assert time.monotonic() < deadline
            time.sleep(0.05)
        yield port, upstream, tmp / "access.log"
    finally:
        nginx.send_signal(signal.SIGQUIT)
        try:
            nginx.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            nginx.kill()
            nginx.wait()
        assert nginx.stderr is not None
        nginx.stderr.close()
        upstream.stop()


def read_log(path: Any, start: int) -> list[dict[str, Any]]:
    with open(path, "rb") as f:
        f.seek(start)
        lines = f.read().splitlines()
    out = []
    for line in lines:
        entry = json.loads(line.decode("latin-1"))
        # escape=json writes bytes >= 0x80 as they are: back to bytes.
        entry["body"] = entry["body"].encode("latin-1")
        out.append(entry)
    return out


async def settle(port: int, upstream: Upstream, log_path: Any, log_start: int,
                 case_id: str) -> tuple[list[dict[str, Any]], list[Any]]:
    """nginx's log lines and our records for the case, once both are complete.

    nginx may log a request only after its lingering close ends (after the
    client saw the end of the answer), so a marker request follows on a
    new connection, and the log is read once it and every request our
    server saw are in it. The marker is left out of the result.
    """
    marker = "/sync/" + case_id
    await exchange(port, b"GET %s HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
                   % marker.encode())
    deadline = time.monotonic() + TIMEOUT
    while True:
        log = read_log(log_path, log_start)
        seen = [s for s in upstream.seen if s[2] != marker]
        logged = {e["id"] for e in log}
        if any(e["uri"] == marker for e in log) and {s[0] for s in seen if s[0]} <= logged:
            return [e for e in log if e["uri"] != marker], seen
        assert time.monotonic() < deadline, (log, seen)
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("case_id,hostile", CASES, ids=[c[0] for c in CASES])
def test_nginx_and_embedtornado_agree(front, case_id, hostile):
    port, upstream, log_path = front
    data = FIRST + hostile + END

    # 1. Through nginx: our server sees exactly what nginx forwarded.
    log_start = os.path.getsize(log_path)
    upstream.seen.clear()
    upstream.run(exchange(port, data))
    log, via_nginx = upstream.run(settle(port, upstream, log_path, log_start, case_id))
    forwarded = [e for e in log if e["up"] not in ("", "-")]
    # No request reached us that nginx did not forward (a smuggled request
    # would come without nginx's id), and none twice.
    ids = [s[0] for s in via_nginx]
    assert None not in ids, via_nginx
    assert len(set(ids)) == len(ids)
    by_id = {e["id"]: e for e in forwarded}
    assert set(ids) <= set(by_id), (via_nginx, log)
    for rid, method, uri, body in via_nginx:
        e = by_id[rid]
        assert (method, uri, body) == (e["method"], e["uri"], e["body"]), (e, via_nginx)
    # Whatever nginx forwarded and we did not hand to the application, we
    # refused (an error answer of ours, passed on by nginx).
    for e in forwarded:
        if e["id"] not in ids:
            assert int(e["status"]) >= 400, (e, via_nginx)
    assert forwarded and forwarded[0]["uri"] == "/first"
    nginx_requests = [(e["method"], e["uri"], e["body"]) for e in forwarded]
    nginx_refused = any(e["up"] in ("", "-") and int(e["status"]) >= 400 for e in log)

    # 2. The same bytes straight to our server.
    upstream.seen.clear()
    raw = upstream.run(exchange(upstream.ports[1], data))
    direct = [(method, uri, body) for _, method, uri, body in upstream.seen]
    codes = statuses(raw)
    assert all(uri != "/smuggled" for _, uri, _ in direct) or (
        ("GET", "/smuggled", b"") in nginx_requests), (direct, nginx_requests)
    if case_id in ACCEPTED_WHERE_NGINX_REFUSES:
        assert nginx_refused, log  # else this entry is stale
        assert direct == ACCEPTED_WHERE_NGINX_REFUSES[case_id], direct
        assert codes == [200, 200, 200], codes
        return
    # What we handed to the application is what nginx forwarded, or a
    # prefix of it cut short by an error answer of ours.
    assert direct == nginx_requests[:len(direct)], (direct, nginx_requests)
    we_refused = any(c >= 400 for c in codes)
    if len(direct) < len(nginx_requests):
        assert we_refused, (codes, direct, nginx_requests)
    if nginx_refused:
        assert we_refused, (codes, log)
