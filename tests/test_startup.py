"""What a hello-world server imports: a guard for start-up time and idle memory.

Each check runs in a fresh interpreter started with ``-S`` (no ``site``, so no
``.pth`` file can import modules first and hide a regression), inheriting
``EMBEDTORNADO_NO_EXTENSIONS`` / ``EMBEDTORNADO_REQUIRE_EXTENSIONS``, so the
suite's two modes cover the compiled modules and the twins. No timings here:
``bench/bench_memory.py`` measures them beside Tornado.

asyncio itself imports ssl, logging, typing, inspect, socket, subprocess and
concurrent.futures (not its thread pool), so those are allowed; the lists
below are what embedtornado must not add to them.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap

import pytest

import embedtornado

SRC = os.path.dirname(os.path.dirname(os.path.abspath(embedtornado.__file__)))

#: Never imported by ``import embedtornado.web, embedtornado.ioloop,
#: embedtornado.httpserver`` nor by serving a hello world's first request.
NEVER = (
    "colorama",  # log: only for a colour check on a terminal
    "concurrent.futures.thread",  # no thread pool before a run_in_executor
    "curses",  # log: only for a colour check on a terminal
    "email",  # http.client, web.static's If-Modified-Since parsing
    "embedtornado._pure.wsmask",  # util._websocket_mask: WebSockets, XSRF tokens
    "embedtornado._speedups.wsmask",
    "embedtornado.web.signing",  # signed cookies
    "fnmatch",
    "gzip",  # web.transforms: only when a response is compressed
    "hmac",  # web.signing / web.security: signed cookies, XSRF check
    "html",  # escape.xhtml_unescape
    "http.client",  # httputil.responses is built from http.HTTPStatus
    "http.cookies",  # httputil: request.cookies
    "importlib.resources",
    "json",  # escape.json_encode / json_decode
    "logging.handlers",  # log: only for a log file
    "mimetypes",  # web.static: content types
    "pathlib",
    "pickle",
    "queue",
    "random",  # email.utils; ioloop's jitter
    "shutil",  # _tls: certificate helpers
    "tempfile",  # _tls: certificate helpers
    "urllib.parse",  # httputil.url_concat, escape's url helpers
    "uuid",
    "zipfile",
)


IMPORTS = "import embedtornado.web, embedtornado.ioloop, embedtornado.httpserver"

_PRELUDE = f"""
import sys
sys.path.insert(0, {SRC!r})
_before = set(sys.modules)
"""

IMPORT_ONLY = _PRELUDE + f"""
{IMPORTS}
print(repr(sorted(set(sys.modules) - _before)))
"""

# The README's hello world, served once: a client thread sends one GET and
# stops the loop; then the process reports every module it has imported.
HELLO_WORLD = _PRELUDE + textwrap.dedent("""
    import socket
    import threading

    from embedtornado import ioloop, web

    class Hello(web.RequestHandler):
        def get(self):
            self.write("Hello, world")

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    web.Application([(r"/", Hello)]).listen(port, "127.0.0.1")
    loop = ioloop.IOLoop.current()
    answers = []

    def client():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
                s.sendall(b"GET / HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n")
                data = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
            answers.append(data)
        finally:
            loop.add_callback(loop.stop)

    loop.call_later(60, loop.stop)
    threading.Thread(target=client, daemon=True).start()
    loop.start()
    print(repr(answers))
    print(repr(sorted(set(sys.modules) - _before)))
""")


def run(code: str) -> list[str]:
    """Run *code* in ``python -S``; return its stdout lines (stderr must be empty)."""
    proc = subprocess.run(
        [sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=120,
        check=False, env=dict(os.environ, PYTHONWARNINGS="error"),
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "", proc.stderr
    return proc.stdout.splitlines()


@pytest.fixture(scope="module")
def imported() -> set[str]:
    (line,) = run(IMPORT_ONLY)
    return set(ast.literal_eval(line))


@pytest.fixture(scope="module")
def served() -> set[str]:
    answers, modules = run(HELLO_WORLD)
    (answer,) = ast.literal_eval(answers)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n"), answer
    assert answer.endswith(b"\r\n\r\nHello, world"), answer
    return set(ast.literal_eval(modules))


def test_the_check_sees_imports(imported, served):
    # The lists are meaningful only if the child really imports the package
    # (and asyncio) after the snapshot.
    for modules in (imported, served):
        assert {"embedtornado.web", "embedtornado.ioloop", "asyncio"} <= modules


@pytest.mark.parametrize("module", NEVER)
def test_not_imported_at_start_up(imported, module):
    assert module not in imported


@pytest.mark.parametrize("module", NEVER)
def test_not_imported_by_the_first_request(served, module):
    assert module not in served


def test_public_names_still_resolve():
    # The names made lazy stay reachable as attributes, as before.
    from embedtornado import _tls, escape, log

    assert escape.json.dumps is not None
    assert escape.html.unescape("&amp;") == "&"
    assert callable(escape._make_json_encoder) or escape._make_json_encoder is None
    assert _tls.shutil.which is not None
    assert _tls.tempfile.mkdtemp is not None
    assert _tls.ipaddress.ip_address("127.0.0.1").is_loopback
    assert log.curses is None or hasattr(log.curses, "setupterm")
    with pytest.raises(AttributeError):
        _tls.no_such_name  # noqa: B018
    with pytest.raises(AttributeError):
        escape.no_such_name  # noqa: B018
    with pytest.raises(AttributeError):
        log.no_such_name  # noqa: B018
