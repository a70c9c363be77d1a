"""`type: chat` providers: OpenAI Chat Completions and the many APIs compatible with it.

Builds the upstream body from a unified request, and parses the answer (JSON or SSE chunks)
into unified form. Reasoning text is read from `reasoning_content` (DeepSeek) or `reasoning`
(OpenRouter)."""

import orjson

from ...core.errors import UpstreamError
from .. import hosted
from ..quirks import ThinkSplitter, split_think

from ...unified import events as ev, media, types as u
from ...unified.convert import image_to_url, new_id
from ...unified.usage import from_openai
from .tables import FINISH_FROM_WIRE

FORWARDED_HEADERS = ()


def url(provider, model, stream):
    return provider.api_base_url + "/chat/completions"


def headers(provider, client_headers=None):
    h = {"Content-Type": "application/json", "Accept": "application/json"}
    if provider.api_key:
        h["Authorization"] = "Bearer " + provider.api_key
    h.update(provider.headers)
    return h


# ---- unified request -> upstream body ------------------------------------------------------------


def build_request(req, model, provider):
    body = {"model": model, "messages": _messages(req)}
    if req["tools"]:
        body["tools"] = [
            {"type": "function", "function": {k: v for k, v in (("name", t["name"]), ("description", t.get("description")),
                                                                ("parameters", t["parameters"])) if v is not None}}
            for t in req["tools"]
        ]
    hosted.place(req, {}, provider)  # Chat Completions has no hosted tools: each is dropped or refused
    choice = req["tool_choice"]
    if choice:
        body["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}} if choice["type"] == "tool" else choice["type"]
    if req["parallel_tool_calls"] is not None and req["tools"]:
        body["parallel_tool_calls"] = req["parallel_tool_calls"]
    for key in ("max_tokens", "temperature", "top_p", "seed", "user"):
        if req[key] is not None:
            body[key] = req[key]
    for key in ("presence_penalty", "frequency_penalty"):
        if req.get(key) is not None:
            body[key] = req[key]
    fmt = req["response_format"]
    if fmt:
        body["response_format"] = {"type": "json_schema", "json_schema": media.spec_of(fmt)} if fmt["type"] == "json_schema" else fmt
    if req["stop"]:
        body["stop"] = req["stop"]
    reasoning = req["reasoning"]
    if reasoning:
        body["reasoning_effort"] = reasoning.get("effort") or u.effort_for_budget(reasoning.get("budget_tokens") or 0)
    if req["stream"]:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def _messages(req):
    out = []
    system = "\n\n".join(p["text"] for p in req["system"] if p["text"])
    if system:
        out.append({"role": "system", "content": system})
    attached = []  # images and files of the tool results just written (a chat tool message takes text only)
    for m in req["messages"]:
        role = m["role"]
        if role == "tool":
            out.append(_tool_message(m["content"][0], attached))
            continue
        _attach(out, attached)
        if role == "assistant":
            out.append(_assistant(m["content"]))
        else:
            out.append({"role": "user", "content": _user_content(m["content"])})
    _attach(out, attached)
    return out


def _tool_message(result, attached):
    """A tool result as a `tool` message; its images and files wait in `attached` for the user
    message that follows the run of tool messages (one may not come between them)."""
    media_parts = [p for p in result["content"] if p["type"] != "text"]
    text = u.text_of(result["content"])
    if media_parts:
        attached.append({"type": "text", "text": f"[attachments of tool result {result['tool_call_id']}]"})
        attached.extend(media_parts)
        text = text or "[the result is in the attachments that follow]"
    return {"role": "tool", "tool_call_id": result["tool_call_id"], "content": text}


def _attach(out, attached):
    if attached:
        out.append({"role": "user", "content": _user_content(attached)})
        attached.clear()


def _assistant(parts):
    msg = {"role": "assistant", "content": u.text_of(parts) or None}
    reasoning = "".join(p["text"] for p in parts if p["type"] == "reasoning")
    if reasoning:
        msg["reasoning_content"] = reasoning  # DeepSeek needs it back on tool-call turns
    calls = [p for p in parts if p["type"] == "tool_call"]
    if calls:
        msg["tool_calls"] = [{"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
                             for c in calls]
    return msg


def _user_content(parts):
    if all(p["type"] == "text" for p in parts):
        return "".join(p["text"] for p in parts) if len(parts) <= 1 else [{"type": "text", "text": p["text"]} for p in parts]
    out = []
    for p in parts:
        if p["type"] == "text":
            out.append({"type": "text", "text": p["text"]})
        elif p["type"] == "image":
            out.append({"type": "image_url", "image_url": {"url": image_to_url(p)}})
        else:
            out.append(media_part(p))
    return out


def media_part(p):
    """A document or audio part as a chat content part: PDFs as `file` (chat takes no other file
    type and no URL), text documents as text, audio as `input_audio`."""
    if p["type"] == "audio":
        return {"type": "input_audio", "input_audio": {"data": p["data"], "format": media.audio_format(p, "chat")}}
    if "text" in p:
        return {"type": "text", "text": media.document_text(p)}
    if "url" in p:
        media.refuse("a document by URL (Chat Completions takes files as data only; the gateway does not fetch URLs)",
                     "chat")
    media.check_pdf(p, "chat")
    return {"type": "file", "file": {"file_data": media.data_url(p), "filename": media.filename(p)}}


# ---- upstream answer -> unified --------------------------------------------------------------------


def parse_response(data, quirks=None):
    choices = data.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    msg = choice.get("message") or {}
    content = []
    reasoning = msg.get("reasoning_content") or msg.get("reasoning")
    text = msg.get("content")
    if quirks and quirks.get("think_tags") and isinstance(text, str):
        thought, text = split_think(text)
        reasoning = (reasoning or "") + thought
    if isinstance(reasoning, str) and reasoning:
        content.append({"type": "reasoning", "text": reasoning})
    if isinstance(text, str) and text:
        content.append({"type": "text", "text": text})
    elif msg.get("refusal"):
        content.append({"type": "text", "text": msg["refusal"]})
    for call in msg.get("tool_calls") or []:
        fn = call.get("function") or {}
        content.append({"type": "tool_call", "id": call.get("id") or new_id("call_"), "name": fn.get("name", ""),
                        "arguments": fn.get("arguments") or ""})
    reason = FINISH_FROM_WIRE.get(choice.get("finish_reason"), "stop")
    if reason == "stop" and msg.get("tool_calls"):
        reason = "tool_calls"
    return {"id": data.get("id") or new_id("chatcmpl-"), "model": data.get("model", ""), "content": content,
            "stop_reason": reason, "stop_sequence": None, "usage": from_openai(data.get("usage"))}


class StreamParser:
    """`chat.completion.chunk` events -> unified events. Tool calls are keyed on `index` alone:
    follow-on fragments that repeat (or blank) the id or name continue the same call, and each
    arguments fragment is appended, never taken for the whole."""

    def __init__(self, quirks=None):
        self.think = ThinkSplitter() if quirks and quirks.get("think_tags") else None
        self.started = False
        self.tools = {}  # OpenAI index -> unified tool index (calls started)
        self.pending = {}  # OpenAI index -> argument fragments seen before the call's name
        self.stopped = False
        self.usage = None
        self.output_chars = 0

    def feed(self, event):
        data = event.data
        if data == b"[DONE]":
            return []
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            return []
        if not isinstance(chunk, dict):
            return []
        if "error" in chunk:
            return [ev.Failure(_stream_error(chunk["error"]))]
        out = []
        if not self.started:
            self.started = True
            out.append(ev.Start(chunk.get("id") or new_id("chatcmpl-"), chunk.get("model", "")))
        for choice in chunk.get("choices") or ():
            if isinstance(choice, dict) and choice.get("index", 0) == 0:
                self._choice(choice, out)
        if chunk.get("usage"):
            self.usage = from_openai(chunk["usage"])
            out.append(ev.UsageReport(self.usage))
        return out

    def _choice(self, choice, out):
        delta = choice.get("delta") or {}
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            self.output_chars += len(reasoning)
            out.append(ev.Reasoning(reasoning))
        text = delta.get("content")
        if isinstance(text, str) and text:
            self.output_chars += len(text)
            self._text(self.think.feed(text) if self.think else [(False, text)], out)
        for call in delta.get("tool_calls") or ():
            self._tool_call(call, out)
        reason = choice.get("finish_reason")
        if reason and self.think:
            self._text(self.think.flush(), out)
        if reason and not self.stopped:
            self.stopped = True
            reason = FINISH_FROM_WIRE.get(reason, "stop")
            if reason == "stop" and self.tools:
                reason = "tool_calls"
            out.append(ev.Stop(reason))

    @staticmethod
    def _text(pieces, out):
        for is_reasoning, piece in pieces:
            if piece:
                out.append(ev.Reasoning(piece) if is_reasoning else ev.Text(piece))

    def _tool_call(self, call, out):
        index = call.get("index", 0)
        fn = call.get("function") or {}
        args = fn.get("arguments") or ""
        if index not in self.tools:
            name = fn.get("name")
            if not name:
                self.pending.setdefault(index, []).append(args)
                return
            n = self.tools[index] = len(self.tools)
            out.append(ev.ToolStart(n, call.get("id") or new_id("call_"), name))
            args = "".join(self.pending.pop(index, ())) + args
        if args:
            self.output_chars += len(args)
            out.append(ev.ToolArgs(self.tools[index], args))


def _stream_error(err):
    message = err.get("message") if isinstance(err, dict) else str(err)
    return UpstreamError(message or "The upstream reported an error mid-stream", status=502)
