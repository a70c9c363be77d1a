import random
from collections import Counter

import pytest

from plexus.config import parse_config
from plexus.core.errors import NotFound, UpstreamUnavailable
from plexus.core.routing import Router

CONFIG = """
providers:
  a: {type: chat, api_base_url: "http://127.0.0.1:9/v1", api_key: ka}
  b: {type: chat, api_base_url: "http://127.0.0.1:9/v1", api_key: kb}
  c: {type: chat, api_base_url: "http://127.0.0.1:9/v1", api_key: "${UNSET_KEY}"}
models:
  weighted:
    selector: random
    targets:
      - {provider: a, model: m1, weight: 3}
      - {provider: b, model: m2, weight: 1}
      - {provider: a, model: m3, weight: 0}
  ordered:
    selector: in_order
    targets:
      - {provider: c, model: x}
      - {provider: b, model: y}
      - {provider: a, model: z}
    additional_aliases: [ord]
  dead:
    targets: [{provider: c, model: x}]
"""


@pytest.fixture
def config():
    return parse_config(CONFIG, "cfg.yaml", {})


def test_weighted_random_follows_the_weights(config):
    router = Router(random.Random(1234))
    draws = Counter(router.candidates(config, "weighted")[0][0].model for _ in range(20000))
    assert set(draws) == {"m1", "m2"}  # weight 0 is never chosen first
    share = draws["m1"] / 20000
    assert 0.73 < share < 0.77  # expected 0.75; 20k draws put 3 sigma at about 0.009


def test_weighted_order_lists_every_target_once(config):
    router = Router(random.Random(7))
    for _ in range(100):
        order = [t.model for t, _ in router.candidates(config, "weighted")]
        assert sorted(order) == ["m1", "m2", "m3"] and order[-1] == "m3"


def test_in_order_keeps_order_and_skips_unusable_providers(config):
    order = [(t.provider, t.model) for t, _ in Router().candidates(config, "ordered")]
    assert order == [("b", "y"), ("a", "z")]


def test_additional_alias_resolves_to_its_alias(config):
    assert Router().resolve(config, "ord").name == "ordered"


def test_unknown_alias_is_not_found(config):
    with pytest.raises(NotFound) as e:
        Router().candidates(config, "nope")
    assert e.value.code == "model_not_found"


def test_alias_whose_providers_are_all_unusable_gives_a_clear_error(config):
    with pytest.raises(UpstreamUnavailable) as e:
        Router().candidates(config, "dead")
    assert e.value.status == 503
    assert "UNSET_KEY" in e.value.message
