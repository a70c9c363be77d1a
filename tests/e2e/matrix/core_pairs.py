"""The matrix's cells for the OpenAI and Anthropic SDKs × chat and messages upstreams (the harness is
tests/e2e/test_matrix.py; the other twelve pairs are in other_pairs.py).

A cell scripts the upstream's answer in the upstream's own wire format, makes the call with the
client's SDK, then checks (a) what the client got and (b) what the upstream received. Streams are
read raw as well, so the event grammar of each format is checked, not just what an SDK tolerates.
"""

import json
from dataclasses import dataclass, field
from types import SimpleNamespace

import anthropic
import openai
import pytest
from anthropic._constants import ANTHROPIC_API_VERSION
from openai.types.chat import ChatCompletionChunk

from tests.e2e.matrix import CaseBook, Call
from tests.support import wire
from tests.support.secrets import CLIENT_SECRET, PROVIDER_SECRET

CLIENTS = ("openai", "anthropic")
UPSTREAMS = ("chat", "messages")

PAIRS = {(c, u) for c in CLIENTS for u in UPSTREAMS}

ALIAS = {"chat": "to-chat", "messages": "to-messages"}
UP_MODEL = {"chat": "up-chat", "messages": "up-claude"}
UP_PATH = {"chat": "/v1/chat/completions", "messages": "/v1/messages"}

CHAT_FINISH = {"stop": "stop", "stop_sequence": "stop", "tool_calls": "tool_calls", "length": "length",
               "content_filter": "content_filter"}
ANTHROPIC_STOP = {"stop": "end_turn", "stop_sequence": "stop_sequence", "tool_calls": "tool_use",
                  "length": "max_tokens", "content_filter": "refusal"}
# what an Anthropic client sees when the answer went through a chat upstream (no stop_sequence there)
ANTHROPIC_STOP_VIA_CHAT = {**ANTHROPIC_STOP, "stop_sequence": "end_turn"}

SYSTEM = "You are terse."
BETA = "interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14"
SIGNATURE = "EqQBCgIYAhIMfakeSignature0001"
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
CAT_URL = "https://example.com/cat.jpg"

WEATHER_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}, "units": {"type": "string"}},
                  "required": ["city"]}
TIME_SCHEMA = {"type": "object", "properties": {"timezone": {"type": "string"}}, "required": ["timezone"]}
TOOLS_OPENAI = [
    {"type": "function", "function": {"name": "get_weather", "description": "Current weather in a city",
                                      "parameters": WEATHER_SCHEMA}},
    {"type": "function", "function": {"name": "get_time", "description": "Local time in a timezone",
                                      "parameters": TIME_SCHEMA}},
]
TOOLS_ANTHROPIC = [
    {"name": "get_weather", "description": "Current weather in a city", "input_schema": WEATHER_SCHEMA},
    {"name": "get_time", "description": "Local time in a timezone", "input_schema": TIME_SCHEMA},
]


BOOK = CaseBook()
case = BOOK.case


# ---- the answer a cell scripts, in neutral terms -------------------------------------------------------


@dataclass
class Usage:
    prompt: int  # the whole prompt, cached and cache-written tokens included
    cached: int
    output: int
    write: int = 0  # Anthropic's cache_creation_input_tokens; chat upstreams have none


@dataclass
class Answer:
    text: str = ""
    thinking: str = ""
    calls: tuple = ()
    stop: str = "stop"  # stop | stop_sequence | tool_calls | length | content_filter
    stop_sequence: str | None = None
    usage: Usage = field(default_factory=lambda: Usage(30, 10, 7))


class Cell:
    """One (client, upstream) cell: scripting in the upstream's format, and the checks every request to it gets."""

    def __init__(self, client, upstream, fake, oa, an):
        self.client, self.upstream, self.fake, self.oa, self.an = client, upstream, fake, oa, an
        self.alias, self.up_model = ALIAS[upstream], UP_MODEL[upstream]
        self.chat = upstream == "chat"

    def call_id(self, suffix):
        return ("call_" if self.chat else "toolu_") + suffix

    def usage(self, prompt, cached, output, write=0):
        return Usage(prompt, cached, output, 0 if self.chat else write)

    def script(self, answer, stream=False):
        """Queue `answer` in the upstream's format; returns the body or the events sent."""
        calls = [(self.call_id(c.suffix), c.name, c.input) for c in answer.calls]
        u = answer.usage
        if self.chat:
            usage = wire.chat_usage(u.prompt, u.output, cached=u.cached)
            reason = CHAT_FINISH[answer.stop]
            if stream:
                payload = wire.chat_stream_full(self.up_model, wire.split(answer.text), calls,
                                                wire.split(answer.thinking), reason, usage)
            else:
                payload = wire.chat_completion_full(self.up_model, answer.text or None, calls,
                                                    answer.thinking or None, reason, usage)
        else:
            blocks = ([wire.thinking_block(answer.thinking, SIGNATURE)] if answer.thinking else []) + \
                     ([wire.text_block(answer.text)] if answer.text else []) + \
                     [wire.tool_use_block(*c) for c in calls]
            usage = wire.anthropic_usage(u.prompt - u.cached - u.write, u.output, u.cached, u.write)
            build = wire.anthropic_stream if stream else wire.anthropic_message
            payload = build(self.up_model, blocks, ANTHROPIC_STOP[answer.stop], usage,
                            stop_sequence=answer.stop_sequence)
        self.fake.reply(**({"events": payload} if stream else {"body": payload}))
        return payload

    def script_error(self, status, message):
        if self.chat:
            kind, code = ("requests", "rate_limit_exceeded") if status == 429 else ("server_error", None)
            self.fake.reply(status=status, body=wire.openai_error(status, message, kind, code))
        else:
            self.fake.reply(status=status, body=wire.anthropic_error(status, None, message))

    def sent(self):
        """The body of the last upstream request, after the checks every request must pass."""
        seen = self.fake.last
        assert seen.path.split("?")[0] == UP_PATH[self.upstream]
        assert seen.body["model"] == self.up_model
        headers = seen.headers
        assert not [k for k, v in headers.items() if CLIENT_SECRET in v], "the client's key reached the upstream"
        if self.chat:
            assert headers.get("authorization") == f"Bearer {PROVIDER_SECRET}"
            assert not [k for k in headers if k.startswith("anthropic-")], headers
        else:
            assert headers.get("x-api-key") == PROVIDER_SECRET
            # an Anthropic client's version is forwarded; for translated requests the gateway sends its own
            version = ANTHROPIC_API_VERSION if self.client == "anthropic" else "2023-06-01"
            assert headers.get("anthropic-version") == version
        return seen.body

    # ---- expectations -------------------------------------------------------------------------------

    def check_openai_usage(self, usage, u):
        usage = usage if isinstance(usage, dict) else usage.model_dump()
        assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == \
               (u.prompt, u.output, u.prompt + u.output)
        assert (usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0) == u.cached

    def check_anthropic_usage(self, usage, u):
        usage = usage if isinstance(usage, dict) else usage.model_dump()
        assert usage["input_tokens"] == u.prompt - u.cached - u.write
        assert usage["cache_read_input_tokens"] == u.cached
        assert usage["output_tokens"] == u.output
        if u.write:
            assert usage["cache_creation_input_tokens"] == u.write
        else:
            assert usage.get("cache_creation_input_tokens") in (0, None)

    def anthropic_stop(self, answer):
        return (ANTHROPIC_STOP_VIA_CHAT if self.chat else ANTHROPIC_STOP)[answer.stop]

    # ---- streams read raw -----------------------------------------------------------------------------

    def openai_stream(self, include_usage, **req):
        with self.oa.chat.completions.with_streaming_response.create(stream=True, **req) as resp:
            assert resp.status_code == 200
            assert resp.headers["content-type"].startswith("text/event-stream")
            raw = b"".join(resp.iter_bytes())
        return check_chat_stream(raw, self.alias, include_usage)

    def anthropic_stream(self, **req):
        with self.an.messages.with_streaming_response.create(stream=True, **req) as resp:
            assert resp.status_code == 200
            assert resp.headers["content-type"].startswith("text/event-stream")
            raw = b"".join(resp.iter_bytes())
        return check_message_stream(raw, self.alias)

    def check_relayed(self, got, scripted):
        """A messages upstream's stream reaches an Anthropic client unchanged but for the model."""
        expected = [json.loads(data) for _, data in wire.parse_sse(b"".join(scripted))]
        expected[0]["message"]["model"] = self.alias
        assert got.events == expected

    def final_equals_created(self, answer, **req):
        """`messages.stream(...).get_final_message()` and `messages.create(...)` over the same upstream
        content give the same message (the gateway mints a fresh msg_ id per translated answer)."""
        self.script(answer, stream=True)
        with self.an.messages.stream(**req) as stream:
            final = stream.get_final_message()
        self.script(answer)
        created = self.an.messages.create(**req)
        a, b = final.model_dump(), created.model_dump()
        assert a["id"].startswith("msg_") and b["id"].startswith("msg_")
        if self.chat:
            a.pop("id"), b.pop("id")
        assert a == b
        return created


def text_of(content):
    """The text of a string or of a list of text parts/blocks (either API)."""
    if isinstance(content, str):
        return content
    assert all(p.get("type") == "text" for p in content), content
    return "".join(p["text"] for p in content)


def check_chat_stream(raw, alias, include_usage):
    """The grammar of a Chat Completions stream: `data:` chunks only, the first with the assistant
    role, one finish chunk, then the usage chunk (`choices: []`) only when asked, then [DONE]. Tool
    calls: a call's first fragment has index, id, type, name; later ones only index + arguments."""
    events = wire.parse_sse(raw)
    assert [name for name, _ in events] == [None] * len(events), "chat streams carry no event: lines"
    assert events[-1][1] == "[DONE]"
    datas = [json.loads(data) for _, data in events[:-1]]
    assert not [d for d in datas if "error" in d], datas
    for d in datas:
        ChatCompletionChunk.model_validate(d)
        assert d["object"] == "chat.completion.chunk" and d["model"] == alias
    assert len({d["id"] for d in datas}) == 1
    assert datas[0]["choices"][0]["delta"].get("role") == "assistant"
    finishes = [i for i, d in enumerate(datas) if d["choices"] and d["choices"][0].get("finish_reason")]
    assert len(finishes) == 1, finishes
    usage_chunks = [i for i, d in enumerate(datas) if not d["choices"]]
    if include_usage:
        assert usage_chunks == [len(datas) - 1] and finishes == [len(datas) - 2]
        usage = datas[-1]["usage"]
    else:
        assert usage_chunks == [] and finishes == [len(datas) - 1]
        assert not [d for d in datas if d.get("usage")], "usage sent to a client that did not ask for it"
        usage = None
    content, reasoning, calls, kinds = [], [], {}, []
    for d in datas:
        for choice in d["choices"]:
            assert choice["index"] == 0
            delta = choice.get("delta") or {}
            if delta.get("reasoning_content"):
                reasoning.append(delta["reasoning_content"])
                kinds.append(0)
            if delta.get("content"):
                content.append(delta["content"])
                kinds.append(1)
            for item in delta.get("tool_calls") or ():
                kinds.append(2)
                i, fn = item["index"], item.get("function") or {}
                if i not in calls:
                    assert item.get("id") and item.get("type") == "function" and fn.get("name"), item
                    calls[i] = {"id": item["id"], "name": fn["name"], "arguments": fn.get("arguments") or ""}
                else:
                    assert set(item) <= {"index", "function"} and set(fn) <= {"arguments"}, item
                    calls[i]["arguments"] += fn.get("arguments") or ""
    assert kinds == sorted(kinds), "reasoning, then text, then tool calls"
    return SimpleNamespace(chunks=datas, content="".join(content), reasoning="".join(reasoning), calls=calls,
                           finish=datas[finishes[0]]["choices"][0]["finish_reason"], usage=usage)


DELTA_TYPES = {"text": {"text_delta"}, "thinking": {"thinking_delta", "signature_delta"},
               "tool_use": {"input_json_delta"}}
EMPTY_START = {"text": {"text": ""}, "thinking": {"thinking": ""}, "tool_use": {"input": {}}}


def check_message_stream(raw, alias):
    """The grammar of an Anthropic stream: every event named by an `event:` line equal to its type;
    message_start (content [], no stop reason); blocks at indexes 0, 1, ... each start → deltas →
    stop, never overlapping; message_delta with the stop reason and usage; message_stop last. Pings
    may come anywhere. Returns the events and the blocks put together."""
    events = []
    for name, data in wire.parse_sse(raw):
        obj = json.loads(data)
        assert name == obj["type"], (name, obj)
        events.append(obj)
    flow = [e for e in events if e["type"] != "ping"]
    assert flow[0]["type"] == "message_start"
    message = flow[0]["message"]
    assert (message["type"], message["role"], message["content"], message["stop_reason"]) == \
           ("message", "assistant", [], None)
    assert message["model"] == alias and message["id"].startswith("msg_")
    assert {"input_tokens", "output_tokens"} <= set(message["usage"])
    assert [e["type"] for e in flow[-2:]] == ["message_delta", "message_stop"]
    final = flow[-2]
    assert final["delta"]["stop_reason"] and "output_tokens" in final["usage"]
    blocks, open_index = [], None
    for e in flow[1:-2]:
        kind = e["type"]
        if kind == "content_block_start":
            assert open_index is None and e["index"] == len(blocks), e
            block = e["content_block"]
            assert block["type"] in EMPTY_START, block
            for key, empty in EMPTY_START[block["type"]].items():
                assert block[key] == empty, block
            open_index = e["index"]
            blocks.append({**block, "deltas": []})
        elif kind == "content_block_delta":
            assert e["index"] == open_index, e
            assert e["delta"]["type"] in DELTA_TYPES[blocks[open_index]["type"]], e
            blocks[open_index]["deltas"].append(e["delta"])
        elif kind == "content_block_stop":
            assert e["index"] == open_index, e
            open_index = None
        else:
            pytest.fail(f"unexpected event in the block section: {e}")
    assert open_index is None
    for b in blocks:
        deltas = b.pop("deltas")
        if b["type"] == "text":
            b["text"] = "".join(d["text"] for d in deltas)
        elif b["type"] == "thinking":
            sigs = [i for i, d in enumerate(deltas) if d["type"] == "signature_delta"]
            assert sigs in ([], [len(deltas) - 1]), "one signature_delta, just before the block's stop"
            b["thinking"] = "".join(d["thinking"] for d in deltas if d["type"] == "thinking_delta")
            b["signature"] = deltas[sigs[0]]["signature"] if sigs else b.get("signature", "")
        else:
            partial = "".join(d["partial_json"] for d in deltas)
            b["input"] = json.loads(partial) if partial else {}
    return SimpleNamespace(events=events, message=message, blocks=blocks, stop_reason=final["delta"]["stop_reason"],
                           usage={**message["usage"], **final["usage"]})


# ---- OpenAI SDK as the client ----------------------------------------------------------------------------


@case("openai", "text")
def openai_text(m):
    req = dict(model=m.alias,
               messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": "Say hello"}],
               temperature=0.2, stop=["END"], user="u-42")
    answer = Answer(text="Hello there.", stop="stop_sequence", stop_sequence="END", usage=m.usage(30, 10, 7, write=5))
    m.script(answer)
    res = m.oa.chat.completions.create(**req)
    assert res.model == m.alias and res.object == "chat.completion" and len(res.choices) == 1
    choice = res.choices[0]
    assert (choice.message.role, choice.message.content, choice.finish_reason) == ("assistant", "Hello there.", "stop")
    assert not choice.message.tool_calls
    m.check_openai_usage(res.usage, answer.usage)

    body = m.sent()
    if m.chat:
        assert body == {**req, "model": "up-chat"}
        return
    assert text_of(body["system"]) == SYSTEM
    assert [(x["role"], text_of(x["content"])) for x in body["messages"]] == [("user", "Say hello")]
    assert body["max_tokens"] == 4096  # the client gave none; Anthropic requires it
    assert body["stop_sequences"] == ["END"] and body["metadata"] == {"user_id": "u-42"}
    assert body["temperature"] == 0.2
    assert not {"stop", "user", "max_completion_tokens"} & set(body) and not body.get("stream")


@case("openai", "streamed_text")
def openai_streamed_text(m):
    req = dict(model=m.alias,
               messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": "Say hello"}],
               stop="END", stream_options={"include_usage": True})
    answer = Answer(text="Hello there, friend.", usage=m.usage(30, 10, 7, write=5))
    m.script(answer, stream=True)
    got = m.openai_stream(include_usage=True, **req)
    assert got.content == "Hello there, friend." and got.finish == "stop" and not got.calls
    m.check_openai_usage(got.usage, answer.usage)

    body = m.sent()
    if m.chat:
        assert body == {**req, "model": "up-chat", "stream": True}
        return
    assert body["stream"] is True and body["max_tokens"] == 4096 and body["stop_sequences"] == ["END"]
    assert text_of(body["system"]) == SYSTEM and "stream_options" not in body


@case("openai", "tools")
def openai_tools(m):
    req = dict(model=m.alias, messages=[{"role": "developer", "content": "Use the tools."},
                                        {"role": "user", "content": "Weather in Paris?"}],
               tools=TOOLS_OPENAI, tool_choice={"type": "function", "function": {"name": "get_weather"}},
               parallel_tool_calls=False, max_completion_tokens=500)
    answer = Answer(text="Checking.", calls=(Call("01A", "get_weather", {"city": "Paris", "units": "metric"}),),
                    stop="tool_calls", usage=m.usage(120, 100, 20))
    m.script(answer)
    res = m.oa.chat.completions.create(**req)
    msg = res.choices[0].message
    assert res.model == m.alias and res.choices[0].finish_reason == "tool_calls" and msg.content == "Checking."
    [call] = msg.tool_calls
    assert (call.id, call.type, call.function.name) == (m.call_id("01A"), "function", "get_weather")
    assert json.loads(call.function.arguments) == {"city": "Paris", "units": "metric"}
    m.check_openai_usage(res.usage, answer.usage)

    body = m.sent()
    if m.chat:
        assert body == {**req, "model": "up-chat"}
        return
    assert text_of(body["system"]) == "Use the tools."
    assert [(x["role"], text_of(x["content"])) for x in body["messages"]] == [("user", "Weather in Paris?")]
    assert body["tools"] == TOOLS_ANTHROPIC
    assert body["tool_choice"] == {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True}
    assert body["max_tokens"] == 500
    assert not {"parallel_tool_calls", "max_completion_tokens"} & set(body)


@case("openai", "streamed_tools")
def openai_streamed_tools(m):
    req = dict(model=m.alias, messages=[{"role": "user", "content": "Weather and time in Paris?"}],
               tools=TOOLS_OPENAI, tool_choice="required")
    answer = Answer(text="Checking both.", calls=(Call("01A", "get_weather", {"city": "Paris"}),
                                                  Call("01B", "get_time", {"timezone": "Europe/Paris"})),
                    stop="tool_calls")
    m.script(answer, stream=True)
    got = m.openai_stream(include_usage=False, **req)
    assert got.content == "Checking both." and got.finish == "tool_calls"
    assert sorted(got.calls) == [0, 1]
    assert [(c["id"], c["name"], json.loads(c["arguments"])) for c in (got.calls[0], got.calls[1])] == [
        (m.call_id("01A"), "get_weather", {"city": "Paris"}),
        (m.call_id("01B"), "get_time", {"timezone": "Europe/Paris"}),
    ]

    body = m.sent()
    if m.chat:
        assert body == {**req, "model": "up-chat", "stream": True, "stream_options": {"include_usage": True}}
        return
    assert body["stream"] is True and body["tools"] == TOOLS_ANTHROPIC and body["tool_choice"] == {"type": "any"}


@case("openai", "tool_result")
def openai_tool_result(m):
    history = [
        {"role": "system", "content": "Use the tools."},
        {"role": "user", "content": "Weather and time in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_01A", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
            {"id": "call_01B", "type": "function",
             "function": {"name": "get_time", "arguments": '{"timezone":"Europe/Paris"}'}},
        ]},
        {"role": "tool", "tool_call_id": "call_01A", "content": "18C and sunny"},
        {"role": "tool", "tool_call_id": "call_01B", "content": "14:05"},
        {"role": "user", "content": "Summarise."},
    ]
    req = dict(model=m.alias, messages=history, tools=TOOLS_OPENAI, tool_choice="auto")
    answer = Answer(text="I can’t share that.", stop="content_filter", usage=m.usage(200, 0, 12))
    m.script(answer)
    res = m.oa.chat.completions.create(**req)
    assert res.choices[0].message.content == "I can’t share that."
    assert res.choices[0].finish_reason == "content_filter"  # Anthropic's refusal
    m.check_openai_usage(res.usage, answer.usage)

    body = m.sent()
    if m.chat:
        assert body == {**req, "model": "up-chat"}
        return
    assert text_of(body["system"]) == "Use the tools." and body["tool_choice"] == {"type": "auto"}
    user, assistant, results = body["messages"]
    assert (user["role"], text_of(user["content"])) == ("user", "Weather and time in Paris?")
    assert assistant == {"role": "assistant", "content": [
        {"type": "tool_use", "id": "call_01A", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "call_01B", "name": "get_time", "input": {"timezone": "Europe/Paris"}},
    ]}
    # both results and the user's text in ONE user turn (Anthropic wants alternating turns), results first
    assert results["role"] == "user"
    *tool_results, follow_up = results["content"]
    assert [(b["type"], b["tool_use_id"], text_of(b["content"])) for b in tool_results] == [
        ("tool_result", "call_01A", "18C and sunny"), ("tool_result", "call_01B", "14:05")]
    assert follow_up == {"type": "text", "text": "Summarise."}


@case("openai", "image")
def openai_image(m):
    content = [{"type": "text", "text": "What is in these images?"},
               {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
               {"type": "image_url", "image_url": {"url": CAT_URL}}]
    req = dict(model=m.alias, messages=[{"role": "user", "content": content}], tools=TOOLS_OPENAI, tool_choice="none",
               max_tokens=5)
    answer = Answer(text="A cat sitting on", stop="length", usage=m.usage(900, 0, 5))
    m.script(answer)
    res = m.oa.chat.completions.create(**req)
    assert res.choices[0].message.content == "A cat sitting on" and res.choices[0].finish_reason == "length"
    m.check_openai_usage(res.usage, answer.usage)

    body = m.sent()
    if m.chat:
        assert body == {**req, "model": "up-chat"}
        return
    assert body["messages"] == [{"role": "user", "content": [
        {"type": "text", "text": "What is in these images?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "image", "source": {"type": "url", "url": CAT_URL}},
    ]}]
    assert body["tool_choice"] == {"type": "none"} and body["max_tokens"] == 5


@case("openai", "thinking")
def openai_thinking(m):
    req = dict(model=m.alias, messages=[{"role": "user", "content": "What is 6 x 7?"}], reasoning_effort="medium")
    answer = Answer(thinking="Six times seven is forty-two.", text="42.", usage=m.usage(40, 0, 60))

    m.script(answer)
    res = m.oa.chat.completions.create(**req)
    msg = res.choices[0].message
    assert msg.content == "42." and res.choices[0].finish_reason == "stop"
    assert (msg.model_extra or {}).get("reasoning_content") == "Six times seven is forty-two."
    m.check_openai_usage(res.usage, answer.usage)
    check_reasoning_request(m, m.sent(), req)

    m.script(answer, stream=True)
    got = m.openai_stream(include_usage=True, **req, stream_options={"include_usage": True})
    assert (got.reasoning, got.content, got.finish) == ("Six times seven is forty-two.", "42.", "stop")
    m.check_openai_usage(got.usage, answer.usage)
    check_reasoning_request(m, m.sent(), {**req, "stream": True, "stream_options": {"include_usage": True}})


def check_reasoning_request(m, body, req):
    if m.chat:
        assert body == {**req, "model": "up-chat"}
        return
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 8192}
    assert body["max_tokens"] > 8192  # Anthropic wants max_tokens above the thinking budget
    assert "reasoning_effort" not in body


def openai_error(m, status, exc, message):
    for stream in (False, True):
        m.script_error(status, message)
        with pytest.raises(exc) as e:
            m.oa.chat.completions.create(model=m.alias, messages=[{"role": "user", "content": "hi"}], stream=stream)
        assert e.value.status_code == status
        body = e.value.response.json()
        assert body["error"]["message"] == message and isinstance(body["error"]["type"], str)
        assert set(body) == {"error"}  # OpenAI's shape, whatever the upstream spoke
        m.sent()


@case("openai", "error_429")
def openai_error_429(m):
    openai_error(m, 429, openai.RateLimitError, "Rate limit reached for requests per minute. Try again in 7s.")


@case("openai", "error_500")
def openai_error_500(m):
    openai_error(m, 500, openai.InternalServerError, "The upstream had an error while processing your request.")


# ---- Anthropic SDK as the client ---------------------------------------------------------------------


@case("anthropic", "text")
def anthropic_text(m):
    req = dict(model=m.alias, max_tokens=300,
               system=[{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}],
               messages=[{"role": "user", "content": [{"type": "text", "text": "Say hello",
                                                       "cache_control": {"type": "ephemeral"}}]}],
               stop_sequences=["END"], metadata={"user_id": "u-42"})
    sampling = {"temperature": 0.2, "top_k": 5}  # this SDK version has no keyword arguments for them
    answer = Answer(text="Hello there.", stop="stop_sequence", stop_sequence="END", usage=m.usage(30, 10, 7, write=5))
    scripted = m.script(answer)
    raw = m.an.messages.with_raw_response.create(**req, extra_body=sampling, extra_headers={"anthropic-beta": BETA})
    res = raw.parse()
    assert res.model == m.alias and res.type == "message" and res.role == "assistant"
    assert [b.model_dump(exclude_none=True) for b in res.content] == [{"type": "text", "text": "Hello there."}]
    assert res.stop_reason == m.anthropic_stop(answer)
    assert res.stop_sequence == (None if m.chat else "END")
    assert res.id.startswith("msg_")
    m.check_anthropic_usage(res.usage, answer.usage)

    body = m.sent()
    if not m.chat:
        assert raw.http_response.json() == {**scripted, "model": m.alias}  # relayed unchanged but for the model
        assert body == {**req, **sampling, "model": "up-claude"}
        assert m.fake.last.headers.get("anthropic-beta") == BETA
        return
    system, user = body["messages"]
    assert (system["role"], text_of(system["content"])) == ("system", SYSTEM)
    assert (user["role"], text_of(user["content"])) == ("user", "Say hello")
    assert body["max_tokens"] == 300 and body["stop"] == ["END"] and body["user"] == "u-42"
    assert body["temperature"] == 0.2
    assert not {"top_k", "metadata", "system", "stop_sequences"} & set(body)
    assert "cache_control" not in json.dumps(body)


@case("anthropic", "streamed_text")
def anthropic_streamed_text(m):
    req = dict(model=m.alias, max_tokens=300, system="Be brief.", messages=[{"role": "user", "content": "Say hello"}])
    answer = Answer(text="Hello there, friend.", usage=m.usage(30, 10, 7, write=5))
    scripted = m.script(answer, stream=True)
    got = m.anthropic_stream(**req)
    assert got.blocks == [{"type": "text", "text": "Hello there, friend."}]
    assert got.stop_reason == "end_turn"
    m.check_anthropic_usage(got.usage, answer.usage)

    body = m.sent()
    if m.chat:
        assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
        assert [(x["role"], text_of(x["content"])) for x in body["messages"]] == \
               [("system", "Be brief."), ("user", "Say hello")]
        assert body["max_tokens"] == 300
    else:
        m.check_relayed(got, scripted)
        assert body == {**req, "model": "up-claude", "stream": True}

    final = m.final_equals_created(answer, **req)
    assert [b.model_dump(exclude_none=True) for b in final.content] == \
           [{"type": "text", "text": "Hello there, friend."}]


@case("anthropic", "tools")
def anthropic_tools(m):
    req = dict(model=m.alias, max_tokens=500, system="Use the tools.",
               messages=[{"role": "user", "content": "Weather in Paris?"}], tools=TOOLS_ANTHROPIC,
               tool_choice={"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True})
    answer = Answer(text="Checking.", calls=(Call("01A", "get_weather", {"city": "Paris", "units": "metric"}),),
                    stop="tool_calls", usage=m.usage(120, 100, 20))
    m.script(answer)
    res = m.an.messages.create(**req)
    assert res.model == m.alias and res.stop_reason == "tool_use"
    assert [b.model_dump(exclude_none=True) for b in res.content] == [
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": m.call_id("01A"), "name": "get_weather",
         "input": {"city": "Paris", "units": "metric"}},
    ]
    m.check_anthropic_usage(res.usage, answer.usage)

    body = m.sent()
    if not m.chat:
        assert body == {**req, "model": "up-claude"}
        return
    assert [(x["role"], text_of(x["content"])) for x in body["messages"]] == \
           [("system", "Use the tools."), ("user", "Weather in Paris?")]
    assert body["tools"] == TOOLS_OPENAI
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert body["parallel_tool_calls"] is False and body["max_tokens"] == 500


@case("anthropic", "streamed_tools")
def anthropic_streamed_tools(m):
    req = dict(model=m.alias, max_tokens=500, messages=[{"role": "user", "content": "Weather and time in Paris?"}],
               tools=TOOLS_ANTHROPIC, tool_choice={"type": "any"})
    answer = Answer(text="Checking both.", calls=(Call("01A", "get_weather", {"city": "Paris"}),
                                                  Call("01B", "get_time", {"timezone": "Europe/Paris"})),
                    stop="tool_calls", usage=m.usage(150, 0, 40))
    expected = [
        {"type": "text", "text": "Checking both."},
        {"type": "tool_use", "id": m.call_id("01A"), "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": m.call_id("01B"), "name": "get_time", "input": {"timezone": "Europe/Paris"}},
    ]
    scripted = m.script(answer, stream=True)
    got = m.anthropic_stream(**req)
    assert got.blocks == expected and got.stop_reason == "tool_use"
    m.check_anthropic_usage(got.usage, answer.usage)

    body = m.sent()
    if m.chat:
        assert body["tools"] == TOOLS_OPENAI and body["tool_choice"] == "required"
        assert "parallel_tool_calls" not in body
        assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    else:
        m.check_relayed(got, scripted)
        assert body == {**req, "model": "up-claude", "stream": True}

    final = m.final_equals_created(answer, **req)
    assert [b.model_dump(exclude_none=True) for b in final.content] == expected


@case("anthropic", "tool_result")
def anthropic_tool_result(m):
    history = [
        {"role": "user", "content": "Weather and time in Paris?"},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Checking both."},
            {"type": "tool_use", "id": "toolu_01A", "name": "get_weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "toolu_01B", "name": "get_time", "input": {"timezone": "Europe/Paris"}},
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_01A", "content": "18C and sunny"},
            {"type": "tool_result", "tool_use_id": "toolu_01B", "content": [{"type": "text", "text": "14:05"}]},
            {"type": "text", "text": "Summarise."},
        ]},
    ]
    req = dict(model=m.alias, max_tokens=300, messages=history, tools=TOOLS_ANTHROPIC, tool_choice={"type": "auto"})
    answer = Answer(text="I can’t share that.", stop="content_filter", usage=m.usage(200, 0, 12))
    m.script(answer)
    res = m.an.messages.create(**req)
    assert [b.model_dump(exclude_none=True) for b in res.content] == [{"type": "text", "text": "I can’t share that."}]
    assert res.stop_reason == "refusal"  # OpenAI's content_filter

    body = m.sent()
    if not m.chat:
        assert body == {**req, "model": "up-claude"}
        return
    assert body["tool_choice"] == "auto" and body["tools"] == TOOLS_OPENAI
    user, assistant, result_a, result_b, follow_up = body["messages"]
    assert (user["role"], text_of(user["content"])) == ("user", "Weather and time in Paris?")
    assert assistant["role"] == "assistant" and text_of(assistant["content"]) == "Checking both."
    assert [(c["id"], c["type"], c["function"]["name"], json.loads(c["function"]["arguments"]))
            for c in assistant["tool_calls"]] == [("toolu_01A", "function", "get_weather", {"city": "Paris"}),
                                                  ("toolu_01B", "function", "get_time", {"timezone": "Europe/Paris"})]
    assert result_a == {"role": "tool", "tool_call_id": "toolu_01A", "content": "18C and sunny"}
    assert result_b == {"role": "tool", "tool_call_id": "toolu_01B", "content": "14:05"}
    assert (follow_up["role"], text_of(follow_up["content"])) == ("user", "Summarise.")


@case("anthropic", "image")
def anthropic_image(m):
    req = dict(model=m.alias, max_tokens=5, messages=[{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "text", "text": "What is in this image?"}]}])
    answer = Answer(text="A cat sitting on", stop="length", usage=m.usage(900, 0, 5))
    m.script(answer)
    res = m.an.messages.create(**req)
    assert res.content[0].text == "A cat sitting on" and res.stop_reason == "max_tokens"
    m.check_anthropic_usage(res.usage, answer.usage)

    body = m.sent()
    if not m.chat:
        assert body == {**req, "model": "up-claude"}
        return
    [user] = body["messages"]
    image, text = user["content"]
    assert image["type"] == "image_url" and image["image_url"]["url"] == f"data:image/png;base64,{PNG}"
    assert text == {"type": "text", "text": "What is in this image?"}
    assert body["max_tokens"] == 5


@case("anthropic", "thinking")
def anthropic_thinking(m):
    req = dict(model=m.alias, max_tokens=8000, thinking={"type": "enabled", "budget_tokens": 3000},
               messages=[{"role": "user", "content": "What is 6 x 7?"}])
    answer = Answer(thinking="Six times seven is forty-two.", text="42.", usage=m.usage(40, 0, 60))
    # a chat upstream has no signature to give, and the gateway must not make one up
    expected = [{"type": "thinking", "thinking": "Six times seven is forty-two.",
                 "signature": "" if m.chat else SIGNATURE},
                {"type": "text", "text": "42."}]
    scripted = m.script(answer, stream=True)
    got = m.anthropic_stream(**req)
    assert got.blocks == expected and got.stop_reason == "end_turn"
    m.check_anthropic_usage(got.usage, answer.usage)

    body = m.sent()
    if m.chat:
        assert body["reasoning_effort"] == "medium" and "thinking" not in body  # 2048 < 3000 <= 8192
        assert body["max_tokens"] == 8000
    else:
        m.check_relayed(got, scripted)
        assert body == {**req, "model": "up-claude", "stream": True}

    final = m.final_equals_created(answer, **req)
    assert [b.model_dump(exclude_none=True) for b in final.content] == expected


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
        body = e.value.response.json()
        assert body["type"] == "error"  # Anthropic's shape, whatever the upstream spoke
        assert body["error"]["type"] == {429: "rate_limit_error", 500: "api_error"}[status]
        assert body["error"]["message"] == message
        m.sent()


@case("anthropic", "error_429")
def anthropic_error_429(m):
    anthropic_error(m, 429, anthropic.RateLimitError,
                    "Number of request tokens has exceeded your per-minute rate limit")


@case("anthropic", "error_500")
def anthropic_error_500(m):
    anthropic_error(m, 500, anthropic.InternalServerError, "Internal server error")
