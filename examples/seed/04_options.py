"""Command-line options (seed tutorial, chapter 2, section 2.4 "options", opt.py).

``define`` declares global options (``port``, and the multi-valued ``itcast``
that only demonstrates ``multiple=True``); ``parse_command_line`` fills them
from ``--name=value`` arguments and also turns on logging to stderr.  The
program prints the ``itcast`` list once at start-up::

    python examples/seed/04_options.py --port=9000 --itcast=python,c++,java,php,ios
    # prints ['python', 'c++', 'java', 'php', 'ios']
    curl -i http://127.0.0.1:9000/          # Hello Itcast!
    python examples/seed/04_options.py --help
"""

import embedtornado.httpserver
import embedtornado.ioloop
import embedtornado.options
import embedtornado.web

# The port the server listens on.
embedtornado.options.define("port", default=8000, type=int, help="run server on the port.")

# Means nothing; shows a multi-valued option.
embedtornado.options.define("itcast", default=[], type=str, multiple=True, help="itcast subjects.")


class IndexHandler(embedtornado.web.RequestHandler):
    """The main route's handler."""

    def get(self):
        """Answers the HTTP GET method."""
        self.write("Hello Itcast!")


if __name__ == "__main__":
    embedtornado.options.parse_command_line()
    print(embedtornado.options.options.itcast)  # the multi-valued option
    app = embedtornado.web.Application([(r"/", IndexHandler)])
    http_server = embedtornado.httpserver.HTTPServer(app)
    http_server.listen(embedtornado.options.options.port)
    embedtornado.ioloop.IOLoop.current().start()
