"""Does a request fit a target's context window? The request's size estimated without a
tokenizer (about four characters a token, binary attachments counted flat), its requested output,
and upstream errors that say the context was exceeded, as OpenAI, Anthropic and Gemini word them."""

import re
from typing import Any

from ..unified.usage import estimate_tokens

BINARY_TOKENS = 1_500  # an image or document sent inline: roughly what providers bill for one
OUTPUT_FIELDS = ("max_tokens", "max_completion_tokens", "max_output_tokens")

# OpenAI: code context_length_exceeded, "This model's maximum context length is 128000 tokens. However, your
#   messages resulted in 130532 tokens..."; Anthropic: "prompt is too long: 208310 tokens > 200000 maximum",
#   "input length and `max_tokens` exceed context limit: 188240 + 21333 > 200000"; Gemini: "The input token
#   count (1258291) exceeds the maximum number of tokens allowed (1048576)."; OpenRouter and vLLM word it like OpenAI
EXCEEDED = re.compile(r"context_length_exceeded|maximum context length|prompt is too long|exceed context limit"
                      r"|input token count.{0,40}exceeds the maximum number of tokens|context window", re.I)


def prompt_tokens(body: Any, body_size: int, smallest_window: int | None) -> int:
    """The request's estimated prompt tokens. The body's size is an over-estimate (JSON, base64):
    when that fits comfortably in the smallest known window (or none is known), the body is not walked."""
    rough = estimate_tokens(body_size)
    if smallest_window is None or rough <= smallest_window // 2:
        return rough
    chars, binaries = _sizes(body)
    return estimate_tokens(chars) + binaries * BINARY_TOKENS


def _sizes(value: Any) -> tuple[int, int]:
    """(characters of text, binary attachments) in a parsed body."""
    if isinstance(value, str):
        return (0, 1) if _is_binary(value) else (len(value), 0)
    parts = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    chars = binaries = 0
    for part in parts:
        c, b = _sizes(part)
        chars, binaries = chars + c, binaries + b
    return chars, binaries


def _is_binary(text: str) -> bool:
    """Base64 data (a data: URL or a bare payload): long, with no space in its first kilobyte."""
    return len(text) > 1000 and (text.startswith("data:") or " " not in text[:1000])


def requested_output(body: Any) -> int:
    """The output tokens the request asks room for (0 when it names no limit)."""
    if not isinstance(body, dict):
        return 0
    for name in OUTPUT_FIELDS:
        if isinstance(body.get(name), int):
            return body[name]
    gen = body.get("generationConfig") or body.get("generation_config")
    value = gen.get("maxOutputTokens") if isinstance(gen, dict) else None
    return value if isinstance(value, int) else 0


def says_exceeded(err: Any) -> bool:
    """Whether an upstream error says the prompt did not fit the model's context."""
    status = getattr(err, "status", None)
    if status not in (400, 413, 422):
        return False
    return bool(EXCEEDED.search(err.message or "")) or getattr(err, "code", None) == "context_length_exceeded"
