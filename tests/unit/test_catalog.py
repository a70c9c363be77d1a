"""The built-in model catalog: names matched with their usual decorations, config first, catalog
second, long-context tiers, and the price's source in the usage row."""

import pytest

from plexus import catalog
from plexus.cli import main as cli
from plexus.config import parse_config
from plexus.unified.usage import Usage
from plexus.usage.pricing import cost_of
from plexus.usage.record import UsageRecord
from plexus.usage.row import to_row

CONFIG = """
providers:
  anthropic: {type: messages, api_base_url: "https://api.anthropic.com/v1", api_key: k,
              models: {claude-sonnet-4-5: {pricing: {input: 1, output: 2}}, tiny: {context_window: 1000}}}
  router: {type: chat, api_base_url: "https://openrouter.ai/api/v1", api_key: k}
  local: {type: chat, api_base_url: "http://127.0.0.1:9/v1", api_key: k, catalog_provider: google}
models:
  a: {targets: [{provider: anthropic, model: claude-sonnet-4-20250514}, {provider: router, model: openai/gpt-4o},
                {provider: local, model: models/gemini-2.5-pro}, {provider: anthropic, model: tiny}]}
"""


@pytest.fixture
def config():
    cfg = parse_config(CONFIG)
    catalog.warm(cfg)
    return cfg


def test_names_lose_prefixes_and_dates_in_order():
    assert catalog.names_to_try("models/Claude-Sonnet-4@20250514") == [
        "claude-sonnet-4@20250514", "claude-sonnet-4", "claude-sonnet-4-20250514"]
    assert catalog.names_to_try("openai/gpt-4o-2024-08-06") == ["openai/gpt-4o-2024-08-06", "gpt-4o-2024-08-06",
                                                                 "openai/gpt-4o", "gpt-4o"]
    assert catalog.names_to_try("openai/gpt-4o", keep_vendor=True) == ["openai/gpt-4o"]


def test_a_dated_anthropic_model_is_found_with_prices_and_limits(config):
    f = catalog.facts(config, "anthropic", "claude-sonnet-4-20250514")
    assert f.price_source.startswith("catalog:genai-prices@")
    assert (f.pricing.input, f.pricing.output, f.pricing.cached_input, f.pricing.cache_write) == (3, 15, 0.3, 3.75)
    assert (f.context_window, f.max_output) == (200000, 64000)


def test_config_prices_and_context_windows_win(config):
    assert catalog.facts(config, "anthropic", "claude-sonnet-4-5").pricing.input == 1
    assert catalog.facts(config, "anthropic", "claude-sonnet-4-5").price_source == "config"
    tiny = catalog.facts(config, "anthropic", "tiny")
    assert (tiny.context_window, tiny.limit_source, tiny.pricing) == (1000, "config", None)


def test_the_provider_comes_from_the_host_or_the_config(config):
    assert catalog.catalog_provider(config.providers["router"]) == "openrouter"
    assert catalog.facts(config, "router", "openai/gpt-4o").pricing.input == 2.5
    gemini = catalog.facts(config, "local", "models/gemini-2.5-pro")
    assert gemini.context_window == 1048576
    assert catalog.facts(config, "local", "no-such-model") == catalog.NOTHING


def test_long_context_tiers_price_the_whole_request(config):
    pricing = catalog.facts(config, "local", "models/gemini-2.5-pro").pricing
    short = cost_of(pricing, Usage(input_tokens=100_000, output_tokens=1_000_000))
    long = cost_of(pricing, Usage(input_tokens=300_000, output_tokens=1_000_000))
    assert short.input == pytest.approx(0.125) and short.output == pytest.approx(10)
    assert long.input == pytest.approx(0.75) and long.output == pytest.approx(15)


def test_an_unpriced_model_gets_a_catalog_price_and_the_row_says_so(config):
    rec = UsageRecord(api_style="chat", provider="anthropic", model="claude-sonnet-4-20250514")
    rec.usage, rec.status = Usage(input_tokens=1_000_000, output_tokens=1_000_000), 200
    row = to_row(rec, config)
    assert row["cost"] == pytest.approx(18) and row["price_source"].startswith("catalog:genai-prices@")
    rec.model = "claude-sonnet-4-5"
    assert to_row(rec, config)["price_source"] == "config"
    rec.model = "tiny"
    assert (to_row(rec, config)["cost"], to_row(rec, config)["price_source"]) == (None, None)


def test_the_command_prints_what_the_catalog_knows(capsys):
    assert cli(["catalog", "claude-sonnet-4-20250514", "--provider", "anthropic"]) == 0
    out = capsys.readouterr().out
    assert "anthropic: claude-sonnet-4-0" in out and "context_window 200,000" in out and "input 3 " in out
    assert cli(["catalog", "surely-not-a-model"]) == 1
