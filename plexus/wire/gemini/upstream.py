"""`type: gemini` providers: Google's Gemini API (`generateContent`, `streamGenerateContent?alt=sse`).

Builds request bodies from a unified request (system instruction, `user`/`model` turns, tool
results matched to their calls, sanitized tool schemas, thinking config) and parses answers and SSE
chunks into unified form. Gemini sends every function call whole, often without an id, and may put a
`thoughtSignature` on any part; each signature is kept on the unified part it came with and goes
back on the same part the next time the target is Gemini.

API reference: https://ai.google.dev/api/generate-content ; thought signatures:
https://ai.google.dev/gemini-api/docs/thought-signatures
"""

import mimetypes
from urllib.parse import quote

import orjson

from ...core.errors import InvalidRequest, UpstreamError
from .. import hosted
from ...unified import events as ev, media, types as u
from ...unified.convert import arguments_object, arguments_string, new_id
from ...unified.usage import from_gemini
from .schema import sanitize
from .tables import FINISH_FROM_WIRE

# Gemini's function calls often carry no id: each gets a new one, unique in the whole conversation
# (ids that restart per answer, e.g. call_0, would repeat in the client's history). The client sends
# them back; no id goes up to Gemini, which matches results to calls by name and order.
CALL_ID = "call_"
# For a function call of the current turn that has no signature (history from another provider),
# Google's thought-signature guide names this placeholder; Gemini 3 rejects such calls otherwise.
FORWARDED_HEADERS = ()
SKIP_SIGNATURE = "skip_thought_signature_validator"

# anything else (OTHER, MALFORMED_FUNCTION_CALL, UNEXPECTED_TOOL_CALL, ...) ends as "stop", best effort
# Gemini 2.5 Flash accepts budgets up to 24576 (Pro up to 32768) and answers 400 above: Claude
# Code's 31999-token "ultrathink" would fail on Flash, so budgets are capped at the lower limit.
MAX_THINKING_BUDGET = 24576
MAX_STOP_SEQUENCES = 5


def url(provider, model, stream):
    base = f"{provider.api_base_url}/models/{quote(_model_name(model), safe='/-._')}"
    return base + (":streamGenerateContent?alt=sse" if stream else ":generateContent")


def count_url(provider, model=None):
    return f"{provider.api_base_url}/models/{quote(_model_name(model or ''), safe='/-._')}:countTokens"


def _model_name(model):
    return model[len("models/"):] if model.startswith("models/") else model


def headers(provider, client_headers=None):
    h = {"Content-Type": "application/json", "Accept": "application/json"}
    if provider.api_key:
        h["x-goog-api-key"] = provider.api_key
    h.update(provider.headers)
    return h


# ---- unified request -> upstream body ------------------------------------------------------------


def build_request(req, model, provider):
    body = {"contents": _contents(req["messages"])}
    system = [{"text": p["text"]} for p in req["system"] if p["text"]]
    if system:
        body["systemInstruction"] = {"parts": system}
    tools = [{"functionDeclarations": [_declaration(t) for t in req["tools"]]}] if req["tools"] else []
    tools += hosted.place(req, {} if req["tools"] else HOSTED, provider)
    if tools:
        body["tools"] = tools
    choice = req["tool_choice"]
    if choice and (req["tools"] or choice["type"] == "none"):
        mode = {"auto": "AUTO", "none": "NONE", "required": "ANY", "tool": "ANY"}[choice["type"]]
        config = {"mode": mode}
        if choice["type"] == "tool" and choice.get("name"):
            config["allowedFunctionNames"] = [choice["name"]]
        body["toolConfig"] = {"functionCallingConfig": config}
    gen = {}
    for key, name in (("max_tokens", "maxOutputTokens"), ("temperature", "temperature"), ("top_p", "topP"),
                      ("top_k", "topK"), ("seed", "seed")):
        if req[key] is not None:
            gen[name] = req[key]
    for key, name in (("presence_penalty", "presencePenalty"), ("frequency_penalty", "frequencyPenalty")):
        if req.get(key) is not None:
            gen[name] = req[key]
    if req["stop"]:
        if len(req["stop"]) > MAX_STOP_SEQUENCES:  # cutting the list would let the answer run past the others
            raise InvalidRequest(f"A Gemini model takes at most {MAX_STOP_SEQUENCES} stop sequences "
                                 f"({len(req['stop'])} were sent)")
        gen["stopSequences"] = req["stop"]
    _response_format(req.get("response_format"), gen)
    thinking = _thinking(req.get("reasoning"))
    if thinking:
        gen["thinkingConfig"] = thinking
    if gen:
        body["generationConfig"] = gen
    return body


# hosted capabilities with a native Gemini tool (plexus/wire/hosted.py). Placed only in a request
# without function tools: Gemini models before 3 refuse built-in tools beside function declarations.
HOSTED = {"web_search": lambda spec: {"googleSearch": {}}, "code_execution": lambda spec: {"codeExecution": {}}}


def _declaration(tool):
    decl = {"name": tool["name"]}
    if tool.get("description"):
        decl["description"] = tool["description"]
    params = sanitize(tool["parameters"])
    if params.get("properties"):  # Gemini rejects an OBJECT with empty properties: leave them out
        decl["parameters"] = params
    return decl


def _response_format(fmt, gen):
    if not fmt:
        return
    gen["responseMimeType"] = "application/json"
    if fmt["type"] == "json_schema":
        gen["responseJsonSchema"] = fmt["schema"]  # takes standard JSON Schema, unlike responseSchema


def _thinking(reasoning):
    """Unified reasoning as `thinkingConfig`: a budget goes as `thinkingBudget`, an effort as the
    budget `EFFORT_BUDGETS` gives it (which every thinking Gemini model understands, unlike
    `thinkingLevel`), at most MAX_THINKING_BUDGET; thoughts are asked for whenever reasoning is."""
    if not reasoning:
        return None
    budget = reasoning.get("budget_tokens")
    if not isinstance(budget, int):
        budget = u.EFFORT_BUDGETS.get(reasoning.get("effort"), u.EFFORT_BUDGETS["medium"])
    return {"thinkingBudget": min(budget, MAX_THINKING_BUDGET), "includeThoughts": True}


def _contents(messages):
    """Unified messages as Gemini turns. The results of one step's calls become functionResponse
    parts of ONE user turn, in the order of the calls, each named after the call it answers (looked
    up by id in the history); text the client sent with them follows the results."""
    names = {}  # tool call id -> function name
    order = {}  # tool call id -> its position among its turn's calls
    out = []
    for m in messages:
        if m["role"] == "assistant":
            calls = [p for p in m["content"] if p["type"] == "tool_call"]
            order.update((c["id"], i) for i, c in enumerate(calls))
            parts = [p for p in (_model_part(p, names) for p in m["content"]) if p is not None]
            role = "model"
        elif m["role"] == "tool":
            parts = [_function_response(r, names) for r in m["content"] if r["type"] == "tool_result"]
            for part, r in zip(parts, m["content"]):
                part["_order"] = order.get(r["tool_call_id"], len(order))
            role = "user"
        else:
            parts = [p for p in (_user_part(p) for p in m["content"]) if p is not None]
            role = "user"
        if not parts:
            continue
        if out and out[-1]["role"] == role:
            prev = out[-1]["parts"]
            if m["role"] == "tool":  # results first, before any text already in this user turn
                at = sum(1 for p in prev if "functionResponse" in p)
                prev[at:at] = parts
            else:
                prev.extend(parts)
        else:
            out.append({"role": role, "parts": parts})
    for c in out:
        results = [p for p in c["parts"] if "_order" in p]
        if results:
            results.sort(key=lambda p: p["_order"])  # stable: calls of the same position keep their order
            c["parts"] = [{"functionResponse": p["functionResponse"]} for p in results] + \
                         [p for p in c["parts"] if "_order" not in p]
    _sign_current_turn(out)
    return out


def _model_part(p, names):
    kind = p["type"]
    if kind == "text":
        part = {"text": p["text"]} if p["text"] or p.get("thought_signature") else None
    elif kind == "reasoning":
        if not p.get("thought_signature"):
            return None  # only Gemini's own thoughts go back (with their signature); others mean nothing to it
        part = {"text": p["text"], "thought": True}
    elif kind == "tool_call":
        names[p["id"]] = p["name"]
        part = {"functionCall": {"name": p["name"], "args": arguments_object(p["arguments"])}}
    else:
        return None
    if part is not None and p.get("thought_signature"):
        part["thoughtSignature"] = p["thought_signature"]
    return part


def _user_part(p):
    if p["type"] == "text":
        return {"text": p["text"]} if p["text"] else None
    if p["type"] == "image":
        return _image(p)
    if p["type"] == "audio":
        return {"inlineData": {"mimeType": p["media_type"], "data": p["data"]}}
    if p["type"] == "document":
        return _document(p)
    return None


def _document(p):
    """PDFs inline (base64) or by URL (`fileData`: Gemini fetches it), text documents as text."""
    if "text" in p:
        return {"text": media.document_text(p)}
    if "url" in p:
        if not p["url"].startswith(("https://", "http://", "gs://")):
            raise InvalidRequest("A document URL for a Gemini model must be http(s):// or gs://, or send it as base64")
        return {"fileData": {"mimeType": p.get("media_type") or media.PDF, "fileUri": p["url"]}}
    media.check_pdf(p, "gemini")
    return {"inlineData": {"mimeType": media.PDF, "data": p["data"]}}


def _image(p):
    """Base64 images go inline; a URL goes as `fileData` (Gemini fetches public HTTP(S) URLs
    itself), with the MIME type guessed from the URL's extension."""
    if p.get("data") is not None:
        return {"inlineData": {"mimeType": p.get("media_type") or "image/png", "data": p["data"]}}
    url = p.get("url") or ""
    if not url.startswith(("https://", "http://", "gs://")):
        raise InvalidRequest("An image URL for a Gemini model must be http(s):// or gs://, or send the image as base64")
    mime = mimetypes.guess_type(url.split("?", 1)[0])[0]
    return {"fileData": {"mimeType": mime if mime and mime.startswith("image/") else "image/jpeg", "fileUri": url}}


def _function_response(r, names):
    """A tool result as `functionResponse`: the response must be an object, so a string result goes
    under `output` (or `error` when the tool failed); a JSON object result is kept as is."""
    text = u.text_of(r["content"])
    value = text
    try:
        parsed = orjson.loads(text) if text[:1] in ("{", "[") else None
    except orjson.JSONDecodeError:
        parsed = None
    if parsed is not None:
        value = parsed
    if r.get("is_error"):
        response = {"error": value}
    elif isinstance(value, dict):
        response = value
    else:
        response = {"output": value}
    # no ids go up: Gemini matches results to calls by order and name, and ids from another
    # provider (or synthesized here) would mean nothing to it
    name = names.get(r["tool_call_id"]) or r["tool_call_id"] or "unknown_function"
    return {"functionResponse": {"name": name, "response": response}}


def _sign_current_turn(contents):
    """Gemini 3 requires the first functionCall of every model step of the current turn (after the
    last user message that is not only tool results) to carry its thought signature. History from
    another provider has none: those calls get Google's documented placeholder."""
    start = 0
    for i, c in enumerate(contents):
        if c["role"] == "user" and any("functionResponse" not in p for p in c["parts"]):
            start = i + 1
    for c in contents[start:]:
        if c["role"] != "model":
            continue
        calls = [p for p in c["parts"] if "functionCall" in p]
        if calls and not any("thoughtSignature" in p for p in calls):
            calls[0]["thoughtSignature"] = SKIP_SIGNATURE


# ---- upstream answer -> unified --------------------------------------------------------------------


def parse_response(data, quirks=None):
    candidate = _candidate(data)
    content = []
    calls = 0
    for part in ((candidate.get("content") or {}).get("parts") or ()):
        if not isinstance(part, dict):
            continue
        signature = part.get("thoughtSignature")
        if "functionCall" in part:
            fc = part["functionCall"] or {}
            p = {"type": "tool_call", "id": fc.get("id") or new_id(CALL_ID), "name": fc.get("name", ""),
                 "arguments": arguments_string(fc.get("args"))}
            calls += 1
        elif isinstance(part.get("text"), str):
            kind = "reasoning" if part.get("thought") else "text"
            prev = content[-1] if content else None
            if prev and prev["type"] == kind and not prev.get("thought_signature"):
                prev["text"] += part["text"]  # one block per run of text, as the other styles expect
                if signature:
                    prev["thought_signature"] = signature
                continue
            p = {"type": kind, "text": part["text"]}
        else:
            continue
        if signature:
            p["thought_signature"] = signature
        content.append(p)
    reason = _finish(data, candidate, calls)
    return {"id": data.get("responseId") or new_id("gemini_"), "model": data.get("modelVersion", ""),
            "content": content, "stop_reason": reason, "stop_sequence": None,
            "usage": from_gemini(data.get("usageMetadata"))}


def _candidate(data):
    candidates = data.get("candidates")
    first = candidates[0] if isinstance(candidates, list) and candidates else None
    return first if isinstance(first, dict) else {}


def _finish(data, candidate, calls):
    """Gemini says STOP for function calls too: the content decides. A prompt blocked before any
    candidate (`promptFeedback.blockReason`) is a content_filter finish with no content."""
    if not data.get("candidates") and (data.get("promptFeedback") or {}).get("blockReason"):
        return "content_filter"
    reason = FINISH_FROM_WIRE.get(candidate.get("finishReason"), "stop")
    return "tool_calls" if calls and reason == "stop" else reason


class StreamParser:
    """Gemini SSE chunks -> unified events. Each chunk is a whole GenerateContentResponse holding
    only the new parts; function calls arrive whole (TOOL_START then one TOOL_ARGS), text is split
    across chunks. Usage is running: the last chunk's wins."""

    def __init__(self, quirks=None):
        self.started = False
        self.tools = 0
        self.stopped = False
        self.usage = None
        self.output_chars = 0
        self.block = None  # "text" | "reasoning" | None: what the last part streamed was

    def feed(self, event):
        try:
            chunk = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            return []
        if isinstance(chunk, list) and chunk:  # some stream errors come wrapped in a list
            chunk = chunk[0]
        if not isinstance(chunk, dict):
            return []
        if "error" in chunk:
            return [ev.Failure(_stream_error(chunk["error"]))]
        out = []
        if chunk.get("usageMetadata"):
            self.usage = from_gemini(chunk["usageMetadata"])
        if not self.started:  # the first chunk's usage already holds the prompt count
            self.started = True
            out.append(ev.Start(chunk.get("responseId") or new_id("gemini_"), chunk.get("modelVersion", ""), self.usage))
        candidate = _candidate(chunk)
        for part in ((candidate.get("content") or {}).get("parts") or ()):
            if isinstance(part, dict):
                self._part(part, out)
        reason = candidate.get("finishReason")
        blocked = not chunk.get("candidates") and (chunk.get("promptFeedback") or {}).get("blockReason")
        if (reason or blocked) and not self.stopped:
            self.stopped = True
            out.append(ev.Stop(_finish(chunk, candidate, self.tools)))
        if chunk.get("usageMetadata"):
            out.append(ev.UsageReport(self.usage))
        return out

    def _part(self, part, out):
        signature = part.get("thoughtSignature")
        if "functionCall" in part:
            fc = part["functionCall"] or {}
            start = ev.ToolStart(self.tools, fc.get("id") or new_id(CALL_ID), fc.get("name", ""), signature or None)
            args = arguments_string(fc.get("args"))
            self.output_chars += len(args)
            out += [start, ev.ToolArgs(self.tools, args), ev.BLOCK_END]
            self.tools += 1
            self.block = None
            return
        text = part.get("text")
        if not isinstance(text, str):
            return
        kind = "reasoning" if part.get("thought") else "text"
        if text:
            if self.block and self.block != kind:
                out.append(ev.BLOCK_END)
            self.output_chars += len(text)
            out.append(ev.Reasoning(text) if kind == "reasoning" else ev.Text(text))
            self.block = kind
        if signature:
            on = kind if text or self.block == kind else "text"
            out.append(ev.ThoughtSignature(signature, on))
            self.block = None  # a signature closes its part: what follows is a new one


def _stream_error(err):
    if not isinstance(err, dict):
        return UpstreamError(str(err) or "The upstream reported an error mid-stream", status=502)
    status = err.get("code") if isinstance(err.get("code"), int) and err.get("code") >= 400 else 502
    return UpstreamError(err.get("message") or "The upstream reported an error mid-stream", status=status,
                         upstream_type=err.get("status"))
