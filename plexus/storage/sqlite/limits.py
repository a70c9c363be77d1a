"""storage.base.KeyLimitStore for the SQLite backend: the counters in shared memory next to the
database file (storage/shared_counters.py: every worker of this machine sees them, at a few
microseconds a request), the budgets' spend from the usage rollups."""

import os
import sqlite3
import threading

from ..shared_counters import SharedCounters
from ..base import END_OF_TIME
from .connect import BUSY_TIMEOUT_S


class SQLiteKeyLimitStore(SharedCounters):
    def __init__(self, path: str):
        super().__init__(path + ".limits")
        self.database = path
        self._conn = self._conn_pid = None
        self._read_lock = threading.Lock()

    def spent(self, key_name: str, since: float | None, until: float | None = None) -> tuple[float, int]:
        with self._read_lock:
            if self._conn_pid != os.getpid():  # one read connection per process, kept: opening one costs more than the query
                self._conn = sqlite3.connect(self.database, timeout=BUSY_TIMEOUT_S, check_same_thread=False)
                self._conn_pid = os.getpid()
            row = self._conn.execute("SELECT TOTAL(cost), IFNULL(SUM(requests - priced), 0) FROM usage_rollup"
                                     " WHERE dim = 'key' AND bucket >= ? AND bucket < ? AND value = ?",
                                     (since or 0, until if until is not None else END_OF_TIME, key_name)).fetchone()
        return float(row[0]), int(row[1])

    def close(self) -> None:
        super().close()
        with self._read_lock:
            if self._conn is not None and self._conn_pid == os.getpid():
                self._conn.close()
            self._conn = self._conn_pid = None
