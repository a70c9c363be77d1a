"""What a request cost, from the provider model's prices (USD per 1M tokens): the config's, else
the built-in catalog's (plexus/catalog.py, whose long-context tiers price the whole request at the
tier its prompt reaches).

No price means an unknown cost (None), never 0. Cached reads and cache writes fall back to the
input price when theirs is not configured.
"""

from dataclasses import dataclass

from .. import catalog

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
    return priced(config, provider_id, model)[0]


def priced(config, provider_id, model):
    """(pricing, its source: "config", "catalog:…" or None) of a provider model."""
    known = catalog.facts(config, provider_id, model)
    return known.pricing, known.price_source


def cost_of(pricing, usage):
    """The cost of `usage` (a unified Usage) at `pricing`; None when there is no pricing at all."""
    if pricing is None:
        return None
    if hasattr(pricing, "for_prompt"):
        pricing = pricing.for_prompt(usage.prompt_tokens)
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
