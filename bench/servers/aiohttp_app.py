"""aiohttp.web with the routes of tornado_app.py (single process, default asyncio loop).

    python bench/servers/aiohttp_app.py --port=8000
    curl 'http://127.0.0.1:8000/json?a=hello'

The access log is off (``access_log=None``) and logging stays at WARNING.
"""

import argparse
import logging

from aiohttp import web


async def hello(request):
    return web.Response(text="Hello World!")


async def json_handler(request):
    return web.json_response({"a": request.query["a"], "n": 1, "items": [1, 2, 3]})


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--address", default="127.0.0.1")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    app = web.Application()
    app.add_routes([web.get("/", hello), web.get("/json", json_handler)])
    web.run_app(app, host=args.address, port=args.port, access_log=None, print=None)
