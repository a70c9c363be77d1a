"""Issue 18, the request path: capture after authentication, upstream state only for its owner,
every configured secret redacted before a cut, bounded upstream bodies and stream events, stored
Responses turns without their history, a default retention, refused keys counted not stored,
stored responses owned by a key's stable id, and nesting capped at parse time."""

import json
import time

import pytest
import yaml

from plexus.config import load_config, parse_config
from tests.support import wire
from tests.support.gateways import alias, provider
from tests.support.secrets import ADMIN_SECRET, CLIENT_SECRET, HEADER_SECRET, OTHER_SECRET, PROVIDER_SECRET

ADMIN = {"x-admin-key": ADMIN_SECRET}
TEST = {"Authorization": f"Bearer {CLIENT_SECRET}"}
OTHER = {"Authorization": f"Bearer {OTHER_SECRET}"}


def config(url, **extra):
    return {
        "admin_key": "${PLEXUS_ADMIN_KEY}",
        "keys": {"test": {"secret": "${PLEXUS_KEY_TEST}"}, "other": {"secret": OTHER_SECRET}},
        "providers": {
            "up": provider("chat", f"{url}/v1", timeouts={"connect": 2, "read": 5},
                           headers={"x-upstream-token": "${UPSTREAM_HEADER_TOKEN}"}),
            "rs": provider("responses", f"{url}/v1", timeouts={"connect": 2, "read": 5}),
            "gm": provider("gemini", f"{url}/v1beta", timeouts={"connect": 2, "read": 5}),
        },
        "models": {"fast": alias("up", "up-model"), "to-responses": alias("rs", "up-gpt"),
                   "to-gemini": alias("gm", "gemini-2.5-flash")},
        **extra,
    }


@pytest.fixture
def make(env, write_config, upstream, make_app, tmp_path):
    def build(**extra):
        app = make_app(str(write_config(yaml.safe_dump(config(upstream.url, **extra), sort_keys=False))), watch=False,
                       DATABASE=str(tmp_path / "plexus.db"))
        app.testing = True
        return app

    return build


@pytest.fixture
def app(make):
    return make()


@pytest.fixture
def client(app):
    return app.test_client()


def chat(client, headers=TEST, **body):
    return client.post("/v1/chat/completions", headers=headers,
                       json={"model": "fast", "messages": [{"role": "user", "content": "hi"}], **body})


def responses(client, headers=TEST, **body):
    return client.post("/v1/responses", headers=headers, json={"model": "to-responses", "input": "hi", **body})


def stored_usage(app, client):
    app.extensions["plexus.usage"].writer.flush()
    return client.get("/v0/management/usage", headers=ADMIN).json["data"]


# ---- 3. debug capture only after the key is checked ----------------------------------------------------------


def test_a_request_with_a_wrong_key_is_never_captured(app, client):
    assert client.put("/v0/management/capture", headers=ADMIN, json={"enabled": True}).status_code == 200
    assert chat(client, headers={"Authorization": "Bearer sk-not-a-key-at-all"}, filler="x" * 1000).status_code == 401
    assert chat(client).status_code == 200
    capture = app.extensions["plexus"].capture
    capture.flush()
    assert [c["status"] for c in capture.list()] == ["200"]


# ---- 4. upstream state belongs to its owner; shared upstream state is refused -------------------------------


def test_an_unknown_previous_response_id_is_not_forwarded_on_the_fast_path(client, upstream):
    resp = responses(client, previous_response_id="resp_someone_elses")
    assert resp.status_code == 400 and "resp_someone_elses" in resp.json["error"]["message"]
    assert upstream.requests == []


def test_another_keys_stored_response_cannot_be_continued(client, upstream):
    upstream.reply(body=wire.responses_response("up-gpt", [wire.responses_message_item("hello")], id="resp_of_other"))
    assert responses(client, headers=OTHER).status_code == 200
    resp = responses(client, previous_response_id="resp_of_other")
    assert resp.status_code == 400 and len(upstream.requests) == 1


@pytest.mark.parametrize("path, body, param", [
    ("/v1/responses", {"model": "to-responses", "input": "hi", "conversation": "conv_123"}, "conversation"),
    ("/v1/responses", {"model": "to-responses", "input": [{"type": "item_reference", "id": "msg_1"}]}, "input.0"),
    ("/v1/responses", {"model": "to-responses", "input": [{"role": "user", "content": [
        {"type": "input_file", "file_id": "file-abc"}]}]}, "input.0.content.0"),
    ("/v1/chat/completions", {"model": "fast", "messages": [{"role": "user", "content": [
        {"type": "file", "file": {"file_id": "file-abc"}}]}]}, "messages.0.content.0.file"),
    ("/v1beta/models/to-gemini:generateContent", {"contents": [{"role": "user", "parts": [{"text": "hi"}]}],
                                                  "cachedContent": "cachedContents/abc"}, None),
    ("/v1beta/models/to-gemini:generateContent", {"contents": [{"role": "user", "parts": [{"fileData": {
        "mimeType": "application/pdf", "fileUri": "https://generativelanguage.googleapis.com/v1beta/files/abc"}}]}]},
     None),
])
def test_references_to_shared_upstream_state_are_refused(client, upstream, path, body, param):
    resp = client.post(path, headers={**TEST, "x-goog-api-key": CLIENT_SECRET}, json=body)
    assert resp.status_code == 400, resp.get_data(as_text=True)
    assert upstream.requests == []
    if param:
        assert resp.json["error"]["param"] == param


def test_a_public_file_uri_is_still_fine(client, upstream):
    upstream.reply(body={"candidates": [{"content": {"role": "model", "parts": [{"text": "ok"}]}, "finishReason": "STOP"}]})
    body = {"contents": [{"role": "user", "parts": [{"fileData": {"mimeType": "image/png",
                                                                  "fileUri": "https://example.com/files/cat.png"}}]}]}
    assert client.post("/v1beta/models/to-gemini:generateContent", headers={"x-goog-api-key": CLIENT_SECRET},
                       json=body).status_code == 200


# ---- 5. every configured secret is redacted, before the message is cut ----------------------------------------


def test_an_echoed_header_secret_is_redacted_everywhere(app, client, upstream):
    upstream.reply(status=400, body=wire.openai_error(400, f"bad header x-upstream-token: {HEADER_SECRET}"))
    resp = chat(client)
    assert resp.status_code == 400 and "***" in resp.json["error"]["message"]
    assert HEADER_SECRET not in json.dumps(stored_usage(app, client))


def test_a_key_straddling_the_cut_leaves_no_prefix(app, client, upstream):
    upstream.reply(status=400, body=("x" * 490 + " " + PROVIDER_SECRET).encode(), headers={"Content-Type": "text/plain"})
    message = chat(client).json["error"]["message"]
    assert len(message) <= 520 and PROVIDER_SECRET[:5] not in message
    assert PROVIDER_SECRET[:5] not in json.dumps(stored_usage(app, client))


def test_extra_body_credentials_and_other_secrets_are_config_secrets():
    cfg = parse_config(yaml.safe_dump({"providers": {"p": {
        "type": "chat", "api_base_url": "http://x/v1", "api_key": "sk-provider-key-1",
        "headers": {"Authorization": "Bearer hdr-token-123456", "anthropic-version": "2023-06-01"},
        "extra_body": {"provider": {"order": ["anthropic"]}, "auth": {"api_key": "body-secret-12345"}}}}}))
    assert {"sk-provider-key-1", "Bearer hdr-token-123456", "hdr-token-123456", "body-secret-12345"} <= set(cfg.secrets())
    assert "2023-06-01" not in cfg.secrets() and "anthropic" not in cfg.secrets()


# ---- 6. bounded upstream bodies and stream events ---------------------------------------------------------------


def test_a_huge_stream_line_fails_the_stream_quickly_and_cleanly(client, upstream):
    line = b"data: {\"x\": \"" + b"y" * (6 * 1024 * 1024) + b"\"}\n\n"
    upstream.reply(events=[line[i:i + 65536] for i in range(0, len(line), 65536)])
    started = time.monotonic()
    resp = chat(client, stream=True)
    body = resp.get_data()
    assert time.monotonic() - started < 5 and len(body) < 10_000
    assert b'"error"' in body and b"longer than 4194304 bytes" in body and b"[DONE]" not in body


def test_a_non_streamed_answer_over_the_cap_is_a_502(make, upstream):
    client = make(limits={"upstream_body_bytes": 65536}).test_client()
    upstream.reply(body=wire.chat_completion("up-model", "z" * 100_000))
    resp = chat(client)
    assert resp.status_code == 502 and "more than 65536 bytes" in resp.json["error"]["message"]
    upstream.reply(body=wire.chat_completion("up-model", "small"))
    assert chat(client).status_code == 200


def test_the_sse_decoder_is_linear_in_a_long_line():
    from plexus.wire.sse import SSEDecoder

    decoder = SSEDecoder(max_bytes=64 * 1024 * 1024)
    started = time.monotonic()
    decoder.feed(b"data: ")
    for _ in range(24 * 16):  # 24 MiB in 64 KiB reads
        assert decoder.feed(b"x" * 65536) == []
    (event,) = decoder.feed(b"\n\n")
    assert len(event.data) == 24 * 1024 * 1024 and time.monotonic() - started < 2


# ---- 9. stored turns without their history; retention; refused keys --------------------------------------------


def test_a_follow_up_turn_stores_only_its_new_items_and_its_parent(app, client, upstream):
    big = "long context " * 2000
    upstream.reply(body=wire.responses_response("up-gpt", [wire.responses_message_item("one")], id="resp_t1"))
    upstream.reply(body=wire.responses_response("up-gpt", [wire.responses_message_item("two")], id="resp_t2"))
    upstream.reply(body=wire.responses_response("up-gpt", [wire.responses_message_item("three")], id="resp_t3"))
    assert responses(client, input=big).status_code == 200
    assert responses(client, input="and then?", previous_response_id="resp_t1").status_code == 200
    assert responses(client, input="and then??", previous_response_id="resp_t2").status_code == 200
    sent = upstream.last.body["input"]  # the upstream still gets the whole conversation
    assert [i.get("role") for i in sent] == ["user", "assistant", "user", "assistant", "user"] and big in json.dumps(sent)
    storage = app.extensions["plexus.services"].storage
    owner = app.extensions["plexus"].config.keys["test"].id
    third = storage.responses.get("resp_t3", owner)
    assert third["parent"] == "resp_t2" and len(third["input"]) == 1 and big not in json.dumps(third)
    assert client.get("/v1/responses/resp_t3", headers=TEST).json["id"] == "resp_t3"


def test_stored_responses_have_a_default_retention():
    assert parse_config("").responses_retention == 30
    assert parse_config("retention_days: 7\n").responses_retention == 7
    assert parse_config("retention_days: 7\nresponses_retention_days: 90\n").responses_retention == 90
    assert parse_config("responses_retention_days: 0\n").responses_retention is None


def test_a_refused_key_is_counted_in_metrics_not_stored(app, client):
    for _ in range(3):
        assert chat(client, headers={"Authorization": "Bearer sk-wrong-wrong-wrong"}).status_code == 401
    assert stored_usage(app, client) == []
    scrape = client.get("/metrics", headers={"Authorization": f"Bearer {ADMIN_SECRET}"}).get_data(as_text=True)
    assert any('status="401"' in line and line.rstrip().endswith("3.0") for line in scrape.splitlines()
               if line.startswith("plexus_requests_total"))


# ---- 11. stored responses belong to a key's stable id ------------------------------------------------------------


def test_a_new_key_reusing_a_revoked_keys_name_sees_nothing_of_it(app, client, upstream, monkeypatch):
    upstream.reply(body=wire.responses_response("up-gpt", [wire.responses_message_item("secret plans")], id="resp_old"))
    assert responses(client).status_code == 200
    assert client.get("/v1/responses/resp_old", headers=TEST).status_code == 200
    gw = app.extensions["plexus"]
    monkeypatch.setenv("PLEXUS_KEY_TEST", "sk-plexus-test-NEWHOLDER-0003")  # revoked, and the name given anew
    gw.apply(load_config(gw.config.path))
    new = {"Authorization": "Bearer sk-plexus-test-NEWHOLDER-0003"}
    assert client.get("/v1/responses/resp_old", headers=new).status_code == 404
    assert responses(client, headers=new, previous_response_id="resp_old").status_code == 400


# ---- 16. nesting depth --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [300, 1010])
def test_deep_nesting_is_a_400_before_anything_is_sent(client, upstream, depth):
    deep = "[" * depth + "]" * depth
    raw = '{"model": "fast", "messages": [{"role": "user", "content": "hi"}], "metadata": ' + deep + "}"
    resp = client.post("/v1/chat/completions", headers=TEST, data=raw, content_type="application/json")
    assert resp.status_code == 400 and "nested" in resp.json["error"]["message"]
    assert upstream.requests == []


def test_ordinary_nesting_passes(client, upstream):
    nested = {"type": "object", "properties": {}}
    node = nested
    for i in range(30):
        node["properties"][f"p{i}"] = {"type": "object", "properties": {}}
        node = node["properties"][f"p{i}"]
    tools = [{"type": "function", "function": {"name": "f", "parameters": nested}}]
    assert chat(client, tools=tools).status_code == 200
