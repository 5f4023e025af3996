"""The six argument getters (seed tutorial, chapter 3, section 3.2 "Input", items 1-3).

``get_query_argument(s)`` read the query string, ``get_body_argument(s)`` the
form-encoded (or multipart) body, ``get_argument(s)`` both.  The singular forms
return the last value and raise `MissingArgumentError` (a 400) without a
default; the plural forms return a list, empty when the name is absent;
``strip`` (default true) trims surrounding whitespace.  The caught
`MissingArgumentError` is printed::

    python examples/seed/07_input_arguments.py --port=8000
    curl -i -X POST 'http://127.0.0.1:8000/?a=1&a=2' -d 'a=%20x%20&a=y'
    curl -i -X POST 'http://127.0.0.1:8000/' -d 'a=1'   # 400: no "a" in the query
"""

import embedtornado.httpserver
import embedtornado.ioloop
import embedtornado.options
import embedtornado.web
from embedtornado.options import define, options
from embedtornado.web import MissingArgumentError, RequestHandler

define("port", default=8000, type=int, help="run server on the given port.")


class IndexHandler(RequestHandler):
    def post(self):
        query_arg = self.get_query_argument("a")
        query_args = self.get_query_arguments("a")
        body_arg = self.get_body_argument("a")
        body_args = self.get_body_arguments("a", strip=False)
        arg = self.get_argument("a")
        args = self.get_arguments("a")

        default_arg = self.get_argument("b", "itcast")
        default_args = self.get_arguments("b")

        try:
            missing_arg = self.get_argument("c")
        except MissingArgumentError as e:
            missing_arg = "We catched the MissingArgumentError!"
            print(e)
        missing_args = self.get_arguments("c")

        rep = "query_arg:%s<br/>" % query_arg
        rep += "query_args:%s<br/>" % query_args
        rep += "body_arg:%s<br/>" % body_arg
        rep += "body_args:%s<br/>" % body_args
        rep += "arg:%s<br/>" % arg
        rep += "args:%s<br/>" % args
        rep += "default_arg:%s<br/>" % default_arg
        rep += "default_args:%s<br/>" % default_args
        rep += "missing_arg:%s<br/>" % missing_arg
        rep += "missing_args:%s<br/>" % missing_args

        self.write(rep)


if __name__ == "__main__":
    embedtornado.options.parse_command_line()
    app = embedtornado.web.Application([
        (r"/", IndexHandler),
    ])
    http_server = embedtornado.httpserver.HTTPServer(app)
    http_server.listen(options.port)
    embedtornado.ioloop.IOLoop.current().start()
