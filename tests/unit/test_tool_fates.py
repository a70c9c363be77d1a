"""Non-function tools across providers: namespaces flattened and mapped back, custom (freeform)
tools as one-string functions that return as custom calls, hosted tools mapped, dropped or refused,
Anthropic's client-run tools as functions (plexus/unified/tools.py, plexus/wire/hosted.py)."""

import json
import re

import pytest

from plexus.config import Provider
from plexus.core.errors import InvalidRequest
from plexus.unified.tools import flat_name
from plexus.wire.anthropic import client as anthropic_messages, upstream as messages
from plexus.wire.gemini import client as gemini_client, upstream as gemini
from plexus.wire.openai_chat import client as openai_chat, upstream as chat
from plexus.wire.responses import client as openai_responses, upstream as responses
from plexus.wire.sse import SSEDecoder
from plexus.wire.stream import TranslatedStream
from tests.support import gemini_wire, wire
from tests.unit.test_responses import responses_request

PROVIDERS = {t: Provider(id=t, type=t, api_base_url="http://x/v1", api_key="k", headers={}, pricing={})
             for t in ("chat", "messages", "gemini", "responses")}
UPSTREAMS = {"chat": chat, "messages": messages, "gemini": gemini, "responses": responses}
GRAMMAR = {"type": "grammar", "syntax": "lark", "definition": "start: begin_patch hunk+ end_patch"}
APPLY_PATCH = {"type": "custom", "name": "apply_patch", "description": "Edit files.", "format": GRAMMAR}
PATCH = "*** Begin Patch\n*** Add File: a.txt\n+hi\n*** End Patch"
# the shape Codex's code-mode models send (research for issue 13): tools in an input item, a custom tool in a namespace
ADDITIONAL = {"type": "additional_tools", "id": "at_1", "role": "developer", "tools": [
    {"type": "namespace", "name": "functions", "description": "Core tools.", "tools": [
        {"type": "custom", "name": "exec", "description": "Run code.", "format": GRAMMAR},
        {"type": "function", "name": "wait", "parameters": {"type": "object", "properties": {}}}]},
    {"type": "namespace", "name": "collaboration", "tools": [
        {"type": "function", "name": "spawn_agent", "parameters": {"type": "object", "properties": {"message": {"type": "string"}}}}]}]}


def replay(parser, renderer, raw):
    stream = TranslatedStream(parser, renderer)
    out = b"".join(stream.feed(raw[i: i + 11]) for i in range(0, len(raw), 11))
    tail, complete = stream.close()
    assert complete
    return [(e.event, json.loads(e.data)) for e in SSEDecoder().feed(out + tail) if e.data != b"[DONE]"]


def chat_answer(name, arguments):
    return chat.parse_response(wire.chat_completion_full("m", tool_calls=[("call_1", name, arguments)]))


# ---- names ---------------------------------------------------------------------------------------------

NAME_RULE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_-]{0,63}$")  # OpenAI and Anthropic; Gemini also wants a letter or _ first


@pytest.mark.parametrize("namespace, name", [
    ("multi_agent_v1", "spawn_agent"), ("mcp__server.with.dots", "tool/with:odd chars"), ("n" * 60, "x" * 60), ("9lives", "f")])
def test_flat_names_fit_every_providers_rules(namespace, name):
    flat = flat_name(namespace, name)
    assert NAME_RULE.match(flat)
    assert flat == f"{namespace}__{name}" or flat != flat_name(namespace, name + "_")  # hashed forms stay distinct


def test_long_namespaced_names_stay_distinct_and_map_back():
    ns = "a_very_long_namespace_name_for_an_mcp_server_with_many_tools"
    tools = [{"type": "namespace", "name": ns, "tools": [
        {"type": "function", "name": f"tool_with_a_long_name_{i}", "parameters": {}} for i in range(3)]}]
    req = responses_request(tools=tools)
    flat = [t["name"] for t in req["tools"]]
    assert len(set(flat)) == 3 and all(NAME_RULE.match(n) for n in flat)
    rendered = openai_responses.render_response(chat_answer(flat[2], "{}"), "alias", req)
    assert rendered["output"][0]["name"] == "tool_with_a_long_name_2" and rendered["output"][0]["namespace"] == ns


def test_a_flat_name_never_shadows_a_plain_function_of_that_name():
    req = responses_request(tools=[
        {"type": "namespace", "name": "ns", "tools": [{"type": "function", "name": "f", "parameters": {}}]},
        {"type": "function", "name": "ns__f", "parameters": {}}])
    names = [t["name"] for t in req["tools"]]
    assert "ns__f" in names and len(set(names)) == 2
    plain = openai_responses.render_response(chat_answer("ns__f", "{}"), "alias", req)["output"][0]
    assert plain["name"] == "ns__f" and "namespace" not in plain


# ---- custom tools ---------------------------------------------------------------------------------------


def test_custom_tool_becomes_a_one_string_function_with_its_grammar_in_the_description():
    req = responses_request(tools=[APPLY_PATCH])
    for kind, module in UPSTREAMS.items():
        body = module.build_request(dict(req), "m", PROVIDERS[kind])
        text = json.dumps(body["tools"])
        assert "apply_patch" in text and "begin_patch hunk+" in text and '"input"' in text


def test_custom_call_comes_back_as_custom_tool_call_and_its_output_goes_up_as_the_result():
    req = responses_request(tools=[APPLY_PATCH])
    item = openai_responses.render_response(chat_answer("apply_patch", {"input": PATCH}), "alias", req)["output"][0]
    assert item["type"] == "custom_tool_call" and item["name"] == "apply_patch" and item["input"] == PATCH
    assert item["call_id"] == "call_1" and "namespace" not in item
    turn = responses_request(tools=[APPLY_PATCH], input=[
        {"type": "message", "role": "user", "content": "patch it"},
        {"type": "custom_tool_call", "call_id": "call_1", "name": "apply_patch", "input": PATCH},
        {"type": "custom_tool_call_output", "call_id": "call_1", "output": "Done!"}])
    sent = messages.build_request(turn, "m", PROVIDERS["messages"])
    assert sent["messages"][1]["content"] == [{"type": "tool_use", "id": "call_1", "name": "apply_patch", "input": {"input": PATCH}}]
    assert sent["messages"][2]["content"][0] == {"type": "tool_result", "tool_use_id": "call_1",
                                                 "content": [{"type": "text", "text": "Done!"}]}


def test_streamed_custom_call_sends_its_input_whole_as_custom_tool_call_input_events():
    req = responses_request(tools=[APPLY_PATCH], stream=True)
    raw = b"".join(wire.anthropic_stream("m", [wire.tool_use_block("toolu_1", "apply_patch", {"input": PATCH})], "tool_use"))
    evs = replay(messages.StreamParser(), openai_responses.StreamRenderer("alias", req), raw)
    kinds = [e for e, _ in evs]
    assert "response.function_call_arguments.delta" not in kinds
    added = next(d["item"] for e, d in evs if e == "response.output_item.added")
    assert added["type"] == "custom_tool_call" and added["input"] == ""
    assert next(d for e, d in evs if e == "response.custom_tool_call_input.done")["input"] == PATCH
    done = next(d["item"] for e, d in evs if e == "response.output_item.done")
    assert (done["type"], done["name"], done["input"], done["call_id"]) == ("custom_tool_call", "apply_patch", PATCH, "toolu_1")
    final = next(d["response"] for e, d in evs if e == "response.completed")
    assert final["output"] == [done]


def test_additional_tools_item_gives_the_tools_and_custom_tools_keep_their_namespace():
    req = responses_request(input=[ADDITIONAL, {"type": "message", "role": "user", "content": "go"}])
    assert [t["name"] for t in req["tools"]] == ["functions__exec", "functions__wait", "collaboration__spawn_agent"]
    assert [m["role"] for m in req["messages"]] == ["user"]  # the carrier item is not a message
    item = openai_responses.render_response(chat_answer("functions__exec", {"input": "print(1)"}), "alias", req)["output"][0]
    assert (item["type"], item["name"], item["namespace"], item["input"]) == ("custom_tool_call", "exec", "functions", "print(1)")
    back = responses_request(input=[ADDITIONAL, {"type": "message", "role": "user", "content": "go"}, item,
                                    {"type": "custom_tool_call_output", "call_id": item["call_id"], "output": "1"}])
    assert back["messages"][1]["content"][0]["name"] == "functions__exec"


def test_streamed_namespaced_call_gets_its_name_and_namespace():
    req = responses_request(tools=[ADDITIONAL["tools"][1]], stream=True)
    raw = b"".join(gemini_wire.stream([], calls=[gemini_wire.call("collaboration__spawn_agent", {"message": "hi"})]))
    evs = replay(gemini.StreamParser(), openai_responses.StreamRenderer("alias", req), raw)
    done = next(d["item"] for e, d in evs if e == "response.output_item.done")
    assert (done["type"], done["name"], done["namespace"]) == ("function_call", "spawn_agent", "collaboration")
    assert json.loads(done["arguments"]) == {"message": "hi"}


def test_chat_client_custom_tool_round_trip():
    body = {"model": "alias", "messages": [{"role": "user", "content": "x"}],
            "tools": [{"type": "custom", "custom": {"name": "patch", "format": {"type": "grammar", "grammar": GRAMMAR}}}]}
    req = openai_chat.parse_request(body)
    sent = messages.build_request(req, "m", PROVIDERS["messages"])
    assert sent["tools"][0]["name"] == "patch" and "begin_patch" in sent["tools"][0]["description"]
    answer = messages.parse_response(wire.anthropic_message("m", [wire.tool_use_block("toolu_1", "patch", {"input": PATCH})], "tool_use"))
    call = openai_chat.render_response(answer, "alias", req)["choices"][0]["message"]["tool_calls"][0]
    assert call == {"id": "toolu_1", "type": "custom", "custom": {"name": "patch", "input": PATCH}}
    streamed = openai_chat.parse_request({**body, "stream": True})
    raw = b"".join(wire.anthropic_stream("m", [wire.tool_use_block("toolu_1", "patch", {"input": PATCH})], "tool_use"))
    chunks = [d for _, d in replay(messages.StreamParser(), openai_chat.StreamRenderer("alias", streamed), raw)]
    calls = [c for d in chunks for c in d["choices"][0]["delta"].get("tool_calls", ()) if d["choices"]]
    assert calls == [{"index": 0, **call}]
    back = openai_chat.parse_request({**body, "messages": body["messages"] + [
        {"role": "assistant", "content": None, "tool_calls": [call]}, {"role": "tool", "tool_call_id": "toolu_1", "content": "ok"}]})
    assert back["messages"][1]["content"][0]["arguments"] == json.dumps({"input": PATCH}, separators=(",", ":"))


# ---- hosted tools -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind, expected", [
    ("chat", None), ("messages", {"type": "web_search_20250305", "name": "web_search", "allowed_domains": ["example.org"]}),
    ("gemini", {"googleSearch": {}}), ("responses", {"type": "web_search", "filters": {"allowed_domains": ["example.org"]}})])
def test_web_search_alone_is_mapped_where_the_provider_has_one(kind, expected):
    req = responses_request(tools=[{"type": "web_search", "filters": {"allowed_domains": ["example.org"]}}])
    body = UPSTREAMS[kind].build_request(req, "m", PROVIDERS[kind])
    assert body.get("tools") == ([expected] if expected else None)
    assert req["dropped_tools"] == ([] if expected else ["web_search"])


def test_gemini_gets_no_built_in_tool_beside_function_declarations():
    req = responses_request(tools=[{"type": "web_search"}, {"type": "function", "name": "f", "parameters": {}}])
    body = gemini.build_request(req, "m", PROVIDERS["gemini"])
    assert body["tools"] == [{"functionDeclarations": [{"name": "f"}]}] and req["dropped_tools"] == ["web_search"]


@pytest.mark.parametrize("tool", [{"type": "local_shell"}, {"type": "file_search", "vector_store_ids": ["vs_1"]},
                                  {"type": "image_generation"}, {"type": "mcp", "server_label": "x"},
                                  {"type": "computer_use_preview"}, {"type": "tool_search", "execution": "client"}])
def test_other_hosted_tools_are_dropped_everywhere_or_refused_when_configured(tool):
    for kind in ("chat", "messages", "gemini"):
        req = responses_request(tools=[tool])
        assert "tools" not in UPSTREAMS[kind].build_request(req, "m", PROVIDERS[kind])
        assert req["dropped_tools"] == [tool["type"]]
    strict = Provider(id="s", type="messages", api_base_url="http://x/v1", api_key="k", headers={}, pricing={},
                      unsupported_tools="error")
    with pytest.raises(InvalidRequest) as e:
        messages.build_request(responses_request(tools=[tool]), "m", strict)
    assert tool["type"] in e.value.message


def test_anthropic_client_run_tools_become_functions_and_server_tools_are_placed():
    body = {"model": "alias", "max_tokens": 64, "messages": [{"role": "user", "content": "x"}], "tools": [
        {"type": "bash_20250124", "name": "bash"}, {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"},
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 2}, {"type": "computer_20250124", "name": "computer"},
        {"type": "mcp_toolset", "mcp_server_name": "docs"}]}
    req = anthropic_messages.parse_request(body)
    assert [t["name"] for t in req["tools"]] == ["bash", "str_replace_based_edit_tool"]
    assert req["tools"][0]["parameters"]["properties"]["command"]["type"] == "string"
    sent = responses.build_request(req, "m", PROVIDERS["responses"])
    assert sent["tools"][-1] == {"type": "web_search"} and req["dropped_tools"] == ["computer_20250124", "mcp_toolset"]


def test_anthropic_server_tool_history_is_left_out_for_other_providers():
    body = {"model": "alias", "max_tokens": 64, "messages": [
        {"role": "user", "content": "news?"},
        {"role": "assistant", "content": [
            {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "news"}},
            {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []},
            {"type": "text", "text": "Here."}]},
        {"role": "user", "content": "thanks"}]}
    req = anthropic_messages.parse_request(body)
    assert req["messages"][1]["content"] == [{"type": "text", "text": "Here."}]


def test_anthropic_server_tool_input_in_a_stream_is_not_taken_for_a_call():
    start = {"type": "message_start", "message": {"id": "msg_1", "model": "m", "usage": {"input_tokens": 1, "output_tokens": 1}}}
    events = [start,
              {"type": "content_block_start", "index": 0, "content_block": {"type": "server_tool_use", "id": "srvtoolu_1",
                                                                            "name": "web_search", "input": {}}},
              {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "{\"query\":\"x\"}"}},
              {"type": "content_block_stop", "index": 0},
              {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
              {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Found."}},
              {"type": "content_block_stop", "index": 1},
              {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 5}},
              {"type": "message_stop"}]
    raw = b"".join(wire.anthropic_event(e) for e in events)
    req = openai_chat.parse_request({"model": "alias", "messages": [{"role": "user", "content": "x"}], "stream": True})
    chunks = [d for _, d in replay(messages.StreamParser(), openai_chat.StreamRenderer("alias", req), raw)]
    deltas = [d["choices"][0]["delta"] for d in chunks if d["choices"]]
    assert not any("tool_calls" in d for d in deltas) and "".join(d.get("content") or "" for d in deltas) == "Found."


def test_gemini_client_built_in_tools_are_placed_elsewhere():
    body = {"contents": [{"role": "user", "parts": [{"text": "x"}]}], "tools": [{"googleSearch": {}}, {"urlContext": {}}]}
    req = gemini_client.parse_request(body, {"args": {"alias": "a", "method": "generateContent"}, "query": {}})
    sent = messages.build_request(req, "m", PROVIDERS["messages"])
    assert sent["tools"] == [{"type": "web_search_20250305", "name": "web_search"}] and req["dropped_tools"] == ["urlContext"]


def test_unsupported_tools_is_a_provider_key_with_two_values():
    from plexus.config import ConfigError, parse_config

    text = "providers:\n  a: {type: chat, api_base_url: 'http://127.0.0.1:9', unsupported_tools: %s}\n"
    assert parse_config(text % "error", "cfg.yaml", {}).providers["a"].unsupported_tools == "error"
    assert parse_config(text % "drop", "cfg.yaml", {}).providers["a"].unsupported_tools == "drop"
    with pytest.raises(ConfigError) as e:
        parse_config(text % "ignore", "cfg.yaml", {})
    assert "providers.a.unsupported_tools" in str(e.value.problems)


def test_a_choice_forcing_a_dropped_tool_lets_the_model_choose():
    body = {"model": "alias", "max_tokens": 64, "messages": [{"role": "user", "content": "x"}],
            "tools": [{"type": "web_search_20250305", "name": "web_search"}, {"name": "f", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "tool", "name": "web_search"}}
    assert chat.build_request(anthropic_messages.parse_request(body), "m", PROVIDERS["chat"])["tool_choice"] == "auto"
    placed = responses.build_request(anthropic_messages.parse_request(body), "m", PROVIDERS["responses"])
    assert placed["tool_choice"] == "auto" and placed["tools"][-1] == {"type": "web_search"}  # no tool of that name there
