"""Hello world with embedtornado.web: the seed tutorial's first program, ported.

    python examples/hello_web.py --port=8000
    curl http://127.0.0.1:8000/

The same file runs under Tornado 6.6.1 with ``embedtornado`` replaced by
``tornado`` in its imports.
"""

import embedtornado.httpserver
import embedtornado.ioloop
import embedtornado.options
import embedtornado.web
from embedtornado.options import define, options

define("port", default=8000, type=int, help="run server on the given port.")
define("address", default="127.0.0.1", help="address to listen on.")


class IndexHandler(embedtornado.web.RequestHandler):
    def get(self):
        self.write("Hello World!\n")


if __name__ == "__main__":
    embedtornado.options.parse_command_line()
    app = embedtornado.web.Application([(r"/", IndexHandler)])
    server = embedtornado.httpserver.HTTPServer(app)
    server.listen(options.port, options.address)
    print(f"listening on http://{options.address}:{options.port}/")
    embedtornado.ioloop.IOLoop.current().start()
