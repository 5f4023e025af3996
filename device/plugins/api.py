"""Demo plugin: a small JSON API under ``/api/v1`` (``url_prefix``).

    curl http://127.0.0.1:8000/api/v1/info
    curl -X POST -H 'Content-Type: application/json' -d '{"name": "sensor"}' \\
         http://127.0.0.1:8000/api/v1/items

Cross-site request forgery: a browser cannot send ``Content-Type:
application/json`` to another origin without a CORS preflight (which this API
does not answer), so JSON requests are accepted without the ``_xsrf`` token;
anything else must carry it, as ``xsrf_cookies = True`` requires.
"""

import json
import os
import time

import embedtornado
from embedtornado.web import HTTPError, RequestHandler

url_prefix = "/api/v1"

MAX_ITEMS = 100
_items = {}
_next_id = [1]


class JSONHandler(RequestHandler):
    def set_default_headers(self):
        self.set_header("Content-Type", "application/json")

    def check_xsrf_cookie(self):
        if self.request.headers.get("Content-Type", "").split(";")[0].strip() \
                == "application/json":
            return
        super().check_xsrf_cookie()

    def json_body(self):
        try:
            value = json.loads(self.request.body or b"null")
        except ValueError:
            raise HTTPError(400, reason="Body is not valid JSON") from None
        if not isinstance(value, dict):
            raise HTTPError(400, reason="Body must be a JSON object")
        return value

    def write_error(self, status_code, **kwargs):
        self.finish({"error": self._reason, "status": status_code})


class InfoHandler(JSONHandler):
    def get(self):
        self.write({
            "version": embedtornado.version,
            "speedups": embedtornado.speedups(),
            "pid": os.getpid(),
            "time": time.time(),
        })


class ItemsHandler(JSONHandler):
    def get(self):
        self.write({"items": list(_items.values())})

    def post(self):
        body = self.json_body()
        name = body.get("name")
        if not isinstance(name, str) or not 0 < len(name) <= 100:
            raise HTTPError(400, reason="'name' must be a string of 1-100 characters")
        if len(_items) >= MAX_ITEMS:
            raise HTTPError(507, reason="Too many items")
        item = {"id": _next_id[0], "name": name}
        _next_id[0] += 1
        _items[item["id"]] = item
        self.set_status(201)
        self.write(item)


class ItemHandler(JSONHandler):
    def get(self, item_id):
        item = _items.get(int(item_id))
        if item is None:
            raise HTTPError(404, reason="No such item")
        self.write(item)

    def delete(self, item_id):
        if _items.pop(int(item_id), None) is None:
            raise HTTPError(404, reason="No such item")
        self.set_status(204)


routes = [
    (r"/info", InfoHandler),
    (r"/items", ItemsHandler),
    (r"/items/([0-9]{1,9})", ItemHandler),
]
