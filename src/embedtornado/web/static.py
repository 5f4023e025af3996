"""`StaticFileHandler`: serve the files of one directory, with caching and ranges.

An application gets one automatically from the ``static_path`` setting (under
``static_url_prefix``, default ``/static/``, plus ``/favicon.ico`` and
``/robots.txt``); more can be mounted like any handler::

    from embedtornado.web import Application, StaticFileHandler

    app = Application(
        [
            (r"/()", StaticFileHandler, {"path": "/srv/www", "default_filename": "index.html"}),
            (r"/downloads/(.*)", StaticFileHandler, {"path": "/srv/downloads"}),
        ],
        static_path="/srv/assets",       # also enables RequestHandler.static_url
    )

    # in a template: <script src="{{ static_url('app.js') }}"></script>
    # -> /static/app.js?v=<sha512 of the file>, cached by browsers for ten years

What a response carries: ``Accept-Ranges``, an ``Etag`` (the file's SHA-512,
computed once and cached), ``Last-Modified``, a ``Content-Type`` from
`mimetypes`, and for versioned URLs (``?v=``) ``Expires`` and
``Cache-Control: max-age`` of `StaticFileHandler.CACHE_MAX_AGE`. Conditional
requests (``If-None-Match``, ``If-Modified-Since``) get 304, a single
``Range`` gets 206 (416 when unsatisfiable).

A body larger than one 64 KiB chunk goes from the file to the socket with
``sendfile(2)`` (through ``loop.sendfile``) when the connection is a plain
socket of embedtornado's HTTP server, `get_content` is not overridden, and
no output transform changes the bytes (a gzip-compressed response is read
and compressed). Otherwise it is read and sent in 64 KiB chunks, each
waiting until the client has taken the previous ones (a small file then
goes out with the headers in one write, which is cheaper than a sendfile).
Either way a large file to a slow client costs a bounded amount of memory.

Paths are checked twice: as written (``..``, absolute paths and sibling
directories that merely share the root's name prefix are refused with 403),
then once symlinks are resolved (a link pointing out of the root, or out of
``allowed_symlink_directory``, is a 403 as well). Only regular files are
served: directories, devices, FIFOs and sockets are 403, missing files 404.

.. note:: embedtornado differs from Tornado 6.6.1: a path containing a NUL
   byte or a backslash is refused with 403 (Tornado answers 500 for the first
   and, on POSIX, looks the second up as part of a file name); the body sent
   never exceeds the ``Content-Length`` announced, even if the file grows
   meanwhile; the file is closed as soon as the response ends or the client
   goes away. Tornado always reads and writes the file in chunks.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import stat
import threading
from collections.abc import Awaitable, Generator, Iterable
from typing import Any, ClassVar

from embedtornado import httputil, iostream
from embedtornado.log import gen_log
from embedtornado.web.decorators import _is_protocol_relative
from embedtornado.web.errors import HTTPError
from embedtornado.web.handler import RequestHandler
from embedtornado.web.transforms import GZipContentEncoding, OutputTransform

__all__ = ["StaticFileHandler"]

#: Bytes read from the file per chunk (and sent per flush).
_CHUNK_SIZE = 64 * 1024

_UTC = datetime.timezone.utc


class StaticFileHandler(RequestHandler):
    """Serve the files below a directory.

    :arg str path: the directory (the root); the URL pattern's first group
        is the path of a file below it.
    :arg str default_filename: the file to serve for a directory (say
        ``index.html``). A directory asked for without a trailing slash is
        redirected (301) to the same path with one. Without it, a directory
        is a 403.
    :arg allowed_symlink_directory: where symlinks may point, a directory or
        a list of them; by default the root itself. Use it when the tree is
        deliberately built of links to files kept elsewhere.

    The URL pattern needs a capturing group: ``(r"/files/(.*)",
    StaticFileHandler, {"path": "/srv/files"})``.

    **Customising.** The URL side is made of class methods, because
    `~.RequestHandler.static_url` runs without a handler: override
    `make_static_url`, `parse_url_path`, `get_version` (or better
    `get_content_version`, whose result is cached) and `get_cache_time` to
    change how URLs look and how long they are cached. To serve something
    other than the file system, override `get_absolute_path`,
    `validate_absolute_path`, `get_content`, `get_content_size` and
    `get_modified_time`. Instance methods can use ``self.path`` (the path
    asked for), ``self.absolute_path`` and ``self.modified``. Do not
    override `get`.

    A symlink in the directory affects `static_url` too: it hashes the file
    a link points to wherever it is (the hash, not the content, shows in the
    URL), since ``allowed_symlink_directory`` belongs to the handler and
    `static_url` has none. Only let trusted people create links there.
    """

    #: ``max-age`` (seconds) for versioned URLs: ten years.
    CACHE_MAX_AGE = 86400 * 365 * 10

    #: Files larger than this (bytes) are not hashed for a version, since
    #: hashing blocks the event loop; their URLs carry no ``?v=``.
    MAX_VERSION_CONTENT_SIZE = 64 * 1024 * 1024

    #: How many versions the cache keeps; past that, the least recently used
    #: entry is dropped (and recomputed when needed again).
    MAX_CACHED_VERSIONS = 10000

    # absolute path -> version hash (None: could not be computed), oldest
    # use first. Shared by every request, hence the lock.
    _static_hashes: ClassVar[dict[str, str | None]] = {}
    _lock = threading.Lock()

    # A class-level default, so that a subclass whose initialize() does not
    # call this one still gets the safe behaviour (links stay in the root).
    allowed_symlink_directory: str | list[str] | None = None

    root: str
    default_filename: str | None
    path: str
    absolute_path: str | None
    modified: datetime.datetime | None

    def initialize(  # type: ignore[override]
        self,
        path: str,
        default_filename: str | None = None,
        allowed_symlink_directory: str | list[str] | None = None,
    ) -> None:
        self.root = path
        self.default_filename = default_filename
        self.allowed_symlink_directory = allowed_symlink_directory

    @classmethod
    def reset(cls) -> None:
        """Forget every cached version.

        With ``static_hash_cache=False`` (on in debug mode) this runs before
        every request.
        """
        with cls._lock:
            cls._static_hashes = {}

    def head(self, path: str) -> Awaitable[None]:  # type: ignore[override]
        return self.get(path, include_body=False)

    async def get(self, path: str, include_body: bool = True) -> None:  # type: ignore[override]
        """Answer with the file at ``path`` (below the root), or its headers only."""
        self.path = self.parse_url_path(path)
        del path  # from here on only the parsed form counts
        absolute_path = self.get_absolute_path(self.root, self.path)
        self.absolute_path = self.validate_absolute_path(self.root, absolute_path)
        if self.absolute_path is None:
            return  # validate_absolute_path answered (a redirect)
        self.modified = self.get_modified_time()
        self.set_headers()
        if self.should_return_304():
            self.set_status(304)
            return

        size = self.get_content_size()
        start: int | None = None
        end: int | None = None
        range_header = self.request.headers.get("Range")
        # An unparseable Range (or several ranges) is ignored: the whole
        # file is sent, as RFC 9110 allows.
        request_range = httputil._parse_request_range(range_header) if range_header else None
        if request_range:
            start, end = request_range
            if start is not None and start < 0:  # a suffix: the last -start bytes
                start = max(start + size, 0)
            if end == 0 or (start is not None
                            and (start >= size or (end is not None and start >= end))):
                self.set_status(416)
                self.set_header("Content-Type", "text/plain")
                self.set_header("Content-Range", "bytes */%d" % size)
                return
            if end is not None and end > size:
                end = size  # "bytes=0-999999" for a short file: up to its end
            # A range that covers the whole file is answered with a plain 200
            # (some players refuse a 206 to "bytes=0-").
            if (end or size) - (start or 0) != size:
                self.set_status(206)
                self.set_header("Content-Range",
                                httputil._get_content_range(start, end, size))
        first = start or 0
        content_length = (size if end is None else end) - first
        self.set_header("Content-Length", content_length)
        if not include_body:
            assert self.request.method == "HEAD"
            return
        if content_length > _CHUNK_SIZE and self._can_send_file():
            file = self._open_regular_file()
            if file is not None:
                with file:
                    await self._send_file(file, first, content_length)
                return
        await self._send_content(self.get_content(self.absolute_path, start, end),
                                 content_length)

    def _can_send_file(self) -> bool:
        """Whether the body can go from the file to the connection without passing through here.

        Only when the content is the base class's (`get_content` not
        overridden), the connection can send files (embedtornado's HTTP/1
        server), and no output transform would change the bytes.
        """
        if getattr(type(self).get_content, "__func__", None) is not _BASE_GET_CONTENT:
            return False
        if not hasattr(self.request.connection, "write_file"):
            return False
        for transform in self._transforms:
            kind = type(transform)
            if kind is GZipContentEncoding:
                # The decision its transform_first_chunk is about to make
                # for a response sent in several pieces.
                gz: Any = transform
                ctype = self._headers.get("Content-Type", "").split(";")[0]
                if (gz._gzipping and gz._compressible_type(ctype)
                        and "Content-Encoding" not in self._headers):
                    return False
            elif kind is not OutputTransform:
                return False
        return True

    def _open_regular_file(self) -> Any:
        """``self.absolute_path`` opened for reading, or None unless it is still a regular file."""
        assert self.absolute_path is not None
        try:
            # O_NONBLOCK: a FIFO swapped in since validation cannot block the open.
            fd = os.open(self.absolute_path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            return None  # the chunked path reports it
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                os.close(fd)
                return None
        except OSError:
            os.close(fd)
            return None
        return open(fd, "rb", buffering=0)

    async def _send_file(self, file: Any, offset: int, length: int) -> None:
        """Send the headers, then ``length`` bytes of ``file`` from ``offset`` (zero-copy)."""
        try:
            await self.flush()
            await self.request.connection.write_file(  # type: ignore[union-attr]
                file, offset, length)
        except iostream.StreamClosedError:
            return

    async def _send_content(self, content: bytes | Iterable[bytes], length: int) -> None:
        """Write ``content``, flushing each chunk and waiting for the client to take it."""
        chunks: Iterable[bytes] = [content] if isinstance(content, bytes) else content
        remaining = length
        try:
            for chunk in chunks:
                if len(chunk) >= remaining:
                    # The file may have grown since it was measured; never
                    # send more than the Content-Length announced.
                    chunk = chunk[:remaining]
                    remaining = 0
                else:
                    remaining -= len(chunk)
                if chunk:
                    self.write(chunk)
                    try:
                        await self.flush()
                    except iostream.StreamClosedError:
                        return
                if remaining == 0:
                    return
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()  # release the file now, not when the generator is collected

    # --- headers ------------------------------------------------------------------

    def compute_etag(self) -> str | None:
        """The ``Etag``: the file's version (`get_content_version`) in quotes.

        A partial (206) answer carries the tag of the whole file, so a
        client can check that its pieces belong together.
        """
        assert self.absolute_path is not None
        version = self._get_cached_version(self.absolute_path)
        return '"%s"' % version if version else None

    def set_headers(self) -> None:
        """Set ``Accept-Ranges``, ``Etag``, ``Last-Modified``, ``Content-Type``, cache headers."""
        self.set_header("Accept-Ranges", "bytes")
        self.set_etag_header()
        if self.modified is not None:
            self.set_header("Last-Modified", self.modified)
        content_type = self.get_content_type()
        if content_type:
            self.set_header("Content-Type", content_type)
        cache_time = self.get_cache_time(self.path, self.modified, content_type)
        if cache_time > 0:
            expires = datetime.datetime.now(_UTC) + datetime.timedelta(seconds=cache_time)
            self.set_header("Expires", expires)
            self.set_header("Cache-Control", "max-age=%d" % cache_time)
        self.set_extra_headers(self.path)

    def should_return_304(self) -> bool:
        """Whether the client's copy is current: ``If-None-Match``, else ``If-Modified-Since``.

        When ``If-None-Match`` is present, ``If-Modified-Since`` is ignored.
        """
        headers = self.request.headers
        if headers.get("If-None-Match"):
            return self.check_etag_header()
        since_value = headers.get("If-Modified-Since")
        if since_value is None or self.modified is None:
            return False
        try:
            import email.utils

            since = email.utils.parsedate_to_datetime(since_value)
        except Exception:
            return False  # an unparseable date is no condition at all
        if since.tzinfo is None:
            since = since.replace(tzinfo=_UTC)
        modified = self.modified
        if modified.tzinfo is None:
            modified = modified.replace(tzinfo=_UTC)
        return since >= modified

    def set_extra_headers(self, path: str) -> None:
        """Hook for subclasses: set more headers for ``path``."""

    def get_cache_time(self, path: str, modified: datetime.datetime | None,
                       mime_type: str) -> int:
        """Seconds a response may be cached: `CACHE_MAX_AGE` for versioned URLs, else 0.

        A versioned URL has a ``v`` argument. 0 sends no ``Expires`` or
        ``Cache-Control``, leaving caching to the browser's heuristics.
        """
        return self.CACHE_MAX_AGE if "v" in self.request.arguments else 0

    # --- paths ---------------------------------------------------------------------

    @classmethod
    def get_absolute_path(cls, root: str, path: str) -> str:
        """The absolute file-system path of ``path`` below ``root``.

        Raises `HTTPError` (403) when ``path`` as written leads out of
        ``root`` (``../``, an absolute path, a sibling directory) or holds a
        NUL byte or backslash. Symlinks are checked later, by
        `validate_absolute_path`. This is also what keeps `get_version`
        (`~.RequestHandler.static_url`) inside the root.
        """
        if "\x00" in path or "\\" in path:
            raise HTTPError(403, "%s is not a valid static file path", path)
        absolute = os.path.abspath(os.path.join(root, path))
        _root_prefix(root, absolute, path)
        return absolute

    def validate_absolute_path(self, root: str, absolute_path: str) -> str | None:
        """Check ``absolute_path`` (from `get_absolute_path`) and return the path to serve.

        Symlinks are resolved, and the result must stay inside
        ``allowed_symlink_directory`` (the root by default); it must be a
        regular file (403 otherwise, 404 when missing). For a directory with
        ``default_filename`` set, the request is redirected to the path with
        a trailing slash when it has none (and this returns ``None``), else
        the default file is served.

        Overriding methods may raise `HTTPError`, or answer themselves (a
        redirect, say) and return ``None``. The result is
        ``self.absolute_path``.
        """
        root_prefix = _root_prefix(root, absolute_path, self.path)
        allowed = self.allowed_symlink_directory or root_prefix
        allowed_dirs = [allowed] if isinstance(allowed, str) else list(allowed)
        # The check above was on the path as written (so a wide
        # allowed_symlink_directory cannot let "../" through); this one is on
        # the file that will really be opened.
        absolute_path = _resolve_within(absolute_path, allowed_dirs, self.path)
        if self.default_filename is not None and os.path.isdir(absolute_path):
            request_path = self.request.path
            if not request_path.endswith("/"):
                # A Location starting with two slashes (or equivalents)
                # would send the browser to another host.
                if _is_protocol_relative(request_path):
                    raise HTTPError(403, "cannot redirect path with two initial slashes")
                self.redirect(request_path + "/", permanent=True)
                return None
            # The default file may itself be a link: resolve it before it
            # is stat'ed (and only after the directory passed, so that an
            # outside directory cannot be probed through the redirect).
            absolute_path = _resolve_within(os.path.join(absolute_path, self.default_filename),
                                            allowed_dirs, self.path)
        self._stat_result = _regular_file_stat(absolute_path, self.path)
        return absolute_path

    def parse_url_path(self, url_path: str) -> str:
        """Turn the URL's path (``static_url_prefix`` removed) into a path below the root.

        The inverse of `make_static_url`.
        """
        if os.path.sep != "/":
            url_path = url_path.replace("/", os.path.sep)
        return url_path

    # --- content -------------------------------------------------------------------

    @classmethod
    def get_content(cls, abspath: str, start: int | None = None,
                    end: int | None = None) -> Generator[bytes, None, None]:
        """Yield the bytes ``[start:end]`` of the file ``abspath``, in 64 KiB chunks.

        Overrides may return ``bytes`` or any iterable of ``bytes``. The
        arguments carry no settings, so ``abspath`` alone identifies the
        content (it is the version cache's key). Raises `HTTPError` unless
        ``abspath`` is a regular file.
        """
        # Requests were checked by validate_absolute_path already; versions
        # (static_url) arrive here straight from get_absolute_path.
        _regular_file_stat(abspath, abspath)
        with open(abspath, "rb") as f:
            if start is not None:
                f.seek(start)
            remaining = None if end is None else end - (start or 0)
            while remaining is None or remaining > 0:
                size = _CHUNK_SIZE if remaining is None else min(_CHUNK_SIZE, remaining)
                chunk = f.read(size)
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk

    @classmethod
    def get_content_version(cls, abspath: str) -> str:
        """The version of the file: the hex SHA-512 of its content.

        Raises `ValueError` for content larger than
        `MAX_VERSION_CONTENT_SIZE` (such files get no version).
        """
        data = cls.get_content(abspath)
        chunks: Iterable[bytes] = [data] if isinstance(data, bytes) else data
        hasher = hashlib.sha512()
        total = 0
        try:
            for chunk in chunks:
                total += len(chunk)
                if total > cls.MAX_VERSION_CONTENT_SIZE:
                    raise ValueError("content is larger than MAX_VERSION_CONTENT_SIZE (%d bytes)"
                                     % cls.MAX_VERSION_CONTENT_SIZE)
                hasher.update(chunk)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        return hasher.hexdigest()

    def _stat(self) -> os.stat_result:
        """The ``os.stat`` of ``self.absolute_path``, from validation when it ran."""
        assert self.absolute_path is not None
        result = getattr(self, "_stat_result", None)
        if result is None:
            # A subclass's validate_absolute_path did not call ours.
            result = self._stat_result = os.stat(self.absolute_path)
        return result

    def get_content_size(self) -> int:
        """The size in bytes of the whole resource."""
        return self._stat().st_size

    def get_modified_time(self) -> datetime.datetime | None:
        """When the file was last modified, to the second, as an aware UTC datetime."""
        return datetime.datetime.fromtimestamp(int(self._stat().st_mtime), _UTC)

    def get_content_type(self) -> str:
        """The ``Content-Type``: from `mimetypes`, ``application/octet-stream`` when unknown.

        A gzip-compressed file (``.gz``) is ``application/gzip`` (RFC 6713);
        one in another encoding (``.bz2``, ``.xz``...) is
        ``application/octet-stream``.
        """
        assert self.absolute_path is not None
        import mimetypes

        mime_type, encoding = mimetypes.guess_type(self.absolute_path)
        if encoding == "gzip":
            return "application/gzip"
        if encoding is not None or mime_type is None:
            return "application/octet-stream"
        return mime_type

    # --- URLs and versions ------------------------------------------------------------

    @classmethod
    def make_static_url(cls, settings: dict[str, Any], path: str,
                        include_version: bool = True) -> str:
        """Return the URL (relative to the host) of the static file ``path``.

        It is ``static_url_prefix`` (``/static/``) plus ``path``, and with
        ``include_version`` a ``?v=`` with its version (`get_version`) when
        there is one. ``settings`` are the application's. Overrides need only
        accept ``(settings, path)``; other keyword arguments given to
        `~.RequestHandler.static_url` are passed on.
        """
        url = settings.get("static_url_prefix", "/static/") + path
        if not include_version:
            return url
        version = cls.get_version(settings, path)
        return url + "?v=" + version if version else url

    @classmethod
    def get_version(cls, settings: dict[str, Any], path: str) -> str | None:
        """The version of the static file ``path`` for its URL, or ``None``.

        Cached (see `MAX_CACHED_VERSIONS`) until `reset`. ``path`` should be
        a known file, not client input. Override `get_content_version`
        rather than this, to keep the caching.
        """
        return cls._get_cached_version(cls.get_absolute_path(settings["static_path"], path))

    @classmethod
    def _get_cached_version(cls, abs_path: str) -> str | None:
        with cls._lock:
            versions = cls._static_hashes
            if abs_path in versions:
                version = versions.pop(abs_path)  # re-inserted last: most recently used
            else:
                try:
                    version = cls.get_content_version(abs_path)
                except Exception as e:
                    gen_log.error("Could not open static file %r: %s", abs_path, e)
                    version = None
                while versions and len(versions) >= cls.MAX_CACHED_VERSIONS:
                    del versions[next(iter(versions))]
            versions[abs_path] = version
            return version or None


_BASE_GET_CONTENT = StaticFileHandler.get_content.__func__  # type: ignore[attr-defined]


def _root_prefix(root: str, absolute_path: str, shown_path: str) -> str:
    """Return ``root``, absolute, with a trailing separator; 403 unless ``absolute_path`` is in it.

    The separator matters: ``/srv/static`` must not admit ``/srv/static2``.
    A root of ``/`` stays ``/`` (some projects use it to switch the check
    off and check paths themselves).
    """
    prefix = os.path.abspath(root)
    if not prefix.endswith(os.path.sep):
        prefix += os.path.sep
    if not (absolute_path + os.path.sep).startswith(prefix):
        raise HTTPError(403, "%s is not in root static directory", shown_path)
    return prefix


def _resolve_within(absolute_path: str, allowed_dirs: list[str], shown_path: str) -> str:
    """Resolve the symlinks in ``absolute_path``; 403 unless it lands in one of ``allowed_dirs``.

    The answer is the same 403 as for ``../``, so a client cannot tell how a
    path left the directory. This checks the file system at one moment: it
    does not replace permissions on a directory that others can write to.
    """
    try:
        resolved = _realpath(absolute_path)
    except (OSError, ValueError):
        raise HTTPError(404) from None
    for directory in allowed_dirs:
        # The allowed directory may itself be reached through a link.
        prefix = _realpath(directory)
        if not prefix.endswith(os.path.sep):
            prefix += os.path.sep
        if (resolved + os.path.sep).startswith(prefix):
            return resolved
    raise HTTPError(403, "%s is not in root static directory", shown_path)


_O_PATH = getattr(os, "O_PATH", 0)


def _realpath(path: str) -> str:
    """`os.path.realpath`, faster for a path that exists (on Linux).

    The kernel resolves the path once (an ``O_PATH`` descriptor, which opens
    nothing for reading, so a FIFO cannot block) and ``/proc/self/fd`` names
    the result: three system calls instead of an ``lstat`` per component.
    Anything unusual (a missing path, no ``/proc``, a file deleted
    meanwhile) goes to `os.path.realpath`, whose answer this always equals.
    """
    if _O_PATH:
        try:
            fd = os.open(path, _O_PATH | os.O_CLOEXEC)
        except (OSError, ValueError):
            return os.path.realpath(path)
        try:
            target = os.readlink("/proc/self/fd/%d" % fd)
        except OSError:
            target = ""
        finally:
            os.close(fd)
        if target.startswith("/") and not target.endswith(" (deleted)"):
            return target
    return os.path.realpath(path)


def _regular_file_stat(absolute_path: str, shown_path: str) -> os.stat_result:
    """``os.stat`` the path: 404 when it cannot be, 403 unless it is a regular file.

    Devices, FIFOs (opening one blocks) and sockets are never read, nor
    directories.
    """
    try:
        result = os.stat(absolute_path)
    except (OSError, ValueError):
        raise HTTPError(404) from None
    if not stat.S_ISREG(result.st_mode):
        raise HTTPError(403, "%s is not a file", shown_path)
    return result
