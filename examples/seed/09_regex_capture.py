"""Arguments captured from the path (seed tutorial, chapter 3, section 3.2 "Input", item 5).

Groups in a route's regular expression become arguments of the handler
method: unnamed groups by position, named groups by name (so ``get(self, date,
subject)`` still gets each right although the pattern lists ``subject``
first).  The tutorial recommends named groups when capturing several values::

    python examples/seed/09_regex_capture.py --port=8000
    curl -i http://127.0.0.1:8000/sub-city/python/beijing    # Subject: python<br/>City: beijing
    curl -i http://127.0.0.1:8000/sub-date/python/20160928   # Date: 20160928<br/>Subject: python
    curl -i http://127.0.0.1:8000/sub-city/python/Beijing    # 404: [a-z]+ does not match
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
        self.write("hello itcast.")


class SubjectCityHandler(RequestHandler):
    def get(self, subject, city):
        self.write(("Subject: %s<br/>City: %s" % (subject, city)))


class SubjectDateHandler(RequestHandler):
    def get(self, date, subject):
        self.write(("Date: %s<br/>Subject: %s" % (date, subject)))


if __name__ == "__main__":
    embedtornado.options.parse_command_line()
    app = embedtornado.web.Application([
        (r"/", IndexHandler),
        (r"/sub-city/(.+)/([a-z]+)", SubjectCityHandler),  # unnamed groups
        (r"/sub-date/(?P<subject>.+)/(?P<date>\d+)", SubjectDateHandler),  # named groups
    ])
    http_server = embedtornado.httpserver.HTTPServer(app)
    http_server.listen(options.port)
    embedtornado.ioloop.IOLoop.current().start()
