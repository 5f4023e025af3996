"""embedtornado's HTTPServer with a plain request callback: the server without the web layer.

    python bench/servers/embedtornado_raw.py --port=8000 --logging=warning
    curl http://127.0.0.1:8000/
    curl 'http://127.0.0.1:8000/json?a=hello'

The same two routes as tornado_app.py, answered straight from the callback
(``json.dumps`` for the JSON one), as in examples/hello_server.py. The row in
bench_http.py shows how much of a request's cost is the server itself.
"""

import json

from embedtornado.httpserver import HTTPServer
from embedtornado.httputil import HTTPHeaders, ResponseStartLine
from embedtornado.ioloop import IOLoop
from embedtornado.options import define, options, parse_command_line

define("port", default=8000, type=int, help="run server on the given port.")
define("address", default="127.0.0.1", help="address to listen on.")

HELLO = b"Hello World!"


def respond(request, status, reason, content_type, body):
    request.connection.write_headers(
        ResponseStartLine("HTTP/1.1", status, reason),
        HTTPHeaders({"Content-Type": content_type, "Content-Length": str(len(body))}),
    )
    request.connection.write(body)
    request.connection.finish()


def handle_request(request):
    if request.path == "/":
        respond(request, 200, "OK", "text/plain; charset=UTF-8", HELLO)
    elif request.path == "/json":
        values = request.query_arguments.get("a")
        if not values:
            respond(request, 400, "Bad Request", "text/plain; charset=UTF-8", b"missing a")
            return
        doc = {"a": values[-1].decode("utf-8"), "n": 1, "items": [1, 2, 3]}
        respond(request, 200, "OK", "application/json; charset=UTF-8",
                json.dumps(doc).encode("utf-8"))
    else:
        respond(request, 404, "Not Found", "text/plain; charset=UTF-8", b"not found")


if __name__ == "__main__":
    parse_command_line()
    server = HTTPServer(handle_request)
    server.listen(options.port, options.address)
    IOLoop.current().start()
