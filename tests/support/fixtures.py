"""Recorded SSE transcripts in `tests/fixtures/`: raw bytes as the provider sends them.

`events(name)` cuts a transcript into whole events, each with its blank-line terminator, so the
list can be replayed as is (`FakeUpstream.reply(events=...)`) or fed to a decoder one by one."""

import re
from pathlib import Path

DIR = Path(__file__).resolve().parents[1] / "fixtures"

_EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")


def load(name):
    """The transcript's bytes; `name` with or without `.txt`."""
    path = DIR / (name if name.endswith(".txt") else name + ".txt")
    return path.read_bytes()


def events(name):
    """The transcript split into SSE events (each ending with its blank line); b"".join() gives it back."""
    raw = load(name)
    out, start = [], 0
    for m in _EVENT_END.finditer(raw):
        out.append(raw[start:m.end()])
        start = m.end()
    if raw[start:].strip():
        out.append(raw[start:])
    return out
