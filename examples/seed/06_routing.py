"""Routes with arguments and names (seed tutorial, chapter 3 "Tornado in depth", section 3.1 "Application").

A route may carry a dict that is passed to the handler's ``initialize()`` as
keyword arguments; a route built with ``url(...)`` may also carry a ``name``,
which ``reverse_url(name)`` turns back into its path.  ``debug=True`` turns on
debug mode (autoreload, no template or static-hash caching, tracebacks in
error pages).  The tutorial's typos (``url.RequestHandler``,
``parse_comment_line``, ``application``, ``ItcastHanlder``, ``initialize``
without ``subject``, ``</>``) are corrected::

    python examples/seed/06_routing.py --port=8000
    curl -i http://127.0.0.1:8000/          # <a href="/python">itcast</a>
    curl -i http://127.0.0.1:8000/cpp       # c++
    curl -i http://127.0.0.1:8000/python    # python
"""

import embedtornado.httpserver
import embedtornado.ioloop
import embedtornado.options
import embedtornado.web
from embedtornado.options import define, options
from embedtornado.web import RequestHandler, url

define("port", default=8000, type=int, help="run server on the given port.")


class IndexHandler(RequestHandler):
    def get(self):
        python_url = self.reverse_url("python_url")
        self.write('<a href="%s">itcast</a>' % python_url)


class ItcastHandler(RequestHandler):
    def initialize(self, subject):
        self.subject = subject

    def get(self):
        self.write(self.subject)


if __name__ == "__main__":
    embedtornado.options.parse_command_line()
    app = embedtornado.web.Application(
        [
            (r"/", IndexHandler),
            (r"/cpp", ItcastHandler, {"subject": "c++"}),
            url(r"/python", ItcastHandler, {"subject": "python"}, name="python_url"),
        ],
        debug=True,
    )

    http_server = embedtornado.httpserver.HTTPServer(app)
    http_server.listen(options.port)
    embedtornado.ioloop.IOLoop.current().start()
