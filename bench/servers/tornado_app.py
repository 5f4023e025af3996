"""The Tornado 6.6.1 side of bench/bench_http.py: hello world and a JSON handler.

    python bench/servers/tornado_app.py --port=8000 --logging=warning
    curl http://127.0.0.1:8000/
    curl 'http://127.0.0.1:8000/json?a=hello'

``embedtornado_app.py`` is this same program with ``tornado`` replaced by
``embedtornado`` (the port rule); ``bench_http.py`` checks that the two
programs below the ``# --- program ---`` line still match. Run with
``--logging=warning`` so no access line is written per request.
"""

# --- program ---
import tornado.httpserver
import tornado.ioloop
import tornado.options
import tornado.web
from tornado.options import define, options

define("port", default=8000, type=int, help="run server on the given port.")
define("address", default="127.0.0.1", help="address to listen on.")


class HelloHandler(tornado.web.RequestHandler):
    def get(self):
        self.write("Hello World!")


class JSONHandler(tornado.web.RequestHandler):
    def get(self):
        self.write({"a": self.get_argument("a"), "n": 1, "items": [1, 2, 3]})


if __name__ == "__main__":
    tornado.options.parse_command_line()
    app = tornado.web.Application([(r"/", HelloHandler), (r"/json", JSONHandler)])
    server = tornado.httpserver.HTTPServer(app)
    server.listen(options.port, options.address)
    tornado.ioloop.IOLoop.current().start()
