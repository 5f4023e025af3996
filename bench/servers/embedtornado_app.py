"""The embedtornado side of bench/bench_http.py: tornado_app.py, ported.

    python bench/servers/embedtornado_app.py --port=8000 --logging=warning
    python bench/servers/embedtornado_app.py --twin --port=8000 --logging=warning
    python bench/servers/embedtornado_app.py --stdlib-loop --port=8000 --logging=warning

The program below the ``# --- program ---`` line is ``tornado_app.py`` with
``tornado`` replaced by ``embedtornado`` in its imports and nothing else
changed (``bench_http.py`` checks this). ``--twin`` sets
``EMBEDTORNADO_NO_EXTENSIONS=1`` before the first embedtornado import, so the
pure-Python twins run instead of the compiled modules. ``--stdlib-loop`` keeps
the compiled modules but runs them on asyncio's selector loop instead of
embedtornado's compiled epoll loop.
"""

import os
import sys

if "--twin" in sys.argv:
    sys.argv.remove("--twin")
    os.environ["EMBEDTORNADO_NO_EXTENSIONS"] = "1"

if "--stdlib-loop" in sys.argv:
    # The compiled protocol and parser, on asyncio's own selector loop: a loop
    # set before IOLoop.current() is the one it uses.
    import asyncio

    sys.argv.remove("--stdlib-loop")
    asyncio.set_event_loop(asyncio.new_event_loop())

# --- program ---
import embedtornado.httpserver
import embedtornado.ioloop
import embedtornado.options
import embedtornado.web
from embedtornado.options import define, options

define("port", default=8000, type=int, help="run server on the given port.")
define("address", default="127.0.0.1", help="address to listen on.")


class HelloHandler(embedtornado.web.RequestHandler):
    def get(self):
        self.write("Hello World!")


class JSONHandler(embedtornado.web.RequestHandler):
    def get(self):
        self.write({"a": self.get_argument("a"), "n": 1, "items": [1, 2, 3]})


if __name__ == "__main__":
    embedtornado.options.parse_command_line()
    app = embedtornado.web.Application([(r"/", HelloHandler), (r"/json", JSONHandler)])
    server = embedtornado.httpserver.HTTPServer(app)
    server.listen(options.port, options.address)
    embedtornado.ioloop.IOLoop.current().start()
