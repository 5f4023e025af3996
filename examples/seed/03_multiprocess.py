"""Several worker processes (seed tutorial, chapter 2, section 2.3, "single and multiple processes").

``http_server.bind(port)`` opens the listening socket, then
``http_server.start(0)`` forks one worker per CPU core (``start(n)`` with
``n > 0`` forks ``n``); ``http_server.listen(port)`` is the same as ``bind(port)``
followed by ``start(1)``.  Every worker accepts on the shared socket.

The tutorial passes ``0``; ``--processes`` (default 0, as in the tutorial) lets
you choose another number::

    python examples/seed/03_multiprocess.py --port=8000 --processes=0
    ps -ef | grep 03_multiprocess.py     # one parent and one child per core
    curl -i http://127.0.0.1:8000/       # Hello World
"""

import embedtornado.httpserver
import embedtornado.ioloop
import embedtornado.options
import embedtornado.web
from embedtornado.options import define, options

define("port", default=8000, type=int, help="run server on the given port.")
define("processes", default=0, type=int, help="worker processes to fork (0: one per CPU core).")


class IndexHandler(embedtornado.web.RequestHandler):
    def get(self):
        self.write("Hello World")


if __name__ == "__main__":
    embedtornado.options.parse_command_line()
    app = embedtornado.web.Application([(r"/", IndexHandler)])
    http_server = embedtornado.httpserver.HTTPServer(app)
    # -------------changed-------------
    http_server.bind(options.port)
    http_server.start(options.processes)
    # ---------------------------------
    embedtornado.ioloop.IOLoop.current().start()
