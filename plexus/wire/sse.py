"""Server-sent events: one decoder (bytes in, events out) and one encoder.

Bytes are split into lines before anything is decoded, so a UTF-8 character cut across two network
reads is never mangled; CR, LF and CRLF all end a line, even a CRLF split across two reads. Event
data stays `bytes` (what orjson parses and what the fast path forwards).
"""

from typing import NamedTuple

from ..core.errors import UpstreamError


class Event(NamedTuple):
    event: str | None
    data: bytes
    id: str | None = None


MAX_EVENT_BYTES = [4 * 1024 * 1024]  # the config's limits.sse_event_bytes (set_max_event_bytes)


def set_max_event_bytes(limit: int) -> None:
    MAX_EVENT_BYTES[0] = limit


class EventTooLarge(UpstreamError):
    """An upstream sent a line or event longer than the limit: the stream is failed, not buffered."""

    def __init__(self, message):
        super().__init__(message, status=502)


class SSEDecoder:
    """Incremental decoder after the WHATWG algorithm: comments skipped, one leading space after the
    colon stripped, several `data:` lines joined with LF, an event dispatched on a blank line.

    An unfinished line is kept as a list of pieces and joined once, when its end arrives (joining on
    every read would copy it again each time: quadratic in its length). A line, or an event's data,
    longer than `max_bytes` raises EventTooLarge."""

    __slots__ = ("_pending", "_pending_size", "_event", "_data", "_data_size", "_id", "max_bytes")

    def __init__(self, max_bytes=None):
        self._pending = []  # pieces of the line not yet ended
        self._pending_size = 0
        self._event = None
        self._data = []
        self._data_size = 0
        self._id = None
        self.max_bytes = max_bytes or MAX_EVENT_BYTES[0]

    def feed(self, chunk):
        if not self._pending and not self._data and chunk[-2:] == b"\n\n" and b"\r" not in chunk:
            # the usual read, one whole event (`data:` alone or after `event:`): what the loop below does, sooner
            end, first = len(chunk) - 2, chunk.find(b"\n")
            if first == end and chunk[:6] == b"data: ":
                return self._one(self._event, chunk[6:-2])
            if chunk[:7] == b"event: " and chunk[first + 1:first + 7] == b"data: " and chunk.find(b"\n", first + 1) == end:
                return self._one(chunk[7:first].decode("utf-8", "replace"), chunk[first + 7:-2])
        held_cr = self._pending and self._pending[-1].endswith(b"\r")  # a line ended by a lone CR
        if b"\n" not in chunk and b"\r" not in chunk and not held_cr:
            if chunk:
                self._hold(chunk)
            return []
        buf = b"".join(self._pending) + chunk if self._pending else chunk
        self._pending, self._pending_size = [], 0
        # a trailing CR may be the first half of a CRLF: keep it until the next read
        hold = buf.endswith(b"\r")
        if hold:
            buf = buf[:-1]
        if b"\r" in buf:
            buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = buf.split(b"\n")
        rest = lines.pop() + (b"\r" if hold else b"")
        if rest:
            self._hold(rest)
        events = []
        for line in lines:
            if not line:
                if self._data:
                    events.append(Event(self._event, b"\n".join(self._data), self._id))
                self._event, self._data, self._data_size = None, [], 0
                continue
            if line[0] == 58:  # b":" starts a comment (keep-alive)
                continue
            name, sep, value = line.partition(b":")
            if sep and value[:1] == b" ":
                value = value[1:]
            if name == b"data":
                self._data_size += len(value) + 1
                if self._data_size > self.max_bytes:
                    raise EventTooLarge(f"an upstream stream event is larger than {self.max_bytes} bytes")
                self._data.append(value)
            elif name == b"event":
                self._event = value.decode("utf-8", "replace")
            elif name == b"id":
                self._id = value.decode("utf-8", "replace")
        return events

    def _one(self, name, data):
        if len(data) + 1 > self.max_bytes:
            raise EventTooLarge(f"an upstream stream event is larger than {self.max_bytes} bytes")
        self._event = None
        return [Event(name, data, self._id)]

    def _hold(self, piece):
        self._pending_size += len(piece)
        if self._pending_size > self.max_bytes:
            raise EventTooLarge(f"an upstream stream line is longer than {self.max_bytes} bytes")
        self._pending.append(piece)

    def close(self):
        """End of stream: a final event not followed by a blank line is still dispatched."""
        unfinished = b"".join(self._pending)
        events = self.feed(b"\n\n") if (unfinished.strip() or self._data) else []
        self._pending, self._pending_size = [], 0
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
