"""Embeddings end to end (issue 17): the official OpenAI SDK's `embeddings.create` and google-genai's
`embed_content` through a real gateway to OpenAI-compatible and Gemini fake upstreams — fast paths,
translations with batch splitting and base64 done by the gateway, usage rows with tokens and cost,
kind checks in each client's error shape, and the model lists."""

import time

import openai
import pytest
import requests
from google import genai
from google.genai import types as gt

from tests.support.embedding_wire import vector
from tests.support.fake_upstream import FakeUpstream
from tests.support.gateways import alias, gateway_for, provider
from tests.support.secrets import ADMIN_SECRET, CLIENT_SECRET


@pytest.fixture(scope="module")
def fake():
    with FakeUpstream() as up:
        yield up


@pytest.fixture(scope="module")
def gw(fake, tmp_path_factory):
    config = {
        "admin_key": "${PLEXUS_ADMIN_KEY}",
        "keys": {"test": {"secret": "${PLEXUS_KEY_TEST}"}},
        "providers": {
            "oa": provider("chat", f"{fake.url}/v1", models={"text-embedding-3-small": {"pricing": {"input": 0.02}}}),
            "gm": provider("gemini", f"{fake.url}/v1beta"),
            "small": provider("chat", f"{fake.url}/small/v1", embeddings={"batch_size": 2, "base64": False}),
        },
        "models": {
            "embed-oa": alias("oa", "text-embedding-3-small", kind="embedding"),
            "embed-gm": alias("gm", "gemini-embedding-001", kind="embedding"),
            "embed-small": alias("small", "small-embed", kind="embedding"),
            "chatty": alias("oa", "gpt-4o-mini"),
        },
    }
    with gateway_for(config, tmp_path_factory.mktemp("embeddings")) as g:
        yield g


@pytest.fixture
def up(fake):
    fake.reset()
    return fake


@pytest.fixture(scope="module")
def oa(gw):
    with openai.OpenAI(base_url=gw.url + "/v1", api_key=CLIENT_SECRET, max_retries=0, timeout=20) as client:
        yield client


@pytest.fixture(scope="module")
def gm(gw):
    options = gt.HttpOptions(base_url=gw.url, api_version="v1beta", timeout=20_000)
    with genai.Client(api_key=CLIENT_SECRET, http_options=options) as client:
        yield client


def usage_row(gw, request_id):
    for _ in range(100):
        rows = requests.get(f"{gw.url}/v0/management/usage", headers={"x-admin-key": ADMIN_SECRET}, timeout=10).json()["data"]
        found = [r for r in rows if r["request_id"] == request_id]
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"no usage row for {request_id}")


def test_openai_sdk_base64_by_default_takes_the_fast_path_with_usage_and_cost(gw, up, oa):
    raw = oa.embeddings.with_raw_response.create(model="embed-oa", input=["one two", "three"])
    got = raw.parse()
    assert [d.embedding for d in got.data] == [vector("one two"), vector("three")]
    assert got.model == "embed-oa" and got.usage.prompt_tokens == 3
    sent = up.last
    assert sent.path == "/v1/embeddings"
    assert sent.body == {"model": "text-embedding-3-small", "input": ["one two", "three"], "encoding_format": "base64"}
    row = usage_row(gw, raw.headers["x-request-id"])
    assert (row["api_style"], row["alias"], row["fast_path"], row["status"]) == ("embeddings", "embed-oa", True, 200)
    assert row["input_tokens"] == 3 and row["output_tokens"] == 0 and not row["estimated"]
    assert row["cost"] == pytest.approx(3 * 0.02 / 1e6)


def test_openai_sdk_floats_token_arrays_and_dimensions(up, oa):
    got = oa.embeddings.create(model="embed-oa", input=[[1, 2, 3], [4]], dimensions=2, encoding_format="float")
    assert [d.embedding for d in got.data] == [vector([1, 2, 3], 2), vector([4], 2)]
    assert up.last.body["input"] == [[1, 2, 3], [4]] and up.last.body["dimensions"] == 2


def test_openai_sdk_to_a_gemini_upstream_splits_batches_of_100_in_order_and_encodes_base64(up, oa):
    texts = [f"text number {'x' * i}" for i in range(150)]
    got = oa.embeddings.create(model="embed-gm", input=texts)  # the SDK asks for base64
    assert [d.embedding for d in got.data] == [vector(t) for t in texts]
    assert [d.index for d in got.data] == list(range(150))
    assert got.usage.prompt_tokens > 0  # estimated: Gemini reports none
    calls = up.requests
    assert [c.path for c in calls] == ["/v1beta/models/gemini-embedding-001:batchEmbedContents"] * 2
    assert [len(c.body["requests"]) for c in calls] == [100, 50]
    assert calls[1].body["requests"][0] == {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": texts[100]}]}}
    assert calls[0].headers["x-goog-api-key"]


def test_a_configured_batch_limit_and_no_upstream_base64(up, oa):
    texts = ["a", "bb", "ccc", "dddd", "eeeee"]
    got = oa.embeddings.create(model="embed-small", input=texts)
    assert [d.embedding for d in got.data] == [vector(t) for t in texts]
    assert [c.body["input"] for c in up.requests] == [["a", "bb"], ["ccc", "dddd"], ["eeeee"]]
    assert {c.body["encoding_format"] for c in up.requests} == {"float"}
    assert got.usage.prompt_tokens == 5  # the upstream's counts, summed


def test_genai_embed_content_fast_path_to_gemini(up, gm):
    got = gm.models.embed_content(model="embed-gm", contents=["hello", "there you"],
                                  config=gt.EmbedContentConfig(output_dimensionality=4, task_type="RETRIEVAL_QUERY"))
    assert [e.values for e in got.embeddings] == [vector("hello", 4), vector("there you", 4)]
    sent = up.last
    assert sent.path == "/v1beta/models/gemini-embedding-001:batchEmbedContents"
    assert [r["model"] for r in sent.body["requests"]] == ["models/gemini-embedding-001"] * 2
    assert sent.body["requests"][0]["outputDimensionality"] == 4


def test_genai_embed_content_to_an_openai_upstream(up, gm):
    got = gm.models.embed_content(model="embed-oa", contents=["hello", "there you"],
                                  config=gt.EmbedContentConfig(output_dimensionality=2))
    assert [e.values for e in got.embeddings] == [vector("hello", 2), vector("there you", 2)]
    assert up.last.path == "/v1/embeddings"
    assert up.last.body == {"model": "text-embedding-3-small", "input": ["hello", "there you"], "encoding_format": "float",
                            "dimensions": 2}


def test_single_embed_content_over_rest(gw, up):
    resp = requests.post(f"{gw.url}/v1beta/models/embed-gm:embedContent", headers={"x-goog-api-key": CLIENT_SECRET},
                         json={"content": {"parts": [{"text": "solo"}]}}, timeout=10)
    assert resp.status_code == 200 and resp.json() == {"embedding": {"values": vector("solo")}}
    assert up.last.path == "/v1beta/models/gemini-embedding-001:embedContent"


def test_the_wrong_kind_of_call_is_a_400_in_the_clients_shape(up, oa, gm):
    with pytest.raises(openai.BadRequestError, match="embedding model"):
        oa.chat.completions.create(model="embed-oa", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.BadRequestError, match="chat model"):
        oa.embeddings.create(model="chatty", input="hi")
    with pytest.raises(genai.errors.ClientError) as caught:
        gm.models.embed_content(model="chatty", contents=["hi"])
    assert caught.value.code == 400 and caught.value.status == "INVALID_ARGUMENT"
    assert up.requests == []


def test_model_lists_mark_embedding_aliases(gw, oa, gm):
    kinds = {m.id: getattr(m, "kind", None) for m in oa.models.list()}
    assert kinds == {"embed-oa": "embedding", "embed-gm": "embedding", "embed-small": "embedding", "chatty": None}
    methods = {m.name: m.supported_actions for m in gm.models.list()}
    assert methods["models/embed-gm"] == ["embedContent", "batchEmbedContents"]
    assert "generateContent" in methods["models/chatty"]
