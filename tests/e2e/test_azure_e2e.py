"""Azure OpenAI (`type: azure`) end to end (issue 17): a chat deployment at its deployment URL (with
api-version), a deployment reached through the Responses API (v1 form), and the v1 chat form with a
bearer token, each serving chat in every client style through a real gateway against a fake Azure
resource; an embedding deployment through the OpenAI SDK."""

import openai
import pytest

from tests.support.chat_styles import STYLES, ask
from tests.support.embedding_wire import vector
from tests.support.fake_azure import FakeAzure
from tests.support.gateways import alias, gateway_for
from tests.support.secrets import CLIENT_SECRET, PROVIDER_SECRET

VERSION = "2024-10-21"


@pytest.fixture(scope="module")
def azure():
    with FakeAzure(PROVIDER_SECRET) as fake:
        yield fake


@pytest.fixture(scope="module")
def gw(azure, tmp_path_factory):
    config = {
        "keys": {"test": {"secret": "${PLEXUS_KEY_TEST}"}},
        "providers": {
            "az": {"type": "azure", "api_base_url": azure.url, "api_key": "${UPSTREAM_KEY}",
                   "azure": {"api_version": VERSION, "responses": ["codex-deploy"]},
                   "max_tokens_field": "max_completion_tokens"},
            "az-v1": {"type": "azure", "api_base_url": azure.url, "api_key": "${UPSTREAM_KEY}", "azure": {"auth": "bearer"}},
        },
        "models": {
            "az-chat": alias("az", "gpt-4o-deploy"),
            "az-resp": alias("az", "codex-deploy"),
            "az-v1": alias("az-v1", "gpt-4o-deploy"),
            "az-embed": alias("az", "embed-deploy", kind="embedding"),
        },
    }
    with gateway_for(config, tmp_path_factory.mktemp("azure")) as g:
        yield g


@pytest.fixture
def up(azure):
    azure.reset()
    return azure


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("style", STYLES)
def test_a_chat_deployment_in_every_client_style(gw, up, style, stream):
    assert ask(style, gw.url, "az-chat", stream) == "Hello from Azure"
    sent = up.last
    assert sent.path == f"/openai/deployments/gpt-4o-deploy/chat/completions?api-version={VERSION}"
    assert sent.headers["api-key"] == PROVIDER_SECRET and "authorization" not in sent.headers
    assert sent.body["messages"][-1] == {"role": "user", "content": "Hi"}
    assert "max_tokens" not in sent.body  # the configured quirk applies to Azure's chat deployments too


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("style", STYLES)
def test_a_responses_deployment_in_every_client_style(gw, up, style, stream):
    assert ask(style, gw.url, "az-resp", stream) == "Hello from Azure"
    sent = up.last
    assert sent.path == "/openai/v1/responses" and sent.body["model"] == "codex-deploy"
    assert bool(sent.body.get("stream")) == stream


@pytest.mark.parametrize("style", STYLES)
def test_the_v1_form_with_a_bearer_token(gw, up, style):
    assert ask(style, gw.url, "az-v1", True) == "Hello from Azure"
    sent = up.last
    assert sent.path == "/openai/v1/chat/completions" and sent.body["model"] == "gpt-4o-deploy"
    assert sent.headers["authorization"] == f"Bearer {PROVIDER_SECRET}" and "api-key" not in sent.headers


def test_an_embedding_deployment(gw, up):
    with openai.OpenAI(base_url=gw.url + "/v1", api_key=CLIENT_SECRET, max_retries=0) as client:
        got = client.embeddings.create(model="az-embed", input=["one", "three"])
    assert [d.embedding for d in got.data] == [vector("one"), vector("three")]
    assert up.last.path == f"/openai/deployments/embed-deploy/embeddings?api-version={VERSION}"
    assert up.last.body["encoding_format"] == "base64"  # the fast path: the SDK's own body
