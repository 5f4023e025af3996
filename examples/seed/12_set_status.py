"""Response status (seed tutorial, chapter 3, section 3.3 "Output", item 4 "set_status").

``set_status(status_code, reason=None)`` sets the response status; without a
reason, the standard phrase of the code (the tutorial's table) is used.  The
tutorial gives only the signature and the table, so this program shows the
three cases: a standard code, a code with a custom reason, and a code outside
the table without a reason (Tornado 6 answers with the reason ``Unknown``;
the Tornado 4 of the tutorial raised ``ValueError`` here)::

    python examples/seed/12_set_status.py --port=8000
    curl -i http://127.0.0.1:8000/          # HTTP/1.1 404 Not Found
    curl -i http://127.0.0.1:8000/custom    # HTTP/1.1 210 itcast error
    curl -i http://127.0.0.1:8000/unknown   # HTTP/1.1 299 Unknown
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
        self.set_status(404)
        self.write("hello itcast.")


class CustomHandler(RequestHandler):
    def get(self):
        self.set_status(210, "itcast error")
        self.write("hello itcast.")


class UnknownHandler(RequestHandler):
    def get(self):
        self.set_status(299)
        self.write("hello itcast.")


if __name__ == "__main__":
    embedtornado.options.parse_command_line()
    app = embedtornado.web.Application([
        (r"/", IndexHandler),
        (r"/custom", CustomHandler),
        (r"/unknown", UnknownHandler),
    ])
    http_server = embedtornado.httpserver.HTTPServer(app)
    http_server.listen(options.port)
    embedtornado.ioloop.IOLoop.current().start()
