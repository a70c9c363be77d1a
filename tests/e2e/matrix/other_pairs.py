"""The matrix's cells for the twelve pairs of client style ∈ {OpenAI chat SDK, Anthropic SDK, OpenAI
Responses SDK, google-genai} × upstream provider type ∈ {chat, messages, responses, gemini} that
core_pairs.py (OpenAI/Anthropic SDK × chat/messages) does not hold; the harness is
tests/e2e/test_matrix.py. As there, a cell scripts the upstream's answer in the upstream's own wire
format (Gemini: `alt=sse` with CRLF, whole function calls, usageMetadata; Responses: the whole event
sequence with sequence_number), calls with the client's SDK, then checks (a) what the client got, in
its own vocabulary (text, tool calls with their exact arguments, finish reason, usage converted by
README "Translation", reasoning) and (b) what the upstream received: the request each client wrote is
paired with an `Intent` (what it asks for, in neutral terms), and the body the upstream must receive
is built from that intent by one builder per provider type (`expect_chat`, `expect_messages`,
`expect_responses`, `expect_gemini`), after wire-formats.md §1-§5. Same-family pairs (Responses →
responses, Gemini → gemini) take the fast path: the upstream gets the client's own body.
"""

import base64
import json
from dataclasses import dataclass, field, replace
from types import SimpleNamespace

import anthropic
import openai
import pytest
import requests
from google.genai import errors as genai_errors
from google.genai import types as gt

from tests.e2e.matrix import CaseBook, Call, core_pairs
from tests.e2e.matrix.core_pairs import (CAT_URL, PNG, SIGNATURE, SYSTEM, TIME_SCHEMA, TOOLS_ANTHROPIC, TOOLS_OPENAI,
                               WEATHER_SCHEMA, check_chat_stream, check_message_stream)
from tests.support import gemini_wire as gw
from tests.support import wire
from tests.support.secrets import CLIENT_SECRET, PROVIDER_SECRET

CLIENTS = ("openai", "anthropic", "responses", "gemini")
UPSTREAMS = ("chat", "messages", "responses", "gemini")
PAIRS = {(c, u) for c in CLIENTS for u in UPSTREAMS} - core_pairs.PAIRS
FAMILY = {"openai": "chat", "anthropic": "messages", "responses": "responses", "gemini": "gemini"}

ALIAS = {u: f"to-{u}" for u in UPSTREAMS}
UP_MODEL = {"chat": "up-chat", "messages": "up-claude", "responses": "up-gpt", "gemini": "gemini-2.5-flash"}

CHAT_FINISH = {"stop": "stop", "tool_calls": "tool_calls", "length": "length", "content_filter": "content_filter"}
ANTHROPIC_STOP = {"stop": "end_turn", "tool_calls": "tool_use", "length": "max_tokens", "content_filter": "refusal"}
GEMINI_FINISH = {"stop": "STOP", "tool_calls": "STOP", "length": "MAX_TOKENS", "content_filter": "SAFETY"}
INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}  # Responses' reasons
EFFORT_BUDGET = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 24576}  # README "Translation"

SKIP_SIGNATURE = "skip_thought_signature_validator"  # Google's placeholder (README "Gemini")
THOUGHT_SIGNATURE = base64.b64encode(b"opaque-thought-state-0001").decode()  # canonical base64, as the SDK wants
ENCRYPTED = "gAAAAABfakeEncryptedReasoning=="
RESULT_A = '{"temp_c":18,"sky":"sunny"}'  # a JSON-object tool result (Gemini takes it as the response object)
RESULT_B = "14:05"  # a plain one (Gemini wants it under "output")
WEATHER_ARGS, TIME_ARGS = {"city": "Paris"}, {"timezone": "Europe/Paris"}
TOOLS_RESPONSES = [{"type": "function", "name": t["function"]["name"], "description": t["function"]["description"],
                    "parameters": t["function"]["parameters"], "strict": False} for t in TOOLS_OPENAI]


BOOK = CaseBook()
case = BOOK.case


# ---- the answer a cell scripts, in neutral terms -------------------------------------------------------


@dataclass
class Usage:
    prompt: int  # the whole prompt, cached and cache-written tokens included
    cached: int
    output: int  # reasoning included
    reasoning: int = 0  # 0 for a messages upstream, which does not break it out
    write: int = 0  # Anthropic's cache_creation_input_tokens; the other providers have none


@dataclass
class Answer:
    text: str = ""
    thinking: str = ""
    calls: tuple = ()
    stop: str = "stop"  # stop | tool_calls | length | content_filter
    usage: Usage = field(default_factory=lambda: Usage(30, 10, 7))
    signed_call: bool = False  # Gemini puts a thoughtSignature on the first call of the step


# ---- what a client asks for, in neutral terms, and the body each provider type must receive ---------------


def T(text):
    return ("text", text)


def IMG(mime, data):
    return ("image", mime, data)


def URL(url):
    return ("url", url)


def C(id, name, args):
    return ("call", id, name, args)


def U(*parts):
    return ("user", list(parts))


def A(*parts):
    return ("assistant", list(parts))


def R(call_id, text):
    return ("tool", call_id, text)


@dataclass
class Intent:
    turns: list
    system: str | None = None
    tools: bool = False
    tool_choice: object = None  # "auto" | "none" | "required" | ("tool", name)
    parallel: bool | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_k: int | None = None
    stop: list = field(default_factory=list)
    user: str | None = None
    reasoning: dict | None = None  # {"effort": e} | {"budget": n}
    stream: bool = False


def budget_of(reasoning):
    return reasoning.get("budget") or EFFORT_BUDGET[reasoning["effort"]]


def effort_of(reasoning):
    if reasoning.get("effort"):
        return reasoning["effort"]
    b = reasoning["budget"]
    return "low" if b <= 2048 else "medium" if b <= 8192 else "high"


def image_url(part):
    """An image part as OpenAI-style APIs carry it: a data URL for base64, else the URL itself."""
    return f"data:{part[1]};base64,{part[2]}" if part[0] == "image" else part[1]


def call_names(intent):
    return {p[1]: p[2] for role, *rest in intent.turns if role == "assistant" for p in rest[0] if p[0] == "call"}


def expect_chat(i):
    """wire-formats.md §1: system first as a `system` message, tool results as `tool` messages,
    arguments as JSON strings (normalised to objects for the comparison), images as `image_url`."""
    messages = [{"role": "system", "content": i.system}] if i.system else []
    for role, *rest in i.turns:
        if role == "user":
            parts = rest[0]
            if len(parts) == 1 and parts[0][0] == "text":
                content = parts[0][1]
            else:
                content = [{"type": "text", "text": p[1]} if p[0] == "text" else
                           {"type": "image_url", "image_url": {"url": image_url(p)}} for p in parts]
            messages.append({"role": "user", "content": content})
        elif role == "assistant":
            parts = rest[0]
            msg = {"role": "assistant", "content": "".join(p[1] for p in parts if p[0] == "text") or None}
            calls = [p for p in parts if p[0] == "call"]
            if calls:
                msg["tool_calls"] = [{"id": c[1], "type": "function", "function": {"name": c[2], "arguments": c[3]}}
                                     for c in calls]
            messages.append(msg)
        else:
            messages.append({"role": "tool", "tool_call_id": rest[0], "content": rest[1]})
    body = {"model": UP_MODEL["chat"], "messages": messages}
    if i.tools:
        body["tools"] = TOOLS_OPENAI
    if i.tool_choice:
        body["tool_choice"] = ({"type": "function", "function": {"name": i.tool_choice[1]}}
                               if isinstance(i.tool_choice, tuple) else i.tool_choice)
    if i.parallel is not None and i.tools:
        body["parallel_tool_calls"] = i.parallel
    for key in ("max_tokens", "temperature", "user"):
        if getattr(i, key) is not None:
            body[key] = getattr(i, key)
    if i.stop:
        body["stop"] = i.stop
    if i.reasoning:
        body["reasoning_effort"] = effort_of(i.reasoning)
    if i.stream:
        body.update(stream=True, stream_options={"include_usage": True})
    return body


def expect_messages(i):
    """wire-formats.md §2: top-level `system` blocks, alternating turns, tool results first in the
    next user turn, `input` objects, `max_tokens` always (README: 4096 when the client gave none),
    thinking as `{"type": "enabled", "budget_tokens"}` without temperature/top_k."""
    turns = []
    for role, *rest in i.turns:
        if role == "tool":
            block = {"type": "tool_result", "tool_use_id": rest[0], "content": [{"type": "text", "text": rest[1]}]}
            if turns and turns[-1]["role"] == "user":
                at = sum(1 for b in turns[-1]["content"] if b["type"] == "tool_result")
                turns[-1]["content"].insert(at, block)
            else:
                turns.append({"role": "user", "content": [block]})
            continue
        blocks = []
        for p in rest[0]:
            if p[0] == "text":
                blocks.append({"type": "text", "text": p[1]})
            elif p[0] == "image":
                blocks.append({"type": "image", "source": {"type": "base64", "media_type": p[1], "data": p[2]}})
            elif p[0] == "url":
                blocks.append({"type": "image", "source": {"type": "url", "url": p[1]}})
            else:
                blocks.append({"type": "tool_use", "id": p[1], "name": p[2], "input": json.loads(p[3])})
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    body = {"model": UP_MODEL["messages"], "max_tokens": i.max_tokens or 4096, "messages": turns}
    if i.system:
        body["system"] = [{"type": "text", "text": i.system}]
    if i.tools:
        body["tools"] = TOOLS_ANTHROPIC
    choice = None
    if i.tool_choice:
        choice = ({"type": "tool", "name": i.tool_choice[1]} if isinstance(i.tool_choice, tuple) else
                  {"type": {"auto": "auto", "none": "none", "required": "any"}[i.tool_choice]})
    if i.parallel is False and i.tools:
        choice = choice or {"type": "auto"}
        if choice["type"] != "none":
            choice["disable_parallel_tool_use"] = True
    if choice:
        body["tool_choice"] = choice
    for key in ("temperature", "top_k"):
        if getattr(i, key) is not None:
            body[key] = getattr(i, key)
    if i.stop:
        body["stop_sequences"] = i.stop
    if i.user:
        body["metadata"] = {"user_id": i.user}
    if i.reasoning:
        body["thinking"] = {"type": "enabled", "budget_tokens": budget_of(i.reasoning)}
        body.pop("temperature", None), body.pop("top_k", None)
    if i.stream:
        body["stream"] = True
    return body


def expect_responses(i):
    """wire-formats.md §3: `instructions`, input items (`message` with input_text/input_image parts,
    `function_call`, `function_call_output`), flat function tools, `max_output_tokens`, no stop
    parameter; README: upstream Responses calls are made with `store: false`."""
    items = []
    for role, *rest in i.turns:
        if role == "tool":
            items.append({"type": "function_call_output", "call_id": rest[0], "output": rest[1]})
        elif role == "user":
            items.append({"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": p[1]} if p[0] == "text" else
                {"type": "input_image", "image_url": image_url(p), "detail": "auto"} for p in rest[0]]})
        else:
            for p in rest[0]:
                if p[0] == "text":
                    items.append({"type": "message", "role": "assistant",
                                  "content": [{"type": "output_text", "text": p[1], "annotations": []}]})
                else:
                    items.append({"type": "function_call", "call_id": p[1], "name": p[2], "arguments": p[3]})
    body = {"model": UP_MODEL["responses"], "input": items, "store": False}
    if i.system:
        body["instructions"] = i.system
    if i.tools:
        body["tools"] = TOOLS_RESPONSES
    if i.tool_choice:
        body["tool_choice"] = ({"type": "function", "name": i.tool_choice[1]} if isinstance(i.tool_choice, tuple)
                               else i.tool_choice)
    if i.parallel is not None and i.tools:
        body["parallel_tool_calls"] = i.parallel
    if i.max_tokens is not None:
        body["max_output_tokens"] = i.max_tokens
    for key in ("temperature", "user"):
        if getattr(i, key) is not None:
            body[key] = getattr(i, key)
    if i.reasoning:
        body["reasoning"] = {"effort": effort_of(i.reasoning), "summary": "auto"}
        body["include"] = ["reasoning.encrypted_content"]
    if i.stream:
        body["stream"] = True
    return body


def expect_gemini(i):
    """wire-formats.md §4: `user`/`model` turns, `systemInstruction`, images inline (a URL as
    `fileData`), tool results as `functionResponse` parts of one user turn named after their calls
    (an object as is, a string under `output`), `functionDeclarations`, `toolConfig`,
    `generationConfig` (thinking as `thinkingBudget` + `includeThoughts`). The first call of a
    model step in the current turn carries a signature: Google's placeholder for foreign history."""
    names = call_names(i)
    contents = []
    for role, *rest in i.turns:
        if role == "tool":
            try:
                value = json.loads(rest[1])
            except ValueError:
                value = rest[1]
            part = {"functionResponse": {"name": names[rest[0]],
                                         "response": value if isinstance(value, dict) else {"output": value}}}
            role, parts = "user", [part]
        else:
            parts = []
            for p in rest[0]:
                if p[0] == "text":
                    parts.append({"text": p[1]})
                elif p[0] == "image":
                    parts.append({"inlineData": {"mimeType": p[1], "data": p[2]}})
                elif p[0] == "url":
                    parts.append({"fileData": {"mimeType": "image/jpeg", "fileUri": p[1]}})
                else:
                    parts.append({"functionCall": {"name": p[2], "args": json.loads(p[3])}})
            role = "model" if role == "assistant" else "user"
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})
    start = max((n + 1 for n, c in enumerate(contents)
                 if c["role"] == "user" and any("functionResponse" not in p for p in c["parts"])), default=0)
    for c in contents[start:]:
        calls = [p for p in c["parts"] if "functionCall" in p]
        if c["role"] == "model" and calls:
            calls[0]["thoughtSignature"] = SKIP_SIGNATURE
    body = {"contents": contents}
    if i.system:
        body["systemInstruction"] = {"parts": [{"text": i.system}]}
    if i.tools:
        body["tools"] = [{"functionDeclarations": [
            {"name": t["name"], "description": t["description"], "parameters": t["input_schema"]}
            for t in TOOLS_ANTHROPIC]}]
    if i.tool_choice:
        kind = "tool" if isinstance(i.tool_choice, tuple) else i.tool_choice
        config = {"mode": {"auto": "AUTO", "none": "NONE", "required": "ANY", "tool": "ANY"}[kind]}
        if kind == "tool":
            config["allowedFunctionNames"] = [i.tool_choice[1]]
        body["toolConfig"] = {"functionCallingConfig": config}
    gen = {}
    for key, name in (("max_tokens", "maxOutputTokens"), ("temperature", "temperature"), ("top_k", "topK")):
        if getattr(i, key) is not None:
            gen[name] = getattr(i, key)
    if i.stop:
        gen["stopSequences"] = i.stop
    if i.reasoning:
        gen["thinkingConfig"] = {"thinkingBudget": budget_of(i.reasoning), "includeThoughts": True}
    if gen:
        body["generationConfig"] = gen
    return body


EXPECT = {"chat": expect_chat, "messages": expect_messages, "responses": expect_responses, "gemini": expect_gemini}


def normalised(body):
    """A chat/responses body with every tool-call `arguments` string parsed, so equal JSON compares equal."""
    body = json.loads(json.dumps(body))
    for m in body.get("messages") or ():
        for c in m.get("tool_calls") or ():
            c["function"]["arguments"] = json.loads(c["function"]["arguments"])
    for item in body.get("input") if isinstance(body.get("input"), list) else ():
        if item.get("type") == "function_call":
            item["arguments"] = json.loads(item["arguments"])
    return body


# ---- one cell --------------------------------------------------------------------------------------


class Cell:
    """One (client, upstream) cell: scripting in the upstream's format, and the checks every request to it gets."""

    def __init__(self, client, upstream, fake, sdks):
        self.client, self.upstream, self.fake = client, upstream, fake
        self.oa, self.an, self.gm, self.capture, self.url = sdks.oa, sdks.an, sdks.gm, sdks.capture, sdks.url
        self.alias, self.up_model = ALIAS[upstream], UP_MODEL[upstream]
        self.fast = FAMILY[client] == upstream

    def call_id(self, call, index):
        """The id the client sees for a call: the upstream's, or one the gateway makes up for a
        Gemini upstream, which sends none (README "Gemini"; on the fast path there is none at all)."""
        if self.upstream == "gemini":
            return None if self.fast else gw.MINTED_ID
        return ("toolu_" if self.upstream == "messages" else "call_") + call.suffix

    def usage(self, prompt, cached, output, reasoning=0, write=0):
        return Usage(prompt, cached, output, 0 if self.upstream == "messages" else reasoning,
                     write if self.upstream == "messages" else 0)

    # ---- scripting ----------------------------------------------------------------------------------

    def script(self, answer, stream=False):
        """Queue `answer` in the upstream's wire format; returns the body or the events sent."""
        payload = getattr(self, "_script_" + self.upstream)(answer, stream, answer.usage)
        self.fake.reply(**({"events": payload} if stream else {"body": payload}))
        return payload

    def _script_chat(self, a, stream, u):
        calls = [("call_" + c.suffix, c.name, c.input) for c in a.calls]
        usage = wire.chat_usage(u.prompt, u.output, cached=u.cached, reasoning=u.reasoning)
        if stream:
            return wire.chat_stream_full(self.up_model, wire.split(a.text), calls, wire.split(a.thinking),
                                         CHAT_FINISH[a.stop], usage)
        return wire.chat_completion_full(self.up_model, a.text or None, calls, a.thinking or None, CHAT_FINISH[a.stop],
                                         usage)

    def _script_messages(self, a, stream, u):
        blocks = ([wire.thinking_block(a.thinking, SIGNATURE)] if a.thinking else []) + \
                 ([wire.text_block(a.text)] if a.text else []) + \
                 [wire.tool_use_block("toolu_" + c.suffix, c.name, c.input) for c in a.calls]
        usage = wire.anthropic_usage(u.prompt - u.cached - u.write, u.output, u.cached, u.write)
        build = wire.anthropic_stream if stream else wire.anthropic_message
        return build(self.up_model, blocks, ANTHROPIC_STOP[a.stop], usage)

    def _script_responses(self, a, stream, u):
        items = ([wire.responses_reasoning_item(a.thinking, "rs_up1", ENCRYPTED)] if a.thinking else []) + \
                ([wire.responses_message_item(a.text, "msg_up1", "incomplete" if a.stop in INCOMPLETE else "completed")]
                 if a.text else []) + \
                [wire.responses_function_call_item("call_" + c.suffix, c.name, c.input, "fc_" + c.suffix)
                 for c in a.calls]
        usage = wire.responses_usage(u.prompt, u.output, u.cached, u.reasoning)
        status = "incomplete" if a.stop in INCOMPLETE else "completed"
        build = wire.responses_stream if stream else wire.responses_response
        return build(self.up_model, items, usage, status, INCOMPLETE.get(a.stop), id="resp_up1")

    def _script_gemini(self, a, stream, u):
        calls = [gw.call(c.name, c.input, THOUGHT_SIGNATURE if a.signed_call and n == 0 else None)
                 for n, c in enumerate(a.calls)]
        usage = gw.usage(u.prompt, u.output - u.reasoning, u.reasoning, u.cached)
        finish = GEMINI_FINISH[a.stop]
        if stream:
            pieces = [gw.text(p, thought=True) for p in wire.split(a.thinking)] + wire.split(a.text)
            return gw.stream(pieces, calls, finish, usage, model="gemini-2.5-flash-001")
        parts = ([gw.text(a.thinking, thought=True)] if a.thinking else []) + ([gw.text(a.text)] if a.text else [])
        return gw.response(parts + calls, finish, usage, model="gemini-2.5-flash-001")

    def script_error(self, status, message):
        if self.upstream in ("chat", "responses"):
            kind, code = ("requests", "rate_limit_exceeded") if status == 429 else ("server_error", None)
            body = wire.openai_error(status, message, kind, code)
        elif self.upstream == "messages":
            body = wire.anthropic_error(status, None, message)
        else:
            body = gw.error({429: "RESOURCE_EXHAUSTED", 500: "INTERNAL"}[status], message)
        # a rate limit says when to come back; the client must hear it (README "Behaviour worth knowing")
        self.fake.reply(status=status, body=body, headers={"retry-after": "7"} if status == 429 else {})

    def check_error_headers(self, status, headers):
        assert headers.get("retry-after") == ("7" if status == 429 else None), dict(headers)

    # ---- what the upstream received ----------------------------------------------------------------------

    def sent(self, stream=False):
        """The last upstream request's body, after the checks every request must pass: path, model,
        the provider's own auth (never the client's key)."""
        seen = self.fake.last
        headers = seen.headers
        assert not [k for k, v in headers.items() if CLIENT_SECRET in v], "the client's key reached the upstream"
        if self.upstream == "gemini":
            method = "streamGenerateContent?alt=sse" if stream else "generateContent"
            assert seen.path == f"/v1beta/models/{self.up_model}:{method}"
            assert headers.get("x-goog-api-key") == PROVIDER_SECRET and "authorization" not in headers
            assert "model" not in seen.body  # the model is in the path
        else:
            path = {"chat": "/v1/chat/completions", "messages": "/v1/messages", "responses": "/v1/responses"}
            assert seen.path.split("?")[0] == path[self.upstream]
            assert seen.body["model"] == self.up_model
            if self.upstream == "messages":
                assert headers.get("x-api-key") == PROVIDER_SECRET and headers.get("anthropic-version") == "2023-06-01"
            else:
                assert headers.get("authorization") == f"Bearer {PROVIDER_SECRET}"
        if self.upstream != "messages":
            assert not [k for k in headers if k.startswith("anthropic-")], headers
        return seen.body

    def check_sent(self, intent):
        """The upstream got what `intent` becomes in its format; on the fast path, the client's own body."""
        body = self.sent(intent.stream)
        if self.fast:
            sdk = self.capture.last
            assert sdk.body.get("model") == self.alias or sdk.url.path.startswith(f"/v1beta/models/{self.alias}:")
            expected = dict(sdk.body)
            if self.upstream == "responses":
                expected["model"] = self.up_model  # the fast path forwards the client's body, its `store` included
            assert body == expected
            return body
        expected = EXPECT[self.upstream](intent)
        if self.upstream == "messages" and intent.reasoning:
            # Anthropic wants max_tokens above the thinking budget (§2); how far above is the gateway's choice
            assert body["max_tokens"] > budget_of(intent.reasoning) and body["max_tokens"] >= expected["max_tokens"]
            expected["max_tokens"] = body["max_tokens"]
        assert normalised(body) == normalised(expected)
        return body

    # ---- the client's view --------------------------------------------------------------------------

    def check_usage(self, got, u):
        """Usage as the client's API counts it (README "Translation", wire-formats.md §5 "Usage")."""
        got = got if isinstance(got, dict) else got.model_dump(by_alias=self.client == "gemini")
        if self.client == "openai":
            assert (got["prompt_tokens"], got["completion_tokens"], got["total_tokens"]) == \
                   (u.prompt, u.output, u.prompt + u.output)
            assert (got.get("prompt_tokens_details") or {}).get("cached_tokens", 0) == u.cached
            assert (got.get("completion_tokens_details") or {}).get("reasoning_tokens", 0) == u.reasoning
        elif self.client == "anthropic":
            assert got["input_tokens"] == u.prompt - u.cached - u.write
            assert got["cache_read_input_tokens"] == u.cached
            assert (got.get("cache_creation_input_tokens") or 0) == u.write
            assert got["output_tokens"] == u.output
        elif self.client == "responses":
            assert (got["input_tokens"], got["output_tokens"], got["total_tokens"]) == \
                   (u.prompt, u.output, u.prompt + u.output)
            assert got["input_tokens_details"]["cached_tokens"] == u.cached
            assert got["output_tokens_details"]["reasoning_tokens"] == u.reasoning
        else:
            got = {k: v for k, v in got.items() if v is not None}
            assert got["promptTokenCount"] == u.prompt
            assert got.get("cachedContentTokenCount", 0) == u.cached
            assert got.get("candidatesTokenCount", 0) == u.output - u.reasoning  # excludes thoughts (§4)
            assert got.get("thoughtsTokenCount", 0) == u.reasoning
            assert got["totalTokenCount"] == u.prompt + u.output


# ---- streams read raw (the other two styles' checks are core_pairs.py's) ----------------------------


LIFECYCLE = ("response.created", "response.in_progress")
TERMINAL = ("response.completed", "response.incomplete", "response.failed")


def check_responses_stream(raw, alias):
    """The grammar of a Responses stream (wire-formats.md §3): every event named by an `event:` line
    equal to its type, `sequence_number` 0, 1, 2, ...; response.created, response.in_progress, then
    each output item at output_index 0, 1, ... from output_item.added to output_item.done, with its
    own events in order (message: content part + text deltas; function_call: argument deltas;
    reasoning: summary part + summary deltas), the deltas adding up to the done values; then one
    terminal event whose output is exactly the items done. No `[DONE]`."""
    events = []
    for name, data in wire.parse_sse(raw):
        obj = json.loads(data)
        assert name == obj["type"], (name, obj)
        events.append(obj)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert [e["type"] for e in events[:2]] == list(LIFECYCLE)
    for e in events[:2]:
        r = e["response"]
        assert (r["object"], r["status"], r["model"], r["output"]) == ("response", "in_progress", alias, [])
        assert r["id"] == events[0]["response"]["id"] and r["id"].startswith("resp_")
    terminal = events[-1]
    assert terminal["type"] in TERMINAL[:2], terminal
    assert not [e for e in events[:-1] if e["type"] in TERMINAL]
    items, pos = [], 2
    while pos < len(events) - 1:
        added = events[pos]
        assert added["type"] == "response.output_item.added" and added["output_index"] == len(items), added
        item, index = added["item"], added["output_index"]
        at = {"item_id": item["id"], "output_index": index}
        seq = []
        pos += 1
        while events[pos]["type"] != "response.output_item.done":
            e = events[pos]
            assert {k: e[k] for k in at} == at, e
            seq.append(e)
            pos += 1
        done = events[pos]
        pos += 1
        assert done["output_index"] == index
        assert (done["item"]["id"], done["item"]["type"]) == (item["id"], item["type"])
        kinds = [e["type"].removeprefix("response.") for e in seq]
        if item["type"] == "message":
            assert item["status"] == "in_progress" and item["content"] == []
            n = len(kinds) - 3
            assert kinds == ["content_part.added"] + ["output_text.delta"] * n + \
                   ["output_text.done", "content_part.done"], kinds
            text = "".join(e["delta"] for e in seq[1:-2])
            assert seq[0]["part"]["text"] == "" and seq[-2]["text"] == text and seq[-1]["part"]["text"] == text
            assert [c["text"] for c in done["item"]["content"]] == [text]
        elif item["type"] == "function_call":
            assert item["arguments"] == "" and item["call_id"] and item["name"]
            n = len(kinds) - 1
            assert kinds == ["function_call_arguments.delta"] * n + ["function_call_arguments.done"], kinds
            args = "".join(e["delta"] for e in seq[:-1])
            assert seq[-1]["arguments"] == args and done["item"]["arguments"] == args
            assert (done["item"]["call_id"], done["item"]["name"]) == (item["call_id"], item["name"])
        else:
            assert item["type"] == "reasoning" and item["summary"] == []
            n = len(kinds) - 3
            assert kinds == ["reasoning_summary_part.added"] + ["reasoning_summary_text.delta"] * n + \
                   ["reasoning_summary_text.done", "reasoning_summary_part.done"], kinds
            text = "".join(e["delta"] for e in seq[1:-2])
            assert seq[-2]["text"] == text and [s["text"] for s in done["item"]["summary"]] == [text]
        items.append(done["item"])
    final = terminal["response"]
    assert final["id"] == events[0]["response"]["id"] and final["model"] == alias
    assert final["output"] == items
    return SimpleNamespace(events=events, final=final, items=items)


def check_gemini_stream(raw, alias):
    """Gemini `alt=sse` as Google frames it (wire-formats.md §4): `data:` lines ended by CRLF CRLF,
    each chunk a GenerateContentResponse with the new parts only, the finish reason on the last chunk
    alone, with the final usage; function calls whole. Returns the parts merged into runs."""
    chunks = gw.sse_chunks(raw)
    assert chunks
    parts = []
    for n, c in enumerate(chunks):
        assert c["modelVersion"] == alias and c["responseId"] == chunks[0]["responseId"]
        [cand] = c["candidates"]
        assert cand["content"]["role"] == "model"
        assert ("finishReason" in cand) == (n == len(chunks) - 1), c
        for p in cand["content"]["parts"]:
            if "text" in p and not p["text"] and set(p) <= {"text"}:
                continue  # an empty text part carries nothing
            prev = parts[-1] if parts else None
            if prev and "text" in p and "text" in prev and prev.get("thought") == p.get("thought") \
                    and "thoughtSignature" not in prev and "thoughtSignature" not in p:
                prev["text"] += p["text"]
            else:
                parts.append(dict(p))
    last = chunks[-1]
    return SimpleNamespace(chunks=chunks, parts=parts, finish=last["candidates"][0]["finishReason"],
                           usage=last["usageMetadata"])


def without_ids(obj, keys=("id", "created_at", "parsed", "parsed_arguments")):
    """A response's dump without what differs between two answers the gateway renders (the ids it
    mints, the creation time) and the SDK's parse-helper fields."""
    if isinstance(obj, dict):
        return {k: without_ids(v, keys) for k, v in obj.items() if k not in keys}
    if isinstance(obj, list):
        return [without_ids(v, keys) for v in obj]
    return obj


# ---- the scenarios' answers, the same for every client ------------------------------------------------------


def text_answer(m, text="Hello there."):
    return Answer(text=text, usage=m.usage(30, 10, 7, write=5))


def tools_answer(m):
    return Answer(text="Checking.", calls=(Call("01A", "get_weather", {"city": "Paris", "units": "metric"}),),
                  stop="tool_calls", usage=m.usage(120, 100, 20))


def parallel_answer(m):
    """Two parallel calls; from Gemini the first carries a thought signature, as with thinking models."""
    calls = (Call("01A", "get_weather", WEATHER_ARGS), Call("01B", "get_time", TIME_ARGS))
    return Answer(text="Checking both.", calls=calls, stop="tool_calls", usage=m.usage(150, 0, 40), signed_call=True)


def refusal_answer(m):
    return Answer(text="I can’t share that.", stop="content_filter", usage=m.usage(200, 0, 12))


def truncated_answer(m):
    return Answer(text="A cat sitting on", stop="length", usage=m.usage(900, 0, 5))


def thinking_answer(m):
    return Answer(thinking="Six times seven is forty-two.", text="42.", usage=m.usage(40, 0, 60, reasoning=25))


def history_intent(call_a, call_b, **kw):
    """The tool-result turn every client sends: a question, the assistant's text and two calls, both results."""
    return Intent([U(T("Weather and time in Paris?")),
                   A(T("Checking both."), C(call_a, "get_weather", json.dumps(WEATHER_ARGS)),
                     C(call_b, "get_time", json.dumps(TIME_ARGS))),
                   R(call_a, RESULT_A), R(call_b, RESULT_B)], tools=True, tool_choice="auto", **kw)


RATE_LIMITED = "Rate limit reached for requests per minute. Try again in 7s."
SERVER_ERROR = "The upstream had an error while processing your request."


# ---- OpenAI chat SDK as the client (to responses and gemini upstreams) ----------------------------------------


def openai_stream(m, include_usage, **req):
    with m.oa.chat.completions.with_streaming_response.create(stream=True, **req) as resp:
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
        raw = b"".join(resp.iter_bytes())
    return check_chat_stream(raw, m.alias, include_usage)


def check_openai_calls(m, calls, answer):
    """`calls`: (id, name, arguments string, extra_content) per call, in order."""
    expected = [(m.call_id(c, n), c.name, c.input) for n, c in enumerate(answer.calls)]
    assert [(i, name, json.loads(args)) for i, name, args, _ in calls] == expected
    # Gemini's signature rides on the call it came with (README "Gemini"), nowhere else
    signed = m.upstream == "gemini" and answer.signed_call
    extras = [extra for *_, extra in calls]
    assert extras == [{"google": {"thought_signature": THOUGHT_SIGNATURE}} if signed and n == 0 else None
                      for n in range(len(calls))]


@case("openai", "text")
def openai_text(m):
    req = dict(model=m.alias, messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": "Say hello"}],
               temperature=0.2, stop=["END"], user="u-42")
    answer = text_answer(m)
    m.script(answer)
    res = m.oa.chat.completions.create(**req)
    assert res.model == m.alias and res.object == "chat.completion" and len(res.choices) == 1
    choice = res.choices[0]
    assert (choice.message.role, choice.message.content, choice.finish_reason) == ("assistant", "Hello there.", "stop")
    assert not choice.message.tool_calls and not (choice.message.model_extra or {}).get("reasoning_content")
    m.check_usage(res.usage, answer.usage)
    m.check_sent(Intent([U(T("Say hello"))], system=SYSTEM, temperature=0.2, stop=["END"], user="u-42"))


@case("openai", "streamed_text")
def openai_streamed_text(m):
    req = dict(model=m.alias, messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": "Say hello"}],
               stop="END", stream_options={"include_usage": True})
    answer = text_answer(m, "Hello there, friend.")
    m.script(answer, stream=True)
    got = openai_stream(m, True, **req)
    assert (got.content, got.finish, got.calls, got.reasoning) == ("Hello there, friend.", "stop", {}, "")
    m.check_usage(got.usage, answer.usage)
    m.check_sent(Intent([U(T("Say hello"))], system=SYSTEM, stop=["END"], stream=True))


@case("openai", "tools")
def openai_tools(m):
    req = dict(model=m.alias, messages=[{"role": "developer", "content": "Use the tools."},
                                        {"role": "user", "content": "Weather in Paris?"}],
               tools=TOOLS_OPENAI, tool_choice={"type": "function", "function": {"name": "get_weather"}},
               parallel_tool_calls=False, max_completion_tokens=500)
    answer = tools_answer(m)
    m.script(answer)
    res = m.oa.chat.completions.create(**req)
    msg = res.choices[0].message
    assert res.model == m.alias and res.choices[0].finish_reason == "tool_calls" and msg.content == "Checking."
    assert all(c.type == "function" for c in msg.tool_calls)
    check_openai_calls(m, [(c.id, c.function.name, c.function.arguments, (c.model_extra or {}).get("extra_content"))
                           for c in msg.tool_calls], answer)
    m.check_usage(res.usage, answer.usage)
    m.check_sent(Intent([U(T("Weather in Paris?"))], system="Use the tools.", tools=True,
                        tool_choice=("tool", "get_weather"), parallel=False, max_tokens=500))


@case("openai", "streamed_tools")
def openai_streamed_tools(m):
    req = dict(model=m.alias, messages=[{"role": "user", "content": "Weather and time in Paris?"}], tools=TOOLS_OPENAI,
               tool_choice="required")
    answer = parallel_answer(m)
    m.script(answer, stream=True)
    got = openai_stream(m, False, **req)
    assert got.content == "Checking both." and got.finish == "tool_calls" and sorted(got.calls) == [0, 1]
    firsts = {}  # each call's first fragment (the one with the id), where an extra_content may ride
    for chunk in got.chunks:
        for item in (chunk["choices"][0]["delta"].get("tool_calls") or ()) if chunk["choices"] else ():
            firsts.setdefault(item["index"], item)
    check_openai_calls(m, [(got.calls[n]["id"], got.calls[n]["name"], got.calls[n]["arguments"],
                            firsts[n].get("extra_content")) for n in (0, 1)], answer)
    m.check_sent(Intent([U(T("Weather and time in Paris?"))], tools=True, tool_choice="required", stream=True))


@case("openai", "tool_result")
def openai_tool_result(m):
    history = [
        {"role": "system", "content": "Use the tools."},
        {"role": "user", "content": "Weather and time in Paris?"},
        {"role": "assistant", "content": "Checking both.", "tool_calls": [
            {"id": "call_01A", "type": "function", "function": {"name": "get_weather", "arguments": json.dumps(WEATHER_ARGS)}},
            {"id": "call_01B", "type": "function", "function": {"name": "get_time", "arguments": json.dumps(TIME_ARGS)}},
        ]},
        {"role": "tool", "tool_call_id": "call_01A", "content": RESULT_A},
        {"role": "tool", "tool_call_id": "call_01B", "content": RESULT_B},
    ]
    answer = refusal_answer(m)
    m.script(answer)
    res = m.oa.chat.completions.create(model=m.alias, messages=history, tools=TOOLS_OPENAI, tool_choice="auto")
    assert res.choices[0].message.content == "I can’t share that."
    assert res.choices[0].finish_reason == "content_filter"
    m.check_usage(res.usage, answer.usage)
    m.check_sent(history_intent("call_01A", "call_01B", system="Use the tools."))


@case("openai", "image")
def openai_image(m):
    content = [{"type": "text", "text": "What is in these images?"},
               {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
               {"type": "image_url", "image_url": {"url": CAT_URL}}]
    answer = truncated_answer(m)
    m.script(answer)
    res = m.oa.chat.completions.create(model=m.alias, messages=[{"role": "user", "content": content}], tools=TOOLS_OPENAI,
                                       tool_choice="none", max_tokens=5)
    assert res.choices[0].message.content == "A cat sitting on" and res.choices[0].finish_reason == "length"
    m.check_usage(res.usage, answer.usage)
    m.check_sent(Intent([U(T("What is in these images?"), IMG("image/png", PNG), URL(CAT_URL))], tools=True,
                        tool_choice="none", max_tokens=5))


@case("openai", "thinking")
def openai_thinking(m):
    req = dict(model=m.alias, messages=[{"role": "user", "content": "What is 6 x 7?"}], reasoning_effort="medium")
    intent = Intent([U(T("What is 6 x 7?"))], reasoning={"effort": "medium"})
    answer = thinking_answer(m)
    m.script(answer)
    res = m.oa.chat.completions.create(**req)
    msg = res.choices[0].message
    assert msg.content == "42." and res.choices[0].finish_reason == "stop"
    assert (msg.model_extra or {}).get("reasoning_content") == "Six times seven is forty-two."
    m.check_usage(res.usage, answer.usage)
    m.check_sent(intent)

    m.script(answer, stream=True)
    got = openai_stream(m, True, **req, stream_options={"include_usage": True})
    assert (got.reasoning, got.content, got.finish) == ("Six times seven is forty-two.", "42.", "stop")
    m.check_usage(got.usage, answer.usage)
    m.check_sent(replace(intent, stream=True))


def openai_error(m, status, exc, message):
    for stream in (False, True):
        m.script_error(status, message)
        with pytest.raises(exc) as e:
            m.oa.chat.completions.create(model=m.alias, messages=[{"role": "user", "content": "hi"}], stream=stream)
        assert e.value.status_code == status
        m.check_error_headers(status, e.value.response.headers)
        body = e.value.response.json()
        assert set(body) == {"error"} and body["error"]["message"] == message  # OpenAI's shape
        # OpenAI's `code` is a string or null (wire-formats.md §1 "Errors", §5 "Errors ↔ HTTP status")
        assert body["error"]["code"] is None or isinstance(body["error"]["code"], str), body
        if status == 429:
            assert body["error"]["code"] == "rate_limit_exceeded"
        else:
            assert body["error"]["type"] == "server_error"
        m.sent(stream)


@case("openai", "error_429")
def openai_error_429(m):
    openai_error(m, 429, openai.RateLimitError, RATE_LIMITED)


@case("openai", "error_500")
def openai_error_500(m):
    openai_error(m, 500, openai.InternalServerError, SERVER_ERROR)


# ---- Anthropic SDK as the client (to responses and gemini upstreams) -------------------------------------------


def anthropic_stream(m, **req):
    with m.an.messages.with_streaming_response.create(stream=True, **req) as resp:
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
        raw = b"".join(resp.iter_bytes())
    return check_message_stream(raw, m.alias)


def anthropic_final_equals_created(m, answer, **req):
    """`messages.stream(...).get_final_message()` and `messages.create(...)` over the same upstream
    content give the same message (the gateway mints a fresh msg_ id for each translated answer)."""
    m.script(answer, stream=True)
    with m.an.messages.stream(**req) as stream:
        final = stream.get_final_message()
    m.script(answer)
    created = m.an.messages.create(**req)
    a, b = final.model_dump(), created.model_dump()
    assert a.pop("id").startswith("msg_") and b.pop("id").startswith("msg_")
    for block in a["content"] + b["content"]:  # ids minted for a Gemini upstream's calls differ per answer
        if block["type"] == "tool_use" and block["id"] == gw.MINTED_ID:
            block["id"] = "minted"
    assert a == b
    return created


def anthropic_blocks(m, answer):
    """The content blocks an Anthropic client must get for `answer`: reasoning from a non-Anthropic
    upstream as a thinking block with an empty signature (never a made-up one); Gemini's signature
    for a call in a thinking block of its own, marked `gemini:call:` (README "Gemini")."""
    blocks = [{"type": "thinking", "thinking": answer.thinking, "signature": ""}] if answer.thinking else []
    blocks += [{"type": "text", "text": answer.text}] if answer.text else []
    for n, c in enumerate(answer.calls):
        if n == 0 and answer.signed_call and m.upstream == "gemini":
            blocks.append({"type": "thinking", "thinking": "", "signature": f"gemini:call:{THOUGHT_SIGNATURE}"})
        blocks.append({"type": "tool_use", "id": m.call_id(c, n), "name": c.name, "input": c.input})
    return blocks


def dumped(blocks):
    return [b.model_dump(exclude_none=True) for b in blocks]


@case("anthropic", "text")
def anthropic_text(m):
    req = dict(model=m.alias, max_tokens=300,
               system=[{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}],
               messages=[{"role": "user", "content": [{"type": "text", "text": "Say hello",
                                                       "cache_control": {"type": "ephemeral"}}]}],
               stop_sequences=["END"], metadata={"user_id": "u-42"})
    sampling = {"temperature": 0.2, "top_k": 5}
    answer = text_answer(m)
    m.script(answer)
    res = m.an.messages.create(**req, extra_body=sampling)
    assert (res.model, res.type, res.role) == (m.alias, "message", "assistant") and res.id.startswith("msg_")
    assert dumped(res.content) == [{"type": "text", "text": "Hello there."}]
    assert (res.stop_reason, res.stop_sequence) == ("end_turn", None)
    m.check_usage(res.usage, answer.usage)
    body = m.check_sent(Intent([U(T("Say hello"))], system=SYSTEM, max_tokens=300, temperature=0.2, top_k=5,
                               stop=["END"], user="u-42"))
    assert "cache_control" not in json.dumps(body)  # Anthropic's alone (README "Translation")


@case("anthropic", "streamed_text")
def anthropic_streamed_text(m):
    req = dict(model=m.alias, max_tokens=300, system="Be brief.", messages=[{"role": "user", "content": "Say hello"}])
    answer = text_answer(m, "Hello there, friend.")
    m.script(answer, stream=True)
    got = anthropic_stream(m, **req)
    assert got.blocks == [{"type": "text", "text": "Hello there, friend."}] and got.stop_reason == "end_turn"
    m.check_usage(got.usage, answer.usage)
    m.check_sent(Intent([U(T("Say hello"))], system="Be brief.", max_tokens=300, stream=True))
    final = anthropic_final_equals_created(m, answer, **req)
    assert dumped(final.content) == anthropic_blocks(m, answer)


@case("anthropic", "tools")
def anthropic_tools(m):
    req = dict(model=m.alias, max_tokens=500, system="Use the tools.",
               messages=[{"role": "user", "content": "Weather in Paris?"}], tools=TOOLS_ANTHROPIC,
               tool_choice={"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True})
    answer = tools_answer(m)
    m.script(answer)
    res = m.an.messages.create(**req)
    assert res.model == m.alias and res.stop_reason == "tool_use"
    assert dumped(res.content) == anthropic_blocks(m, answer)
    m.check_usage(res.usage, answer.usage)
    m.check_sent(Intent([U(T("Weather in Paris?"))], system="Use the tools.", tools=True,
                        tool_choice=("tool", "get_weather"), parallel=False, max_tokens=500))


@case("anthropic", "streamed_tools")
def anthropic_streamed_tools(m):
    req = dict(model=m.alias, max_tokens=500, messages=[{"role": "user", "content": "Weather and time in Paris?"}],
               tools=TOOLS_ANTHROPIC, tool_choice={"type": "any"})
    answer = parallel_answer(m)
    m.script(answer, stream=True)
    got = anthropic_stream(m, **req)
    assert got.blocks == anthropic_blocks(m, answer) and got.stop_reason == "tool_use"
    m.check_usage(got.usage, answer.usage)
    m.check_sent(Intent([U(T("Weather and time in Paris?"))], tools=True, tool_choice="required", max_tokens=500,
                        stream=True))
    final = anthropic_final_equals_created(m, answer, **req)
    assert dumped(final.content) == anthropic_blocks(m, answer)


@case("anthropic", "tool_result")
def anthropic_tool_result(m):
    history = [
        {"role": "user", "content": "Weather and time in Paris?"},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Checking both."},
            {"type": "tool_use", "id": "toolu_01A", "name": "get_weather", "input": WEATHER_ARGS},
            {"type": "tool_use", "id": "toolu_01B", "name": "get_time", "input": TIME_ARGS},
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_01A", "content": RESULT_A},
            {"type": "tool_result", "tool_use_id": "toolu_01B", "content": [{"type": "text", "text": RESULT_B}]},
        ]},
    ]
    answer = refusal_answer(m)
    m.script(answer)
    res = m.an.messages.create(model=m.alias, max_tokens=300, messages=history, tools=TOOLS_ANTHROPIC,
                               tool_choice={"type": "auto"})
    assert dumped(res.content) == [{"type": "text", "text": "I can’t share that."}]
    assert res.stop_reason == "refusal"
    m.check_usage(res.usage, answer.usage)
    m.check_sent(history_intent("toolu_01A", "toolu_01B", max_tokens=300))


@case("anthropic", "image")
def anthropic_image(m):
    content = [{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
               {"type": "image", "source": {"type": "url", "url": CAT_URL}},
               {"type": "text", "text": "What is in these images?"}]
    answer = truncated_answer(m)
    m.script(answer)
    res = m.an.messages.create(model=m.alias, max_tokens=5, messages=[{"role": "user", "content": content}])
    assert dumped(res.content) == [{"type": "text", "text": "A cat sitting on"}] and res.stop_reason == "max_tokens"
    m.check_usage(res.usage, answer.usage)
    m.check_sent(Intent([U(IMG("image/png", PNG), URL(CAT_URL), T("What is in these images?"))], max_tokens=5))


@case("anthropic", "thinking")
def anthropic_thinking(m):
    req = dict(model=m.alias, max_tokens=8000, thinking={"type": "enabled", "budget_tokens": 3000},
               messages=[{"role": "user", "content": "What is 6 x 7?"}])
    answer = thinking_answer(m)
    m.script(answer, stream=True)
    got = anthropic_stream(m, **req)
    assert got.blocks == anthropic_blocks(m, answer) and got.stop_reason == "end_turn"
    m.check_usage(got.usage, answer.usage)
    m.check_sent(Intent([U(T("What is 6 x 7?"))], max_tokens=8000, reasoning={"budget": 3000}, stream=True))
    final = anthropic_final_equals_created(m, answer, **req)
    assert dumped(final.content) == anthropic_blocks(m, answer)


def anthropic_error(m, status, exc, message):
    req = dict(model=m.alias, max_tokens=100, messages=[{"role": "user", "content": "hi"}])
    for stream in (False, True):
        m.script_error(status, message)
        with pytest.raises(exc) as e:
            if stream:
                with m.an.messages.stream(**req) as s:
                    s.get_final_message()
            else:
                m.an.messages.create(**req)
        assert e.value.status_code == status
        m.check_error_headers(status, e.value.response.headers)
        body = e.value.response.json()
        assert body["type"] == "error"  # Anthropic's shape, whatever the upstream spoke
        assert body["error"] == {"type": {429: "rate_limit_error", 500: "api_error"}[status], "message": message}
        m.sent(stream)


@case("anthropic", "error_429")
def anthropic_error_429(m):
    anthropic_error(m, 429, anthropic.RateLimitError, RATE_LIMITED)


@case("anthropic", "error_500")
def anthropic_error_500(m):
    anthropic_error(m, 500, anthropic.InternalServerError, SERVER_ERROR)


# ---- OpenAI Responses SDK as the client (to every provider type) --------------------------------------------


def responses_items(items):
    """Output items (SDK models or dicts) as what a client reads of them, ids aside."""
    out = []
    for item in items:
        item = item if isinstance(item, dict) else item.model_dump()
        if item["type"] == "message":
            assert item["role"] == "assistant"
            out.append(("message", [(c["type"], c["text"]) for c in item["content"]]))
        elif item["type"] == "function_call":
            out.append(("function_call", item["call_id"], item["name"], json.loads(item["arguments"]), item["status"]))
        else:
            assert item["type"] == "reasoning", item
            out.append(("reasoning", [(s["type"], s["text"]) for s in item["summary"]]))
    return out


def expected_items(m, answer):
    """What a Responses client must read for `answer`: reasoning as a `reasoning` item with its summary,
    the text as one `message` item, each call as a `function_call` item (wire-formats.md §5)."""
    out = [("reasoning", [("summary_text", answer.thinking)])] if answer.thinking else []
    out += [("message", [("output_text", answer.text)])] if answer.text else []
    out += [("function_call", m.call_id(c, n), c.name, c.input, "completed") for n, c in enumerate(answer.calls)]
    return out


def check_response(m, res, answer):
    """A whole response object (SDK model or dict) as a Responses client must get it for `answer`."""
    res = res if isinstance(res, dict) else res.model_dump()
    assert (res["object"], res["model"]) == ("response", m.alias) and res["id"].startswith("resp_")
    reason = INCOMPLETE.get(answer.stop)
    assert res["status"] == ("incomplete" if reason else "completed") and res["error"] is None
    assert res["incomplete_details"] == ({"reason": reason} if reason else None)
    assert responses_items(res["output"]) == expected_items(m, answer)
    m.check_usage(res["usage"], answer.usage)


def responses_stream(m, **req):
    with m.oa.responses.with_streaming_response.create(stream=True, **req) as resp:
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
        raw = b"".join(resp.iter_bytes())
    return check_responses_stream(raw, m.alias)


def comparable(response):
    d = response.model_dump()
    for item in d["output"]:
        if item["type"] == "function_call":
            item["arguments"] = json.loads(item["arguments"])
            if item["call_id"] == gw.MINTED_ID:  # minted per answer for a Gemini upstream's calls
                item["call_id"] = "minted"
    return without_ids(d)


def responses_final_equals_created(m, answer, **req):
    """`responses.stream(...).get_final_response()` and `responses.create(...)` over the same upstream
    content give the same response, but for the ids and creation time the gateway mints per answer."""
    m.script(answer, stream=True)
    with m.oa.responses.stream(**req) as stream:
        final = stream.get_final_response()
    m.script(answer)
    created = m.oa.responses.create(**req)
    # a call's arguments string is relayed fragment by fragment in a stream, re-serialised from the
    # upstream's object when answered whole: equal JSON, not necessarily equal bytes
    assert comparable(final) == comparable(created)
    check_response(m, created, answer)
    return created


@case("responses", "text")
def responses_text(m):
    req = dict(model=m.alias, instructions=SYSTEM, input="Say hello", temperature=0.2, max_output_tokens=300, user="u-42")
    answer = text_answer(m)
    m.script(answer)
    res = m.oa.responses.create(**req)
    check_response(m, res, answer)
    assert res.output_text == "Hello there."
    m.check_sent(Intent([U(T("Say hello"))], system=SYSTEM, max_tokens=300, temperature=0.2, user="u-42"))


@case("responses", "streamed_text")
def responses_streamed_text(m):
    req = dict(model=m.alias, input=[{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "Say hello"}],
               max_output_tokens=300)
    answer = text_answer(m, "Hello there, friend.")
    m.script(answer, stream=True)
    got = responses_stream(m, **req)
    check_response(m, got.final, answer)
    m.check_sent(Intent([U(T("Say hello"))], system="Be brief.", max_tokens=300, stream=True))
    responses_final_equals_created(m, answer, **req)


@case("responses", "tools")
def responses_tools(m):
    req = dict(model=m.alias, input=[{"type": "message", "role": "developer",
                                      "content": [{"type": "input_text", "text": "Use the tools."}]},
                                     {"role": "user", "content": "Weather in Paris?"}],
               tools=TOOLS_RESPONSES, tool_choice={"type": "function", "name": "get_weather"}, parallel_tool_calls=False,
               max_output_tokens=500)
    answer = tools_answer(m)
    m.script(answer)
    res = m.oa.responses.create(**req)
    check_response(m, res, answer)
    m.check_sent(Intent([U(T("Weather in Paris?"))], system="Use the tools.", tools=True,
                        tool_choice=("tool", "get_weather"), parallel=False, max_tokens=500))


@case("responses", "streamed_tools")
def responses_streamed_tools(m):
    req = dict(model=m.alias, input="Weather and time in Paris?", tools=TOOLS_RESPONSES, tool_choice="required")
    answer = parallel_answer(m)
    m.script(answer, stream=True)
    got = responses_stream(m, **req)
    check_response(m, got.final, answer)
    m.check_sent(Intent([U(T("Weather and time in Paris?"))], tools=True, tool_choice="required", stream=True))
    responses_final_equals_created(m, answer, **req)


@case("responses", "tool_result")
def responses_tool_result(m):
    items = [
        {"role": "user", "content": "Weather and time in Paris?"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Checking both.", "annotations": []}]},
        {"type": "function_call", "call_id": "call_01A", "name": "get_weather", "arguments": json.dumps(WEATHER_ARGS)},
        {"type": "function_call", "call_id": "call_01B", "name": "get_time", "arguments": json.dumps(TIME_ARGS)},
        {"type": "function_call_output", "call_id": "call_01A", "output": RESULT_A},
        {"type": "function_call_output", "call_id": "call_01B", "output": RESULT_B},
    ]
    answer = refusal_answer(m)
    m.script(answer)
    res = m.oa.responses.create(model=m.alias, input=items, tools=TOOLS_RESPONSES, tool_choice="auto")
    check_response(m, res, answer)
    m.check_sent(history_intent("call_01A", "call_01B"))


@case("responses", "image")
def responses_image(m):
    content = [{"type": "input_text", "text": "What is in these images?"},
               {"type": "input_image", "image_url": f"data:image/png;base64,{PNG}", "detail": "auto"},
               {"type": "input_image", "image_url": CAT_URL, "detail": "auto"}]
    answer = truncated_answer(m)
    m.script(answer)
    res = m.oa.responses.create(model=m.alias, input=[{"role": "user", "content": content}], max_output_tokens=5)
    check_response(m, res, answer)
    m.check_sent(Intent([U(T("What is in these images?"), IMG("image/png", PNG), URL(CAT_URL))], max_tokens=5))


@case("responses", "thinking")
def responses_thinking(m):
    req = dict(model=m.alias, input="What is 6 x 7?", reasoning={"effort": "medium", "summary": "auto"})
    intent = Intent([U(T("What is 6 x 7?"))], reasoning={"effort": "medium"})
    answer = thinking_answer(m)
    m.script(answer)
    res = m.oa.responses.create(**req)
    check_response(m, res, answer)
    assert res.output_text == "42."
    m.check_sent(intent)

    m.script(answer, stream=True)
    got = responses_stream(m, **req)
    check_response(m, got.final, answer)
    m.check_sent(replace(intent, stream=True))
    responses_final_equals_created(m, answer, **req)


def responses_error(m, status, exc, message):
    for stream in (False, True):
        m.script_error(status, message)
        with pytest.raises(exc) as e:
            if stream:
                with m.oa.responses.stream(model=m.alias, input="hi") as s:
                    s.get_final_response()
            else:
                m.oa.responses.create(model=m.alias, input="hi")
        assert e.value.status_code == status
        m.check_error_headers(status, e.value.response.headers)
        body = e.value.response.json()
        assert set(body) == {"error"} and body["error"]["message"] == message  # Chat Completions' shape (§3)
        # OpenAI's `code` is a string or null (wire-formats.md §1 "Errors", §5 "Errors ↔ HTTP status")
        assert body["error"]["code"] is None or isinstance(body["error"]["code"], str), body
        if status == 429:
            assert body["error"]["code"] == "rate_limit_exceeded"
        else:
            assert body["error"]["type"] == "server_error"
        m.sent(stream)


@case("responses", "error_429")
def responses_error_429(m):
    responses_error(m, 429, openai.RateLimitError, RATE_LIMITED)


@case("responses", "error_500")
def responses_error_500(m):
    responses_error(m, 500, openai.InternalServerError, SERVER_ERROR)


# ---- google-genai as the client (to every provider type) ----------------------------------------------------

GEMINI_TOOLS = [gt.Tool(function_declarations=[
    gt.FunctionDeclaration(name="get_weather", description="Current weather in a city", parameters_json_schema=WEATHER_SCHEMA),
    # an OpenAPI-style Schema: the gateway must hand other providers the JSON Schema it means
    gt.FunctionDeclaration(name="get_time", description="Local time in a timezone",
                           parameters=gt.Schema(type="OBJECT", properties={"timezone": gt.Schema(type="STRING")},
                                                required=["timezone"])),
])]
assert {"type": "object", "properties": {"timezone": {"type": "string"}}, "required": ["timezone"]} == TIME_SCHEMA


def gemini_config(**kw):
    return gt.GenerateContentConfig(automatic_function_calling=gt.AutomaticFunctionCallingConfig(disable=True), **kw)


def calling(mode, names=None):
    return gt.ToolConfig(function_calling_config=gt.FunctionCallingConfig(mode=mode, allowed_function_names=names))


def gemini_parts(parts):
    """Parts (SDK models or wire dicts) as what a client reads of them, runs of text merged: ("thought",
    text) | ("text", text) | ("call", id, name, args, signature)."""
    out = []
    for p in parts:
        if not isinstance(p, dict):
            p = p.model_dump(by_alias=True, exclude_none=True, mode="json")
        signature = p.get("thoughtSignature")
        fc = p.get("functionCall")
        if fc is not None:
            out.append(("call", fc.get("id"), fc["name"], fc.get("args"), signature))
            continue
        assert "text" in p, p
        assert signature is None, f"no signature was scripted on a text part: {p}"
        kind = "thought" if p.get("thought") else "text"
        if not p["text"]:
            continue
        if out and out[-1][0] == kind:
            out[-1] = (kind, out[-1][1] + p["text"])
        else:
            out.append((kind, p["text"]))
    return out


def expected_parts(m, answer):
    """What a Gemini client must read for `answer`: thoughts as `thought: true` parts, calls with the
    upstream's id (a Gemini upstream's own answer has none), Gemini's signature on its call."""
    out = [("thought", answer.thinking)] if answer.thinking else []
    out += [("text", answer.text)] if answer.text else []
    signed = answer.signed_call and m.upstream == "gemini"
    out += [("call", m.call_id(c, n), c.name, c.input, THOUGHT_SIGNATURE if signed and n == 0 else None)
            for n, c in enumerate(answer.calls)]
    return out


def check_generated(m, res, answer):
    res = res.model_dump(by_alias=True, exclude_none=True, mode="json")
    assert res["modelVersion"] == m.alias
    [cand] = res["candidates"]
    assert cand["content"]["role"] == "model" and cand["finishReason"] == GEMINI_FINISH[answer.stop]
    assert gemini_parts(cand["content"]["parts"]) == expected_parts(m, answer)
    m.check_usage(res["usageMetadata"], answer.usage)


def gemini_stream(m, answer, contents, config=None):
    """The stream through the SDK, then the same request (the body the SDK sent) replayed raw, so
    Google's framing is checked too. Both give the client `answer`."""
    m.script(answer, stream=True)
    chunks = [c.model_dump(by_alias=True, exclude_none=True, mode="json")
              for c in m.gm.models.generate_content_stream(model=m.alias, contents=contents, config=config)]
    assert chunks and all(c["modelVersion"] == m.alias for c in chunks)
    finishes = [c["candidates"][0].get("finishReason") for c in chunks]
    assert finishes == [None] * (len(chunks) - 1) + [GEMINI_FINISH[answer.stop]]
    assert gemini_parts([p for c in chunks for p in c["candidates"][0]["content"].get("parts", ())]) == \
           expected_parts(m, answer)
    m.check_usage(chunks[-1]["usageMetadata"], answer.usage)

    body = m.capture.last.body
    m.script(answer, stream=True)
    raw = requests.post(f"{m.url}/v1beta/models/{m.alias}:streamGenerateContent?alt=sse", json=body,
                        headers={"x-goog-api-key": CLIENT_SECRET}, timeout=20)
    assert raw.status_code == 200 and raw.headers["content-type"].startswith("text/event-stream"), raw.text
    got = check_gemini_stream(raw.content, m.alias)
    assert got.finish == GEMINI_FINISH[answer.stop] and gemini_parts(got.parts) == expected_parts(m, answer)
    m.check_usage(got.usage, answer.usage)
    return got


@case("gemini", "text")
def gemini_text(m):
    config = gemini_config(system_instruction=SYSTEM, temperature=0.2, top_k=5, stop_sequences=["END"],
                           max_output_tokens=300)
    answer = text_answer(m)
    m.script(answer)
    res = m.gm.models.generate_content(model=m.alias, contents="Say hello", config=config)
    check_generated(m, res, answer)
    assert res.text == "Hello there."
    m.check_sent(Intent([U(T("Say hello"))], system=SYSTEM, max_tokens=300, temperature=0.2, top_k=5, stop=["END"]))


@case("gemini", "streamed_text")
def gemini_streamed_text(m):
    config = gemini_config(system_instruction="Be brief.", max_output_tokens=300)
    answer = text_answer(m, "Hello there, friend.")
    gemini_stream(m, answer, "Say hello", config)
    m.check_sent(Intent([U(T("Say hello"))], system="Be brief.", max_tokens=300, stream=True))


@case("gemini", "tools")
def gemini_tools(m):
    config = gemini_config(system_instruction="Use the tools.", tools=GEMINI_TOOLS, max_output_tokens=500,
                           tool_config=calling("ANY", ["get_weather"]))
    answer = tools_answer(m)
    m.script(answer)
    res = m.gm.models.generate_content(model=m.alias, contents="Weather in Paris?", config=config)
    check_generated(m, res, answer)
    m.check_sent(Intent([U(T("Weather in Paris?"))], system="Use the tools.", tools=True,
                        tool_choice=("tool", "get_weather"), max_tokens=500))


@case("gemini", "streamed_tools")
def gemini_streamed_tools(m):
    config = gemini_config(tools=GEMINI_TOOLS, tool_config=calling("ANY"))
    answer = parallel_answer(m)
    gemini_stream(m, answer, "Weather and time in Paris?", config)
    m.check_sent(Intent([U(T("Weather and time in Paris?"))], tools=True, tool_choice="required", stream=True))


@case("gemini", "tool_result")
def gemini_tool_result(m):
    history = [
        gt.Content(role="user", parts=[gt.Part(text="Weather and time in Paris?")]),
        gt.Content(role="model", parts=[
            gt.Part(text="Checking both."),
            gt.Part(function_call=gt.FunctionCall(id="call_01A", name="get_weather", args=WEATHER_ARGS)),
            gt.Part(function_call=gt.FunctionCall(id="call_01B", name="get_time", args=TIME_ARGS)),
        ]),
        # as Part.from_function_response builds them: by name, without the call's id
        gt.Content(role="user", parts=[gt.Part.from_function_response(name="get_weather", response=json.loads(RESULT_A)),
                                       gt.Part.from_function_response(name="get_time", response={"output": RESULT_B})]),
    ]
    config = gemini_config(tools=GEMINI_TOOLS, tool_config=calling("AUTO"))
    answer = refusal_answer(m)
    m.script(answer)
    res = m.gm.models.generate_content(model=m.alias, contents=history, config=config)
    check_generated(m, res, answer)
    m.check_sent(history_intent("call_01A", "call_01B"))


@case("gemini", "image")
def gemini_image(m):
    contents = [gt.Content(role="user", parts=[
        gt.Part(text="What is in these images?"),
        gt.Part.from_bytes(data=base64.b64decode(PNG), mime_type="image/png"),
        gt.Part.from_uri(file_uri=CAT_URL, mime_type="image/jpeg"),
    ])]
    answer = truncated_answer(m)
    m.script(answer)
    res = m.gm.models.generate_content(model=m.alias, contents=contents, config=gemini_config(max_output_tokens=5))
    check_generated(m, res, answer)
    m.check_sent(Intent([U(T("What is in these images?"), IMG("image/png", PNG), URL(CAT_URL))], max_tokens=5))


@case("gemini", "thinking")
def gemini_thinking(m):
    config = gemini_config(max_output_tokens=8000,
                           thinking_config=gt.ThinkingConfig(thinking_budget=3000, include_thoughts=True))
    intent = Intent([U(T("What is 6 x 7?"))], max_tokens=8000, reasoning={"budget": 3000})
    answer = thinking_answer(m)
    m.script(answer)
    res = m.gm.models.generate_content(model=m.alias, contents="What is 6 x 7?", config=config)
    check_generated(m, res, answer)
    assert res.text == "42."
    m.check_sent(intent)

    gemini_stream(m, answer, "What is 6 x 7?", config)
    m.check_sent(replace(intent, stream=True))


def gemini_error(m, status, exc, name, message):
    for stream in (False, True):
        m.script_error(status, message)
        with pytest.raises(exc) as e:
            if stream:
                list(m.gm.models.generate_content_stream(model=m.alias, contents="hi"))
            else:
                m.gm.models.generate_content(model=m.alias, contents="hi")
        assert (e.value.code, e.value.status, e.value.message) == (status, name, message)  # Google's shape
        m.check_error_headers(status, e.value.response.headers)
        m.sent(stream)


@case("gemini", "error_429")
def gemini_error_429(m):
    gemini_error(m, 429, genai_errors.ClientError, "RESOURCE_EXHAUSTED", RATE_LIMITED)


@case("gemini", "error_500")
def gemini_error_500(m):
    gemini_error(m, 500, genai_errors.ServerError, "INTERNAL", SERVER_ERROR)
