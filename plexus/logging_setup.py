"""Logging: plain text by default or JSON lines, the level from config and changeable at run time,
and the request id on every line logged while a request is being handled. No secret is ever
passed to a logger: the request path logs names (key, provider, alias), never credentials.

A text line is one line: control characters in a message (a client's model name may hold a
newline) are written as escapes, so nobody can forge a log line. A traceback still follows its
line as it is.

The per-request line (`info`) is on the hot path: while the `plexus` logger writes only through
the handler `setup` gave it, the line is formatted by that handler's formatter and written
straight to its stream, the same bytes the logging machinery would write, without building a
LogRecord and going through loggers, filters and handlers. Each line is still written (and
flushed) as it is logged, so none is held back or lost at a stop."""

import json
import logging
import re
import time
from typing import Callable

from flask import g, has_request_context

LEVELS = ("debug", "info", "warning", "error")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"


class RequestIdFilter(logging.Filter):
    def filter(self, record):
        if not hasattr(record, "request_id"):
            record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")


def escape_controls(text: str) -> str:
    """`text` with every control character but tab written as a backslash escape."""
    if not _CONTROL.search(text):
        return text
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


class _SecondStamp:
    """A time as `strftime(fmt)` of its second plus its milliseconds, the strftime done once a second."""

    def __init__(self, fmt: str, convert: Callable, ms_format: str) -> None:
        self.fmt, self.convert, self.ms_format = fmt, convert, ms_format
        self.last = (None, "")  # (whole second, its strftime): one tuple, so a reader sees a matching pair

    def __call__(self, created: float) -> str:
        second = int(created)
        last = self.last
        if last[0] != second:
            last = self.last = (second, time.strftime(self.fmt, self.convert(created)))
        return self.ms_format % (last[1], int((created - second) * 1000))


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)
        self.stamp = _SecondStamp(self.default_time_format, self.converter, self.default_msec_format)

    def formatTime(self, record, datefmt=None):
        return self.stamp(record.created)

    def formatMessage(self, record):
        return self.line(record.asctime, record.levelname, record.name, record.request_id, record.message, None)

    def line(self, asctime: str, levelname: str, name: str, request_id: str, message: str, fields: dict | None) -> str:
        """TEXT_FORMAT, with the message's control characters escaped (`fields` are not shown)."""
        return f"{asctime} {levelname} {name} [{request_id}]: {escape_controls(message)}"


class JsonFormatter(logging.Formatter):
    _encode = json.JSONEncoder(default=str).encode  # what json.dumps(line, default=str) does, built once

    def __init__(self) -> None:
        super().__init__()
        self.stamp = _SecondStamp("%Y-%m-%dT%H:%M:%S", time.gmtime, "%s.%03dZ")

    def formatTime(self, record, datefmt=None):
        return self.stamp(record.created)

    def format(self, record):
        exception = self.formatException(record.exc_info) if record.exc_info else None
        return self.line(self.formatTime(record), record.levelname, record.name, record.request_id,
                         record.getMessage(), getattr(record, "fields", None), exception)

    def line(self, asctime: str, levelname: str, name: str, request_id: str, message: str, fields: dict | None,
             exception: str | None = None) -> str:
        """One JSON object: the standard keys, then `fields`, then the exception."""
        line = {"time": asctime, "level": levelname.lower(), "logger": name, "request_id": request_id, "message": message}
        if fields:
            line.update(fields)
        if exception:
            line["exception"] = exception
        return self._encode(line)


_plexus = logging.getLogger("plexus")
_handler: list[logging.StreamHandler] = []  # the handler setup() gave the plexus logger


def setup(level="info", fmt="text"):
    """Configure the `plexus` logger once per process; later calls only change level and format."""
    logger = _plexus
    if not logger.handlers:
        # a log line per request is on the hot path: no stack walk to find the caller's file and
        # line, which no format here shows (process ids stay: gunicorn's own lines print them)
        logging._srcfile = None
        handler = logging.StreamHandler()
        handler.addFilter(RequestIdFilter())
        logger.addHandler(handler)
        logger.propagate = False
        _handler[:] = [handler]
    for handler in logger.handlers:
        handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    _format[0] = fmt
    set_level(level)


def info(logger: logging.Logger, message: str, request_id: str, fields: Callable[[], dict]) -> None:
    """`logger.info("%s", message, extra={"request_id": ..., "fields": fields()})`, `fields` called
    only for JSON lines (the only format that shows them); the caller has checked that the logger
    is enabled for INFO. Written straight to the stream while the
    plexus logger has only its own handler (see the module docstring); otherwise through logging."""
    handler = _handler[0] if _handler else None
    if (logger is not _plexus or handler is None or logger.handlers != _handler or logger.filters
            or len(handler.filters) != 1 or handler.level > logging.INFO
            or type(handler.formatter) not in (TextFormatter, JsonFormatter)):
        extra = {"request_id": request_id}
        if json_lines():
            extra["fields"] = fields()
        logger.info("%s", message, extra=extra)
        return
    formatter = handler.formatter
    shown = fields() if type(formatter) is JsonFormatter else None
    line = formatter.line(formatter.stamp(time.time()), "INFO", logger.name, request_id, message, shown)
    handler.acquire()
    try:
        handler.stream.write(line + handler.terminator)
        handler.stream.flush()
    except Exception:
        handler.handleError(logger.makeRecord(logger.name, logging.INFO, None, 0, "%s", (message,), None))
    finally:
        handler.release()


_format = ["text"]


def json_lines():
    return _format[0] == "json"


def set_level(level):
    logging.getLogger("plexus").setLevel(level.upper())


def current_level():
    return logging.getLevelName(logging.getLogger("plexus").level).lower()
