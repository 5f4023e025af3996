"""Streaming in both directions, side by side with Tornado 6.6.1.

Requests: ``@stream_request_body`` uploads written to disk piece by piece
(and, for ours, a memory check that the body is never held), flow control
through an awaiting ``data_received``, a client leaving mid-upload.
Responses: ``flush()`` delivering pieces the client reads before the next
is written, back-pressure through the future ``flush()`` returns, and
server-sent events read incrementally from a raw connection until the
client leaves.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import tempfile
import threading
import tracemalloc

import pytest
import tornado.gen
import tornado.iostream
import tornado.locks
import tornado.web
from webtools import Dual, LogCapture, dual_harness, events, record, req

import embedtornado.gen
import embedtornado.iostream
import embedtornado.locks
import embedtornado.web
from rawhttp import ServerHarness, read_response

CHUNK = 64 * 1024
UPLOAD = 12 * 1024 * 1024
SERVER_LIMIT = 1024 * 1024  # max_body_size; the upload handler raises it


def kit(web):
    if web is tornado.web:
        return tornado.gen, tornado.locks, tornado.iostream
    return embedtornado.gen, embedtornado.locks, embedtornado.iostream


STATE: dict[str, dict] = {}


def make_handlers(web):
    gen, locks, iostream = kit(web)
    state = STATE.setdefault(web.__name__, {})
    state.update(gate=locks.Event(), done=locks.Event(), sse_closed=locks.Event(),
                 flushed=0, started=locks.Event(), client_saw_first=threading.Event())

    @web.stream_request_body
    class Upload(web.RequestHandler):
        """Writes the body to a temporary file as it arrives."""

        def prepare(self):
            self.request.connection.set_max_body_size(64 * 1024 * 1024)
            self.file = tempfile.TemporaryFile()
            self.hash = hashlib.sha256()
            self.largest = 0
            self.calls = 0

        def data_received(self, chunk):
            self.calls += 1
            self.largest = max(self.largest, len(chunk))
            self.hash.update(chunk)
            self.file.write(chunk)

        def put(self):
            size = self.file.tell()
            self.file.close()
            if self.get_query_argument("largest", None):
                self.write({"largest_piece": self.largest})
                return
            self.write({"size": size, "sha256": self.hash.hexdigest(),
                        "pieces_under_1MiB": self.largest <= 1024 * 1024, "several": self.calls > 1,
                        "body": self.request.body.decode()})

        def on_finish(self):
            if not self.file.closed:
                self.file.close()

    @web.stream_request_body
    class Paced(web.RequestHandler):
        """An async data_received: the next piece must wait for it to finish."""

        def prepare(self):
            self.busy = False
            self.overlaps = 0
            self.total = 0

        async def data_received(self, chunk):
            if self.busy:
                self.overlaps += 1
            self.busy = True
            await asyncio.sleep(0)
            await gen.sleep(0)
            self.total += len(chunk)
            self.busy = False

        def post(self):
            self.write({"total": self.total, "overlaps": self.overlaps})

    @web.stream_request_body
    class Abandoned(web.RequestHandler):
        def prepare(self):
            record(web).append("prepare")
            self.got = 0

        def data_received(self, chunk):
            if not self.got:
                record(web).append("first piece")
                state["started"].set()
            self.got += len(chunk)

        def post(self):
            record(web).append("post called")

        def on_connection_close(self):
            record(web).append("on_connection_close")
            state["done"].set()

    class Pieces(web.RequestHandler):
        """Three pieces; the second waits for the test to have read the first."""

        async def get(self):
            self.write("first piece|")
            await self.flush()
            await state["gate"].wait()
            self.write("second piece|")
            await self.flush()
            self.write("last")

    class Flood(web.RequestHandler):
        """Writes a lot, paced by flush(): it can only run ahead of the client so far."""

        async def get(self):
            piece = b"x" * (256 * 1024)
            for _ in range(int(self.get_query_argument("n"))):
                self.write(piece)
                await self.flush()
                state["flushed"] += 1

    class Events(web.RequestHandler):
        """Server-sent events until the client goes away."""

        def initialize(self):
            self.closed = False

        async def get(self):
            self.set_header("Content-Type", "text/event-stream")
            self.set_header("Cache-Control", "no-cache")
            n = 0
            while not self.closed:
                n += 1
                self.write("id: %d\nevent: tick\ndata: {\"n\": %d}\n\n" % (n, n))
                try:
                    await self.flush()
                except iostream.StreamClosedError:
                    break
                await gen.sleep(0.005)
            record(web).append("loop ended")

        def on_connection_close(self):
            record(web).append("on_connection_close")
            self.closed = True

        def on_finish(self):
            record(web).append("on_finish")
            state["sse_closed"].set()

    class Blocking(web.RequestHandler):
        """A synchronous handler that flushes, then blocks until the client saw the piece."""

        def get(self):
            self.write("first;")
            self.flush()
            seen = state["client_saw_first"].wait(5)  # blocks the loop, as blocking code does
            self.finish("second" if seen else "late")

    return [
        (r"/blocking", Blocking),
        (r"/upload", Upload),
        (r"/paced", Paced),
        (r"/abandoned", Abandoned),
        (r"/pieces", Pieces),
        (r"/flood", Flood),
        (r"/events", Events),
    ]


@pytest.fixture(scope="module")
def dual():
    yield from dual_harness(make_handlers, {"max_body_size": SERVER_LIMIT})


@pytest.fixture(autouse=True)
def quiet_logs():
    with LogCapture("embedtornado", "tornado") as cap:
        yield cap


def pattern(i: int) -> bytes:
    """The i-th piece of an upload: deterministic and not all one byte."""
    return hashlib.sha256(b"%d" % i).digest() * (CHUNK // 32)


async def send_body(writer, total: int, chunked: bool = False) -> str:
    h = hashlib.sha256()
    sent = 0
    i = 0
    while sent < total:
        piece = pattern(i)[: total - sent]
        i += 1
        h.update(piece)
        sent += len(piece)
        writer.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
        await writer.drain()
    if chunked:
        writer.write(b"0\r\n\r\n")
    return h.hexdigest()


def both_connects(dual: Dual):
    return (("embedtornado.web", dual.h.connect), ("tornado.web", dual.h.connect_tornado))


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_large_upload_streamed_to_disk(dual: Dual, chunked):
    head = {"Transfer-Encoding": "chunked"} if chunked else {"Content-Length": str(UPLOAD)}
    results = []
    for _, connect in both_connects(dual):

        async def go(connect=connect):
            reader, writer = await connect()
            writer.write(req("PUT", "/upload", head))
            digest = await send_body(writer, UPLOAD, chunked)
            return digest, await read_response(reader)

        digest, resp = dual.h.run(go(), timeout=60)
        assert resp.code == 200, resp
        results.append(resp.body)
        assert resp.body == (b'{"size": %d, "sha256": "%s", "pieces_under_1MiB": true, '
                             b'"several": true, "body": ""}' % (UPLOAD, digest.encode()))
    assert results[0] == results[1]


@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
def test_upload_pieces_are_at_most_chunk_size(dual: Dual, chunked: bool):
    # Tornado hands data_received at most chunk_size (64 KiB) at a time; ours
    # slices what one read decoded (up to a few hundred KiB) to that size.
    head = {"Transfer-Encoding": "chunked"} if chunked else {"Content-Length": str(UPLOAD)}
    for _, connect in both_connects(dual)[::-1]:

        async def go(connect=connect):
            reader, writer = await connect()
            writer.write(req("PUT", "/upload?largest=1", head))
            await send_body(writer, UPLOAD, chunked)
            return await read_response(reader)

        resp = dual.h.run(go(), timeout=60)
        assert b'"largest_piece": %d' % CHUNK in resp.body


def test_upload_over_the_servers_limit_without_raising_it(dual: Dual):
    # /paced does not raise max_body_size: both refuse and close (Tornado with
    # 400, ours with 413, as docs/http-strictness.md says).
    # (The declared length is refused before any of the body is read.)
    ours, theirs = dual.raw(req("POST", "/paced", {"Content-Length": str(SERVER_LIMIT + 1)}))
    assert ours.startswith(b"HTTP/1.1 413 ")
    assert theirs.startswith(b"HTTP/1.1 400 ")


def test_async_data_received_is_never_reentered(dual: Dual):
    for _, connect in both_connects(dual):

        async def go(connect=connect):
            reader, writer = await connect()
            writer.write(req("POST", "/paced", {"Transfer-Encoding": "chunked"}))
            await send_body(writer, 512 * 1024, chunked=True)
            return await read_response(reader)

        resp = dual.h.run(go(), timeout=60)
        assert resp.body == b'{"total": 524288, "overlaps": 0}'


def test_client_leaving_mid_upload(dual: Dual, quiet_logs):
    events()
    for web, connect in both_connects(dual):
        state = STATE[web]
        state["done"].clear()
        state["started"].clear()

        async def go(connect=connect, state=state):
            _, writer = await connect()
            writer.write(req("POST", "/abandoned", {"Content-Length": "1000000"}) + b"a" * 1000)
            await asyncio.wait_for(state["started"].wait(), 10)
            writer.close()
            await asyncio.wait_for(state["done"].wait(), 10)
            await asyncio.sleep(0.02)  # anything else that would be called, is

        dual.run(go())
    ours, theirs = events()
    assert ours == theirs == ["prepare", "first piece", "on_connection_close"]
    assert [r for r in quiet_logs.records if r.levelname == "ERROR"] == []


async def read_chunk(reader) -> bytes:
    size = int((await reader.readuntil(b"\r\n"))[:-2], 16)
    data = await reader.readexactly(size)
    assert await reader.readexactly(2) == b"\r\n"
    return data


def test_flush_delivers_pieces_as_they_are_written(dual: Dual):
    heads = []
    for web, connect in both_connects(dual):
        state = STATE[web]
        state["gate"].clear()

        async def go(connect=connect, state=state):
            reader, writer = await connect()
            writer.write(req("GET", "/pieces"))
            head = await reader.readuntil(b"\r\n\r\n")
            # The handler waits on the gate: this piece was sent before it.
            first = await read_chunk(reader)
            state["gate"].set()
            rest = [await read_chunk(reader) for _ in range(3)]
            return head, [first] + rest

        head, pieces = dual.run(go())
        assert pieces == [b"first piece|", b"second piece|", b"last", b""]
        assert b"\r\nTransfer-Encoding: chunked\r\n" in head
        heads.append(sorted(line for line in head.split(b"\r\n")
                            if not line.startswith((b"Date:", b"Server:"))))
    assert heads[0] == heads[1]


def test_flush_future_applies_back_pressure(dual: Dual):
    n = 96  # 24 MiB: far more than the socket buffers hold
    for web, connect in both_connects(dual):
        state = STATE[web]
        state["flushed"] = 0

        async def go(connect=connect, state=state):
            reader, writer = await connect()
            writer.write(req("GET", "/flood?n=%d" % n, {"Connection": "close"}))
            await asyncio.sleep(0.3)  # read nothing for a while
            held_back = state["flushed"]
            received = 0
            while True:
                data = await reader.read(1 << 20)
                if not data:
                    break
                received += len(data)
            return held_back, received

        held_back, received = dual.h.run(go(), timeout=60)
        # While the client read nothing, awaiting flush() stopped the handler
        # well short of the end (however fast or slow the machine is).
        assert held_back < n
        assert state["flushed"] == n
        assert received > n * 256 * 1024


def parse_events(buffer: bytes) -> tuple[list[dict], bytes]:
    """Split complete SSE events (blank-line terminated) off *buffer*."""
    out = []
    while b"\n\n" in buffer:
        raw, buffer = buffer.split(b"\n\n", 1)
        fields = {}
        for line in raw.decode().split("\n"):
            name, _, value = line.partition(": ")
            fields[name] = value
        out.append(fields)
    return out, buffer


def test_server_sent_events_read_incrementally(dual: Dual, quiet_logs):
    events()
    heads = []
    for web, connect in both_connects(dual):
        state = STATE[web]
        state["sse_closed"].clear()

        async def go(connect=connect, state=state):
            reader, writer = await connect()
            writer.write(req("GET", "/events", {"Accept": "text/event-stream"}))
            head = await reader.readuntil(b"\r\n\r\n")
            got: list[dict] = []
            buffer = b""
            while len(got) < 3:
                # Each event comes in its own chunk, as the handler flushes it.
                buffer += await read_chunk(reader)
                new, buffer = parse_events(buffer)
                got.extend(new)
            writer.close()
            await asyncio.wait_for(state["sse_closed"].wait(), 10)
            return head, got

        head, got = dual.run(go())
        assert got[:3] == [{"id": str(i), "event": "tick", "data": '{"n": %d}' % i}
                           for i in (1, 2, 3)]
        heads.append(sorted(line for line in head.split(b"\r\n")
                            if not line.startswith((b"Date:", b"Server:"))))
    assert heads[0] == heads[1]
    assert b"Content-Type: text/event-stream" in heads[0]
    ours, theirs = events()
    assert ours == theirs
    assert ours[0] == "on_connection_close"
    assert ours[-2:] == ["loop ended", "on_finish"]
    assert [r for r in quiet_logs.records if r.levelname == "ERROR"] == []


def test_streamed_upload_memory_stays_bounded(tmp_path):
    """Ours only: a 32 MiB upload never holds more than a few pieces at once."""
    total = 32 * 1024 * 1024
    app = embedtornado.web.Application(make_handlers(embedtornado.web))
    with ServerHarness(app) as h:

        async def go():
            reader, writer = await h.connect()
            writer.write(req("PUT", "/upload", {"Content-Length": str(total)}))
            await send_body(writer, CHUNK)  # warm up imports and buffers
            tracemalloc.start()
            try:
                await send_body(writer, total - CHUNK)
                resp = await read_response(reader)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            return resp, peak

        resp, peak = h.run(go(), timeout=120)
    assert resp.code == 200
    assert b'"size": %d' % total in resp.body
    # The whole body would be 32 MiB; pieces are 64 KiB.
    assert peak < 4 * 1024 * 1024, peak
    assert not os.listdir(tmp_path)


def test_server_sent_events_with_a_blocking_socket(dual: Dual):
    """The same stream read with a plain blocking socket, on a worker thread."""
    ports = (("embedtornado.web", dual.h.port), ("tornado.web", dual.h.tornado_port))
    for web, port in ports:
        state = STATE[web]
        state["sse_closed"].clear()

        def client(port=port) -> list[bytes]:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(req("GET", "/events"))
                data = b""
                seen: list[bytes] = []
                # recv returns whatever has arrived: events trickle in.
                while data.count(b"\n\n") < 3:
                    piece = sock.recv(65536)
                    assert piece, "server closed the stream"
                    data += piece
                    seen.append(piece)
                return seen

        async def go(client=client, state=state):
            pieces = await asyncio.get_running_loop().run_in_executor(None, client)
            await asyncio.wait_for(state["sse_closed"].wait(), 10)
            return pieces

        pieces = dual.run(go())
        data = b"".join(pieces)
        assert b"\r\n\r\n" in data
        body = data.split(b"\r\n\r\n", 1)[1]
        assert b'id: 1\nevent: tick\ndata: {"n": 1}\n\n' in body
        assert b'data: {"n": 3}\n\n' in body
        # (The stream never ends by itself, so events arriving at all shows
        # each was sent as it was flushed.)


def test_flush_then_block_sends_the_piece_first(dual: Dual):
    """A synchronous handler's flushed piece reaches the client while the handler blocks.

    (Our compiled loop sends small writes at the end of a loop iteration;
    an explicit flush must not wait for that.)
    """
    ports = (("embedtornado.web", dual.h.port), ("tornado.web", dual.h.tornado_port))
    for web, port in ports:
        state = STATE[web]
        state["client_saw_first"].clear()

        def client(port=port, state=state) -> bytes:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(req("GET", "/blocking"))
                data = b""
                while not data.endswith(b"0\r\n\r\n"):
                    piece = sock.recv(65536)
                    assert piece, "server closed the connection"
                    data += piece
                    if b"first;" in data:
                        state["client_saw_first"].set()
                return data

        data = dual.run(_in_thread(client))
        assert b"first;" in data and b"second" in data, (web, data)


async def _in_thread(fn):
    return await asyncio.get_running_loop().run_in_executor(None, fn)
