"""The Gemini surface through Flask's test client, upstreams faked by `responses`: Google's error
shape, the fast path to a `type: gemini` upstream (URL, provider key, body untouched), SSE versus
JSON-array streaming, translation to and from the other families, countTokens and the model list."""

import json

import pytest
import responses

from tests.support.configs import config_text
from tests.support.secrets import CLIENT_SECRET, PROVIDER_SECRET
from tests.support import gemini_wire as gw, wire

PROVIDERS = """\
  gm:
    type: gemini
    api_base_url: http://gemini.test/v1beta
    api_key: ${UPSTREAM_KEY}
  an:
    type: messages
    api_base_url: http://anthropic.test/v1
    api_key: ${UPSTREAM_KEY}
"""
ALIASES = """\
  gem:
    targets: [{provider: gm, model: gemini-2.5-flash}]
  claude:
    targets: [{provider: an, model: up-claude}]
"""
GEN = "http://gemini.test/v1beta/models/gemini-2.5-flash:generateContent"
STREAM = "http://gemini.test/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
CHAT = "http://chat.test/v1/chat/completions"
BODY = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "generationConfig": {"temperature": 0.1, "someFutureField": {"kept": True}}}


@pytest.fixture
def client(env, write_config, make_app):
    text = config_text("http://chat.test", ALIASES).replace("\nmodels:\n", "\n" + PROVIDERS + "models:\n", 1)
    return make_app(str(write_config(text)), watch=False).test_client()


@pytest.fixture
def mocked():
    with responses.RequestsMock() as rsps:
        yield rsps


def post(client, path, body, headers=None, key=True):
    h = {"x-goog-api-key": CLIENT_SECRET} if key else {}
    data = body if isinstance(body, bytes) else json.dumps(body)
    return client.post(path, data=data, headers={**h, **(headers or {})}, content_type="application/json")


# ---- errors in Google's shape --------------------------------------------------------------------------


@pytest.mark.parametrize("path, payload, headers, status, gstatus", [
    ("/v1beta/models/gem:generateContent", b"{oops", {}, 400, "INVALID_ARGUMENT"),
    ("/v1beta/models/gem:generateContent", {"contents": []}, {}, 400, "INVALID_ARGUMENT"),
    ("/v1beta/models/ghost:generateContent", BODY, {}, 404, "NOT_FOUND"),
    ("/v1beta/models/gem:generateContent", BODY, {"x-goog-api-key": "wrong-key"}, 401, "UNAUTHENTICATED"),
    ("/v1beta/models/gem:doSomething", BODY, {}, 404, "NOT_FOUND"),
])
def test_gateway_errors_use_googles_shape(client, path, payload, headers, status, gstatus):
    resp = post(client, path, payload, headers)
    assert resp.status_code == status
    err = resp.json["error"]
    assert err["code"] == status and err["status"] == gstatus and err["message"]


def test_bad_key_error_names_the_reason_google_uses(client):
    resp = post(client, "/v1beta/models/gem:generateContent", BODY, key=False)
    assert resp.status_code == 401
    assert resp.json["error"]["details"][0]["reason"] == "API_KEY_INVALID"


def test_key_in_the_query_string_is_accepted(client, mocked):
    mocked.post(GEN, json=gw.response([gw.text("Hi")]))
    resp = post(client, f"/v1beta/models/gem:generateContent?key={CLIENT_SECRET}", BODY, key=False)
    assert resp.status_code == 200


def test_gemini_upstream_error_keeps_status_and_google_status(client, mocked):
    mocked.post(GEN, status=429, json=gw.error("RESOURCE_EXHAUSTED", "Quota exceeded for gemini-2.5-flash"))
    resp = post(client, "/v1beta/models/gem:generateContent", BODY)
    assert resp.status_code == 429
    assert resp.json == {"error": {"code": 429, "message": "Quota exceeded for gemini-2.5-flash", "status": "RESOURCE_EXHAUSTED"}}


def test_openai_upstream_error_comes_back_in_googles_shape(client, mocked):
    mocked.post(CHAT, status=503, json=wire.openai_error(503, "Overloaded", "server_error"))
    resp = post(client, "/v1beta/models/fast:generateContent", BODY)
    assert resp.status_code == 503
    assert resp.json == {"error": {"code": 503, "message": "Overloaded", "status": "UNAVAILABLE"}}


# ---- the fast path -------------------------------------------------------------------------------------


def test_fast_path_forwards_the_body_untouched_with_the_provider_key(client, mocked):
    mocked.post(GEN, json=gw.response([gw.text("Hello")], usage_metadata=gw.usage(7, 2)))
    resp = post(client, "/v1beta/models/gem:generateContent", BODY)
    assert resp.status_code == 200
    assert resp.json["modelVersion"] == "gem" and resp.json["candidates"][0]["content"]["parts"] == [{"text": "Hello"}]
    sent = mocked.calls[0].request
    assert sent.url == GEN
    assert sent.headers["x-goog-api-key"] == PROVIDER_SECRET and CLIENT_SECRET not in str(sent.headers)
    assert json.loads(sent.body) == BODY


def test_fast_path_sse_stream_is_relayed_chunk_by_chunk(client, mocked):
    raw = gw.load("gemini_thinking_text_tools")
    mocked.post(STREAM, body=raw, content_type="text/event-stream")
    resp = post(client, "/v1beta/models/gem:streamGenerateContent?alt=sse", BODY)
    assert resp.status_code == 200 and resp.mimetype == "text/event-stream"
    expected = gw.sse_chunks(raw)
    for c in expected:
        c["modelVersion"] = "gem"
    assert gw.sse_chunks(resp.get_data()) == expected
    assert json.loads(mocked.calls[0].request.body) == BODY


def test_fast_path_without_alt_sse_streams_one_json_array(client, mocked):
    raw = gw.load("gemini_text_signature")
    mocked.post(STREAM, body=raw, content_type="text/event-stream")
    resp = post(client, "/v1beta/models/gem:streamGenerateContent", BODY)
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    elements = gw.array_chunks(resp.get_data())
    assert [p for e in elements for p in e["candidates"][0]["content"]["parts"]][-1]["thoughtSignature"].startswith("EuYB")
    assert mocked.calls[0].request.url == STREAM  # the upstream is always asked for SSE


def test_fast_path_stream_cut_short_ends_with_an_error_element(client, mocked):
    mocked.post(STREAM, body=b"".join(gw.stream(["Hel", "lo"])[:2]), content_type="text/event-stream")
    resp = post(client, "/v1beta/models/gem:streamGenerateContent", BODY)
    elements = gw.array_chunks(resp.get_data())
    assert elements[-1]["error"]["code"] == 502


# ---- translation ------------------------------------------------------------------------------------


def test_gemini_client_to_chat_upstream(client, mocked):
    mocked.post(CHAT, json=wire.chat_completion_full("up-model", "Sure.", tool_calls=[("call_1", "get_weather", {"city": "Paris"})]))
    body = {**BODY, "tools": [{"functionDeclarations": [{"name": "get_weather", "parameters": {
        "type": "OBJECT", "properties": {"city": {"type": "STRING"}}}}]}]}
    resp = post(client, "/v1beta/models/fast:generateContent", body)
    assert resp.status_code == 200
    out = resp.json
    assert out["modelVersion"] == "fast" and out["candidates"][0]["finishReason"] == "STOP"
    assert out["candidates"][0]["content"]["parts"] == [
        {"text": "Sure."}, {"functionCall": {"id": "call_1", "name": "get_weather", "args": {"city": "Paris"}}}]
    assert out["usageMetadata"]["promptTokenCount"] == 12
    sent = json.loads(mocked.calls[0].request.body)
    assert sent["model"] == "up-model" and sent["messages"] == [{"role": "user", "content": "hi"}]
    assert sent["tools"][0]["function"]["parameters"] == {"type": "object", "properties": {"city": {"type": "string"}}}


def test_gemini_client_streams_from_an_anthropic_upstream_as_sse(client, mocked):
    mocked.post("http://anthropic.test/v1/messages", body=gw.load("gemini_client_from_anthropic"), content_type="text/event-stream")
    resp = post(client, "/v1beta/models/claude:streamGenerateContent?alt=sse", BODY)
    assert resp.mimetype == "text/event-stream"
    chunks = gw.sse_chunks(resp.get_data())
    parts = gw.parts_of(chunks)
    assert parts[0] == {"text": "The user wants Paris weather.", "thought": True}
    assert {"functionCall": {"id": "toolu_01A9q8Ws7Ed6Rf5Tg4Yh3Uj2", "name": "get_weather", "args": {"city": "Paris"}}} in parts
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    sent = json.loads(mocked.calls[0].request.body)
    assert sent["stream"] is True and sent["model"] == "up-claude"


def test_openai_client_to_gemini_upstream(client, mocked):
    mocked.post(GEN, json=gw.response([gw.call("get_weather", {"city": "Paris"}, gw.SIGNATURE)]))
    resp = client.post("/v1/chat/completions", json={"model": "gem", "messages": [{"role": "user", "content": "Paris?"}],
                                                      "tools": [{"type": "function", "function": {"name": "get_weather",
                                                                 "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                                                "additionalProperties": False}}}]},
                       headers={"Authorization": f"Bearer {CLIENT_SECRET}"})
    assert resp.status_code == 200
    call = resp.json["choices"][0]["message"]["tool_calls"][0]
    assert call["extra_content"] == {"google": {"thought_signature": gw.SIGNATURE}}
    assert resp.json["choices"][0]["finish_reason"] == "tool_calls"
    sent = mocked.calls[0].request
    assert sent.headers["x-goog-api-key"] == PROVIDER_SECRET
    assert "additionalProperties" not in sent.body.decode()


def test_anthropic_client_streams_from_gemini_upstream(client, mocked):
    mocked.post(STREAM, body=gw.load("gemini_thinking_text_tools"), content_type="text/event-stream")
    resp = client.post("/v1/messages", json={"model": "gem", "max_tokens": 100, "stream": True,
                                             "messages": [{"role": "user", "content": "Paris and Rome?"}]},
                       headers={"x-api-key": CLIENT_SECRET, "anthropic-version": "2023-06-01"})
    events = wire.parse_sse(resp.get_data())
    kinds = [name for name, _ in events]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    blocks = [json.loads(d)["content_block"]["type"] for name, d in events if name == "content_block_start"]
    assert blocks == ["thinking", "text", "thinking", "tool_use", "tool_use"]


# ---- countTokens and the model list -------------------------------------------------------------------


def test_count_tokens_is_forwarded_to_a_gemini_upstream(client, mocked):
    mocked.post("http://gemini.test/v1beta/models/gemini-2.5-flash:countTokens", json={"totalTokens": 31})
    body = {"generateContentRequest": {"model": "models/gem", "contents": BODY["contents"]}}
    resp = post(client, "/v1beta/models/gem:countTokens", body)
    assert resp.status_code == 200 and resp.json == {"totalTokens": 31}
    assert json.loads(mocked.calls[0].request.body)["generateContentRequest"]["model"] == "models/gemini-2.5-flash"


def test_count_tokens_is_estimated_for_other_upstreams(client):
    resp = post(client, "/v1beta/models/fast:countTokens", {"contents": [{"parts": [{"text": "hello " * 100}]}]})
    assert resp.status_code == 200 and 140 < resp.json["totalTokens"] < 180


def test_model_list_in_googles_shape(client):
    resp = client.get("/v1beta/models", headers={"x-goog-api-key": CLIENT_SECRET})
    names = [m["name"] for m in resp.json["models"]]
    assert "models/gem" in names and "models/fast" in names
    assert client.get("/v1beta/models").status_code == 401


def test_translated_array_stream_is_served_as_json(client, mocked):
    mocked.post(CHAT, body=gw.load("gemini_client_from_openai"), content_type="text/event-stream")
    resp = post(client, "/v1beta/models/fast:streamGenerateContent", BODY)
    assert resp.mimetype == "application/json"
    assert gw.parts_of(gw.array_chunks(resp.get_data()))[0] == {"text": "Checking"}
