"""A custom error page (seed tutorial, chapter 3, section 3.3 "Output", item 7 "write_error").

Overriding ``write_error(status_code, **kwargs)`` customizes the page that
``send_error`` sends; the ``kwargs`` given to ``send_error`` reach it.  The
code, title and content come from the query string.  ``get_argument`` returns
a string, and Tornado 6 needs an ``int`` status code, so the code is
converted (the tutorial passed the string; its indentation is also fixed)::

    python examples/seed/15_write_error.py --port=8000
    curl -i http://127.0.0.1:8000/                                      # 主页
    curl -i 'http://127.0.0.1:8000/?code=500&title=oops&content=broken'  # 500, custom page
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
        err_code = self.get_argument("code", None)  # a str, like the two below
        err_title = self.get_argument("title", "")
        err_content = self.get_argument("content", "")
        if err_code:
            self.send_error(int(err_code), title=err_title, content=err_content)
        else:
            self.write("主页")

    def write_error(self, status_code, **kwargs):
        self.write("<h1>出错了，程序员GG正在赶过来！</h1>")
        self.write("<p>错误名：%s</p>" % kwargs["title"])
        self.write("<p>错误详情：%s</p>" % kwargs["content"])


if __name__ == "__main__":
    embedtornado.options.parse_command_line()
    app = embedtornado.web.Application([
        (r"/", IndexHandler),
    ])
    http_server = embedtornado.httpserver.HTTPServer(app)
    http_server.listen(options.port)
    embedtornado.ioloop.IOLoop.current().start()
