"""Provider quirks from config: applied to upstream bodies on both paths, and to what is read back."""

import json

import pytest
import responses

from plexus.config import parse_config
from plexus.wire.openai_chat import upstream as chat
from plexus.wire.quirks import ThinkSplitter, split_think
from tests.support.secrets import CLIENT_SECRET
from tests.support import wire

CONFIG = """
keys: {test: {secret: "${PLEXUS_KEY_TEST}"}}
providers:
  o1:
    type: chat
    api_base_url: http://openai.test/v1
    api_key: k
    max_tokens_field: max_completion_tokens
    max_tokens_cap: 1000
    extra_body: {service_tier: flex, metadata: {team: a}}
  router:
    type: chat
    api_base_url: http://router.test/v1
    api_key: k
    reasoning_field: reasoning
    stream_options: false
    think_tags: true
  proxy:
    type: messages
    api_base_url: http://proxy.test/v1
    api_key: k
    strip_cache_control: true
models:
  o1: {targets: [{provider: o1, model: o1-up, extra_body: {metadata: {model: o1}}, max_tokens_cap: 500}]}
  router: {targets: [{provider: router, model: r-up}]}
  proxy: {targets: [{provider: proxy, model: p-up}]}
"""


@pytest.fixture
def client(env, write_config, make_app):
    return make_app(str(write_config(CONFIG)), watch=False).test_client()


def call(client, path, body):
    resp = client.post(path, data=json.dumps(body), content_type="application/json",
                       headers={"Authorization": f"Bearer {CLIENT_SECRET}"})
    return resp


def test_max_tokens_renamed_capped_and_extra_body_merged_on_the_fast_path(client):
    with responses.RequestsMock() as rsps:
        rsps.post("http://openai.test/v1/chat/completions", json=wire.chat_completion("o1-up", "ok"))
        call(client, "/v1/chat/completions", {"model": "o1", "max_tokens": 4000, "messages": [{"role": "user", "content": "x"}]})
        sent = json.loads(rsps.calls[0].request.body)
    assert "max_tokens" not in sent and sent["max_completion_tokens"] == 500  # the target's cap beats the provider's
    assert sent["service_tier"] == "flex" and sent["metadata"] == {"team": "a", "model": "o1"}


def test_quirks_apply_to_translated_requests_too(client):
    with responses.RequestsMock() as rsps:
        rsps.post("http://openai.test/v1/chat/completions", json=wire.chat_completion("o1-up", "ok"))
        resp = call(client, "/v1/messages", {"model": "o1", "max_tokens": 200, "messages": [{"role": "user", "content": "x"}]})
        sent = json.loads(rsps.calls[0].request.body)
    assert resp.status_code == 200
    assert sent["max_completion_tokens"] == 200 and "max_tokens" not in sent


def test_strip_cache_control_on_an_anthropic_compatible_upstream(client):
    body = {"model": "proxy", "max_tokens": 10,
            "system": [{"type": "text", "text": "S", "cache_control": {"type": "ephemeral"}}],
            "messages": [{"role": "user", "content": [{"type": "text", "text": "x", "cache_control": {"type": "ephemeral"}}]}],
            "tools": [{"name": "f", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral"}}]}
    with responses.RequestsMock() as rsps:
        rsps.post("http://proxy.test/v1/messages", json=wire.anthropic_message("p-up", [wire.text_block("hi")]))
        call(client, "/v1/messages", body)
        sent = json.loads(rsps.calls[0].request.body)
    assert "cache_control" not in json.dumps(sent)
    assert sent["system"] == [{"type": "text", "text": "S"}] and sent["tools"] == [{"name": "f", "input_schema": {"type": "object"}}]


def test_reasoning_history_goes_back_under_the_configured_field_and_no_stream_options(client):
    body = {"model": "router", "max_tokens": 50, "stream": True, "messages": [
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "earlier thought", "signature": ""},
                                          {"type": "text", "text": "answer"}]},
        {"role": "user", "content": "y"}]}
    with responses.RequestsMock() as rsps:
        rsps.post("http://router.test/v1/chat/completions", body=b"".join(wire.chat_stream("r-up", ["ok"], with_usage=False)),
                  content_type="text/event-stream")
        call(client, "/v1/messages", body)
        sent = json.loads(rsps.calls[0].request.body)
    assert sent["messages"][1] == {"role": "assistant", "content": "answer", "reasoning": "earlier thought"}
    assert "stream_options" not in sent


def test_think_tags_become_reasoning_in_a_stream(client):
    pieces = ["<th", "ink>Let me", " think.</thi", "nk>\n\nThe ans", "wer."]
    with responses.RequestsMock() as rsps:
        rsps.post("http://router.test/v1/chat/completions", body=b"".join(wire.chat_stream("r-up", pieces, with_usage=False)),
                  content_type="text/event-stream")
        resp = call(client, "/v1/messages", {"model": "router", "max_tokens": 50, "stream": True,
                                             "messages": [{"role": "user", "content": "x"}]})
    events = [json.loads(line[6:]) for line in resp.get_data().split(b"\n") if line.startswith(b"data: ")]
    blocks = [e["content_block"]["type"] for e in events if e["type"] == "content_block_start"]
    thinking = "".join(e["delta"].get("thinking", "") for e in events if e["type"] == "content_block_delta")
    text = "".join(e["delta"].get("text", "") for e in events if e["type"] == "content_block_delta")
    assert blocks == ["thinking", "text"] and thinking == "Let me think." and text == "The answer."


@pytest.mark.parametrize("pieces, reasoning, answer", [
    (["<think>a</think>b"], "a", "b"),
    (["  <think>", "a", "</think>\nb"], "a", "b"),
    (["no tags here"], "", "no tags here"),
    (["<", "t", "x"], "", "<tx"),
    (["<think>unfinished"], "unfinished", ""),
    (["a <think>b</think>"], "", "a <think>b</think>"),  # only a leading block is reasoning
])
def test_think_splitter(pieces, reasoning, answer):
    s = ThinkSplitter()
    out = [p for piece in pieces for p in s.feed(piece)] + s.flush()
    assert "".join(t for r, t in out if r) == reasoning and "".join(t for r, t in out if not r) == answer


def test_think_tags_in_a_whole_answer():
    assert split_think("<think>plan</think>\nDone.") == ("plan", "Done.")
    unified = chat.parse_response(wire.chat_completion("m", "<think>plan</think>Done."), {"think_tags": True})
    assert unified["content"] == [{"type": "reasoning", "text": "plan"}, {"type": "text", "text": "Done."}]


def test_quirk_flags_are_validated():
    from plexus.config import ConfigError

    with pytest.raises(ConfigError) as e:
        parse_config("providers:\n  a: {type: chat, api_base_url: 'http://x', max_tokens_field: tokens}\n", "c.yaml", {})
    assert "max_tokens_field" in str(e.value)
