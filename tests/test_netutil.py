"""Tests for embedtornado.netutil."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
import ssl
import stat
import subprocess
import sys
import textwrap
import threading

import pytest
import tornado.netutil

import embedtornado
from embedtornado import netutil
from embedtornado.ioloop import IOLoop
from embedtornado.netutil import (
    BlockingResolver,
    DefaultExecutorResolver,
    DefaultLoopResolver,
    ExecutorResolver,
    OverrideResolver,
    Resolver,
    ThreadedResolver,
    add_accept_handler,
    bind_sockets,
    bind_unix_socket,
    is_valid_ip,
    ssl_options_to_context,
    ssl_wrap_socket,
)

SRC_DIR = os.path.dirname(os.path.dirname(embedtornado.__file__))
TORNADO_TEST_DIR = os.path.join(os.path.dirname(tornado.netutil.__file__), "test")
CERTFILE = os.path.join(TORNADO_TEST_DIR, "test.crt")
KEYFILE = os.path.join(TORNADO_TEST_DIR, "test.key")


def _ipv6_usable() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


HAVE_IPV6 = _ipv6_usable()
needs_ipv6 = pytest.mark.skipif(not HAVE_IPV6, reason="IPv6 not usable here")


def close_all(socks):
    for s in socks:
        s.close()


# --- bind_sockets ---------------------------------------------------------------


@needs_ipv6
def test_bind_sockets_port_zero_both_families_same_port():
    socks = bind_sockets(0)
    try:
        families = sorted(s.family for s in socks)
        assert families == [socket.AF_INET, socket.AF_INET6]
        ports = {s.getsockname()[1] for s in socks}
        assert len(ports) == 1 and ports != {0}
        for s in socks:
            assert not s.getblocking()
            assert s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)
            assert s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
            if s.family == socket.AF_INET6:
                assert s.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY)
        # both are really listening: connect to each
        port = ports.pop()
        for host in ("127.0.0.1", "::1"):
            with socket.create_connection((host, port), timeout=10):
                pass
    finally:
        close_all(socks)


@pytest.mark.parametrize(
    "address, family",
    [
        (None, socket.AF_INET),
        ("", socket.AF_INET),
        ("127.0.0.1", socket.AF_UNSPEC),
        ("localhost", socket.AF_UNSPEC),
        pytest.param("::1", socket.AF_UNSPEC, marks=needs_ipv6),
        pytest.param(None, socket.AF_UNSPEC, marks=needs_ipv6),
        pytest.param(None, socket.AF_INET6, marks=needs_ipv6),
    ],
)
def test_bind_sockets_matches_tornado(address, family):
    def shape(socks):
        try:
            return sorted((s.family, s.getsockname()[0], s.getblocking()) for s in socks)
        finally:
            close_all(socks)

    assert shape(bind_sockets(0, address, family)) == shape(
        tornado.netutil.bind_sockets(0, address, family)
    )


def test_bind_sockets_reuse_port_and_backlog():
    socks = bind_sockets(0, "127.0.0.1", reuse_port=True, backlog=5)
    try:
        [s] = socks
        assert s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT)
        port = s.getsockname()[1]
        # SO_REUSEPORT lets a second listener share the port
        more = bind_sockets(port, "127.0.0.1", reuse_port=True)
        close_all(more)
    finally:
        close_all(socks)


@needs_ipv6
def test_bind_sockets_failure_closes_what_was_bound():
    # Hold the IPv6 port; binding both families then fails on IPv6 after the
    # IPv4 socket was bound. That socket must be closed, not leaked.
    with socket.socket(socket.AF_INET6) as blocker:
        blocker.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        blocker.bind(("::", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        with pytest.raises(OSError) as info:
            bind_sockets(port)
        assert info.value.errno == errno.EADDRINUSE
    # IPv4 on that port is free again (a leaked listener would hold it).
    close_all(bind_sockets(port, family=socket.AF_INET))


# --- bind_unix_socket -----------------------------------------------------------


def test_bind_unix_socket(tmp_path):
    path = str(tmp_path / "s.sock")
    sock = bind_unix_socket(path)
    try:
        st = os.stat(path)
        assert stat.S_ISSOCK(st.st_mode)
        assert stat.S_IMODE(st.st_mode) == 0o600
        assert not sock.getblocking()
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(path)
    finally:
        sock.close()
    # a stale socket file is replaced (Tornado's behaviour, issue #2823)
    sock = bind_unix_socket(path, mode=0o660)
    try:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o660
    finally:
        sock.close()


def test_bind_unix_socket_refuses_to_delete_other_files(tmp_path):
    path = tmp_path / "precious.txt"
    path.write_text("keep me")
    with pytest.raises(ValueError, match="not a socket"):
        bind_unix_socket(str(path))
    assert path.read_text() == "keep me"
    os.mkdir(tmp_path / "dir")
    with pytest.raises(ValueError):
        bind_unix_socket(str(tmp_path / "dir"))
    assert (tmp_path / "dir").is_dir()


def test_bind_unix_socket_abstract_namespace():
    name = f"\0embedtornado-test-{os.getpid()}"
    sock = bind_unix_socket(name)
    try:
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(name)
    finally:
        sock.close()


# --- add_accept_handler ---------------------------------------------------------


def test_add_accept_handler_accepts_and_removes():
    async def main():
        [sock] = bind_sockets(0, "127.0.0.1")
        port = sock.getsockname()[1]
        accepted = []
        got_two = asyncio.Event()

        def on_conn(conn, address):
            accepted.append((conn, address))
            if len(accepted) == 2:
                got_two.set()

        remove = add_accept_handler(sock, on_conn)
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
        try:
            await asyncio.wait_for(got_two.wait(), 20)
            for conn, address in accepted:
                assert isinstance(conn, socket.socket)
                assert address[0] == "127.0.0.1"
            remove()
            assert sock.fileno() not in IOLoop.current().handlers
            clients.append(socket.create_connection(("127.0.0.1", port)))
            await asyncio.sleep(0.05)
            assert len(accepted) == 2  # no longer accepting
        finally:
            close_all(clients)
            close_all(conn for conn, _ in accepted)
            sock.close()

    asyncio.run(main())


class FlakySocket(socket.socket):
    """A listening socket whose accept() fails with chosen errors first."""

    def __init__(self, *args, errors=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.errors = list(errors)
        self.accept_calls = 0

    def accept(self):
        self.accept_calls += 1
        if self.errors:
            code = self.errors.pop(0)
            raise OSError(code, os.strerror(code))
        return super().accept()


def _flaky_listener(errors):
    [plain] = bind_sockets(0, "127.0.0.1")
    sock = FlakySocket(plain.family, plain.type, plain.proto, fileno=plain.detach(), errors=errors)
    return sock


@pytest.mark.parametrize("code", [errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM])
def test_accept_resource_error_pauses_and_resumes(monkeypatch, caplog, code):
    monkeypatch.setattr(netutil, "_ACCEPT_RETRY_DELAY", 0.01)
    clock = [0.0]
    monkeypatch.setattr(
        netutil, "_accept_error_log", netutil._AcceptErrorLog(60.0, clock=lambda: clock[0])
    )

    async def main():
        sock = _flaky_listener([code] * 3)
        port = sock.getsockname()[1]
        accepted = []
        done = asyncio.Event()

        def on_conn(conn, address):
            accepted.append(conn)
            done.set()

        add_accept_handler(sock, on_conn)
        client = socket.create_connection(("127.0.0.1", port))
        try:
            await asyncio.wait_for(done.wait(), 20)
            # three failures, each followed by a pause, then success
            assert sock.errors == []
            assert 4 <= sock.accept_calls <= 5
        finally:
            client.close()
            close_all(accepted)
            sock.close()

    with caplog.at_level(logging.ERROR, logger="embedtornado.general"):
        asyncio.run(main())
    records = [r for r in caplog.records if r.name == "embedtornado.general"]
    assert len(records) == 1  # rate-limited: one line, not three
    assert os.strerror(code) in records[0].getMessage()


def test_accept_remove_during_pause_cancels_resume(monkeypatch, caplog):
    monkeypatch.setattr(netutil, "_ACCEPT_RETRY_DELAY", 0.01)

    async def main():
        sock = _flaky_listener([errno.EMFILE])
        port = sock.getsockname()[1]
        remove = add_accept_handler(sock, lambda c, a: c.close())
        client = socket.create_connection(("127.0.0.1", port))
        try:
            for _ in range(1000):
                if sock.accept_calls:
                    break
                await asyncio.sleep(0.001)
            remove()
            await asyncio.sleep(0.05)
            assert sock.accept_calls == 1
            assert sock.fileno() not in IOLoop.current().handlers
        finally:
            client.close()
            sock.close()

    with caplog.at_level(logging.CRITICAL, logger="embedtornado.general"):
        asyncio.run(main())


def test_accept_other_errors_are_not_swallowed(caplog):
    async def main():
        sock = _flaky_listener([errno.EINVAL])
        port = sock.getsockname()[1]
        accepted = []
        done = asyncio.Event()

        def on_conn(conn, address):
            accepted.append(conn)
            done.set()

        add_accept_handler(sock, on_conn)
        client = socket.create_connection(("127.0.0.1", port))
        try:
            await asyncio.wait_for(done.wait(), 20)
        finally:
            client.close()
            close_all(accepted)
            sock.close()

    with caplog.at_level(logging.ERROR):
        asyncio.run(main())
    [record] = [r for r in caplog.records if r.name == "embedtornado.application"]
    assert record.exc_info[1].errno == errno.EINVAL


def test_accept_error_log_rate_limit(caplog):
    clock = [100.0]
    log = netutil._AcceptErrorLog(60.0, clock=lambda: clock[0])
    with socket.socket() as sock:
        exc = OSError(errno.EMFILE, "Too many open files")
        with caplog.at_level(logging.ERROR, logger="embedtornado.general"):
            log.report(sock, exc, 1.0)
            for _ in range(5):
                clock[0] += 10
                log.report(sock, exc, 1.0)  # 110..150: suppressed
            clock[0] = 160.0
            log.report(sock, exc, 1.0)  # a minute later: logged, counts 5
    messages = [r.getMessage() for r in caplog.records if r.name == "embedtornado.general"]
    assert len(messages) == 2
    assert "(0 similar errors" in messages[0]
    assert "(5 similar errors" in messages[1]


def test_accept_emfile_with_setrlimit_backs_off(tmp_path):
    """Real EMFILE (RLIMIT_NOFILE exhausted) in a separate process.

    The parent connects N clients to a child's listener; the child accepts
    one, exhausts its descriptors, and must then neither spin on accept()
    nor log every wakeup. Once descriptors are freed it accepts the rest.
    """
    script = textwrap.dedent(
        r"""
        import asyncio, errno, logging, os, resource, socket, sys, time
        logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                            format="%(name)s %(levelname)s %(message)s")
        from embedtornado import netutil

        netutil._ACCEPT_RETRY_DELAY = 0.05
        N = int(sys.argv[1])


        class CountingSocket(socket.socket):
            calls = 0

            def accept(self):
                CountingSocket.calls += 1
                return super().accept()


        async def main():
            [plain] = netutil.bind_sockets(0, "127.0.0.1")
            sock = CountingSocket(plain.family, plain.type, plain.proto,
                                  fileno=plain.detach())
            accepted = []
            netutil.add_accept_handler(sock, lambda conn, addr: accepted.append(conn))
            # Use up every descriptor under a low limit before any client
            # connects, then tell the parent our port.
            soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, hard), hard))
            filler = []
            while True:
                try:
                    filler.append(os.dup(0))
                except OSError as e:
                    assert e.errno == errno.EMFILE, e
                    break
            sys.stdout.write("%d\n" % sock.getsockname()[1])
            sys.stdout.flush()
            # Block (loop included) until the parent says its N clients are
            # connected; they wait in the kernel's accept queue meanwhile.
            assert sys.stdin.readline().strip() == "connected"
            await asyncio.sleep(0.6)
            calls_while_starved = CountingSocket.calls
            starved_accepted = len(accepted)
            for fd in filler:
                os.close(fd)
            deadline = time.monotonic() + 20
            while len(accepted) < N and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            print("starved_accepted", starved_accepted)
            print("calls_while_starved", calls_while_starved)
            print("accepted", len(accepted))
            for s in accepted:
                s.close()
            sock.close()


        asyncio.run(main())
        """
    )
    n = 5
    env = dict(os.environ, PYTHONPATH=SRC_DIR)
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(n)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.PIPE,
        text=True,
        env=env,
    )
    clients = []
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        clients = [socket.create_connection(("127.0.0.1", port), timeout=20) for _ in range(n)]
        out, err = proc.communicate("connected\n", timeout=40)
    finally:
        close_all(clients)
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    result = dict(line.split() for line in out.splitlines())
    assert result["starved_accepted"] == "0"
    assert result["accepted"] == str(n)
    # ~12 retries in 0.6 s at a 0.05 s delay; a spinning loop makes
    # hundreds of thousands. The bound is loose on purpose.
    assert int(result["calls_while_starved"]) < 200
    emfile_lines = [line for line in err.splitlines() if "accept() on" in line]
    assert len(emfile_lines) == 1, err
    assert "Too many open files" in emfile_lines[0]
    assert emfile_lines[0].startswith("embedtornado.general ERROR")


# --- is_valid_ip ----------------------------------------------------------------

IP_CASES = [
    "127.0.0.1",
    "4.4.4.4",
    "::1",
    "::",
    "2620:0:1cfe:face:b00c::3",
    "::ffff:1.2.3.4",
    "",
    "www.google.com",
    "localhost",
    "4.4.4.4<",
    " 127.0.0.1",
    "127.0.0.1\x00",
    "2620:0:1cfe:face:b00c::3%",
    "1" * 70,
    "a" * 100 + ".com",
    "1.2.3",
    "fe80::1%lo",
]


@pytest.mark.parametrize("ip", IP_CASES)
def test_is_valid_ip_matches_tornado(ip):
    assert is_valid_ip(ip) == tornado.netutil.is_valid_ip(ip)


def test_is_valid_ip_basics():
    assert is_valid_ip("127.0.0.1")
    assert is_valid_ip("::1")
    assert not is_valid_ip("")
    assert not is_valid_ip("localhost")
    assert not is_valid_ip("127.0.0.1\x00")


# --- resolvers ------------------------------------------------------------------


def test_resolver_default_is_loop_resolver():
    r = Resolver()
    assert isinstance(r, DefaultLoopResolver)
    r.close()


@pytest.mark.parametrize(
    "factory",
    [
        DefaultLoopResolver,
        DefaultExecutorResolver,
        BlockingResolver,
        ExecutorResolver,
        lambda: ThreadedResolver(num_threads=2),
    ],
    ids=["loop", "executor", "blocking", "executor-dummy", "threaded"],
)
def test_resolvers_resolve_literal_and_localhost(factory):
    async def main():
        r = factory()
        try:
            result = await r.resolve("127.0.0.1", 80)
            assert result == [(socket.AF_INET, ("127.0.0.1", 80))]
            result = await r.resolve("localhost", 8080, socket.AF_INET)
            assert (socket.AF_INET, ("127.0.0.1", 8080)) in result
            theirs = await tornado.netutil.DefaultLoopResolver().resolve(
                "localhost", 8080, socket.AF_INET
            )
            assert sorted(result) == sorted(theirs)
        finally:
            r.close()

    asyncio.run(main())


def test_resolver_failure_raises_oserror():
    async def main():
        with pytest.raises(OSError):
            # NUMERICHOST-style garbage fails locally, without DNS.
            await DefaultLoopResolver().resolve("1.2.3.4.5.6::x", 80, socket.AF_INET6)

    asyncio.run(main())


def test_override_resolver():
    class Recorder(Resolver):
        def initialize(self):
            self.calls = []
            self.closed = False

        async def resolve(self, host, port, family=socket.AF_UNSPEC):
            self.calls.append((host, port, family))
            return [(family, (host, port))]

        def close(self):
            self.closed = True

    inner = Recorder()
    r = OverrideResolver(
        resolver=inner,
        mapping={
            "example.com": "127.0.1.1",
            ("login.example.com", 443): ("localhost", 1443),
            ("login.example.com", 443, socket.AF_INET6): ("::1", 1443),
        },
    )

    async def main():
        await r.resolve("example.com", 80)
        await r.resolve("login.example.com", 443)
        await r.resolve("login.example.com", 443, socket.AF_INET6)
        await r.resolve("other.com", 1)

    asyncio.run(main())
    assert inner.calls == [
        ("127.0.1.1", 80, socket.AF_UNSPEC),
        ("localhost", 1443, socket.AF_UNSPEC),
        ("::1", 1443, socket.AF_INET6),
        ("other.com", 1, socket.AF_UNSPEC),
    ]
    r.close()
    assert inner.closed


def test_executor_resolver_closes_its_executor():
    import concurrent.futures

    pool = concurrent.futures.ThreadPoolExecutor(1)
    ExecutorResolver(executor=pool, close_executor=True).close()
    with pytest.raises(RuntimeError):
        pool.submit(lambda: None)
    pool = concurrent.futures.ThreadPoolExecutor(1)
    ExecutorResolver(executor=pool, close_executor=False).close()
    assert pool.submit(lambda: 1).result() == 1
    pool.shutdown()


def test_threaded_resolver_shares_pool():
    a = ThreadedResolver()
    b = ThreadedResolver()
    assert a.executor is b.executor is ThreadedResolver._threadpool
    a.close()
    b.close()
    assert ThreadedResolver._threadpool is not None  # not shut down by close


# --- TLS ------------------------------------------------------------------------


def test_ssl_options_to_context_passthrough_and_defaults():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    assert ssl_options_to_context(ctx) is ctx
    server = ssl_options_to_context({}, server_side=True)
    assert server.protocol == ssl.PROTOCOL_TLS_SERVER
    assert server.options & ssl.OP_NO_COMPRESSION
    client = ssl_options_to_context({}, server_side=False)
    assert client.protocol == ssl.PROTOCOL_TLS_CLIENT
    assert client.check_hostname
    with pytest.warns(DeprecationWarning):
        generic = ssl_options_to_context({})
    assert generic.protocol == ssl.PROTOCOL_TLS


def test_ssl_options_to_context_full_dict():
    opts = {
        "certfile": CERTFILE,
        "keyfile": KEYFILE,
        "cert_reqs": ssl.CERT_NONE,
        "ca_certs": CERTFILE,
        "ciphers": "ECDHE+AESGCM",
    }
    client = ssl_options_to_context(dict(opts), server_side=False)
    assert client.verify_mode == ssl.CERT_NONE
    assert not client.check_hostname
    server = ssl_options_to_context(
        {
            "certfile": CERTFILE,
            "keyfile": KEYFILE,
            "cert_reqs": ssl.CERT_REQUIRED,
            "ca_certs": CERTFILE,
        },
        server_side=True,
    )
    assert server.verify_mode == ssl.CERT_REQUIRED
    theirs = tornado.netutil.ssl_options_to_context(dict(opts), server_side=False)
    assert (client.protocol, client.verify_mode, client.check_hostname, client.options) == (
        theirs.protocol,
        theirs.verify_mode,
        theirs.check_hostname,
        theirs.options,
    )


def test_ssl_options_to_context_unknown_key():
    with pytest.raises(AssertionError):
        ssl_options_to_context({"certfile": CERTFILE, "bogus": 1}, server_side=True)


def test_ssl_wrap_socket_handshake():
    a, b = socket.socketpair()
    a.settimeout(20)
    b.settimeout(20)
    server_opts = {"certfile": CERTFILE, "keyfile": KEYFILE}
    client_opts = {"cert_reqs": ssl.CERT_NONE}
    results: dict = {}

    def serve():
        try:
            s = ssl_wrap_socket(a, server_opts, server_side=True)
            results["server"] = s.recv(5)
            s.sendall(b"pong!")
            s.close()
        except Exception as e:  # reported by the assertion below
            results["server_error"] = e

    t = threading.Thread(target=serve)
    t.start()
    try:
        c = ssl_wrap_socket(b, client_opts, server_hostname="foo.example.com", server_side=False)
        c.sendall(b"ping!")
        assert c.recv(5) == b"pong!"
        assert isinstance(c, ssl.SSLSocket)
        c.close()
    finally:
        t.join(30)
        a.close()
        b.close()
    assert "server_error" not in results, results
    assert results["server"] == b"ping!"


def test_public_names_match_tornado():
    for name in (
        "bind_sockets",
        "bind_unix_socket",
        "add_accept_handler",
        "is_valid_ip",
        "Resolver",
        "DefaultExecutorResolver",
        "DefaultLoopResolver",
        "ExecutorResolver",
        "BlockingResolver",
        "ThreadedResolver",
        "OverrideResolver",
        "ssl_options_to_context",
        "ssl_wrap_socket",
        "_DEFAULT_BACKLOG",
        "_client_ssl_defaults",
        "_server_ssl_defaults",
    ):
        assert hasattr(tornado.netutil, name), name
        assert hasattr(netutil, name), name
    assert netutil._DEFAULT_BACKLOG == tornado.netutil._DEFAULT_BACKLOG
    assert netutil._client_ssl_defaults().options & ssl.OP_NO_COMPRESSION
    assert netutil._server_ssl_defaults().options & ssl.OP_NO_COMPRESSION
