"""Recorded upstream streams replayed through the translators in odd-sized chunks."""

import json

import pytest

from plexus.wire.anthropic import client as anthropic_messages
from plexus.wire.openai_chat import client as openai_chat
from plexus.wire.anthropic import upstream as messages
from plexus.wire.openai_chat import upstream as chat
from plexus.wire.sse import SSEDecoder
from plexus.wire.stream import TranslatedStream
from plexus.unified.types import new_request
from tests.support import fixtures, wire


def run(parser, renderer, raw, size):
    stream = TranslatedStream(parser, renderer)
    out = b"".join(stream.feed(raw[i : i + size]) for i in range(0, len(raw), size))
    tail, complete = stream.close()
    return out + tail, complete, stream


def to_anthropic(raw, size=7):
    req = new_request("alias", stream=True)
    return run(chat.StreamParser(), anthropic_messages.StreamRenderer("alias", req), raw, size)


def to_openai(raw, size=7, include_usage=True):
    req = new_request("alias", stream=True)
    req["stream_usage"] = include_usage
    return run(messages.StreamParser(), openai_chat.StreamRenderer("alias", req), raw, size)


def anthropic_events(out):
    events = SSEDecoder().feed(out)
    assert all(e.event == json.loads(e.data)["type"] for e in events)  # event: line equals data.type
    return [json.loads(e.data) for e in events]


def openai_chunks(out):
    events = SSEDecoder().feed(out)
    assert events[-1].data == b"[DONE]"
    return [json.loads(e.data) for e in events[:-1]]


def shape(ev):
    """An Anthropic event reduced to what identifies it in a sequence."""
    t = ev["type"]
    if t == "content_block_start":
        return (t, ev["index"], ev["content_block"]["type"])
    if t == "content_block_delta":
        d = ev["delta"]
        return (t, ev["index"], d["type"], d.get("text") or d.get("thinking") or d.get("partial_json") or d.get("signature"))
    if t == "content_block_stop":
        return (t, ev["index"])
    return (t,)


@pytest.mark.parametrize("size", [1, 3, 7, 64, 100_000])
def test_openai_parallel_tool_calls_become_two_tool_use_blocks(size):
    out, complete, stream = to_anthropic(fixtures.load("openai_parallel_tools"), size)
    assert complete
    events = anthropic_events(out)
    assert [shape(e) for e in events] == [
        ("message_start",),
        ("content_block_start", 0, "tool_use"),
        ("content_block_delta", 0, "input_json_delta", '{"location'),
        ("content_block_delta", 0, "input_json_delta", '":"Paris, '),
        ("content_block_delta", 0, "input_json_delta", 'France"}'),
        ("content_block_stop", 0),
        ("content_block_start", 1, "tool_use"),
        ("content_block_delta", 1, "input_json_delta", '{"timezon'),
        ("content_block_delta", 1, "input_json_delta", 'e":"Europ'),
        ("content_block_delta", 1, "input_json_delta", 'e/Paris"}'),
        ("content_block_stop", 1),
        ("message_delta",),
        ("message_stop",),
    ]
    assert events[1]["content_block"] == {"type": "tool_use", "id": "call_DdmO9pD3xa9XTPNJ32zg2hcA", "name": "get_weather", "input": {}}
    assert events[6]["content_block"]["name"] == "get_time"
    assert events[-2]["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    assert events[-2]["usage"] == {"input_tokens": 56, "cache_read_input_tokens": 256, "cache_creation_input_tokens": 0, "output_tokens": 52}
    assert events[0]["message"]["model"] == "alias"
    assert stream.usage.output_tokens == 52 and stream.finish_reason == "tool_calls"


def test_deepseek_reasoning_becomes_a_thinking_block_then_text():
    out, complete, _ = to_anthropic(fixtures.load("deepseek_reasoning"), 5)
    events = anthropic_events(out)
    shapes = [shape(e)[:3] for e in events]
    assert shapes[:2] == [("message_start",), ("content_block_start", 0, "thinking")]
    thinking = "".join(e["delta"]["thinking"] for e in events if e.get("delta", {}).get("type") == "thinking_delta")
    text = "".join(e["delta"]["text"] for e in events if e.get("delta", {}).get("type") == "text_delta")
    assert thinking == "Okay, the user said hello. I should greet them back."
    assert text == "Hello! How can I help you today?"
    assert ("content_block_stop", 0) in shapes and ("content_block_start", 1, "text") in shapes
    assert shapes.index(("content_block_stop", 0)) < shapes.index(("content_block_start", 1, "text"))
    assert events[1]["content_block"] == {"type": "thinking", "thinking": "", "signature": ""}  # no fake signature
    assert not any(e.get("delta", {}).get("type") == "signature_delta" for e in events)
    assert events[-2]["delta"]["stop_reason"] == "end_turn"


def test_follow_on_fragments_with_empty_id_and_name_continue_the_same_call():
    """Some compatible servers repeat id/name, or send them empty, on every fragment."""
    chunks = [
        {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}},
        {"index": 0, "id": "", "type": "function", "function": {"name": "", "arguments": "{}"}},
        {"index": 0, "id": "call_1", "function": {"name": "f", "arguments": ""}},
    ]
    raw = b"".join(wire.sse(wire.chat_chunk("m", {"tool_calls": [c]})) for c in chunks)
    raw += wire.sse(wire.chat_chunk("m", {}, "tool_calls")) + b"data: [DONE]\n\n"
    events = anthropic_events(to_anthropic(raw)[0])
    starts = [e for e in events if e["type"] == "content_block_start"]
    assert len(starts) == 1
    args = [e["delta"]["partial_json"] for e in events if e["type"] == "content_block_delta"]
    assert args == ["{}"]  # a fragment that is valid JSON is still only a fragment


def test_openai_stream_cut_short_is_reported_incomplete():
    raw = b"".join(wire.chat_stream("m", ["Hel", "lo"])[:3])
    out, complete, stream = to_anthropic(raw)
    assert not complete
    assert "message_delta" not in [e["type"] for e in anthropic_events(out)]


@pytest.mark.parametrize("size", [1, 4, 9, 100_000])
def test_anthropic_thinking_text_and_tool_become_openai_chunks(size):
    out, complete, stream = to_openai(fixtures.load("anthropic_thinking_text_tool"), size)
    assert complete
    chunks = openai_chunks(out)
    deltas = [c["choices"][0]["delta"] if c["choices"] else None for c in chunks]
    assert deltas[0] == {"role": "assistant", "content": ""}
    reasoning = "".join(d.get("reasoning_content", "") for d in deltas if d)
    assert reasoning == "The user wants the weather in Paris. I should call get_weather with city Paris."
    assert "".join(d.get("content") or "" for d in deltas[1:] if d) == "I'll check the current weather in Paris for you."
    calls = [d["tool_calls"][0] for d in deltas if d and "tool_calls" in d]
    assert calls[0] == {"index": 0, "id": "toolu_01NRLabsLyVHZPKxbKvkfSMn", "type": "function",
                        "function": {"name": "get_weather", "arguments": ""}}
    assert json.loads("".join(c["function"]["arguments"] for c in calls)) == {"location": "Paris, France", "unit": "celsius"}
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "tool_calls"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["prompt_tokens"] == 412
    assert chunks[-1]["usage"]["completion_tokens"] == 96
    signature = [d["reasoning_details"][0]["signature"] for d in deltas if d and "reasoning_details" in d]
    assert signature and signature[0].startswith("EqQB")
    assert all(c["model"] == "alias" for c in chunks)


def test_anthropic_parallel_tools_keep_separate_indexes_and_cached_usage():
    out, _, stream = to_openai(fixtures.load("anthropic_parallel_tools"), 11)
    chunks = openai_chunks(out)
    calls = {}
    for c in chunks:
        for tc in (c["choices"][0]["delta"].get("tool_calls") if c["choices"] else None) or ():
            calls.setdefault(tc["index"], []).append(tc)
    assert set(calls) == {0, 1}
    assert calls[0][0]["function"]["name"] == "get_weather" and calls[1][0]["function"]["name"] == "get_time"
    assert json.loads("".join(t["function"]["arguments"] for t in calls[1])) == {"timezone": "Europe/Paris"}
    usage = chunks[-1]["usage"]
    assert usage["prompt_tokens"] == 24 + 310 + 1536 and usage["prompt_tokens_details"]["cached_tokens"] == 1536
    assert stream.usage.cache_write_tokens == 310 and stream.usage.input_tokens == 24


def test_no_usage_chunk_unless_asked():
    out, _, _ = to_openai(fixtures.load("anthropic_parallel_tools"), include_usage=False)
    chunks = openai_chunks(out)
    assert all(c["choices"] for c in chunks) and all("usage" not in c for c in chunks)


def test_anthropic_error_event_becomes_an_openai_error_and_no_done():
    raw = fixtures.events("anthropic_parallel_tools")[:4]
    raw.append(b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n')
    out, complete, _ = to_openai(b"".join(raw))
    events = SSEDecoder().feed(out)
    assert complete  # the error itself ends the stream properly
    assert json.loads(events[-1].data) == {"error": {"message": "Overloaded", "type": "server_error", "param": None, "code": "overloaded"}}
    assert b"[DONE]" not in out


def test_fast_path_anthropic_relay_swaps_only_the_model():
    raw = fixtures.load("anthropic_parallel_tools")
    relay = anthropic_messages.StreamRelay("alias")
    out = b"".join(relay.feed(raw[i : i + 13]) for i in range(0, len(raw), 13))
    tail, complete = relay.close()
    out += tail
    assert complete
    src = [(e.event, json.loads(e.data)) for e in SSEDecoder().feed(raw)]
    got = [(e.event, json.loads(e.data)) for e in SSEDecoder().feed(out)]
    src[0][1]["message"]["model"] = "alias"
    assert got == src
    assert relay.usage.output_tokens == 118 and relay.usage.cached_tokens == 1536 and relay.finish_reason == "tool_use"
