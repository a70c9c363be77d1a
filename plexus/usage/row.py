"""The stored row: a finished UsageRecord turned into plain columns, with its tokens (estimated when
the provider reported none), its cost at the prices in force, and its timings in milliseconds."""

import orjson

from ..ids import hex_id
from ..unified.usage import Usage, estimate_tokens
from .pricing import cost_of, priced

COLUMNS = (
    "record_key", "time", "request_id", "key_name", "source_ip", "api_style", "alias", "provider", "model",
    "provider_type", "streamed", "fast_path", "attempts", "status", "error", "finish_reason",
    "input_tokens", "output_tokens", "cached_tokens", "cache_write_tokens", "reasoning_tokens",
    "estimated", "cost", "cost_input", "cost_output", "cost_cached", "cost_cache_write",
    "duration_ms", "ttft_ms", "upstream_ms", "overhead_ms", "tokens_per_second",
    "price_source", "skipped",
)  # fmt: skip


def to_row(rec, config):
    """A dict of COLUMNS. `config` supplies the prices."""
    usage, cost, source = billed_from(rec, config)
    return {
        "record_key": hex_id(),  # this row's identity, kept through retries and the fallback file
        "time": rec.time,
        "request_id": rec.request_id,
        "key_name": rec.key_name,
        "source_ip": rec.source_ip,
        "api_style": rec.api_style,
        "alias": rec.alias,
        "provider": rec.provider,
        "model": rec.model,
        "provider_type": rec.provider_type,
        "streamed": bool(rec.streamed),
        "fast_path": bool(rec.fast_path),
        "attempts": orjson.dumps(rec.attempts or [], default=str).decode(),
        "status": rec.status,
        "error": rec.error,
        "finish_reason": rec.finish_reason,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cached_tokens": usage.cached_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
        "estimated": bool(usage.estimated),
        **_costs(cost),
        **_timings(rec, usage.output_tokens),
        "price_source": source if cost is not None else None,
        "skipped": orjson.dumps(rec.skipped).decode() if rec.skipped else None,
    }


def _costs(cost):
    if cost is None:
        return dict.fromkeys(("cost", "cost_input", "cost_output", "cost_cached", "cost_cache_write"))
    return {
        "cost": cost.total,
        "cost_input": cost.input,
        "cost_output": cost.output,
        "cost_cached": cost.cached,
        "cost_cache_write": cost.cache_write,
    }


def billed(rec, config):
    """(tokens, cost) of a finished record: the usage the provider reported, else an estimate (see
    estimate_usage), else none; its cost at `config`'s prices (None when unpriced). Metrics count
    exactly what is stored."""
    usage, cost, _ = billed_from(rec, config)
    return usage, cost


def billed_from(rec, config):
    """billed(), and where the price came from ("config", "catalog:…", None when unpriced)."""
    usage = rec.usage or estimate_usage(rec) or Usage()
    pricing, source = priced(config, rec.provider, rec.model)
    return usage, cost_of(pricing, usage), source


def estimate_usage(rec):
    """Tokens from character counts, for a request the upstream worked on but reported no usage for
    (a stream cut or cancelled, a provider that sends none). Requests refused before or by the
    upstream used no tokens."""
    worked = rec.status == "cancelled" or (isinstance(rec.status, int) and rec.status < 400) or rec.output_chars
    if rec.upstream_started is None or not worked or not (rec.prompt_chars or rec.output_chars):
        return None
    return Usage(
        input_tokens=estimate_tokens(rec.prompt_chars),
        output_tokens=estimate_tokens(rec.output_chars),
        estimated=True,
    )


def _timings(rec, output_tokens):
    duration = rec.duration_s
    reached_upstream = rec.upstream_started is not None
    upstream = rec.upstream_s if reached_upstream else None
    ttft = rec.first_byte - rec.started if rec.first_byte is not None else None
    return {
        "duration_ms": _ms(duration),
        "ttft_ms": _ms(ttft),
        "upstream_ms": _ms(upstream),
        "overhead_ms": _ms(duration - (upstream or 0.0)) if duration is not None else None,
        "tokens_per_second": _rate(rec, output_tokens),
    }


def _rate(rec, output_tokens):
    """Output tokens per second of generation: from the first byte to the end for a stream; for a
    single answer (whose first byte is its last) over the whole upstream wait."""
    if not output_tokens or rec.duration_s is None:
        return None
    if rec.streamed:
        if rec.first_byte is None:
            return None
        seconds = rec.started + rec.duration_s - rec.first_byte
    else:
        seconds = rec.upstream_s if rec.upstream_started is not None else 0.0
    return round(output_tokens / seconds, 2) if seconds > 0 else None


def _ms(seconds):
    return None if seconds is None else round(seconds * 1000, 3)
