"""What counts as an empty answer, per wire type, whole and streamed."""

import orjson
import pytest

from plexus.core.empty_answer import stream_detector, whole_is_empty


@pytest.mark.parametrize("kind,answer,empty", [
    ("chat", {"choices": [{"message": {"content": ""}, "finish_reason": "stop"}]}, True),
    ("chat", {"choices": [{"message": {"content": None, "tool_calls": [{"id": "c"}]}, "finish_reason": "tool_calls"}]}, False),
    ("chat", {"choices": [{"message": {"content": ""}, "finish_reason": "length"}]}, False),
    ("messages", {"content": [], "stop_reason": "end_turn"}, True),
    ("messages", {"content": [{"type": "text", "text": ""}], "stop_reason": "max_tokens"}, False),
    ("messages", {"content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}], "stop_reason": "tool_use"}, False),
    ("responses", {"status": "completed", "output": [{"type": "message", "content": [{"type": "output_text", "text": ""}]}]}, True),
    ("responses", {"status": "completed", "output": [{"type": "function_call", "name": "f"}]}, False),
    ("gemini", {"candidates": [{"content": {"parts": [{"text": ""}]}, "finishReason": "STOP"}]}, True),
    ("gemini", {"candidates": [{"content": {"parts": [{"text": "hi"}]}, "finishReason": "STOP"}]}, False),
])
def test_whole_answers(kind, answer, empty):
    assert whole_is_empty(kind, orjson.dumps(answer)) is empty


@pytest.mark.parametrize("kind,head,useful", [
    ("chat", b'data: {"choices":[{"delta":{"role":"assistant","content":""}}]}\n\n', False),
    ("chat", b'data: {"choices":[{"delta":{"content": "Hi"}}]}\n\n', True),
    ("chat", b'data: {"choices":[{"delta":{"tool_calls":[{"index":0}]}}]}\n\n', True),
    ("messages", b'event: message_start\ndata: {"type":"message_start","message":{"content":[]}}\n\nevent: ping\n\n', False),
    ("messages", b'event: content_block_delta\ndata: {"delta":{"type":"text_delta","text":"Hi"}}\n\n', True),
    ("responses", b'event: response.created\ndata: {}\n\n', False),
    ("responses", b'event: response.output_text.delta\ndata: {"delta":"Hi"}\n\n', True),
    ("gemini", b'data: {"candidates":[{"content":{"parts":[{"text":"Hi"}]}}]}\r\n\r\n', True),
])
def test_stream_heads(kind, head, useful):
    assert bool(stream_detector(kind)(head)) is useful
