"""Demo plugin: the daemon's log, live in the browser over a WebSocket.

``/logs`` is the page; ``/logs/ws`` sends the last ``livelog_history`` lines,
then each new one.  Slow clients get lines dropped, never an unbounded buffer.
If this tree has no WebSocket support yet the plugin loads without routes.
"""

import collections
import logging

from embedtornado.options import define, options
from embedtornado.web import RequestHandler

try:
    from embedtornado.websocket import WebSocketHandler
except ImportError:  # pragma: no cover - trees without websocket.py
    WebSocketHandler = None

define("livelog_history", default=200, group="livelog",
       help="log lines the live log page keeps and replays")

_clients = set()
_history = collections.deque(maxlen=200)


class _Broadcast(logging.Handler):
    def emit(self, record):
        try:
            line = self.format(record)
        except Exception:
            return
        _history.append(line)
        for client in list(_clients):
            try:
                client.write_message(line)
            except Exception:
                _clients.discard(client)


_handler = _Broadcast()
_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s",
                                        "%H:%M:%S"))


class LogPageHandler(RequestHandler):
    def get(self):
        self.render("logs.html")


if WebSocketHandler is not None:
    class LogSocketHandler(WebSocketHandler):
        def open(self):
            for line in list(_history):
                self.write_message(line)
            _clients.add(self)

        def on_message(self, message):
            pass  # read-only

        def on_close(self):
            _clients.discard(self)

    routes = [(r"/logs", LogPageHandler), (r"/logs/ws", LogSocketHandler)]
else:  # pragma: no cover
    routes = []


def setup(app, opts):
    global _history
    _history = collections.deque(_history, maxlen=max(1, options.livelog_history))
    logging.getLogger().addHandler(_handler)


def teardown(app):
    logging.getLogger().removeHandler(_handler)
    for client in list(_clients):
        client.close(1001, "reloading")
