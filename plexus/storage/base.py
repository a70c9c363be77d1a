"""The storage interface: one narrow Protocol per concern, and `Storage`, which holds one of each.
The rest of Plexus uses only these methods, so a second backend (PostgreSQL, issue 20) slots in by
implementing them (`sqlite/` and `postgres/`). Rows go in and out as plain dicts and tuples;
callers never see SQL."""

from typing import NamedTuple, Protocol

from ..usage.params import Filters
from ..usage.summary import Window

# The totals of a usage summary cell, in the order UsageStore.summary() gives them (then the two
# histograms); usage.summary.Stats reads them in this order.
ROLLUP_TOTALS = (
    "requests", "errors", "cancelled", "input_tokens", "output_tokens", "cached_tokens",
    "cache_write_tokens", "reasoning_tokens", "cost", "priced",
)  # fmt: skip
ROLLUP_HISTOGRAMS = ("duration_hist", "ttft_hist")

CooldownKey = tuple[str, str]  # (provider id, upstream model)
CooldownEntry = tuple[float, int, str | None]  # (until, epoch seconds; failures; reason)


class UsageStore(Protocol):
    def write_batch(self, rows: list[dict]) -> None:
        """Store rows (dicts of usage.row.COLUMNS) and fold them into the hourly rollups,
        atomically; rows whose record_key is stored already are skipped. Raises when the store is
        unavailable (the writer then spools them)."""

    def query(self, filters: Filters, limit: int, offset: int) -> tuple[list[dict], int]:
        """(matching records newest first, with booleans and attempts decoded; total matching)."""

    def record(self, record_id: int) -> dict | None:
        """One record by id, decoded as query() does."""

    def key_activity(self) -> dict[str, tuple[int, float]]:
        """{client key name: (requests recorded, epoch time of the last one)}."""

    def summary(self, window: Window, group_by: str) -> list[tuple]:
        """(slot, group value or '', *totals, *histograms) for each slot and group of the
        usage.summary.Window that has requests (see usage.summary.Stats for the order)."""

    def delete(self, filters: Filters) -> int:
        """Delete matching records (and refold their rollups); returns how many."""

    def prune(self, before: float) -> int:
        """Delete records older than `before` (epoch seconds); returns how many."""


class ResponseStore(Protocol):
    """Stored responses, each owned by one client key's stable id (config.types.ClientKey.id)."""

    def put(self, response_id: str, owner: str | None, value: dict) -> None: ...

    def get(self, response_id: str, owner: str | None) -> dict | None:
        """The stored value, only for the key that stored it."""

    def delete(self, response_id: str, owner: str | None) -> bool: ...

    def prune(self, before: float) -> int:
        """Delete responses stored before `before` (epoch seconds); returns how many."""

    def claim_unowned(self, owners: dict[str, str]) -> int:
        """Give responses stored by key name only (before owners) to the key with that name now
        ({name: id}); returns how many."""


class CooldownStore(Protocol):
    def save(self, changes: dict[CooldownKey, CooldownEntry | None], purge_before: float) -> None:
        """Write changed entries (None deletes one); drop those that ended before `purge_before`."""

    def load(self) -> dict[CooldownKey, CooldownEntry]:
        """Every worker's cooldowns."""


AffinityEntry = tuple[str, str, float]  # (provider id, upstream model, expires: epoch seconds)


class AffinityStore(Protocol):
    def save(self, changes: dict[str, AffinityEntry], now: float) -> None:
        """Write sessions' targets (by session digest) and drop entries expired before `now`."""

    def load(self, since: float, now: float) -> dict[str, AffinityEntry]:
        """Entries written at or after `since` (epoch seconds) that have not expired by `now`."""


TargetKey = tuple[str, str]  # (provider id, upstream model)
TargetLoad = tuple[int, float | None]  # (requests in flight, decaying average TTFT in ms or None)
WorkerLoad = tuple[str, int, float | None]  # (worker, requests in flight, TTFT average)


class TargetStatsStore(Protocol):
    def publish(self, worker: str, stats: dict[TargetKey, TargetLoad], now: float) -> None:
        """Replace this worker's row per target."""

    def load(self, fresh_after: float) -> dict[TargetKey, list[WorkerLoad]]:
        """Every worker's stats published after `fresh_after` (older rows belong to dead workers)."""


class CaptureStore(Protocol):
    def load_switch(self) -> dict | None:
        """The capture switch as last saved (capture.Settings.to_json()), or None."""

    def save_switch(self, settings: dict) -> None: ...

    def add(self, doc: dict) -> int:
        """Store a capture document (it has time, request_id, provider, alias, status); returns
        its stored size in bytes."""

    def prune(self, before: float, max_total_bytes: int) -> None:
        """Drop captures older than `before`, then the oldest while the total is over the cap."""

    def list(self, request_id: str | None = None, limit: int = 50) -> list[dict]:
        """Newest first, without documents: id, time, request_id, provider, alias, status, size."""

    def get(self, capture_id: int) -> dict | None:
        """{"id": ..., **document}."""

    def for_request(self, request_id: str, at: float | None = None) -> dict | None:
        """The capture of a request id nearest `at` (else the latest), as get() returns it."""

    def stats(self) -> dict:
        """{"stored": count, "stored_bytes": total size}."""

    def clear(self) -> int: ...


class ConfigStore(Protocol):
    """The config file's text shared by several machines (storage.config_share)."""

    def load(self) -> tuple[int, str, float] | None:
        """(version, text, updated epoch seconds) as last published, or None."""

    def publish(self, text: str, updated: float, origin: str) -> int:
        """Make `text` the shared config (a new version unless it is so already); returns the version."""


class InstallState(Protocol):
    """Named values every worker and instance of one install shares (the dashboard's session
    secret and session generation)."""

    def get_or_create(self, name: str, value: str) -> str:
        """The stored value of `name`, storing `value` first when there is none (atomically: every
        caller gets the same answer)."""

    def get(self, name: str) -> str | None: ...

    def increment(self, name: str) -> int:
        """Add one to the counter `name` (0 when unset); returns the new value."""


END_OF_TIME = 2.0 ** 62  # an upper bound for time ranges left open


class LimitCounts(NamedTuple):
    """One key's standing in the rolling window (see KeyLimitStore)."""

    requests: int  # admitted in the window
    tokens: int  # their tokens: the upstream's figures for ended requests, the estimates for the rest
    in_flight: int  # leases not ended and not expired
    oldest: float | None  # when the oldest request in the window was admitted (epoch seconds)


class KeyLimitStore(Protocol):
    """The counters behind per-key limits and budgets (plexus/core/policy.py), shared by every
    worker (and, with a shared database, every machine). Each admitted request is a row (key, time,
    tokens) with a lease: it counts as in flight until it ends or its lease runs out (a worker that
    died cannot end its leases; they free themselves)."""

    def admit(self, key_name: str, now: float, window_s: float, limits: tuple[int | None, int | None, int | None],
              tokens: int, lease_until: float) -> tuple[int | None, LimitCounts]:
        """Atomically across workers: count the key's requests admitted in (now - window_s, now],
        their tokens and its unexpired leases; if under every limit of (rpm, tpm, concurrent)
        (None: no limit; tpm admits when counted + `tokens` <= tpm, or when nothing is counted),
        record this request with `tokens` and a lease until `lease_until`. Returns (the lease id,
        or None when refused; the counts before this request). Also forgets the key's rows that
        left the window and whose leases ended."""

    def finish(self, lease: int, tokens: int | None) -> None:
        """The request ended: its lease ends; `tokens` (the upstream's figure) replaces the
        estimate unless None."""

    def renew(self, leases: list[int], until: float, forget_before: float) -> None:
        """Extend the leases still running in this process to `until`; forget every key's rows
        admitted before `forget_before` whose leases ended (or ran out)."""

    def counts(self, key_name: str, now: float, window_s: float) -> LimitCounts: ...

    def spent(self, key_name: str, since: float | None, until: float | None = None) -> tuple[float, int]:
        """(USD cost of the key's usage records from `since` (None: all) to before `until` (None: now),
        how many of them had no price). Read from the hourly rollups, so both are on the hour."""


class Storage(Protocol):
    usage: UsageStore
    responses: ResponseStore
    cooldowns: CooldownStore
    captures: CaptureStore
    config: ConfigStore | None  # None: one machine, whose config file every worker reads
    affinity: AffinityStore
    target_stats: TargetStatsStore
    install: InstallState
    limits: KeyLimitStore
    spool_path: str  # a local file for usage rows the database could not take (usage.fallback)
    poll_interval: float  # seconds between reads of what other workers changed (cooldowns, switch)

    def migrate(self) -> list[str]:
        """Bring every table up to date (rows kept); returns the names of the steps applied."""

    def close(self) -> None:
        """Release connections. Safe to call twice."""
