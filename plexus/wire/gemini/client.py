"""Google Gemini as a client API (`/v1beta/models/{alias}:generateContent`, `:streamGenerateContent`,
`:countTokens`, `GET /v1beta/models`): request checks and parsing, response and stream rendering
(SSE with `?alt=sse`, else one JSON array streamed element by element), Google's error shape, and
the fast path to `type: gemini` upstreams (body forwarded as sent, stream relayed chunk by chunk).

The alias is the `{model}` of the path; the body names no model. Field names are accepted in
camelCase and snake_case, as Google's REST API does.
"""

import re

import orjson

from ...core.errors import InvalidRequest
from .. import refusals
from ..sse import SSEDecoder
from ..stream import Renderer
from ...unified import events as ev, media, types as u
from ...unified.convert import arguments_object, arguments_string, new_id
from ...unified.tools import hosted
from ...unified.usage import Usage, estimate_tokens, from_gemini
from .schema import to_json_schema
from .tables import FINISH_TO_WIRE

STYLE = "gemini"
FAMILY = "gemini"
KEEPS_CONVERSATIONS = False
ROUTES = {
    "/v1beta/models": "models",
    "/v1beta/models/<path:alias>:<any(generateContent,streamGenerateContent):method>": "create",
    "/v1beta/models/<path:alias>:countTokens": "count_tokens",
}

# google.rpc status names by HTTP status (https://ai.google.dev/gemini-api/docs/troubleshooting)
STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
          409: "ABORTED", 413: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED", 499: "CANCELLED", 500: "INTERNAL",
          501: "UNIMPLEMENTED", 502: "UNAVAILABLE", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED", 529: "UNAVAILABLE"}
CRLF = b"\r\n"
GEMINI_FILES = "generativelanguage.googleapis.com/"  # a Files-API URI: a file only Gemini holds


def _get(d, camel):
    """A field by its camelCase name or its snake_case twin (protobuf JSON accepts both)."""
    if camel in d:
        return d[camel]
    return d.get(re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), camel))


# ---- checks and errors -----------------------------------------------------------------------------


def check_request(body, route=None, count_only=False):
    args = (route or {}).get("args") or {}
    alias = args.get("alias") or ""
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object")
    contents = body.get("contents")
    if count_only and contents is None:
        inner = _get(body, "generateContentRequest")
        contents = inner.get("contents") if isinstance(inner, dict) else []
    if not isinstance(contents, list) or (not contents and not count_only):
        raise InvalidRequest("* GenerateContentRequest.contents: contents is not specified")
    for i, c in enumerate(contents):
        if not isinstance(c, dict) or not isinstance(c.get("parts"), list):
            raise InvalidRequest(f"* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty")
        if c.get("role") not in (None, "", "user", "model", "function"):
            raise InvalidRequest(f"* GenerateContentRequest.contents[{i}].role: Please use a valid role: user, model.")
    return alias, (not count_only and args.get("method") == "streamGenerateContent")


def render_error(err, same_family=False):
    """(body bytes, status) in Google's shape: `{"error": {"code", "message", "status"}}`, the HTTP
    status kept. A Gemini upstream's own status name survives on the fast path."""
    upstream = getattr(err, "upstream_type", None) if same_family else None
    status = upstream if isinstance(upstream, str) and upstream.isupper() else STATUS.get(
        err.status, "INTERNAL" if err.status >= 500 else "INVALID_ARGUMENT")
    error = {"code": err.status, "message": err.message, "status": status}
    if err.kind == "authentication":
        error["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                             "domain": "googleapis.com"}]
    return orjson.dumps({"error": error}), err.status


def render_stream_error(err):
    body, _ = render_error(err)
    return b"data: " + body + CRLF + CRLF


def render_models(names, limits=None):
    """`limits`: name -> (context window, max output), as inputTokenLimit / outputTokenLimit where known."""
    methods = ["generateContent", "streamGenerateContent", "countTokens"]
    embedding = ["embedContent", "batchEmbedContents"]  # for names that map to an embedding alias
    kinds = {n: getattr(a, "kind", "chat") for n, a in names.items()} if isinstance(names, dict) else dict.fromkeys(names)
    return {"models": [{"name": f"models/{n}", "version": "plexus", "displayName": n,
                        "supportedGenerationMethods": embedding if kind == "embedding" else methods,
                        **_token_limits((limits or {}).get(n))}
                       for n, kind in kinds.items()]}


def _token_limits(limits):
    window, output = limits or (None, None)
    return {k: v for k, v in (("inputTokenLimit", window), ("outputTokenLimit", output)) if v}


def count_estimate(body):
    """`countTokens` for upstreams with no such endpoint: about four characters a token."""
    inner = _get(body, "generateContentRequest")
    source = inner if isinstance(inner, dict) else body
    chars = sum(len(orjson.dumps(source.get(k) or "")) for k in ("contents", "tools"))
    chars += len(orjson.dumps(_get(source, "systemInstruction") or ""))
    return {"totalTokens": estimate_tokens(chars)}


# ---- translation: client request -> unified ---------------------------------------------------------


def parse_request(body, route=None):
    alias, stream = check_request(body, route)
    req = u.new_request(alias, stream)
    system = _get(body, "systemInstruction")
    if isinstance(system, dict):
        req["system"] = [{"type": "text", "text": p["text"]} for p in system.get("parts") or ()
                         if isinstance(p, dict) and isinstance(p.get("text"), str) and p["text"]]
    elif isinstance(system, str) and system:
        req["system"] = [{"type": "text", "text": system}]
    _parse_contents(req, body["contents"])
    req["tools"], req["hosted_tools"] = _parse_tools(body.get("tools"))
    _parse_tool_config(req, _get(body, "toolConfig"))
    _parse_generation_config(req, _get(body, "generationConfig"))
    if _get(body, "cachedContent"):
        refusals.refuse("cachedContent", "a cached context held by Gemini", "gemini")
    req["stream_usage"] = True
    if stream:
        query = (route or {}).get("query") or {}
        req["stream_format"] = "sse" if query.get("alt") == "sse" else "json_array"
    return req


def _parse_contents(req, contents):
    """Gemini turns as unified messages. Calls get ids (Gemini's own when it sent one); each
    functionResponse is matched to a call of the turn before it by id, else by name in order."""
    pending = []  # calls of the last model turn not answered yet: [id, name, gemini id]
    for ci, content in enumerate(contents):
        parts = content["parts"]
        if content.get("role") == "model":
            out, pending = [], []
            for pi, part in enumerate(parts):
                p = _model_part(part, f"contents[{ci}].parts[{pi}]")
                if p is None:
                    continue
                if p["type"] == "tool_call":
                    fc_id = _get(part, "functionCall").get("id")
                    p["id"] = fc_id or f"call_{ci}_{pi}"
                    pending.append([p["id"], p["name"], fc_id])
                out.append(p)
            if out:
                req["messages"].append({"role": "assistant", "content": out})
            continue
        texts = []
        for pi, part in enumerate(parts):
            response = _get(part, "functionResponse") if isinstance(part, dict) else None
            if isinstance(response, dict):
                req["messages"].append({"role": "tool", "content": [_tool_result(response, pending)]})
            else:
                p = _user_part(part, f"contents[{ci}].parts[{pi}]")
                if p is not None:
                    texts.append(p)
        if texts:
            req["messages"].append({"role": "user", "content": texts})


def _tool_result(response, pending):
    fr_id, name = response.get("id"), response.get("name") or ""
    match = next((c for c in pending if fr_id and c[2] == fr_id), None)
    match = match or next((c for c in pending if c[1] == name), None)
    if match:
        pending.remove(match)
    call_id = match[0] if match else (fr_id or f"call_{name}")
    value = response.get("response")
    is_error = False
    if isinstance(value, dict) and "output" in value and len(value) == 1:
        value = value["output"]
    elif isinstance(value, dict) and "error" in value and "output" not in value:
        value, is_error = value["error"], True
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return {"type": "tool_result", "tool_call_id": call_id, "content": [{"type": "text", "text": text}],
            "is_error": is_error}


def _model_part(part, where):
    if not isinstance(part, dict):
        return None
    signature = _get(part, "thoughtSignature")
    fc = _get(part, "functionCall")
    if isinstance(fc, dict):
        p = {"type": "tool_call", "id": "", "name": fc.get("name") or "", "arguments": arguments_string(fc.get("args"))}
    elif isinstance(part.get("text"), str):
        p = {"type": "reasoning" if part.get("thought") else "text", "text": part["text"]}
    else:
        return _unsupported(part, where)
    if isinstance(signature, str) and signature:
        p["thought_signature"] = signature
    return p


def _user_part(part, where):
    if not isinstance(part, dict):
        return None
    if isinstance(part.get("text"), str):
        return {"type": "text", "text": part["text"]} if part["text"] else None
    blob = _get(part, "inlineData")
    if isinstance(blob, dict):
        mime, data = str(_get(blob, "mimeType") or ""), media.standard_b64(blob.get("data") or "")
        if mime.startswith("image/"):
            return {"type": "image", "media_type": mime, "data": data}
        if mime.startswith("audio/"):
            return {"type": "audio", "media_type": mime, "data": data}
        if mime in (media.PDF, media.TEXT):
            return media.document_from_data(data, mime)
    file = _get(part, "fileData")
    if isinstance(file, dict):
        mime, uri = str(_get(file, "mimeType") or "image/"), _get(file, "fileUri") or ""
        if GEMINI_FILES in uri or not uri.startswith(("http://", "https://")):
            media.refuse_file_id(f"* GenerateContentRequest.{where}.file_data")  # Files API or gs://: Google's own
        if mime.startswith("image/"):
            return {"type": "image", "url": uri}
        if mime == media.PDF:
            return {"type": "document", "media_type": mime, "url": uri}
    return _unsupported(part, where)


def _unsupported(part, where):
    kind = next((k for k in part if k not in ("thoughtSignature", "thought_signature", "thought")), "empty")
    raise InvalidRequest(f"* GenerateContentRequest.{where}: a '{kind}' part can only be sent to a Gemini provider "
                         "(images are translated; other media and code execution are not)")


# Gemini's built-in tools -> the capability other providers may have natively (plexus/wire/hosted.py)
HOSTED_KINDS = {"googleSearch": "web_search", "google_search": "web_search", "googleSearchRetrieval": "web_search",
                "google_search_retrieval": "web_search", "codeExecution": "code_execution", "code_execution": "code_execution"}


def _parse_tools(tools):
    """(function tools, hosted records): built-in tools (Google Search, code execution, ...) are
    placed by the provider, or dropped or refused."""
    out, hosted_tools = [], []
    for i, tool in enumerate(tools or ()):
        if not isinstance(tool, dict):
            continue
        decls = _get(tool, "functionDeclarations")
        hosted_tools += [hosted(HOSTED_KINDS.get(k), k, tool[k] if isinstance(tool[k], dict) else {})
                         for k in tool if k not in ("functionDeclarations", "function_declarations")]
        for d in decls or ():
            if not isinstance(d, dict) or not isinstance(d.get("name"), str):
                raise InvalidRequest(f"* GenerateContentRequest.tools[{i}].function_declarations: a name is required")
            params = _get(d, "parametersJsonSchema")
            if not isinstance(params, dict):
                params = to_json_schema(d.get("parameters")) if isinstance(d.get("parameters"), dict) else None
            out.append({"name": d["name"], "description": d.get("description"),
                        "parameters": params or {"type": "object", "properties": {}}})
    return out, hosted_tools


def _parse_tool_config(req, config):
    fcc = _get(config, "functionCallingConfig") if isinstance(config, dict) else None
    if not isinstance(fcc, dict):
        return
    mode = str(fcc.get("mode") or "AUTO").upper()
    names = _get(fcc, "allowedFunctionNames") or []
    if mode == "NONE":
        req["tool_choice"] = {"type": "none"}
    elif mode == "ANY" and len(names) == 1:
        req["tool_choice"] = {"type": "tool", "name": names[0]}
    elif mode == "ANY":
        req["tool_choice"] = {"type": "required"}
    else:
        req["tool_choice"] = {"type": "auto"}


def _parse_generation_config(req, gen):
    if not isinstance(gen, dict):
        return
    for key, name in (("max_tokens", "maxOutputTokens"), ("temperature", "temperature"), ("top_p", "topP"),
                      ("top_k", "topK"), ("seed", "seed")):
        value = _get(gen, name)
        if value is not None:
            req[key] = value
    stop = _get(gen, "stopSequences")
    req["stop"] = [s for s in stop if isinstance(s, str)] if isinstance(stop, list) else []
    if _get(gen, "responseMimeType") == "application/json":
        schema = _get(gen, "responseJsonSchema")
        if not isinstance(schema, dict) and isinstance(_get(gen, "responseSchema"), dict):
            schema = to_json_schema(_get(gen, "responseSchema"))
        req["response_format"] = media.json_schema(schema) if isinstance(schema, dict) else {"type": "json_object"}
    elif _get(gen, "responseMimeType") not in (None, "text/plain"):
        raise InvalidRequest(f"* GenerateContentRequest.generation_config.response_mime_type: "
                             f"'{_get(gen, 'responseMimeType')}' can only be served by a Gemini provider")
    count = _get(gen, "candidateCount")
    if isinstance(count, int) and count > 1:
        refusals.refuse("generationConfig.candidateCount", "more than one candidate", "gemini")
    refusals.check("gemini", gen, _get, "generationConfig.")
    modalities = _get(gen, "responseModalities")
    if isinstance(modalities, list) and any(str(m).upper() != "TEXT" for m in modalities):
        refusals.refuse("generationConfig.responseModalities", "output other than text", "gemini")
    for key, name in (("presence_penalty", "presencePenalty"), ("frequency_penalty", "frequencyPenalty")):
        if _get(gen, name) is not None:
            req[key] = _get(gen, name)
    thinking = _get(gen, "thinkingConfig")
    if isinstance(thinking, dict):
        budget, level = _get(thinking, "thinkingBudget"), _get(thinking, "thinkingLevel")
        if isinstance(budget, int) and budget > 0:
            req["reasoning"] = {"budget_tokens": budget}
        elif isinstance(level, str) and level.lower() in u.EFFORT_BUDGETS:
            req["reasoning"] = {"effort": level.lower()}
        elif budget == -1 or (budget is None and _get(thinking, "includeThoughts")):
            req["reasoning"] = {"effort": "medium"}  # dynamic thinking


# ---- translation: unified -> client response --------------------------------------------------------


def to_gemini_usage(usage):
    out = {"promptTokenCount": usage.prompt_tokens,
           "candidatesTokenCount": max(usage.output_tokens - usage.reasoning_tokens, 0),
           "totalTokenCount": usage.prompt_tokens + usage.output_tokens}
    if usage.cached_tokens:
        out["cachedContentTokenCount"] = usage.cached_tokens
    if usage.reasoning_tokens:
        out["thoughtsTokenCount"] = usage.reasoning_tokens
    return out


def render_response(resp, alias, request=None):
    parts = [p for p in (_part(c) for c in resp["content"]) if p is not None]
    candidate = {"content": {"role": "model", "parts": parts or [{"text": ""}]},
                 "finishReason": FINISH_TO_WIRE[resp["stop_reason"]], "index": 0}
    out = {"candidates": [candidate]}
    out["usageMetadata"] = to_gemini_usage(resp.get("usage") or Usage())
    out["modelVersion"] = alias
    out["responseId"] = resp["id"]
    return out


def _part(p):
    kind = p["type"]
    if kind == "text":
        part = {"text": p["text"]}
    elif kind == "reasoning":
        if p.get("redacted") or not p["text"]:
            return None
        part = {"text": p["text"], "thought": True}
    elif kind == "tool_call":
        part = {"functionCall": {"id": p["id"], "name": p["name"], "args": arguments_object(p["arguments"])}}
    else:
        return None
    if p.get("thought_signature"):
        part["thoughtSignature"] = p["thought_signature"]
    return part


class _Framing:
    """Gemini's two stream framings: SSE `data:` events ended by CRLF CRLF (`?alt=sse`), or one
    JSON array whose elements go out as they come: `[{...}\\r\\n,{...}\\r\\n]`."""

    def __init__(self, sse):
        self.sse = sse
        self.opened = False
        self.closed = False
        self.content_type = "text/event-stream" if sse else "application/json"

    def element(self, data):
        if self.sse:
            return b"data: " + data + CRLF + CRLF
        head = b"," if self.opened else b"["
        self.opened = True
        return head + data + CRLF

    def end(self):
        if self.sse or self.closed:
            return b""
        self.closed = True
        return (b"" if self.opened else b"[") + b"]"

    def error(self, err):
        body, _ = render_error(err, True)
        return self.element(body) + self.end()


class StreamRenderer(Renderer):
    """Unified events -> Gemini chunks, each a GenerateContentResponse holding only the new parts.
    A function call goes out whole once its arguments are complete; finishReason and usage come
    in the last chunk."""

    def __init__(self, alias, request):
        super().__init__()
        self.alias = alias
        self.framing = _Framing((request or {}).get("stream_format", "sse") != "json_array")
        self.id = new_id("plexus_")
        self.call = None  # the function call being gathered

    def render(self, event):
        kind = type(event)
        if kind is ev.Start:
            self.id = event.id or self.id
            return b""
        if kind is ev.Text:
            return self._flush() + self._chunk([{"text": event.text}])
        if kind is ev.Reasoning:
            return self._flush() + self._chunk([{"text": event.text, "thought": True}])
        if kind is ev.ThoughtSignature:
            part = {"text": "", "thoughtSignature": event.signature}
            if event.on == "reasoning":
                part["thought"] = True
            return self._flush() + self._chunk([part])
        if kind is ev.ToolStart:
            out = self._flush()
            self.call = {"index": event.index, "id": event.id, "name": event.name, "args": [],
                         "signature": event.thought_signature}
            return out
        if kind is ev.ToolArgs:
            if self.call and self.call["index"] == event.index:
                self.call["args"].append(event.delta)
            return b""
        if kind is ev.BlockEnd:
            return self._flush()
        return b""

    def render_failure(self, err):
        self.call = None
        return self.framing.error(err)

    def render_end(self):
        parts = self._call_parts() or [{"text": ""}]
        last = self._chunk(parts, FINISH_TO_WIRE[self.outcome.stop.reason], to_gemini_usage(self.outcome.usage or Usage()))
        return last + self.framing.end()

    @property
    def content_type(self):
        return self.framing.content_type

    def _flush(self):
        parts = self._call_parts()
        return self._chunk(parts) if parts else b""

    def _call_parts(self):
        if self.call is None:
            return []
        call, self.call = self.call, None
        part = {"functionCall": {"id": call["id"], "name": call["name"], "args": arguments_object("".join(call["args"]))}}
        if call["signature"]:
            part["thoughtSignature"] = call["signature"]
        return [part]

    def _chunk(self, parts, finish=None, usage=None):
        candidate = {"content": {"role": "model", "parts": parts}, "index": 0}
        if finish:
            candidate["finishReason"] = finish
        chunk = {"candidates": [candidate]}
        if usage:
            chunk["usageMetadata"] = usage
        chunk["modelVersion"] = self.alias
        chunk["responseId"] = self.id
        return self.framing.element(orjson.dumps(chunk))


# ---- fast path ----------------------------------------------------------------------------------------

_MODEL_VERSION = re.compile(rb'"modelVersion"\s*:\s*"(?:[^"\\]|\\.)*"')
_FINISH = re.compile(rb'"finishReason"\s*:\s*"([A-Z_]+)"')
_TEXT = re.compile(rb'"text"\s*:\s*"((?:[^"\\]|\\.)*)"')


def passthrough_request(body, upstream_model, stream, route=None):
    """The body as the client sent it (the model lives in the URL). A countTokens body wrapping a
    whole request names the model inside: that one is swapped. Relay options: the framing the
    client asked for (the upstream is always asked for SSE)."""
    inner = _get(body, "generateContentRequest")
    if isinstance(inner, dict) and "model" in inner:
        key = "generateContentRequest" if "generateContentRequest" in body else "generate_content_request"
        body = {**body, key: {**inner, "model": f"models/{upstream_model}"}}
    query = (route or {}).get("query") or {}
    return dict(body), {"sse": query.get("alt") == "sse"}


def relay_response(raw, alias, parsed=None):
    data = orjson.loads(raw) if parsed is None else parsed
    if isinstance(data, dict) and "modelVersion" in data:
        data["modelVersion"] = alias
    return orjson.dumps(data), data


def response_usage(data):
    candidates = data.get("candidates")
    first = candidates[0] if isinstance(candidates, list) and candidates and isinstance(candidates[0], dict) else {}
    reason = first.get("finishReason")
    if reason is None and (data.get("promptFeedback") or {}).get("blockReason"):
        reason = "BLOCKED"
    return from_gemini(data.get("usageMetadata")), reason


class StreamRelay:
    """Relays a Gemini SSE stream chunk by chunk in the framing the client asked for, with
    `modelVersion` set to the alias. Only the finish reason is looked for in each chunk; the last
    chunk that mentions usage is kept as bytes and parsed once, when the usage is read."""

    def __init__(self, alias, options=None):
        self.decoder = SSEDecoder()
        self.framing = _Framing(bool((options or {}).get("sse", True)))
        self.model_field = b'"modelVersion":' + orjson.dumps(alias)
        self.finish_reason = None
        self.errored = False
        self.chars = 0
        self._usage_raw = None
        self._usage = None

    final = None  # nothing to store for this style

    @property
    def content_type(self):
        return self.framing.content_type

    def feed(self, chunk):
        return b"".join(self._event(ev.data) for ev in self.decoder.feed(chunk))

    def _event(self, data):
        if self.errored:
            return b""
        if data.lstrip()[:9] in (b'{"error":', b'[{"error"'):
            self.errored = True
            return self.framing.element(data.strip().removeprefix(b"[").removesuffix(b"]")) + self.framing.end()
        if b'"usageMetadata"' in data:
            self._usage_raw, self._usage = data, None
        m = _FINISH.search(data)
        if m:
            self.finish_reason = m.group(1).decode()
        elif b'"blockReason"' in data and b'"candidates"' not in data:
            self.finish_reason = "BLOCKED"
        self.chars += sum(len(t) for t in _TEXT.findall(data))
        return self.framing.element(_MODEL_VERSION.sub(self.model_field, data, count=1))

    @property
    def usage(self):
        if self._usage is None and self._usage_raw is not None:
            try:
                self._usage = from_gemini(orjson.loads(self._usage_raw).get("usageMetadata"))
            except (orjson.JSONDecodeError, AttributeError):
                self._usage_raw = None
        return self._usage

    @property
    def output_chars(self):
        return self.chars

    def close(self):
        """(tail, complete): Gemini ends a stream by closing it, so it is complete when a finish
        reason (or an error) came."""
        tail = b"".join(self._event(ev.data) for ev in self.decoder.close())
        complete = self.errored or self.finish_reason is not None
        return tail + (self.framing.end() if complete else b""), complete

    def fail(self, err):
        self.errored = True
        return self.framing.error(err)
