"""The daemon's HTTPS: certificate files, a self-signed certificate, redirect port, HSTS.

HTTPS is on when ``https = True`` or ``ssl_certfile`` is set::

    # /etc/embedtornado/embedtornado.conf
    https = True                 # no files named: a self-signed certificate
                                 # in $STATE_DIRECTORY/tls/ (made on first start)
    redirect_http_port = 80      # plain HTTP there only redirects to HTTPS
    hsts_max_age = 31536000      # opt-in Strict-Transport-Security

With ``https`` on and no ``ssl_certfile``/``ssl_keyfile``, the daemon uses
``$STATE_DIRECTORY/tls/server.crt`` and ``server.key``, and makes them on
first start for the device's host name and addresses (`embedtornado._tls.
make_self_signed`: the `cryptography` package if installed, else the
``openssl`` command; the key is mode 0600). ``SIGHUP`` reads the files again:
new handshakes use the new certificate, open connections are not touched.
``certfile``/``keyfile`` are the older names of ``ssl_certfile``/``ssl_keyfile``.
"""

from __future__ import annotations

import os
import socket
import ssl
from collections.abc import Mapping
from typing import Any

from embedtornado import _tls, netutil
from embedtornado.daemon.config import Config
from embedtornado.log import gen_log
from embedtornado.options import OptionParser

__all__ = ["bind_redirect", "build_context", "enabled", "ensure_certificate", "hsts_transform",
           "listen_port", "redirect_app", "tls_files"]

#: Where a generated certificate goes, under the state directory.
GENERATED_DIR = "tls"


def _option(o: OptionParser, new: str, old: str, cfg: Config) -> str | None:
    value, legacy = o[new], o[old]
    if value and legacy and cfg.resolve(value) != cfg.resolve(legacy):
        raise cfg.error(new, f"{new} and its older name {old} are both set, differently")
    return value or legacy  # type: ignore[no-any-return]


def enabled(o: OptionParser) -> bool:
    """Whether the main listener serves HTTPS."""
    return bool(o.https or o.ssl_certfile or o.certfile)


def tls_files(o: OptionParser, cfg: Config,
              environ: Mapping[str, str]) -> tuple[str, str, bool]:
    """``(certfile, keyfile, generated)``: the files to serve with.

    ``generated`` is true for the state-directory default (made if absent).

    :raises ConfigError: when HTTPS is on with no files and no state directory.
    """
    cert = _option(o, "ssl_certfile", "certfile", cfg)
    key = _option(o, "ssl_keyfile", "keyfile", cfg)
    if bool(cert) != bool(key):
        name = "ssl_certfile" if cert else "ssl_keyfile"
        raise cfg.error(name, "ssl_certfile and ssl_keyfile must be given together")
    if cert and key:
        return str(cfg.resolve(cert)), str(cfg.resolve(key)), False
    state = environ.get("STATE_DIRECTORY", "").split(":")[0]
    if not state:
        raise cfg.error("https", "HTTPS needs ssl_certfile and ssl_keyfile, or a state "
                                 "directory for a self-signed certificate ($STATE_DIRECTORY, "
                                 "set by systemd's StateDirectory=)")
    base = os.path.join(state, GENERATED_DIR)
    return os.path.join(base, "server.crt"), os.path.join(base, "server.key"), True


def ensure_certificate(o: OptionParser, cfg: Config, environ: Mapping[str, str],
                       bind_addresses: list[str] | None = None) -> tuple[str, str]:
    """The certificate files, made now when the generated default is missing."""
    cert, key, generated = tls_files(o, cfg, environ)
    if generated and not (os.path.exists(cert) and os.path.exists(key)):
        names, addresses = _tls.device_names(bind_addresses or [])
        try:
            how = _tls.make_self_signed(cert, key, names, addresses)
        except (_tls.CertificateError, OSError) as exc:
            raise cfg.error("https", f"cannot make a self-signed certificate in "
                                     f"{os.path.dirname(cert)}: {exc}") from None
        gen_log.info("Made a self-signed certificate %s (key %s, mode 0600) with %s for %s",
                     cert, key, how, ", ".join(names + addresses))
    return cert, key


def build_context(o: OptionParser, cfg: Config, environ: Mapping[str, str],
                  bind_addresses: list[str] | None = None) -> ssl.SSLContext | None:
    """The server context for the main listener, or ``None`` for plain HTTP.

    :raises ConfigError: for missing or unusable files (named, with the reason).
    """
    if not enabled(o):
        return None
    cert, key = ensure_certificate(o, cfg, environ, bind_addresses)
    options: dict[str, Any] = {"certfile": cert, "keyfile": key}
    if o.ssl_client_ca:
        options["ca_certs"] = str(cfg.resolve(o.ssl_client_ca))
        options["cert_reqs"] = ssl.CERT_REQUIRED
    try:
        return _tls.server_context(options)
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise cfg.error("ssl_certfile", f"cannot load {cert} / {key}: {exc}") from None


# --- HSTS --------------------------------------------------------------------------


def hsts_transform(max_age: int) -> type:
    """An output transform adding ``Strict-Transport-Security`` to HTTPS responses."""
    from embedtornado.web.transforms import OutputTransform

    value = f"max-age={int(max_age)}"

    class HSTSTransform(OutputTransform):
        def __init__(self, request: Any) -> None:
            self._https = request.protocol == "https"

        def transform_first_chunk(self, status_code: int, headers: Any, chunk: bytes,
                                  finishing: bool) -> tuple[int, Any, bytes]:
            if self._https and "Strict-Transport-Security" not in headers:
                headers["Strict-Transport-Security"] = value
            return status_code, headers, chunk

    return HSTSTransform


# --- the redirect port -------------------------------------------------------------------


def bind_redirect(o: OptionParser, cfg: Config,
                  passed: list[tuple[socket.socket, str]]) -> list[socket.socket]:
    """Sockets for the plain-HTTP redirect: a passed one named ``redirect``, else bound."""
    socks = [s for s, name in passed if name == "redirect"]
    if socks or not o.redirect_http_port:
        return socks
    if not enabled(o):
        raise cfg.error("redirect_http_port", "needs HTTPS on (https = True or ssl_certfile)")
    try:
        return netutil.bind_sockets(o.redirect_http_port, address=o.address or None,
                                    backlog=o.backlog)
    except OSError as exc:
        raise cfg.error("redirect_http_port", f"cannot listen: {exc}") from None


def redirect_app(https_port: int | None) -> Any:
    """An application answering every request with a redirect to the same URL over HTTPS.

    301 for GET and HEAD, 308 (method and body kept) for the rest.
    """
    from embedtornado.web import Application, RequestHandler

    class RedirectToHTTPS(RequestHandler):
        SUPPORTED_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")

        def prepare(self) -> None:
            host = self.request.host_name
            if ":" in host:  # an IPv6 literal
                host = f"[{host}]"
            port = "" if https_port in (None, 443) else f":{https_port}"
            status = 301 if self.request.method in ("GET", "HEAD") else 308
            self.redirect(f"https://{host}{port}{self.request.uri}", status=status)

    return Application([(r".*", RedirectToHTTPS)], log_function=lambda handler: None)


def listen_port(socks: list[socket.socket]) -> int | None:
    """The TCP port of the first socket (for redirect URLs)."""
    for s in socks:
        try:
            name = s.getsockname()
        except OSError:
            continue
        if isinstance(name, tuple):
            return int(name[1])
    return None

