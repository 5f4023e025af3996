"""An explicit HTTPServer (seed tutorial, chapter 2, section 2.3 "httpserver").

The same application as the hello world, but the HTTP server is built by hand
with ``HTTPServer(app)`` and ``http_server.listen(port)``; ``app.listen(port)``
is shorthand for exactly this.  (The tutorial's ``IOLOOP`` typo is corrected.)::

    python examples/seed/02_httpserver_listen.py --port=8000
    curl -i http://127.0.0.1:8000/          # Hello World
"""

import embedtornado.httpserver
import embedtornado.ioloop
import embedtornado.options
import embedtornado.web
from embedtornado.options import define, options

define("port", default=8000, type=int, help="run server on the given port.")


class IndexHandler(embedtornado.web.RequestHandler):
    def get(self):
        self.write("Hello World")


if __name__ == "__main__":
    embedtornado.options.parse_command_line()
    app = embedtornado.web.Application([(r"/", IndexHandler)])
    # app.listen(8000) is shorthand for these two lines:
    http_server = embedtornado.httpserver.HTTPServer(app)
    http_server.listen(options.port)
    embedtornado.ioloop.IOLoop.current().start()
