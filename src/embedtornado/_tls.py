"""TLS for servers: secure contexts, the first-byte check, bounded handshakes, certificates.

`.TCPServer` (and so `.HTTPServer`) sends every connection accepted on a TLS
port through :func:`accept`, which waits (bounded by the handshake timeout)
for the client's first byte. A TLS client starts with a handshake record
(``0x16``); a client that starts with an ASCII letter is speaking plain HTTP
to the TLS port and gets :data:`PLAIN_HTTP_RESPONSE` and a close, as nginx
answers it, instead of a handshake error or a hang. Everything else goes to
``loop.connect_accepted_socket(..., ssl=context, ssl_handshake_timeout=...)``,
where the standard library's ``SSLProtocol`` (MemoryBIO) runs the handshake
on the loop while other clients are served::

    from embedtornado import _tls

    ctx = _tls.server_context({"certfile": "cert.pem", "keyfile": "key.pem"})
    _tls.make_self_signed("cert.pem", "key.pem", ["device.local"], ["192.168.1.2"])

:func:`make_self_signed` writes a certificate for a device's names and
addresses with the `cryptography` package if it is installed, else with the
``openssl`` command (the key file is created with mode 0600).
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import subprocess
from collections.abc import Callable, Iterable
from typing import Any

from embedtornado import _lazy
from embedtornado.log import gen_log

# ipaddress, shutil and tempfile serve only the certificate helpers; a server
# does not import them (tests/test_startup.py).
__getattr__ = _lazy.module_getattr(
    __name__, {"ipaddress": "ipaddress", "shutil": "shutil", "tempfile": "tempfile"})

__all__ = [
    "DEFAULT_HANDSHAKE_TIMEOUT",
    "PLAIN_HTTP_RESPONSE",
    "CertificateError",
    "accept",
    "harden_server_context",
    "make_self_signed",
    "server_context",
]

#: Seconds a client has, from accept, to send its first byte and finish the
#: TLS handshake (`.HTTPServer`'s ``ssl_handshake_timeout`` default).
DEFAULT_HANDSHAKE_TIMEOUT = 10.0

_PLAIN_BODY = b"400 Bad Request: the plain HTTP request was sent to an HTTPS port\n"

#: What a plain-HTTP request on a TLS port gets (then the connection closes).
PLAIN_HTTP_RESPONSE = (
    b"HTTP/1.1 400 Bad Request\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Connection: close\r\n"
    b"Content-Length: " + str(len(_PLAIN_BODY)).encode() + b"\r\n\r\n" + _PLAIN_BODY
)

# Bytes read (and dropped) from a plain-HTTP client before and after the
# answer, and how long to wait for it to close: reading its request first
# keeps the kernel from answering our close with a reset that could
# destroy the 400 before the client reads it.
_PLAIN_DRAIN_LIMIT = 64 * 1024
_PLAIN_LINGER = 2.0

# A TLS record never starts with these (0x14-0x17 are record types).
_PLAIN_FIRST_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


class CertificateError(Exception):
    """A certificate could not be made (neither `cryptography` nor ``openssl``)."""


# --- contexts ---------------------------------------------------------------------------


def harden_server_context(ctx: ssl.SSLContext) -> ssl.SSLContext:
    """Apply embedtornado's server defaults to *ctx* (in place) and return it.

    TLS 1.2 is the oldest version offered, compression and renegotiation
    are off, and the server's cipher order wins.
    """
    if ctx.minimum_version < ssl.TLSVersion.TLSv1_2 or \
            ctx.minimum_version == ssl.TLSVersion.MINIMUM_SUPPORTED:
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.options |= (getattr(ssl, "OP_NO_COMPRESSION", 0)
                    | getattr(ssl, "OP_CIPHER_SERVER_PREFERENCE", 0)
                    | getattr(ssl, "OP_NO_RENEGOTIATION", 0))
    return ctx


def server_context(ssl_options: dict[str, Any] | ssl.SSLContext) -> ssl.SSLContext:
    """The server `ssl.SSLContext` for Tornado's ``ssl_options``.

    A context is used as it is (the caller's choices stand). A dict
    (``certfile``, ``keyfile``, ``cert_reqs``, ``ca_certs``, ``ciphers``,
    ``ssl_version``) becomes a context with `harden_server_context`'s
    defaults, unless it names an ``ssl_version`` (then only compression is
    turned off, as in Tornado).
    """
    from embedtornado import netutil

    return netutil.ssl_options_to_context(ssl_options, server_side=True)


def load_server_context(certfile: str, keyfile: str | None,
                        ca_certs: str | None = None,
                        cert_reqs: ssl.VerifyMode | None = None) -> ssl.SSLContext:
    """A hardened server context from PEM files (what the daemon serves with)."""
    options: dict[str, Any] = {"certfile": certfile, "keyfile": keyfile}
    if ca_certs:
        options["ca_certs"] = ca_certs
    if cert_reqs is not None:
        options["cert_reqs"] = cert_reqs
    return server_context(options)


# --- accepting a connection on a TLS port -------------------------------------------------


async def accept(loop: asyncio.AbstractEventLoop, sock: socket.socket,
                 context: ssl.SSLContext, protocol_factory: Callable[[], Any],
                 handshake_timeout: float | None) -> tuple[Any, Any] | None:
    """Serve TLS on the accepted *sock*, or answer plain HTTP with a 400.

    Returns the ``(transport, protocol)`` pair, or ``None`` when the client
    sent plain HTTP, closed, or sent nothing within *handshake_timeout*
    (which bounds the wait for the first byte and the handshake together).

    :raises OSError: or `ssl.SSLError`, when the handshake fails (or times out).
    """
    try:
        remaining = await sniff(loop, sock, handshake_timeout)
    except (ConnectionRefusedError, ConnectionAbortedError):
        return None  # answered (plain HTTP) or closed (silent, gone)
    return await loop.connect_accepted_socket(  # type: ignore[no-any-return]
        protocol_factory, sock, ssl=context, ssl_handshake_timeout=remaining)


async def sniff(loop: asyncio.AbstractEventLoop, sock: socket.socket,
                handshake_timeout: float | None) -> float | None:
    """The first-byte check alone (for `.TCPServer.handle_stream` servers).

    Returns the seconds left of *handshake_timeout* for the handshake (or
    ``None``: no limit) when the client starts like TLS; raises `OSError`
    after answering plain HTTP with a 400, or closing a silent or gone client.
    """
    timeout = handshake_timeout if handshake_timeout and handshake_timeout > 0 else None
    started = loop.time()
    sock.setblocking(False)
    kind = _first_byte_kind(sock)
    if kind is None:
        try:
            kind = await _wait_first_byte(loop, sock, timeout)
        except BaseException:  # cancelled: the server or the loop is going away
            sock.close()
            raise
    if kind == "plain":
        _refuse_plain_http(loop, sock)
        raise ConnectionRefusedError("plain HTTP request on a TLS port (answered 400)")
    if kind != "tls":
        sock.close()
        raise ConnectionAbortedError("no TLS handshake started in time" if kind == "timeout"
                                     else "the client went away before the handshake")
    if timeout is None:
        return None
    return max(timeout - (loop.time() - started), 0.001)


def _first_byte_kind(sock: socket.socket) -> str | None:
    """``tls``, ``plain``, ``gone`` (EOF or error), or ``None`` (nothing yet)."""
    try:
        first = sock.recv(1, socket.MSG_PEEK)
    except (BlockingIOError, InterruptedError):
        return None
    except OSError:
        return "gone"
    if not first:
        return "gone"
    return "plain" if first[0] in _PLAIN_FIRST_BYTES else "tls"


def _wait_first_byte(loop: asyncio.AbstractEventLoop, sock: socket.socket,
                     timeout: float | None) -> asyncio.Future[str]:
    fut: asyncio.Future[str] = loop.create_future()
    fd = sock.fileno()
    timer: asyncio.TimerHandle | None = None

    def done(kind: str) -> None:
        loop.remove_reader(fd)
        if timer is not None:
            timer.cancel()
        if not fut.done():
            fut.set_result(kind)

    def readable() -> None:
        kind = _first_byte_kind(sock)
        if kind is not None:
            done(kind)

    loop.add_reader(fd, readable)
    if timeout is not None:
        timer = loop.call_later(timeout, done, "timeout")

    def cancelled(f: asyncio.Future[str]) -> None:
        if f.cancelled():
            loop.remove_reader(fd)
            if timer is not None:
                timer.cancel()

    fut.add_done_callback(cancelled)
    return fut


def _refuse_plain_http(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> None:
    """Read what the client sent, answer 400, half-close, and close once it has."""
    gen_log.debug("Plain HTTP request on a TLS port from %s", _peer(sock))
    answer_and_linger(loop, sock, PLAIN_HTTP_RESPONSE, drain_limit=_PLAIN_DRAIN_LIMIT,
                      linger=_PLAIN_LINGER)


def answer_and_linger(loop: asyncio.AbstractEventLoop, sock: socket.socket, payload: bytes, *,
                      drain_limit: int, linger: float,
                      on_done: Callable[[], None] | None = None) -> bool:
    """Send *payload* on a bare accepted socket, half-close, close once the peer has.

    What the client already sent (up to *drain_limit* bytes) is read first and
    later input is discarded until the peer's EOF, *drain_limit* bytes or
    *linger* seconds: closing with unread input would reset the connection
    and could destroy the answer before the client reads it. Returns False
    when the socket failed and was closed at once; else *on_done* runs when
    the linger ends (never before this returns).
    """
    try:
        sock.setblocking(False)
        received = _drain(sock, drain_limit)
        sock.send(payload)
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        sock.close()
        return False
    # From here the loop owns the bare descriptor: no socket object is left
    # to warn about if the loop closes before the linger ends.
    fd = sock.detach()
    left = max(drain_limit - received, 4096)
    done = False

    def finish() -> None:
        nonlocal done
        if not done:
            done = True
            timer.cancel()
            loop.remove_reader(fd)
            os.close(fd)
            if on_done is not None:
                on_done()

    def readable() -> None:
        nonlocal left
        try:
            data = os.read(fd, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        left -= len(data)
        if not data or left <= 0:
            finish()

    timer = loop.call_later(linger, finish)
    loop.add_reader(fd, readable)
    return True


def _drain(sock: socket.socket, limit: int) -> int:
    total = 0
    while total < limit:
        try:
            data = sock.recv(min(65536, limit - total))
        except OSError:
            break
        if not data:
            break
        total += len(data)
    return total


def _peer(sock: socket.socket) -> Any:
    try:
        return sock.getpeername()
    except OSError:
        return "?"


# --- self-signed certificates ---------------------------------------------------------


def device_names(extra_addresses: Iterable[str] = ()) -> tuple[list[str], list[str]]:
    """This machine's host names and addresses, for a self-signed certificate.

    The host name (and ``localhost``), the loopback addresses, the address
    that outgoing traffic would leave from, and *extra_addresses* (the
    address the server is bound to, when it names one). Nothing here waits
    for DNS.
    """
    names: list[str] = []
    host = socket.gethostname()
    for name in (host, host.split(".")[0] + ".local" if host else "", "localhost"):
        if name and name not in names:
            names.append(name)
    addresses = ["127.0.0.1", "::1"]
    for family, probe in ((socket.AF_INET, "192.0.2.1"), (socket.AF_INET6, "2001:db8::1")):
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as s:
                s.connect((probe, 9))  # UDP: sets a route, sends nothing
                addr = s.getsockname()[0]
        except OSError:
            continue
        if addr not in addresses:
            addresses.append(addr)
    import ipaddress

    for addr in extra_addresses:
        try:
            ipaddress.ip_address(addr)
        except ValueError:
            continue
        if addr not in addresses and not ipaddress.ip_address(addr).is_unspecified:
            addresses.append(addr)
    return names, addresses


def make_self_signed(certfile: str, keyfile: str, names: Iterable[str],
                     addresses: Iterable[str] = (), days: int = 3650,
                     use_cryptography: bool | None = None, client: bool = False) -> str:
    """Write a self-signed certificate (EC P-256) for *names* and *addresses*.

    The first name is the subject's common name; every name and address is a
    subjectAltName. The key file is created with mode 0600; both files are
    written to temporary names beside their targets and renamed into place.

    :arg use_cryptography: ``None`` uses `cryptography` when importable,
        else the ``openssl`` command; ``True``/``False`` forces one.
    :arg client: a client certificate (extended key usage clientAuth, not
        serverAuth).
    :returns: ``"cryptography"`` or ``"openssl"``: what made it.
    :raises CertificateError: when neither is available, or either fails.
    """
    names = [n for n in names if n]
    addresses = list(addresses)
    if not names:
        names = ["localhost"]
    if use_cryptography is None:
        try:
            import cryptography  # noqa: F401
        except ImportError:
            use_cryptography = False
        else:
            use_cryptography = True
    import shutil
    import tempfile

    for path in (certfile, keyfile):
        os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o700, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix=".selfsigned-", dir=os.path.dirname(os.path.abspath(keyfile)))
    tmp_cert = os.path.join(workdir, "cert.pem")
    tmp_key = os.path.join(workdir, "key.pem")
    try:
        if use_cryptography:
            _make_with_cryptography(tmp_cert, tmp_key, names, addresses, days, client)
            how = "cryptography"
        else:
            _make_with_openssl(workdir, tmp_cert, tmp_key, names, addresses, days, client)
            how = "openssl"
        os.chmod(tmp_key, 0o600)
        os.chmod(tmp_cert, 0o644)
        os.replace(tmp_key, keyfile)
        os.replace(tmp_cert, certfile)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return how


def _make_with_cryptography(certfile: str, keyfile: str, names: list[str],
                            addresses: list[str], days: int, client: bool) -> None:
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0][:64]),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "embedtornado device")])
    alt: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
    alt += [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH if client
                                              else ExtendedKeyUsageOID.SERVER_AUTH]),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    fd = os.open(keyfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    with open(certfile, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))


def _make_with_openssl(workdir: str, certfile: str, keyfile: str, names: list[str],
                       addresses: list[str], days: int, client: bool) -> None:
    import shutil

    openssl = shutil.which("openssl")
    if openssl is None:
        raise CertificateError(
            "cannot make a self-signed certificate: neither the Python package "
            "'cryptography' nor the 'openssl' command is installed "
            "(install one, e.g. apt install openssl, or set ssl_certfile/ssl_keyfile)")
    alt = ",".join([f"DNS:{n}" for n in names] + [f"IP:{a}" for a in addresses])
    # Our own config file: the system one may add CA:TRUE extensions.
    conf = os.path.join(workdir, "req.cnf")
    with open(conf, "w", encoding="ascii") as f:
        f.write("[req]\ndistinguished_name = dn\nx509_extensions = ext\nprompt = no\n"
                f"[dn]\nCN = {names[0][:64]}\nO = embedtornado device\n"
                f"[ext]\nsubjectAltName = {alt}\nbasicConstraints = critical,CA:FALSE\n"
                f"extendedKeyUsage = {'clientAuth' if client else 'serverAuth'}\n")
    old_umask = os.umask(0o077)
    try:
        result = subprocess.run(
            [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-sha256", "-days", str(days),
             "-config", conf, "-keyout", keyfile, "-out", certfile],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CertificateError(f"openssl failed: {exc}") from None
    finally:
        os.umask(old_umask)
    if result.returncode != 0:
        out = result.stdout.decode("utf-8", "replace").strip()
        raise CertificateError(f"openssl failed (status {result.returncode}): {out}")
