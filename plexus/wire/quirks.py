"""Provider quirks: how an upstream differs from the API it claims to speak. Driven only by config
flags on the provider (or its target), never by sniffing model names.

| flag | effect |
|---|---|
| `max_tokens_field: max_completion_tokens` | chat: send the limit as `max_completion_tokens` (OpenAI o-series, gpt-5) |
| `max_tokens_cap: N` | never ask for more than N output tokens |
| `strip_cache_control: true` | remove `cache_control` hints, for upstreams that reject them |
| `reasoning_field: reasoning` | chat: reasoning history goes back as `reasoning` (OpenRouter), not `reasoning_content` (DeepSeek) |
| `extra_body: {...}` | merged into every request body |
| `think_tags: true` | chat: `<think>...</think>` at the start of the text is reasoning |
| `stream_options: false` | chat: don't send `stream_options` (servers that reject it; usage is then estimated) |
| `structured_output: tool` | messages: structured output as a forced tool (models without `output_config.format`); translated requests only |

More for OpenAI-compatible servers that accept less (`strip_fields`, `tool_choice_named`, `flatten_content`,
`tool_schema_strip`): plexus/wire/compat.py.
"""

from . import compat
from .anthropic import structured

MAX_TOKENS_KEYS = {"chat": ("max_tokens", "max_completion_tokens"), "messages": ("max_tokens",),
                   "responses": ("max_output_tokens",)}


def for_target(provider, target):
    if not target.quirks:
        return provider.quirks
    merged = {**provider.quirks, **target.quirks}
    if "extra_body" in provider.quirks and "extra_body" in target.quirks:
        merged["extra_body"] = merge(dict(provider.quirks["extra_body"]), target.quirks["extra_body"])
    return merged


def apply(body, provider_type, quirks, translated=True):
    """The upstream body with the quirks applied. `body` is the gateway's own dict: changed in place.
    `translated`: built from the unified request (False: the client's own body, on the fast path)."""
    if not quirks:
        return body
    if provider_type == "chat":
        _chat(body, quirks)
    if provider_type == "messages" and translated and quirks.get("structured_output") == "tool":
        structured.to_tool(body)
    cap = quirks.get("max_tokens_cap")
    if cap:
        _cap(body, provider_type, cap)
    if quirks.get("strip_cache_control"):
        for key in ("system", "messages", "tools"):
            if key in body:
                body[key] = without_cache_control(body[key])
    compat.apply(body, provider_type, quirks)
    if quirks.get("extra_body"):
        merge(body, quirks["extra_body"])
    return body


def _chat(body, quirks):
    field = quirks.get("max_tokens_field")
    other = {"max_completion_tokens": "max_tokens", "max_tokens": "max_completion_tokens"}.get(field)
    if other and other in body:
        body[field] = body.pop(other)
    if quirks.get("stream_options") is False:
        body.pop("stream_options", None)
    if quirks.get("reasoning_field") == "reasoning":
        for m in body.get("messages") or ():
            if isinstance(m, dict) and "reasoning_content" in m:
                m["reasoning"] = m.pop("reasoning_content")


def _cap(body, provider_type, cap):
    if provider_type == "gemini":
        config = body.setdefault("generationConfig", {})
        config["maxOutputTokens"] = min(config.get("maxOutputTokens") or cap, cap)
        return
    keys = MAX_TOKENS_KEYS.get(provider_type, ())
    present = [k for k in keys if isinstance(body.get(k), int)]
    for k in present:
        body[k] = min(body[k], cap)
    if not present and provider_type == "messages":
        body["max_tokens"] = cap


def without_cache_control(value):
    if isinstance(value, dict):
        return {k: without_cache_control(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [without_cache_control(v) for v in value]
    return value


def merge(base, extra):
    """Deep-merge `extra` into `base` (dicts merge; anything else replaces)."""
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            merge(base[k], v)
        else:
            base[k] = v
    return base


class ThinkSplitter:
    """Splits streamed text into reasoning (inside a leading `<think>...</think>`) and answer text,
    even when a tag is cut across chunks."""

    OPEN, CLOSE = "<think>", "</think>"

    def __init__(self):
        self.state = "start"  # start -> thinking -> text, or start -> text
        self.pending = ""

    def feed(self, text):
        """[(is_reasoning, text), ...] for this piece."""
        self.pending += text
        out = []
        while self.pending:
            if self.state == "text":
                out.append((False, self.pending))
                self.pending = ""
            elif self.state == "start":
                stripped = self.pending.lstrip()
                if self.OPEN.startswith(stripped):  # could still become the tag: wait
                    break
                if stripped.startswith(self.OPEN):
                    self.pending = stripped[len(self.OPEN):]
                    self.state = "thinking"
                else:
                    self.state = "text"
            else:
                at = self.pending.find(self.CLOSE)
                if at >= 0:
                    if at:
                        out.append((True, self.pending[:at]))
                    self.pending = self.pending[at + len(self.CLOSE):].lstrip("\n")
                    self.state = "text"
                    continue
                keep = _partial_suffix(self.pending, self.CLOSE)
                if len(self.pending) > keep:
                    out.append((True, self.pending[: len(self.pending) - keep]))
                self.pending = self.pending[len(self.pending) - keep:]
                break
        return out

    def flush(self):
        rest, self.pending = self.pending, ""
        return [(self.state == "thinking", rest)] if rest else []


def _partial_suffix(text, tag):
    """How many trailing characters of `text` could be the start of `tag`."""
    for n in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-n:]):
            return n
    return 0


def split_think(text):
    splitter = ThinkSplitter()
    parts = splitter.feed(text) + splitter.flush()
    reasoning = "".join(t for r, t in parts if r)
    answer = "".join(t for r, t in parts if not r)
    return reasoning, answer
