"""Harness for the event-loop conformance suite in ``tests/loop/``.

Every test in this directory takes the ``loop`` fixture, which is
parametrised over three loop factories (uvloop's ``_TestTCP`` pattern,
STYLE.md rule 14), so each case is written once and runs on:

``asyncio``
    the standard library's loop (`asyncio.new_event_loop`). It is the spec
    (DESIGN.md: "uvloop's rule: asyncio is the spec"), and running the cases on
    it checks the tests themselves.
``uvloop``
    a second reference: a compiled loop that claims asyncio conformance.
    Skipped when uvloop does not import.
``embedtornado``
    ours, `embedtornado.loop.new_event_loop` backed by the compiled
    ``embedtornado._speedups.loop``. Skipped with a reason when that module is
    not built; a failure instead when ``EMBEDTORNADO_REQUIRE_EXTENSIONS=1`` and
    ``"loop"`` is in `embedtornado._accel.MODULES`. Skipped under
    ``EMBEDTORNADO_NO_EXTENSIONS=1``, where the twin (the ``asyncio`` row) is
    what embedtornado runs on.

The cases are written from asyncio's documented contracts (the
asyncio-eventloop, asyncio-protocol, asyncio-future and asyncio-task pages of
the Python 3.11 docs). Where the docs leave something open, the test says so
and accepts every documented outcome; a few cases pin behaviour the docs do not
spell out but both reference loops share, and say "reference behaviour".

A test uses it like this::

    def test_something(loop):
        async def main():
            fut = loop.create_future()
            loop.call_soon(fut.set_result, 1)
            assert await fut == 1

        run(loop, main())          # bounded: asyncio.wait_for(main(), TIMEOUT)

The ``loop`` fixture installs an exception handler that records every call;
a test that did not replace the handler fails if anything reached it (uvloop's
``tearDown`` check). It then cancels leftover tasks, shuts down async
generators and the default executor, and closes the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import importlib
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, Callable

import pytest

#: Upper bound for one ``run()`` of a test coroutine, in seconds.
TIMEOUT = 5.0
#: Hard bound for a whole test: faulthandler dumps every thread's stack and
#: exits the process, so a loop that never wakes up cannot hang CI.
HARD_TIMEOUT = 30.0

OURS_MODULE = "embedtornado._speedups.loop"
LOOP_IDS = ["asyncio", "uvloop", "embedtornado"]


# --------------------------------------------------------------------------- factories

def _accel_flags() -> tuple[bool, bool, tuple[str, ...]]:
    from embedtornado import _accel

    return _accel.NO_EXTENSIONS, _accel.REQUIRE_EXTENSIONS, tuple(_accel.MODULES)


def ours_required() -> bool:
    """True when a missing compiled loop must fail rather than skip."""
    no_ext, require, modules = _accel_flags()
    return require and not no_ext and "loop" in modules


def is_compiled_loop(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether *loop* is built on a class from ``embedtornado._speedups.loop``."""
    return any(cls.__module__ == OURS_MODULE for cls in type(loop).__mro__)


def ours_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """Return embedtornado's loop factory, or skip/fail with the reason it is absent."""
    no_ext, _require, _modules = _accel_flags()
    if no_ext:
        pytest.skip("EMBEDTORNADO_NO_EXTENSIONS=1: the compiled loop is switched off; "
                    "its twin is the 'asyncio' row")
    try:
        importlib.import_module(OURS_MODULE)
    except ImportError as exc:
        msg = f"compiled loop {OURS_MODULE} is not built ({exc})"
        if ours_required():
            pytest.fail(f"EMBEDTORNADO_REQUIRE_EXTENSIONS=1 but {msg}")
        pytest.skip(msg)
    import embedtornado.loop

    return embedtornado.loop.new_event_loop


def get_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """The loop factory for one of `LOOP_IDS` (skips when it is unavailable)."""
    if name == "asyncio":
        return asyncio.new_event_loop
    if name == "uvloop":
        uvloop = pytest.importorskip("uvloop", reason="uvloop (second reference loop) "
                                     "is not installed")
        return uvloop.new_event_loop
    if name == "embedtornado":
        return ours_factory()
    raise ValueError(name)


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(params=LOOP_IDS)
def loop_name(request) -> str:
    return request.param


@pytest.fixture
def loop_factory(loop_name) -> Callable[[], asyncio.AbstractEventLoop]:
    """A callable returning a new loop of the implementation under test."""
    return get_factory(loop_name)


@pytest.fixture(autouse=True)
def _hard_timeout():
    faulthandler.dump_traceback_later(HARD_TIMEOUT, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


class HandlerRecorder:
    """The exception handler the ``loop`` fixture installs."""

    def __init__(self) -> None:
        self.contexts: list[dict[str, Any]] = []

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        self.contexts.append(context)


@pytest.fixture
def loop(loop_factory, loop_name):
    """A new loop of each implementation, closed (and checked) after the test."""
    lp = loop_factory()
    if loop_name == "embedtornado" and not is_compiled_loop(lp):
        lp.close()
        pytest.fail(f"embedtornado.loop.new_event_loop() returned {type(lp)!r}, which is not "
                    f"built on {OURS_MODULE}")
    recorder = HandlerRecorder()
    lp.set_exception_handler(recorder)
    try:
        yield lp
    finally:
        close_loop(lp)
    if lp.get_exception_handler() is recorder and recorder.contexts:
        pytest.fail(f"the loop's exception handler was called unexpectedly: {recorder.contexts!r}")


def close_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Finish a loop the way `asyncio.Runner.close` does, then close it."""
    if loop.is_closed():
        return
    try:
        if loop.is_running():  # only when a test failed inside run_forever's callback
            return
        tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for t in tasks:
            t.cancel()
        if tasks:
            loop.run_until_complete(asyncio.wait_for(
                asyncio.gather(*tasks, return_exceptions=True), TIMEOUT))
        loop.run_until_complete(asyncio.wait_for(loop.shutdown_asyncgens(), TIMEOUT))
        loop.run_until_complete(asyncio.wait_for(loop.shutdown_default_executor(), TIMEOUT))
    finally:
        loop.close()


def run(loop: asyncio.AbstractEventLoop, coro: Awaitable[Any],
        timeout: float = TIMEOUT) -> Any:
    """Run *coro* to completion on *loop*, failing the test after *timeout* seconds."""
    return loop.run_until_complete(asyncio.wait_for(coro, timeout))


def run_forever_bounded(loop: asyncio.AbstractEventLoop, timeout: float = TIMEOUT) -> bool:
    """``loop.run_forever()`` with a watchdog timer; True if something else stopped it."""
    fired = []

    def watchdog() -> None:
        fired.append(True)
        loop.stop()

    h = loop.call_later(timeout, watchdog)
    try:
        loop.run_forever()
    finally:
        h.cancel()
    return not fired


# --------------------------------------------------------------------------- protocols

class RecordingProtocol(asyncio.Protocol):
    """A protocol that records its callbacks and checks their documented order.

    asyncio-protocol: ``start -> connection_made [-> data_received]*
    [-> eof_received]? -> connection_lost -> end``, and ``pause_writing`` /
    ``resume_writing`` alternate, starting with ``pause_writing``. Violations
    are collected in `violations` (see `check`), since an exception raised in
    a protocol callback would only reach the loop's exception handler.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, *, eof_result: bool | None = None,
                 echo: bool = False, close_on_eof: bool = False) -> None:
        self.loop = loop
        self.eof_result = eof_result
        self.echo = echo
        self.close_on_eof = close_on_eof
        self.state = "INITIAL"
        self.transport: Any = None  # asyncio.Transport once connected
        self.data = bytearray()
        self.violations: list[str] = []
        self.events: list[str] = []
        self.made = loop.create_future()
        self.eof = loop.create_future()
        self.lost = loop.create_future()  # result: the exc passed to connection_lost
        self.lost_calls = 0
        self.writing_paused = False
        self.pause_calls = 0
        self.resume_calls = 0
        self.paused_cond: asyncio.Future[None] | None = None
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

    def _expect(self, what: str, *states: str) -> None:
        self.events.append(what)
        if self.state not in states:
            self.violations.append(f"{what} in state {self.state}")

    def connection_made(self, transport):  # type: ignore[override]
        self._expect("connection_made", "INITIAL")
        self.state = "CONNECTED"
        self.transport = transport
        self.made.set_result(transport)

    def data_received(self, data: bytes) -> None:
        self._expect("data_received", "CONNECTED")
        if not isinstance(data, bytes):
            self.violations.append(f"data_received got {type(data)!r}, not bytes")
        if not data:
            self.violations.append("data_received got empty data")
        self.data += data
        if self.echo and self.transport is not None:
            self.transport.write(data)
        self._wake()

    def eof_received(self) -> bool | None:
        self._expect("eof_received", "CONNECTED")
        self.state = "EOF"
        if not self.eof.done():
            self.eof.set_result(None)
        self._wake()
        if self.close_on_eof and self.transport is not None:
            self.transport.close()
        return self.eof_result

    def connection_lost(self, exc: Exception | None) -> None:
        self._expect("connection_lost", "CONNECTED", "EOF")
        self.state = "CLOSED"
        self.lost_calls += 1
        if not self.lost.done():
            self.lost.set_result(exc)
        self._wake()

    def pause_writing(self) -> None:
        self.events.append("pause_writing")
        if self.writing_paused:
            self.violations.append("pause_writing twice without resume_writing")
        self.writing_paused = True
        self.pause_calls += 1
        if self.paused_cond is not None and not self.paused_cond.done():
            self.paused_cond.set_result(None)

    def resume_writing(self) -> None:
        self.events.append("resume_writing")
        if not self.writing_paused:
            self.violations.append("resume_writing without pause_writing")
        self.writing_paused = False
        self.resume_calls += 1
        if self.paused_cond is not None and not self.paused_cond.done():
            self.paused_cond.set_result(None)

    def _wake(self) -> None:
        keep = []
        for n, fut in self._waiters:
            if fut.done():
                continue
            if len(self.data) >= n or self.state in ("EOF", "CLOSED"):
                fut.set_result(None)
            else:
                keep.append((n, fut))
        self._waiters = keep

    async def wait_bytes(self, n: int) -> bytes:
        """Wait until at least *n* bytes arrived (or EOF/close); return all data so far."""
        if len(self.data) < n and self.state not in ("EOF", "CLOSED"):
            fut = self.loop.create_future()
            self._waiters.append((n, fut))
            await fut
        return bytes(self.data)

    def check(self, *, closed: bool = True) -> None:
        """Assert the callback order held (and that the connection ended, if *closed*)."""
        assert not self.violations, self.violations
        if closed:
            assert self.lost_calls == 1, f"connection_lost called {self.lost_calls} times"


class EchoProtocol(RecordingProtocol):
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop, echo=True, close_on_eof=True)


class ServerRecorder:
    """A protocol factory for ``create_server`` that keeps the protocols it made."""

    def __init__(self, loop: asyncio.AbstractEventLoop,
                 factory: Callable[[], RecordingProtocol] | None = None) -> None:
        self.loop = loop
        self.factory = factory or (lambda: RecordingProtocol(loop))
        self.protocols: list[RecordingProtocol] = []
        self._first: asyncio.Future[RecordingProtocol] = loop.create_future()

    def __call__(self) -> RecordingProtocol:
        proto = self.factory()
        self.protocols.append(proto)
        if not self._first.done():
            self._first.set_result(proto)
        return proto

    async def first(self) -> RecordingProtocol:
        proto = await self._first
        await proto.made
        return proto


# --------------------------------------------------------------------------- sockets

async def close_server(server: asyncio.AbstractServer) -> None:
    server.close()
    await server.wait_closed()


def close_transport(tr: asyncio.BaseTransport | None) -> None:
    if tr is not None and not tr.is_closing():
        tr.abort() if hasattr(tr, "abort") else tr.close()


async def recv_until_eof(loop: asyncio.AbstractEventLoop, sock: socket.socket,
                         limit: int | None = None) -> bytes:
    """Read a non-blocking socket with ``loop.sock_recv`` until EOF (or reset)."""
    buf = bytearray()
    while True:
        try:
            chunk = await loop.sock_recv(sock, 65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        buf += chunk
        if limit is not None and len(buf) >= limit:
            break
    return bytes(buf)


def small_buffers(sock: socket.socket, size: int = 4096) -> None:
    """Shrink kernel buffers so a peer that stops reading is felt quickly."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)


def ipv6_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


@contextlib.contextmanager
def short_tmpdir():
    """A short directory for AF_UNIX paths (sun_path holds 108 bytes)."""
    d = tempfile.mkdtemp(prefix="etl", dir="/tmp")
    try:
        yield Path(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


# --------------------------------------------------------------------------- TLS

_tls_dir: Path | None = None
_tls_lock = threading.Lock()


def _make_cert_cryptography(cert: Path, key: Path) -> None:
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    pkey = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    crt = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(pkey.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(pkey, hashes.SHA256())
    )
    cert.write_bytes(crt.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(pkey.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


def _make_cert_openssl(cert: Path, key: Path) -> None:
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True, timeout=30)


def tls_files() -> tuple[Path, Path]:
    """A self-signed certificate for ``localhost``/127.0.0.1 made for this run (cert, key)."""
    global _tls_dir
    with _tls_lock:
        if _tls_dir is None:
            d = Path(tempfile.mkdtemp(prefix="embedtornado-tls-"))
            import atexit

            atexit.register(shutil.rmtree, d, True)
            cert, key = d / "cert.pem", d / "key.pem"
            try:
                import cryptography  # noqa: F401
            except ImportError:
                if shutil.which("openssl") is None:
                    pytest.skip("neither the cryptography package nor the openssl CLI is "
                                "available to make a test certificate")
                _make_cert_openssl(cert, key)
            else:
                _make_cert_cryptography(cert, key)
            _tls_dir = d
    return _tls_dir / "cert.pem", _tls_dir / "key.pem"


def tls_server_context() -> ssl.SSLContext:
    cert, key = tls_files()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


def tls_client_context(*, trust: bool = True) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if trust:
        cert, _key = tls_files()
        ctx.load_verify_locations(cert)
    return ctx


# --------------------------------------------------------------------------- misc

def asyncio_debug_default() -> bool:
    """What ``get_debug()`` returns on a new loop (asyncio's documented default)."""
    env = not sys.flags.ignore_environment and bool(os.environ.get("PYTHONASYNCIODEBUG"))
    return bool(sys.flags.dev_mode or env)


def in_thread(fn: Callable[[], Any], delay: float = 0.0) -> threading.Thread:
    """Start a daemon thread that runs *fn* after *delay* seconds."""
    import time

    def target() -> None:
        if delay:
            time.sleep(delay)
        fn()

    t = threading.Thread(target=target, daemon=True)
    t.start()
    return t


class Pair:
    """Both ends of a connection made by `tcp_pair` / `unix_pair`."""

    server: asyncio.AbstractServer
    client_transport: Any  # asyncio.Transport
    client: RecordingProtocol
    server_transport: Any  # asyncio.Transport
    srv: RecordingProtocol


@contextlib.asynccontextmanager
async def connected_pair(loop: asyncio.AbstractEventLoop, *, kind: str = "tcp",
                         host: str = "127.0.0.1",
                         server_protocol: Callable[[], Any] | None = None,
                         client_protocol: Callable[[], Any] | None = None,
                         **server_kw: Any):
    """A server (``create_server`` or ``create_unix_server``) and one client connection."""
    rec = ServerRecorder(loop, server_protocol)
    client_factory = client_protocol or (lambda: RecordingProtocol(loop))
    pair = Pair()
    with contextlib.ExitStack() as dirs:
        if kind == "tcp":
            server = await loop.create_server(rec, host, 0, **server_kw)
        else:
            path = str(dirs.enter_context(short_tmpdir()) / "sock")
            server = await loop.create_unix_server(rec, path, **server_kw)
        pair.server = server
        try:
            if kind == "tcp":
                port = server.sockets[0].getsockname()[1]
                tr, proto = await loop.create_connection(client_factory, host, port)
            else:
                tr, proto = await loop.create_unix_connection(client_factory, path)
            pair.client_transport, pair.client = tr, proto
            try:
                pair.srv = await rec.first()
                pair.server_transport = pair.srv.transport
                yield pair
            finally:
                close_transport(tr)
                if rec.protocols:
                    close_transport(rec.protocols[0].transport)
                await asyncio.sleep(0)
        finally:
            await close_server(server)


def assert_handle(h: Any, *, timer: bool = False) -> None:
    """Check the documented `asyncio.Handle` / `asyncio.TimerHandle` API.

    The docs say call_soon returns "an instance of asyncio.Handle"; uvloop's
    handles are its own classes that do not inherit from it, so the check is
    on the documented methods (Python 3.11 has no ``get_context()`` yet).
    """
    for name in ("cancel", "cancelled"):
        assert callable(getattr(h, name, None)), f"{type(h)!r} has no {name}()"
    if timer:
        assert callable(getattr(h, "when", None)), f"{type(h)!r} has no when()"


def is_uvloop(loop: asyncio.AbstractEventLoop) -> bool:
    return type(loop).__module__.split(".")[0] == "uvloop"


def check_removed(loop: asyncio.AbstractEventLoop, got: Any, expected: bool) -> None:
    """Check remove_reader/remove_writer's documented True/False result.

    Docs: "Return True if fd was previously being monitored". uvloop 0.2x
    returns None in both cases (a known deviation of the second reference,
    accepted for uvloop only).
    """
    if is_uvloop(loop):
        assert got in (None, expected)
    else:
        assert got is expected


def uvloop_deviates(request: Any, reason: str) -> None:
    """Mark the running test as an expected failure on uvloop only.

    For documented asyncio contracts that uvloop (the second reference) breaks;
    the test stays strict for asyncio and for embedtornado's loop.
    """
    if request.node.callspec.params.get("loop_name") == "uvloop":
        request.applymarker(pytest.mark.xfail(strict=True, reason=f"uvloop deviation: {reason}"))
