"""Cooldowns per (provider, upstream model): a target that failed is skipped for a while; the period
doubles on each further failure (bounded) and ends on success; `Retry-After` is honoured.

Shared by every worker through the database, deliberately: the management API and the dashboard
must show (and clear) one truth, not one worker's. The request path never touches the database:
each worker keeps the table in memory, records its own changes there at once, and a background
thread writes them and reloads everyone's every `SYNC_S` seconds.
"""

import logging
import sqlite3
import threading
import time
from contextlib import closing

log = logging.getLogger("plexus.cooldowns")

SYNC_S = 1.0
MAX_RETRY_AFTER_S = 3600.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS cooldowns (
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    until REAL NOT NULL,
    failures INTEGER NOT NULL,
    reason TEXT,
    PRIMARY KEY (provider, model)
);
"""


class Cooldowns:
    def __init__(self, path=None, clock=time.time):
        self.path = path
        self.clock = clock
        self._state = {}  # (provider, model) -> (until, failures, reason)
        self._pending = {}  # (provider, model) -> state tuple, or None to delete
        self._lock = threading.Lock()
        self._stop = threading.Event()
        if path:
            with self._connect() as conn:
                conn.executescript(SCHEMA)
            self._load()

    # ---- the request path: memory only ------------------------------------------------------------

    def until(self, provider, model):
        entry = self._state.get((provider, model))
        if entry and entry[0] > self.clock():
            return entry[0]
        return None

    def fail(self, provider, model, reason, policy, retry_after=None):
        key = (provider, model)
        with self._lock:
            failures = self._state[key][1] + 1 if key in self._state else 1
            period = min(policy.initial_s * 2 ** (failures - 1), policy.max_s)
            if retry_after:
                period = max(period, min(retry_after, MAX_RETRY_AFTER_S))
            entry = (self.clock() + period, failures, reason[:200])
            self._state[key] = self._pending[key] = entry
        log.warning("%s/%s cools down for %.0fs after failure %d: %s", provider, model, period, failures, reason)

    def succeed(self, provider, model):
        key = (provider, model)
        if key in self._state:
            with self._lock:
                self._state.pop(key, None)
                self._pending[key] = None

    # ---- management -------------------------------------------------------------------------------

    def active(self):
        """Cooldowns still running, soonest end first."""
        now = self.clock()
        rows = [{"provider": p, "model": m, "until": u, "remaining_s": round(u - now, 1), "failures": f, "reason": r}
                for (p, m), (u, f, r) in self._state.items() if u > now]
        return sorted(rows, key=lambda row: row["until"])

    def clear(self, provider=None, model=None):
        with self._lock:
            keys = [k for k in self._state if provider in (None, k[0]) and model in (None, k[1])]
            for k in keys:
                del self._state[k]
                self._pending[k] = None
        if self.path:
            self.sync()  # clear for everyone now, not at the next tick
        return len(keys)

    # ---- sharing ----------------------------------------------------------------------------------

    def start(self):
        if self.path:
            threading.Thread(target=self._run, name="plexus-cooldowns", daemon=True).start()
        return self

    def stop(self):
        self._stop.set()

    def _run(self):
        while not self._stop.wait(SYNC_S):
            try:
                self.sync()
            except sqlite3.Error as e:
                log.warning("cooldowns not shared this round: %s", e)

    def sync(self):
        """Write this worker's changes, then take the table as everyone's truth."""
        with self._lock:
            pending, self._pending = self._pending, {}
        with self._connect() as conn:
            for (p, m), entry in pending.items():
                if entry is None:
                    conn.execute("DELETE FROM cooldowns WHERE provider = ? AND model = ?", (p, m))
                else:
                    conn.execute("INSERT OR REPLACE INTO cooldowns VALUES (?, ?, ?, ?, ?)", (p, m, *entry))
            conn.execute("DELETE FROM cooldowns WHERE until < ?", (self.clock() - 86400,))
        self._load()

    def _load(self):
        with self._connect() as conn:
            rows = conn.execute("SELECT provider, model, until, failures, reason FROM cooldowns").fetchall()
        with self._lock:
            state = {(p, m): (u, f, r) for p, m, u, f, r in rows}
            state.update({k: v for k, v in self._pending.items() if v is not None})  # changed since the write
            for k, v in self._pending.items():
                if v is None:
                    state.pop(k, None)
            self._state = state

    def _connect(self):
        return closing(sqlite3.connect(self.path, timeout=5, isolation_level=None))
