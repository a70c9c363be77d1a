"""`type: responses` providers: the OpenAI Responses API (`POST {api_base_url}/responses`).

The gateway keeps conversation state itself, so upstream calls are stateless (`store: false`)
and carry the whole history as input items."""

import orjson

from ...core.errors import UpstreamError
from .. import hosted
from ..openai_chat import upstream as chat
from ...unified import events as ev, media, types as u
from ...unified.convert import image_to_url, new_id
from ...unified.usage import from_responses
from .tables import INCOMPLETE_FROM_WIRE


def url(provider, model, stream):
    return provider.api_base_url + "/responses"


headers = chat.headers  # the same bearer-key auth as Chat Completions
HONOURS_STOP = False  # no stop parameter: the gateway ends answers at the client's stop sequences (unified/stops.py)
FORWARDED_HEADERS = chat.FORWARDED_HEADERS


# ---- unified request -> upstream body ------------------------------------------------------------


def build_request(req, model, provider):
    body = {"model": model, "input": input_items(req["messages"]), "store": False}
    instructions = "\n\n".join(p["text"] for p in req["system"] if p["text"])
    if instructions:
        body["instructions"] = instructions
    tools = [{"type": "function", "name": t["name"], "description": t.get("description"),
              "parameters": t["parameters"], "strict": False} for t in req["tools"]]
    tools += hosted.place(req, HOSTED, provider)
    if tools:
        body["tools"] = tools
    choice = req["tool_choice"]
    if choice:
        body["tool_choice"] = {"type": "function", "name": choice["name"]} if choice["type"] == "tool" else choice["type"]
    if req["parallel_tool_calls"] is not None and req["tools"]:
        body["parallel_tool_calls"] = req["parallel_tool_calls"]
    if req["max_tokens"] is not None:
        body["max_output_tokens"] = req["max_tokens"]
    for key in ("temperature", "top_p", "user"):
        if req[key] is not None:
            body[key] = req[key]
    if req.get("cache_key"):
        body["prompt_cache_key"] = req["cache_key"]
    if req["reasoning"]:
        effort = req["reasoning"].get("effort") or u.effort_for_budget(req["reasoning"].get("budget_tokens") or 0)
        body["reasoning"] = {"effort": effort, "summary": "auto"}
        body["include"] = ["reasoning.encrypted_content"]
    fmt = text_format(req["response_format"])
    if fmt:
        body["text"] = {"format": fmt}
    if req["stream"]:
        body["stream"] = True
    return body


def _web_search(spec):
    tool = {"type": "web_search"}
    domains = spec.get("allowed_domains") or (spec.get("filters") or {}).get("allowed_domains")
    if isinstance(domains, list) and domains:
        tool["filters"] = {"allowed_domains": domains}
    location = spec.get("user_location")
    if isinstance(location, dict) and location.get("type") == "approximate":
        tool["user_location"] = location
    return tool


# hosted capabilities with a native Responses tool (plexus/wire/hosted.py)
HOSTED = {"web_search": _web_search, "code_execution": lambda spec: {"type": "code_interpreter", "container": {"type": "auto"}}}


def text_format(fmt):
    """The unified `response_format` as a Responses `text.format` (flat: name and schema beside the type)."""
    if not fmt:
        return None
    return {"type": "json_schema", **media.spec_of(fmt)} if fmt["type"] == "json_schema" else fmt


def input_items(messages):
    items = []
    for m in messages:
        if m["role"] == "tool":
            r = m["content"][0]
            parts = r["content"]
            output = u.text_of(parts) if all(p["type"] == "text" for p in parts) else [_input_part(p) for p in parts]
            items.append({"type": "function_call_output", "call_id": r["tool_call_id"], "output": output})
        elif m["role"] == "user":
            items.append({"type": "message", "role": "user", "content": [_input_part(p) for p in m["content"]]})
        else:
            _assistant_items(m["content"], items)
    return items


def _input_part(p):
    if p["type"] == "image":
        return {"type": "input_image", "image_url": image_to_url(p), "detail": "auto"}
    if p["type"] == "audio":
        media.refuse("audio input", "responses")
    if p["type"] == "document":
        if "text" in p:
            return {"type": "input_text", "text": media.document_text(p)}
        if "url" in p:
            return {"type": "input_file", "file_url": p["url"]}
        return {"type": "input_file", "file_data": media.data_url(p), "filename": media.filename(p)}
    return {"type": "input_text", "text": p.get("text", "")}


def _assistant_items(parts, items):
    """Assistant parts as items, in order: text runs become one message item each."""
    text = []
    for p in parts + [None]:
        if p is not None and p["type"] == "text":
            text.append({"type": "output_text", "text": p["text"], "annotations": []})
            continue
        if text:
            items.append({"type": "message", "role": "assistant", "content": text})
            text = []
        if p is None:
            break
        if p["type"] == "tool_call":
            items.append({"type": "function_call", "call_id": p["id"], "name": p["name"], "arguments": p["arguments"]})
        elif p["type"] == "reasoning" and p.get("encrypted"):  # only the Responses API's own reasoning goes back
            items.append({"type": "reasoning", "id": p.get("item_id") or new_id("rs_"),
                          "summary": [{"type": "summary_text", "text": p["text"]}] if p["text"] else [],
                          "encrypted_content": p["encrypted"]})


# ---- upstream answer -> unified --------------------------------------------------------------------


def parse_response(data, quirks=None):
    content = []
    for item in data.get("output") or ():
        content.extend(output_parts(item))
    return {"id": data.get("id") or new_id("resp_"), "model": data.get("model", ""), "content": content,
            "stop_reason": _stop(data, content), "stop_sequence": None, "usage": from_responses(data.get("usage"))}


def output_parts(item):
    kind = item.get("type") if isinstance(item, dict) else None
    if kind == "message":
        return [{"type": "text", "text": c.get("text") or c.get("refusal") or ""}
                for c in item.get("content") or () if c.get("type") in ("output_text", "refusal")]
    if kind == "function_call":
        return [{"type": "tool_call", "id": item.get("call_id") or new_id("call_"), "name": item.get("name", ""),
                 "arguments": item.get("arguments") or ""}]
    if kind == "reasoning":
        text = "".join(s.get("text", "") for s in item.get("summary") or ())
        text = text or "".join(c.get("text", "") for c in item.get("content") or ())
        part = {"type": "reasoning", "text": text}
        if item.get("encrypted_content"):
            part["encrypted"] = item["encrypted_content"]
            part["item_id"] = item.get("id")
        return [part]
    return []


def _stop(data, content):
    if data.get("status") == "incomplete":
        return INCOMPLETE_FROM_WIRE.get((data.get("incomplete_details") or {}).get("reason"), "length")
    return "tool_calls" if any(p["type"] == "tool_call" for p in content) else "stop"


class StreamParser:
    """Responses stream events -> unified events, keyed on each event's `type`."""

    def __init__(self, quirks=None):
        self.tools = {}  # item id -> unified tool index
        self.open_tool = None
        self.usage = None
        self.output_chars = 0
        self.saw_tool = False

    def feed(self, event):
        try:
            data = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            return []
        if not isinstance(data, dict):
            return []
        kind = data.get("type", "")
        handler = self.HANDLERS.get(kind)
        return handler(self, data) if handler else []

    def _created(self, data):
        resp = data.get("response") or {}
        return [ev.Start(resp.get("id") or new_id("resp_"), resp.get("model", ""))]

    def _item_added(self, data):
        item = data.get("item") or {}
        if item.get("type") != "function_call":
            return []
        self.saw_tool = True
        n = self.tools.setdefault(item.get("id") or item.get("call_id"), len(self.tools))
        return [ev.ToolStart(n, item.get("call_id") or new_id("call_"), item.get("name", ""))]

    def _text(self, data):
        return self._chars(ev.Text, data.get("delta") or "")

    def _reasoning(self, data):
        return self._chars(ev.Reasoning, data.get("delta") or "")

    def _args(self, data):
        n = self.tools.get(data.get("item_id"))
        if n is None or not data.get("delta"):
            return []
        self.output_chars += len(data["delta"])
        return [ev.ToolArgs(n, data["delta"])]

    def _item_done(self, data):
        return [ev.BLOCK_END]

    def _finished(self, data):
        resp = data.get("response") or {}
        out = []
        if resp.get("status") == "failed":
            err = resp.get("error") or {}
            return [ev.Failure(UpstreamError(err.get("message") or "The upstream response failed", status=502,
                                              code=err.get("code")))]
        content = [{"type": "tool_call"}] if self.saw_tool else []
        out.append(ev.Stop(_stop(resp, content)))
        self.usage = from_responses(resp.get("usage"))
        if self.usage is not None:
            out.append(ev.UsageReport(self.usage))
        return out

    def _error(self, data):
        return [ev.Failure(UpstreamError(data.get("message") or "The upstream reported an error", status=502,
                                          code=data.get("code")))]

    def _chars(self, kind, text):
        if not text:
            return []
        self.output_chars += len(text)
        return [kind(text)]

    HANDLERS = {
        "response.created": _created,
        "response.output_item.added": _item_added,
        "response.output_text.delta": _text,
        "response.refusal.delta": _text,
        "response.reasoning_summary_text.delta": _reasoning,
        "response.reasoning_text.delta": _reasoning,
        "response.function_call_arguments.delta": _args,
        "response.output_item.done": _item_done,
        "response.completed": _finished,
        "response.incomplete": _finished,
        "response.failed": _finished,
        "error": _error,
    }
