"""Token usage in one shape, whatever the provider reported.

`input_tokens` EXCLUDES cached-read and cache-write tokens (Anthropic's convention), so the whole
prompt is `input_tokens + cached_tokens + cache_write_tokens`. `output_tokens` INCLUDES reasoning
tokens (every provider's convention); `reasoning_tokens` says how many of them were reasoning.
"""

from dataclasses import dataclass


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    estimated: bool = False

    @property
    def prompt_tokens(self):
        """The whole prompt, cached parts included (OpenAI's `prompt_tokens`)."""
        return self.input_tokens + self.cached_tokens + self.cache_write_tokens


def _int(v):
    return v if isinstance(v, int) and v > 0 else 0


def _details(d, key):
    v = d.get(key)
    return v if isinstance(v, dict) else {}


def from_openai(u):
    """Chat Completions `usage`: prompt_tokens includes cached (and cache-write) tokens."""
    if not isinstance(u, dict):
        return None
    pd, cd = _details(u, "prompt_tokens_details"), _details(u, "completion_tokens_details")
    cached, written = _int(pd.get("cached_tokens")), _int(pd.get("cache_write_tokens"))
    # DeepSeek reports its cache split at the top level
    cached = cached or _int(u.get("prompt_cache_hit_tokens"))
    return Usage(
        input_tokens=max(_int(u.get("prompt_tokens")) - cached - written, 0),
        output_tokens=_int(u.get("completion_tokens")),
        cached_tokens=cached,
        cache_write_tokens=written,
        reasoning_tokens=_int(cd.get("reasoning_tokens")),
    )


def from_anthropic(u):
    """Messages `usage`: input_tokens excludes cache reads and writes already."""
    if not isinstance(u, dict):
        return None
    return Usage(
        input_tokens=_int(u.get("input_tokens")),
        output_tokens=_int(u.get("output_tokens")),
        cached_tokens=_int(u.get("cache_read_input_tokens")),
        cache_write_tokens=_int(u.get("cache_creation_input_tokens")),
        reasoning_tokens=_int(_details(u, "output_tokens_details").get("thinking_tokens")),
    )


def from_responses(u):
    """Responses API `usage`: input_tokens includes cached tokens."""
    if not isinstance(u, dict):
        return None
    idt, odt = _details(u, "input_tokens_details"), _details(u, "output_tokens_details")
    cached, written = _int(idt.get("cached_tokens")), _int(idt.get("cache_write_tokens"))
    return Usage(
        input_tokens=max(_int(u.get("input_tokens")) - cached - written, 0),
        output_tokens=_int(u.get("output_tokens")),
        cached_tokens=cached,
        cache_write_tokens=written,
        reasoning_tokens=_int(odt.get("reasoning_tokens")),
    )


def from_gemini(u):
    """Gemini `usageMetadata`: promptTokenCount includes cached; candidates exclude thoughts."""
    if not isinstance(u, dict):
        return None
    cached = _int(u.get("cachedContentTokenCount"))
    thoughts = _int(u.get("thoughtsTokenCount"))
    return Usage(
        input_tokens=max(_int(u.get("promptTokenCount")) + _int(u.get("toolUsePromptTokenCount")) - cached, 0),
        output_tokens=_int(u.get("candidatesTokenCount")) + thoughts,
        cached_tokens=cached,
        reasoning_tokens=thoughts,
    )


def to_openai(usage):
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.prompt_tokens + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


def to_anthropic(usage):
    return {
        "input_tokens": usage.input_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cached_tokens,
        "output_tokens": usage.output_tokens,
    }


def estimate_tokens(chars):
    """A rough count for text whose usage the provider never reported: about 4 characters a token."""
    return (chars + 3) // 4 if chars > 0 else 0
