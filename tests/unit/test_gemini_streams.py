"""Recorded streams replayed through the Gemini translators in odd-sized chunks, both ways:
a Gemini upstream to OpenAI and Anthropic clients, OpenAI and Anthropic upstreams to a Gemini client
(SSE and JSON-array framing), and the Gemini fast-path relay."""

import json

import pytest

from plexus.wire.anthropic import client as anthropic_messages
from plexus.wire.gemini import client as gemini_api
from plexus.wire.openai_chat import client as openai_chat
from plexus.core.errors import UpstreamError
from plexus.wire.anthropic import upstream as messages
from plexus.wire.gemini import upstream as gemini
from plexus.wire.openai_chat import upstream as chat
from plexus.wire.sse import SSEDecoder
from plexus.wire.stream import TranslatedStream
from plexus.unified import events as ev
from plexus.unified.types import new_request
from tests.support import gemini_wire as gw

SIZES = [1, 3, 7, 64, 100_000]
SIG = "CiQB0e2Kb7fGdlRvsWJ3+u8kxA6Spc6ZVs0cmCW7Qh8z5q1iSmUKLwHR7YpvUoPRSkVZl2Dv0Vf+2lZMSMQwvXnfD0xGrAE2pV6uXvEZ39HYgcgCYmgR"
SIG3 = "EuYBCuMBAdHtim9yOLkzQm8KqVUcjc1p2Eq0f6X3Vb1N3wTzQ0vG8HkX2oPaQ1mYyR7sDe3Lk4a5Qx9zZ0c1Vb2Nn3Mm4Ll5Kk6Jj7Hh8Gg9Ff0Ee1Dd2Cc3Bb4Aa5"


def run(parser, renderer, raw, size):
    stream = TranslatedStream(parser, renderer)
    out = b"".join(stream.feed(raw[i : i + size]) for i in range(0, len(raw), size))
    tail, complete = stream.close()
    return out + tail, complete, stream


def request(**kw):
    req = new_request("alias", stream=True)
    req.update(stream_usage=True, **kw)
    return req


def openai_deltas(out):
    events = SSEDecoder().feed(out)
    assert events[-1].data == b"[DONE]"
    chunks = [json.loads(e.data) for e in events[:-1]]
    assert all(c["model"] == "alias" for c in chunks)
    return chunks


def anthropic_shapes(out):
    events = SSEDecoder().feed(out)
    assert all(e.event == json.loads(e.data)["type"] for e in events)
    evs = [json.loads(e.data) for e in events]
    shapes = []
    for item in evs:
        t = item["type"]
        if t == "content_block_start":
            shapes.append((t, item["index"], item["content_block"]["type"]))
        elif t == "content_block_delta":
            d = item["delta"]
            shapes.append((t, item["index"], d["type"], d.get("text") or d.get("thinking") or d.get("partial_json") or d.get("signature")))
        elif t == "content_block_stop":
            shapes.append((t, item["index"]))
        else:
            shapes.append((t,))
    return shapes, evs


# ---- Gemini upstream -> OpenAI / Anthropic clients ---------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_gemini_thoughts_text_and_parallel_calls_become_openai_chunks(size):
    out, complete, stream = run(gemini.StreamParser(), openai_chat.StreamRenderer("alias", request()),
                                gw.load("gemini_thinking_text_tools"), size)
    assert complete
    chunks = openai_deltas(out)
    deltas = [c["choices"][0]["delta"] if c["choices"] else None for c in chunks]
    assert deltas == [
        {"role": "assistant", "content": ""},
        {"reasoning_content": "**Planning the lookups**\n\nThe user asks about Paris and Rome. "},
        {"reasoning_content": "I'll call get_weather once per city, in parallel."},
        {"content": "Let me check "},
        {"content": "both cities."},
        {"tool_calls": [{"index": 0, "id": gw.MINTED_ID, "type": "function",
                         "function": {"name": "get_weather", "arguments": ""},
                         "extra_content": {"google": {"thought_signature": SIG}}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"city":"Paris","unit":"celsius"}'}}]},
        {"tool_calls": [{"index": 1, "id": gw.MINTED_ID, "type": "function",
                         "function": {"name": "get_weather", "arguments": ""}}]},
        {"tool_calls": [{"index": 1, "function": {"arguments": '{"city":"Rome","unit":"celsius"}'}}]},
        {},
        None,
    ]
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"  # STOP with function calls
    assert chunks[-1]["usage"] == {"prompt_tokens": 96, "completion_tokens": 93, "total_tokens": 189,
                                   "prompt_tokens_details": {"cached_tokens": 0},
                                   "completion_tokens_details": {"reasoning_tokens": 52}}
    assert stream.finish_reason == "tool_calls" and stream.usage.reasoning_tokens == 52


@pytest.mark.parametrize("size", SIZES)
def test_gemini_thoughts_text_and_parallel_calls_become_anthropic_blocks(size):
    out, complete, stream = run(gemini.StreamParser(), anthropic_messages.StreamRenderer("alias", request()),
                                gw.load("gemini_thinking_text_tools"), size)
    assert complete
    shapes, evs = anthropic_shapes(out)
    assert shapes == [
        ("message_start",),
        ("content_block_start", 0, "thinking"),
        ("content_block_delta", 0, "thinking_delta", "**Planning the lookups**\n\nThe user asks about Paris and Rome. "),
        ("content_block_delta", 0, "thinking_delta", "I'll call get_weather once per city, in parallel."),
        ("content_block_stop", 0),
        ("content_block_start", 1, "text"),
        ("content_block_delta", 1, "text_delta", "Let me check "),
        ("content_block_delta", 1, "text_delta", "both cities."),
        ("content_block_stop", 1),
        # the first call's signature rides in a thinking block marked as Gemini's, just before it
        ("content_block_start", 2, "thinking"),
        ("content_block_delta", 2, "signature_delta", "gemini:call:" + SIG),
        ("content_block_stop", 2),
        ("content_block_start", 3, "tool_use"),
        ("content_block_delta", 3, "input_json_delta", '{"city":"Paris","unit":"celsius"}'),
        ("content_block_stop", 3),
        ("content_block_start", 4, "tool_use"),
        ("content_block_delta", 4, "input_json_delta", '{"city":"Rome","unit":"celsius"}'),
        ("content_block_stop", 4),
        ("message_delta",),
        ("message_stop",),
    ]
    assert evs[0]["message"]["usage"]["input_tokens"] == 96  # the prompt count from the first chunk
    assert evs[12]["content_block"] == {"type": "tool_use", "id": gw.MINTED_ID, "name": "get_weather", "input": {}}
    assert evs[-2]["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    assert evs[-2]["usage"]["output_tokens"] == 93


@pytest.mark.parametrize("size", [1, 5, 100_000])
def test_gemini_text_with_trailing_signature_and_cache_to_anthropic(size):
    out, complete, _ = run(gemini.StreamParser(), anthropic_messages.StreamRenderer("alias", request()),
                           gw.load("gemini_text_signature"), size)
    assert complete
    shapes, evs = anthropic_shapes(out)
    assert shapes == [
        ("message_start",),
        ("content_block_start", 0, "text"),
        ("content_block_delta", 0, "text_delta", "Bonjour ! "),
        ("content_block_delta", 0, "text_delta", "Comment puis-je vous aider — aujourd’hui ?"),  # multibyte split safely
        ("content_block_stop", 0),
        ("content_block_start", 1, "thinking"),
        ("content_block_delta", 1, "signature_delta", "gemini:text:" + SIG3),
        ("content_block_stop", 1),
        ("message_delta",),
        ("message_stop",),
    ]
    assert evs[-2]["usage"] == {"input_tokens": 75, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 4032,
                                "output_tokens": 147}


def test_gemini_text_signature_reaches_an_openai_client_as_extra_content():
    out, _, _ = run(gemini.StreamParser(), openai_chat.StreamRenderer("alias", request()), gw.load("gemini_text_signature"), 9)
    deltas = [c["choices"][0]["delta"] for c in openai_deltas(out) if c["choices"]]
    assert {"extra_content": {"google": {"thought_signature": SIG3}}} in deltas


def test_signature_on_a_thought_part_closes_that_thinking_block():
    raw = b"".join([
        gw.sse(gw.response([gw.text("Thinking it over.", thought=True, signature="U0lH")], None)),
        gw.sse(gw.response([gw.text("Done.")], "STOP")),
    ])
    out, _, _ = run(gemini.StreamParser(), anthropic_messages.StreamRenderer("alias", request()), raw, 4)
    shapes, _ = anthropic_shapes(out)
    assert shapes[1:6] == [
        ("content_block_start", 0, "thinking"),
        ("content_block_delta", 0, "thinking_delta", "Thinking it over."),
        ("content_block_delta", 0, "signature_delta", "gemini:thought:U0lH"),
        ("content_block_stop", 0),
        ("content_block_start", 1, "text"),
    ]


@pytest.mark.parametrize("reason, expected", [("MAX_TOKENS", "length"), ("SAFETY", "content_filter"),
                                              ("RECITATION", "content_filter"), ("MALFORMED_FUNCTION_CALL", "stop"),
                                              ("OTHER", "stop")])
def test_finish_reasons(reason, expected):
    events = gemini.StreamParser().feed(SSEDecoder().feed(gw.stream(["x"], finish=reason)[-1])[0])
    assert ev.Stop(expected, None) in events


def test_blocked_prompt_is_a_content_filter_finish():
    parser = gemini.StreamParser()
    events = parser.feed(SSEDecoder().feed(gw.sse(gw.blocked()))[0])
    assert [type(e) for e in events] == [ev.Start, ev.Stop, ev.UsageReport]
    assert events[1].reason == "content_filter" and parser.usage.input_tokens == 9


def test_in_stream_error_from_gemini_becomes_an_openai_error():
    raw = gw.stream(["Hel"])[0] + gw.sse(gw.error("RESOURCE_EXHAUSTED", "Quota exceeded"))
    out, complete, _ = run(gemini.StreamParser(), openai_chat.StreamRenderer("alias", request()), raw, 7)
    last = SSEDecoder().feed(out)[-1]
    assert complete and json.loads(last.data)["error"]["message"] == "Quota exceeded" and b"[DONE]" not in out


def test_gemini_stream_cut_before_its_finish_is_incomplete():
    raw = b"".join(gw.stream(["Hel", "lo"])[:2])
    _, complete, _ = run(gemini.StreamParser(), openai_chat.StreamRenderer("alias", request()), raw, 7)
    assert not complete


# ---- OpenAI / Anthropic upstreams -> Gemini client ---------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_openai_parallel_tools_become_gemini_sse_chunks(size):
    out, complete, stream = run(chat.StreamParser(), gemini_api.StreamRenderer("alias", request(stream_format="sse")),
                                gw.load("gemini_client_from_openai"), size)
    assert complete
    chunks = gw.sse_chunks(out)
    rid = "chatcmpl-CdPq7nY2HsL1sWk0aG8zQvT3"
    assert all(c["modelVersion"] == "alias" and c["responseId"] == rid for c in chunks)
    assert [c["candidates"][0]["content"]["parts"] for c in chunks] == [
        [{"text": "Checking"}],
        [{"text": " both."}],
        [{"functionCall": {"id": "call_Xw2yQkP9Lr3nVb7TmA1sZc4D", "name": "get_weather", "args": {"city": "Paris"}}}],
        [{"functionCall": {"id": "call_Hh5uJm8Nq2Ke6Ws0Yd3Rf9Tp", "name": "get_weather", "args": {"city": "Rome"}}}],
    ]
    assert [c["candidates"][0].get("finishReason") for c in chunks] == [None, None, None, "STOP"]
    assert all("usageMetadata" not in c for c in chunks[:-1])
    assert chunks[-1]["usageMetadata"] == {"promptTokenCount": 143, "candidatesTokenCount": 49, "totalTokenCount": 192,
                                           "cachedContentTokenCount": 64}
    assert stream.finish_reason == "tool_calls"


@pytest.mark.parametrize("size", SIZES)
def test_anthropic_thinking_text_tool_become_a_gemini_json_array(size):
    out, complete, _ = run(messages.StreamParser(), gemini_api.StreamRenderer("alias", request(stream_format="json_array")),
                           gw.load("gemini_client_from_anthropic"), size)
    assert complete
    assert out.startswith(b"[{") and out.endswith(b"}\r\n]")
    chunks = gw.array_chunks(out)
    assert [c["candidates"][0]["content"]["parts"] for c in chunks] == [
        [{"text": "The user wants Paris weather.", "thought": True}],
        [{"text": " Call get_weather.", "thought": True}],
        [{"text": "Let me look"}],
        [{"text": " that up."}],
        [{"functionCall": {"id": "toolu_01A9q8Ws7Ed6Rf5Tg4Yh3Uj2", "name": "get_weather", "args": {"city": "Paris"}}}],
        [{"text": ""}],
    ]
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    assert chunks[-1]["usageMetadata"] == {"promptTokenCount": 2358, "candidatesTokenCount": 87, "totalTokenCount": 2445,
                                           "cachedContentTokenCount": 2048}


def test_error_mid_array_closes_the_array():
    raw = b"".join(gw.load("gemini_client_from_openai").split(b"\n\n")[i] + b"\n\n" for i in range(3))
    stream = TranslatedStream(chat.StreamParser(), gemini_api.StreamRenderer("alias", request(stream_format="json_array")))
    out = stream.feed(raw)
    tail, complete = stream.close()
    assert not complete
    out += tail + stream.fail(UpstreamError("The upstream stream ended before it finished", status=502))
    elements = gw.array_chunks(out)
    assert elements[-1] == {"error": {"code": 502, "message": "The upstream stream ended before it finished",
                                      "status": "UNAVAILABLE"}}


def test_error_before_any_chunk_is_a_one_element_array_and_an_sse_event():
    err = UpstreamError("boom", status=500)
    array = gemini_api.StreamRenderer("alias", request(stream_format="json_array")).fail(err)
    assert json.loads(array) == [{"error": {"code": 500, "message": "boom", "status": "INTERNAL"}}]
    sse = gemini_api.StreamRenderer("alias", request(stream_format="sse")).fail(err)
    assert gw.sse_chunks(sse) == [{"error": {"code": 500, "message": "boom", "status": "INTERNAL"}}]


# ---- fast path ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("sse", [True, False])
@pytest.mark.parametrize("size", [1, 13, 100_000])
def test_fast_path_relay_swaps_only_the_model_version(sse, size):
    raw = gw.load("gemini_thinking_text_tools")
    relay = gemini_api.StreamRelay("alias", {"sse": sse})
    out = b"".join(relay.feed(raw[i : i + size]) for i in range(0, len(raw), size))
    tail, complete = relay.close()
    out += tail
    assert complete
    src = gw.sse_chunks(raw)
    for c in src:
        c["modelVersion"] = "alias"
    assert (gw.sse_chunks(out) if sse else gw.array_chunks(out)) == src
    assert relay.finish_reason == "STOP"
    assert (relay.usage.input_tokens, relay.usage.output_tokens, relay.usage.reasoning_tokens) == (96, 93, 52)


def test_fast_path_relay_of_a_cut_stream_is_incomplete_and_fails_in_the_clients_framing():
    raw = b"".join(gw.stream(["Hel", "lo"])[:2])
    relay = gemini_api.StreamRelay("alias", {"sse": False})
    out = relay.feed(raw)
    tail, complete = relay.close()
    assert not complete
    out += tail + relay.fail(UpstreamError("cut", status=502))
    assert gw.array_chunks(out)[-1]["error"]["status"] == "UNAVAILABLE"
    assert relay.usage.input_tokens == 12  # the running usage seen so far
