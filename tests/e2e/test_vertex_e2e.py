"""Vertex AI (`type: vertex`) end to end (issue 17): a Gemini and a Claude model behind one Vertex
provider serve chat in every client style (OpenAI chat, Anthropic, Responses, google-genai; streamed
and not), through a real gateway, against a fake Vertex server and a fake token endpoint that follow
the real formats. The service-account key comes from `${ENV}`; a second provider uses an explicit
access token at the `global` location."""

import json

import anthropic
import openai
import pytest
import requests

from plexus.config.vertex import vertex_base_url
from tests.support.chat_styles import STYLES, ask
from tests.support.embedding_wire import vector
from tests.support.fake_vertex import FakeVertex
from tests.support.gateways import alias, gateway_for
from tests.support.secrets import CLIENT_SECRET

GEMINI, CLAUDE = "gemini-2.5-flash", "claude-sonnet-4@20250514"
PREFIX = "/v1/projects/test-project/locations"
STATIC_TOKEN = "ya29.fake-static-access-token"


@pytest.fixture(scope="module")
def vertex():
    with FakeVertex() as fake:
        fake.issued.append(STATIC_TOKEN)
        yield fake


@pytest.fixture(scope="module")
def gw(vertex, tmp_path_factory):
    config = {
        "keys": {"test": {"secret": "${PLEXUS_KEY_TEST}"}},
        "providers": {
            "vx": {"type": "vertex", "api_base_url": vertex.url,
                   "vertex": {"project": "test-project", "location": "us-east5", "credentials": "${VERTEX_SA_KEY}"}},
            "vx-global": {"type": "vertex", "api_base_url": vertex.url, "api_key": "${VERTEX_TOKEN}",
                          "vertex": {"project": "test-project", "location": "global",
                                     "publishers": {"house-model": "anthropic"}}},
        },
        "models": {
            "vgem": alias("vx", GEMINI),
            "vclaude": alias("vx", CLAUDE),
            "vclaude-global": alias("vx-global", "house-model"),
            "vembed-001": alias("vx", "gemini-embedding-001", kind="embedding"),
            "vembed-005": alias("vx", "text-embedding-005", kind="embedding"),
        },
    }
    env = {"VERTEX_SA_KEY": json.dumps(vertex.service_account_key()), "VERTEX_TOKEN": STATIC_TOKEN}
    with gateway_for(config, tmp_path_factory.mktemp("vertex"), env=env) as g:
        yield g


@pytest.fixture
def up(vertex):
    vertex.requests.clear()
    return vertex


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("style", STYLES)
def test_a_vertex_gemini_model_in_every_client_style(gw, up, style, stream):
    assert ask(style, gw.url, "vgem", stream) == "Hello from Vertex"
    (sent,) = up.requests[-1:]
    method = "streamGenerateContent?alt=sse" if stream else "generateContent"
    assert sent.path == f"{PREFIX}/us-east5/publishers/google/models/{GEMINI}:{method}"
    assert sent.body["contents"][-1] == {"role": "user", "parts": [{"text": "Hi"}]}
    assert sent.headers["authorization"].startswith("Bearer ya29.fake-vertex-token-")
    assert "x-goog-api-key" not in sent.headers


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("style", STYLES)
def test_a_vertex_claude_model_in_every_client_style(gw, up, style, stream):
    assert ask(style, gw.url, "vclaude", stream) == "Hello from Vertex Claude"
    sent = up.requests[-1]
    method = "streamRawPredict" if stream else "rawPredict"
    assert sent.path == f"{PREFIX}/us-east5/publishers/anthropic/models/{CLAUDE}:{method}"
    assert sent.body["anthropic_version"] == "vertex-2023-10-16" and "model" not in sent.body
    assert sent.body["messages"][-1]["role"] == "user" and bool(sent.body.get("stream")) == stream
    assert "anthropic-version" not in sent.headers and "x-api-key" not in sent.headers


def test_an_anthropic_client_to_vertex_claude_takes_the_fast_path(gw, up):
    system = [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]
    with anthropic.Anthropic(base_url=gw.url, api_key=CLIENT_SECRET, max_retries=0) as client:
        got = client.messages.create(model="vclaude", max_tokens=50, system=system, messages=[{"role": "user", "content": "Hi"}],
                                     extra_headers={"anthropic-beta": "context-1m-2025-08-07"})
        counted = client.messages.count_tokens(model="vclaude", messages=[{"role": "user", "content": "Hi"}])
    assert got.content[0].text == "Hello from Vertex Claude" and got.model == "vclaude"
    sent = up.requests[-1]
    assert sent.body == {"anthropic_version": "vertex-2023-10-16", "max_tokens": 50, "system": system,
                         "messages": [{"role": "user", "content": "Hi"}]}
    assert sent.headers["anthropic-beta"] == "context-1m-2025-08-07"
    assert counted.input_tokens > 0 and len(up.requests) == 1  # an estimate: Vertex's Claude count is not called


def test_a_gemini_count_goes_to_vertex(gw, up):
    resp = requests.post(f"{gw.url}/v1beta/models/vgem:countTokens", headers={"x-goog-api-key": CLIENT_SECRET},
                         json={"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}, timeout=10)
    assert resp.json()["totalTokens"] == 7
    assert up.requests[-1].path == f"{PREFIX}/us-east5/publishers/google/models/{GEMINI}:countTokens"


def test_the_token_is_minted_once_for_all_calls(gw, vertex):
    for model in ("vgem", "vclaude"):
        ask("openai", gw.url, model, False)
    assert len(vertex.token_requests) <= 1  # the earlier tests of this module may have minted it already
    assert len(vertex.issued) == 2  # the static token, and the one minted token


def test_an_explicit_access_token_at_the_global_location_with_a_configured_publisher(gw, up):
    assert ask("openai", gw.url, "vclaude-global", False) == "Hello from Vertex Claude"
    sent = up.requests[-1]
    assert sent.path == f"{PREFIX}/global/publishers/anthropic/models/house-model:rawPredict"
    assert sent.headers["authorization"] == f"Bearer {STATIC_TOKEN}" and up.token_requests == []


def test_hosts_by_location():
    assert vertex_base_url({"location": "global"}) == "https://aiplatform.googleapis.com"
    assert vertex_base_url({"location": "eu"}) == "https://aiplatform.eu.rep.googleapis.com"
    assert vertex_base_url({"location": "us-east5"}) == "https://us-east5-aiplatform.googleapis.com"


@pytest.mark.parametrize("model,batches", [("gemini-embedding-001", [1, 1, 1]), ("text-embedding-005", [3])])
def test_vertex_embeddings_through_the_openai_sdk(gw, up, model, batches):
    texts = ["one", "two words", "three more words"]
    with openai.OpenAI(base_url=gw.url + "/v1", api_key=CLIENT_SECRET, max_retries=0) as client:
        got = client.embeddings.create(model="vembed-" + model[-3:], input=texts, dimensions=4)
    assert [d.embedding for d in got.data] == [vector(t, 4) for t in texts]
    assert got.usage.prompt_tokens == 6  # Vertex's token counts, summed over the requests
    calls = [r for r in up.requests if r.path.endswith(":predict")]
    assert [len(c.body["instances"]) for c in calls] == batches
    assert calls[0].path == f"{PREFIX}/us-east5/publishers/google/models/{model}:predict"
    assert calls[0].body["parameters"] == {"outputDimensionality": 4}
