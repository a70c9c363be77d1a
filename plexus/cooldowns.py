"""Cooldowns per (provider, upstream model): a target that failed is skipped for a while; the period
doubles on each further failure (bounded) and ends on success; `Retry-After` is honoured.

Shared by every worker through the database, deliberately: the management API and the dashboard
must show (and clear) one truth, not one worker's. The request path never touches the database:
each worker keeps the table in memory, records its own changes there at once, and the scheduler
(plexus/storage/scheduler.py) calls sync() to write them and reload everyone's every `SYNC_S` seconds.
"""

import logging
import threading
import time

log = logging.getLogger("plexus.cooldowns")

SYNC_S = 1.0
MAX_RETRY_AFTER_S = 3600.0


class Cooldowns:
    def __init__(self, store=None, clock=time.time):
        """`store` (a storage.base.CooldownStore) shares the cooldowns; without one they are this
        worker's alone."""
        self.store = store
        self.clock = clock
        self._state = {}  # (provider, model) -> (until, failures, reason)
        self._pending = {}  # (provider, model) -> state tuple, or None to delete
        self._lock = threading.Lock()
        self.on_change = lambda: None  # called after this worker's own change (to share it at once)
        if store is not None:
            try:
                self._load()
            except Exception as e:  # the database is away: start empty, the sync catches up
                log.warning("shared cooldowns not loaded at start: %s", e)

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
        self.on_change()
        log.warning("%s/%s cools down for %.0fs after failure %d: %s", provider, model, period, failures, reason)

    def succeed(self, provider, model):
        key = (provider, model)
        if key in self._state:
            with self._lock:
                self._state.pop(key, None)
                self._pending[key] = None
            self.on_change()

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
        self.sync()  # clear for everyone now, not at the next tick
        return len(keys)

    # ---- sharing ----------------------------------------------------------------------------------

    def sync(self):
        """Write this worker's changes, then take the table as everyone's truth (nothing to do when
        the cooldowns are not shared)."""
        if self.store is None:
            return
        with self._lock:
            pending, self._pending = self._pending, {}
        self.store.save(pending, purge_before=self.clock() - 86400)
        self._load()

    def _load(self):
        rows = self.store.load()
        with self._lock:
            state = dict(rows)
            state.update({k: v for k, v in self._pending.items() if v is not None})  # changed since the write
            for k, v in self._pending.items():
                if v is None:
                    state.pop(k, None)
            self._state = state
