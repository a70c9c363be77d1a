"""`type: messages` providers: the Anthropic Messages API.

Builds `/messages` bodies from a unified request (system on top, alternating turns, tool results
first in a user turn, thinking blocks only with a real signature) and parses answers and SSE
events into unified form."""

import orjson

from ...core.errors import UpstreamError
from .. import hosted
from ...unified import events as ev, media, types as u
from ...unified.convert import anthropic_tool_id, arguments_object, arguments_string, new_id
from ...unified.usage import Usage, from_anthropic, to_anthropic
from . import structured
from .tables import FORWARDED_HEADERS, STOP_FROM_WIRE, VERSION

DEFAULT_MAX_TOKENS = 4096


def url(provider, model, stream):
    return provider.api_base_url + "/messages"


def headers(provider, client_headers=None):
    h = {"Content-Type": "application/json", "Accept": "application/json", "anthropic-version": VERSION}
    for name in FORWARDED_HEADERS:
        if client_headers and client_headers.get(name):
            h[name] = client_headers[name]
    if provider.api_key:
        h["x-api-key"] = provider.api_key
    h.update(provider.headers)
    return h


# ---- unified request -> upstream body ------------------------------------------------------------


def build_request(req, model, provider):
    body = {"model": model, "max_tokens": req["max_tokens"] or provider.default_max_tokens or DEFAULT_MAX_TOKENS,
            "messages": _messages(req["messages"])}
    system = [_text_block(p) for p in req["system"] if p["text"]]
    if system:
        body["system"] = system
    tools = [_tool(t) for t in req["tools"]] + hosted.place(req, HOSTED, provider)
    if tools:
        body["tools"] = tools
    choice = _tool_choice(req)
    if choice:
        body["tool_choice"] = choice
    for key in ("temperature", "top_p"):
        if req[key] is not None:
            body[key] = req[key]
    if req["top_k"] is not None:  # Gemini clients send 5.0 where Anthropic wants an integer
        body["top_k"] = int(req["top_k"]) if float(req["top_k"]).is_integer() else req["top_k"]
    if req["stop"]:
        body["stop_sequences"] = req["stop"]
    if req["user"]:
        body["metadata"] = {"user_id": req["user"]}
    _thinking(req, body)
    structured.apply(req["response_format"], body)
    if req["stream"]:
        body["stream"] = True
    return body


def _text_block(p):
    block = {"type": "text", "text": p["text"]}
    if p.get("cache_control"):
        block["cache_control"] = p["cache_control"]
    return block


def _tool(t):
    tool = {"name": t["name"], "input_schema": t["parameters"]}
    if t.get("description"):
        tool["description"] = t["description"]
    if t.get("cache_control"):
        tool["cache_control"] = t["cache_control"]
    return tool


def _web_search(spec):
    """Anthropic's server web search tool for a client's web search (domains and location kept)."""
    tool = {"type": "web_search_20250305", "name": "web_search"}
    domains = spec.get("allowed_domains") or (spec.get("filters") or {}).get("allowed_domains")
    if isinstance(domains, list) and domains:
        tool["allowed_domains"] = domains
    for key in ("blocked_domains", "max_uses"):
        if spec.get(key):
            tool[key] = spec[key]
    location = spec.get("user_location")
    if isinstance(location, dict) and location.get("type") == "approximate":
        tool["user_location"] = location
    return tool


HOSTED = {"web_search": _web_search}  # hosted capabilities with a native tool here (plexus/wire/hosted.py)


def _tool_choice(req):
    choice = req["tool_choice"]
    out = None
    if choice:
        kind = {"auto": "auto", "none": "none", "required": "any", "tool": "tool"}[choice["type"]]
        out = {"type": kind, "name": choice["name"]} if kind == "tool" else {"type": kind}
    if req["parallel_tool_calls"] is False and req["tools"]:
        out = out or {"type": "auto"}
        if out["type"] != "none":
            out["disable_parallel_tool_use"] = True
    return out


def _thinking(req, body):
    """Anthropic's rules for thinking: a budget of at least 1024 below max_tokens, no forced tool
    use, no temperature/top_k, top_p only from 0.95. A turn that replays tool calls without their
    signed thinking cannot have thinking on, so it is left off rather than failing."""
    reasoning = req["reasoning"]
    if not reasoning or body.get("tool_choice", {}).get("type") in ("any", "tool"):
        return
    last = next((m for m in reversed(req["messages"]) if m["role"] == "assistant"), None)
    if last and any(p["type"] == "tool_call" for p in last["content"]) and not any(
        p["type"] == "reasoning" and (p.get("signature") or p.get("redacted")) for p in last["content"]
    ):
        return
    budget = max(reasoning.get("budget_tokens") or u.EFFORT_BUDGETS.get(reasoning.get("effort"), 8192), 1024)
    if body["max_tokens"] <= budget:
        body["max_tokens"] = budget + body["max_tokens"]
    body["thinking"] = {"type": "enabled", "budget_tokens": budget}
    body.pop("temperature", None)
    body.pop("top_k", None)
    if body.get("top_p") is not None and body["top_p"] < 0.95:
        del body["top_p"]


def _messages(messages):
    """Unified messages as alternating Anthropic turns: tool results join the next user turn
    (results first), consecutive same-role turns merge, empty turns disappear."""
    out = []
    for m in messages:
        role = "assistant" if m["role"] == "assistant" else "user"
        blocks = [b for b in (_block(p) for p in m["content"]) if b is not None]
        if not blocks:
            continue
        if out and out[-1]["role"] == role:
            prev = out[-1]["content"]
            if m["role"] == "tool":  # results go before any text already in this user turn
                at = sum(1 for b in prev if b["type"] == "tool_result")
                prev[at:at] = blocks
            else:
                prev.extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    return out


def _block(p):
    kind = p["type"]
    if kind == "text":
        return _text_block(p) if p["text"] else None
    if kind == "document":
        return _document(p)
    if kind == "audio":
        media.refuse("audio input", "messages")
    if kind == "image":
        if p.get("data") is not None:
            source = {"type": "base64", "media_type": p.get("media_type") or "image/png", "data": p["data"]}
        else:
            source = {"type": "url", "url": p["url"]}
        return {"type": "image", "source": source}
    if kind == "tool_call":
        return {"type": "tool_use", "id": anthropic_tool_id(p["id"]), "name": p["name"], "input": arguments_object(p["arguments"])}
    if kind == "tool_result":
        block = {"type": "tool_result", "tool_use_id": anthropic_tool_id(p["tool_call_id"])}
        content = [b for b in (_block(c) for c in p["content"]) if b is not None]
        if content:
            block["content"] = content
        if p.get("is_error"):
            block["is_error"] = True
        return block
    if kind == "reasoning":  # only Anthropic's own, signed reasoning may go back
        if p.get("redacted"):
            return {"type": "redacted_thinking", "data": p["redacted"]}
        if p.get("signature"):
            return {"type": "thinking", "thinking": p["text"], "signature": p["signature"]}
    return None


def _document(p):
    if "text" in p:
        source = {"type": "text", "media_type": media.TEXT, "data": p["text"]}
    elif "url" in p:
        source = {"type": "url", "url": p["url"]}
    else:
        media.check_pdf(p, "messages")
        source = {"type": "base64", "media_type": media.PDF, "data": p["data"]}
    block = {"type": "document", "source": source}
    if p.get("title") or p.get("filename"):
        block["title"] = p.get("title") or p["filename"]
    return block


# ---- upstream answer -> unified --------------------------------------------------------------------


def parse_response(data, quirks=None):
    content = []
    for block in data.get("content") or ():
        part = _part(block)
        if part is not None:
            content.append(part)
    return {"id": data.get("id") or new_id("msg_"), "model": data.get("model", ""), "content": content,
            "stop_reason": _stop(data.get("stop_reason"), any(p["type"] == "tool_call" for p in content)),
            "stop_sequence": data.get("stop_sequence"), "usage": from_anthropic(data.get("usage"))}


def _stop(reason, called):
    """A tool_use stop with no call left is the structured-output tool's: the answer is complete."""
    reason = STOP_FROM_WIRE.get(reason, "stop")
    return "stop" if reason == "tool_calls" and not called else reason


def _part(block):
    kind = block.get("type") if isinstance(block, dict) else None
    if kind == "text":
        return {"type": "text", "text": block.get("text", "")}
    if kind == "thinking":
        return {"type": "reasoning", "text": block.get("thinking", ""), "signature": block.get("signature")}
    if kind == "redacted_thinking":
        return {"type": "reasoning", "text": "", "redacted": block.get("data")}
    if kind == "tool_use":
        if block.get("name") == structured.TOOL:  # the structured-output fallback: its input is the answer
            return {"type": "text", "text": arguments_string(block.get("input"))}
        return {"type": "tool_call", "id": block.get("id") or new_id("toolu_"), "name": block.get("name", ""),
                "arguments": arguments_string(block.get("input"))}
    return None


class StreamParser:
    """Anthropic stream events -> unified events. Usage from `message_start` is completed by the
    cumulative counts of `message_delta`."""

    def __init__(self, quirks=None):
        self.block = None  # type of the open content block
        self.tools = 0
        self.usage = None
        self.stopped = False
        self.output_chars = 0

    def feed(self, event):
        try:
            data = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            return []
        kind = data.get("type") if isinstance(data, dict) else None
        handler = getattr(self, "_" + kind, None) if isinstance(kind, str) else None
        return handler(data) if handler else []

    def _message_start(self, data):
        msg = data.get("message") or {}
        self.usage = from_anthropic(msg.get("usage")) or Usage()
        return [ev.Start(msg.get("id") or new_id("msg_"), msg.get("model", ""), self.usage)]

    def _content_block_start(self, data):
        block = data.get("content_block") or {}
        self.block = block.get("type")
        if self.block == "tool_use" and block.get("name") == structured.TOOL:
            self.block = "answer"  # the structured-output fallback: its input streams as the answer's text
            return []
        if self.block == "tool_use":
            self.tools += 1
            return [ev.ToolStart(self.tools - 1, block.get("id") or new_id("toolu_"), block.get("name", ""))]
        if self.block == "redacted_thinking":
            return [ev.Redacted(block.get("data", ""))]
        if self.block == "text" and block.get("text"):
            return [ev.Text(block["text"])]
        return []

    def _content_block_delta(self, data):
        delta = data.get("delta") or {}
        kind = delta.get("type")
        if kind == "text_delta":
            value = ev.Text(delta.get("text", ""))
        elif kind == "thinking_delta":
            value = ev.Reasoning(delta.get("thinking", ""))
        elif kind == "signature_delta":
            return [ev.Signature(delta.get("signature", ""))]
        elif kind == "input_json_delta" and self.block == "answer":
            value = ev.Text(delta.get("partial_json", ""))
        elif kind == "input_json_delta" and self.block == "tool_use":  # not a server tool's (web search) input
            value = ev.ToolArgs(self.tools - 1, delta.get("partial_json", ""))
        else:
            return []
        text = value[-1]  # the text, thinking or arguments fragment
        if not text:
            return []
        self.output_chars += len(text)
        return [value]

    def _content_block_stop(self, data):
        self.block = None
        return [ev.BLOCK_END]

    def _message_delta(self, data):
        delta = data.get("delta") or {}
        out = []
        if delta.get("stop_reason") and not self.stopped:
            self.stopped = True
            out.append(ev.Stop(_stop(delta["stop_reason"], self.tools > 0), delta.get("stop_sequence")))
        usage = data.get("usage")
        if isinstance(usage, dict):
            merged = from_anthropic({**_usage_dict(self.usage), **{k: v for k, v in usage.items() if v is not None}})
            self.usage = merged
            out.append(ev.UsageReport(merged))
        return out

    def _error(self, data):
        err = data.get("error") or {}
        status = {"overloaded_error": 529, "rate_limit_error": 429, "api_error": 500}.get(err.get("type"), 502)
        return [ev.Failure(UpstreamError(err.get("message") or "The upstream reported an error", status=status,
                                          upstream_type=err.get("type")))]


def _usage_dict(usage):
    if usage is None:
        return {}
    return {**to_anthropic(usage), "output_tokens_details": {"thinking_tokens": usage.reasoning_tokens}}


def count_url(provider, model=None):
    return provider.api_base_url + "/messages/count_tokens"
