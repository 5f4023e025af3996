"""Every wire case of tests/data/hostile/cases.toml against a real server over a socket.

For each case: the exact answer (status list, and reason/headers/body where the
table says), the connection closed after an error (or still usable when the
table says ``close = false``), no error logged by the server, and a good
request on a fresh connection served afterwards.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from hostiletools import (RawConn, Servers, decode, expand, expected_statuses, load,
                          parse_answers, request_bytes, ws_connect, ws_frames, ws_read_close)

TABLE = load()
HTTP_CASES = expand(TABLE["case"], ("http",))
WS_CASES = expand(TABLE["case"], ("ws",))
SLOW_CASES = expand(TABLE["case"], ("slow",))
GOOD = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    s = Servers(tmp_path_factory.mktemp("hostile"))
    yield s
    s.close()


@pytest.fixture
def no_errors_logged(caplog):
    """The server logs no error (a crash, an uncaught exception, a 500) for a hostile input."""
    caplog.set_level(logging.INFO)
    yield
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not bad, [r.getMessage() for r in bad]


async def send_case(h, data: bytes, n_answers: int, close: bool):
    """Write *data* on a fresh connection; return (answers, reset) per the close policy."""
    conn = await RawConn.open(h.port)
    try:
        if close:
            out = await conn.exchange(data)
            answers, rest = parse_answers(out)
            assert rest == b"", (answers, rest[:200])
            # (A request still being sent when the server answers and closes
            # draws no reset either: the server's close lingers.)
            return answers, conn.reset
        await conn.send(data)
        answers = await conn.read_answers(n_answers)
        # The connection was kept: it serves the next request.
        await conn.send(GOOD)
        nxt = await conn.read_answers(1)
        assert nxt[0].code == 200, nxt
        return answers, False
    finally:
        conn.close()


def check_answers(case: dict, answers: list, reset: bool) -> None:
    want = expected_statuses(case)
    assert [a.code for a in answers] == want, answers
    last = answers[-1]
    assert not reset, "the server reset the connection instead of closing it"
    if case.get("close", want[-1] >= 400) and want[-1] >= 400:
        assert last.headers.get("connection") == ["close"], last
    first = answers[0]
    if "reason" in case:
        assert first.reason == case["reason"], first
    if "body" in case:
        assert first.body == decode(case["body"]), first
    if "body_contains" in case:
        assert decode(case["body_contains"]) in first.body, first
    if "body_lacks" in case:
        assert decode(case["body_lacks"]) not in first.body, first
        assert all(decode(case["body_lacks"]) not in a.body for a in answers)
    for name, value in case.get("headers", {}).items():
        assert first.headers.get(name.lower()) == (value if isinstance(value, list)
                                                   else [value]), first
    for text in case.get("head_lacks", []):
        assert all(text not in v for vs in first.headers.values() for v in vs), first
    for name in case.get("headers_absent", []):
        assert name.lower() not in first.headers, first


def still_serving(h) -> None:
    resp = h.run(h.request(GOOD))
    assert resp.code == 200


@pytest.mark.parametrize("cid, case, variant", HTTP_CASES, ids=[c[0] for c in HTTP_CASES])
def test_http_case(servers, no_errors_logged, cid, case, variant):
    h = servers.get(case.get("server", "default"))
    want = expected_statuses(case)
    close = case.get("close", want[-1] >= 400)
    answers, reset = h.run(send_case(h, request_bytes(case, variant), len(want), close),
                           timeout=30)
    check_answers(case, answers, reset)
    still_serving(h)


@pytest.mark.parametrize("cid, case, variant", WS_CASES, ids=[c[0] for c in WS_CASES])
def test_websocket_case(servers, no_errors_logged, cid, case, variant):
    h = servers.get("default")

    async def go():
        reader, writer = await ws_connect(h, case.get("path", "/ws"), case.get("ws_headers", {}))
        writer.write(ws_frames(case, variant))
        return await ws_read_close(reader)

    assert h.run(go(), timeout=30) == case["expect"]
    still_serving(h)


@pytest.mark.parametrize("cid, case, variant", SLOW_CASES, ids=[c[0] for c in SLOW_CASES])
def test_slow_client_case(servers, no_errors_logged, cid, case, variant):
    h = servers.get(case.get("server", "timeouts"))

    async def go():
        conn = await RawConn.open(h.port)
        await conn.send(request_bytes(case))
        other = None
        out = b""
        for i, byte in enumerate(decode(case["trickle"])):
            # Wait one interval, reading: once the answer arrives, stop sending (a byte
            # sent after the server's close would only draw a reset).
            try:
                out = await asyncio.wait_for(conn.recv(), case["interval"])
                break
            except asyncio.TimeoutError:
                pass
            await conn.send(bytes([byte]))
            if i == 2:
                # Meanwhile another client is served at once.
                other = await h.request(GOOD)
        while chunk := await conn.recv():
            out += chunk
        conn.close()
        return out, conn.reset, other

    out, reset, other = h.run(go(), timeout=30)
    answers, rest = parse_answers(out)
    check_answers(case, answers, reset)
    assert rest == b""
    if other is not None:
        assert other.code == 200
    still_serving(h)
