"""OpenAI Chat Completions as a client API: request checks, error shape, and the fast path to
`type: chat` upstreams (body forwarded with the model swapped, stream relayed event by event)."""

import re

import orjson

from ..errors import InvalidRequest
from ..streaming.sse import SSEDecoder, encode
from ..unified.usage import from_openai

STYLE = "chat"
PATHS = ("/v1/chat/completions",)
FAMILY = "chat"  # the provider type this style reaches without translation

ROLES = frozenset(("system", "developer", "user", "assistant", "tool", "function"))

ERROR_TYPES = {
    "invalid_request": "invalid_request_error",
    "authentication": "invalid_request_error",
    "permission": "permission_error",
    "not_found": "invalid_request_error",
    "request_too_large": "invalid_request_error",
    "rate_limit": "rate_limit_error",
    "billing": "insufficient_quota",
}
ERROR_CODES = {"authentication": "invalid_api_key", "rate_limit": "rate_limit_exceeded"}


def check_request(body):
    """Reject what no upstream would accept, with OpenAI's wording of the problem."""
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("'model' is required and must be a non-empty string", param="model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("'messages' is required and must be a non-empty array", param="messages")
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            raise InvalidRequest(f"messages[{i}] must be an object", param=f"messages.[{i}]")
        if m.get("role") not in ROLES:
            raise InvalidRequest(
                f"messages[{i}].role must be one of {', '.join(sorted(ROLES))}", param=f"messages.[{i}].role"
            )
    if "stream" in body and not isinstance(body["stream"], bool) and body["stream"] is not None:
        raise InvalidRequest("'stream' must be a boolean", param="stream")
    return model, bool(body.get("stream"))


def render_error(err, same_family=False):
    """(body bytes, status) in OpenAI's error shape. An error that came from an OpenAI-compatible
    upstream keeps its own type and code."""
    upstream_type = getattr(err, "upstream_type", None) if same_family else None
    if upstream_type:
        etype, code = upstream_type, err.code
    else:
        etype = ERROR_TYPES.get(err.kind, "server_error" if err.status >= 500 else "invalid_request_error")
        code = err.code if err.code is not None else ERROR_CODES.get(err.kind, err.kind if err.status >= 500 else None)
    payload = {"message": err.message, "type": etype, "param": err.param, "code": code}
    return orjson.dumps({"error": payload}), err.status


def render_stream_error(err):
    body, _ = render_error(err)
    return encode(body)


# ---- fast path -------------------------------------------------------------------------------------

_MODEL = re.compile(rb'"model"\s*:\s*"(?:[^"\\]|\\.)*"')
_USAGE_NULL = re.compile(rb'"usage"\s*:\s*null')
_FINISH = re.compile(rb'"finish_reason"\s*:\s*"([A-Za-z_]+)"')


def passthrough_request(body, upstream_model, stream):
    """The upstream body: the client's, with the model swapped. For streams, usage is asked for so it
    can be accounted; returns whether the client itself asked for it (else the usage chunk is hidden)."""
    out = dict(body)
    out["model"] = upstream_model
    client_wants_usage = True
    if stream:
        opts = body.get("stream_options")
        client_wants_usage = isinstance(opts, dict) and opts.get("include_usage") is True
        if not client_wants_usage:
            out["stream_options"] = {**(opts if isinstance(opts, dict) else {}), "include_usage": True}
    return orjson.dumps(out), client_wants_usage


def relay_response(raw, alias):
    """A non-streamed upstream answer as the client gets it: `model` set to the alias asked for.
    Returns (bytes, response dict)."""
    data = orjson.loads(raw)
    if isinstance(data, dict):
        data["model"] = alias
    return orjson.dumps(data), data


class StreamRelay:
    """Relays an OpenAI-compatible SSE stream: each event goes out as it arrives, with `model` set to
    the alias; only events that mention usage are parsed. Ends the client's stream with `[DONE]`."""

    def __init__(self, alias, client_wants_usage):
        self.decoder = SSEDecoder()
        self.model_field = b'"model":' + orjson.dumps(alias)
        self.client_wants_usage = client_wants_usage
        self.usage = None
        self.finish_reason = None
        self.done = False
        self.chunks = 0  # events relayed: OpenAI-style streams send about one token per event

    def feed(self, chunk):
        out = []
        for ev in self.decoder.feed(chunk):
            data = self._event(ev.data)
            if data is not None:
                out.append(encode(data))
        return b"".join(out)

    def _event(self, data):
        if self.done:
            return None
        if data == b"[DONE]":
            self.done = True
            return data
        if b'"usage"' in data and not _USAGE_NULL.search(data):
            try:
                obj = orjson.loads(data)
            except orjson.JSONDecodeError:
                obj = None
            if isinstance(obj, dict) and obj.get("usage"):
                self.usage = from_openai(obj["usage"])
                if not self.client_wants_usage and not obj.get("choices"):
                    return None
        if self.finish_reason is None and b'"finish_reason":' in data:
            m = _FINISH.search(data)
            if m:
                self.finish_reason = m.group(1).decode()
        self.chunks += 1
        return _MODEL.sub(self.model_field, data, count=1)

    def close(self):
        """(tail bytes, complete). A stream that finished but lacked `[DONE]` gets one; a stream cut
        before any finish is reported incomplete so the caller can end it with an in-stream error."""
        out = [encode(d) for ev in self.decoder.close() if (d := self._event(ev.data)) is not None]
        if not self.done and self.finish_reason is not None:
            self.done = True
            out.append(encode(b"[DONE]"))
        return b"".join(out), self.done
