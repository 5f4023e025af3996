"""Demo plugin: a file upload form (multipart/form-data, with the XSRF token).

Files are kept in memory, bounded (`MAX_FILES` files of at most
`MAX_FILE_SIZE` bytes), so the demo never writes to the device's flash.
"""

from embedtornado.escape import url_escape
from embedtornado.web import HTTPError, RequestHandler

MAX_FILES = 10
MAX_FILE_SIZE = 256 * 1024

_files = {}  # name -> (content_type, body)


class UploadHandler(RequestHandler):
    def get(self):
        self.render("upload.html", files=sorted(_files.items()), max_size=MAX_FILE_SIZE,
                    url_escape=url_escape)

    def post(self):
        uploads = self.request.files.get("file", [])
        if not uploads:
            raise HTTPError(400, reason="No file in the form (field 'file')")
        for f in uploads:
            name = f["filename"].replace("/", "_").replace("\\", "_")[-100:] or "unnamed"
            if len(f["body"]) > MAX_FILE_SIZE:
                raise HTTPError(413, reason=f"{name} is larger than {MAX_FILE_SIZE} bytes")
            if name not in _files and len(_files) >= MAX_FILES:
                _files.pop(sorted(_files)[0])
            _files[name] = (f.get("content_type") or "application/octet-stream", f["body"])
        self.redirect("/upload")


class DownloadHandler(RequestHandler):
    def get(self, name):
        entry = _files.get(name)
        if entry is None:
            raise HTTPError(404)
        self.set_header("Content-Type", "application/octet-stream")
        self.set_header("Content-Disposition", "attachment")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.finish(entry[1])


routes = [
    (r"/upload", UploadHandler),
    (r"/upload/files/([^/]+)", DownloadHandler),
]
