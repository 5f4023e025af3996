"""Output transforms: rewrite a response as it goes out (gzip compression).

An `Application` makes one instance of each of its transform classes per
request; `RequestHandler.flush` passes the status, headers and first body
chunk through `OutputTransform.transform_first_chunk`, and each later chunk
through `OutputTransform.transform_chunk`. The ``compress_response=True``
setting (or the older ``gzip=True``) adds `GZipContentEncoding`::

    from embedtornado.web import Application, GZipContentEncoding

    app = Application(handlers, compress_response=True)
    # the same as:
    app = Application(handlers, transforms=[GZipContentEncoding])

Applications rarely write transforms of their own.
"""

from __future__ import annotations

from io import BytesIO

from embedtornado import httputil
from embedtornado.escape import _unicode

__all__ = ["GZipContentEncoding", "OutputTransform"]


class OutputTransform:
    """Base class of transforms; this one passes everything through unchanged.

    :arg request: the `.HTTPServerRequest` being answered.
    """

    def __init__(self, request: httputil.HTTPServerRequest) -> None:
        pass

    def transform_first_chunk(
        self,
        status_code: int,
        headers: httputil.HTTPHeaders,
        chunk: bytes,
        finishing: bool,
    ) -> tuple[int, httputil.HTTPHeaders, bytes]:
        """Return the status, headers and first chunk to send.

        ``finishing`` is true when this chunk is the whole body.
        """
        return status_code, headers, chunk

    def transform_chunk(self, chunk: bytes, finishing: bool) -> bytes:
        """Return what to send for a later body chunk (``finishing``: the last one)."""
        return chunk


class GZipContentEncoding(OutputTransform):
    """Compress responses with gzip when the client accepts it.

    A response is compressed when the request's ``Accept-Encoding``
    mentions ``gzip``, its ``Content-Type`` starts with ``text/`` or is in
    `CONTENT_TYPES`, it has no ``Content-Encoding`` yet, and, when it is
    sent in one piece, it is at least `MIN_LENGTH` bytes long (a response
    flushed in several pieces is compressed whatever its size, and is then
    sent chunked). Every response gets ``Vary: Accept-Encoding``.
    """

    #: Types compressed besides ``text/*``.
    CONTENT_TYPES = {
        "application/javascript",
        "application/x-javascript",
        "application/xml",
        "application/atom+xml",
        "application/json",
        "application/xhtml+xml",
        "image/svg+xml",
    }
    #: Compression level: gzip's own default, a better trade of CPU for
    #: size than `gzip.GzipFile`'s 9.
    GZIP_LEVEL = 6
    #: Smaller one-piece bodies are sent as they are: the gzip framing and
    #: the extra header would eat most of the gain.
    MIN_LENGTH = 1024

    def __init__(self, request: httputil.HTTPServerRequest) -> None:
        self._gzipping = "gzip" in request.headers.get("Accept-Encoding", "")

    def _compressible_type(self, ctype: str) -> bool:
        return ctype.startswith("text/") or ctype in self.CONTENT_TYPES

    def transform_first_chunk(
        self,
        status_code: int,
        headers: httputil.HTTPHeaders,
        chunk: bytes,
        finishing: bool,
    ) -> tuple[int, httputil.HTTPHeaders, bytes]:
        if "Vary" in headers:
            headers["Vary"] += ", Accept-Encoding"
        else:
            headers["Vary"] = "Accept-Encoding"
        if self._gzipping:
            ctype = _unicode(headers.get("Content-Type", "")).split(";")[0]
            self._gzipping = (
                self._compressible_type(ctype)
                and (not finishing or len(chunk) >= self.MIN_LENGTH)
                and ("Content-Encoding" not in headers)
            )
        if self._gzipping:
            headers["Content-Encoding"] = "gzip"
            import gzip  # (here: a server that compresses nothing never loads it)

            self._gzip_value = BytesIO()
            self._gzip_file = gzip.GzipFile(
                mode="w", fileobj=self._gzip_value, compresslevel=self.GZIP_LEVEL
            )
            chunk = self.transform_chunk(chunk, finishing)
            if "Content-Length" in headers:
                # The length was the uncompressed one. In one piece the new
                # length is known; otherwise fall back to chunked encoding.
                if finishing:
                    headers["Content-Length"] = str(len(chunk))
                else:
                    del headers["Content-Length"]
        return status_code, headers, chunk

    def transform_chunk(self, chunk: bytes, finishing: bool) -> bytes:
        if self._gzipping:
            self._gzip_file.write(chunk)
            if finishing:
                self._gzip_file.close()
            else:
                self._gzip_file.flush()
            chunk = self._gzip_value.getvalue()
            self._gzip_value.truncate(0)
            self._gzip_value.seek(0)
        return chunk
