"""What one request body may cost a worker.

- A deadline on every body (`limits.body_timeout_s`): a client that trickles its body is answered
  408 and its connection closed once the deadline passes, instead of holding a greenlet (and
  memory) for as long as it likes. Under gevent the wait itself is cut; elsewhere each read checks.
- Dashboard forms (`form_limits`, called before any form is parsed): a small body limit
  (`limits.form_bytes`; the raw config editor `limits.config_form_bytes`) and a cap on fields
  (`limits.form_fields`): Werkzeug parses a url-encoded form whole and caps only multipart parts.
"""

import socket
import time

from flask import Request
from werkzeug.exceptions import RequestEntityTooLarge, RequestTimeout

try:  # the deadline can interrupt a blocked read only where gevent runs the sockets
    from gevent import Timeout as _GeventTimeout
    from gevent.monkey import is_module_patched as _is_patched
except ImportError:  # pragma: no cover - gevent is a dependency
    _GeventTimeout, _is_patched = None, lambda name: False


class BodyDeadline:
    """WSGI middleware: the request body must have arrived `config().limits.body_timeout_s` after
    the request's headers did."""

    def __init__(self, app, config):
        self.app = app
        self.config = config

    def __call__(self, environ, start_response):
        if environ.get("CONTENT_LENGTH") not in (None, "", "0") or environ.get("HTTP_TRANSFER_ENCODING"):
            stream = environ.get("wsgi.input")
            if stream is not None:
                timeout = self.config().limits.body_timeout_s
                environ["wsgi.input"] = DeadlineInput(stream, time.monotonic() + timeout, environ)
        return self.app(environ, start_response)


class DeadlineInput:
    """A wsgi.input whose reads fail with 408 (RequestTimeout) past `deadline`; the connection's
    read side is then shut, so the server does not wait for the rest of the body either."""

    def __init__(self, stream, deadline, environ):
        self._stream, self._deadline, self._environ = stream, deadline, environ
        self._cut = _GeventTimeout is not None and _is_patched("socket")

    def read(self, *args):
        return self._call(self._stream.read, *args)

    def readline(self, *args):
        return self._call(self._stream.readline, *args)

    def readlines(self, *args):
        return self._call(self._stream.readlines, *args)

    def __iter__(self):
        return iter(self.readline, b"")

    def _call(self, method, *args):
        left = self._deadline - time.monotonic()
        if left <= 0:
            self._give_up()
        if not self._cut:
            return method(*args)
        timer = _GeventTimeout(left)
        timer.start()
        try:
            return method(*args)
        except _GeventTimeout as e:
            if e is not timer:
                raise
            self._give_up()
        finally:
            timer.close()

    def _give_up(self):
        sock = self._environ.get("gunicorn.socket")
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RD)  # the rest of the body is never read
            except OSError:
                pass
        raise RequestTimeout("The request body took too long to arrive.")


def form_limits(request: Request, limits, large: bool = False) -> None:
    """Limit this request's form before anything parses it: its size (`large`: the config
    editor's) and its number of fields (413 beyond either)."""
    request.max_content_length = limits.config_form_bytes if large else limits.form_bytes
    request.max_form_memory_size = request.max_content_length
    request.max_form_parts = limits.form_fields
    if request.mimetype == "application/x-www-form-urlencoded":
        data = request.get_data(cache=True, parse_form_data=False)  # the form is parsed from this copy
        if data.count(b"&") >= limits.form_fields:
            raise RequestEntityTooLarge(f"A form may have at most {limits.form_fields} fields.")
