"""Alias resolution and target selection: which (provider, upstream model) serves a request."""

import random
from typing import Any

from .errors import NotFound, UpstreamUnavailable


class Router:
    def __init__(self, rng: random.Random | None = None) -> None:
        self.rng = rng or random.Random()

    def resolve(self, config: Any, name: Any) -> Any:
        alias = config.names.get(name) if isinstance(name, str) else None
        if alias is None:
            raise NotFound(f"The model '{name}' does not exist or is not served by this gateway", code="model_not_found", param="model")
        return alias

    def candidates(self, config: Any, name: Any, cooldowns: Any = None) -> list[tuple[Any, Any]]:
        """The alias's usable targets, best first, each as (Target, Provider): the selector's order,
        with targets cooling down moved to the end, soonest-ready first, so that an alias whose
        targets all cool down still tries the one that will recover first."""
        alias = self.resolve(config, name)
        ordered = self.order(alias)
        if cooldowns is not None:
            ordered = self.after_cooldowns(ordered, cooldowns)
        usable = []
        reasons = []
        for t in ordered:
            provider = config.providers[t.provider]
            if provider.unusable:
                reasons.append(f"provider '{provider.id}' is unusable: {provider.unusable}")
            else:
                usable.append((t, provider))
        if not usable:
            raise UpstreamUnavailable(f"No usable provider for model '{name}': " + "; ".join(reasons), status=503)
        return usable

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

    def order(self, alias: Any) -> list:
        if alias.selector == "in_order":
            return list(alias.targets)
        return self.weighted_order(alias.targets)

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
