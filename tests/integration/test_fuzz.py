"""Every client endpoint fuzzed: whatever arrives, the answer is a 2xx or a 4xx in the caller's own
error shape, never a 500 or a stack trace, and the gateway keeps serving.

Two generators per endpoint: Hypothesis's structural strategies (shrinkable, but slow to draw), and
a fast mutator that Hypothesis drives by seed, for volume. PLEXUS_FUZZ_EXAMPLES (default 1000)
is the volume per endpoint: the suite keeps 1,000 mutated + 100 structured cases per endpoint; a
deeper run sets it higher (`PLEXUS_FUZZ_EXAMPLES=5000 python -m pytest tests/integration/test_fuzz.py`,
the suite's former default), a quick local one lower."""

import json
import os
import random
import re

import pytest
import responses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plexus import create_app
from plexus.services import close_app
from tests.support.secrets import CLIENT_SECRET
from tests.support import wire

EXAMPLES = int(os.environ.get("PLEXUS_FUZZ_EXAMPLES", "1000"))
STRUCTURED = max(EXAMPLES // 10, 50)
UPSTREAM = "http://fuzz-upstream.test/v1"

CONFIG = f"""
keys: {{test: {{secret: "${{PLEXUS_KEY_TEST}}"}}}}
providers:
  chat: {{type: chat, api_base_url: "{UPSTREAM}", api_key: k}}
  messages: {{type: messages, api_base_url: "{UPSTREAM}", api_key: k}}
  responses: {{type: responses, api_base_url: "{UPSTREAM}", api_key: k}}
  gemini: {{type: gemini, api_base_url: "{UPSTREAM}", api_key: k}}
models:
  to-chat: {{targets: [{{provider: chat, model: up}}]}}
  to-messages: {{targets: [{{provider: messages, model: up}}]}}
  to-responses: {{targets: [{{provider: responses, model: up}}]}}
  to-gemini: {{targets: [{{provider: gemini, model: up}}]}}
"""
ALIASES = ["to-chat", "to-messages", "to-responses", "to-gemini", "nope"]

# (path, error-shape check) per endpoint
ENDPOINTS = {
    "chat": ("/v1/chat/completions", lambda b: set(b) == {"error"} and {"message", "type", "param", "code"} <= set(b["error"])),
    "messages": ("/v1/messages", lambda b: b.get("type") == "error" and {"type", "message"} <= set(b["error"])),
    "count_tokens": ("/v1/messages/count_tokens", lambda b: b.get("type") == "error" and "message" in b["error"]),
    "responses": ("/v1/responses", lambda b: {"message", "type"} <= set(b["error"])),
    "gemini": ("/v1beta/models/{alias}:generateContent", lambda b: {"code", "message", "status"} <= set(b["error"])),
}


def answer(request):
    """Whatever was asked, a valid minimal answer in the upstream's format."""
    path = request.url
    if path.endswith("/chat/completions"):
        return 200, {}, json.dumps(wire.chat_completion("up", "ok"))
    if path.endswith("/messages/count_tokens"):
        return 200, {}, json.dumps({"input_tokens": 3})
    if path.endswith("/messages"):
        return 200, {}, json.dumps(wire.anthropic_message("up", [wire.text_block("ok")]))
    if path.endswith("/responses"):
        return 200, {}, json.dumps({"id": "resp_1", "object": "response", "status": "completed", "model": "up", "output": [
            {"type": "message", "content": [{"type": "output_text", "text": "ok"}]}], "usage": {"input_tokens": 1, "output_tokens": 1}})
    return 200, {}, json.dumps({"candidates": [{"content": {"role": "model", "parts": [{"text": "ok"}]}, "finishReason": "STOP"}],
                                "usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 1}})


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    (tmp / "plexus.yaml").write_text(CONFIG)
    with pytest.MonkeyPatch.context() as mp, responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mp.setenv("PLEXUS_KEY_TEST", CLIENT_SECRET)  # restored when the module is done
        app = create_app(str(tmp / "plexus.yaml"), watch=False, DATABASE=str(tmp / "fuzz.db"),
                         MAX_CONTENT_LENGTH=256 * 1024)
        rsps.add_callback(responses.POST, re.compile(re.escape(UPSTREAM) + ".*"), callback=answer)
        yield app.test_client()
    close_app(app)


# ---- what gets sent -----------------------------------------------------------------------------------

scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=40)
any_json = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                        max_leaves=8)
roles = st.sampled_from(["user", "assistant", "system", "developer", "tool", "function", "model", "robot", "", None, 3])
part_types = st.sampled_from(["text", "image", "image_url", "tool_use", "tool_result", "thinking", "input_text",
                              "input_image", "function_call", "document", "nonsense", None])
parts = st.fixed_dictionaries({"type": part_types}, optional={
    "text": st.text(max_size=30) | any_json, "image_url": any_json, "source": any_json, "input": any_json,
    "tool_use_id": st.text(max_size=10), "content": any_json, "id": st.text(max_size=10), "name": any_json})
contents = st.text(max_size=50) | st.lists(parts, max_size=4) | any_json
messages = st.lists(st.fixed_dictionaries({"role": roles}, optional={"content": contents, "tool_calls": any_json,
                                                                      "tool_call_id": any_json}), max_size=5)
near_valid = st.fixed_dictionaries({"model": st.sampled_from(ALIASES) | any_json}, optional={
    "messages": messages | any_json, "max_tokens": st.integers(-5, 10**6) | any_json, "stream": st.booleans() | any_json,
    "tools": any_json, "tool_choice": any_json, "system": contents, "input": st.text(max_size=20) | messages | any_json,
    "contents": any_json, "stop": any_json, "temperature": any_json, "thinking": any_json, "previous_response_id": any_json,
    "generationConfig": any_json, "systemInstruction": any_json, "instructions": any_json})
bodies = (
    near_valid.map(lambda b: json.dumps(b).encode())
    | any_json.map(lambda b: json.dumps(b).encode())
    | st.binary(max_size=200)  # invalid JSON, invalid UTF-8
    | st.integers(1, 2000).map(lambda n: b"[" * n + b"]" * n)  # deeply nested
    | st.integers(1, 400).map(lambda n: json.dumps({"model": "to-chat", "messages": [{"role": "user", "content": "x" * (n * 1000)}]}).encode())
)
content_types = st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain", "", "multipart/form-data"])


def check(client, endpoint, body, content_type, alias="to-chat"):
    path, shape_ok = ENDPOINTS[endpoint]
    path = path.format(alias=alias)
    resp = client.post(path, data=body, headers={"Authorization": f"Bearer {CLIENT_SECRET}", "Content-Type": content_type})
    text = resp.get_data(as_text=True)
    assert resp.status_code < 500, (resp.status_code, text[:300])
    assert "Traceback" not in text
    if resp.status_code >= 400:
        assert shape_ok(json.loads(text)), text[:300]


# ---- the fast mutator: a valid request of each style, then random damage ------------------------------

VALID = {
    "chat": {"model": "to-chat", "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": [
        {"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "ok"}],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}], "tool_choice": "auto",
        "max_tokens": 20, "stream": False, "stop": ["x"], "reasoning_effort": "low"},
    "messages": {"model": "to-chat", "max_tokens": 20, "system": [{"type": "text", "text": "s"}], "messages": [
        {"role": "user", "content": [{"type": "text", "text": "hi"},
                                     {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA"}}]},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": "s"},
                                          {"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]}],
        "tools": [{"name": "f", "input_schema": {"type": "object"}}], "tool_choice": {"type": "auto"},
        "thinking": {"type": "enabled", "budget_tokens": 1024}, "stop_sequences": ["x"], "metadata": {"user_id": "u"}},
    "responses": {"model": "to-chat", "instructions": "s", "input": [
        {"role": "user", "content": [{"type": "input_text", "text": "hi"}, {"type": "input_image", "image_url": "data:image/png;base64,AA"}]},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "ok"}],
        "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}], "reasoning": {"effort": "low"},
        "max_output_tokens": 20, "text": {"format": {"type": "json_schema", "name": "o", "schema": {}}}},
    "gemini": {"systemInstruction": {"parts": [{"text": "s"}]}, "contents": [
        {"role": "user", "parts": [{"text": "hi"}, {"inlineData": {"mimeType": "image/png", "data": "AA"}}]},
        {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {"output": "ok"}}}]}],
        "tools": [{"functionDeclarations": [{"name": "f", "parameters": {"type": "object"}}]}],
        "generationConfig": {"maxOutputTokens": 20, "thinkingConfig": {"thinkingBudget": 100}}},
}
VALID["count_tokens"] = {k: v for k, v in VALID["messages"].items() if k not in ("max_tokens",)}
ODD = [None, True, 0, -1, 2**64, 1.5, "", "x", "\udc80", [], {}, [None], {"": None}, "a" * 5000]


def mutate(value, rnd, depth=0):
    """A copy of `value` with random damage: fields dropped, retyped or given odd values."""
    roll = rnd.random()
    if roll < 0.08 or depth > 6:
        return rnd.choice(ODD)
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            r = rnd.random()
            if r < 0.1:
                continue
            out[k if r > 0.15 else rnd.choice(["type", "role", "", "content", k.upper()])] = mutate(v, rnd, depth + 1) if r < 0.5 else v
        if rnd.random() < 0.1:
            out[rnd.choice(["extra", "type", "stream"])] = rnd.choice(ODD)
        return out
    if isinstance(value, list):
        out = [mutate(v, rnd, depth + 1) if rnd.random() < 0.5 else v for v in value if rnd.random() > 0.1]
        if rnd.random() < 0.15 and value:
            out.append(mutate(rnd.choice(value), rnd, depth + 1))
        return out
    return rnd.choice(ODD) if roll < 0.3 else value


def mutated_body(endpoint, seed):
    rnd = random.Random(seed)
    body = mutate(VALID[endpoint], rnd)
    if isinstance(body, dict) and rnd.random() < 0.5:
        body["model"] = rnd.choice(ALIASES)
    if isinstance(body, dict) and rnd.random() < 0.2:
        body["stream"] = True
    raw = json.dumps(body, ensure_ascii=rnd.random() < 0.5).encode("utf-8", "surrogatepass")
    if rnd.random() < 0.05:  # cut short
        raw = raw[: rnd.randrange(len(raw) + 1)]
    return raw, rnd.choice(ALIASES)


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_fuzzed_requests_never_cause_a_server_error(client, endpoint):
    @settings(max_examples=STRUCTURED, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(body=bodies, content_type=content_types, alias=st.sampled_from(ALIASES))
    def structured(body, content_type, alias):
        check(client, endpoint, body, content_type, alias)

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(seed=st.integers(0, 2**32))
    def mutated(seed):
        body, alias = mutated_body(endpoint, seed)
        check(client, endpoint, body, "application/json", alias)

    structured()
    mutated()
    # and the worker still serves a plain good request afterwards
    good = {"chat": {"model": "to-messages", "messages": [{"role": "user", "content": "hi"}]},
            "messages": {"model": "to-chat", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]},
            "count_tokens": {"model": "to-chat", "messages": [{"role": "user", "content": "hi"}]},
            "responses": {"model": "to-gemini", "input": "hi"},
            "gemini": {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}}[endpoint]
    path = ENDPOINTS[endpoint][0].format(alias="to-chat")
    resp = client.post(path, json=good, headers={"Authorization": f"Bearer {CLIENT_SECRET}"})
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]


# what each hand case gets: the start of the error message, and the `param` it names
HAND_ERRORS = {
    "invalid utf-8": ("The request body is not valid JSON: str is not valid UTF-8", None),
    "deep nesting": ("The request body is not valid JSON: depth limit exceeded", None),
    "over the limit": ("The request body is larger than 262144 bytes", None),
    "empty": ("The request body is empty: send a JSON object", None),
    "empty messages": ("'messages' is required and must be a non-empty array", "messages"),
    "unknown role": ("messages[0].role must be one of assistant, developer, function, system, tool, user",
                     "messages.[0].role"),
}


@pytest.mark.parametrize("case, body, status", [
    ("invalid utf-8", b'{"model": "to-chat", "messages": [{"role": "user", "content": "\xff\xfe"}]}', 400),
    ("deep nesting", b"[" * 5000 + b"]" * 5000, 400),
    ("over the limit", json.dumps({"model": "to-chat", "messages": [{"role": "user", "content": "x" * 300_000}]}).encode(), 413),
    ("empty", b"", 400),
    ("empty messages", b'{"model": "to-chat", "messages": []}', 400),
    ("unknown role", b'{"model": "to-chat", "messages": [{"role": "robot", "content": "x"}]}', 400),
])
def test_hand_cases(client, case, body, status):
    resp = client.post("/v1/chat/completions", data=body, headers={"Authorization": f"Bearer {CLIENT_SECRET}",
                                                                  "Content-Type": "application/json"})
    assert resp.status_code == status, resp.get_data(as_text=True)[:200]
    message, param = HAND_ERRORS[case]
    error = resp.json["error"]
    assert set(resp.json) == {"error"} and error["message"].startswith(message), error
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", param, None)
