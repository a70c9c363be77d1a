"""Request and response translation to and from Gemini, checked against the unified contract:
tool results matched to their calls, the schema sanitizer, thought signatures round-tripped through
every client style (and never reaching Anthropic)."""

import json

import pytest

from plexus.wire.anthropic import client as anthropic_messages
from plexus.wire.gemini import client as gemini_api
from plexus.wire.openai_chat import client as openai_chat
from plexus.config import Provider
from plexus.core.errors import InvalidRequest
from plexus.wire.anthropic import upstream as messages
from plexus.wire.gemini import upstream as gemini
from plexus.wire.openai_chat import upstream as chat
from plexus.wire.gemini.schema import sanitize, to_json_schema
from plexus.unified.types import REQUEST, RESPONSE
from tests.support import gemini_wire as gw

PROVIDER = Provider(id="g", type="gemini", api_base_url="https://gemini.test/v1beta", api_key="k", headers={}, pricing={})
PNG = "iVBORw0KGgo="
SIG = gw.SIGNATURE
WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
TOOL = {"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": WEATHER}}
TIME_TOOL = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}}}}


def openai_to_gemini(body):
    body = {"model": "alias", **body}
    openai_chat.check_request(body)
    req = openai_chat.parse_request(body)
    assert REQUEST.validate(req) == {}
    return gemini.build_request(req, "gemini-2.5-flash", PROVIDER)


def anthropic_to_gemini(body):
    body = {"model": "alias", "max_tokens": 512, **body}
    anthropic_messages.check_request(body)
    req = anthropic_messages.parse_request(body)
    assert REQUEST.validate(req) == {}
    return gemini.build_request(req, "gemini-2.5-flash", PROVIDER)


def gemini_unified(body, method="generateContent", query=None):
    route = {"args": {"alias": "alias", "method": method}, "query": query or {}}
    gemini_api.check_request(body, route)
    req = gemini_api.parse_request(body, route)
    assert REQUEST.validate(req) == {}
    return req


# ---- URL and headers ---------------------------------------------------------------------------------


def test_urls_and_key_header():
    assert gemini.url(PROVIDER, "gemini-2.5-flash", False) == "https://gemini.test/v1beta/models/gemini-2.5-flash:generateContent"
    assert gemini.url(PROVIDER, "models/gemini-2.5-pro", True) == "https://gemini.test/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse"
    assert gemini.count_url(PROVIDER, "gemini-2.5-flash") == "https://gemini.test/v1beta/models/gemini-2.5-flash:countTokens"
    h = gemini.headers(PROVIDER)
    assert h["x-goog-api-key"] == "k" and "Authorization" not in h


# ---- OpenAI / Anthropic clients -> Gemini upstream ---------------------------------------------------


def test_openai_tool_loop_becomes_gemini_turns_with_results_in_call_order():
    out = openai_to_gemini({
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Paris, and the time in Rome?"},
            {"role": "assistant", "content": "Checking.", "tool_calls": [
                {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
                {"id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": '{"tz":"Europe/Rome"}'}},
            ]},
            # results arrive in the other order, one a JSON object, one a plain string
            {"role": "tool", "tool_call_id": "call_b", "content": "14:05"},
            {"role": "tool", "tool_call_id": "call_a", "content": '{"temp": 21, "sky": "clear"}'},
            {"role": "user", "content": "Thanks!"},
        ],
        "tools": [TOOL, TIME_TOOL], "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "max_completion_tokens": 300, "temperature": 0.2, "top_p": 0.9, "stop": ["END"], "seed": 7,
    })
    assert out["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert out["contents"] == [
        {"role": "user", "parts": [{"text": "Weather in Paris, and the time in Rome?"}]},
        {"role": "model", "parts": [
            {"text": "Checking."},
            {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
            {"functionCall": {"name": "get_time", "args": {"tz": "Europe/Rome"}}},
        ]},
        {"role": "user", "parts": [
            {"functionResponse": {"name": "get_weather", "response": {"temp": 21, "sky": "clear"}}},
            {"functionResponse": {"name": "get_time", "response": {"output": "14:05"}}},
            {"text": "Thanks!"},
        ]},
    ]
    assert out["tools"] == [{"functionDeclarations": [
        {"name": "get_weather", "description": "Weather", "parameters": WEATHER},
        {"name": "get_time", "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}}},
    ]}]
    assert out["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}}
    assert out["generationConfig"] == {"maxOutputTokens": 300, "temperature": 0.2, "topP": 0.9, "seed": 7,
                                       "stopSequences": ["END"]}


def test_calls_of_the_current_turn_without_a_signature_get_googles_placeholder():
    out = openai_to_gemini({"tools": [TOOL], "messages": [
        {"role": "user", "content": "Paris?"},
        {"role": "assistant", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
            {"id": "c2", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Lyon"}'}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "21C"},
        {"role": "tool", "tool_call_id": "c2", "content": "19C"},
    ]})
    calls = out["contents"][1]["parts"]
    assert calls[0]["thoughtSignature"] == "skip_thought_signature_validator" and "thoughtSignature" not in calls[1]


def test_calls_of_earlier_turns_are_left_unsigned():
    out = openai_to_gemini({"tools": [TOOL], "messages": [
        {"role": "user", "content": "Paris?"},
        {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "21C"},
        {"role": "assistant", "content": "It is 21C."},
        {"role": "user", "content": "And now?"},
    ]})
    assert "thoughtSignature" not in json.dumps(out)


@pytest.mark.parametrize("choice, config", [
    ("auto", {"mode": "AUTO"}), ("none", {"mode": "NONE"}), ("required", {"mode": "ANY"}),
])
def test_tool_choice_modes(choice, config):
    out = openai_to_gemini({"messages": [{"role": "user", "content": "x"}], "tools": [TOOL], "tool_choice": choice})
    assert out["toolConfig"] == {"functionCallingConfig": config}


def test_images_go_inline_or_as_file_data():
    out = openai_to_gemini({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.webp?size=2"}},
    ]}]})
    assert out["contents"][0]["parts"][1:] == [
        {"inlineData": {"mimeType": "image/png", "data": PNG}},
        {"fileData": {"mimeType": "image/webp", "fileUri": "https://example.com/cat.webp?size=2"}},
    ]


def test_reasoning_effort_and_budget_become_thinking_config():
    out = openai_to_gemini({"messages": [{"role": "user", "content": "x"}], "reasoning_effort": "low"})
    assert out["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 2048, "includeThoughts": True}
    out = anthropic_to_gemini({"messages": [{"role": "user", "content": "x"}],
                               "thinking": {"type": "enabled", "budget_tokens": 3000}})
    assert out["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 3000, "includeThoughts": True}


def test_json_schema_response_format():
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    out = openai_to_gemini({"messages": [{"role": "user", "content": "x"}],
                            "response_format": {"type": "json_schema", "json_schema": {"name": "r", "schema": schema}}})
    assert out["generationConfig"]["responseMimeType"] == "application/json"
    assert out["generationConfig"]["responseJsonSchema"] == schema


def test_claude_code_style_request_becomes_gemini():
    out = anthropic_to_gemini({
        "system": [{"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "<system-reminder>x</system-reminder>"},
                                         {"type": "text", "text": "List files", "cache_control": {"type": "ephemeral"}}]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "From Claude.", "signature": "EqQBCgIYAhIM"},  # Anthropic's: dropped
                {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "ls: permission denied", "is_error": True}]},
        ],
        "tools": [{"name": "Bash", "description": "Run a command", "input_schema": CLAUDE_CODE_BASH}],
    })
    assert out["systemInstruction"] == {"parts": [{"text": "You are Claude Code."}]}
    assert out["contents"][1] == {"role": "model", "parts": [
        {"functionCall": {"name": "Bash", "args": {"command": "ls"}}, "thoughtSignature": "skip_thought_signature_validator"}]}
    assert out["contents"][2] == {"role": "user", "parts": [
        {"functionResponse": {"name": "Bash", "response": {"error": "ls: permission denied"}}}]}
    decl = out["tools"][0]["functionDeclarations"][0]
    assert decl["parameters"] == SANITIZED_BASH
    assert "cache_control" not in json.dumps(out) and "EqQB" not in json.dumps(out)


def test_a_tool_without_properties_has_no_parameters():
    out = openai_to_gemini({"messages": [{"role": "user", "content": "x"}], "tools": [
        {"type": "function", "function": {"name": "now", "parameters": {"type": "object", "properties": {}}}}]})
    assert out["tools"] == [{"functionDeclarations": [{"name": "now"}]}]


# ---- the schema sanitizer ----------------------------------------------------------------------------

CLAUDE_CODE_BASH = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "command": {"type": "string", "description": "The command to execute"},
        "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 600000, "description": "Optional timeout in ms"},
        "description": {"type": "string", "description": "What this command does"},
        "run_in_background": {"type": "boolean", "default": False},
        "mode": {"type": ["string", "null"], "enum": ["fast", "safe", None]},
        "retries": {"enum": [0, 1, 3]},
        "kind": {"const": "shell"},
        "env": {"type": "object", "additionalProperties": {"type": "string"}, "propertyNames": {"pattern": "^[A-Z_]+$"}},
        "paths": {"type": "array", "items": {"type": "string", "format": "uri"}, "uniqueItems": True, "minItems": 1},
        "target": {"oneOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]},
        "options": {"allOf": [{"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
                              {"properties": {"b": {"type": "integer", "multipleOf": 2}}, "required": ["b"]}]},
        "tree": {"$ref": "#/$defs/Node"},
        "when": {"type": "string", "format": "date-time", "examples": ["2025-01-01T00:00:00Z"]},
    },
    "required": ["command", "not_a_property"],
    "$defs": {"Node": {"type": "object", "description": "A node",
                       "properties": {"name": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}}}},
}
SANITIZED_BASH = {
    "type": "object",
    "properties": {
        "command": {"type": "string", "description": "The command to execute"},
        "timeout": {"type": "number", "minimum": 0, "maximum": 600000, "description": "Optional timeout in ms"},
        "description": {"type": "string", "description": "What this command does"},
        "run_in_background": {"type": "boolean", "default": False},
        "mode": {"type": "string", "enum": ["fast", "safe"], "nullable": True},
        "retries": {"type": "integer", "description": "One of: 0, 1, 3."},
        "kind": {"type": "string", "enum": ["shell"]},
        "env": {"type": "object"},
        "paths": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "target": {"anyOf": [{"type": "string"}, {"type": "integer"}], "nullable": True},
        "options": {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}, "required": ["a", "b"]},
        "tree": {"type": "object", "description": "A node", "properties": {
            "name": {"type": "string"},
            "children": {"type": "array", "items": {"type": "object"}},  # the cycle, cut
        }},
        "when": {"type": "string", "format": "date-time", "example": "2025-01-01T00:00:00Z"},
    },
    "required": ["command"],
}


def test_sanitizer_on_a_claude_code_schema():
    before = json.dumps(CLAUDE_CODE_BASH, sort_keys=True)
    assert sanitize(CLAUDE_CODE_BASH) == SANITIZED_BASH
    assert json.dumps(CLAUDE_CODE_BASH, sort_keys=True) == before  # the input is not modified


def test_sanitizer_output_uses_only_allowed_keys():
    def keys(s):
        if isinstance(s, dict):
            for k, v in s.items():
                if k != "properties":
                    yield k
                yield from keys(v) if k != "properties" else (x for p in v.values() for x in keys(p))
        elif isinstance(s, list):
            for v in s:
                yield from keys(v)
    assert set(keys(sanitize(CLAUDE_CODE_BASH))) <= {"type", "format", "description", "nullable", "enum", "properties",
                                                     "required", "items", "minItems", "minimum", "maximum", "anyOf",
                                                     "default", "example"}


def test_sanitizer_guards_deep_and_mutual_refs():
    schema = {"$ref": "#/definitions/A", "definitions": {"A": {"type": "object", "properties": {"b": {"$ref": "#/definitions/B"}}},
                                                         "B": {"type": "object", "properties": {"a": {"$ref": "#/definitions/A"}}}}}
    assert sanitize(schema) == {"type": "object", "properties": {"b": {"type": "object", "properties": {"a": {"type": "object"}}}}}


def test_gemini_schema_back_to_json_schema():
    assert to_json_schema({"type": "OBJECT", "propertyOrdering": ["a"], "properties": {
        "a": {"type": "STRING", "nullable": True}, "b": {"type": "ARRAY", "items": {"type": "INTEGER"}}}}) == {
        "type": "object", "properties": {"a": {"type": ["string", "null"]}, "b": {"type": "array", "items": {"type": "integer"}}}}


# ---- Gemini answers -> unified -----------------------------------------------------------------------


def test_parse_response_with_thoughts_calls_signatures_and_usage():
    data = gw.response([gw.text("Plan.", thought=True), gw.text("Looking."), gw.call("get_weather", {"city": "Paris"}, SIG),
                        gw.call("get_weather", {"city": "Rome"})],
                       usage_metadata=gw.usage(prompt=120, candidates=20, thoughts=10, cached=100, tool_use=5))
    resp = gemini.parse_response(data)
    assert RESPONSE.validate(resp) == {}
    assert resp["content"] == [
        {"type": "reasoning", "text": "Plan."},
        {"type": "text", "text": "Looking."},
        {"type": "tool_call", "id": gw.MINTED_ID, "name": "get_weather", "arguments": '{"city":"Paris"}', "thought_signature": SIG},
        {"type": "tool_call", "id": gw.MINTED_ID, "name": "get_weather", "arguments": '{"city":"Rome"}'},
    ]
    assert resp["stop_reason"] == "tool_calls" and resp["id"] == "resp-fake-1"
    usage = resp["usage"]
    assert (usage.input_tokens, usage.cached_tokens, usage.output_tokens, usage.reasoning_tokens) == (25, 100, 30, 10)
    assert usage.prompt_tokens == 125  # the prompt (cached included) plus the tool-use prompt


def test_gemini_call_ids_are_kept_when_sent():
    resp = gemini.parse_response(gw.response([gw.call("f", {}, id="fc-7")]))
    assert resp["content"][0]["id"] == "fc-7"


def test_blocked_prompt_is_a_content_filter_finish_with_no_content():
    resp = gemini.parse_response(gw.blocked())
    assert resp["stop_reason"] == "content_filter" and resp["content"] == [] and resp["usage"].input_tokens == 9
    assert openai_chat.render_response(resp, "a")["choices"][0]["finish_reason"] == "content_filter"


# ---- thought signatures round trip through each client style -----------------------------------------

ANSWER = gw.response([gw.text("Plan.", thought=True, signature="VEhPVUdIVA=="), gw.text("Checking."),
                      gw.call("get_weather", {"city": "Paris"}, SIG), gw.call("get_weather", {"city": "Rome"}),
                      gw.text("", signature="VEFJTA==")])
EXPECTED_MODEL_TURN = {"role": "model", "parts": [
    {"text": "Plan.", "thought": True, "thoughtSignature": "VEhPVUdIVA=="},
    {"text": "Checking."},
    {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": SIG},
    {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}},
    {"text": "", "thoughtSignature": "VEFJTA=="},
]}


def test_signatures_round_trip_through_an_openai_client():
    message = openai_chat.render_response(gemini.parse_response(ANSWER), "alias")["choices"][0]["message"]
    assert message["tool_calls"][0]["extra_content"] == {"google": {"thought_signature": SIG}}
    assert "extra_content" not in message["tool_calls"][1]
    assert message["extra_content"] == {"google": {"thought_signature": "VEFJTA=="}}
    message = json.loads(json.dumps(message))  # what the client stores and sends back
    out = openai_to_gemini({"tools": [TOOL], "messages": [
        {"role": "user", "content": "Paris and Rome?"}, message,
        {"role": "tool", "tool_call_id": message["tool_calls"][0]["id"], "content": "21C"},
        {"role": "tool", "tool_call_id": message["tool_calls"][1]["id"], "content": "25C"},
    ]})
    model = out["contents"][1]["parts"]
    # the thought summary has no place in this format; the signed call keeps its signature in place
    assert model == [
        {"text": "Checking.", "thoughtSignature": "VEFJTA=="},
        {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": SIG},
        {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}},
    ]
    assert [p["functionResponse"]["name"] for p in out["contents"][2]["parts"]] == ["get_weather", "get_weather"]


def test_signatures_round_trip_through_an_anthropic_client():
    rendered = anthropic_messages.render_response(gemini.parse_response(ANSWER), "alias")
    assert [(b["type"], b.get("signature", "")[:12]) for b in rendered["content"]] == [
        ("thinking", "gemini:thoug"), ("text", ""), ("thinking", "gemini:call:"), ("tool_use", ""), ("tool_use", ""),
        ("thinking", "gemini:text:"),
    ]
    blocks = json.loads(json.dumps(rendered["content"]))
    ids = [b["id"] for b in blocks if b["type"] == "tool_use"]
    history = [{"role": "user", "content": "Paris and Rome?"}, {"role": "assistant", "content": blocks},
               {"role": "user", "content": [{"type": "tool_result", "tool_use_id": ids[0], "content": "21C"},
                                            {"type": "tool_result", "tool_use_id": ids[1], "content": "25C"}]}]
    out = anthropic_to_gemini({"tools": [{"name": "get_weather", "input_schema": WEATHER}], "messages": history})
    assert out["contents"][1] == {**EXPECTED_MODEL_TURN, "parts": [
        EXPECTED_MODEL_TURN["parts"][0],
        {"text": "Checking."},
        *EXPECTED_MODEL_TURN["parts"][2:4],
        {"text": "", "thoughtSignature": "VEFJTA=="},
    ]}
    # the same history sent to an Anthropic upstream carries no Gemini signature at all
    body = {"model": "a", "max_tokens": 64, "messages": history, "tools": [{"name": "get_weather", "input_schema": WEATHER}],
            "thinking": {"type": "enabled", "budget_tokens": 2048}}
    up = messages.build_request(anthropic_messages.parse_request(body), "claude", PROVIDER)
    assert "gemini:" not in json.dumps(up) and all(b["type"] != "thinking" for m in up["messages"] for b in m["content"])
    assert "thinking" not in up  # the replayed tool turn has no Anthropic-signed thinking


def test_marked_text_signature_after_a_text_block_attaches_to_it():
    req = anthropic_messages.parse_request({"model": "a", "max_tokens": 5, "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [{"type": "text", "text": "Hello"},
                                          {"type": "thinking", "thinking": "", "signature": "gemini:text:U0lH"}]},
        {"role": "user", "content": "again"}]})
    assert req["messages"][1]["content"] == [{"type": "text", "text": "Hello", "thought_signature": "U0lH"}]


# ---- Gemini client -> unified -> OpenAI / Anthropic upstreams ----------------------------------------

GEMINI_BODY = {
    "system_instruction": {"parts": [{"text": "Be brief."}]},  # snake_case, as protobuf JSON allows
    "contents": [
        {"role": "user", "parts": [{"text": "Paris and Rome?"}, {"inlineData": {"mimeType": "image/png", "data": PNG}}]},
        {"role": "model", "parts": [
            {"text": "Plan.", "thought": True, "thoughtSignature": "VEhPVUdIVA=="},
            {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": SIG},
            {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}},
            {"functionCall": {"name": "get_time", "args": {"tz": "CET"}, "id": "t-1"}},
        ]},
        {"role": "user", "parts": [
            {"functionResponse": {"name": "get_time", "id": "t-1", "response": {"output": "14:05"}}},
            {"functionResponse": {"name": "get_weather", "response": {"output": {"temp": 21}}}},
            {"functionResponse": {"name": "get_weather", "response": {"error": "rate limited"}}},
            {"text": "Thanks"},
        ]},
    ],
    "tools": [{"functionDeclarations": [
        {"name": "get_weather", "description": "Weather", "parameters": {"type": "OBJECT", "properties": {
            "city": {"type": "STRING"}, "unit": {"type": "STRING", "nullable": True, "enum": ["C", "F"]}}, "required": ["city"]}},
        {"name": "get_time", "parametersJsonSchema": {"type": "object", "properties": {"tz": {"type": "string"}},
                                                      "additionalProperties": False}},
    ]}],
    "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_time"]}},
    "generationConfig": {"maxOutputTokens": 800, "temperature": 0.3, "topK": 20, "stopSequences": ["END"],
                         "thinkingConfig": {"thinkingBudget": 4096, "includeThoughts": True}},
}


def test_gemini_request_becomes_unified_with_results_matched_to_calls():
    req = gemini_unified(GEMINI_BODY, "streamGenerateContent", {"alt": "sse"})
    assert req["stream"] and req["stream_format"] == "sse" and req["model"] == "alias"
    assert req["system"] == [{"type": "text", "text": "Be brief."}]
    calls = req["messages"][1]["content"]
    assert [c["type"] for c in calls] == ["reasoning", "tool_call", "tool_call", "tool_call"]
    assert [c["id"] for c in calls[1:]] == ["call_1_1", "call_1_2", "t-1"]
    assert calls[1]["thought_signature"] == SIG
    results = [m["content"][0] for m in req["messages"][2:5]]
    assert [(r["tool_call_id"], r["content"][0]["text"], r["is_error"]) for r in results] == [
        ("t-1", "14:05", False), ("call_1_1", '{"temp":21}', False), ("call_1_2", "rate limited", True)]
    assert req["messages"][5] == {"role": "user", "content": [{"type": "text", "text": "Thanks"}]}
    assert req["tool_choice"] == {"type": "tool", "name": "get_time"}
    assert req["tools"][0]["parameters"] == {"type": "object", "properties": {
        "city": {"type": "string"}, "unit": {"type": ["string", "null"], "enum": ["C", "F"]}}, "required": ["city"]}
    assert req["tools"][1]["parameters"]["additionalProperties"] is False
    assert (req["max_tokens"], req["temperature"], req["top_k"], req["stop"]) == (800, 0.3, 20, ["END"])
    assert req["reasoning"] == {"budget_tokens": 4096}


def test_gemini_request_to_openai_and_anthropic_upstreams():
    req = gemini_unified(GEMINI_BODY)
    up = chat.build_request(req, "gpt", PROVIDER)
    roles = [m["role"] for m in up["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "tool", "tool", "user"]
    assert [m["tool_call_id"] for m in up["messages"][3:6]] == ["t-1", "call_1_1", "call_1_2"]
    assert up["messages"][1]["content"][1] == {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}
    assert up["tool_choice"] == {"type": "function", "function": {"name": "get_time"}}
    up = messages.build_request(req, "claude", PROVIDER)
    assert [b["type"] for b in up["messages"][2]["content"]] == ["tool_result", "tool_result", "tool_result", "text"]
    assert up["messages"][2]["content"][2]["is_error"] is True
    assert "VEhPVUdIVA" not in json.dumps(up) and SIG not in json.dumps(up)


@pytest.mark.parametrize("body, needle", [
    ({"contents": []}, "contents"),
    ({"contents": [{"role": "system", "parts": [{"text": "x"}]}]}, "role"),
    ({"contents": [{"role": "user"}]}, "parts"),
    ({"contents": [{"role": "user", "parts": [{"inlineData": {"mimeType": "video/mp4", "data": "x"}}]}]}, "inlineData"),
])
def test_gemini_request_checks(body, needle):
    with pytest.raises(InvalidRequest) as e:
        gemini_unified(body)
    assert needle in e.value.message


def test_unified_response_renders_as_generate_content_response():
    resp = {"id": "msg_1", "model": "m", "stop_reason": "tool_calls", "stop_sequence": None, "usage": None, "content": [
        {"type": "reasoning", "text": "hmm", "signature": "anthropic-sig"},
        {"type": "text", "text": "Checking."},
        {"type": "tool_call", "id": "toolu_1", "name": "f", "arguments": '{"a":1}'}]}
    out = gemini_api.render_response(resp, "alias")
    assert out == {"candidates": [{"content": {"role": "model", "parts": [
        {"text": "hmm", "thought": True}, {"text": "Checking."}, {"functionCall": {"id": "toolu_1", "name": "f", "args": {"a": 1}}}]},
        "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 0, "candidatesTokenCount": 0, "totalTokenCount": 0},
        "modelVersion": "alias", "responseId": "msg_1"}


def test_count_estimate_and_model_list():
    small = gemini_api.count_estimate({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})["totalTokens"]
    big = gemini_api.count_estimate({"generateContentRequest": {"contents": [{"parts": [{"text": "hi " * 400}]}]}})["totalTokens"]
    assert 0 < small < 15 and 290 < big < 330
    assert gemini_api.render_models(["fast"])["models"][0]["name"] == "models/fast"


def test_anthropic_fast_path_drops_gemini_marked_thinking_blocks():
    history = [{"role": "user", "content": "hi"},
               {"role": "assistant", "content": [{"type": "thinking", "thinking": "", "signature": "gemini:text:U0lH"}]},
               {"role": "user", "content": "Paris?"},
               {"role": "assistant", "content": [
                   {"type": "thinking", "thinking": "real", "signature": "EqQBCgIYAhIM"},
                   {"type": "thinking", "thinking": "", "signature": "gemini:call:U0lH"},
                   {"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
               {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]}]
    body = {"model": "alias", "max_tokens": 10, "messages": history}
    before = json.dumps(body)
    out = anthropic_messages.without_gemini_signatures(body)
    assert json.dumps(body) == before  # the client's body is not modified
    assert "gemini:" not in json.dumps(out)
    assert [m["role"] for m in out["messages"]] == ["user", "user", "assistant", "user"]
    assert out["messages"][2]["content"][0]["signature"] == "EqQBCgIYAhIM"
    plain = {"model": "alias", "max_tokens": 10, "messages": history[2:3]}
    assert anthropic_messages.without_gemini_signatures(plain) is plain
    sent, _ = anthropic_messages.passthrough_request(body, "claude", False)  # the fast path uses it
    assert "gemini:" not in (sent.decode() if isinstance(sent, bytes) else json.dumps(sent))


def test_thinking_budgets_are_capped_for_gemini_flash():
    out = anthropic_to_gemini({"messages": [{"role": "user", "content": "x"}], "max_tokens": 64000,
                               "thinking": {"type": "enabled", "budget_tokens": 31999}})
    assert out["generationConfig"]["thinkingConfig"]["thinkingBudget"] == 24576
