"""Costs from configured prices, and a finished UsageRecord turned into its stored row."""

import pytest

from plexus.config import parse_config
from plexus.unified.usage import Usage
from plexus.usage.pricing import Cost, cost_of, pricing_for
from plexus.usage.record import UsageRecord
from plexus.usage.row import COLUMNS, to_row

CONFIG = parse_config(
    """
providers:
  up:
    type: chat
    api_base_url: http://127.0.0.1:9/v1
    models:
      full: {pricing: {input: 1.0, output: 2.0, cached_input: 0.5, cache_write: 3.0}}
      plain: {pricing: {input: 4.0, output: 8.0}}
      input-only: {pricing: {input: 1.0}}
      listed-unpriced: null
""",
    environ={},
)


def price(model):
    return pricing_for(CONFIG, "up", model)


def test_every_part_is_priced_per_million_tokens():
    cost = cost_of(price("full"), Usage(input_tokens=1000, output_tokens=500, cached_tokens=2000, cache_write_tokens=100))
    # 1000 × $1 + 500 × $2 + 2000 × $0.5 + 100 × $3, per million
    assert cost == Cost(input=0.001, output=0.001, cached=0.001, cache_write=0.0003)
    assert cost.total == pytest.approx(0.0033)


def test_cached_reads_and_cache_writes_fall_back_to_the_input_price():
    usage = Usage(input_tokens=0, output_tokens=0, cached_tokens=1_000_000, cache_write_tokens=500_000)
    cost = cost_of(price("plain"), usage)
    assert (cost.cached, cost.cache_write) == (4.0, 2.0)
    assert cost.total == pytest.approx(6.0)


def test_reasoning_tokens_are_paid_as_the_output_they_are_part_of():
    cost = cost_of(price("plain"), Usage(input_tokens=0, output_tokens=1000, reasoning_tokens=800))
    assert cost.total == pytest.approx(0.008)


@pytest.mark.parametrize(
    "provider, model", [("up", "unknown-model"), ("up", "listed-unpriced"), ("nobody", "full"), (None, None)]
)
def test_no_price_means_an_unknown_cost_not_zero(provider, model):
    pricing = pricing_for(CONFIG, provider, model)
    cost = cost_of(pricing, Usage(input_tokens=10, output_tokens=10))
    assert cost is None or cost.total is None


def test_a_missing_price_only_matters_for_tokens_that_need_it():
    assert cost_of(price("input-only"), Usage(input_tokens=1000)).total == pytest.approx(0.001)
    cost = cost_of(price("input-only"), Usage(input_tokens=1000, output_tokens=1))
    assert cost.input == pytest.approx(0.001) and cost.output is None and cost.total is None


def finished(**kw):
    """A record as the request path leaves it: perf_counter times relative to started=100.0."""
    base = dict(
        api_style="chat", request_id="req-1", time=1_736_942_400.0, started=100.0, key_name="test",
        source_ip="10.1.2.3", alias="fast", provider="up", model="full", provider_type="chat", streamed=True,
        fast_path=True, attempts=[{"provider": "up", "model": "full"}], status=200, finish_reason="stop",
        usage=Usage(input_tokens=20, output_tokens=40, cached_tokens=10, reasoning_tokens=4),
        prompt_chars=400, output_chars=160, upstream_started=100.01, first_byte=100.25, upstream_s=1.2,
        duration_s=1.25,
    )  # fmt: skip
    return UsageRecord(**{**base, **kw})


def test_a_record_becomes_a_row_with_tokens_cost_and_timings():
    row = to_row(finished(), CONFIG)
    assert set(row) == set(COLUMNS)
    assert row["record_key"] != to_row(finished(), CONFIG)["record_key"]
    assert (row["input_tokens"], row["output_tokens"], row["cached_tokens"], row["reasoning_tokens"]) == (20, 40, 10, 4)
    assert row["estimated"] is False
    assert row["cost"] == pytest.approx((20 * 1.0 + 40 * 2.0 + 10 * 0.5) / 1e6)
    assert row["cost_output"] == pytest.approx(80 / 1e6)
    assert row["duration_ms"] == pytest.approx(1250) and row["ttft_ms"] == pytest.approx(250)
    assert row["upstream_ms"] == pytest.approx(1200) and row["overhead_ms"] == pytest.approx(50)
    assert row["tokens_per_second"] == pytest.approx(40 / 1.0)  # 40 tokens from first byte to the end
    assert row["attempts"] == '[{"provider":"up","model":"full"}]'
    assert row["key_name"] == "test" and row["source_ip"] == "10.1.2.3"


def test_a_single_answer_rates_tokens_over_the_upstream_wait():
    row = to_row(finished(streamed=False, first_byte=101.24), CONFIG)
    assert row["tokens_per_second"] == pytest.approx(40 / 1.2, abs=0.01)


def test_without_reported_usage_tokens_are_estimated_from_characters():
    row = to_row(finished(usage=None, status="cancelled"), CONFIG)
    assert (row["input_tokens"], row["output_tokens"], row["estimated"]) == (100, 40, True)
    assert row["status"] == "cancelled"
    assert row["cost"] == pytest.approx((100 * 1.0 + 40 * 2.0) / 1e6)


@pytest.mark.parametrize(
    "changes",
    [
        dict(status=401, key_name=None, alias=None, provider=None, model=None, upstream_started=None,
             first_byte=None, output_chars=0),
        dict(status=500, first_byte=None, output_chars=0),  # the upstream refused: nothing was generated
    ],
)
def test_requests_refused_before_or_by_the_upstream_have_no_tokens(changes):
    row = to_row(finished(usage=None, **changes), CONFIG)
    assert (row["input_tokens"], row["output_tokens"], row["estimated"]) == (0, 0, False)
    assert row["ttft_ms"] is None and row["tokens_per_second"] is None


def test_nothing_is_estimated_from_no_characters():
    row = to_row(finished(usage=None, prompt_chars=0, output_chars=0), CONFIG)
    assert (row["input_tokens"], row["output_tokens"], row["estimated"]) == (0, 0, False)


def test_a_request_that_never_reached_the_upstream_is_all_overhead():
    rec = finished(usage=None, status=404, provider=None, model=None, upstream_started=None, upstream_s=0.0, first_byte=None)
    row = to_row(rec, CONFIG)
    assert row["upstream_ms"] is None and row["overhead_ms"] == row["duration_ms"] == pytest.approx(1250)
    assert row["cost"] is None
