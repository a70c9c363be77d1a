"""Agent clients' tools and fields toward other providers. Codex's real first request
(tests/fixtures/codex_request.json: function, namespace and hosted web_search tools, `include`,
`prompt_cache_key`, `client_metadata`) through the gateway to a chat, a messages and a gemini
upstream: 200, the tools each upstream gets, and a namespaced call that comes back to the client
with its own name and namespace; fields that steer only the client's own provider never cause a 400."""

import json
from pathlib import Path

import pytest
import responses

from tests.support import gemini_wire, wire
from tests.support.configs import config_text
from tests.support.secrets import CLIENT_SECRET

CODEX = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "codex_request.json").read_text())
PROVIDERS = """\
  an:
    type: messages
    api_base_url: http://anthropic.test/v1
    api_key: ${UPSTREAM_KEY}
  gm:
    type: gemini
    api_base_url: http://gemini.test/v1beta
    api_key: ${UPSTREAM_KEY}
  rs:
    type: responses
    api_base_url: http://responses.test/v1
    api_key: ${UPSTREAM_KEY}
  strict:
    type: chat
    api_base_url: http://strict.test/v1
    api_key: ${UPSTREAM_KEY}
    unsupported_tools: error
"""
ALIASES = """\
  to-chat:
    targets: [{provider: up, model: up-model}]
  to-messages:
    targets: [{provider: an, model: up-claude}]
  to-gemini:
    targets: [{provider: gm, model: up-gemini}]
  to-strict:
    targets: [{provider: strict, model: up-model}]
  to-responses:
    targets: [{provider: rs, model: up-resp}]
"""
FUNCTIONS = ["exec_command", "write_stdin", "request_user_input", "view_image", "multi_agent_v1__close_agent",
             "multi_agent_v1__resume_agent", "multi_agent_v1__send_input", "multi_agent_v1__spawn_agent",
             "multi_agent_v1__wait_agent", "get_goal", "create_goal", "update_goal"]
SPAWN = ("call_spawn1", "multi_agent_v1__spawn_agent", {"message": "look around"})


@pytest.fixture
def client(env, write_config, make_app):
    text = config_text("http://chat.test", ALIASES).replace("\nmodels:\n", "\n" + PROVIDERS + "models:\n", 1)
    return make_app(str(write_config(text)), watch=False).test_client()


def post_codex(client, alias):
    body = {**CODEX["body"], "model": alias}
    headers = {**CODEX["headers"], "Authorization": f"Bearer {CLIENT_SECRET}"}
    return client.post("/v1/responses", data=json.dumps(body), headers=headers, content_type="application/json")


UPSTREAMS = {
    "to-chat": ("http://chat.test/v1/chat/completions",
                lambda: b"".join(wire.chat_stream_full("up-model", tool_calls=[SPAWN])),
                lambda sent: [t["function"]["name"] for t in sent["tools"]]),
    "to-messages": ("http://anthropic.test/v1/messages",
                    lambda: b"".join(wire.anthropic_stream("up-claude", [wire.tool_use_block(*SPAWN)], "tool_use")),
                    lambda sent: [t["name"] for t in sent["tools"]]),
    "to-gemini": ("http://gemini.test/v1beta/models/up-gemini:streamGenerateContent?alt=sse",
                  lambda: b"".join(gemini_wire.stream([], calls=[gemini_wire.call(SPAWN[1], SPAWN[2])])),
                  lambda sent: [d["name"] for t in sent["tools"] for d in t.get("functionDeclarations", ())]),
}


@pytest.mark.parametrize("alias", UPSTREAMS)
def test_codex_request_reaches_every_upstream_type_and_the_namespaced_call_comes_back(client, alias):
    url, answer, names = UPSTREAMS[alias]
    with responses.RequestsMock() as rsps:
        rsps.post(url, body=answer(), content_type="text/event-stream")
        resp = post_codex(client, alias)
        events = [json.loads(data) for _, data in wire.parse_sse(resp.get_data())]
        sent = json.loads(rsps.calls[0].request.body)
    assert resp.status_code == 200
    if alias == "to-messages":  # Anthropic's server web search stands in for the hosted one
        assert names(sent) == FUNCTIONS + ["web_search"] and sent["tools"][-1]["type"] == "web_search_20250305"
        assert "x-plexus-dropped-tools" not in resp.headers
    else:
        assert names(sent) == FUNCTIONS and resp.headers["x-plexus-dropped-tools"] == "web_search"
    for field in ("include", "prompt_cache_key", "client_metadata", "store"):
        assert field not in sent
    done = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    assert [(i["type"], i["name"], i.get("namespace")) for i in done] == [("function_call", "spawn_agent", "multi_agent_v1")]
    assert json.loads(done[0]["arguments"]) == {"message": "look around"}


def test_the_client_sends_the_namespaced_call_back_and_the_upstream_sees_its_flat_name(client):
    call_id = "call_spawn1"
    body = {**CODEX["body"], "model": "to-chat", "stream": False}
    body["input"] = body["input"] + [
        {"type": "function_call", "id": "fc_1", "call_id": call_id, "name": "spawn_agent", "namespace": "multi_agent_v1",
         "arguments": "{}"},
        {"type": "function_call_output", "id": "fco_1", "call_id": call_id, "output": "spawned"}]
    with responses.RequestsMock() as rsps:
        rsps.post("http://chat.test/v1/chat/completions", json=wire.chat_completion("up-model", "done"))
        resp = client.post("/v1/responses", data=json.dumps(body), content_type="application/json",
                           headers={"Authorization": f"Bearer {CLIENT_SECRET}"})
        sent = json.loads(rsps.calls[0].request.body)
    assert resp.status_code == 200
    call, result = sent["messages"][-2], sent["messages"][-1]
    assert call["tool_calls"][0]["function"]["name"] == "multi_agent_v1__spawn_agent"
    assert result == {"role": "tool", "tool_call_id": call_id, "content": "spawned"}


def test_a_provider_set_to_refuse_unsupported_tools_answers_400_naming_them(client):
    with responses.RequestsMock():
        resp = post_codex(client, "to-strict")
    assert resp.status_code == 400
    assert "web_search" in resp.json["error"]["message"] and "unsupported_tools" in resp.json["error"]["message"]


# fields that steer only OpenAI or Anthropic, as agent clients and SDKs send them
CHAT_FIELDS = {"prompt_cache_key": "conv-1", "safety_identifier": "who", "service_tier": "flex", "store": True,
               "metadata": {"a": "b"}, "prediction": {"type": "content", "content": "x"}, "verbosity": "low",
               "prompt_cache_retention": "24h", "web_search_options": {}}
RESPONSES_FIELDS = {"prompt_cache_key": "conv-1", "include": ["reasoning.encrypted_content"], "client_metadata": {"x": "y"},
                    "safety_identifier": "who", "service_tier": "priority", "background": False, "truncation": "auto",
                    "text": {"verbosity": "low"}, "store": False, "max_tool_calls": 3,
                    "reasoning": {"summary": "auto", "context": "all_turns"}}
MESSAGES_FIELDS = {"service_tier": "auto", "context_management": {"edits": []}, "mcp_servers": [],
                   "output_config": {"effort": "high"}, "inference_geo": "us", "metadata": {"user_id": "who"}}
STEERING = {
    "chat": ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], **CHAT_FIELDS}),
    "responses": ("/v1/responses", {"input": "hi", **RESPONSES_FIELDS}),
    "messages": ("/v1/messages", {"max_tokens": 32, "messages": [{"role": "user", "content": "hi"}], **MESSAGES_FIELDS}),
}
ANSWERS = {
    "to-chat": ("http://chat.test/v1/chat/completions", lambda: wire.chat_completion("up-model", "ok")),
    "to-messages": ("http://anthropic.test/v1/messages", lambda: wire.anthropic_message("up-claude", [wire.text_block("ok")])),
    "to-gemini": ("http://gemini.test/v1beta/models/up-gemini:generateContent", lambda: gemini_wire.response([gemini_wire.text("ok")])),
    "to-responses": ("http://responses.test/v1/responses",
                     lambda: wire.responses_response("up-resp", [wire.responses_message_item("ok")])),
}
FAMILY = {"chat": "to-chat", "responses": "to-responses", "messages": "to-messages"}


@pytest.mark.parametrize("style, alias", [(s, a) for s in STEERING for a in ANSWERS if a != FAMILY[s]])
def test_fields_that_steer_only_the_clients_provider_never_cause_a_400(client, monkeypatch, style, alias):
    from plexus.core import pipeline

    calls, run = [], pipeline.run
    monkeypatch.setattr(pipeline, "run", lambda gw, call: (calls.append(call), run(gw, call))[1])
    path, body = STEERING[style]
    url, answer = ANSWERS[alias]
    with responses.RequestsMock() as rsps:
        rsps.post(url, json=answer())
        resp = client.post(path, data=json.dumps({"model": alias, **body}), content_type="application/json",
                           headers={"Authorization": f"Bearer {CLIENT_SECRET}"})
        sent = json.loads(rsps.calls[0].request.body)
    assert resp.status_code == 200, resp.get_data()
    kept = {"prompt_cache_key"} if alias == "to-responses" else set()  # OpenAI's own field, where OpenAI's API is upstream
    steering = (set(body) - {"messages", "input", "max_tokens", "metadata", "store", "reasoning", "text"}) | {"client_metadata"}
    assert set(sent) & steering == kept & set(body)
    if "prompt_cache_key" in body:
        assert calls[0].prompt_cache_key == "conv-1"
        assert alias != "to-responses" or sent["prompt_cache_key"] == "conv-1"
    if "safety_identifier" in body and alias == "to-messages":
        assert sent["metadata"] == {"user_id": "who"}
