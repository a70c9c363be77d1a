"""What the fast-path relays of the JSON-bodied styles share."""

import orjson

from .sse import SSEDecoder


def relay_response(raw, alias, parsed=None):
    """A non-streamed upstream answer as the client gets it: `model` set to the alias asked for.
    Returns (bytes, response dict). `parsed`: `raw` already parsed, or None."""
    data = orjson.loads(raw) if parsed is None else parsed
    if isinstance(data, dict):
        data["model"] = alias
    return orjson.dumps(data), data


class SSERelay:
    """What the SSE fast-path relays of the JSON-bodied styles start with: the decoder, the
    `"model":"<alias>"` field they write into events, and the usage and finish they read."""

    content_type = "text/event-stream"
    final = None  # the client-style response object, for styles that store responses

    def __init__(self, alias):
        self.decoder = SSEDecoder()
        self.model_field = b'"model":' + orjson.dumps(alias)
        self.usage = None
        self.finish_reason = None
        self.chunks = 0  # events relayed
