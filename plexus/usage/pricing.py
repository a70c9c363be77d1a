"""What a request cost, from the provider model's configured prices (USD per 1M tokens).

No configured price means an unknown cost (None), never 0. Cached reads and cache writes fall back
to the input price when theirs is not configured.
"""

from dataclasses import dataclass

PER_TOKENS = 1_000_000


@dataclass(frozen=True)
class Cost:
    input: float | None
    output: float | None
    cached: float | None
    cache_write: float | None

    @property
    def total(self):
        parts = (self.input, self.output, self.cached, self.cache_write)
        return None if None in parts else sum(parts)


def pricing_for(config, provider_id, model):
    provider = config.providers.get(provider_id) if provider_id else None
    return provider.pricing.get(model) if provider else None


def cost_of(pricing, usage):
    """The cost of `usage` (a unified Usage) at `pricing`; None when there is no pricing at all."""
    if pricing is None:
        return None
    return Cost(
        input=_part(usage.input_tokens, pricing.input),
        output=_part(usage.output_tokens, pricing.output),
        cached=_part(usage.cached_tokens, _first(pricing.cached_input, pricing.input)),
        cache_write=_part(usage.cache_write_tokens, _first(pricing.cache_write, pricing.input)),
    )


def _part(tokens, price):
    """Tokens at a price; no tokens cost nothing even when that price is missing."""
    if not tokens:
        return 0.0
    return None if price is None else tokens * price / PER_TOKENS


def _first(*prices):
    return next((p for p in prices if p is not None), None)
