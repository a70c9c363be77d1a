"""The quirks for OpenAI-compatible servers that accept less (plexus/wire/compat.py): what they leave alone."""

from plexus.wire import compat

IMAGE = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}


def test_only_text_only_content_is_flattened_and_only_named_choices_change():
    body = {"messages": [{"role": "user", "content": [{"type": "text", "text": "a"}, IMAGE]},
                         {"role": "user", "content": "plain"}],
            "tool_choice": "required", "tools": [{"type": "function", "function": {"name": "f"}}]}
    compat.apply(body, "chat", {"flatten_content": True, "tool_choice_named": False})
    assert body["messages"][0]["content"][1] == IMAGE and body["messages"][1]["content"] == "plain"
    assert body["tool_choice"] == "required" and len(body["tools"]) == 1


def test_strip_fields_applies_to_every_type_the_chat_quirks_only_to_chat():
    body = {"service_tier": "auto", "messages": [{"role": "user", "content": [{"type": "text", "text": "a"}]}]}
    compat.apply(body, "messages", {"strip_fields": ["service_tier"], "flatten_content": True})
    assert "service_tier" not in body and isinstance(body["messages"][0]["content"], list)
