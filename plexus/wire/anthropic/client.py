"""Anthropic Messages as a client API (`/v1/messages`, `/v1/messages/count_tokens`): request
checks and parsing, response and stream rendering, the error shape, and the fast path to
`type: messages` upstreams."""

import re

import orjson

from ...core.errors import InvalidRequest
from .. import refusals
from ..fastpath import SSERelay, relay_response  # noqa: F401 (relay_response: this style's ClientStyle.relay_response)
from ..sse import encode
from ..stream import Renderer
from ...unified import events as ev, media, types as u
from ...unified.convert import arguments_object, arguments_string, function_tool, image_from_url, new_id
from ...unified.tools import hosted
from ...unified.usage import Usage, estimate_tokens, from_anthropic, to_anthropic
from .tables import STOP_TO_WIRE

STYLE = "messages"
FAMILY = "messages"
KEEPS_CONVERSATIONS = False
ROUTES = {"/v1/messages": "create", "/v1/messages/count_tokens": "count_tokens"}

ERROR_TYPES = {
    "invalid_request": "invalid_request_error",
    "authentication": "authentication_error",
    "permission": "permission_error",
    "not_found": "not_found_error",
    "request_too_large": "request_too_large",
    "rate_limit": "rate_limit_error",
    "billing": "billing_error",
    "timeout": "timeout_error",
    "overloaded": "overloaded_error",
}


def check_request(body, route=None, count_only=False):
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("model: Field required (a non-empty string)")
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise InvalidRequest("messages: Field required (an array)")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ("user", "assistant"):
            raise InvalidRequest(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        if not isinstance(m.get("content"), (str, list)):
            raise InvalidRequest(f"messages.{i}.content: Input should be a string or a list of content blocks")
    if count_only:
        return model, False
    if not messages:
        raise InvalidRequest("messages: at least one message is required")
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise InvalidRequest("max_tokens: Field required (an integer of at least 1)")
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise InvalidRequest("stream: Input should be a valid boolean")
    return model, bool(stream)


def render_error(err, same_family=False):
    upstream_type = getattr(err, "upstream_type", None) if same_family else None
    etype = upstream_type or ERROR_TYPES.get(err.kind, "api_error" if err.status >= 500 else "invalid_request_error")
    return orjson.dumps({"type": "error", "error": {"type": etype, "message": err.message}}), err.status


def render_stream_error(err):
    body, _ = render_error(err)
    return encode(body, "error")


# ---- translation: client request -> unified ---------------------------------------------------------


def parse_request(body, route=None):
    req = u.new_request(body["model"], bool(body.get("stream")))
    req["system"] = _system(body.get("system"))
    for i, m in enumerate(body["messages"]):
        _parse_message(req, m, i)
    tools = [_parse_tool(t, i) for i, t in enumerate(body.get("tools") or [])]
    req["tools"] = [t for t in tools if "kind" not in t]
    req["hosted_tools"] = [t for t in tools if "kind" in t]
    _parse_tool_choice(req, body.get("tool_choice"))
    req["max_tokens"] = body.get("max_tokens")
    for key in ("temperature", "top_p", "top_k"):
        req[key] = body.get(key)
    stop = body.get("stop_sequences") or []
    if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
        raise InvalidRequest("stop_sequences: must be an array of strings")
    req["stop"] = list(stop)
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str):
        req["user"] = metadata["user_id"]
    req["reasoning"] = _reasoning(body)
    req["response_format"] = _response_format(body)
    refusals.check("messages", body)
    req["stream_usage"] = True
    return req


def _response_format(body):
    """`output_config.format` (or the beta `output_format` it replaced) as the unified format."""
    config = body.get("output_config")
    fmt = config.get("format") if isinstance(config, dict) else None
    fmt = fmt if fmt is not None else body.get("output_format")
    if fmt is None:
        return None
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema" or not isinstance(fmt.get("schema"), dict):
        raise InvalidRequest("output_config.format: a json_schema format with a schema object is expected")
    return media.json_schema(fmt["schema"])


def _system(system):
    if system is None:
        return []
    if isinstance(system, str):
        return [{"type": "text", "text": system}] if system else []
    if not isinstance(system, list):
        raise InvalidRequest("system: Input should be a string or a list of text blocks")
    return [_text(b) for b in system if isinstance(b, dict) and b.get("type") == "text"]


def _text(block):
    part = {"type": "text", "text": block.get("text") if isinstance(block.get("text"), str) else ""}
    if block.get("cache_control"):
        part["cache_control"] = block["cache_control"]
    return part


def _parse_message(req, m, i):
    content = m["content"]
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
    parts = []
    call_signature = None  # a Gemini signature waiting for the tool_use it belongs to
    for j, b in enumerate(blocks):
        kind = b.get("type") if isinstance(b, dict) else None
        mark = u.gemini_unmark(b.get("signature")) if kind == "thinking" else None
        if mark:
            call_signature = _gemini_signature(parts, mark, b.get("thinking") or "")
        elif kind == "tool_result":
            result = {"type": "tool_result", "tool_call_id": str(b.get("tool_use_id", "")),
                      "content": _result_content(b.get("content"), i), "is_error": bool(b.get("is_error"))}
            req["messages"].append({"role": "tool", "content": [result]})
        else:
            part = _part(b, kind, f"messages.{i}.content.{j}")
            if part is not None:
                if call_signature and part["type"] == "tool_call":
                    part["thought_signature"], call_signature = call_signature, None
                parts.append(part)
    if parts:
        req["messages"].append({"role": m["role"], "content": parts})


def _gemini_signature(parts, mark, thinking):
    """A thinking block carrying Gemini's signature, put back on the part it came with. Returns the
    signature when it belongs to the tool_use that follows."""
    kind, signature = mark
    if kind == "call":
        return signature
    if kind == "thought":
        parts.append({"type": "reasoning", "text": thinking, "thought_signature": signature})
    elif parts and parts[-1]["type"] == "text" and "thought_signature" not in parts[-1]:
        parts[-1]["thought_signature"] = signature
    else:
        parts.append({"type": "text", "text": "", "thought_signature": signature})
    return None


def _part(b, kind, where):
    if kind == "text":
        return _text(b)
    if kind == "image":
        source = b.get("source") or {}
        if source.get("type") == "base64":
            return {"type": "image", "media_type": source.get("media_type"), "data": source.get("data", "")}
        if source.get("type") == "url":
            return image_from_url(source.get("url", ""))
        raise InvalidRequest(f"{where}.source: an image source must be base64 or url")
    if kind == "document":
        return _document(b, where)
    if kind == "tool_use":
        return {"type": "tool_call", "id": str(b.get("id", "")), "name": b.get("name", ""),
                "arguments": arguments_string(b.get("input"))}
    if kind == "thinking":
        return {"type": "reasoning", "text": b.get("thinking", ""), "signature": b.get("signature") or None}
    if kind == "redacted_thinking":
        return {"type": "reasoning", "text": "", "redacted": b.get("data")}
    if kind in SERVER_BLOCKS or (isinstance(kind, str) and kind.endswith("_tool_result")):
        return None  # a server tool's own call and result: only Anthropic can replay them
    raise InvalidRequest(f"{where}.type: content blocks of type '{kind}' cannot be translated for this model's provider")


def _document(b, where):
    """A document block: base64 PDF, plain text, a URL or inline content blocks. A Files-API file
    exists only at Anthropic."""
    source = b.get("source") if isinstance(b.get("source"), dict) else {}
    kind = source.get("type")
    if kind == "base64":
        part = {"type": "document", "media_type": source.get("media_type") or media.PDF, "data": source.get("data", "")}
    elif kind == "text":
        part = {"type": "document", "media_type": media.TEXT, "text": source.get("data", "")}
    elif kind == "url":
        part = {"type": "document", "media_type": media.PDF, "url": source.get("url", "")}
    elif kind == "content":
        content = source.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
        if not all(isinstance(c, dict) and c.get("type") == "text" for c in blocks):
            raise InvalidRequest(f"{where}.source.content: only text blocks can be translated for this model's provider")
        part = {"type": "document", "media_type": media.TEXT, "text": "\n\n".join(c.get("text", "") for c in blocks)}
    elif kind == "file":
        media.refuse_file_id(f"{where}.source")
    else:
        raise InvalidRequest(f"{where}.source: a document source must be base64, text, url, content or file")
    if isinstance(b.get("title"), str) and b["title"]:
        part["title"] = b["title"]
    return part


def _result_content(content, i):
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [p for p in (_part(b, b.get("type"), f"messages.{i}") for b in content if isinstance(b, dict)) if p]


def _parse_tool(t, i):
    """A custom tool as a unified tool; a versioned Anthropic tool as its documented function schema
    (bash, text editor: the client runs them) or as a hosted record for the provider to place."""
    if isinstance(t, dict) and "input_schema" not in t and isinstance(t.get("type"), str):
        kind = t["type"]
        family = kind.rsplit("_", 1)[0] if kind[-8:].isdigit() else kind
        if family in CLIENT_RUN_TOOLS:
            description, parameters = CLIENT_RUN_TOOLS[family]
            return function_tool(t.get("name") or family, description, parameters)
        return hosted(HOSTED_KINDS.get(family), kind, t)
    if not isinstance(t, dict) or not isinstance(t.get("name"), str):
        raise InvalidRequest(f"tools.{i}: a tool needs a name")
    tool = {"name": t["name"], "description": t.get("description"), "parameters": t.get("input_schema") or {}}
    if t.get("cache_control"):
        tool["cache_control"] = t["cache_control"]
    return tool


# Anthropic-defined tools the client runs itself: their schemas (from Anthropic's tool docs) make
# them ordinary function tools elsewhere, and the calls come back under the same name
_STRING = {"type": "string"}
CLIENT_RUN_TOOLS = {
    "bash": ("Run a command in a persistent bash shell.",
             {"type": "object", "properties": {"command": {**_STRING, "description": "The bash command to run."},
                                               "restart": {"type": "boolean", "description": "Restart the shell."}}}),
    "text_editor": ("View, create and edit text files.",
                    {"type": "object", "properties": {
                        "command": {"type": "string", "enum": ["view", "create", "str_replace", "insert", "undo_edit"]},
                        "path": _STRING, "file_text": _STRING, "old_str": _STRING, "new_str": _STRING,
                        "insert_line": {"type": "integer"}, "view_range": {"type": "array", "items": {"type": "integer"}}},
                     "required": ["command", "path"]}),
}
SERVER_BLOCKS = frozenset(("server_tool_use", "mcp_tool_use"))
# server tools -> the capability other providers may have natively (plexus/wire/hosted.py)
HOSTED_KINDS = {"web_search": "web_search", "code_execution": "code_execution"}


def _parse_tool_choice(req, choice):
    if not isinstance(choice, dict):
        return
    kind = choice.get("type")
    kind = {"auto": "auto", "any": "required", "none": "none", "tool": "tool"}.get(kind) if isinstance(kind, str) else None
    if kind == "tool" and not isinstance(choice.get("name"), str):
        raise InvalidRequest("tool_choice.name: a string is required when tool_choice.type is 'tool'")
    if kind:
        req["tool_choice"] = {"type": kind, "name": choice["name"]} if kind == "tool" else {"type": kind}
    if choice.get("disable_parallel_tool_use"):
        req["parallel_tool_calls"] = False


def _reasoning(body):
    thinking = body.get("thinking")
    if not isinstance(thinking, dict):
        return None
    if thinking.get("type") == "enabled" and isinstance(thinking.get("budget_tokens"), int):
        return {"budget_tokens": thinking["budget_tokens"]}
    if thinking.get("type") == "adaptive":
        effort = (body.get("output_config") or {}).get("effort")
        return {"effort": effort if effort in u.EFFORT_BUDGETS else "medium"}
    return None


def count_estimate(body):
    """A token estimate for upstreams with no count endpoint: about four characters a token over
    the text of the system prompt, messages and tool definitions, plus a few tokens per message."""
    chars = len(orjson.dumps(body.get("system") or ""))
    for m in body.get("messages") or ():
        chars += len(orjson.dumps(m.get("content") if isinstance(m, dict) else m)) + 12
    chars += len(orjson.dumps(body.get("tools") or []))
    return {"input_tokens": estimate_tokens(chars)}


# ---- translation: unified -> client response --------------------------------------------------------


def render_response(resp, alias, request=None):
    return {"id": _message_id(resp["id"]), "type": "message", "role": "assistant", "model": alias,
            "content": [b for p in resp["content"] for b in _blocks(p)], "stop_reason": STOP_TO_WIRE[resp["stop_reason"]],
            "stop_sequence": resp.get("stop_sequence"), "usage": to_anthropic(resp.get("usage") or Usage())}


def _blocks(p):
    """A part's blocks: itself, plus a thinking block carrying Gemini's signature for it."""
    signature = p.get("thought_signature")
    if not signature:
        return [_block(p)]
    if p["type"] == "reasoning":
        return [{"type": "thinking", "thinking": p["text"], "signature": u.gemini_mark("thought", signature)}]
    if p["type"] == "tool_call":
        return [_marker_block("call", signature), _block(p)]
    return ([_block(p)] if p.get("text") else []) + [_marker_block("text", signature)]


def _marker_block(kind, signature):
    return {"type": "thinking", "thinking": "", "signature": u.gemini_mark(kind, signature)}


def _block(p):
    kind = p["type"]
    if kind == "text":
        return {"type": "text", "text": p["text"]}
    if kind == "tool_call":
        return {"type": "tool_use", "id": p["id"], "name": p["name"], "input": arguments_object(p["arguments"])}
    if p.get("redacted"):
        return {"type": "redacted_thinking", "data": p["redacted"]}
    return {"type": "thinking", "thinking": p["text"], "signature": p.get("signature") or ""}


def _message_id(upstream_id):
    return upstream_id if upstream_id.startswith("msg_") else new_id("msg_")


class StreamRenderer(Renderer):
    """Unified events -> Anthropic SSE events. Blocks never overlap: a new kind of content closes
    the open block first; indexes count from 0. `message_delta` waits for the end, because OpenAI
    sends usage after the finish reason."""

    def __init__(self, alias, request):
        super().__init__()
        self.alias = alias
        self.index = -1
        self.open = None  # "text" | "thinking" | ("tool", unified index) | None

    def render(self, event):
        kind = type(event)
        if kind is ev.Start:
            message = {"id": _message_id(event.id), "type": "message", "role": "assistant", "model": self.alias,
                       "content": [], "stop_reason": None, "stop_sequence": None,
                       "usage": to_anthropic(event.usage or Usage())}
            return _event("message_start", {"type": "message_start", "message": message})
        if kind is ev.Text:
            return self._ensure("text", {"type": "text", "text": ""}) + self._delta({"type": "text_delta", "text": event.text})
        if kind is ev.Reasoning:
            head = self._ensure("thinking", {"type": "thinking", "thinking": "", "signature": ""})
            return head + self._delta({"type": "thinking_delta", "thinking": event.text})
        if kind is ev.Signature:
            return self._delta({"type": "signature_delta", "signature": event.signature}) if self.open == "thinking" else b""
        if kind is ev.Redacted:
            return self._close() + self._start({"type": "redacted_thinking", "data": event.data}, None) + self._close()
        if kind is ev.ThoughtSignature:
            if event.on == "reasoning" and self.open == "thinking":
                mark = u.gemini_mark("thought", event.signature)
                return self._delta({"type": "signature_delta", "signature": mark}) + self._close()
            return self._close() + self._marker("text", event.signature)
        if kind is ev.ToolStart:
            block = {"type": "tool_use", "id": event.id, "name": event.name, "input": {}}
            head = self._marker("call", event.thought_signature) if event.thought_signature else b""
            return self._close() + head + self._start(block, ("tool", event.index))
        if kind is ev.ToolArgs:
            if self.open != ("tool", event.index):
                return b""  # arguments of a call whose block already closed: Anthropic cannot reopen it
            return self._delta({"type": "input_json_delta", "partial_json": event.delta})
        if kind is ev.BlockEnd:
            return self._close()
        return b""

    def render_failure(self, err):
        return self._close() + render_stream_error(err)

    def render_end(self):
        stop = self.outcome.stop
        usage = to_anthropic(self.outcome.usage or Usage())
        delta = {"type": "message_delta", "delta": {"stop_reason": STOP_TO_WIRE[stop.reason],
                                                     "stop_sequence": stop.stop_sequence}, "usage": usage}
        return self._close() + _event("message_delta", delta) + _event("message_stop", {"type": "message_stop"})

    def _marker(self, kind, signature):
        """A thinking block of its own that carries Gemini's signature for a neighbouring block."""
        head = self._close() + self._start({"type": "thinking", "thinking": "", "signature": ""}, "thinking")
        return head + self._delta({"type": "signature_delta", "signature": u.gemini_mark(kind, signature)}) + self._close()

    def _ensure(self, kind, block):
        return b"" if self.open == kind else self._close() + self._start(block, kind)

    def _start(self, block, kind):
        self.index += 1
        self.open = kind
        return _event("content_block_start", {"type": "content_block_start", "index": self.index, "content_block": block})

    def _delta(self, delta):
        return _event("content_block_delta", {"type": "content_block_delta", "index": self.index, "delta": delta})

    def _close(self):
        if self.open is None:
            return b""
        self.open = None
        return _event("content_block_stop", {"type": "content_block_stop", "index": self.index})


def _event(name, data):
    return encode(orjson.dumps(data), name)


# ---- fast path ----------------------------------------------------------------------------------------

_MODEL = re.compile(rb'"model"\s*:\s*"(?:[^"\\]|\\.)*"')


def passthrough_request(body, upstream_model, stream, route=None):
    out = without_gemini_signatures(dict(body))
    out["model"] = upstream_model
    return out, True


def without_gemini_signatures(body):
    """The body without the thinking blocks that carry Gemini's signature (history from turns that
    went to a Gemini upstream): Anthropic would reject them. The input is not modified; a history
    without them (the usual case) costs one pass over the assistant turns."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not any(_gemini_marked(m) for m in messages):
        return body
    kept = []
    for m in messages:
        if _gemini_marked(m):
            blocks = [b for b in m["content"] if not _gemini_block(b)]
            if not blocks:
                continue  # only Gemini's signatures: nothing left to send
            m = {**m, "content": blocks}
        kept.append(m)
    return {**body, "messages": kept}


def _gemini_marked(m):
    content = m.get("content") if isinstance(m, dict) and m.get("role") == "assistant" else None
    return isinstance(content, list) and any(_gemini_block(b) for b in content)


def _gemini_block(b):
    return isinstance(b, dict) and b.get("type") == "thinking" and u.gemini_unmark(b.get("signature")) is not None


def response_usage(data):
    return from_anthropic(data.get("usage")), data.get("stop_reason")


class StreamRelay(SSERelay):
    """Relays an Anthropic stream event by event. Only `message_start` (model swapped, usage read)
    and `message_delta` (usage, stop reason) are parsed; every other event goes out as it came."""

    def __init__(self, alias, options=None):
        super().__init__(alias)
        self.done = False
        self.errored = False

    def feed(self, chunk):
        return b"".join(self._event(ev) for ev in self.decoder.feed(chunk))

    def _event(self, ev):
        name, data = ev.event, ev.data
        if name == "message_start":
            self._read_usage(data, "message")
            data = _MODEL.sub(self.model_field, data, count=1)
        elif name == "message_delta":
            self._read_usage(data, None)
        elif name == "content_block_delta":
            self.chunks += 1
        elif name == "message_stop":
            self.done = True
        elif name == "error":
            self.errored = True
        return encode(data, name)

    def _read_usage(self, data, key):
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        if key:
            obj = obj.get(key) or {}
        usage = obj.get("usage")
        if isinstance(usage, dict):
            base = to_anthropic(self.usage) if self.usage else {}
            self.usage = from_anthropic({**base, **{k: v for k, v in usage.items() if v is not None}})
        reason = (obj.get("delta") or {}).get("stop_reason") if key is None else None
        if reason:
            self.finish_reason = reason


    def fail(self, err):
        return render_stream_error(err)

    @property
    def output_chars(self):
        return self.chunks * 4  # about one token a delta event

    def close(self):
        tail = b"".join(self._event(ev) for ev in self.decoder.close())
        return tail, self.done or self.errored
