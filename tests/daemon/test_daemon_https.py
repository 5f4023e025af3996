"""The daemon's HTTPS: a generated certificate, reload on SIGHUP, the redirect port, HSTS.

The real daemon runs as a subprocess (``daemonctl.Daemon``); certificates are
made at test time with ``embedtornado._tls.make_self_signed``.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import stat

import pytest
from daemonctl import BASE_CONFIG, TIMEOUT, Daemon, FakeManager, listening_socket

from embedtornado import _tls


def _can_make_certs() -> bool:
    try:
        import cryptography  # noqa: F401
    except ImportError:
        return shutil.which("openssl") is not None
    return True


pytestmark = pytest.mark.skipif(not _can_make_certs(),
                                reason="neither cryptography nor openssl is installed")


@pytest.fixture
def manager(tmp_path):
    m = FakeManager(tmp_path)
    yield m
    m.close()


def https_conn(port: int, cafile: str) -> http.client.HTTPSConnection:
    ctx = ssl.create_default_context(cafile=cafile)
    return http.client.HTTPSConnection("localhost", port, timeout=TIMEOUT, context=ctx)


def get(conn: http.client.HTTPConnection, path: str, method: str = "GET"):
    conn.request(method, path)
    resp = conn.getresponse()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()


def peer_der(conn: http.client.HTTPSConnection) -> bytes:
    return conn.sock.getpeercert(binary_form=True)  # type: ignore[union-attr]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(tmp_path, manager, config, env=None):
    (tmp_path / "plugins").mkdir(exist_ok=True)
    return Daemon(tmp_path, BASE_CONFIG + config, manager=manager, sock=listening_socket(),
                  env=env)


def test_self_signed_certificate_made_on_first_start(tmp_path, manager):
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    d = _start(tmp_path, manager, "https = True\nhsts_max_age = 600\n",
               env={"STATE_DIRECTORY": str(state)})
    try:
        manager.wait_for("READY", "1")
        cert, key = state / "tls" / "server.crt", state / "tls" / "server.key"
        assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
        conn = https_conn(d.port, str(cert))  # verifies "localhost" against the SANs
        status, headers, body = get(conn, "/healthz")
        assert status == 200 and json.loads(body)["status"] == "ok"
        assert headers["strict-transport-security"] == "max-age=600"
        conn.close()
        # Plain HTTP on the TLS port: a 400 and a close.
        plain = http.client.HTTPConnection("127.0.0.1", d.port, timeout=TIMEOUT)
        status, _, body = get(plain, "/healthz")
        assert status == 400 and b"plain HTTP" in body
        plain.close()
        d.signal(signal.SIGTERM)
        assert d.wait() == 0
        assert "Made a self-signed certificate" in d.output()[1]
    finally:
        d.stop()
    # The next start keeps the same certificate.
    before = cert.read_bytes()
    d = _start(tmp_path, manager, "https = True\n", env={"STATE_DIRECTORY": str(state)})
    try:
        manager.wait_for("READY", "1", after=len(manager.messages))
        d.signal(signal.SIGTERM)
        assert d.wait() == 0
        assert cert.read_bytes() == before
        assert "Made a self-signed certificate" not in d.output()[1]
    finally:
        d.stop()


def test_https_without_files_or_state_directory_is_a_config_error(tmp_path, manager):
    d = _start(tmp_path, manager, "https = True\n")
    try:
        assert d.wait() != 0
        err = d.output()[1]
        assert "option 'https'" in err and "ssl_certfile" in err and "STATE_DIRECTORY" in err
    finally:
        d.stop()


def test_sighup_reloads_the_certificate_without_dropping_connections(tmp_path, manager):
    tls = tmp_path / "tls"
    # Different subjects: a CA file finds an issuer by its name.
    _tls.make_self_signed(str(tls / "a.crt"), str(tls / "a.key"), ["first.test", "localhost"],
                          ["127.0.0.1"])
    _tls.make_self_signed(str(tls / "b.crt"), str(tls / "b.key"), ["second.test", "localhost"],
                          ["127.0.0.1"])
    shutil.copy(tls / "a.crt", tls / "server.crt")
    shutil.copy(tls / "a.key", tls / "server.key")
    both = tmp_path / "both.pem"
    both.write_bytes((tls / "a.crt").read_bytes() + (tls / "b.crt").read_bytes())
    d = _start(tmp_path, manager,
               'ssl_certfile = "tls/server.crt"\nssl_keyfile = "tls/server.key"\n')
    try:
        manager.wait_for("READY", "1")
        old = https_conn(d.port, str(both))
        assert get(old, "/healthz")[0] == 200
        cert_a = peer_der(old)
        shutil.copy(tls / "b.crt", tls / "server.crt")
        shutil.copy(tls / "b.key", tls / "server.key")
        mark = len(manager.messages)
        d.signal(signal.SIGHUP)
        manager.wait_for("RELOADING", "1", after=mark)
        ready = manager.wait_for("READY", "1", after=mark)
        assert "reload failed" not in ready.get("STATUS", "")
        new = https_conn(d.port, str(both))
        assert get(new, "/healthz")[0] == 200
        assert peer_der(new) != cert_a
        assert peer_der(new) == ssl.PEM_cert_to_DER_cert((tls / "b.crt").read_text())
        # The connection from before the reload is still open and served.
        assert get(old, "/healthz")[0] == 200
        assert peer_der(old) == cert_a
        old.close()
        new.close()
        # A broken certificate on reload: refused, the previous one stays.
        (tls / "server.crt").write_text("not a certificate\n")
        mark = len(manager.messages)
        d.signal(signal.SIGHUP)
        ready = manager.wait_for("READY", "1", after=mark)
        assert "reload failed" in ready["STATUS"] and "ssl_certfile" in ready["STATUS"]
        conn = https_conn(d.port, str(both))
        assert get(conn, "/healthz")[0] == 200
        assert peer_der(conn) == ssl.PEM_cert_to_DER_cert((tls / "b.crt").read_text())
        conn.close()
        d.signal(signal.SIGTERM)
        assert d.wait() == 0
    finally:
        d.stop()


def test_redirect_port_and_legacy_option_names(tmp_path, manager):
    tls = tmp_path / "tls"
    _tls.make_self_signed(str(tls / "s.crt"), str(tls / "s.key"), ["localhost"], ["127.0.0.1"])
    rport = free_port()
    d = _start(tmp_path, manager,
               f'certfile = "tls/s.crt"\nkeyfile = "tls/s.key"\nredirect_http_port = {rport}\n'
               'address = "127.0.0.1"\n')
    try:
        manager.wait_for("READY", "1")
        plain = http.client.HTTPConnection("127.0.0.1", rport, timeout=TIMEOUT)
        status, headers, _ = get(plain, "/some/page?x=1")
        assert status == 301
        assert headers["location"] == f"https://127.0.0.1:{d.port}/some/page?x=1"
        assert "strict-transport-security" not in headers
        status, headers, _ = get(plain, "/form", method="POST")
        assert status == 308
        assert headers["location"] == f"https://127.0.0.1:{d.port}/form"
        plain.close()
        conn = https_conn(d.port, str(tls / "s.crt"))
        status, headers, _ = get(conn, "/healthz")
        assert status == 200 and "strict-transport-security" not in headers  # HSTS is opt-in
        conn.close()
        d.signal(signal.SIGTERM)
        assert d.wait() == 0
    finally:
        d.stop()


def test_redirect_port_needs_https(tmp_path, manager):
    d = _start(tmp_path, manager, f"redirect_http_port = {free_port()}\n")
    try:
        assert d.wait() != 0
        assert "option 'redirect_http_port'" in d.output()[1]
    finally:
        d.stop()


def test_ssl_client_ca_requires_client_certificates(tmp_path, manager):
    tls = tmp_path / "tls"
    _tls.make_self_signed(str(tls / "s.crt"), str(tls / "s.key"), ["localhost"], ["127.0.0.1"])
    _tls.make_self_signed(str(tls / "admin.crt"), str(tls / "admin.key"), ["admin"], [],
                          client=True)
    d = _start(tmp_path, manager, 'ssl_certfile = "tls/s.crt"\nssl_keyfile = "tls/s.key"\n'
                                  'ssl_client_ca = "tls/admin.crt"\n')
    try:
        manager.wait_for("READY", "1")
        ctx = ssl.create_default_context(cafile=str(tls / "s.crt"))
        with pytest.raises((ssl.SSLError, ConnectionError)):
            conn = http.client.HTTPSConnection("localhost", d.port, timeout=TIMEOUT, context=ctx)
            try:
                get(conn, "/healthz")
            finally:
                conn.close()
        ctx.load_cert_chain(str(tls / "admin.crt"), str(tls / "admin.key"))
        conn = http.client.HTTPSConnection("localhost", d.port, timeout=TIMEOUT, context=ctx)
        assert get(conn, "/healthz")[0] == 200
        conn.close()
        d.signal(signal.SIGTERM)
        assert d.wait() == 0
    finally:
        d.stop()


def test_check_config_loads_the_certificate(tmp_path):
    from daemonctl import run_cli

    from embedtornado.daemon.config import EX_CONFIG

    (tmp_path / "plugins").mkdir()
    (tmp_path / "bad.crt").write_text("not a certificate\n")
    (tmp_path / "bad.key").write_text("not a key\n")
    conf = tmp_path / "c.conf"
    conf.write_text(BASE_CONFIG + 'ssl_certfile = "bad.crt"\nssl_keyfile = "bad.key"\n')
    r = run_cli([f"--config={conf}", "--check-config"], tmp_path)
    assert r.returncode == EX_CONFIG
    assert "option 'ssl_certfile': cannot load" in r.stderr
    _tls.make_self_signed(str(tmp_path / "good.crt"), str(tmp_path / "good.key"), ["x"])
    conf.write_text(BASE_CONFIG + 'ssl_certfile = "good.crt"\nssl_keyfile = "good.key"\n')
    r = run_cli([f"--config={conf}", "--check-config"], tmp_path)
    assert r.returncode == 0, r.stderr
    # https = True with no certificate yet: fine, and nothing is created.
    state = tmp_path / "state"
    state.mkdir()
    conf.write_text(BASE_CONFIG + "https = True\n")
    r = run_cli([f"--config={conf}", "--check-config"], tmp_path,
                env={"STATE_DIRECTORY": str(state)})
    assert r.returncode == 0, r.stderr
    assert list(state.iterdir()) == []
