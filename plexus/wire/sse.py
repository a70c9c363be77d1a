"""Server-sent events: one decoder (bytes in, events out) and one encoder.

Bytes are split into lines before anything is decoded, so a UTF-8 character cut across two network
reads is never mangled; CR, LF and CRLF all end a line, even a CRLF split across two reads. Event
data stays `bytes` (what orjson parses and what the fast path forwards).
"""

from typing import NamedTuple


class Event(NamedTuple):
    event: str | None
    data: bytes
    id: str | None = None


class SSEDecoder:
    """Incremental decoder after the WHATWG algorithm: comments skipped, one leading space after the
    colon stripped, several `data:` lines joined with LF, an event dispatched on a blank line."""

    __slots__ = ("_buf", "_event", "_data", "_id")

    def __init__(self):
        self._buf = b""
        self._event = None
        self._data = []
        self._id = None

    def feed(self, chunk):
        buf = self._buf + chunk if self._buf else chunk
        if b"\r" in buf:
            # a trailing CR may be the first half of a CRLF: keep it until the next read
            hold = buf.endswith(b"\r")
            if hold:
                buf = buf[:-1]
            buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            lines = buf.split(b"\n")
            self._buf = lines.pop() + (b"\r" if hold else b"")
        else:
            lines = buf.split(b"\n")
            self._buf = lines.pop()
        events = []
        for line in lines:
            if not line:
                if self._data:
                    events.append(Event(self._event, b"\n".join(self._data), self._id))
                self._event, self._data = None, []
                continue
            if line[0] == 58:  # b":" starts a comment (keep-alive)
                continue
            name, sep, value = line.partition(b":")
            if sep and value[:1] == b" ":
                value = value[1:]
            if name == b"data":
                self._data.append(value)
            elif name == b"event":
                self._event = value.decode("utf-8", "replace")
            elif name == b"id":
                self._id = value.decode("utf-8", "replace")
        return events

    def close(self):
        """End of stream: a final event not followed by a blank line is still dispatched."""
        events = self.feed(b"\n\n") if (self._buf.strip() or self._data) else []
        self._buf = b""
        return events


def encode(data, event=None):
    """One SSE event as bytes. `data` is bytes (usually JSON, which has no raw newlines)."""
    if b"\n" in data:
        body = b"".join(b"data: " + line + b"\n" for line in data.split(b"\n"))
    else:
        body = b"data: " + data + b"\n"
    if event:
        return b"event: " + event.encode() + b"\n" + body + b"\n"
    return body + b"\n"
