"""The exceptions a request handler raises to end a request early.

Raise :class:`HTTPError` to answer with an error page, :class:`Finish` to end
the request with what has been written so far, and let
:class:`MissingArgumentError` (from ``get_argument``) turn into a 400::

    from embedtornado.web import Finish, HTTPError, RequestHandler

    class ItemHandler(RequestHandler):
        def get(self, item_id):
            if not item_id.isdigit():
                raise HTTPError(400, "bad item id %r", item_id)   # logged, not shown
            if item_id == "0":
                self.set_status(401)
                self.set_header("WWW-Authenticate", 'Basic realm="items"')
                raise Finish()                                     # no error page
            self.write({"id": int(item_id), "name": self.get_argument("name")})

All of them are re-exported by :mod:`embedtornado.web`.
"""

from __future__ import annotations

from typing import Any

from embedtornado.httputil import responses

__all__ = ["Finish", "HTTPError", "MissingArgumentError"]


class _ArgDefaultMarker:
    """The type of `_ARG_DEFAULT`: "no default given, the argument is required"."""


#: Default of the ``get_*argument`` methods' ``default`` parameter. When a
#: getter sees it, a missing argument raises `MissingArgumentError` instead
#: of returning a default.
_ARG_DEFAULT = _ArgDefaultMarker()


class HTTPError(Exception):
    """Raise this to end the request with an HTTP error response.

    It does what `RequestHandler.send_error` does, and also stops the
    method that raises it. Override `RequestHandler.write_error` to change
    the page it produces.

    :arg int status_code: the response's status code (default 500).
    :arg str log_message: text for the log (shown to the client only by the
        debug traceback page). It may hold ``%s``-style placeholders, filled
        from the remaining positional arguments when it is logged.
    :arg str reason: keyword-only: the reason phrase of the status line, for
        codes that `http.client.responses` does not know. It is not a place
        for error details: a reason with characters a status line cannot
        carry becomes ``Unknown``.

    ``str(error)`` reads ``HTTP 404: Not Found (log message)``.
    """

    def __init__(
        self,
        status_code: int = 500,
        log_message: str | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        # Exception.__init__ is skipped on purpose: ``args`` holds only the
        # log message's arguments, as Tornado's HTTPError has it.
        self.status_code = status_code
        self._log_message = log_message
        self.args = args
        self.reason: str | None = kwargs.get("reason", None)

    @property
    def log_message(self) -> str | None:
        """The log message as a format string (``%`` doubled when there are no args)."""
        if self._log_message and not self.args:
            return self._log_message.replace("%", "%%")
        return self._log_message

    def get_message(self) -> str | None:
        """The log message with its arguments filled in, or ``None``."""
        if self._log_message and self.args:
            return self._log_message % self.args
        return self._log_message

    def __str__(self) -> str:
        text = "HTTP %d: %s" % (
            self.status_code,
            self.reason or responses.get(self.status_code, "Unknown"),
        )
        message = self.get_message()
        if message:
            return text + " (" + message + ")"
        return text


class Finish(Exception):
    """Raise this to end the request without an error page.

    The request finishes as if the handler had called
    `RequestHandler.finish` (unless it already did): what was written so
    far is sent, with the status and headers set so far. ``write_error``
    is not called and nothing is logged. An argument, as in
    ``raise Finish("done")``, is passed on to ``finish()``::

        if self.current_user is None:
            self.set_status(401)
            self.set_header("WWW-Authenticate", 'Basic realm="something"')
            raise Finish()
    """


class MissingArgumentError(HTTPError):
    """Raised by `RequestHandler.get_argument` for a required argument that is absent.

    It is an `HTTPError` with status 400, so when it is not caught the
    client gets a 400 page and the log gets a warning without a traceback.
    The name is in ``arg_name``.
    """

    def __init__(self, arg_name: str) -> None:
        super().__init__(400, "Missing argument %s" % arg_name)
        self.arg_name = arg_name
