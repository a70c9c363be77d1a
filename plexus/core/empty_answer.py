"""What counts as an empty answer, per provider wire type: a whole answer with no text, reasoning
or tool call, or a stream that has sent nothing of the kind before its first-byte timeout (only
role chunks, pings, keep-alives). Either fails over like an upstream error when the provider's
`empty_failover` is on (the default)."""

import re

import orjson

# bytes in a stream that mean it carries output (a text or reasoning delta with at least one
# character, or the start of a tool call)
USEFUL = {
    "chat": re.compile(rb'"(?:content|reasoning_content|reasoning)"\s*:\s*"(?!")|"tool_calls"\s*:\s*\[\s*\{'),
    "messages": re.compile(rb'"(?:text|thinking|partial_json)"\s*:\s*"(?!")|"type"\s*:\s*"tool_use"'),
    "responses": re.compile(rb'response\.output_text\.delta|response\.function_call_arguments|response\.reasoning'
                            rb'|"type"\s*:\s*"function_call"'),
    "gemini": re.compile(rb'"text"\s*:\s*"(?!")|"functionCall"'),
}
# finish reasons under which an empty answer is the model's own (the limit was reached, a filter acted)
LEGITIMATE = {"length", "max_tokens", "MAX_TOKENS", "content_filter", "SAFETY", "refusal", "incomplete", "max_output_tokens"}


def stream_detector(provider_type: str):
    """A predicate on the bytes seen so far, or None for a type it does not know."""
    pattern = USEFUL.get(provider_type)
    return pattern.search if pattern else None


def whole_is_empty(provider_type: str, raw: bytes) -> bool:
    """Whether a non-streamed answer has no output at all (and no reason of its own for that)."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False  # not ours to judge: the relay reports a body that is not JSON
    return parsed_is_empty(provider_type, data)


def parsed_is_empty(provider_type: str, data: object) -> bool:
    """whole_is_empty() of an answer already parsed."""
    if not isinstance(data, dict):
        return False
    check = WHOLE.get(provider_type)
    try:
        return bool(check and check(data))
    except (AttributeError, IndexError, KeyError, TypeError):
        return False


def _chat(data):
    choice = data["choices"][0]
    m = choice.get("message") or {}
    has = m.get("content") or m.get("tool_calls") or m.get("reasoning_content") or m.get("reasoning") or m.get("refusal")
    return not has and choice.get("finish_reason") not in LEGITIMATE


def _messages(data):
    has = any(b.get("type") != "text" or b.get("text") for b in data.get("content") or ())
    return not has and data.get("stop_reason") not in LEGITIMATE


def _responses(data):
    items = data.get("output") or ()
    has = any(i.get("type") != "message" or any(c.get("text") or c.get("refusal") for c in i.get("content") or ())
              for i in items)
    return not has and data.get("status") != "incomplete"


def _gemini(data):
    candidate = data["candidates"][0]
    parts = (candidate.get("content") or {}).get("parts") or ()
    has = any(p.get("text") or p.get("functionCall") for p in parts)
    return not has and candidate.get("finishReason") not in LEGITIMATE


WHOLE = {"chat": _chat, "messages": _messages, "responses": _responses, "gemini": _gemini}
