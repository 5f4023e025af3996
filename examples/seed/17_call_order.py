"""Hook call order (seed tutorial, chapter 3, section 3.4 "Interfaces and call order", item 7).

Every hook prints its name, so the order shows on stdout.  A normal request
(GET) runs::

    set_default_headers()  initialize()  prepare()  get()  on_finish()

and a request whose method calls ``send_error`` (POST; ``send_error(200)``)
runs::

    set_default_headers()  initialize()  prepare()  post()
    set_default_headers()  write_error()  on_finish()

Try it::

    python examples/seed/17_call_order.py --port=8000
    curl -i http://127.0.0.1:8000/
    curl -i -X POST -d '' http://127.0.0.1:8000/
"""

import embedtornado.httpserver
import embedtornado.ioloop
import embedtornado.options
import embedtornado.web
from embedtornado.options import define, options
from embedtornado.web import RequestHandler

define("port", default=8000, type=int, help="run server on the given port.")


class IndexHandler(RequestHandler):
    def initialize(self):
        print("调用了initialize()")

    def prepare(self):
        print("调用了prepare()")

    def set_default_headers(self):
        print("调用了set_default_headers()")

    def write_error(self, status_code, **kwargs):
        print("调用了write_error()")

    def get(self):
        print("调用了get()")

    def post(self):
        print("调用了post()")
        self.send_error(200)  # note: an error is sent here

    def on_finish(self):
        print("调用了on_finish()")


if __name__ == "__main__":
    embedtornado.options.parse_command_line()
    app = embedtornado.web.Application([
        (r"/", IndexHandler),
    ])
    http_server = embedtornado.httpserver.HTTPServer(app)
    http_server.listen(options.port)
    embedtornado.ioloop.IOLoop.current().start()
