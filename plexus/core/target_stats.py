"""Per-target load for the `least_busy` and `latency` selectors: requests in flight and a decaying
average of the time to first byte, per (provider, upstream model).

This worker's numbers are live in memory; every worker publishes its own through the store each
second and reads the others' (the scheduler calls `sync()`), so `in_flight()` is the count across
workers (others' as of their last publish) and `ttft_ms()` averages the workers' averages."""

import os
import threading
import time
from typing import Any

SYNC_S = 1.0
DECAY = 0.3  # weight of the newest sample in the average
STALE_S = 10.0  # a worker that has not published for this long is gone
REPUBLISH_S = 4.0  # unchanged numbers are published again this often, to stay fresh


class TargetStats:
    def __init__(self, store: Any = None, worker: str | None = None, clock=time.time) -> None:
        self.store = store
        self.worker = worker or f"{os.uname().nodename}:{os.getpid()}"
        self.clock = clock
        self._in_flight = {}  # (provider, model) -> n, this worker
        self._ttft = {}  # (provider, model) -> ms, this worker's average
        self._others = {}  # (provider, model) -> (in flight, [ttft averages]) of the other workers
        self._published = (None, 0.0)  # (what, when) this worker last published
        self._lock = threading.Lock()

    # ---- the request path -------------------------------------------------------------------------

    def started(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._in_flight[key] = self._in_flight.get(key, 0) + 1

    def ended(self, key: tuple[str, str]) -> None:
        with self._lock:
            n = self._in_flight.get(key, 0) - 1
            if n > 0:
                self._in_flight[key] = n
            else:
                self._in_flight.pop(key, None)

    def first_byte(self, key: tuple[str, str], ms: float) -> None:
        old = self._ttft.get(key)
        self._ttft[key] = ms if old is None else old + DECAY * (ms - old)

    def in_flight(self, key: tuple[str, str]) -> int:
        return self._in_flight.get(key, 0) + self._others.get(key, (0, ()))[0]

    def ttft_ms(self, key: tuple[str, str]) -> float | None:
        """The recent time to first byte, or None when no worker has seen one."""
        samples = list(self._others.get(key, (0, ()))[1])
        if key in self._ttft:
            samples.append(self._ttft[key])
        return sum(samples) / len(samples) if samples else None

    # ---- sharing ----------------------------------------------------------------------------------

    def sync(self) -> None:
        if self.store is None:
            return
        now = self.clock()
        keys = set(self._in_flight) | set(self._ttft)
        mine = {k: (self._in_flight.get(k, 0), self._ttft.get(k)) for k in keys}
        if mine != self._published[0] or now - self._published[1] > REPUBLISH_S:  # an idle worker writes rarely
            self.store.publish(self.worker, mine, now)
            self._published = (mine, now)
        others = {}
        for key, rows in self.store.load(now - STALE_S).items():
            rows = [(n, t) for w, n, t in rows if w != self.worker]
            if rows:
                others[key] = (sum(n for n, _ in rows), [t for _, t in rows if t is not None])
        self._others = others
