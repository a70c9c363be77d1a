"""The OpenAI Responses API as a client API (`/v1/responses`): request checks and parsing,
conversation state (`previous_response_id`, `store`), response and stream rendering with the real
event sequence, and the fast path to `type: responses` upstreams."""

import re
import time

import orjson

from ...core.errors import InvalidRequest, NotFound
from .upstream import output_parts
from .. import refusals
from ..fastpath import SSERelay, relay_response  # noqa: F401 (relay_response: this style's ClientStyle.relay_response)
from ..sse import encode
from ..stream import Renderer
from ...unified import events as ev, media, types as u
from ...unified.convert import function_tool, new_id
from ...unified.tools import ToolNames, custom_arguments, custom_input, custom_tool, hosted
from ...unified.usage import Usage, from_responses
from ..openai_chat import client as openai_chat
from .tables import INCOMPLETE_TO_WIRE

STYLE = "responses"
FAMILY = "responses"
KEEPS_CONVERSATIONS = True  # previous_response_id, store, GET/DELETE
ROUTES = {"/v1/responses": "create", "/v1/responses/<response_id>": ("retrieve", "delete")}

render_error = openai_chat.render_error  # the HTTP error body is Chat Completions' shape
EXPANDED = "_previous_response_id"
HISTORY = "_history_items"  # how many leading input items came from the store
# hosted tool types -> the capability other providers may have natively (see plexus/wire/hosted.py)
HOSTED_KINDS = {"web_search": "web_search", "web_search_preview": "web_search", "web_search_2025_08_26": "web_search",
                "code_interpreter": "code_execution"}
# items only the Responses API itself can use (tool calls it ran, the additional_tools carrier): not sent elsewhere
SKIPPED_ITEMS = frozenset(("additional_tools", "web_search_call", "file_search_call", "code_interpreter_call",
                           "image_generation_call"))
ECHO = ("instructions", "max_output_tokens", "metadata", "parallel_tool_calls", "previous_response_id", "reasoning",
        "store", "temperature", "text", "tool_choice", "tools", "top_p", "truncation", "user")


def check_request(body, route=None):
    model = openai_chat.require_model(body)
    items = body.get("input")
    if not isinstance(items, (str, list)) or not items:
        raise InvalidRequest("'input' is required: a string or a non-empty array of items", param="input")
    if isinstance(items, list) and not all(isinstance(i, dict) for i in items):
        raise InvalidRequest("every item of 'input' must be an object", param="input")
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise InvalidRequest("'stream' must be a boolean", param="stream")
    prev = body.get("previous_response_id")
    if prev is not None and not isinstance(prev, str):
        raise InvalidRequest("'previous_response_id' must be a string", param="previous_response_id")
    return model, bool(stream)


# ---- conversation state ------------------------------------------------------------------------------


def prepare(body, store, owner, same_family):
    """Expand `previous_response_id` from the gateway's own store into the full input, so any
    upstream (stateless) can continue the conversation. Only the key that stored a response may
    continue from it: an id this key does not own is refused like an unknown one, on the fast path
    too (forwarded, it would reach whatever the upstream keeps under the shared provider key)."""
    prev_id = body.get("previous_response_id")
    if not prev_id:
        return body
    history = stored_history(store, owner, prev_id)
    items = body["input"]
    items = [{"type": "message", "role": "user", "content": items}] if isinstance(items, str) else items
    out = {k: v for k, v in body.items() if k != "previous_response_id"}
    out["input"] = history + items
    out[EXPANDED] = prev_id  # for the echo in the answer; never sent upstream
    out[HISTORY] = len(history)  # what remember() leaves out: it is stored already
    return out


MAX_TURNS = 10_000  # a chain longer than this (or a loop) is refused rather than followed


def stored_history(store, owner, response_id):
    """The whole conversation up to and including response `response_id`: each stored turn holds
    only its new input items and a pointer to the turn before (older records hold it all)."""
    turns = []
    next_id = response_id
    while next_id:
        saved = store.get(next_id, owner) if store else None
        if saved is None or len(turns) >= MAX_TURNS:
            what = "not found" if next_id == response_id else f"not found (an earlier turn, '{next_id}', is gone)"
            raise InvalidRequest(f"Previous response with id '{response_id}' {what}.", param="previous_response_id")
        turns.append(saved)
        next_id = saved.get("parent")
    history = []
    for saved in reversed(turns):
        history += saved["input"] + [_as_input(i) for i in saved["response"].get("output") or ()]
    return history


def _as_input(item):
    """An output item as it is sent back as input (status and ids the API does not want dropped)."""
    if item.get("type") == "message":
        return {"type": "message", "role": "assistant", "content": item.get("content") or []}
    if item.get("type") == "function_call":
        return {k: item[k] for k in ("type", "call_id", "name", "namespace", "arguments") if k in item}
    if item.get("type") == "custom_tool_call":
        return {k: item[k] for k in ("type", "call_id", "name", "namespace", "input") if k in item}
    return item


def remember(store, owner, body, response):
    """Keep a finished response (unless the client said `store: false`) for later turns and GETs:
    this turn's new input items and a pointer to the turn it continued, never the history again."""
    if store is None or body.get("store") is False or not isinstance(response, dict) or not response.get("id"):
        return
    items = body["input"]
    items = [{"type": "message", "role": "user", "content": items}] if isinstance(items, str) else items
    if HISTORY in body:  # expanded here from the store: keep only what is new, and where it continues
        record = {"parent": body.get(EXPANDED), "input": items[body[HISTORY]:]}
    else:  # whole as sent (also a history the WebSocket session expanded itself)
        record = {"parent": None, "input": items}
    store.put(response["id"], owner, {**record, "response": response})


def retrieve(store, owner, response_id):
    saved = store.get(response_id, owner) if store else None
    if saved is None:
        raise NotFound(f"Response with id '{response_id}' not found.", param="response_id")
    return saved["response"]


def delete(store, owner, response_id):
    if not store or not store.delete(response_id, owner):
        raise NotFound(f"Response with id '{response_id}' not found.", param="response_id")
    return {"id": response_id, "object": "response.deleted", "deleted": True}


# ---- translation: client request -> unified ------------------------------------------------------------


def parse_request(body, route=None):
    req = u.new_request(body["model"], bool(body.get("stream")))
    req["client"] = {}
    if isinstance(body.get("instructions"), str) and body["instructions"]:
        req["system"].append({"type": "text", "text": body["instructions"]})
    items = body["input"]
    items = [{"role": "user", "content": items}] if isinstance(items, str) else items
    tools = body.get("tools") or []
    if not isinstance(tools, list):
        raise InvalidRequest("'tools' must be an array", param="tools")
    # some Codex models send their tools as an `additional_tools` input item instead
    tools = tools + [t for item in items if item.get("type") == "additional_tools" for t in item.get("tools") or ()]
    names = req["client"]["tools"] = ToolNames()
    req["tools"], req["hosted_tools"] = _parse_tools(tools, names)
    for i, item in enumerate(items):
        _parse_item(req, item, i, names)
    req["tool_choice"] = _parse_tool_choice(body.get("tool_choice"), names)
    req["parallel_tool_calls"] = body.get("parallel_tool_calls")
    req["max_tokens"] = body.get("max_output_tokens")
    for key in ("temperature", "top_p"):
        req[key] = body.get(key)
    req["user"] = body.get("user") or body.get("safety_identifier")
    openai_chat.cache_key(req, body)
    reasoning = body.get("reasoning")
    if isinstance(reasoning, dict) and reasoning.get("effort") not in (None, "none"):
        req["reasoning"] = {"effort": reasoning["effort"]}
    fmt = (body.get("text") or {}).get("format") if isinstance(body.get("text"), dict) else None
    if isinstance(fmt, dict):
        req["response_format"] = media.from_spec(fmt.get("type"), fmt, "text.format")
    refusals.check("responses", body)
    req["stream_usage"] = True
    req["client"]["echo"] = {k: body.get(k) for k in ECHO}
    req["client"]["echo"]["previous_response_id"] = body.get("previous_response_id") or body.get(EXPANDED)
    return req


def _parse_item(req, item, i, names):
    kind = item.get("type", "message")
    if kind == "message":
        role = item.get("role")
        parts = _content(item.get("content"), i)
        if role in ("system", "developer"):
            req["system"] += [p for p in parts if p["type"] == "text"]
        elif role in ("user", "assistant"):
            _append(req, role, parts)
        else:
            raise InvalidRequest(f"input[{i}].role must be user, assistant, system or developer", param=f"input[{i}].role")
    elif kind in ("function_call", "custom_tool_call"):
        name = names.upstream(item.get("name", ""), item.get("namespace"))
        arguments = (item.get("arguments") or "") if kind == "function_call" else custom_arguments(item.get("input"))
        _append(req, "assistant", [{"type": "tool_call", "id": item.get("call_id") or new_id("call_"),
                                    "name": name, "arguments": arguments}])
    elif kind in ("function_call_output", "custom_tool_call_output"):
        output = item.get("output")
        content = [{"type": "text", "text": output}] if isinstance(output, str) else _content(output, i)
        req["messages"].append({"role": "tool", "content": [
            {"type": "tool_result", "tool_call_id": item.get("call_id", ""), "content": content, "is_error": False}]})
    elif kind == "reasoning":
        _append(req, "assistant", output_parts(item))
    elif kind in SKIPPED_ITEMS:
        return
    else:
        raise InvalidRequest(f"input[{i}] is a '{kind}' item, which cannot be translated for this model's provider",
                             param=f"input[{i}]")


def _append(req, role, parts):
    """Consecutive items of one speaker (reasoning, text, calls) form one message."""
    last = req["messages"][-1] if req["messages"] else None
    if last and last["role"] == role == "assistant":
        last["content"].extend(parts)
    else:
        req["messages"].append({"role": role, "content": parts})


def _content(content, i):
    return openai_chat.parse_content(content, f"input[{i}]", f"input[{i}].content")


def _parse_tools(tools, names):
    """Function tools as they are; a namespace's tools flattened; custom tools as functions taking
    one string; the hosted ones as records for the provider to place (plexus/unified/tools.py)."""
    taken = {t["name"] for t in tools if isinstance(t, dict) and t.get("type") == "function" and isinstance(t.get("name"), str)}
    functions, hosted_tools = [], []
    for i, t in enumerate(tools):
        if not isinstance(t, dict):
            raise InvalidRequest(f"tools[{i}] must be an object", param=f"tools[{i}]")
        kind = t.get("type")
        if kind == "namespace" and isinstance(t.get("name"), str):
            functions += [f for f in (_client_tool(inner, t["name"], names, taken) for inner in t.get("tools") or ()) if f]
            continue
        tool = _client_tool(t, None, names, taken)
        if tool is not None:
            functions.append(tool)
        elif kind in ("function", "custom"):
            raise InvalidRequest(f"tools[{i}]: a {kind} tool needs a name", param=f"tools[{i}].name")
        else:
            hosted_tools.append(hosted(HOSTED_KINDS.get(kind), str(kind), t))
    return functions, hosted_tools


def _client_tool(t, namespace, names, taken):
    """A function or custom tool (in a namespace or not) as a unified tool; None for any other."""
    kind = t.get("type") if isinstance(t, dict) else None
    if kind not in ("function", "custom") or not isinstance(t.get("name"), str):
        return None
    name = names.add(t["name"], namespace, kind == "custom", taken)
    if kind == "custom":
        return custom_tool(name, t.get("description"), t.get("format"))
    return function_tool(name, t.get("description"), t.get("parameters"))


def _parse_tool_choice(choice, names):
    if choice is None:
        return None
    if choice in ("auto", "none", "required"):
        return {"type": choice}
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind in ("function", "custom"):
        return {"type": "tool", "name": names.upstream(choice.get("name"), choice.get("namespace"))}
    if kind == "allowed_tools":
        return {"type": "required" if choice.get("mode") == "required" else "auto"}
    if isinstance(kind, str):  # a hosted tool's type: the provider may not have it, so the model chooses
        return {"type": "auto"}
    raise InvalidRequest("'tool_choice' must be auto, none, required or a tool choice", param="tool_choice")


# ---- translation: unified -> client response ----------------------------------------------------------


def render_response(resp, alias, request):
    output = []
    for p in resp["content"]:
        if p["type"] == "text":
            if output and output[-1]["type"] == "message":
                output[-1]["content"][0]["text"] += p["text"]
            else:
                output.append(_message_item(new_id("msg_"), p["text"], "completed"))
        elif p["type"] == "tool_call":
            output.append(_tool_item(request, p["id"], p["name"], p["arguments"], "completed"))
        elif p["type"] == "reasoning":
            output.append(_reasoning_item(new_id("rs_"), p["text"]))
    return _response(_response_id(resp["id"]), alias, request, output, resp["stop_reason"], resp.get("usage"))


def _response(rid, alias, request, output, stop_reason, usage, created=None, status=None):
    echo = request["client"]["echo"]
    status = status or ("incomplete" if stop_reason in INCOMPLETE_TO_WIRE else "completed")
    out = {
        "id": rid, "object": "response", "created_at": created or int(time.time()), "status": status,
        "error": None, "incomplete_details": {"reason": INCOMPLETE_TO_WIRE[stop_reason]} if status == "incomplete" else None,
        "instructions": echo.get("instructions"), "max_output_tokens": echo.get("max_output_tokens"),
        "model": alias, "output": output,
        "parallel_tool_calls": echo.get("parallel_tool_calls") if echo.get("parallel_tool_calls") is not None else True,
        "previous_response_id": echo.get("previous_response_id"),
        "reasoning": echo.get("reasoning") or {"effort": None, "summary": None},
        "store": echo.get("store") if echo.get("store") is not None else True,
        "temperature": echo.get("temperature"), "text": echo.get("text") or {"format": {"type": "text"}},
        "tool_choice": echo.get("tool_choice") or "auto", "tools": echo.get("tools") or [],
        "top_p": echo.get("top_p"), "truncation": echo.get("truncation") or "disabled",
        "usage": _usage(usage) if usage is not None else None, "user": echo.get("user"),
        "metadata": echo.get("metadata") or {},
    }
    return out


def _usage(usage):
    return {"input_tokens": usage.prompt_tokens,
            "input_tokens_details": {"cached_tokens": usage.cached_tokens},
            "output_tokens": usage.output_tokens,
            "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
            "total_tokens": usage.prompt_tokens + usage.output_tokens}


def _message_item(item_id, text, status):
    content = [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}] if status == "completed" else []
    return {"type": "message", "id": item_id, "status": status, "role": "assistant", "content": content}


def _call_item(item_id, call_id, name, arguments, status):
    return {"type": "function_call", "id": item_id, "call_id": call_id, "name": name, "arguments": arguments, "status": status}


def _tool_item(request, call_id, name, arguments, status, item_id=None):
    """A call as the client's tool list names it: a function call (with its namespace, if the tool
    was in one), or a custom tool call whose input is the function's one string argument."""
    origin = request["client"]["tools"].origin(name) if request.get("client", {}).get("tools") else None
    if origin is None:
        return _call_item(item_id or new_id("fc_"), call_id, name, arguments, status)
    if origin["custom"]:
        item = {"type": "custom_tool_call", "id": item_id or new_id("ctc_"), "call_id": call_id, "name": origin["name"],
                "input": custom_input(arguments) if status == "completed" else "", "status": status}
    else:
        item = _call_item(item_id or new_id("fc_"), call_id, origin["name"], arguments, status)
    if origin["namespace"] is not None:
        item["namespace"] = origin["namespace"]
    return item


def _reasoning_item(item_id, text):
    return {"type": "reasoning", "id": item_id, "summary": [{"type": "summary_text", "text": text}] if text else []}


def _response_id(upstream_id):
    return upstream_id if upstream_id.startswith("resp_") else new_id("resp_")


class StreamRenderer(Renderer):
    """Unified events -> the Responses event sequence: `response.created`, `response.in_progress`,
    then per output item `output_item.added` ... `output_item.done` (message items with their content
    part, function calls with argument deltas, reasoning with a summary part), then
    `response.completed` / `response.incomplete`, or `response.failed` on an error. Every event has
    a strictly increasing `sequence_number`."""

    def __init__(self, alias, request):
        super().__init__()
        self.alias = alias
        self.request = request
        self.seq = -1
        self.id = None
        self.created = int(time.time())
        self.output = []  # finished items, for the terminal event
        self.item = None  # the open item
        self.text = ""  # the open item's text or arguments so far
        self.final = None  # the terminal response object, once sent

    def render(self, event):
        kind = type(event)
        if kind is ev.Start:
            self.id = _response_id(event.id)
            shell = self._shell("in_progress")
            return self._emit("response.created", response=shell) + self._emit("response.in_progress", response=shell)
        if kind is ev.Text:
            return self._open("message") + self._text_delta("response.output_text.delta", event.text, content_index=0, logprobs=[])
        if kind is ev.Reasoning:
            return self._open("reasoning") + self._text_delta("response.reasoning_summary_text.delta", event.text, summary_index=0)
        if kind is ev.ToolStart:
            item = _tool_item(self.request, event.id, event.name, "", "in_progress")
            return self._close() + self._add(item, tool=(event.index, event.name))
        if kind is ev.ToolArgs:
            if self.item is None or self.item.get("_tool", (None,))[0] != event.index:
                return b""
            if self.item["type"] == "custom_tool_call":  # the input is inside JSON: sent whole when the call ends
                self.text += event.delta
                return b""
            return self._text_delta("response.function_call_arguments.delta", event.delta)
        if kind is ev.BlockEnd:
            return self._close()
        return b""

    def render_failure(self, err):
        failed = self._shell("failed")
        failed["error"] = {"code": "server_error" if err.status >= 500 else "invalid_prompt", "message": err.message}
        self.final = failed
        return self._close() + self._emit("response.failed", response=failed)

    def render_end(self):
        tail = self._close()
        usage = self.outcome.reported or Usage()
        self.final = _response(self.id, self.alias, self.request, self.output, self.outcome.stop.reason, usage, self.created)
        name = "response.incomplete" if self.final["status"] == "incomplete" else "response.completed"
        return tail + self._emit(name, response=self.final)

    def _shell(self, status):
        return _response(self.id, self.alias, self.request, list(self.output), "stop", None, self.created, status)

    def _emit(self, event_type, **fields):
        self.seq += 1
        return encode(orjson.dumps({"type": event_type, "sequence_number": self.seq, **fields}), event_type)

    def _open(self, kind):
        if self.item is not None and self.item["type"] == kind:
            return b""
        out = self._close()
        if kind == "message":
            item = _message_item(new_id("msg_"), "", "in_progress")
            part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            return out + self._add(item) + self._emit("response.content_part.added", item_id=item["id"],
                                                      output_index=len(self.output), content_index=0, part=part)
        item = _reasoning_item(new_id("rs_"), "")
        part = {"type": "summary_text", "text": ""}
        return out + self._add(item) + self._emit("response.reasoning_summary_part.added", item_id=item["id"],
                                                  output_index=len(self.output), summary_index=0, part=part)

    def _add(self, item, tool=None):
        self.item, self.text = dict(item), ""
        if tool is not None:
            self.item["_tool"] = tool
        return self._emit("response.output_item.added", output_index=len(self.output), item=item)

    def _text_delta(self, name, delta, **fields):
        self.text += delta
        return self._emit(name, item_id=self.item["id"], output_index=len(self.output), **fields, delta=delta)

    def _close(self):
        item = self.item
        if item is None:
            return b""
        self.item = None
        at = {"item_id": item["id"], "output_index": len(self.output)}
        if item["type"] == "message":
            part = {"type": "output_text", "text": self.text, "annotations": [], "logprobs": []}
            done = _message_item(item["id"], self.text, "completed")
            out = (self._emit("response.output_text.done", **at, content_index=0, text=self.text, logprobs=[])
                   + self._emit("response.content_part.done", **at, content_index=0, part=part))
        elif item["type"] == "reasoning":
            part = {"type": "summary_text", "text": self.text}
            done = _reasoning_item(item["id"], self.text)
            out = (self._emit("response.reasoning_summary_text.done", **at, summary_index=0, text=self.text)
                   + self._emit("response.reasoning_summary_part.done", **at, summary_index=0, part=part))
        elif item["type"] == "custom_tool_call":
            done = _tool_item(self.request, item["call_id"], item["_tool"][1], self.text, "completed", item["id"])
            out = (self._emit("response.custom_tool_call_input.delta", **at, delta=done["input"])
                   + self._emit("response.custom_tool_call_input.done", **at, input=done["input"]))
        else:
            done = _tool_item(self.request, item["call_id"], item["_tool"][1], self.text, "completed", item["id"])
            out = self._emit("response.function_call_arguments.done", **at, name=item["name"], arguments=self.text)
        out += self._emit("response.output_item.done", output_index=len(self.output), item=done)
        self.output.append(done)
        return out


# ---- fast path ----------------------------------------------------------------------------------------

_MODEL = re.compile(rb'"model"\s*:\s*"(?:[^"\\]|\\.)*"')
LIFECYCLE = frozenset(("response.created", "response.in_progress", "response.queued", "response.completed",
                       "response.incomplete", "response.failed"))
TERMINAL = frozenset(("response.completed", "response.incomplete", "response.failed"))


def passthrough_request(body, upstream_model, stream, route=None):
    out = dict(body)
    out.pop(EXPANDED, None)
    out.pop(HISTORY, None)
    out["model"] = upstream_model
    return out, None


def response_usage(data):
    return from_responses(data.get("usage")), data.get("status")


class StreamRelay(SSERelay):
    """Relays a Responses stream event by event; lifecycle events get the alias as `model`, and the
    terminal event is parsed for usage and kept (as `final`) for the conversation store."""

    def __init__(self, alias, options=None):
        super().__init__(alias)
        self.final = None
        self.events = 0

    def feed(self, chunk):
        return b"".join(self._event(ev) for ev in self.decoder.feed(chunk))

    def _event(self, ev):
        self.events += 1
        if ev.data == b"[DONE]":
            return b""  # some compatible servers add it; OpenAI's own streams end without one
        name = ev.event
        if name is None:  # the SDK reads data.type; some servers omit the event line
            m = re.search(rb'"type"\s*:\s*"([^"]+)"', ev.data)
            name = m.group(1).decode() if m else None
        data = ev.data
        if name in LIFECYCLE:
            data = _MODEL.sub(self.model_field, data, count=1)
            if name in TERMINAL:
                self._terminal(data)
        else:
            self.chunks += 1
        return encode(data, name)

    def _terminal(self, data):
        try:
            resp = orjson.loads(data).get("response") or {}
        except (orjson.JSONDecodeError, AttributeError):
            return
        self.final = resp
        self.usage = from_responses(resp.get("usage"))
        self.finish_reason = resp.get("status")

    @property
    def output_chars(self):
        return self.chunks * 4

    def fail(self, err):
        """`response.failed`, numbered after the events relayed (OpenAI numbers them from 0)."""
        failed = {"id": new_id("resp_"), "object": "response", "status": "failed", "output": [],
                  "error": {"code": "server_error", "message": err.message}}
        self.events += 1
        return encode(orjson.dumps({"type": "response.failed", "sequence_number": self.events - 1, "response": failed}),
                      "response.failed")

    def close(self):
        tail = b"".join(self._event(ev) for ev in self.decoder.close())
        return tail, self.final is not None
