"""The README's "Providers" section, checked (issue 17): every provider block in it is loaded as
written, and a request through it shows that provider's quirk applied — at the provider's real URL,
mocked with `responses`."""

import json
import re
from pathlib import Path

import pytest
import responses
import yaml

from tests.support import wire
from tests.support.secrets import CLIENT_SECRET

README = Path(__file__).resolve().parents[2] / "README.md"
LISTED = ["openai", "openrouter", "deepseek", "groq", "cerebras", "gemini", "vertex", "anthropic", "azure"]


def readme_blocks():
    text = README.read_text()
    section = text.split("\n## Providers\n", 1)[1].split("\n## ", 1)[0]
    blocks = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", section, re.S)]
    return {pid: spec for block in blocks for pid, spec in block.items()}


BLOCKS = readme_blocks()
MODELS = {"openai": "gpt-5-mini", "openrouter": "deepseek/deepseek-r1", "deepseek": "deepseek-chat",
          "groq": "llama-3.3-70b-versatile", "cerebras": "gpt-oss-120b", "gemini": "gemini-2.5-flash",
          "vertex": "claude-sonnet-4@20250514", "anthropic": "claude-sonnet-4-5", "azure": "gpt-4o"}


def test_the_section_lists_every_provider():
    assert list(BLOCKS) == LISTED


@pytest.fixture
def client(env, monkeypatch, write_config, make_app):
    for name in set(re.findall(r"\$\{(\w+)\}", README.read_text())) - set(env):
        monkeypatch.setenv(name, f"test-{name.lower()}")
    config = {"keys": {"test": {"secret": "${PLEXUS_KEY_TEST}"}}, "providers": BLOCKS,
              "models": {pid: {"targets": [{"provider": pid, "model": MODELS[pid]}]} for pid in BLOCKS}}
    return make_app(str(write_config(yaml.safe_dump(config))), watch=False).test_client()


def post(client, path, body):
    return client.post(path, data=json.dumps(body), content_type="application/json",
                       headers={"Authorization": f"Bearer {CLIENT_SECRET}"})


def sent_to(client, url, path, body, answer):
    """(the upstream request's JSON body, its headers, the gateway's answer) for one call."""
    with responses.RequestsMock() as rsps:
        rsps.post(url, json=answer)
        resp = post(client, path, body)
        request = rsps.calls[0].request
    return json.loads(request.body), request.headers, resp


def chat(model, **extra):
    return {"model": model, "messages": [{"role": "user", "content": "hi"}], **extra}


THOUGHT_HISTORY = [{"role": "user", "content": "x"},
                   {"role": "assistant", "content": [{"type": "thinking", "thinking": "earlier", "signature": ""},
                                                     {"type": "text", "text": "answer"}]},
                   {"role": "user", "content": "y"}]
TOOL = {"type": "object", "$schema": "http://json-schema.org/draft-07/schema#", "additionalProperties": False,
        "properties": {"q": {"type": "string", "$schema": "nested"}}, "required": ["q"]}


def test_openai_gets_max_completion_tokens(client):
    sent, _, _ = sent_to(client, "https://api.openai.com/v1/chat/completions", "/v1/chat/completions",
                         chat("openai", max_tokens=100), wire.chat_completion("gpt-5-mini", "ok"))
    assert sent["max_completion_tokens"] == 100 and "max_tokens" not in sent


def test_openrouter_gets_reasoning_back_under_its_name_and_its_headers(client):
    sent, headers, _ = sent_to(client, "https://openrouter.ai/api/v1/chat/completions", "/v1/messages",
                               {"model": "openrouter", "max_tokens": 50, "messages": THOUGHT_HISTORY},
                               wire.chat_completion("r1", "ok"))
    assert sent["messages"][1] == {"role": "assistant", "content": "answer", "reasoning": "earlier"}
    assert headers["HTTP-Referer"] == "https://github.com/plexus-gateway" and headers["X-Title"] == "Plexus"


def test_deepseek_gets_reasoning_content_back_and_a_capped_max_tokens(client):
    sent, _, _ = sent_to(client, "https://api.deepseek.com/v1/chat/completions", "/v1/messages",
                         {"model": "deepseek", "max_tokens": 100_000, "messages": THOUGHT_HISTORY},
                         wire.chat_completion("deepseek-chat", "ok"))
    assert sent["messages"][1]["reasoning_content"] == "earlier" and sent["max_tokens"] == 8192


def test_groq_gets_tool_schemas_without_dollar_schema(client):
    tools = [{"type": "function", "function": {"name": "search", "parameters": TOOL}}]
    sent, _, _ = sent_to(client, "https://api.groq.com/openai/v1/chat/completions", "/v1/chat/completions",
                         chat("groq", tools=tools), wire.chat_completion("llama", "ok"))
    params = sent["tools"][0]["function"]["parameters"]
    assert "$schema" not in json.dumps(params) and params["properties"]["q"] == {"type": "string"}


def test_cerebras_gets_only_what_it_accepts(client):
    tools = [{"type": "function", "function": {"name": n, "parameters": {"type": "object"}}} for n in ("a", "b")]
    body = {"model": "cerebras", "max_tokens": 64, "frequency_penalty": 0.5, "presence_penalty": 0.1, "logit_bias": {},
            "parallel_tool_calls": False, "service_tier": "auto", "store": False, "prompt_cache_key": "k",
            "tools": tools, "tool_choice": {"type": "function", "function": {"name": "b"}},
            "messages": [{"role": "user", "content": [{"type": "text", "text": "one "}, {"type": "text", "text": "two"}]}]}
    sent, _, _ = sent_to(client, "https://api.cerebras.ai/v1/chat/completions", "/v1/chat/completions", body,
                         wire.chat_completion("gpt-oss-120b", "ok"))
    for refused in ("frequency_penalty", "presence_penalty", "logit_bias", "parallel_tool_calls", "service_tier", "store",
                    "prompt_cache_key", "max_tokens"):
        assert refused not in sent, refused
    assert sent["max_completion_tokens"] == 64
    assert sent["tool_choice"] == "auto" and [t["function"]["name"] for t in sent["tools"]] == ["b"]
    assert sent["messages"] == [{"role": "user", "content": "one two"}]


def test_cerebras_reasoning_reaches_an_anthropic_client_as_thinking(client):
    answer = wire.chat_completion("gpt-oss-120b", "42")
    answer["choices"][0]["message"]["reasoning"] = "think first"
    answer["time_info"] = {"queue_time": 0.001, "total_time": 0.02}
    _, _, resp = sent_to(client, "https://api.cerebras.ai/v1/chat/completions", "/v1/messages",
                         {"model": "cerebras", "max_tokens": 50, "messages": [{"role": "user", "content": "q"}]}, answer)
    blocks = resp.get_json()["content"]
    assert [b["type"] for b in blocks] == ["thinking", "text"] and blocks[0]["thinking"] == "think first"


def test_gemini_gets_tool_schemas_it_accepts(client):
    sent, headers, _ = sent_to(client, "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent",
                               "/v1/messages", {"model": "gemini", "max_tokens": 50, "messages": [{"role": "user", "content": "q"}],
                                                "tools": [{"name": "search", "input_schema": TOOL}]},
                               {"candidates": [{"content": {"role": "model", "parts": [{"text": "ok"}]}, "finishReason": "STOP"}]})
    params = sent["tools"][0]["functionDeclarations"][0]["parameters"]
    assert "$schema" not in json.dumps(params) and "additionalProperties" not in params
    assert headers["x-goog-api-key"] == "test-gemini_api_key"


def test_vertex_claude_gets_anthropic_version_and_no_model(client):
    url = ("https://us-east5-aiplatform.googleapis.com/v1/projects/my-project/locations/us-east5/publishers/anthropic/"
           "models/claude-sonnet-4@20250514:rawPredict")
    sent, headers, resp = sent_to(client, url, "/v1/chat/completions", chat("vertex"),
                                  wire.anthropic_message("claude-sonnet-4", [wire.text_block("ok")]))
    assert resp.status_code == 200 and sent["anthropic_version"] == "vertex-2023-10-16" and "model" not in sent
    assert headers["Authorization"] == "Bearer test-vertex_access_token"


def test_anthropic_gets_a_max_tokens_when_the_client_sent_none(client):
    sent, _, _ = sent_to(client, "https://api.anthropic.com/v1/messages", "/v1/chat/completions", chat("anthropic"),
                         wire.anthropic_message("claude-sonnet-4-5", [wire.text_block("ok")]))
    assert sent["max_tokens"] == 8192


def test_azure_gets_its_deployment_url_and_api_key(client):
    url = "https://my-resource.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"
    sent, headers, resp = sent_to(client, url, "/v1/chat/completions", chat("azure", max_tokens=9),
                                  wire.chat_completion("gpt-4o", "ok"))
    assert resp.status_code == 200 and headers["api-key"] == "test-azure_openai_api_key"
    assert sent["max_completion_tokens"] == 9


def test_the_example_configs_commented_vertex_provider_loads_once_uncommented():
    from plexus.config import parse_config

    text = (README.parent / "config" / "plexus.yaml").read_text()
    uncommented = re.sub(r"(?m)^  # (vertex|  )", r"  \1", text)  # the YAML lines, not the prose
    config = parse_config(uncommented, "plexus.yaml", {name: "x" * 16 for name in re.findall(r"\$\{(\w+)\}", text)})
    assert config.providers["vertex"].vertex["location"] == "us-east5"
    assert config.names["vertex-claude"].targets[0].model == "claude-sonnet-4@20250514"
    assert config.names["embed"].kind == "embedding"
