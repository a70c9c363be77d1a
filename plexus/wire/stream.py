"""A translated stream: upstream SSE bytes -> provider parser -> unified events -> client renderer,
and `Renderer`, the base of every client style's stream renderer.

TranslatedStream has the same shape as the fast-path relays (`feed(bytes) -> bytes`,
`close() -> (bytes, complete)`, `usage`, `finish_reason`, `output_chars`), so the pipeline treats
both alike."""

from ..unified import events as ev
from ..unified.fold import Outcome
from .sse import SSEDecoder


class Renderer:
    """Unified events -> one client style's stream. The stream's outcome (stop, usage, failure) is
    folded here, once for every style; a style renders content in `render`, a stop that shows
    mid-stream in `render_stop`, a failure in `render_failure`, and the end in `render_end` (only
    after a stop and no failure: otherwise the stream is incomplete and the caller ends it)."""

    content_type = "text/event-stream"
    final = None  # the client-style response object, for styles that store responses

    def __init__(self) -> None:
        self.outcome = Outcome()

    def feed(self, event: tuple) -> bytes:
        if not self.outcome.add(event):
            return self.render(event)
        kind = type(event)
        if kind is ev.Failure:
            return self.render_failure(event.error)
        if kind is ev.Stop:
            return self.render_stop(event)
        return b""

    def close(self) -> tuple[bytes, bool]:
        """(tail bytes, complete)."""
        if not self.outcome.complete:
            return b"", self.outcome.failed
        return self.render_end(), True

    def fail(self, err: Exception) -> bytes:
        return self.feed(ev.Failure(err))

    def render(self, event: tuple) -> bytes:
        raise NotImplementedError

    def render_stop(self, stop: ev.Stop) -> bytes:
        return b""

    def render_failure(self, err: Exception) -> bytes:
        raise NotImplementedError

    def render_end(self) -> bytes:
        raise NotImplementedError


class TranslatedStream:
    def __init__(self, parser, renderer: Renderer) -> None:
        self.decoder = SSEDecoder()
        self.parser = parser
        self.renderer = renderer

    def feed(self, chunk: bytes) -> bytes:
        return self._events(self.decoder.feed(chunk))

    def close(self) -> tuple[bytes, bool]:
        out = self._events(self.decoder.close())
        tail, complete = self.renderer.close()
        return out + tail, complete

    def _events(self, events) -> bytes:
        out = []
        for sse in events:
            for event in self.parser.feed(sse):
                rendered = self.renderer.feed(event)
                if rendered:
                    out.append(rendered)
        return b"".join(out)

    def fail(self, err: Exception) -> bytes:
        """End the client's stream with an error in its own style, after whatever was open."""
        return self.renderer.fail(err)

    @property
    def final(self):
        return self.renderer.final

    @property
    def content_type(self) -> str:
        """Most streams are SSE; a renderer may frame its stream otherwise (Gemini's JSON array)."""
        return self.renderer.content_type

    @property
    def usage(self):
        return self.renderer.outcome.usage

    @property
    def finish_reason(self) -> str | None:
        return self.renderer.outcome.finish_reason

    @property
    def output_chars(self) -> int:
        """Characters of output the upstream sent (for an estimate when it reports no usage)."""
        return self.parser.output_chars
