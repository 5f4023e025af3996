"""send_error (seed tutorial, chapter 3, section 3.3 "Output", item 6 "send_error").

``send_error(status_code=500, **kwargs)`` discards what was written so far,
calls ``write_error()`` to render an error page and finishes the response.
The default ``write_error`` ignores the extra ``kwargs`` (``content`` here).
``/after`` is the tutorial's "what goes wrong?" variant: writing after
``send_error`` raises ``RuntimeError("Cannot write() after finish()")``, which
is logged; the client still gets the 404 page::

    python examples/seed/14_send_error.py --port=8000
    curl -i http://127.0.0.1:8000/          # 404: Not Found page
    curl -i http://127.0.0.1:8000/after     # the same page; a traceback is logged
"""

import embedtornado.httpserver
import embedtornado.ioloop
import embedtornado.options
import embedtornado.web
from embedtornado.options import define, options
from embedtornado.web import RequestHandler

define("port", default=8000, type=int, help="run server on the given port.")


class IndexHandler(RequestHandler):
    def get(self):
        self.write("主页")
        self.send_error(404, content="出现404错误")


class AfterHandler(RequestHandler):
    def get(self):
        self.write("主页")
        self.send_error(404, content="出现404错误")
        self.write("结束")  # writes to the output buffer again after send_error


if __name__ == "__main__":
    embedtornado.options.parse_command_line()
    app = embedtornado.web.Application([
        (r"/", IndexHandler),
        (r"/after", AfterHandler),
    ])
    http_server = embedtornado.httpserver.HTTPServer(app)
    http_server.listen(options.port)
    embedtornado.ioloop.IOLoop.current().start()
