"""Hello world on embedtornado's HTTPServer with a plain request callback.

    python examples/hello_server.py --port=8000
    curl http://127.0.0.1:8000/

(The web framework's ``Application``/``RequestHandler`` version of this program
is the seed tutorial's chapter 2; see examples/ once the web framework lands.)
"""

from embedtornado.httpserver import HTTPServer
from embedtornado.httputil import HTTPHeaders, ResponseStartLine
from embedtornado.ioloop import IOLoop
from embedtornado.options import define, options, parse_command_line

define("port", default=8000, type=int, help="run server on the given port.")
define("address", default="127.0.0.1", help="address to listen on.")


def handle_request(request):
    body = b"Hello World!\n"
    request.connection.write_headers(
        ResponseStartLine("HTTP/1.1", 200, "OK"),
        HTTPHeaders({"Content-Type": "text/plain", "Content-Length": str(len(body))}),
    )
    request.connection.write(body)
    request.connection.finish()


if __name__ == "__main__":
    parse_command_line()
    server = HTTPServer(handle_request)
    server.listen(options.port, options.address)
    print(f"listening on http://{options.address}:{options.port}/")
    IOLoop.current().start()
