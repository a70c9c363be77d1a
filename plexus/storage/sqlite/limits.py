"""The per-key limit counters on SQLite (storage.base.KeyLimitStore): one row per admitted request
in `key_window`, admitted inside one write transaction so every worker process sees the others'
rows. One connection per process, kept open: admitting is a few statements on a small table, and
opening a connection would cost more than they do. Budgets are read from the usage rollups."""

import os
import sqlite3
import threading

from ...storage.base import LimitCounts
from .connect import BUSY_TIMEOUT_S, write

KEY_WINDOW_TABLE = """
CREATE TABLE IF NOT EXISTS key_window (
    id INTEGER PRIMARY KEY,
    key_name TEXT NOT NULL,
    time REAL NOT NULL,          -- admitted at, epoch seconds
    tokens INTEGER NOT NULL,     -- the estimate until the request ends, then the upstream's figure
    lease_until REAL             -- in flight until then (renewed while it runs), NULL once ended
);
CREATE INDEX IF NOT EXISTS key_window_key_time ON key_window (key_name, time);
"""

_FORGET = "DELETE FROM key_window WHERE key_name = ? AND time <= ? AND (lease_until IS NULL OR lease_until < ?)"
_COUNT = """SELECT COUNT(CASE WHEN time > :since THEN 1 END), TOTAL(CASE WHEN time > :since THEN tokens END),
    COUNT(CASE WHEN lease_until >= :now THEN 1 END), MIN(CASE WHEN time > :since THEN time END)
    FROM key_window WHERE key_name = :key"""


class SQLiteKeyLimitStore:
    def __init__(self, path: str):
        self.path = path
        self._conn = None
        self._pid = None
        self._lock = threading.Lock()  # one statement sequence at a time on the shared connection

    def _connection(self) -> sqlite3.Connection:
        if self._pid != os.getpid():  # never use a connection inherited across fork
            self._conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                         check_same_thread=False)
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._pid = os.getpid()
        return self._conn

    def admit(self, key_name, now, window_s, limits, tokens, lease_until):
        rpm, tpm, concurrent = limits
        since = now - window_s
        with self._lock:
            conn = self._connection()
            with write(conn):
                conn.execute(_FORGET, (key_name, since, now))
                counts = _counts(conn, key_name, now, since)
                if ((rpm is not None and counts.requests >= rpm)
                        or (concurrent is not None and counts.in_flight >= concurrent)
                        or (tpm is not None and counts.tokens and counts.tokens + tokens > tpm)):
                    return None, counts
                cur = conn.execute("INSERT INTO key_window (key_name, time, tokens, lease_until) VALUES (?, ?, ?, ?)",
                                   (key_name, now, tokens, lease_until))
                return cur.lastrowid, counts

    def finish(self, lease, tokens):
        with self._lock:
            conn = self._connection()
            if tokens is None:
                conn.execute("UPDATE key_window SET lease_until = NULL WHERE id = ?", (lease,))
            else:
                conn.execute("UPDATE key_window SET lease_until = NULL, tokens = ? WHERE id = ?", (tokens, lease))

    def renew(self, leases, until, forget_before):
        with self._lock:
            conn = self._connection()
            with write(conn):
                conn.executemany("UPDATE key_window SET lease_until = ? WHERE id = ? AND lease_until IS NOT NULL",
                                 [(until, lease) for lease in leases])
                conn.execute("DELETE FROM key_window WHERE time < ? AND (lease_until IS NULL OR lease_until < ?)",
                             (forget_before, forget_before))

    def counts(self, key_name, now, window_s):
        with self._lock:
            return _counts(self._connection(), key_name, now, now - window_s)

    def spent(self, key_name, since):
        with self._lock:
            row = self._connection().execute(
                "SELECT TOTAL(cost), IFNULL(SUM(requests - priced), 0) FROM usage_rollup"
                " WHERE dim = 'key' AND value = ? AND bucket >= ?", (key_name, since or 0)).fetchone()
        return float(row[0]), int(row[1])

    def close(self):
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = self._pid = None


def _counts(conn, key_name, now, since):
    requests, tokens, in_flight, oldest = conn.execute(_COUNT, {"since": since, "now": now, "key": key_name}).fetchone()
    return LimitCounts(requests, int(tokens), in_flight, oldest)
