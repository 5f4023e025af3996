"""A raw ASGI app (no framework) under uvicorn with uvloop and httptools.

    python bench/servers/uvicorn_raw.py --port=8000
    curl 'http://127.0.0.1:8000/json?a=hello'

The routes of tornado_app.py, written against the ASGI interface directly:
the fastest Python stack a user could pick, so it is the target row. Access
log off, log level warning, no lifespan.
"""

import argparse
import json
from urllib.parse import parse_qs

import uvicorn

HELLO = b"Hello World!"
TEXT = [(b"content-type", b"text/plain; charset=UTF-8")]
JSON = [(b"content-type", b"application/json; charset=UTF-8")]


async def app(scope, receive, send):
    path = scope["path"]
    if path == "/":
        status, headers, body = 200, TEXT, HELLO
    elif path == "/json":
        values = parse_qs(scope["query_string"].decode("latin-1")).get("a")
        if values:
            doc = {"a": values[-1], "n": 1, "items": [1, 2, 3]}
            status, headers, body = 200, JSON, json.dumps(doc).encode("utf-8")
        else:
            status, headers, body = 400, TEXT, b"missing a"
    else:
        status, headers, body = 404, TEXT, b"not found"
    await send({"type": "http.response.start", "status": status,
                "headers": headers + [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--address", default="127.0.0.1")
    args = parser.parse_args()
    uvicorn.run(app, host=args.address, port=args.port, loop="uvloop", http="httptools",
                access_log=False, log_level="warning", lifespan="off")
