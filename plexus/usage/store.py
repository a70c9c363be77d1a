"""The narrow interface every usage store offers. The writer and the management API use only these
methods, so another backend (PostgreSQL, say) slots in by implementing them; SQLiteStore is the
one there is."""

from typing import Protocol


class UsageStore(Protocol):
    def migrate(self) -> None:
        """Create or update the schema; rows are kept."""

    def write_batch(self, rows: list[dict]) -> None:
        """Store rows (dicts of row.COLUMNS) atomically; rows whose record_key is stored already are
        skipped. Raises when the store is unavailable."""

    def query(self, filters, limit: int, offset: int) -> tuple[list[dict], int]:
        """(matching records newest first, with booleans and attempts decoded; total matching)."""

    def record(self, record_id: int) -> dict | None:
        """One record by id, decoded as query() does."""

    def key_activity(self) -> dict:
        """{client key name: (requests recorded, epoch time of the last one)}."""

    def summary(self, window, group_by: str) -> list[tuple]:
        """(slot, group value or '', *rollup.TOTALS, *rollup.HISTOGRAMS) for each slot and group
        of the summary.Window that has requests."""

    def delete(self, filters) -> int:
        """Delete matching records; returns how many."""

    def prune(self, before: float) -> int:
        """Delete records older than `before` (epoch seconds); returns how many."""
