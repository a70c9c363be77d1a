"""Routing that knows the models (issue 16), through the app: what /v1/models reports, session
affinity, context-aware routing and failover, the selectors, empty answers."""

import json

import pytest

from tests.support.secrets import CLIENT_SECRET

AUTH = {"Authorization": f"Bearer {CLIENT_SECRET}"}


def config(a, b, models, providers=""):
    return f"""
keys: {{test: {{secret: "${{PLEXUS_KEY_TEST}}"}}}}
providers:
  a: {{type: chat, api_base_url: "{a}/v1", api_key: ka, timeouts: {{connect: 2, read: 5}},
      models: {{short: {{context_window: 1000}}, gpt-4o: {{pricing: {{input: 1, output: 1}}}}}}}}
  b: {{type: chat, api_base_url: "{b}/v1", api_key: kb, timeouts: {{connect: 2, read: 5}},
      models: {{long: {{context_window: 100000}}}}}}
{providers}
models:
{models}
"""


@pytest.fixture
def gateway(env, write_config, make_app, tmp_path):
    def make(a, b, models, providers=""):
        app = make_app(str(write_config(config(a, b, models, providers))), watch=False, DATABASE=str(tmp_path / "p.db"))
        records = []
        app.extensions["plexus"].sinks.append(records.append)
        return app, app.test_client(), records

    return make


def test_models_carry_the_context_window_and_max_output(gateway):
    _, client, _ = gateway("http://127.0.0.1:9", "http://127.0.0.1:9", """
  both: {targets: [{provider: a, model: short}, {provider: b, model: long}]}
  known: {targets: [{provider: a, model: gpt-4o-2024-08-06}]}
  unknown: {targets: [{provider: a, model: made-up}]}""")
    listed = {m["id"]: m for m in client.get("/v1/models", headers=AUTH).json["data"]}
    assert listed["both"]["context_length"] == listed["both"]["context_window"] == 100000
    assert listed["known"]["context_length"] == 128000 and listed["known"]["max_output_tokens"] == 16384
    assert listed["known"]["top_provider"] == {"context_length": 128000, "max_completion_tokens": 16384}
    assert set(listed["unknown"]) == {"id", "object", "created", "owned_by"}
    gemini = {m["displayName"]: m for m in client.get("/v1beta/models", headers={"x-goog-api-key": CLIENT_SECRET}).json["models"]}
    assert (gemini["known"]["inputTokenLimit"], gemini["known"]["outputTokenLimit"]) == (128000, 16384)
    assert "inputTokenLimit" not in gemini["unknown"]


def chat(client, model, content="hi", headers=None, **extra):
    body = {"model": model, "messages": [{"role": "user", "content": content}], **extra}
    return client.post("/v1/chat/completions", data=json.dumps(body), content_type="application/json",
                       headers={**AUTH, **(headers or {})})
