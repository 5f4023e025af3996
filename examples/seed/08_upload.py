"""Saving an uploaded file (seed tutorial, chapter 3, section 3.2 "Input", item 4, upload.py).

``request.files`` maps each form field name to a list of `HTTPFile` objects
with ``filename``, ``body`` and ``content_type``, also readable dict-style
(``files["img"][0]["body"]``).  The first file of the field ``img`` is written
to ``./itcast`` in the working directory (in binary mode: under Python 3 the
body is bytes)::

    python examples/seed/08_upload.py --port=8000
    curl -i http://127.0.0.1:8000/                          # hello itcast.
    curl -i -F img=@picture.png http://127.0.0.1:8000/upload  # OK, ./itcast written
"""

import embedtornado.httpserver
import embedtornado.ioloop
import embedtornado.options
import embedtornado.web
from embedtornado.options import define, options
from embedtornado.web import RequestHandler

define("port", default=8000, type=int, help="run server on the given port.")


class IndexHandler(RequestHandler):
    def get(self):
        self.write("hello itcast.")


class UploadHandler(RequestHandler):
    def post(self):
        files = self.request.files
        img_files = files.get("img")
        if img_files:
            img_file = img_files[0]["body"]
            file = open("./itcast", "wb+")
            file.write(img_file)
            file.close()
        self.write("OK")


if __name__ == "__main__":
    embedtornado.options.parse_command_line()
    app = embedtornado.web.Application([
        (r"/", IndexHandler),
        (r"/upload", UploadHandler),
    ])
    http_server = embedtornado.httpserver.HTTPServer(app)
    http_server.listen(options.port)
    embedtornado.ioloop.IOLoop.current().start()
