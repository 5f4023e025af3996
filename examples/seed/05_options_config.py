"""Options from a config file (seed tutorial, chapter 2, section 2.4 "options", parse_config_file).

``parse_config_file(path)`` runs the file ``config`` (Python syntax, shipped
beside this program) and assigns every name that is a defined option; here
``port = 8000`` and the list ``itcast``.  The tutorial reads ``./config`` from
the working directory; this port reads the ``config`` next to this file, and
then also parses the command line so that ``--port`` can override the file::

    python examples/seed/05_options_config.py            # port 8000 from ./config
    # prints ['python', 'c++', 'java', 'php', 'ios']
    python examples/seed/05_options_config.py --port=9000
    curl -i http://127.0.0.1:9000/          # Hello world!
"""

import os

import embedtornado.httpserver
import embedtornado.ioloop
import embedtornado.options
import embedtornado.web

embedtornado.options.define("port", default=8000, type=int, help="run server on the given port.")
embedtornado.options.define("itcast", default=[], type=str, multiple=True, help="itcast subjects.")

CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "config")


class IndexHandler(embedtornado.web.RequestHandler):
    """The main route's handler."""

    def get(self):
        """Answers the HTTP GET method."""
        self.write("Hello world!")


if __name__ == "__main__":
    embedtornado.options.parse_config_file(CONFIG)  # the tutorial's only change
    embedtornado.options.parse_command_line()  # lets --port override the file
    print(embedtornado.options.options.itcast)  # the multi-valued option

    app = embedtornado.web.Application([(r"/", IndexHandler)])
    http_server = embedtornado.httpserver.HTTPServer(app)
    http_server.listen(embedtornado.options.options.port)
    embedtornado.ioloop.IOLoop.current().start()
