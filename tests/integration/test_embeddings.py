"""Embedding calls through the pipeline (issue 17): failover and cooldowns as for chat, one usage
record with input tokens, a provider type without embeddings refused, base64 both ways."""

import json

import pytest

from plexus.unified.embeddings import batches, from_base64, to_base64
from tests.support.embedding_wire import vector
from tests.support.fake_upstream import FakeUpstream
from tests.support.secrets import CLIENT_SECRET


@pytest.fixture
def fakes():
    with FakeUpstream() as a, FakeUpstream() as b:
        yield a, b


@pytest.fixture
def setup(env, write_config, tmp_path, fakes, make_app):
    a, b = fakes
    text = f"""
keys: {{test: {{secret: "${{PLEXUS_KEY_TEST}}"}}}}
providers:
  a: {{type: chat, api_base_url: "{a.url}/v1", api_key: ka}}
  b: {{type: chat, api_base_url: "{b.url}/v1", api_key: kb}}
  an: {{type: messages, api_base_url: "{a.url}/v1", api_key: ka}}
models:
  vectors: {{kind: embedding, selector: in_order, targets: [{{provider: a, model: ea}}, {{provider: b, model: eb}}]}}
  claude-vectors: {{kind: embedding, targets: [{{provider: an, model: ca}}]}}
"""
    app = make_app(str(write_config(text)), watch=False, DATABASE=str(tmp_path / "p.db"))
    records = []
    app.extensions["plexus"].sinks.append(records.append)
    return app, records, a, b


def embed(client, model="vectors", **extra):
    return client.post("/v1/embeddings", data=json.dumps({"model": model, "input": ["hi there", "x"], **extra}),
                       content_type="application/json", headers={"Authorization": f"Bearer {CLIENT_SECRET}"})


def test_a_5xx_fails_over_cools_down_and_leaves_one_record(setup):
    app, records, a, b = setup
    a.reply(status=503, body={"error": {"message": "busy", "type": "server_error"}})
    resp = embed(app.test_client(), encoding_format="float")
    assert resp.status_code == 200
    assert [d["embedding"] for d in resp.get_json()["data"]] == [vector("hi there"), vector("x")]
    assert b.last.body["model"] == "eb"
    (rec,) = records
    assert [x["status"] for x in rec.attempts] == [503, 200]
    assert (rec.provider, rec.usage.input_tokens, rec.status, rec.api_style) == ("b", 3, 200, "embeddings")
    assert app.extensions["plexus"].cooldowns.until("a", "ea") is not None


def test_a_provider_type_without_embeddings_is_a_clear_400(setup):
    app, records, a, b = setup
    resp = embed(app.test_client(), model="claude-vectors")
    assert resp.status_code == 400
    assert "does not serve embeddings" in resp.get_json()["error"]["message"]
    assert a.requests == [] and records[0].status == 400


def test_bad_input_is_a_400_naming_the_field(setup):
    app, _, a, _ = setup
    resp = embed(app.test_client(), input=[])
    assert resp.status_code == 400 and resp.get_json()["error"]["param"] == "input"
    resp = embed(app.test_client(), encoding_format="int8")
    assert resp.status_code == 400 and resp.get_json()["error"]["param"] == "encoding_format"
    assert a.requests == []


def test_base64_is_little_endian_float32_and_batches_keep_order():
    assert to_base64([1.0, -2.5]) == "AACAPwAAIMA="
    assert from_base64(to_base64([0.25, 3.0])) == [0.25, 3.0]
    assert batches(list(range(5)), 2) == [[0, 1], [2, 3], [4]]
