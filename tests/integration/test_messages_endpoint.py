"""POST /v1/messages and /v1/messages/count_tokens: auth, errors in Anthropic's shape, routing."""

import json

import pytest
import responses

from tests.support.configs import config_text
from tests.support.secrets import CLIENT_SECRET, PROVIDER_SECRET
from tests.support import wire

EXTRA = """\
  claude:
    targets: [{provider: an, model: up-claude}]
"""
PROVIDER = """\
  an:
    type: messages
    api_base_url: http://anthropic.test/v1
    api_key: ${UPSTREAM_KEY}
"""


@pytest.fixture
def client(env, write_config, make_app):
    text = config_text("http://chat.test", EXTRA).replace("\nmodels:\n", "\n" + PROVIDER + "models:\n", 1)
    return make_app(str(write_config(text)), watch=False).test_client()


def post(client, path, body, headers=None):
    h = {"x-api-key": CLIENT_SECRET, "anthropic-version": "2023-06-01", **(headers or {})}
    data = body if isinstance(body, bytes) else json.dumps(body)
    return client.post(path, data=data, headers=h, content_type="application/json")


def body(**kw):
    return {"model": "claude", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}], **kw}


@pytest.mark.parametrize("payload, headers, status, etype", [
    (b"{oops", {}, 400, "invalid_request_error"),
    ({"model": "claude", "messages": [{"role": "user", "content": "x"}]}, {}, 400, "invalid_request_error"),
    ({"model": "ghost", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}, {}, 404, "not_found_error"),
    ({"model": "claude", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}, {"x-api-key": "bad-key-123"}, 401, "authentication_error"),
])
def test_gateway_errors_use_anthropics_shape(client, payload, headers, status, etype):
    resp = post(client, "/v1/messages", payload, headers)
    assert resp.status_code == status
    assert resp.json["type"] == "error" and resp.json["error"]["type"] == etype and resp.json["error"]["message"]


def test_beta_query_and_headers_reach_the_anthropic_upstream(client):
    with responses.RequestsMock() as rsps:
        rsps.post("http://anthropic.test/v1/messages", json=wire.anthropic_message("up-claude", [wire.text_block("Hi")]))
        resp = post(client, "/v1/messages?beta=true", body(), {"anthropic-beta": "a-2025,b-2026"})
        sent = rsps.calls[0].request
    assert resp.status_code == 200 and resp.json["model"] == "claude"
    assert sent.headers["anthropic-beta"] == "a-2025,b-2026" and sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.headers["x-api-key"] == PROVIDER_SECRET
    assert json.loads(sent.body) == {**body(), "model": "up-claude"}


def test_upstream_anthropic_error_keeps_status_type_and_message(client):
    with responses.RequestsMock() as rsps:
        rsps.post("http://anthropic.test/v1/messages", status=529,
                  json={"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
        resp = post(client, "/v1/messages", body())
    assert resp.status_code == 529
    assert resp.json == {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}


def test_openai_upstream_error_comes_back_in_anthropic_shape(client):
    with responses.RequestsMock() as rsps:
        rsps.post("http://chat.test/v1/chat/completions", status=429, json=wire.openai_error(429, "Slow down", "requests", "rate_limit_exceeded"))
        resp = post(client, "/v1/messages", body(model="fast"))
    assert resp.status_code == 429
    assert resp.json == {"type": "error", "error": {"type": "rate_limit_error", "message": "Slow down"}}


def test_count_tokens_is_forwarded_to_anthropic(client):
    with responses.RequestsMock() as rsps:
        rsps.post("http://anthropic.test/v1/messages/count_tokens", json={"input_tokens": 42})
        resp = post(client, "/v1/messages/count_tokens?beta=true", {"model": "claude", "messages": [{"role": "user", "content": "hi"}]})
        assert json.loads(rsps.calls[0].request.body)["model"] == "up-claude"
    assert resp.status_code == 200 and resp.json == {"input_tokens": 42}


def test_count_tokens_is_estimated_for_other_upstreams(client):
    resp = post(client, "/v1/messages/count_tokens", {"model": "fast", "messages": [{"role": "user", "content": "hello " * 100}]})
    assert resp.status_code == 200 and 140 < resp.json["input_tokens"] < 170


def test_unknown_path_under_messages_answers_in_anthropic_shape(client):
    resp = client.get("/v1/messages/nope")
    assert resp.status_code in (404, 405) and resp.json["type"] == "error"
