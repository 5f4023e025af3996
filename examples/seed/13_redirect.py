"""Redirect (seed tutorial, chapter 3, section 3.3 "Output", item 5 "redirect(url)").

``redirect(url)`` tells the browser to go to ``url`` (a ``302 Found`` with a
``Location`` header).  ``/login`` shows a one-button form whose POST redirects
to the home page (the tutorial's ``<from>`` typo is corrected to ``<form>``)::

    python examples/seed/13_redirect.py --port=8000
    curl -i http://127.0.0.1:8000/login
    curl -i -X POST -d '' http://127.0.0.1:8000/login    # 302, Location: /
    curl -L -X POST -d '' http://127.0.0.1:8000/login    # follows it to the home page
"""

import embedtornado.httpserver
import embedtornado.ioloop
import embedtornado.options
import embedtornado.web
from embedtornado.options import define, options
from embedtornado.web import RequestHandler

define("port", default=8000, type=int, help="run server on the given port.")


class IndexHandler(RequestHandler):
    """Answers /"""

    def get(self):
        self.write("主页")


class LoginHandler(RequestHandler):
    """Answers /login"""

    def get(self):
        self.write('<form method="post"><input type="submit" value="登录"></form>')

    def post(self):
        self.redirect("/")


if __name__ == "__main__":
    embedtornado.options.parse_command_line()
    app = embedtornado.web.Application([
        (r"/", IndexHandler),
        (r"/login", LoginHandler),
    ])
    http_server = embedtornado.httpserver.HTTPServer(app)
    http_server.listen(options.port)
    embedtornado.ioloop.IOLoop.current().start()
