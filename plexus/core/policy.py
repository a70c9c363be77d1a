"""Per-key policy (issue 14): which aliases a key may call, until when, how fast (rpm, tpm,
concurrent) and how much it may spend — and the standing `GET /v1/key` reports.

The counters are shared by every worker through the store's KeyLimitStore (plexus/storage/base.py):
each admitted request is a row with a lease, so two workers together admit no more than a limit,
and a killed worker's in-flight slots free themselves when their leases run out (leases this
process holds are renewed by the scheduler every RENEW_S). A key without a policy never gets here.

tpm admits by an estimate (the request body's bytes / 4) and counts the upstream's figure (input +
output tokens) once the request ends. So the tokens counted in a window can exceed `tpm` by at most
what the requests in flight when the limit was reached underestimated — their output tokens, in
practice: bounded by `concurrent` × the largest answer when `concurrent` is set. A request whose
estimate alone exceeds `tpm` is admitted only into an empty window (else it could never run).

Budgets are the key's usage records' cost in the calendar period (UTC) from the store's hourly
rollups: they survive restarts. The hours before the previous one are summed once an hour and kept
(records written more than an hour late, such as a spool replayed after a database outage, count
from the next hour on); the last two hours are read at most every SPEND_FRESH_S, and this process
adds its own records' cost as they are made. So another worker's spending shows here within
SPEND_FRESH_S plus the usage writer's delay. Requests without a price count as 0 USD. A budget can
be overshot by the requests in flight when it was reached (and by other workers' records not yet
seen here). If the store cannot be reached, requests are let through (logged): the gateway stays up
rather than refuse everyone."""

import functools
import logging
import math
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from ..config.types import ClientKey, KeyPolicy
from ..wire.ratelimit import render_rate_limit_headers
from .errors import AuthenticationFailed, GatewayError

log = logging.getLogger("plexus.policy")

WINDOW_S = 60.0  # rpm and tpm count the rolling last minute
LEASE_S = 30.0  # an in-flight slot's lease: renewed while its request runs, so a dead worker's slots expire
RENEW_S = 10.0
BYTES_PER_TOKEN = 4  # a request's token estimate, before the upstream reports its figure
HOUR = 3600
SPEND_FRESH_S = 0.25  # how long a read of the last two hours' spend serves this process's budget checks


class Ticket:
    """An admitted request's lease on the shared counters, and the rate-limit headers of its answer."""

    __slots__ = ("lease", "headers")

    def __init__(self, lease: int, headers: dict) -> None:
        self.lease, self.headers = lease, headers


def check_expiry(key: ClientKey, now: float) -> None:
    rules = key.policy
    if rules is not None and rules.expires_at is not None and now >= rules.expires_at:
        raise AuthenticationFailed(f"This API key ('{key.name}') expired at {iso(rules.expires_at)}", code="key_expired")


def check_alias(key: ClientKey, alias: str) -> None:
    rules = key.policy
    if rules is not None and rules.allowed is not None and alias not in rules.allowed:
        raise GatewayError(f"This API key ('{key.name}') may not use the model '{alias}'", status=403,
                           kind="permission", code="permission_denied", param="model")


def visible_names(key: ClientKey, names: dict) -> dict:
    """The names (name -> alias) a key's model lists show: those it may call."""
    rules = key.policy
    if rules is None or rules.allowed is None:
        return names
    return {n: alias for n, alias in names.items() if n in rules.allowed}


class Policy:
    def __init__(self) -> None:
        self.store = None  # a storage.base.KeyLimitStore; without one only allowed_models and expiry apply
        self._held = set()  # leases of this process's requests in flight
        self._closed = {}  # (key name, period start) -> (hour the sum stops at, (usd, unpriced) before it)
        self._recent = {}  # key name -> [read at (monotonic), from hour, usd, unpriced] since that hour

    def admit(self, key: ClientKey, alias: str, family: str, body_size: int, now: float) -> Ticket | None:
        """Raise the refusal of a call to `alias`, or admit it (a Ticket when it holds a lease)."""
        rules = key.policy
        check_alias(key, alias)
        if self.store is None or (rules.budget is None and rules.limits is None):
            return None
        try:
            if rules.budget is not None:
                self._check_budget(key, rules, now)
            if rules.limits is None:
                return None
            return self._take(key, rules.limits, family, body_size, now)
        except GatewayError:
            raise
        except Exception as e:  # sqlite3.Error, OSError...
            log.warning("policy store unavailable, key %s let through: %s", key.name, e)
            return None

    def _check_budget(self, key: ClientKey, rules: KeyPolicy, now: float) -> None:
        budget = rules.budget
        start, resets = period_bounds(budget.period, now)
        spent, _ = self.spent(key.name, start, now)
        if spent < budget.usd:
            return
        per = "in total" if budget.period == "total" else f"per {budget.period}"
        when = f"it resets at {iso(resets)}" if resets else "it does not reset"
        raise GatewayError(f"This API key's budget of ${usd(budget.usd)} {per} is spent (${usd(spent)}); {when}",
                           status=429, kind="billing", code="insufficient_quota",
                           headers={"Retry-After": str(math.ceil(resets - now))} if resets else {})

    def spent(self, key_name: str, start: float | None, now: float) -> tuple[float, int]:
        """The key's (USD, unpriced requests) since `start`: the hours before the previous one from
        this process's sum, kept for the hour; the previous and current hours (where records may
        still be landing) from the store."""
        recent = max(start or 0.0, (now // HOUR - 1) * HOUR)
        entry = self._closed.get((key_name, start))
        if entry is None or entry[0] != recent:
            if len(self._closed) > 4096:
                self._closed.clear()
            before = self.store.spent(key_name, start, recent) if recent > (start or 0.0) else (0.0, 0)
            entry = self._closed[(key_name, start)] = (recent, before)
        live = self._recent.get(key_name)
        if live is None or live[1] != recent or time.monotonic() - live[0] >= SPEND_FRESH_S:
            if len(self._recent) > 4096:
                self._recent.clear()
            live = self._recent[key_name] = [time.monotonic(), recent, *self.store.spent(key_name, recent)]
        return entry[1][0] + live[2], entry[1][1] + live[3]

    def charged(self, key_name: str, cost: float | None) -> None:
        """A usage row of this process's was made (cost None: unpriced): its budget checks count it
        now, before the store has it."""
        live = self._recent.get(key_name)
        if live is not None:
            if cost is None:
                live[3] += 1
            else:
                live[2] += cost

    def _take(self, key: ClientKey, limits: Any, family: str, body_size: int, now: float) -> Ticket:
        estimate = body_size // BYTES_PER_TOKEN
        lease, counts = self.store.admit(key.name, now, WINDOW_S, (limits.rpm, limits.tpm, limits.concurrent),
                                         estimate, now + LEASE_S)
        reset_s = (counts.oldest + WINDOW_S - now) if counts.oldest else 0.0
        if lease is not None:
            self._held.add(lease)
            return Ticket(lease, render_rate_limit_headers(family, _header_figures(limits, counts, 1, estimate, reset_s)))
        if limits.rpm is not None and counts.requests >= limits.rpm:
            why, retry = f"{limits.rpm} requests per minute", reset_s
        elif limits.concurrent is not None and counts.in_flight >= limits.concurrent:
            why, retry = f"{limits.concurrent} requests in flight at once", 1.0
        else:
            why, retry = f"{limits.tpm} tokens per minute ({counts.tokens} counted, this request about {estimate})", reset_s
        headers = render_rate_limit_headers(family, _header_figures(limits, counts, 0, 0, reset_s), retry)
        raise GatewayError(f"Rate limit of this API key ('{key.name}') reached: {why}; retry after {math.ceil(max(retry, 1))} s",
                           status=429, kind="rate_limit", headers=headers)

    def finish(self, ticket: Ticket, usage: Any) -> None:
        """The request ended (answered, failed or hung up): free its slot, count its real tokens."""
        self._held.discard(ticket.lease)
        tokens = usage.prompt_tokens + usage.output_tokens if usage is not None else None
        try:
            self.store.finish(ticket.lease, tokens)
        except Exception as e:  # the lease runs out on its own
            log.warning("could not end lease %s: %s", ticket.lease, e)

    def renew(self, now: float) -> None:
        """Extend the leases of this process's requests in flight (the scheduler, every RENEW_S)."""
        if self.store is not None:
            self.store.renew(list(self._held), now + LEASE_S, now - WINDOW_S)

    def standing(self, key: ClientKey, now: float) -> dict:
        """The key's policy and standing, as GET /v1/key answers (absent parts null). Usage figures
        exist only for keys with limits (only their requests are counted)."""
        rules = key.policy or KeyPolicy()
        limits = rules.limits
        usage = budget = None
        if limits is not None and self.store is not None:
            c = self.store.counts(key.name, now, WINDOW_S)
            usage = {"requests_last_minute": c.requests, "tokens_last_minute": c.tokens, "in_flight": c.in_flight}
        if rules.budget is not None:
            start, resets = period_bounds(rules.budget.period, now)
            spent, unpriced = self.spent(key.name, start, now) if self.store is not None else (0.0, 0)
            budget = {"usd": rules.budget.usd, "period": rules.budget.period, "spent_usd": round(spent, 6),
                      "remaining_usd": round(max(0.0, rules.budget.usd - spent), 6),
                      "resets_at": iso(resets) if resets else None, "unpriced_requests": unpriced}
        return {
            "name": key.name,
            "allowed_models": list(rules.allowed_models) if rules.allowed_models is not None else None,
            "limits": {"rpm": limits.rpm, "tpm": limits.tpm, "concurrent": limits.concurrent} if limits else None,
            "usage": usage,
            "budget": budget,
            "expires_at": iso(rules.expires_at) if rules.expires_at is not None else None,
        }


def _header_figures(limits: Any, counts: Any, requests: int, tokens: int, reset_s: float) -> dict:
    """{"requests"|"tokens": (limit, remaining, reset)} after counting `requests` and `tokens` more."""
    out = {}
    if limits.rpm is not None:
        out["requests"] = (limits.rpm, limits.rpm - counts.requests - requests, reset_s)
    if limits.tpm is not None:
        out["tokens"] = (limits.tpm, limits.tpm - counts.tokens - tokens, reset_s)
    return out


def period_bounds(period: str, now: float) -> tuple[float | None, float | None]:
    """(start, reset) of the calendar period (UTC) holding `now`, epoch seconds; (None, None) for total."""
    return _bounds_on(period, int(now // 86400))


@functools.lru_cache(maxsize=64)
def _bounds_on(period: str, day_number: int) -> tuple[float | None, float | None]:
    """Periods start and end at midnight UTC, so the day decides them (worked out once a day)."""
    now = day_number * 86400.0
    if period == "total":
        return None, None
    day = datetime.fromtimestamp(now, timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        start, end = day, day + timedelta(days=1)
    elif period == "week":
        start = day - timedelta(days=day.weekday())
        end = start + timedelta(days=7)
    else:
        start = day.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1)
    return start.timestamp(), end.timestamp()


def usd(amount: float) -> str:
    return f"{amount:.2f}" if amount >= 1 else f"{amount:.6f}".rstrip("0").rstrip(".")


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
