"""The Responses API: translation both ways, its event sequence, stored conversations."""

import json

import pytest

from plexus.wire.anthropic import client as anthropic_messages
from plexus.wire.openai_chat import client as openai_chat
from plexus.wire.responses import client as openai_responses
from plexus.config import Provider
from plexus.core.errors import InvalidRequest
from plexus.wire.anthropic import upstream as messages
from plexus.wire.openai_chat import upstream as chat
from plexus.wire.responses import upstream as responses
from plexus.wire.sse import SSEDecoder
from plexus.wire.stream import TranslatedStream
from plexus.unified.types import REQUEST
from tests.support import fixtures

PROVIDER = Provider(id="p", type="responses", api_base_url="http://x/v1", api_key="k", headers={}, pricing={})


def replay(parser, renderer, raw, size=9):
    stream = TranslatedStream(parser, renderer)
    out = b"".join(stream.feed(raw[i : i + size]) for i in range(0, len(raw), size))
    tail, complete = stream.close()
    return out + tail, complete, stream


def events(out):
    evs = SSEDecoder().feed(out)
    return [(e.event, json.loads(e.data)) for e in evs]


def responses_request(**body):
    body = {"model": "alias", "input": "hi", **body}
    openai_responses.check_request(body)
    req = openai_responses.parse_request(body)
    assert REQUEST.validate(req) == {}
    return req


def test_chat_stream_becomes_the_responses_event_sequence():
    req = responses_request(stream=True, tools=[{"type": "function", "name": "get_weather", "parameters": {}}])
    out, complete, stream = replay(chat.StreamParser(), openai_responses.StreamRenderer("alias", req),
                                   fixtures.load("openai_parallel_tools"))
    assert complete
    evs = events(out)
    assert all(name == data["type"] for name, data in evs)
    assert [d["sequence_number"] for _, d in evs] == list(range(len(evs)))
    names = [n for n, _ in evs]
    per_call = ["response.output_item.added"] + ["response.function_call_arguments.delta"] * 3 + [
        "response.function_call_arguments.done", "response.output_item.done"]
    assert names == ["response.created", "response.in_progress"] + per_call + per_call + ["response.completed"]
    added = [d for n, d in evs if n == "response.output_item.added"]
    assert [(a["output_index"], a["item"]["call_id"], a["item"]["name"]) for a in added] == [
        (0, "call_DdmO9pD3xa9XTPNJ32zg2hcA", "get_weather"), (1, "call_ABSDBtVmUk2b6ZiNUz8zt3aG", "get_time")]
    deltas = [d for n, d in evs if n == "response.function_call_arguments.delta"]
    assert all(d["item_id"] == added[d["output_index"]]["item"]["id"] for d in deltas)
    final = evs[-1][1]["response"]
    assert final["status"] == "completed" and final["model"] == "alias"
    assert [json.loads(i["arguments"]) for i in final["output"]] == [{"location": "Paris, France"}, {"timezone": "Europe/Paris"}]
    assert final["usage"] == {"input_tokens": 312, "input_tokens_details": {"cached_tokens": 256}, "output_tokens": 52,
                              "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 364}
    assert stream.final == final


def test_reasoning_then_text_become_a_reasoning_item_and_a_message_item():
    req = responses_request(stream=True)
    out, _, _ = replay(chat.StreamParser(), openai_responses.StreamRenderer("alias", req), fixtures.load("deepseek_reasoning"), 4)
    evs = events(out)
    items = [d["item"]["type"] for n, d in evs if n == "response.output_item.done"]
    assert items == ["reasoning", "message"]
    final = evs[-1][1]["response"]
    assert final["output"][0]["summary"][0]["text"] == "Okay, the user said hello. I should greet them back."
    assert final["output"][1]["content"][0]["text"] == "Hello! How can I help you today?"
    text_done = [d for n, d in evs if n == "response.output_text.done"][0]
    assert text_done["text"] == "Hello! How can I help you today?" and text_done["output_index"] == 1


def test_responses_upstream_stream_becomes_anthropic_events():
    req = anthropic_messages.parse_request({"model": "alias", "max_tokens": 50, "messages": [{"role": "user", "content": "x"}]})
    out, complete, stream = replay(responses.StreamParser(), anthropic_messages.StreamRenderer("alias", req),
                                   fixtures.load("responses_reasoning_text_tool"), 17)
    assert complete
    evs = [d for _, d in events(out)]
    starts = [e["content_block"] for e in evs if e["type"] == "content_block_start"]
    assert [b["type"] for b in starts] == ["thinking", "text", "tool_use"]
    assert starts[0]["signature"] == ""  # OpenAI's reasoning is never passed off as signed Anthropic thinking
    assert starts[2]["id"] == "call_Lk0xHkgbbiZ7Gr3OTv9y2q6K"
    args = "".join(e["delta"]["partial_json"] for e in evs if e.get("delta", {}).get("type") == "input_json_delta")
    assert json.loads(args) == {"city": "Paris"}
    delta = [e for e in evs if e["type"] == "message_delta"][0]
    assert delta["delta"]["stop_reason"] == "tool_use"
    assert delta["usage"] == {"input_tokens": 17, "cache_read_input_tokens": 64, "cache_creation_input_tokens": 0, "output_tokens": 155}
    assert stream.usage.reasoning_tokens == 128


def test_fast_path_relay_swaps_the_model_in_lifecycle_events_only():
    raw = fixtures.load("responses_reasoning_text_tool")
    relay = openai_responses.StreamRelay("alias")
    out = b"".join(relay.feed(raw[i : i + 31]) for i in range(0, len(raw), 31))
    tail, complete = relay.close()
    assert complete
    got, src = events(out + tail), events(raw)
    assert len(got) == len(src)
    for (n1, a), (n2, b) in zip(got, src):
        assert n1 == n2
        if "response" in b:
            b["response"]["model"] = "alias"
        assert a == b
    assert relay.final["id"].startswith("resp_68af") and relay.usage.cached_tokens == 64 and relay.usage.input_tokens == 17


CODEX_INPUT = [
    {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Be brief."}]},
    {"role": "user", "content": [{"type": "input_text", "text": "Weather?"}, {"type": "input_image", "image_url": "data:image/png;base64,AAAA"}]},
    {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Need a tool."}], "encrypted_content": "gAAA"},
    {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{\"city\":\"Paris\"}"},
    {"type": "function_call_output", "call_id": "call_1", "output": "{\"temp\":21}"},
    {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "21C."}]},
    {"role": "user", "content": "Thanks"},
]
TOOLS = [{"type": "function", "name": "get_weather", "description": "Weather", "parameters": {"type": "object"}, "strict": False}]


def test_codex_style_input_translates_to_chat():
    req = responses_request(input=CODEX_INPUT, instructions="You are Codex.", tools=TOOLS, tool_choice="auto",
                            max_output_tokens=500, reasoning={"effort": "low", "summary": "auto"},
                            text={"format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}, "strict": True}})
    body = chat.build_request(req, "up", PROVIDER)
    assert body["messages"] == [
        {"role": "system", "content": "You are Codex.\n\nBe brief."},
        {"role": "user", "content": [{"type": "text", "text": "Weather?"},
                                     {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
        {"role": "assistant", "content": None, "reasoning_content": "Need a tool.", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "{\"temp\":21}"},
        {"role": "assistant", "content": "21C."},
        {"role": "user", "content": "Thanks"},
    ]
    assert body["tools"][0]["function"]["name"] == "get_weather" and body["tool_choice"] == "auto"
    assert body["max_tokens"] == 500 and body["reasoning_effort"] == "low"
    assert body["response_format"] == {"type": "json_schema", "json_schema": {"name": "out", "schema": {"type": "object"}, "strict": True}}


def test_codex_style_input_translates_to_anthropic():
    body = messages.build_request(responses_request(input=CODEX_INPUT, tools=TOOLS), "up", PROVIDER)
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user", "assistant", "user"]
    assert body["messages"][1]["content"] == [{"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}}]
    assert body["messages"][2]["content"][0]["type"] == "tool_result"


def test_chat_request_becomes_a_stateless_responses_body():
    req = openai_chat.parse_request({"model": "a", "stream": True, "reasoning_effort": "high", "max_tokens": 99,
                                     "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
                                     "tool_choice": {"type": "function", "function": {"name": "f"}},
                                     "messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "hi"},
                                                  {"role": "assistant", "content": "ok", "tool_calls": [
                                                      {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                                                  {"role": "tool", "tool_call_id": "c1", "content": "done"}]})
    body = responses.build_request(req, "up", PROVIDER)
    assert body["store"] is False and body["stream"] is True and body["instructions"] == "S"
    assert body["input"] == [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "ok", "annotations": []}]},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "done"},
    ]
    assert body["tools"] == [{"type": "function", "name": "f", "description": None, "parameters": {"type": "object"}, "strict": False}]
    assert body["tool_choice"] == {"type": "function", "name": "f"} and body["max_output_tokens"] == 99
    assert body["reasoning"] == {"effort": "high", "summary": "auto"} and body["include"] == ["reasoning.encrypted_content"]


def test_incomplete_responses_answer_maps_to_length():
    unified = responses.parse_response({"id": "resp_1", "model": "m", "status": "incomplete",
                                        "incomplete_details": {"reason": "max_output_tokens"},
                                        "output": [{"type": "message", "content": [{"type": "output_text", "text": "Hal"}]}],
                                        "usage": {"input_tokens": 5, "output_tokens": 3}})
    assert unified["stop_reason"] == "length" and unified["content"] == [{"type": "text", "text": "Hal"}]
    rendered = openai_chat.render_response(unified, "alias")
    assert rendered["choices"][0]["finish_reason"] == "length"


@pytest.mark.parametrize("item", [{"type": "item_reference", "id": "x"}, {"type": "local_shell_call", "call_id": "x"}])
def test_items_that_cannot_be_translated_are_a_clear_400(item):
    with pytest.raises(InvalidRequest) as e:
        responses_request(input=[item])
    assert item["type"] in e.value.message


def test_hosted_tools_become_records_for_the_provider_to_place():
    req = responses_request(tools=[{"type": "web_search"}])
    assert req["tools"] == [] and req["hosted_tools"] == [{"kind": "web_search", "label": "web_search", "spec": {"type": "web_search"}}]


@pytest.mark.parametrize("body, needle", [({"model": "a"}, "input"), ({"input": "x"}, "model"), ({"model": "a", "input": [1]}, "input"),
                                          ({"model": "a", "input": "x", "stream": 1}, "stream")])
def test_request_checks(body, needle):
    with pytest.raises(InvalidRequest) as e:
        openai_responses.check_request(body)
    assert needle in e.value.message


def test_stored_responses_follow_the_retention(tmp_path):
    import time as clock

    from plexus.storage import open_storage
    from plexus.storage.retention import prune_expired
    from plexus.storage.sqlite.connect import connect

    storage = open_storage(str(tmp_path / "r.db"))
    store = storage.responses
    store.put("resp_old", "k", {"input": [], "response": {"id": "resp_old"}})
    with connect(store.path) as conn:
        conn.execute("UPDATE responses SET created = ? WHERE id = 'resp_old'", (clock.time() - 3 * 86400,))
    store.put("resp_new", "k", {"input": [], "response": {"id": "resp_new"}})
    prune_expired(storage, 2)
    assert store.get("resp_old", "k") is None and store.get("resp_new", "k") is not None
    assert store.get("resp_new", "other-key") is None  # a response belongs to the key that made it


def test_images_in_tool_results_go_to_a_responses_provider_as_function_call_output_parts():
    body = {"model": "alias", "max_tokens": 64, "tools": [{"name": "shot", "input_schema": {"type": "object"}}], "messages": [
        {"role": "user", "content": "look"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "shot", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": [
            {"type": "text", "text": "the page"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}]},
            {"type": "tool_result", "tool_use_id": "toolu_2", "content": "plain"}]}]}
    anthropic_messages.check_request(body)
    req = anthropic_messages.parse_request(body)
    out = responses.build_request(req, "up", PROVIDER)
    outputs = [i for i in out["input"] if i["type"] == "function_call_output"]
    assert outputs[0]["output"] == [{"type": "input_text", "text": "the page"},
                                    {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo=", "detail": "auto"}]
    assert outputs[1]["output"] == "plain"
