"""Default headers (seed tutorial, chapter 3, section 3.3 "Output", item 3 "set_default_headers()").

``set_default_headers()`` runs before the HTTP method and may preset
headers; a ``set_header`` of the same name in the method replaces the default.
Here GET and POST default to a JSON ``Content-Type`` and an ``itcast: python``
header, which ``get()`` replaces with ``itcast: i love python``.  Each hook
prints that it ran::

    python examples/seed/11_default_headers.py --port=8000
    curl -i http://127.0.0.1:8000/              # itcast: i love python
    curl -i -X POST -d '' http://127.0.0.1:8000/  # itcast: python
"""

import json

import embedtornado.httpserver
import embedtornado.ioloop
import embedtornado.options
import embedtornado.web
from embedtornado.options import define, options
from embedtornado.web import RequestHandler

define("port", default=8000, type=int, help="run server on the given port.")


class IndexHandler(RequestHandler):
    def set_default_headers(self):
        print("执行了set_default_headers()")
        # GET and POST answer JSON by default
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        # a header named itcast with the value python
        self.set_header("itcast", "python")

    def get(self):
        print("执行了get()")
        stu = {
            "name": "zhangsan",
            "age": 24,
            "gender": 1,
        }
        stu_json = json.dumps(stu)
        self.write(stu_json)
        self.set_header("itcast", "i love python")  # replaces the default itcast header

    def post(self):
        print("执行了post()")
        stu = {
            "name": "zhangsan",
            "age": 24,
            "gender": 1,
        }
        stu_json = json.dumps(stu)
        self.write(stu_json)


if __name__ == "__main__":
    embedtornado.options.parse_command_line()
    app = embedtornado.web.Application([
        (r"/", IndexHandler),
    ])
    http_server = embedtornado.httpserver.HTTPServer(app)
    http_server.listen(options.port)
    embedtornado.ioloop.IOLoop.current().start()
