"""StaticFileHandler and static_url, side by side with Tornado 6.6.1.

Every request of the dual tests goes to both frameworks, serving the same
directory; the answers must match byte for byte (Date and Server aside, and
``Expires``, which is "now" plus the cache time, within a few seconds).
Where embedtornado is deliberately stricter (NUL bytes and backslashes in
paths, never more body than ``Content-Length``), the test asserts our answer
and says what Tornado does.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import os
import time
from typing import ClassVar

import pytest
import tornado.web
from webtools import Dual, DualHarness, LogCapture, assert_same, dual_harness, req

import embedtornado.web
from embedtornado.web import Application, HTTPError, RequestHandler, StaticFileHandler
from rawhttp import ServerHarness

SECRET = b"TOP-SECRET-7f3a9c"  # in every file outside the served root
HELLO = b"Hello, static world\n"
MTIME = 1_700_000_000  # 2023-11-14 22:13:20 UTC
BIG_SIZE = 200 * 1024 + 123  # several 64 KiB chunks and a short last one


def _write(path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (MTIME, MTIME))


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """A served directory ``static/`` with neighbours that must never be served."""
    base = tmp_path_factory.mktemp("statictree")
    root = base / "static"
    _write(root / "hello.txt", HELLO)
    _write(root / "style.css", b"body { color: red }\n")
    _write(root / "app.js", b"console.log(1);\n")
    _write(root / "empty.txt", b"")
    _write(root / "noext", b"raw bytes")
    _write(root / "pack.tar.gz", b"\x1f\x8b fake gzip")
    _write(root / "pack.bz2", b"BZh fake")
    _write(root / "favicon.ico", b"\x00\x00\x01\x00icon")
    _write(root / "robots.txt", b"User-agent: *\n")
    _write(root / "big.bin", bytes(range(256)) * (BIG_SIZE // 256) + b"t" * (BIG_SIZE % 256))
    _write(root / "a b.txt", b"space")
    _write(root / "\u00fc.txt", b"umlaut")
    _write(root / "sub" / "index.html", b"<html>sub index</html>\n")
    _write(root / "sub" / "page.html", b"<html>page</html>\n")
    _write(root / "sub" / "deeper" / "x.txt", b"deep")
    (root / "nodefault").mkdir()
    _write(root / "nodefault" / "file.txt", b"nd")
    _write(root / "back\\slash.txt", b"backslash in the name")
    os.mkfifo(root / "fifo")
    # Outside the root: a file next to it, a sibling sharing its name's prefix,
    # and a directory elsewhere.
    _write(base / "secret.txt", SECRET)
    _write(base / "static2" / "secret.txt", SECRET + b" sibling")
    _write(base / "outside" / "secret.txt", SECRET + b" outside")
    _write(base / "outside" / "index.html", SECRET + b" outside index")
    _write(base / "allowed" / "shared.txt", b"shared through a link")
    # Links: one inside, several out.
    os.symlink("hello.txt", root / "link_in")
    os.symlink(base / "secret.txt", root / "link_out")
    os.symlink("../outside", root / "dirlink_out")
    os.symlink(base / "allowed" / "shared.txt", root / "link_allowed")
    _write(root / "linkdir" / "placeholder", b"")
    os.symlink(base / "outside" / "index.html", root / "linkdir" / "index.html")
    os.symlink("/etc/passwd", root / "passwd")
    return base


def static_handlers(tree):
    root = str(tree / "static")

    def handlers(web):
        class Subclassed(web.StaticFileHandler):
            def set_extra_headers(self, path):
                self.set_header("X-Path", path)

            def get_cache_time(self, path, modified, mime_type):
                return 60 if mime_type == "text/plain" else 0

        class AsyncSubclass(web.StaticFileHandler):
            async def get(self, path, include_body=True):
                self.set_header("X-Before", "1")
                await super().get(path, include_body)

        class StaticUrl(web.RequestHandler):
            def get(self):
                kwargs = {}
                if self.get_query_argument("host", None):
                    kwargs["include_host"] = True
                if self.get_query_argument("nover", None):
                    kwargs["include_version"] = False
                self.write(self.static_url(self.get_query_argument("p"), **kwargs))

        return [
            (r"/files/(.*)", web.StaticFileHandler, {"path": root}),
            (r"/site/(.*)", web.StaticFileHandler, {"path": root, "default_filename": "index.html"}),
            (r"/index/?()", web.StaticFileHandler, {"path": root + "/sub",
                                                    "default_filename": "index.html"}),
            (r"/sub/(.*)", Subclassed, {"path": root}),
            (r"/async/(.*)", AsyncSubclass, {"path": root}),
            (r"/shared/(.*)", web.StaticFileHandler,
             {"path": root, "allowed_symlink_directory": [root, str(tree / "allowed")]}),
            (r"/url", StaticUrl),
        ]

    return handlers


@pytest.fixture(scope="module")
def dual(tree):
    yield from dual_harness(static_handlers(tree), static_path=str(tree / "static"))


def same(d: Dual, data: bytes):
    """Both frameworks answer alike; ``Expires`` is checked separately (it is "now" + max-age)."""
    ours, theirs = d.both(data)
    for resp in (ours, theirs):
        expires = [v for k, v in resp.header_list if k.lower() == "expires"]
        if expires:
            max_age = int(resp.headers["cache-control"].split("=")[1])
            when = email.utils.parsedate_to_datetime(expires[0]).timestamp()
            assert abs(when - (time.time() + max_age)) < 5
            resp.header_list = [(k, v) for k, v in resp.header_list if k.lower() != "expires"]
            resp.header_list.append(("Expires", "<checked>"))
    assert_same(ours, theirs)
    assert SECRET not in ours.body
    return ours


def get(path: str, **headers: str) -> bytes:
    return req("GET", path, headers)


def sha512(data: bytes) -> str:
    return hashlib.sha512(data).hexdigest()


LAST_MODIFIED = email.utils.formatdate(MTIME, usegmt=True)


# --- plain responses ---------------------------------------------------------------


def test_get_file(dual):
    r = same(dual, get("/files/hello.txt"))
    assert r.code == 200 and r.body == HELLO
    assert r.headers["etag"] == '"%s"' % sha512(HELLO)
    assert r.headers["last-modified"] == LAST_MODIFIED
    assert r.headers["accept-ranges"] == "bytes"
    assert r.headers["content-type"] == "text/plain"
    assert r.headers["content-length"] == str(len(HELLO))
    assert "cache-control" not in r.headers and "expires" not in r.headers


def test_head(dual):
    r = same(dual, req("HEAD", "/files/hello.txt"))
    assert r.code == 200 and r.body == b""
    assert r.headers["content-length"] == str(len(HELLO))


@pytest.mark.parametrize("path, ctype", [
    ("style.css", "text/css"),
    ("app.js", None),  # whatever mimetypes says, the same for both
    ("noext", "application/octet-stream"),
    ("pack.tar.gz", "application/gzip"),
    ("pack.bz2", "application/octet-stream"),
    ("favicon.ico", None),
    ("a%20b.txt", "text/plain"),
    ("%C3%BC.txt", "text/plain"),
    ("empty.txt", "text/plain"),
])
def test_content_types(dual, path, ctype):
    r = same(dual, get("/files/" + path))
    assert r.code == 200
    if ctype:
        assert r.headers["content-type"] == ctype


def test_big_file_in_chunks(dual, tree):
    r = same(dual, get("/files/big.bin"))
    assert r.body == (tree / "static" / "big.bin").read_bytes()
    assert len(r.body) == BIG_SIZE
    same(dual, req("HEAD", "/files/big.bin"))


def test_empty_file(dual):
    r = same(dual, get("/files/empty.txt"))
    assert r.code == 200 and r.body == b"" and r.headers["content-length"] == "0"


def test_versioned_url_is_cached_long(dual):
    r = same(dual, get("/files/hello.txt?v=abc"))
    assert r.headers["cache-control"] == "max-age=%d" % StaticFileHandler.CACHE_MAX_AGE
    assert StaticFileHandler.CACHE_MAX_AGE == tornado.web.StaticFileHandler.CACHE_MAX_AGE
    ours, _ = dual.both(get("/files/hello.txt?v=abc"))
    expires = email.utils.parsedate_to_datetime(ours.headers["expires"])
    assert expires.timestamp() == pytest.approx(time.time() + 86400 * 365 * 10, abs=5)


def test_subclass_hooks(dual):
    r = same(dual, get("/sub/hello.txt"))
    assert r.headers["x-path"] == "hello.txt"
    assert r.headers["cache-control"] == "max-age=60"
    r = same(dual, get("/sub/style.css"))
    assert "cache-control" not in r.headers


def test_async_subclass_awaits_super_get(dual):
    r = same(dual, get("/async/hello.txt"))
    assert r.body == HELLO and r.headers["x-before"] == "1"
    same(dual, req("HEAD", "/async/hello.txt"))


def test_post_is_405(dual):
    r = same(dual, req("POST", "/files/hello.txt", body=b"x"))
    assert r.code == 405


# --- conditional requests --------------------------------------------------------------


def test_if_none_match(dual):
    etag = '"%s"' % sha512(HELLO)
    r = same(dual, get("/files/hello.txt", **{"If-None-Match": etag}))
    assert r.code == 304 and r.body == b""
    assert "content-type" not in r.headers  # no representation headers on a 304
    assert same(dual, get("/files/hello.txt", **{"If-None-Match": "W/" + etag})).code == 304
    assert same(dual, get("/files/hello.txt", **{"If-None-Match": '"x", ' + etag})).code == 304
    assert same(dual, get("/files/hello.txt", **{"If-None-Match": "*"})).code == 304
    assert same(dual, get("/files/hello.txt", **{"If-None-Match": '"other"'})).code == 200


def test_if_modified_since(dual):
    assert same(dual, get("/files/hello.txt", **{"If-Modified-Since": LAST_MODIFIED})).code == 304
    later = email.utils.formatdate(MTIME + 3600, usegmt=True)
    assert same(dual, get("/files/hello.txt", **{"If-Modified-Since": later})).code == 304
    earlier = email.utils.formatdate(MTIME - 1, usegmt=True)
    assert same(dual, get("/files/hello.txt", **{"If-Modified-Since": earlier})).code == 200
    for bad in ("yesterday", "", "Mon, 99 Foo 2023 99:99:99 GMT"):
        assert same(dual, get("/files/hello.txt", **{"If-Modified-Since": bad})).code == 200
    # A date without a zone is taken as UTC.
    naive = "Tue, 14 Nov 2023 22:13:20"
    assert same(dual, get("/files/hello.txt", **{"If-Modified-Since": naive})).code == 304


def test_if_none_match_wins_over_if_modified_since(dual):
    r = same(dual, get("/files/hello.txt",
                       **{"If-None-Match": '"other"', "If-Modified-Since": LAST_MODIFIED}))
    assert r.code == 200


def test_conditional_head(dual):
    r = same(dual, req("HEAD", "/files/hello.txt", {"If-Modified-Since": LAST_MODIFIED}))
    assert r.code == 304


# --- ranges ---------------------------------------------------------------------------


@pytest.mark.parametrize("spec, code, body", [
    ("bytes=0-4", 206, HELLO[0:5]),
    ("bytes=6-", 206, HELLO[6:]),
    ("bytes=-3", 206, HELLO[-3:]),
    ("bytes=2-2", 206, HELLO[2:3]),
    ("bytes=3-9999", 206, HELLO[3:]),
    ("bytes=0-", 200, HELLO),  # the whole file: a plain 200
    ("bytes=0-9999", 200, HELLO),
    ("bytes=-9999", 200, HELLO),
    ("bytes=100-200", 416, b""),
    ("bytes=20-", 416, b""),  # the first byte past the end
    ("bytes=-0", 416, b""),
    ("bytes=5-2", 416, b""),
    ("bytes=a-b", 200, HELLO),  # unparseable: ignored
    ("bytes=0-1,3-4", 200, HELLO),  # several ranges: ignored
    ("items=0-1", 200, HELLO),
    ("bytes 0-1", 200, HELLO),
])
def test_range(dual, spec, code, body):
    r = same(dual, get("/files/hello.txt", Range=spec))
    assert r.code == code and r.body == body
    if code == 206:
        assert r.headers["content-range"].startswith("bytes ")
        assert r.headers["content-range"].endswith("/%d" % len(HELLO))
        assert r.headers["etag"] == '"%s"' % sha512(HELLO)  # the whole file's tag
    if code == 416:
        assert r.headers["content-range"] == "bytes */%d" % len(HELLO)
        assert r.headers["content-type"] == "text/plain"


def test_range_across_chunks(dual, tree):
    data = (tree / "static" / "big.bin").read_bytes()
    r = same(dual, get("/files/big.bin", Range="bytes=65530-131080"))
    assert r.code == 206 and r.body == data[65530:131081]
    assert r.headers["content-range"] == "bytes 65530-131080/%d" % BIG_SIZE
    r = same(dual, get("/files/big.bin", Range="bytes=-70000"))
    assert r.body == data[-70000:]


def test_range_head_and_empty_file(dual):
    r = same(dual, req("HEAD", "/files/hello.txt", {"Range": "bytes=0-4"}))
    assert r.code == 206 and r.headers["content-length"] == "5"
    r = same(dual, get("/files/empty.txt", Range="bytes=0-0"))
    assert r.code == 416 and r.headers["content-range"] == "bytes */0"


def test_range_with_if_none_match(dual):
    etag = '"%s"' % sha512(HELLO)
    r = same(dual, get("/files/hello.txt", Range="bytes=0-4", **{"If-None-Match": etag}))
    assert r.code == 304


# --- directories and default files -------------------------------------------------------


def test_directory_without_default_filename_is_403(dual):
    assert same(dual, get("/files/sub")).code == 403
    assert same(dual, get("/files/sub/")).code == 403
    assert same(dual, get("/files/")).code == 403


def test_directory_redirects_to_trailing_slash(dual):
    r = same(dual, get("/site/sub"))
    assert r.code == 301 and r.headers["location"] == "/site/sub/"
    r = same(dual, get("/site/sub?x=1"))
    assert r.code == 301 and r.headers["location"] == "/site/sub/"
    r = same(dual, get("/site/sub/"))
    assert r.code == 200 and r.body == b"<html>sub index</html>\n"
    r = same(dual, get("/site/sub/deeper"))
    assert r.code == 301 and r.headers["location"] == "/site/sub/deeper/"
    assert same(dual, get("/site/sub/deeper/")).code == 404  # no index.html there
    assert same(dual, get("/site/nodefault/")).code == 404


def test_root_pattern_with_empty_group(dual):
    # (r"/index/?()", StaticFileHandler, {"path": ..., "default_filename": ...})
    r = same(dual, get("/index/"))
    assert r.code == 200 and r.body == b"<html>sub index</html>\n"
    r = same(dual, get("/index"))
    assert r.code == 301 and r.headers["location"] == "/index/"


def test_default_file_that_links_out_is_403(dual):
    r = same(dual, get("/site/linkdir/"))
    assert r.code == 403


# --- paths that leave the root ---------------------------------------------------------------

TRAVERSALS = [
    "/files/../secret.txt",
    "/files/%2e%2e/secret.txt",
    "/files/%2E%2E/secret.txt",
    "/files/..%2fsecret.txt",
    "/files/%2e%2e%2fsecret.txt",
    "/files/sub/../../secret.txt",
    "/files/sub/%2e%2e/%2e%2e/secret.txt",
    "/files/../static2/secret.txt",  # a sibling sharing the root's prefix
    "/files/%2e%2e/static2/secret.txt",
    "/files/../outside/secret.txt",
    "/files//etc/passwd",
    "/files/%2fetc%2fpasswd",
    "/files/" + "../" * 20 + "etc/passwd",
    "/files/link_out",  # symlinks pointing out of the root
    "/files/dirlink_out/secret.txt",
    "/files/passwd",
    "/site/dirlink_out/",
    "/site/dirlink_out",
    "/site/../outside/",
    "/static/../secret.txt",
    "/static/..%2f..%2fsecret.txt",
    "/files/fifo",  # not a regular file
    "/files/link_allowed",  # the link's target is only allowed on /shared/
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_traversal_is_403(dual, path):
    r = same(dual, get(path))
    assert r.code == 403
    assert SECRET not in r.body


@pytest.mark.parametrize("path", [
    "/files/missing.txt",
    "/files/sub/missing/x.txt",
    "/files/hello.txt/x",
    "/static/missing.css",
])
def test_missing_is_404(dual, path):
    assert same(dual, get(path)).code == 404


def test_dotdot_that_stays_inside_is_served(dual):
    r = same(dual, get("/files/sub/../hello.txt"))
    assert r.code == 200 and r.body == HELLO
    assert same(dual, get("/files/./hello.txt")).body == HELLO
    assert same(dual, get("/files/sub//page.html")).code == 200
    # As in Tornado, a trailing slash after a file name is dropped.
    assert same(dual, get("/files/hello.txt/")).body == HELLO


def test_symlinks_inside_and_allowed(dual):
    assert same(dual, get("/files/link_in")).body == HELLO
    r = same(dual, get("/shared/link_allowed"))
    assert r.code == 200 and r.body == b"shared through a link"
    # allowed_symlink_directory widens where links may point, not what
    # "../" may reach.
    assert same(dual, get("/shared/../allowed/shared.txt")).code == 403


@pytest.mark.parametrize("path, theirs_code", [
    ("/files/%00", 500),
    ("/files/hello.txt%00.png", 500),
    ("/files/sub/%00/x", 500),
    ("/files/back%5cslash.txt", 200),
    ("/files/..%5csecret.txt", 404),
    ("/files/sub%5c..%5c..%5csecret.txt", 404),
])
def test_nul_and_backslash_are_403_stricter_than_tornado(dual, path, theirs_code):
    # embedtornado is deliberately stricter: Tornado answers 500 for a NUL
    # byte (os.stat raises ValueError) and, on POSIX, takes a backslash as
    # part of the file name.
    ours, theirs = dual.both(get(path))
    assert ours.code == 403
    assert theirs.code == theirs_code
    assert SECRET not in ours.body and SECRET not in theirs.body


def test_no_file_outside_root_is_ever_served(dual):
    """Every traversal variant above, and more, with every method: the secret never comes back."""
    extra = ["/files/%2e%2e%2f%2e%2e%2fsecret.txt", "/files/.%2e/secret.txt",
             "/files/%252e%252e/secret.txt", "/site/%2e%2e/outside/", "/site/..%2foutside",
             "/files/%c0%ae%c0%ae/secret.txt", "/files/..;/secret.txt"]
    for path in TRAVERSALS + extra:
        for method in ("GET", "HEAD"):
            for headers in ({}, {"Range": "bytes=0-3"}):
                ours, theirs = dual.both(req(method, path, headers))
                assert ours.code in (400, 403, 404), (path, ours)
                assert SECRET not in ours.body and SECRET not in theirs.body


# --- open redirects (CVE-2023-28370) ---------------------------------------------------------


@pytest.fixture(scope="module")
def rooted(tree):
    """StaticFileHandler on "/" with a default filename: the CVE-2023-28370 configuration."""
    def handlers(web):
        return []

    yield from dual_harness(handlers, static_path=str(tree / "static"), static_url_prefix="/",
                            static_handler_args={"default_filename": "index.html"})


def test_protocol_relative_redirect_is_403(rooted, tree):
    static = str(tree / "static")
    for path, theirs_code in ((f"//evil.com/../{static}/sub", 403),
                              (f"//evil.com/..{static}/sub", 403),
                              (f"///evil.com/../{static}/sub", 403),
                              ("//evil.com/..", 403),
                              ("//evil.com/../", 403),
                              ("/\\evil.com/..", 403),
                              # Tornado looks the backslash up as part of a name.
                              (f"/\\evil.com/../{static[1:]}/sub", 404)):
        ours, theirs = rooted.both(get(path))
        assert ours.code == 403, path
        assert theirs.code == theirs_code, path
        assert "location" not in ours.headers and "location" not in theirs.headers


def test_rooted_redirect_stays_on_site(rooted):
    r = rooted.same(get("/sub"))
    assert r.code == 301 and r.headers["location"] == "/sub/"
    r = rooted.same(get("/sub/"))
    assert r.body == b"<html>sub index</html>\n"
    for path in ("/%2F/evil.com/..", "/%2f%2fevil.com/sub", "/.//evil.com/..", "/%5C%5Cevil.com"):
        for resp in rooted.both(get(path)):
            loc = resp.headers.get("location", "")
            assert not loc.startswith("//") and not loc.startswith("/\\"), (path, resp)
            assert resp.code in (301, 403, 404)


# --- routes and settings -------------------------------------------------------------------


def test_static_path_routes(dual):
    r = same(dual, get("/static/style.css"))
    assert r.code == 200 and r.body == b"body { color: red }\n"
    assert same(dual, get("/favicon.ico")).code == 200
    assert same(dual, get("/robots.txt")).body == b"User-agent: *\n"
    assert same(dual, get("/static/sub")).code == 403


def test_routes_are_inserted_as_tornado_does(tree):
    static = str(tree / "static")
    for web in (embedtornado.web, tornado.web):
        args = {"default_filename": "index.html"}
        app = web.Application([(r"/x", web.RequestHandler)], static_path=static,
                              static_url_prefix="/assets/", static_handler_args=args)
        rules = app.wildcard_router.rules
        assert [r.matcher.regex.pattern for r in rules] == [
            r"/(robots\.txt)$", r"/(favicon\.ico)$", r"/assets/(.*)$", r"/x$"]
        assert [r.target for r in rules[:3]] == [web.StaticFileHandler] * 3
        assert all(r.target_kwargs is args for r in rules[:3])
        assert args == {"default_filename": "index.html", "path": static}


def test_custom_prefix_and_args(tree):
    settings = {"static_path": str(tree / "static"), "static_url_prefix": "/assets/",
                "static_handler_args": {"default_filename": "index.html"}}
    with DualHarness(lambda web: [], **settings) as h:
        d = Dual(h)
        r = d.same(get("/assets/sub/"))
        assert r.code == 200 and r.body == b"<html>sub index</html>\n"
        assert d.same(get("/assets/sub")).headers["location"] == "/assets/sub/"
        assert d.same(get("/static/hello.txt")).code == 404


def test_custom_static_handler_class(tree):
    def handlers(web):
        class Mine(web.StaticFileHandler):
            def set_extra_headers(self, path):
                self.set_header("X-Mine", path)

            @classmethod
            def make_static_url(cls, settings, path, include_version=True):
                return "/static/" + path + ("?mine=1" if include_version else "")

        class Url(web.RequestHandler):
            def get(self):
                self.write(self.static_url("hello.txt"))

        return Mine, Url

    def rules(web):
        return [(r"/url", handlers(web)[1])]

    mine = {"tornado.web": handlers(tornado.web)[0], "embedtornado.web": handlers(embedtornado.web)[0]}

    class H(DualHarness):
        def __init__(self) -> None:
            super().__init__(rules, static_path=str(tree / "static"),
                             static_handler_class=mine["embedtornado.web"])
            self.tornado_app = tornado.web.Application(
                rules(tornado.web), static_path=str(tree / "static"),
                static_handler_class=mine["tornado.web"])

    with H() as h:
        d = Dual(h)
        r = d.same(get("/static/hello.txt"))
        assert r.body == HELLO and r.headers["x-mine"] == "hello.txt"
        assert d.same(get("/favicon.ico")).headers["x-mine"] == "favicon.ico"
        assert d.same(get("/url")).body == b"/static/hello.txt?mine=1"


# --- static_url --------------------------------------------------------------------------------


def test_static_url(dual):
    r = same(dual, get("/url?p=hello.txt"))
    assert r.body == b"/static/hello.txt?v=" + sha512(HELLO).encode()
    r = same(dual, get("/url?p=hello.txt&host=1"))
    assert r.body.startswith(b"http://example.com/static/hello.txt?v=")
    r = same(dual, get("/url?p=hello.txt&nover=1"))
    assert r.body == b"/static/hello.txt"
    r = same(dual, get("/url?p=sub/page.html"))
    assert r.body.startswith(b"/static/sub/page.html?v=")


def test_static_url_of_missing_file_has_no_version(dual):
    with LogCapture("embedtornado.general", "tornado.general") as logs:
        r = same(dual, get("/url?p=nothere.css"))
    assert r.body == b"/static/nothere.css"
    for name in ("embedtornado.general", "tornado.general"):
        [record] = logs.by(name)
        assert record.getMessage().startswith("Could not open static file")
        assert record.levelname == "ERROR"


def test_static_url_outside_root_is_403(dual):
    for p in ("../secret.txt", "/etc/passwd", "sub/../../secret.txt"):
        assert same(dual, get("/url?p=" + p)).code == 403
    # Not a regular file: no version.
    r = same(dual, get("/url?p=fifo"))
    assert r.body == b"/static/fifo"


def test_static_url_needs_static_path():
    class H(RequestHandler):
        def get(self):
            self.write(self.static_url("x.css"))

    with ServerHarness(Application([(r"/", H)])) as h, LogCapture("embedtornado.application"):
        r = h.run(h.request(get("/")))
    assert r.code == 500


def test_static_hash_cache(tmp_path):
    """The version is cached until reset; with static_hash_cache=False (debug) it is not."""
    _write(tmp_path / "a.css", b"one")

    class H(RequestHandler):
        def get(self):
            self.write(self.static_url("a.css"))

    for debug, settings in ((False, {}), (True, {"debug": True}), (True,
                            {"static_hash_cache": False})):
        StaticFileHandler.reset()
        (tmp_path / "a.css").write_bytes(b"one")
        app = Application([(r"/", H)], static_path=str(tmp_path), autoreload=False, **settings)
        with ServerHarness(app) as h:
            first = h.run(h.request(get("/"))).body
            assert first == b"/static/a.css?v=" + sha512(b"one").encode()
            (tmp_path / "a.css").write_bytes(b"two")
            second = h.run(h.request(get("/"))).body
            changed = b"/static/a.css?v=" + sha512(b"two").encode()
            assert second == (changed if debug else first)
            if not debug:
                StaticFileHandler.reset()
                assert h.run(h.request(get("/"))).body == changed


# --- class methods and units --------------------------------------------------------------------


def test_make_static_url_and_get_version(tree):
    static = str(tree / "static")
    StaticFileHandler.reset()
    for cls in (StaticFileHandler, tornado.web.StaticFileHandler):
        settings = {"static_path": static}
        assert cls.make_static_url(settings, "hello.txt") == \
            "/static/hello.txt?v=" + sha512(HELLO)
        assert cls.make_static_url(settings, "hello.txt", include_version=False) == \
            "/static/hello.txt"
        settings["static_url_prefix"] = "//cdn.example/x/"
        assert cls.make_static_url(settings, "hello.txt").startswith("//cdn.example/x/hello.txt?v=")
        assert cls.get_version({"static_path": static}, "hello.txt") == sha512(HELLO)
        with pytest.raises(tornado.web.HTTPError if cls is tornado.web.StaticFileHandler
                           else HTTPError) as e:
            cls.get_version({"static_path": static}, "../secret.txt")
        assert e.value.status_code == 403


def test_get_absolute_path(tree):
    static = str(tree / "static")
    for cls in (StaticFileHandler, tornado.web.StaticFileHandler):
        assert cls.get_absolute_path(static, "sub/page.html") == os.path.join(static,
                                                                               "sub/page.html")
        assert cls.get_absolute_path(static, "sub/../hello.txt") == os.path.join(static,
                                                                                  "hello.txt")
        assert cls.get_absolute_path(static, "") == static
        assert cls.get_absolute_path(static + "/", "hello.txt") == os.path.join(static,
                                                                                 "hello.txt")
        for bad in ("../secret.txt", "/etc/passwd", "../static2/secret.txt", ".."):
            with pytest.raises(Exception) as e:
                cls.get_absolute_path(static, bad)
            assert e.value.status_code == 403  # type: ignore[attr-defined]
    # A root of "/" switches the check off, in both.
    assert StaticFileHandler.get_absolute_path("/", "etc/passwd") == "/etc/passwd"
    for bad in ("a\x00b", "a\\..\\b"):  # stricter than Tornado
        with pytest.raises(HTTPError) as e:
            StaticFileHandler.get_absolute_path(static, bad)
        assert e.value.status_code == 403


def test_get_content_chunks(tree):
    path = str(tree / "static" / "big.bin")
    data = (tree / "static" / "big.bin").read_bytes()
    for cls in (StaticFileHandler, tornado.web.StaticFileHandler):
        chunks = list(cls.get_content(path))
        assert [len(c) for c in chunks] == [65536, 65536, 65536, BIG_SIZE - 3 * 65536]
        assert b"".join(chunks) == data
        assert b"".join(cls.get_content(path, 10, 70000)) == data[10:70000]
        assert b"".join(cls.get_content(path, 100)) == data[100:]
        assert b"".join(cls.get_content(path, None, 5)) == data[:5]
        assert list(cls.get_content(str(tree / "static" / "empty.txt"))) == []
    with pytest.raises(HTTPError) as e:
        list(StaticFileHandler.get_content(str(tree / "static" / "sub")))
    assert e.value.status_code == 403
    with pytest.raises(HTTPError) as e:
        list(StaticFileHandler.get_content(str(tree / "static" / "nope")))
    assert e.value.status_code == 404


def test_get_content_version_limit(tree):
    path = str(tree / "static" / "big.bin")

    class Small(StaticFileHandler):
        MAX_VERSION_CONTENT_SIZE = 1000

    with pytest.raises(ValueError, match="MAX_VERSION_CONTENT_SIZE"):
        Small.get_content_version(path)
    assert StaticFileHandler.get_content_version(path) == sha512((tree / "static" / "big.bin")
                                                                 .read_bytes())
    with LogCapture("embedtornado.general") as logs:
        assert Small.make_static_url({"static_path": str(tree / "static")}, "big.bin") == \
            "/static/big.bin"
    assert len(logs.records) == 1
    assert StaticFileHandler.MAX_VERSION_CONTENT_SIZE == \
        tornado.web.StaticFileHandler.MAX_VERSION_CONTENT_SIZE


def test_version_cache_is_bounded(tree):
    class Few(StaticFileHandler):
        MAX_CACHED_VERSIONS = 3
        _static_hashes: ClassVar[dict] = {}
        calls = 0

        @classmethod
        def get_content_version(cls, abspath):
            cls.calls += 1
            return "v" + os.path.basename(abspath)

    Few.reset()
    static = str(tree / "static")
    for name in ("a", "b", "c", "a", "d", "e"):
        Few.get_version({"static_path": static}, name)
    assert list(Few._static_hashes) == [os.path.join(static, n) for n in ("a", "d", "e")]
    assert Few.calls == 5  # "a" came from the cache once
    assert Few._get_cached_version(os.path.join(static, "e")) == "ve"
    assert StaticFileHandler.MAX_CACHED_VERSIONS == tornado.web.StaticFileHandler.MAX_CACHED_VERSIONS


def test_get_content_type_mapping(tree):
    class Probe(StaticFileHandler):
        def __init__(self, absolute_path):
            self.absolute_path = absolute_path

    class ProbeT(tornado.web.StaticFileHandler):
        def __init__(self, absolute_path):
            self.absolute_path = absolute_path

    for name in ("a.txt", "a.html", "a.css", "a.js", "a.json", "a.png", "a.svg", "a.tar.gz",
                 "a.gz", "a.bz2", "a.xz", "a.Z", "a", "a.unknownext", "A.TXT", "a.wasm"):
        assert Probe(name).get_content_type() == ProbeT(name).get_content_type(), name


def test_parse_url_path_and_reset():
    h = StaticFileHandler.__new__(StaticFileHandler)
    assert h.parse_url_path("a/b.txt") == "a/b.txt"
    StaticFileHandler._static_hashes["x"] = "y"
    StaticFileHandler.reset()
    assert StaticFileHandler._static_hashes == {}


def test_signature_matches_tornado():
    import inspect

    for name in ("initialize", "get", "head", "compute_etag", "set_headers",
                 "should_return_304", "get_absolute_path", "validate_absolute_path",
                 "get_content", "get_content_version", "get_content_size",
                 "get_modified_time", "get_content_type", "set_extra_headers",
                 "get_cache_time", "make_static_url", "parse_url_path", "get_version",
                 "_get_cached_version", "reset"):
        ours = inspect.signature(getattr(StaticFileHandler, name))
        theirs = inspect.signature(getattr(tornado.web.StaticFileHandler, name))
        assert list(ours.parameters) == list(theirs.parameters), name
        for p in ours.parameters:
            assert ours.parameters[p].default == theirs.parameters[p].default, (name, p)
    assert inspect.iscoroutinefunction(StaticFileHandler.get)


# --- behaviour that needs a subclass or timing ---------------------------------------------------


def test_body_never_exceeds_content_length(tree):
    """A file that grows while it is served: stricter than Tornado, which errors mid-response."""
    static = str(tree / "static")

    class Growing(StaticFileHandler):
        def get_content_size(self):
            return 10  # "measured" before the file grew

    app = Application([(r"/g/(.*)", Growing, {"path": static})])
    with ServerHarness(app) as h:
        r = h.run(h.request(get("/g/big.bin")))
        assert r.code == 200 and r.headers["content-length"] == "10"
        assert r.body == (tree / "static" / "big.bin").read_bytes()[:10]
        r = h.run(h.request(get("/g/big.bin", Range="bytes=2-5")))
        assert r.code == 206 and len(r.body) == 4


def test_get_content_returning_bytes(tree):
    class FromMemory(StaticFileHandler):
        @classmethod
        def get_content(cls, abspath, start=None, end=None):
            return b"0123456789"[start:end]

        def get_content_size(self):
            return 10

    app = Application([(r"/m/(.*)", FromMemory, {"path": str(tree / "static")})])
    with ServerHarness(app) as h:
        assert h.run(h.request(get("/m/hello.txt"))).body == b"0123456789"
        r = h.run(h.request(get("/m/hello.txt", Range="bytes=3-4")))
        assert r.code == 206 and r.body == b"34"


def test_client_gone_mid_file_is_quiet(tmp_path):
    """A client that disconnects during a large file: nothing logged as an error, file closed."""
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        f.truncate(16 * 1024 * 1024)
    closed = []

    class Tracking(StaticFileHandler):
        @classmethod
        def get_content(cls, abspath, start=None, end=None):
            gen = super().get_content(abspath, start, end)
            try:
                yield from gen
            finally:
                closed.append(True)

    app = Application([(r"/(.*)", Tracking, {"path": str(tmp_path)})])
    with ServerHarness(app) as h, LogCapture("embedtornado.application",
                                             "embedtornado.general") as logs:
        async def go():
            reader, writer = await h.connect()
            writer.write(get("/big.bin"))
            await reader.readuntil(b"\r\n\r\n")
            closed.clear()  # the version hash (for the Etag) read the file once already
            await reader.readexactly(200_000)
            writer.transport.abort()
            for _ in range(200):
                await asyncio.sleep(0.01)
                if closed:
                    break

        h.run(go())
        assert closed == [True]
    assert [r for r in logs.records if r.levelno >= 40] == []


def _rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc")
def test_memory_stays_flat_for_a_large_file_to_many_slow_clients(tmp_path):
    """64 MiB (sparse) to 10 clients at once that read slowly: RSS grows by far less than one file."""
    size = 64 * 1024 * 1024
    with open(tmp_path / "large.bin", "wb") as f:
        f.truncate(size)
    app = Application([(r"/(.*)", StaticFileHandler, {"path": str(tmp_path)})])
    with ServerHarness(app) as h:
        async def client(received: list[int]) -> None:
            reader, writer = await asyncio.open_connection("127.0.0.1", h.port)
            writer.write(get("/large.bin"))
            head = await reader.readuntil(b"\r\n\r\n")
            assert b" 200 " in head.split(b"\r\n")[0]
            total = 0
            reads = 0
            while total < size:
                chunk = await reader.read(32 * 1024)
                if not chunk:
                    break
                total += len(chunk)
                reads += 1
                if reads % 8 == 0:
                    await asyncio.sleep(0.001)  # slow-ish: let the server's buffers fill
            writer.close()
            received.append(total)

        async def main() -> int:
            # Warm up (the version hash of the file, code paths, buffers).
            r = await h.request(req("HEAD", "/large.bin"), "HEAD")
            assert r.headers["content-length"] == str(size)
            await asyncio.sleep(0.05)
            baseline = _rss_kib()
            peak = baseline
            received: list[int] = []
            tasks = [asyncio.ensure_future(client(received)) for _ in range(10)]
            while not all(t.done() for t in tasks):
                peak = max(peak, _rss_kib())
                await asyncio.sleep(0.01)
            for t in tasks:
                t.result()
            assert received == [size] * 10
            return peak - baseline

        growth_kib = h.run(main(), timeout=120)
    assert growth_kib < 32 * 1024, f"RSS grew by {growth_kib} KiB"


def test_fast_realpath_equals_os_path_realpath(tree, tmp_path):
    from embedtornado.web import static

    os.symlink(tmp_path / "nowhere", tmp_path / "dangling")
    os.symlink("loop", tmp_path / "loop")
    root = tree / "static"
    names = ["hello.txt", "link_in", "link_out", "dirlink_out", "dirlink_out/secret.txt",
             "passwd", "fifo", "sub", "sub/", "missing", "missing/x", "hello.txt/",
             "linkdir/index.html", "back\\slash.txt", "\u00fc.txt"]
    paths = [str(root / n) if not n.endswith("/") else str(root / n) + "/" for n in names]
    paths += [str(tree), "/", str(tmp_path / "dangling"), str(tmp_path / "loop")]
    for path in paths:
        assert static._realpath(path) == os.path.realpath(path), path
