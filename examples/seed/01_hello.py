"""Hello World (seed tutorial, chapter 2 "Getting started with Tornado", section 2.2 "Hello World").

The smallest web application: one `RequestHandler` whose ``get`` writes a
string, served with ``Application.listen``.  The tutorial hard-codes port 8000;
here ``--port`` (default 8000) makes it configurable::

    python examples/seed/01_hello.py --port=8000
    curl -i http://127.0.0.1:8000/          # Hello World!
    curl -i -X POST -d '' http://127.0.0.1:8000/   # 405: no post() method
"""

import embedtornado.ioloop
import embedtornado.options
import embedtornado.web
from embedtornado.options import define, options

define("port", default=8000, type=int, help="run server on the given port.")


class IndexHandler(embedtornado.web.RequestHandler):
    """The main route's handler."""

    def get(self):
        """Answers the HTTP GET method."""
        self.write("Hello World!")


if __name__ == "__main__":
    embedtornado.options.parse_command_line()
    app = embedtornado.web.Application([(r"/", IndexHandler)])
    app.listen(options.port)
    embedtornado.ioloop.IOLoop.current().start()
