"""The hostile-input set: the case table, the application every case is sent to, and helpers.

``tests/data/hostile/cases.toml`` holds the cases (its README.md describes the
fields). This module loads and expands them, builds the request bytes, runs a
real HTTPServer per server profile, and parses what comes back.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import re
import socket
import struct
import tomllib
import zlib
from pathlib import Path
from typing import Any

import embedtornado.web as web
import embedtornado.websocket as websocket
from rawhttp import ServerHarness

DATA = Path(__file__).resolve().parent.parent / "data" / "hostile" / "cases.toml"

# --------------------------------------------------------------------------- the table


def load() -> dict[str, Any]:
    with open(DATA, "rb") as f:
        return tomllib.load(f)


_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|[rnt0\\'\"])")
_REPEAT = re.compile(r"\{\{(.+?)\*(\d+)\}\}", re.S)
_SIMPLE = {"r": "\r", "n": "\n", "t": "\t", "0": "\0", "\\": "\\", "'": "'", '"': '"'}


def _unescape(text: str) -> bytes:
    assert text.isascii(), f"non-ASCII in a case string (use \\xNN): {text[:60]!r}"

    def one(m: re.Match[str]) -> str:
        e = m.group(1)
        return chr(int(e[1:], 16)) if e[0] == "x" else _SIMPLE[e]

    return _ESCAPE.sub(one, text).encode("latin-1")


def decode(text: str) -> bytes:
    """Bytes from the table's notation: Python-bytes escapes and ``{{TEXT*N}}``."""
    out: list[bytes] = []
    pos = 0
    for m in _REPEAT.finditer(text):
        out.append(_unescape(text[pos : m.start()]))
        out.append(_unescape(m.group(1)) * int(m.group(2)))
        pos = m.end()
    out.append(_unescape(text[pos:]))
    return b"".join(out)


def request_bytes(case: dict[str, Any], value: str | None = None) -> bytes:
    """The bytes a wire case sends (``value`` replaces ``@@``; body placeholders filled)."""
    send = case["send"]
    if value is not None:
        send = send.replace("@@", value)
    body = b""
    if "body_send" in case:
        body = decode(case["body_send"])
        if case.get("body_encoding") == "gzip":
            body = gzip.compress(body, mtime=0)
        body += decode(case.get("body_suffix", ""))
    before, sep, after = send.partition("{{BODY}}")
    data = decode(before.replace("{{LEN}}", str(len(body))))
    if sep:
        data += body + decode(after)
    return data


def expand(cases: list[dict[str, Any]], kinds: tuple[str, ...]) -> list[tuple[str, dict, Any]]:
    """(test id, case, variant) for every case of *kinds*, one per ``vary*`` value."""
    out = []
    for c in cases:
        if c.get("kind", "http") not in kinds:
            continue
        variants = c.get("vary") or c.get("vary_op") or c.get("vary_close") or [None]
        for v in variants:
            suffix = "" if v is None else "[%s]" % (v if isinstance(v, int) else v.encode().hex()
                                                     if not v.isprintable() else v)
            out.append((c["id"] + suffix, c, v))
    return out


def expected_statuses(case: dict[str, Any]) -> list[int]:
    e = case["expect"]
    return list(e) if isinstance(e, list) else [e]


# --------------------------------------------------------------------------- responses


class Answer:
    def __init__(self, code: int, reason: str, headers: list[tuple[str, str]], body: bytes):
        self.code, self.reason, self.header_list, self.body = code, reason, headers, body
        self.headers: dict[str, list[str]] = {}
        for k, v in headers:
            self.headers.setdefault(k.lower(), []).append(v)

    def __repr__(self) -> str:
        return f"<Answer {self.code} {self.reason} {self.header_list} {self.body[:100]!r}>"


def parse_answers(data: bytes, method: str = "GET") -> tuple[list[Answer], bytes]:
    """Every complete response in *data* (answers to HEAD not supported) and the rest."""
    out = []
    while True:
        end = data.find(b"\r\n\r\n")
        if end < 0:
            return out, data
        lines = data[:end].split(b"\r\n")
        version, code, reason = (lines[0].decode("latin-1").split(" ", 2) + [""])[:3]
        assert version == "HTTP/1.1", lines[0]
        headers = []
        for line in lines[1:]:
            name, colon, value = line.decode("latin-1").partition(":")
            assert colon and name and name == name.strip(), line
            headers.append((name, value.strip(" \t")))
        rest = data[end + 4 :]
        hmap = {k.lower(): v for k, v in headers}
        status = int(code)
        if status < 200 or status in (204, 304):
            body = b""
        elif hmap.get("transfer-encoding") == "chunked":
            parts = []
            while True:
                line_end = rest.find(b"\r\n")
                if line_end < 0:
                    return out, data
                size = int(rest[:line_end], 16)
                chunk = rest[line_end + 2 : line_end + 2 + size]
                if len(chunk) < size or len(rest) < line_end + 4 + size:
                    return out, data
                rest = rest[line_end + 4 + size :]
                if size == 0:
                    break
                parts.append(chunk)
            body = b"".join(parts)
        elif "content-length" in hmap:
            n = int(hmap["content-length"])
            if len(rest) < n:
                return out, data
            body, rest = rest[:n], rest[n:]
        else:
            body, rest = rest, b""
        out.append(Answer(status, reason, headers, body))
        data = rest


# --------------------------------------------------------------------------- raw connections


class RawConn:
    """A client socket driven by the event loop: sends and reads never lose each other's data.

    (An ``asyncio.StreamReader`` drops what it buffered once a write fails.)
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.loop = asyncio.get_running_loop()
        self.reset = False  # the server reset the connection
        self.send_failed = False

    @classmethod
    async def open(cls, port: int) -> RawConn:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        return cls(sock)

    async def send(self, data: bytes) -> None:
        try:
            await self.loop.sock_sendall(self.sock, data)
        except (BrokenPipeError, ConnectionResetError):
            self.send_failed = True

    async def recv(self) -> bytes:
        try:
            return await self.loop.sock_recv(self.sock, 1 << 16)
        except ConnectionResetError:
            self.reset = True
            return b""

    async def exchange(self, data: bytes) -> bytes:
        """Send *data* while reading; return everything until the server closes."""
        sender = asyncio.ensure_future(self.send(data))
        parts = []
        while chunk := await self.recv():
            parts.append(chunk)
        await sender
        return b"".join(parts)

    async def read_answers(self, n: int, buf: bytes = b"") -> list[Answer]:
        while True:
            answers, _ = parse_answers(buf)
            if len(answers) >= n:
                return answers
            chunk = await self.recv()
            assert chunk, f"server closed after {answers}"
            buf += chunk

    def close(self) -> None:
        self.sock.close()


# --------------------------------------------------------------------------- WebSocket frames


def ws_frame(opcode: int, payload: bytes = b"", fin: bool = True, rsv: int = 0,
             mask: bool = True, length: int | None = None) -> bytes:
    """One client frame (masked with a fixed key unless ``mask`` is false)."""
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | rsv | opcode
    mbit = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if not mask:
        return head + payload
    key = b"\x37\xfa\x21\x3d"
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def deflate(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return (c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH))[:-4]


def ws_frames(case: dict[str, Any], variant: Any) -> bytes:
    out = []
    for f in case["frames"]:
        payload = decode(f.get("payload", ""))
        op = f["op"]
        if "vary_op" in case:
            op = variant
        if "vary_close" in case:
            payload = struct.pack("!H", variant)
        rsv = f.get("rsv", 0)
        if f.get("deflate"):
            payload, rsv = deflate(payload), rsv | 0x40
        out.append(ws_frame(op, payload, fin=f.get("fin", True), rsv=rsv,
                            mask=f.get("mask", True), length=f.get("length")))
    return b"".join(out)


WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="


async def ws_connect(h: ServerHarness, path: str, headers: dict[str, str]
                     ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await h.connect()
    fields = {"Host": "127.0.0.1", "Upgrade": "websocket", "Connection": "Upgrade",
              "Sec-WebSocket-Key": WS_KEY, "Sec-WebSocket-Version": "13", **headers}
    writer.write(("GET %s HTTP/1.1\r\n" % path + "".join("%s: %s\r\n" % kv for kv in fields.items())
                  + "\r\n").encode("latin-1"))
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 "), head
    return reader, writer


async def ws_read_close(reader: asyncio.StreamReader) -> int | None:
    """Skip frames until the server's close frame; return its code, check TCP closes."""
    while True:
        b0, b1 = await reader.readexactly(2)
        assert not b1 & 0x80, "server frames are not masked"
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", await reader.readexactly(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", await reader.readexactly(8))[0]
        payload = await reader.readexactly(n)
        if b0 & 0x0F == 0x8:
            break
    assert await reader.read() == b"", "the server closes TCP after its close frame"
    return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None


# --------------------------------------------------------------------------- the application

COOKIE_CASES: dict[str, tuple[tuple, dict]] = {
    "ok": (("sid", "x"), {"domain": "example.com"}),
    "name-semicolon": (("a;b", "x"), {}),
    "name-control": (("a\x01b", "x"), {}),
    "value-semicolon": (("sid", "x; Domain=evil.com"), {}),
    "domain-semicolon": (("sid", "x"), {"domain": "evil.com; Secure"}),
    "domain-crlf": (("sid", "x"), {"domain": "evil.com\r\nX-Injected: 1"}),
    "path-semicolon": (("sid", "x"), {"path": "/; Domain=evil.com"}),
    "path-control": (("sid", "x"), {"path": "/\x00"}),
    "samesite-semicolon": (("sid", "x"), {"samesite": "Lax; Domain=evil.com"}),
    "max-age-string": (("sid", "x"), {"max_age": "1; Domain=evil.com"}),
    "expires-days-string": (("sid", "x"), {"expires_days": "1; Domain=evil.com"}),
    "Domain-capitalised": (("sid", "x"), {"Domain": "evil.com; Secure"}),
    "Path-capitalised": (("sid", "x"), {"Path": "/; Secure"}),
    "SameSite-capitalised": (("sid", "x"), {"SameSite": "Lax; Secure"}),
    "Max-Age-capitalised": (("sid", "x"), {"Max_Age": "1; Secure"}),
}


class Plain(web.RequestHandler):
    """No XSRF check (the application has ``xsrf_cookies`` on for the ``/xsrf`` cases)."""

    def check_xsrf_cookie(self) -> None:
        pass


class Echo(Plain):
    """``METHOD URI BODY`` for any method."""

    def _echo(self) -> None:
        r = self.request
        self.write(r.method.encode() + b" " + r.uri.encode("latin-1") + b" " + r.body)

    get = post = put = delete = patch = _echo


class AnyEcho(Echo):
    def _echo(self, rest: str = "") -> None:  # type: ignore[override]
        super()._echo()

    get = post = _echo


class HeaderEcho(Plain):
    """The values of the request header named in the path, joined by ``,`` (``-`` if none)."""

    def _echo(self, name: str) -> None:
        values = self.request.headers.get_list(name)
        self.write(",".join(values).encode("latin-1") if values else b"-")

    get = post = _echo


class Form(Plain):
    def post(self) -> None:
        args = sum(len(v) for v in self.request.body_arguments.values())
        files = sum(len(v) for v in self.request.files.values())
        self.write(f"args={args} files={files}")


class Query(web.RequestHandler):
    def get(self) -> None:
        self.write("args=%d" % sum(len(v) for v in self.request.query_arguments.values()))


class Pct(web.RequestHandler):
    def get(self, rest: str) -> None:
        assert set(rest) == {"A"}, rest[:50]
        self.write("len=%d" % len(rest))


class Cookies(web.RequestHandler):
    def get(self) -> None:
        self.write(json.dumps({k: m.value for k, m in self.request.cookies.items()},
                              sort_keys=True))


class Status(web.RequestHandler):
    def get(self) -> None:
        self.set_status(int(self.get_argument("code")), self.get_argument("reason"))
        self.write("x")


class Error(web.RequestHandler):
    def get(self) -> None:
        raise web.HTTPError(int(self.get_argument("code")), reason=self.get_argument("reason"))


class SetHeader(web.RequestHandler):
    def get(self) -> None:
        # Raw: get_argument would turn control characters into spaces.
        v = self.request.query_arguments["v"][0].decode("latin-1")
        out = []
        for method in (self.set_header, self.add_header):
            try:
                method("X-T", v)
                out.append("ok")
            except Exception as e:
                out.append(type(e).__name__)
        self.write(" ".join(out))


class SetCookie(web.RequestHandler):
    def get(self) -> None:
        args, kwargs = COOKIE_CASES[self.get_argument("c")]
        try:
            self.set_cookie(*args, **kwargs)
            self.write("no error")
        except Exception as e:
            self.clear_header("Set-Cookie")
            self.write(type(e).__name__)


class Xsrf(web.RequestHandler):
    def get(self) -> None:
        self.write(self.xsrf_token)

    def post(self) -> None:
        self.write("posted")


class Signed(Plain):
    def get(self) -> None:
        value = self.get_signed_cookie(self.get_argument("name"))
        self.write(repr(value))


class WSEcho(websocket.WebSocketHandler):
    def on_message(self, message: str | bytes) -> None:
        self.write_message(message, binary=isinstance(message, bytes))


class WSDeflate(WSEcho):
    def get_compression_options(self) -> dict:
        return {}


class AddSlash(web.RequestHandler):
    @web.addslash
    def get(self) -> None:
        self.write("slashed")


class RemoveSlash(web.RequestHandler):
    @web.removeslash
    def get(self) -> None:
        self.write("unslashed")


def make_static_root(base: Path) -> Path:
    """``base/static`` (the root: ``dir/index.html``, ``link`` -> outside) and siblings."""
    root = base / "static"
    (root / "dir").mkdir(parents=True)
    (root / "dir" / "index.html").write_bytes(b"index")
    (base / "secret.txt").write_bytes(b"TOP SECRET")
    (base / "static-secret").mkdir()
    (base / "static-secret" / "secret.txt").write_bytes(b"TOP SECRET")
    (base / "outside").mkdir()
    (base / "outside" / "secret.txt").write_bytes(b"TOP SECRET")
    os.symlink(base / "outside", root / "link")
    return root


def make_app(profile: str, base: Path) -> web.Application:
    if profile == "addslash":
        return web.Application([(r".*", AddSlash)])
    if profile == "removeslash":
        return web.Application([(r".*", RemoveSlash)])
    root = make_static_root(base)
    return web.Application([
        (r"/", Echo),
        (r"/echo/(.*)", AnyEcho),
        (r"/hdr/([^/]+)", HeaderEcho),
        (r"/form", Form),
        (r"/query", Query),
        (r"/pct/(.*)", Pct),
        (r"/cookies", Cookies),
        (r"/status", Status),
        (r"/error", Error),
        (r"/setheader", SetHeader),
        (r"/setcookie", SetCookie),
        (r"/xsrf", Xsrf),
        (r"/signed", Signed),
        (r"/ws", WSEcho),
        (r"/wsz", WSDeflate),
        (r"/redir/(.*)/", web.RedirectHandler, {"url": "/{0}"}),
        (r"/static/(.*)", web.StaticFileHandler, {"path": str(root),
                                                   "default_filename": "index.html"}),
    ], websocket_max_message_size=65536, xsrf_cookies=True, cookie_secret=COOKIE_SECRET)


COOKIE_SECRET = "hostile-secret"

#: HTTPServer keyword arguments per server profile.
PROFILES: dict[str, dict[str, Any]] = {
    "default": {},
    "gzip": {"decompress_request": True, "max_body_size": 100_000},
    "timeouts": {"idle_connection_timeout": 0.5, "body_timeout": 1.0},
    "bigheaders": {"max_header_size": 1 << 20, "max_header_count": 10_000},
    "addslash": {},
    "removeslash": {},
}


class Servers:
    """One running server per profile, started on first use."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.harnesses: dict[str, ServerHarness] = {}

    def get(self, profile: str) -> ServerHarness:
        h = self.harnesses.get(profile)
        if h is None:
            d = self.base / profile
            d.mkdir()
            h = ServerHarness(make_app(profile, d), **PROFILES[profile])
            h.__enter__()
            self.harnesses[profile] = h
        return h

    def close(self) -> None:
        for h in self.harnesses.values():
            h.__exit__(None, None, None)
