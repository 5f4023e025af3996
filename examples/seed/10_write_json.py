"""write() and JSON output (seed tutorial, chapter 3, section 3.3 "Output", items 1-2).

``write(chunk)`` appends to an output buffer, so it may be called several
times; everything is sent together when the handler finishes.  JSON can be
sent three ways, which differ only in the ``Content-Type`` header:

* ``/dumps``: ``write(json.dumps(stu))`` sends ``text/html; charset=UTF-8``;
* ``/dict``: ``write(stu)`` serializes the dict itself and sends
  ``application/json; charset=UTF-8``;
* ``/header``: ``write(json.dumps(stu))`` then ``set_header("Content-Type",
  "application/json; charset=UTF-8")``: headers may be set until the response
  is flushed.

The tutorial shows each as a separate ``IndexHandler``; here each has its own
path::

    python examples/seed/10_write_json.py --port=8000
    curl -i http://127.0.0.1:8000/          # hello itcast 1!hello itcast 2!hello itcast 3!
    curl -i http://127.0.0.1:8000/dumps
    curl -i http://127.0.0.1:8000/dict
    curl -i http://127.0.0.1:8000/header
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
    def get(self):
        self.write("hello itcast 1!")
        self.write("hello itcast 2!")
        self.write("hello itcast 3!")


class DumpsHandler(RequestHandler):
    def get(self):
        stu = {
            "name": "zhangsan",
            "age": 24,
            "gender": 1,
        }
        stu_json = json.dumps(stu)
        self.write(stu_json)


class DictHandler(RequestHandler):
    def get(self):
        stu = {
            "name": "zhangsan",
            "age": 24,
            "gender": 1,
        }
        self.write(stu)


class HeaderHandler(RequestHandler):
    def get(self):
        stu = {
            "name": "zhangsan",
            "age": 24,
            "gender": 1,
        }
        stu_json = json.dumps(stu)
        self.write(stu_json)
        self.set_header("Content-Type", "application/json; charset=UTF-8")


if __name__ == "__main__":
    embedtornado.options.parse_command_line()
    app = embedtornado.web.Application([
        (r"/", IndexHandler),
        (r"/dumps", DumpsHandler),
        (r"/dict", DictHandler),
        (r"/header", HeaderHandler),
    ])
    http_server = embedtornado.httpserver.HTTPServer(app)
    http_server.listen(options.port)
    embedtornado.ioloop.IOLoop.current().start()
