"""prepare() parsing a JSON body (seed tutorial, chapter 3, section 3.4 "Interfaces and call order", item 2).

``prepare()`` runs before the HTTP method, whatever the method; here it decodes
a JSON request body once for both ``post()`` and ``put()``, which print each
key and value as HTML.  As in the tutorial, a request without a
``Content-Type`` makes ``prepare()`` fail (``None`` has no ``startswith``), so
it gets a 500::

    python examples/seed/16_prepare_json.py --port=8000
    curl -i -X POST -H 'Content-Type: application/json' -d '{"name": "zhangsan"}' http://127.0.0.1:8000/
    curl -i -X PUT -H 'Content-Type: application/json' -d '{"age": 24}' http://127.0.0.1:8000/
    curl -i http://127.0.0.1:8000/          # 500: no Content-Type
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
    def prepare(self):
        if self.request.headers.get("Content-Type").startswith("application/json"):
            self.json_dict = json.loads(self.request.body)
        else:
            self.json_dict = None

    def post(self):
        if self.json_dict:
            for key, value in self.json_dict.items():
                self.write("<h3>%s</h3><p>%s</p>" % (key, value))

    def put(self):
        if self.json_dict:
            for key, value in self.json_dict.items():
                self.write("<h3>%s</h3><p>%s</p>" % (key, value))


if __name__ == "__main__":
    embedtornado.options.parse_command_line()
    app = embedtornado.web.Application([
        (r"/", IndexHandler),
    ])
    http_server = embedtornado.httpserver.HTTPServer(app)
    http_server.listen(options.port)
    embedtornado.ioloop.IOLoop.current().start()
