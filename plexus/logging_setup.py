"""Logging: plain text by default or JSON lines, the level from config and changeable at run time,
and the request id on every line logged while a request is being handled. No secret is ever
passed to a logger: the request path logs names (key, provider, alias), never credentials.

A text line is one line: control characters in a message (a client's model name may hold a
newline) are written as escapes, so nobody can forge a log line. A traceback still follows its
line as it is."""

import json
import logging
import re
import time

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


class TextFormatter(logging.Formatter):
    def formatMessage(self, record):
        record.message = escape_controls(record.message)
        return super().formatMessage(record)


class JsonFormatter(logging.Formatter):
    def format(self, record):
        line = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
                "level": record.levelname.lower(), "logger": record.name, "request_id": record.request_id,
                "message": record.getMessage()}
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def setup(level="info", fmt="text"):
    """Configure the `plexus` logger once per process; later calls only change level and format."""
    logger = logging.getLogger("plexus")
    if not logger.handlers:
        # a log line per request is on the hot path: no stack walk to find the caller's file and
        # line, which no format here shows (process ids stay: gunicorn's own lines print them)
        logging._srcfile = None
        handler = logging.StreamHandler()
        handler.addFilter(RequestIdFilter())
        logger.addHandler(handler)
        logger.propagate = False
    for handler in logger.handlers:
        handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter(TEXT_FORMAT))
    _format[0] = fmt
    set_level(level)


_format = ["text"]


def json_lines():
    return _format[0] == "json"


def set_level(level):
    logging.getLogger("plexus").setLevel(level.upper())


def current_level():
    return logging.getLevelName(logging.getLogger("plexus").level).lower()
