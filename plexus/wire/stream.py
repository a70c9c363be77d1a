"""A translated stream: upstream SSE bytes -> provider parser -> unified events -> client renderer.

The same shape as the fast-path relays (`feed(bytes) -> bytes`, `close() -> (bytes, complete)`,
`usage`, `finish_reason`, `output_chars`), so the HTTP layer treats both alike."""

from ..unified import types as u
from .sse import SSEDecoder


class TranslatedStream:
    def __init__(self, parser, renderer):
        self.decoder = SSEDecoder()
        self.parser = parser
        self.renderer = renderer
        self.finish_reason = None

    def feed(self, chunk):
        return self._events(self.decoder.feed(chunk))

    def close(self):
        out = self._events(self.decoder.close())
        tail, complete = self.renderer.close()
        return out + tail, complete

    def _events(self, events):
        out = []
        for ev in events:
            for uev in self.parser.feed(ev):
                if uev[0] == u.STOP:
                    self.finish_reason = uev[1]["reason"]
                rendered = self.renderer.feed(uev)
                if rendered:
                    out.append(rendered)
        return b"".join(out)

    def fail(self, err):
        """End the client's stream with an error in its own style, after whatever was open."""
        return self.renderer.feed((u.ERROR, err))

    @property
    def final(self):
        return self.renderer.final

    @property
    def content_type(self):
        """Most streams are SSE; a renderer may frame its stream otherwise (Gemini's JSON array)."""
        return self.renderer.content_type

    @property
    def usage(self):
        return self.parser.usage

    @property
    def output_chars(self):
        return self.parser.output_chars
