"""Request translation both ways, checked against the unified contract."""

import pytest

from plexus.wire.anthropic import client as anthropic_messages
from plexus.wire.openai_chat import client as openai_chat
from plexus.config import Provider
from plexus.core.errors import InvalidRequest
from plexus.wire.anthropic import upstream as messages
from plexus.wire.openai_chat import upstream as chat
from plexus.unified.types import REQUEST

PROVIDER = Provider(id="p", type="messages", api_base_url="http://x/v1", api_key="k", headers={}, pricing={})
PNG = "iVBORw0KGgo="
TOOL = {"type": "function", "function": {"name": "get_weather", "description": "Weather",
                                          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}


def openai_to_anthropic(body):
    body = {"model": "alias", **body}
    openai_chat.check_request(body)
    req = openai_chat.parse_request(body)
    assert REQUEST.validate(req) == {}
    return messages.build_request(req, "up", PROVIDER)


def anthropic_to_openai(body):
    body = {"model": "alias", "max_tokens": 256, **body}
    anthropic_messages.check_request(body)
    req = anthropic_messages.parse_request(body)
    assert REQUEST.validate(req) == {}
    return chat.build_request(req, "up", PROVIDER)


def test_openai_system_and_developer_go_to_top_level_system():
    out = openai_to_anthropic({"messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": [{"type": "text", "text": "Use French."}]},
        {"role": "user", "content": "hi"},
    ]})
    assert out["system"] == [{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Use French."}]
    assert out["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
    assert out["max_tokens"] == 4096 and out["model"] == "up"


def test_openai_tool_loop_becomes_tool_use_and_merged_tool_results():
    out = openai_to_anthropic({
        "messages": [
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "call.2", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Rome\"}"}},
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "21C"},
            {"role": "tool", "tool_call_id": "call.2", "content": [{"type": "text", "text": "25C"}]},
            {"role": "user", "content": "Thanks"},
        ],
        "tools": [TOOL], "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "parallel_tool_calls": False, "max_completion_tokens": 300, "stop": "END", "user": "u-1",
        "temperature": 0.3, "top_p": 0.9,
    })
    assert out["tools"] == [{"name": "get_weather", "description": "Weather", "input_schema": TOOL["function"]["parameters"]}]
    assert out["tool_choice"] == {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True}
    assert out["messages"][1] == {"role": "assistant", "content": [
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {"city": "Rome"}},  # id made valid
    ]}
    assert out["messages"][2] == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "call_1", "content": [{"type": "text", "text": "21C"}]},
        {"type": "tool_result", "tool_use_id": "call_2", "content": [{"type": "text", "text": "25C"}]},
        {"type": "text", "text": "Thanks"},
    ]}
    assert len(out["messages"]) == 3
    assert (out["max_tokens"], out["stop_sequences"], out["metadata"]) == (300, ["END"], {"user_id": "u-1"})
    assert (out["temperature"], out["top_p"]) == (0.3, 0.9)


@pytest.mark.parametrize("choice, expected", [("auto", {"type": "auto"}), ("none", {"type": "none"}), ("required", {"type": "any"})])
def test_openai_tool_choice_strings(choice, expected):
    out = openai_to_anthropic({"messages": [{"role": "user", "content": "x"}], "tools": [TOOL], "tool_choice": choice})
    assert out["tool_choice"] == expected


def test_openai_images_become_base64_or_url_sources():
    out = openai_to_anthropic({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "high"}},
    ]}]})
    assert out["messages"][0]["content"][1:] == [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
    ]


def test_reasoning_effort_becomes_a_thinking_budget_below_max_tokens():
    out = openai_to_anthropic({"messages": [{"role": "user", "content": "x"}], "reasoning_effort": "medium",
                               "max_tokens": 1000, "temperature": 0.2})
    assert out["thinking"] == {"type": "enabled", "budget_tokens": 8192}
    assert out["max_tokens"] == 9192 and "temperature" not in out


def test_thinking_is_left_off_when_a_replayed_tool_turn_lacks_its_signature():
    out = openai_to_anthropic({"reasoning_effort": "high", "tools": [TOOL], "messages": [
        {"role": "user", "content": "x"},
        {"role": "assistant", "reasoning_content": "from deepseek", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "ok"},
    ]})
    assert "thinking" not in out
    assert out["messages"][1]["content"] == [{"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {}}]


def test_signed_reasoning_from_reasoning_details_goes_back_to_anthropic_intact():
    out = openai_to_anthropic({"reasoning_effort": "low", "tools": [TOOL], "messages": [
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": None, "reasoning_content": "think",
         "reasoning_details": [{"type": "reasoning.text", "text": "think", "signature": "SIG", "format": "anthropic-claude-v1"}],
         "tool_calls": [{"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "toolu_1", "content": "ok"},
    ]})
    assert out["messages"][1]["content"][0] == {"type": "thinking", "thinking": "think", "signature": "SIG"}
    assert out["thinking"] == {"type": "enabled", "budget_tokens": 2048}


def test_unsupported_openai_part_is_a_clear_400():
    with pytest.raises(InvalidRequest) as e:
        openai_to_anthropic({"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]})
    assert "input_audio" in e.value.message


def test_anthropic_request_becomes_openai_chat():
    out = anthropic_to_openai({
        "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}},
                   {"type": "text", "text": "Use tools."}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Look", "cache_control": {"type": "ephemeral"}},
                                         {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": PNG}}]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "hmm", "signature": ""},
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {"city": "Rome"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "21C"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": [{"type": "text", "text": "25C"}], "is_error": False},
                {"type": "text", "text": "And tomorrow?"}]},
        ],
        "tools": [{"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral"}}],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
        "stop_sequences": ["END"], "metadata": {"user_id": "u-9"}, "top_k": 5, "temperature": 0.5,
        "thinking": {"type": "enabled", "budget_tokens": 3000}, "stream": True,
    })
    assert out["messages"] == [
        {"role": "system", "content": "Be brief.\n\nUse tools."},
        {"role": "user", "content": [{"type": "text", "text": "Look"}, {"type": "image_url", "image_url": {"url": f"data:image/jpeg;base64,{PNG}"}}]},
        {"role": "assistant", "content": "Checking.", "reasoning_content": "hmm", "tool_calls": [
            {"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
            {"id": "toolu_2", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'}}]},
        {"role": "tool", "tool_call_id": "toolu_1", "content": "21C"},
        {"role": "tool", "tool_call_id": "toolu_2", "content": "25C"},
        {"role": "user", "content": "And tomorrow?"},
    ]
    assert out["tools"] == [{"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": {"type": "object"}}}]
    assert out["tool_choice"] == "required" and out["parallel_tool_calls"] is False
    assert (out["max_tokens"], out["stop"], out["user"], out["temperature"]) == (256, ["END"], "u-9", 0.5)
    assert "top_k" not in out and "cache_control" not in str(out)
    assert out["reasoning_effort"] == "medium"
    assert out["stream"] is True and out["stream_options"] == {"include_usage": True}


def test_anthropic_named_tool_choice():
    out = anthropic_to_openai({"messages": [{"role": "user", "content": "x"}], "tools": [{"name": "f", "input_schema": {}}],
                               "tool_choice": {"type": "tool", "name": "f"}})
    assert out["tool_choice"] == {"type": "function", "function": {"name": "f"}}


def test_anthropic_server_tool_is_dropped_for_a_chat_provider_or_refused_when_configured():
    body = {"model": "alias", "max_tokens": 256, "messages": [{"role": "user", "content": "x"}],
            "tools": [{"type": "web_search_20250305", "name": "web_search"}]}
    req = anthropic_messages.parse_request(body)
    assert "tools" not in chat.build_request(req, "up", PROVIDER) and req["dropped_tools"] == ["web_search_20250305"]
    strict = Provider(id="p", type="chat", api_base_url="http://x/v1", api_key="k", headers={}, pricing={}, unsupported_tools="error")
    with pytest.raises(InvalidRequest) as e:
        chat.build_request(anthropic_messages.parse_request(body), "up", strict)
    assert "web_search_20250305" in e.value.message and "unsupported_tools" in e.value.message


@pytest.mark.parametrize("body, needle", [
    ({"model": "a", "messages": [{"role": "user", "content": "x"}]}, "max_tokens"),
    ({"model": "a", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]}, "role"),
    ({"model": "a", "max_tokens": 5, "messages": []}, "messages"),
    ({"max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}, "model"),
    ({"model": "a", "max_tokens": 5, "messages": [{"role": "user", "content": 3}]}, "content"),
])
def test_anthropic_request_checks(body, needle):
    with pytest.raises(InvalidRequest) as e:
        anthropic_messages.check_request(body)
    assert needle in e.value.message


def test_count_estimate_grows_with_the_prompt():
    small = anthropic_messages.count_estimate({"messages": [{"role": "user", "content": "hi"}]})["input_tokens"]
    big = anthropic_messages.count_estimate({"messages": [{"role": "user", "content": "hi " * 400}]})["input_tokens"]
    assert 0 < small < 15 and 300 < big < 330


@pytest.mark.parametrize("stop", [[[]], [1], {"a": 1}, 5])
def test_a_stop_that_is_not_strings_is_a_clear_400(stop):
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stop": stop}
    with pytest.raises(InvalidRequest) as e:
        openai_chat.parse_request(body, {})
    assert e.value.param == "stop" and "array of strings" in e.value.message
    body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}], "stop_sequences": stop}
    with pytest.raises(InvalidRequest) as e:
        anthropic_messages.parse_request(body, {})
    assert "stop_sequences" in e.value.message


def test_stop_strings_are_kept():
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stop": "END"}
    assert openai_chat.parse_request(body, {})["stop"] == ["END"]
    body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}], "stop_sequences": ["A", "B"]}
    assert anthropic_messages.parse_request(body, {})["stop"] == ["A", "B"]


def _screenshot_turns(*call_ids):
    """An Anthropic conversation whose tools answered with text and a screenshot."""
    calls = [{"type": "tool_use", "id": c, "name": "get_weather", "input": {"city": "Oslo"}} for c in call_ids]
    results = [{"type": "tool_result", "tool_use_id": c, "content": [
        {"type": "text", "text": f"map of {c}"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}]} for c in call_ids]
    return {"tools": [{"name": "get_weather", "input_schema": {"type": "object"}}],
            "messages": [{"role": "user", "content": "weather?"}, {"role": "assistant", "content": calls},
                         {"role": "user", "content": results}]}


def test_images_in_tool_results_reach_a_chat_provider_in_a_user_message_after_the_tool_messages():
    out = anthropic_to_openai(_screenshot_turns("toolu_1", "toolu_2"))
    roles = [m["role"] for m in out["messages"]]
    assert roles == ["user", "assistant", "tool", "tool", "user"]
    assert [m["content"] for m in out["messages"][2:4]] == ["map of toolu_1", "map of toolu_2"]
    attachments = out["messages"][4]["content"]
    assert attachments == [
        {"type": "text", "text": "[attachments of tool result toolu_1]"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "text", "text": "[attachments of tool result toolu_2]"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
    ]


def test_a_tool_result_that_is_only_an_image_says_where_it_is():
    body = _screenshot_turns("toolu_1")
    body["messages"][2]["content"][0]["content"] = body["messages"][2]["content"][0]["content"][1:]
    out = anthropic_to_openai(body)
    assert out["messages"][2]["content"] == "[the result is in the attachments that follow]"
    assert out["messages"][3]["content"][1]["type"] == "image_url"
