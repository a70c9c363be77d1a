"""The real gateway under gunicorn + gevent, a fake upstream on 127.0.0.1, the official OpenAI SDK."""

import threading
import time
from pathlib import Path

import openai
import pytest
import requests

from tests.support.configs import config_text
from tests.support.secrets import ADMIN_SECRET, CLIENT_SECRET
from tests.support import wire
from tests.support.gateway_process import ROOT, GatewayProcess
from tests.support.gateways import SHARED_ALIASES, gateway_for


@pytest.fixture
def sdk(gateway):
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=CLIENT_SECRET, max_retries=0, timeout=20)


def test_sdk_non_streamed(sdk, fake):
    fake.reply(body=wire.chat_completion("up-model-2024-07-18", "Bonjour", usage=wire.chat_usage(30, 4, cached=10)))
    result = sdk.chat.completions.create(model="fast", messages=[{"role": "user", "content": "hi"}], temperature=0.5)
    assert result.model == "fast"
    assert result.choices[0].message.content == "Bonjour"
    assert result.usage.prompt_tokens == 30 and result.usage.prompt_tokens_details.cached_tokens == 10
    assert fake.last.body["model"] == "up-model" and fake.last.body["temperature"] == 0.5
    assert fake.last.path == "/v1/chat/completions"


def test_sdk_streamed(sdk, fake):
    fake.reply(events=wire.chat_stream("up-model", ["One", " two", " three"]))
    stream = sdk.chat.completions.create(model="fast", messages=[{"role": "user", "content": "count"}], stream=True)
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "One two three"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.model == "fast" for c in chunks)
    assert fake.last.body["stream_options"] == {"include_usage": True}


def test_sdk_streamed_with_usage(sdk, fake):
    fake.reply(events=wire.chat_stream("up-model", ["a", "b"], usage=wire.chat_usage(9, 2)))
    stream = sdk.chat.completions.create(
        model="fast", messages=[{"role": "user", "content": "x"}], stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert chunks[-1].usage.prompt_tokens == 9 and chunks[-1].choices == []


def test_first_chunk_reaches_the_client_before_the_upstream_sends_its_last(sdk, fake):
    gate = threading.Event()
    fake.reply(events=wire.chat_stream("up-model", ["early", " late"]), gate=gate, gate_timeout=15)
    stream = sdk.chat.completions.create(model="fast", messages=[{"role": "user", "content": "x"}], stream=True)
    started = time.time()
    it = iter(stream)
    first = next(it)
    content = next(it)
    assert content.choices[0].delta.content == "early"
    assert time.time() - started < 5  # the upstream is still holding back its last event
    assert not gate.is_set()
    gate.set()
    rest = list(it)
    assert rest[-1].choices[0].finish_reason == "stop"
    assert first.choices[0].delta.role == "assistant"


def test_sdk_sees_the_right_exception_classes(sdk, gateway, fake):
    bad = openai.OpenAI(base_url=gateway.url + "/v1", api_key="sk-wrong-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model="fast", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.NotFoundError) as e:
        sdk.chat.completions.create(model="missing", messages=[{"role": "user", "content": "x"}])
    assert e.value.code == "model_not_found"
    fake.reply(status=429, body=wire.openai_error(429, "Rate limit reached", "requests", "rate_limit_exceeded"))
    with pytest.raises(openai.RateLimitError) as e:
        sdk.chat.completions.create(model="fast", messages=[{"role": "user", "content": "x"}])
    assert "Rate limit reached" in str(e.value)


def test_models_list_through_the_sdk(sdk):
    assert [m.id for m in sdk.models.list()] == SHARED_ALIASES


def test_config_change_reaches_every_worker(fake, tmp_path):
    with gateway_for(config_text(fake.url), tmp_path, workers=2) as gw:
        path = Path(gw.config_path)
        headers = {"Authorization": f"Bearer {CLIENT_SECRET}"}

        def ids():
            return {m["id"] for m in requests.get(gw.url + "/v1/models", headers=headers, timeout=5).json()["data"]}

        path.write_text(config_text(fake.url, "  added:\n    targets: [{provider: up, model: other}]\n"))
        deadline = time.time() + 10
        while time.time() < deadline and "added" not in ids():
            time.sleep(0.2)
        time.sleep(1.5)  # every worker polls each second
        assert all("added" in ids() for _ in range(30))

        path.write_text("models: [this is not valid\n")
        time.sleep(2.5)
        assert all("added" in ids() for _ in range(10))  # the last good config stays
        assert "config change refused" in gw.log()


def test_shipped_config_starts_without_provider_keys(tmp_path):
    env = {"PLEXUS_ADMIN_KEY": ADMIN_SECRET, "PLEXUS_KEY_MY_APP": CLIENT_SECRET}
    keys = ("OPENAI_API_KEY", "OPENROUTER_API_KEY", "DEEPSEEK_API_KEY", "GROQ_API_KEY")
    with GatewayProcess(ROOT / "config/plexus.yaml", env=env, log_path=tmp_path / "gw.log", drop_env=keys) as gw:
        resp = requests.post(
            gw.url + "/v1/chat/completions",
            json={"model": "fast", "messages": [{"role": "user", "content": "hi"}]},
            headers={"Authorization": f"Bearer {CLIENT_SECRET}"},
            timeout=5,
        )
        assert resp.status_code == 503
        assert "OPENAI_API_KEY" in resp.json()["error"]["message"]
        assert "provider 'openai' is unusable" in gw.log()
