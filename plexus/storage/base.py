"""The storage interface: one narrow Protocol per concern, and `Storage`, which holds one of each.
The rest of Plexus uses only these methods, so a second backend (PostgreSQL, issue 20) slots in by
implementing them; `sqlite/` is the one there is. Rows go in and out as plain dicts and tuples;
callers never see SQL."""

from typing import Protocol

from ..usage.params import Filters
from ..usage.summary import Window

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


class InstallState(Protocol):
    """Named values every worker and instance of one install shares (the dashboard's session
    secret and session generation)."""

    def get_or_create(self, name: str, value: str) -> str:
        """The stored value of `name`, storing `value` first when there is none (atomically: every
        caller gets the same answer)."""

    def get(self, name: str) -> str | None: ...

    def increment(self, name: str) -> int:
        """Add one to the counter `name` (0 when unset); returns the new value."""


class Storage(Protocol):
    usage: UsageStore
    responses: ResponseStore
    cooldowns: CooldownStore
    captures: CaptureStore
    install: InstallState
    spool_path: str  # a local file for usage rows the database could not take (usage.fallback)

    def migrate(self) -> list[str]:
        """Bring every table up to date (rows kept); returns the names of the steps applied."""

    def close(self) -> None:
        """Release connections. Safe to call twice."""
