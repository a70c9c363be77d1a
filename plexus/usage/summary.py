"""Usage summaries: the time window of each range, and the JSON built from a store's per-slot,
per-group totals (totals, per time bucket, per group, per bucket and group). Backend-neutral."""

import math
import time
from dataclasses import dataclass, fields

from . import histogram
from .params import DIMENSIONS, BadParameter, iso_time

# range -> (bucket seconds, buckets); buckets are aligned to UTC
RANGES = {"hour": (60, 60), "day": (3600, 24), "week": (6 * 3600, 28), "month": (86400, 30)}


@dataclass(frozen=True)
class Window:
    start: int
    step: int
    slots: int

    @property
    def end(self):
        return self.start + self.step * self.slots


def window(range_name, until=None):
    """The buckets of `range_name` up to the one holding `until` (default now)."""
    if range_name not in RANGES:
        raise BadParameter(f"range must be one of {', '.join(RANGES)}")
    step, slots = RANGES[range_name]
    end = (math.floor((until if until is not None else time.time()) / step) + 1) * step
    return Window(start=end - step * slots, step=step, slots=slots)


def check_group_by(group_by):
    if group_by not in DIMENSIONS:
        raise BadParameter(f"group_by must be one of {', '.join(DIMENSIONS)}")
    return group_by


@dataclass
class Stats:
    requests: int = 0
    errors: int = 0
    cancelled: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    cost: float = 0.0
    priced: int = 0
    duration_hist: int = 0
    ttft_hist: int = 0

    @classmethod
    def of(cls, values):
        *totals, duration, ttft = values
        return cls(*(v or 0 for v in totals), histogram.from_blob(duration), histogram.from_blob(ttft))

    def add(self, other):
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def to_json(self):
        return {
            "requests": self.requests,
            "errors": self.errors,
            "cancelled": self.cancelled,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cached_tokens": self.cached_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "cost": self.cost if self.priced else None,
            "unpriced_requests": self.requests - self.priced,
            "duration_ms_p50": histogram.percentile(self.duration_hist, 0.5),
            "duration_ms_p95": histogram.percentile(self.duration_hist, 0.95),
            "ttft_ms_p50": histogram.percentile(self.ttft_hist, 0.5),
            "ttft_ms_p95": histogram.percentile(self.ttft_hist, 0.95),
        }


def build(range_name, win, group_by, cells):
    """The summary JSON from store.summary() rows. Empty buckets are listed (with zeros); groups are
    ordered by requests, most first; a group of None holds requests that had no such value."""
    series = {(slot, value or None): Stats.of(values) for slot, value, *values in cells}
    buckets = [Stats() for _ in range(win.slots)]
    groups, totals = {}, Stats()
    for (slot, group), stats in series.items():
        buckets[slot].add(stats)
        groups.setdefault(group, Stats()).add(stats)
        totals.add(stats)

    def at(slot):
        return iso_time(win.start + slot * win.step)

    return {
        "range": range_name,
        "group_by": group_by,
        "since": at(0),
        "until": at(win.slots),
        "bucket_seconds": win.step,
        "totals": totals.to_json(),
        "buckets": [{"time": at(i), **b.to_json()} for i, b in enumerate(buckets)],
        "groups": [{"group": g, **s.to_json()} for g, s in sorted(groups.items(), key=lambda kv: -kv[1].requests)],
        "series": [
            {"time": at(slot), "group": g, **s.to_json()}
            for (slot, g), s in sorted(series.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))
        ],
    }
