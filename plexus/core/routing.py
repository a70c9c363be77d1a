"""Alias resolution and target selection: which (provider, upstream model) serves a request.

The selector orders the alias's targets: `random` (weighted), `in_order`, `least_busy` (fewest
requests in flight across workers), `latency` (lowest recent time to first byte), `cost` (cheapest
for this request's estimated tokens). Then a session's sticky target goes first (affinity), targets
cooling down go last, and targets that cannot serve it are skipped with a reason (unusable, context)."""

import random
from dataclasses import dataclass, field
from typing import Any

from .. import catalog
from .errors import InvalidRequest, NotFound, UpstreamUnavailable

DEFAULT_OUTPUT_ESTIMATE = 500  # output tokens the `cost` selector assumes when the request sets no limit


@dataclass
class Need:
    """What one request needs of a target, as far as routing can tell before sending it."""

    session: str | None = None  # the affinity digest (plexus/core/affinity.py), when the request names a session
    prompt_tokens: int = 0  # estimated
    max_output: int = 0  # requested
    skipped: list = field(default_factory=list)  # {"provider", "model", "reason", ...} for the usage record

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.max_output


def window_of(config: Any, target: Any) -> int | None:
    return catalog.facts(config, target.provider, target.model).context_window


class Router:
    def __init__(self, rng: random.Random | None = None) -> None:
        self.rng = rng or random.Random()

    def resolve(self, config: Any, name: Any) -> Any:
        alias = config.names.get(name) if isinstance(name, str) else None
        if alias is None:
            raise NotFound(f"The model '{name}' does not exist or is not served by this gateway", code="model_not_found", param="model")
        return alias

    def candidates(self, config: Any, name: Any, cooldowns: Any = None, need: Need | None = None,
                   affinity: Any = None, stats: Any = None) -> list[tuple[Any, Any]]:
        """The alias's usable targets, best first, each as (Target, Provider): the selector's order,
        a session's sticky target first, targets cooling down moved to the end, soonest-ready first
        (so that an alias whose targets all cool down still tries the one that will recover first),
        and without the targets whose context window is too small for `need` (noted in need.skipped)."""
        alias = self.resolve(config, name)
        ordered = self.order(alias, config, need, stats)
        if need is not None and need.session and alias.affinity and affinity is not None:
            ordered = self.sticky_first(ordered, affinity.target(need.session))
        if cooldowns is not None:
            ordered = self.after_cooldowns(ordered, cooldowns)
        usable, reasons, too_small = [], [], []
        for t in ordered:
            provider = config.providers[t.provider]
            window = window_of(config, t) if need is not None and need.tokens else None
            if provider.unusable:
                reasons.append(f"provider '{provider.id}' is unusable: {provider.unusable}")
            elif window is not None and need.tokens > window:
                too_small.append((window, t))
                need.skipped.append({"provider": t.provider, "model": t.model, "reason": "context",
                                     "detail": f"about {need.tokens} tokens > window {window}"})
            else:
                usable.append((t, provider))
        if not usable and too_small:
            raise too_long(name, need.tokens, max(w for w, _ in too_small))
        if not usable:
            raise UpstreamUnavailable(f"No usable provider for model '{name}': " + "; ".join(reasons), status=503)
        return usable

    @staticmethod
    def sticky_first(targets: list, sticky: tuple[str, str] | None) -> list:
        if sticky is None:
            return targets
        first = [t for t in targets if (t.provider, t.model) == sticky]
        return first + [t for t in targets if (t.provider, t.model) != sticky] if first else targets

    @staticmethod
    def after_cooldowns(targets: list, cooldowns: Any) -> list:
        ready, cooling = [], []
        for t in targets:
            until = cooldowns.until(t.provider, t.model)
            if until is None:
                ready.append(t)
            else:
                cooling.append((until, len(cooling), t))
        return ready + [t for _, _, t in sorted(cooling)]

    def order(self, alias: Any, config: Any = None, need: Need | None = None, stats: Any = None) -> list:
        if alias.selector == "in_order":
            return list(alias.targets)
        drawn = self.weighted_order(alias.targets)  # ties below keep this order, so equals share the load
        if alias.selector == "least_busy" and stats is not None:
            return sorted(drawn, key=lambda t: stats.in_flight((t.provider, t.model)))
        if alias.selector == "latency" and stats is not None:
            return sorted(drawn, key=lambda t: _latency_key(stats.ttft_ms((t.provider, t.model))))
        if alias.selector == "cost" and config is not None:
            return sorted(drawn, key=lambda t: _cost_key(config, t, need))
        return drawn

    def weighted_order(self, targets: list) -> list:
        """A weighted draw without replacement: the first pick follows the weights exactly."""
        pool = [t for t in targets if t.weight > 0]
        order = []
        while pool:
            total = sum(t.weight for t in pool)
            x = self.rng.random() * total
            for i, t in enumerate(pool):
                x -= t.weight
                if x < 0 or i == len(pool) - 1:
                    order.append(pool.pop(i))
                    break
        return order + [t for t in targets if t.weight <= 0]


def _latency_key(ttft):
    """Targets nobody has measured yet come first (so each gets measured), then the fastest."""
    return (0, 0.0) if ttft is None else (1, ttft)


def _cost_key(config, target, need):
    """The request's estimated cost at the target's price; unpriced targets last."""
    pricing = catalog.facts(config, target.provider, target.model).pricing
    if pricing is None or pricing.input is None or pricing.output is None:
        return (1, 0.0)
    prompt = need.prompt_tokens if need else 0
    output = (need.max_output if need else 0) or DEFAULT_OUTPUT_ESTIMATE
    if hasattr(pricing, "for_prompt"):
        pricing = pricing.for_prompt(prompt)
    return (0, prompt * pricing.input + output * pricing.output)


def too_long(name: Any, tokens: int, largest: int) -> InvalidRequest:
    return InvalidRequest(f"The request (about {tokens} tokens with the output it asks for) does not fit any target of "
                          f"model '{name}': the largest context window available is {largest} tokens",
                          code="context_length_exceeded", param="messages")
