"""storage.base.KeyLimitStore for the SQLite backend: the counters in shared memory next to the
database file (storage/shared_counters.py: every worker of this machine sees them, at a few
microseconds a request), the budgets' spend from the usage rollups."""

from ..base import END_OF_TIME
from ..shared_counters import SharedCounters
from .connect import KeptConnection


class SQLiteKeyLimitStore(SharedCounters):
    def __init__(self, path: str):
        super().__init__(path + ".limits")
        self._reader = KeptConnection(path)

    def spent(self, key_name: str, since: float | None, until: float | None = None) -> tuple[float, int]:
        with self._reader.using() as conn:
            row = conn.execute("SELECT TOTAL(cost), IFNULL(SUM(requests - priced), 0) FROM usage_rollup"
                               " WHERE dim = 'key' AND bucket >= ? AND bucket < ? AND value = ?",
                               (since or 0, until if until is not None else END_OF_TIME, key_name)).fetchone()
        return float(row[0]), int(row[1])

    def close(self) -> None:
        super().close()
        self._reader.close()
