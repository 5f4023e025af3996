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


MAX_CLIENTS = 20
MAX_PENDING = 200  # unsent lines per client before lines are dropped for it


def _send(client, line):
    """Send a line unless this client already has too many unsent ones."""
    if client.pending >= MAX_PENDING:
        client.dropped += 1
        return
    try:
        future = client.write_message(line)
    except Exception:
        _clients.discard(client)
        return
    client.pending += 1

    def sent(f, client=client):
        client.pending -= 1
        if not f.cancelled() and f.exception() is not None:
            _clients.discard(client)

    future.add_done_callback(sent)


class _Broadcast(logging.Handler):
    def emit(self, record):
        try:
            line = self.format(record)
        except Exception:
            return
        _history.append(line)
        for client in list(_clients):
            _send(client, line)


_handler = _Broadcast()
_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s",
                                        "%H:%M:%S"))


class LogPageHandler(RequestHandler):
    def get(self):
        self.render("logs.html")


if WebSocketHandler is not None:
    class LogSocketHandler(WebSocketHandler):
        pending = 0
        dropped = 0

        def open(self):
            if len(_clients) >= MAX_CLIENTS:
                self.close(1013, "too many live log viewers")
                return
            for line in list(_history):
                _send(self, line)
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
