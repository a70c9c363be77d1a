"""The core pipeline: token counting takes the same path as every other call (failover, cooldowns,
capture, one usage record), the Responses history is expanded per chosen target, and the wire
registry refuses a module that lacks part of its Protocol."""

import json
import types

import pytest

from plexus import create_app
from plexus.wire import registry
from tests.support.secrets import CLIENT_SECRET
from tests.support import wire
from tests.support.fake_upstream import FakeUpstream

COUNT = "/v1/messages/count_tokens"


@pytest.fixture
def fakes():
    with FakeUpstream() as a, FakeUpstream() as b:
        yield a, b


def make_app(write_config, tmp_path, a, b):
    text = f"""
keys: {{test: {{secret: "${{PLEXUS_KEY_TEST}}"}}}}
providers:
  an: {{type: messages, api_base_url: "{a}/v1", api_key: ka}}
  bn: {{type: messages, api_base_url: "{b}/v1", api_key: kb}}
  rc: {{type: responses, api_base_url: "{a}/v1", api_key: ka}}
  ch: {{type: chat, api_base_url: "{b}/v1", api_key: kb}}
models:
  claude-pair: {{selector: in_order, targets: [{{provider: an, model: ca}}, {{provider: bn, model: cb}}]}}
  to-chat: {{targets: [{{provider: ch, model: cm}}]}}
  resp-then-chat: {{selector: in_order, targets: [{{provider: rc, model: ra}}, {{provider: ch, model: cm}}]}}
"""
    app = create_app(str(write_config(text)), watch=False, DATABASE=str(tmp_path / "p.db"))
    records = []
    app.extensions["plexus"].sinks.append(records.append)
    return app, records


def count(client, model):
    body = {"model": model, "messages": [{"role": "user", "content": "hello there"}]}
    return client.post(COUNT, data=json.dumps(body), content_type="application/json", headers={"x-api-key": CLIENT_SECRET})


def test_count_tokens_fails_over_and_cools_the_failed_target_down(env, write_config, tmp_path, fakes):
    a, b = fakes
    app, records = make_app(write_config, tmp_path, a.url, b.url)
    a.reply(status=529, body=wire.anthropic_error(529))
    b.reply(body={"input_tokens": 7})
    resp = count(app.test_client(), "claude-pair")
    assert resp.status_code == 200 and resp.json == {"input_tokens": 7}
    assert b.last.path == "/v1/messages/count_tokens" and b.last.body["model"] == "cb"
    assert len(records) == 1 and [(x["provider"], x["status"]) for x in records[0].attempts] == [("an", 529), ("bn", 200)]
    assert [c["provider"] for c in app.extensions["plexus"].cooldowns.active()] == ["an"]


def test_count_tokens_for_another_family_is_estimated_without_an_upstream_call(env, write_config, tmp_path, fakes):
    a, b = fakes
    app, records = make_app(write_config, tmp_path, a.url, b.url)
    resp = count(app.test_client(), "to-chat")
    assert resp.status_code == 200 and resp.json["input_tokens"] > 0
    assert not b.requests and len(records) == 1 and records[0].status == 200 and not records[0].attempts


def test_an_unexpected_error_in_count_tokens_still_leaves_one_record(env, write_config, tmp_path, fakes, monkeypatch):
    a, b = fakes
    app, records = make_app(write_config, tmp_path, a.url, b.url)
    style = registry.CLIENT_STYLES["messages"]
    monkeypatch.setattr(style, "count_estimate", lambda body: 1 / 0)
    resp = count(app.test_client(), "to-chat")
    assert resp.status_code == 500 and resp.json["error"]["message"] == "Internal gateway error"
    assert len(records) == 1 and records[0].status == 500 and records[0].alias == "to-chat"


def test_a_stored_history_is_expanded_for_the_target_actually_chosen(env, write_config, tmp_path, fakes):
    """An unknown previous_response_id is refused before any target sees it — even a Responses
    upstream, which would resolve it under the provider's key, shared by every client (issue 18)."""
    a, b = fakes
    app, records = make_app(write_config, tmp_path, a.url, b.url)
    a.reply(status=503, body=wire.openai_error(503, "overloaded", "server_error"))
    body = {"model": "resp-then-chat", "input": "hi", "previous_response_id": "resp_unknown"}
    resp = app.test_client().post("/v1/responses", data=json.dumps(body), content_type="application/json",
                                  headers={"Authorization": f"Bearer {CLIENT_SECRET}"})
    assert resp.status_code == 400 and "resp_unknown" in resp.json["error"]["message"]
    assert not a.requests and not b.requests and len(records) == 1


def test_the_registry_names_what_a_client_style_lacks():
    partial = types.ModuleType("partial_style")
    partial.STYLE, partial.FAMILY, partial.ROUTES, partial.KEEPS_CONVERSATIONS = "x", "chat", {"/x": "create"}, False
    with pytest.raises(TypeError, match="check_request.*StreamRelay|StreamRelay.*check_request"):
        registry.register_style(partial)
    assert "x" not in registry.CLIENT_STYLES


def test_the_registry_asks_a_counting_style_for_its_estimate():
    counting = types.ModuleType("counting_style")
    for name in ("check_request", "render_error", "parse_request", "render_response", "passthrough_request",
                 "relay_response", "response_usage", "StreamRenderer", "StreamRelay"):
        setattr(counting, name, object())
    counting.STYLE, counting.FAMILY, counting.KEEPS_CONVERSATIONS = "y", "messages", False
    counting.ROUTES = {"/y": "create", "/y/count": "count_tokens"}
    with pytest.raises(TypeError, match="count_estimate"):
        registry.register_style(counting)


def test_a_whole_answer_checked_for_emptiness_is_parsed_once(env, write_config, tmp_path, fakes, monkeypatch):
    import orjson

    a, b = fakes
    app, records = make_app(write_config, tmp_path, a.url, b.url)
    b.reply(body=wire.chat_completion("cm", "Hello once"))
    parsed, loads = [], orjson.loads
    monkeypatch.setattr(orjson, "loads", lambda raw: parsed.append(bytes(raw)) or loads(raw))
    resp = app.test_client().post("/v1/chat/completions", headers={"Authorization": f"Bearer {CLIENT_SECRET}"},
                                  json={"model": "to-chat", "messages": [{"role": "user", "content": "hi"}]})
    assert resp.status_code == 200 and resp.json["choices"][0]["message"]["content"] == "Hello once"
    assert resp.json["model"] == "to-chat" and records[0].usage is not None
    assert sum(b"Hello once" in raw for raw in parsed) == 1  # the empty-answer check's parse, reused by the relay
