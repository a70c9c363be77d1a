"""OpenAI Chat Completions as a client API: request checks and parsing, response and stream
rendering, the error shape, and the fast path to `type: chat` upstreams (body forwarded with the
model swapped, stream relayed event by event)."""

import re
import time

import orjson

from ...core.errors import InvalidRequest
from .. import refusals
from ..fastpath import SSERelay, relay_response  # noqa: F401 (relay_response: this style's ClientStyle.relay_response)
from ..sse import encode
from ..stream import Renderer
from ...unified import events as ev, media, types as u
from ...unified.convert import function_tool, image_from_url, new_id
from ...unified.tools import ToolNames, custom_arguments, custom_input, custom_tool, hosted
from ...unified.usage import from_openai, to_openai
from .tables import FINISH_TO_WIRE

STYLE = "chat"
ROUTES = {"/v1/chat/completions": "create"}
FAMILY = "chat"  # the provider type this style reaches without translation
KEEPS_CONVERSATIONS = False

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


def require_model(body):
    """The `model` of a body that must be a JSON object naming one (OpenAI's wording, shared by the
    Responses API)."""
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("'model' is required and must be a non-empty string", param="model")
    return model


def check_request(body, route=None):
    """Reject what no upstream would accept, with OpenAI's wording of the problem."""
    model = require_model(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("'messages' is required and must be a non-empty array", param="messages")
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            raise InvalidRequest(f"messages[{i}] must be an object", param=f"messages.[{i}]")
        if not isinstance(m.get("role"), str) or m["role"] not in ROLES:
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


# ---- translation: client request -> unified, unified -> client response ---------------------------

# OpenRouter's reasoning_details carry Anthropic's signatures through OpenAI-style clients
SIGNED_FORMAT = "anthropic-claude-v1"


def parse_request(body, route=None):
    """The client's body (already checked) as a unified request."""
    req = u.new_request(body["model"], bool(body.get("stream")))
    tools = [_parse_tool(t, i) for i, t in enumerate(_list(body.get("tools"), "tools"))]
    req["tools"] = [t for t in tools if "kind" not in t]
    req["hosted_tools"] = [t for t in tools if "kind" in t]
    req["client"] = {"tools": _custom_names(req["tools"])}
    for i, m in enumerate(body["messages"]):
        _parse_message(req, m, i)
    req["tool_choice"] = _parse_tool_choice(body.get("tool_choice"))
    req["parallel_tool_calls"] = body.get("parallel_tool_calls")
    req["max_tokens"] = body.get("max_completion_tokens") or body.get("max_tokens")
    for key in ("temperature", "top_p", "seed", "user"):
        req[key] = body.get(key)
    req["user"] = req["user"] or body.get("safety_identifier")  # OpenAI's successor to `user`
    cache_key(req, body)
    req["response_format"] = _response_format(body.get("response_format"))
    for key in ("presence_penalty", "frequency_penalty"):  # Gemini has both; see README "Field fidelity"
        if body.get(key) is not None:
            req[key] = body[key]
    refuse_untranslatable(body)
    req["stop"] = _stop(body.get("stop"))
    effort = body.get("reasoning_effort")
    if isinstance(effort, str) and effort != "none":
        req["reasoning"] = {"effort": effort}
    opts = body.get("stream_options")
    req["stream_usage"] = isinstance(opts, dict) and opts.get("include_usage") is True
    return req


def _response_format(fmt):
    if fmt is None:
        return None
    if not isinstance(fmt, dict):
        raise InvalidRequest("'response_format' must be an object", param="response_format")
    return media.from_spec(fmt.get("type"), fmt.get("json_schema"), "response_format")


def refuse_untranslatable(body):
    """Refuse what only a Chat Completions provider can honour (this runs only when translating)."""
    n = body.get("n")
    if n is not None and n != 1:
        refusals.refuse("n", "several choices in one answer", "chat")
    refusals.check("chat", body)
    modalities = body.get("modalities")
    if isinstance(modalities, list) and any(m != "text" for m in modalities):
        refusals.refuse("modalities", "output other than text", "chat")


def _stop(value):
    stops = [value] if isinstance(value, str) else value or []
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
        raise InvalidRequest("'stop' must be a string or an array of strings", param="stop")
    return list(stops)
def cache_key(req, body):
    """`prompt_cache_key` (OpenAI's, also in the Responses API) for upstreams that take one; other
    fields that steer only OpenAI (`service_tier`, `include`, `client_metadata`, ...) are not read."""
    if isinstance(body.get("prompt_cache_key"), str):
        req["cache_key"] = body["prompt_cache_key"]


def _list(value, param):
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidRequest(f"'{param}' must be an array", param=param)
    return value


def _parse_message(req, m, i):
    role, content = m["role"], m.get("content")
    if role in ("system", "developer"):
        req["system"] += [p for p in _content(content, i) if p["type"] == "text"]
    elif role == "user":
        req["messages"].append({"role": "user", "content": _content(content, i)})
    elif role == "assistant":
        parts = _reasoning(m) + [p for p in _content(content, i) if p["type"] == "text"]
        signature = _google_signature(m)
        if signature:  # Gemini's signature for the message's text (its own OpenAI-compatible convention)
            if parts and parts[-1]["type"] == "text":
                parts[-1]["thought_signature"] = signature
            else:
                parts.append({"type": "text", "text": "", "thought_signature": signature})
        for call in _list(m.get("tool_calls"), f"messages.[{i}].tool_calls"):
            fn = call.get("function") if isinstance(call, dict) else None
            custom = call.get("custom") if isinstance(call, dict) else None
            if isinstance(custom, dict) and isinstance(custom.get("name"), str):  # a custom tool's call: its input as the one argument
                fn = {"name": custom["name"], "arguments": custom_arguments(custom.get("input"))}
            if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                raise InvalidRequest(f"messages[{i}].tool_calls needs function.name", param=f"messages.[{i}].tool_calls")
            args = fn.get("arguments")
            parts.append({"type": "tool_call", "id": call.get("id") or new_id("call_"), "name": fn["name"],
                          "arguments": args if isinstance(args, str) else orjson.dumps(args or {}).decode()})
            signature = _google_signature(call)
            if signature:
                parts[-1]["thought_signature"] = signature
        req["messages"].append({"role": "assistant", "content": parts})
    else:  # tool (and the legacy function role)
        call_id = m.get("tool_call_id") or m.get("name") or ""
        result = {"type": "tool_result", "tool_call_id": call_id, "content": _content(content, i), "is_error": False}
        req["messages"].append({"role": "tool", "content": [result]})


def _google_signature(item):
    """Gemini's thought signature as its OpenAI-compatible API carries it on a message or a tool call:
    `extra_content.google.thought_signature`."""
    extra = item.get("extra_content")
    google = extra.get("google") if isinstance(extra, dict) else None
    signature = google.get("thought_signature") if isinstance(google, dict) else None
    return signature if isinstance(signature, str) and signature else None


def _google_extra(signature):
    return {"google": {"thought_signature": signature}}


def _reasoning(m):
    details = m.get("reasoning_details")
    if isinstance(details, list) and details:
        parts = []
        for d in details:
            if not isinstance(d, dict):
                continue
            if d.get("type") == "reasoning.encrypted" and d.get("data"):
                parts.append({"type": "reasoning", "text": "", "redacted": d["data"]})
            elif d.get("type") == "reasoning.text":
                parts.append({"type": "reasoning", "text": d.get("text") or "", "signature": d.get("signature")})
        if parts:
            return parts
    text = m.get("reasoning_content") or m.get("reasoning")
    return [{"type": "reasoning", "text": text}] if isinstance(text, str) and text else []


def _content(content, i):
    return parse_content(content, f"messages[{i}]", f"messages.[{i}].content")


def parse_content(content, where, param):
    """OpenAI content (a string, or parts of Chat Completions or the Responses API) as unified parts."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise InvalidRequest(f"{where}.content must be a string or an array", param=param)
    parts = []
    for p in content:
        kind = p.get("type") if isinstance(p, dict) else None
        if kind in ("text", "input_text", "output_text") and isinstance(p.get("text"), str):
            parts.append({"type": "text", "text": p["text"]})
        elif kind in ("image_url", "input_image"):
            image = p.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            if not isinstance(url, str):
                raise InvalidRequest(f"{where} has an image part without a url", param=param)
            parts.append(image_from_url(url))
        elif kind == "refusal":
            parts.append({"type": "text", "text": p.get("refusal") or ""})
        elif kind in ("file", "input_file", "input_audio"):
            parts.append(_media_part(p, kind, where))
        else:
            raise InvalidRequest(
                f"{where} has a content part of type '{kind}', which cannot be translated for this model's provider",
                param=param,
            )
    return parts


def _media_part(p, kind, where):
    """A chat `file` part, a Responses `input_file` part or a chat `input_audio` part, unified."""
    if kind == "input_audio":
        audio = p.get("input_audio") if isinstance(p.get("input_audio"), dict) else {}
        fmt = audio.get("format")
        if not isinstance(audio.get("data"), str) or fmt not in media.AUDIO_MIME:
            raise InvalidRequest(f"{where} has an input_audio part that needs base64 data and a format (wav or mp3)")
        return {"type": "audio", "media_type": media.AUDIO_MIME[fmt], "data": audio["data"]}
    spec = p.get("file") if kind == "file" else p
    spec = spec if isinstance(spec, dict) else {}
    if spec.get("file_id"):
        media.refuse_file_id(where)
    if isinstance(spec.get("file_data"), str):
        return media.document_from_data(spec["file_data"], filename=spec.get("filename"))
    if isinstance(spec.get("file_url"), str):
        return {"type": "document", "url": spec["file_url"]}
    raise InvalidRequest(f"{where} has a file part without file_data (or file_url)")


def _parse_tool(t, i):
    """A function tool; a custom (freeform) tool as a function taking one string (marked `custom`);
    any other type as a hosted record for the provider to place or drop."""
    kind = t.get("type") if isinstance(t, dict) else None
    custom = t.get("custom") if kind == "custom" else None
    if isinstance(custom, dict) and isinstance(custom.get("name"), str):
        return {**custom_tool(custom["name"], custom.get("description"), _custom_format(custom.get("format"))), "custom": True}
    if kind not in (None, "function", "custom"):
        return hosted(None, str(kind), t)
    fn = t.get("function") if isinstance(t, dict) else None
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
        raise InvalidRequest(f"tools[{i}] must be a function tool with a name", param=f"tools.[{i}]")
    return function_tool(fn["name"], fn.get("description"), fn.get("parameters"))


def _custom_format(fmt):
    """Chat's custom-tool format (`{"type":"grammar","grammar":{syntax, definition}}`) as Responses spells it."""
    if isinstance(fmt, dict) and isinstance(fmt.get("grammar"), dict):
        return {"type": "grammar", **fmt["grammar"]}
    return fmt


def _custom_names(tools):
    names = ToolNames()
    for t in tools:
        if t.pop("custom", False):
            names.add(t["name"], None, True, set())
    return names


def _custom_call(c):
    return {"id": c["id"], "type": "custom", "custom": {"name": c["name"], "input": custom_input(c["arguments"])}}


def _is_custom(request, name):
    names = (request or {}).get("client", {}).get("tools")
    return bool(names) and names.origin(name) is not None


def _parse_tool_choice(choice):
    if choice is None:
        return None
    if choice in ("auto", "none", "required"):
        return {"type": choice}
    if isinstance(choice, dict):
        if choice.get("type") == "function" and isinstance(choice.get("function"), dict):
            return {"type": "tool", "name": choice["function"].get("name")}
        if choice.get("type") == "allowed_tools":
            mode = (choice.get("allowed_tools") or {}).get("mode")
            return {"type": "required" if mode == "required" else "auto"}
    raise InvalidRequest("'tool_choice' must be auto, none, required or a function choice", param="tool_choice")


def render_response(resp, alias, request=None):
    """A unified response as a `chat.completion` object."""
    content = resp["content"]
    message = {"role": "assistant", "content": u.text_of(content) or None, "refusal": None}
    reasoning = [p for p in content if p["type"] == "reasoning"]
    if reasoning:
        message["reasoning_content"] = "".join(p["text"] for p in reasoning)
        details = _reasoning_details(reasoning)
        if details:
            message["reasoning_details"] = details
    calls = [p for p in content if p["type"] == "tool_call"]
    if calls:
        message["tool_calls"] = [
            _custom_call(c) if _is_custom(request, c["name"]) else
            {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}} for c in calls
        ]
        for out_call, c in zip(message["tool_calls"], calls):
            if c.get("thought_signature"):
                out_call["extra_content"] = _google_extra(c["thought_signature"])
    text_signature = [p["thought_signature"] for p in content if p["type"] == "text" and p.get("thought_signature")]
    if text_signature:
        message["extra_content"] = _google_extra(text_signature[-1])
    out = {
        "id": _chat_id(resp["id"]),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": alias,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": FINISH_TO_WIRE[resp["stop_reason"]]}],
    }
    if resp.get("usage") is not None:
        out["usage"] = to_openai(resp["usage"])
    return out


def _reasoning_details(reasoning):
    details = []
    for i, p in enumerate(reasoning):
        if p.get("redacted"):
            details.append({"type": "reasoning.encrypted", "data": p["redacted"], "format": SIGNED_FORMAT, "index": i})
        elif p.get("signature"):
            details.append({"type": "reasoning.text", "text": p["text"], "signature": p["signature"],
                            "format": SIGNED_FORMAT, "index": i})
    return details


def _chat_id(upstream_id):
    return upstream_id if upstream_id.startswith("chatcmpl-") else "chatcmpl-" + upstream_id.split("_", 1)[-1]


class StreamRenderer(Renderer):
    """Unified stream events -> `chat.completion.chunk` SSE bytes, ending with `[DONE]`."""

    def __init__(self, alias, request):
        super().__init__()
        self.alias = alias
        self.include_usage = request["stream_usage"]
        self.created = int(time.time())
        self.id = None
        self.tool_index = {}  # unified tool index -> OpenAI tool_calls index
        self.finished = False  # the chunk with finish_reason went out
        self.request = request
        self.custom = {}  # unified tool index -> a custom call whose input is gathered until its block ends

    def render(self, event):
        kind = type(event)
        if kind is ev.Start:
            self.id = _chat_id(event.id)
            return self._chunk({"role": "assistant", "content": ""})
        if kind is ev.Text:
            return self._chunk({"content": event.text})
        if kind is ev.Reasoning:
            return self._chunk({"reasoning_content": event.text})
        if kind is ev.Signature:
            return self._chunk({"reasoning_details": [{"type": "reasoning.text", "text": "", "signature": event.signature,
                                                       "format": SIGNED_FORMAT, "index": 0}]})
        if kind is ev.ToolStart:
            i = self.tool_index.setdefault(event.index, len(self.tool_index))
            if _is_custom(self.request, event.name):  # its input is inside the JSON arguments: sent whole at the end
                self.custom[event.index] = {"index": i, "id": event.id, "name": event.name, "arguments": ""}
                return b""
            call = {"index": i, "id": event.id, "type": "function", "function": {"name": event.name, "arguments": ""}}
            if event.thought_signature:
                call["extra_content"] = _google_extra(event.thought_signature)
            return self._chunk({"tool_calls": [call]})
        if kind is ev.ThoughtSignature:  # only a text signature has a place in this format
            return self._chunk({"extra_content": _google_extra(event.signature)}) if event.on == "text" else b""
        if kind is ev.ToolArgs:
            if event.index in self.custom:
                self.custom[event.index]["arguments"] += event.delta
                return b""
            i = self.tool_index.get(event.index, event.index)
            return self._chunk({"tool_calls": [{"index": i, "function": {"arguments": event.delta}}]})
        if kind is ev.BlockEnd and self.custom:
            return self._custom_calls()
        return b""

    def _custom_calls(self):
        calls = [{"index": c["index"], **_custom_call(c)} for c in self.custom.values()]
        self.custom = {}
        return self._chunk({"tool_calls": calls}) if calls else b""

    def render_stop(self, stop):
        if self.finished:
            return b""
        self.finished = True
        return self._custom_calls() + self._chunk({}, FINISH_TO_WIRE[stop.reason])

    def render_failure(self, err):
        return render_stream_error(err)

    def render_end(self):
        """The usage chunk if asked for (and reported), then `[DONE]`."""
        tail = b""
        if self.include_usage and self.outcome.reported is not None:
            tail = self._usage_chunk()
        return tail + encode(b"[DONE]")

    def _chunk(self, delta, finish_reason=None):
        chunk = {"id": self.id or "chatcmpl-" + new_id(""), "object": "chat.completion.chunk", "created": self.created,
                 "model": self.alias, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]}
        if self.include_usage:
            chunk["usage"] = None
        return encode(orjson.dumps(chunk))

    def _usage_chunk(self):
        chunk = {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.alias,
                 "choices": [], "usage": to_openai(self.outcome.reported)}
        return encode(orjson.dumps(chunk))


# ---- fast path -------------------------------------------------------------------------------------

_MODEL = re.compile(rb'"model"\s*:\s*"(?:[^"\\]|\\.)*"')
_USAGE_NULL = re.compile(rb'"usage"\s*:\s*null')
_FINISH = re.compile(rb'"finish_reason"\s*:\s*"([A-Za-z_]+)"')


def passthrough_request(body, upstream_model, stream, route=None):
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
    return out, client_wants_usage


def response_usage(data):
    """(Usage, finish reason) of a non-streamed answer, for the usage record."""
    choices = data.get("choices")
    first = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
    return from_openai(data.get("usage")), first.get("finish_reason")


class StreamRelay(SSERelay):
    """Relays an OpenAI-compatible SSE stream: each event goes out as it arrives, with `model` set to
    the alias; only events that mention usage are parsed. Ends the client's stream with `[DONE]`."""

    def __init__(self, alias, client_wants_usage):
        super().__init__(alias)  # chunks: OpenAI-style streams send about one token per event
        self.client_wants_usage = client_wants_usage
        self.done = False

    def feed(self, chunk):
        out = []
        for sse in self.decoder.feed(chunk):
            data = self._event(sse.data)
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


    def fail(self, err):
        return render_stream_error(err)

    @property
    def output_chars(self):
        return self.chunks * 4  # about one token an event

    def close(self):
        """(tail bytes, complete). A stream that finished but lacked `[DONE]` gets one; a stream cut
        before any finish is reported incomplete so the caller can end it with an in-stream error."""
        out = [encode(d) for ev in self.decoder.close() if (d := self._event(ev.data)) is not None]
        if not self.done and self.finish_reason is not None:
            self.done = True
            out.append(encode(b"[DONE]"))
        return b"".join(out), self.done
