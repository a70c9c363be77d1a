"""The throttle on failed admin-key attempts, shared by every admin surface of a worker: the
dashboard login, the management API and `GET /metrics`. It counts per client address — the real
one behind a configured trusted proxy (plexus/web/proxies.py) — so someone guessing from one
address slows down only that address, never the admin elsewhere. A request that presents no key
at all is not a guess and is not counted."""

import threading
import time
from collections import OrderedDict

from flask import Flask, current_app, request

EXTENSION = "plexus.admin_throttle"


class FailureThrottle:
    """Failed attempts per client address: after `free` failures, each further attempt must wait
    twice as long as the one before (up to `max_delay` seconds). Bounded memory: at most
    `max_entries` addresses, the least recently seen forgotten first; a quiet address is forgiven
    after `forget_after`. Per worker (with N workers an attacker gets at most N times the attempts)."""

    def __init__(self, free=3, max_delay=60.0, max_entries=4096, forget_after=900.0, clock=time.monotonic):
        self.free, self.max_delay, self.max_entries, self.forget_after = free, max_delay, max_entries, forget_after
        self.clock = clock
        self._seen = OrderedDict()  # ip -> (failures, not before, last failure)
        self._lock = threading.Lock()

    def wait(self, ip):
        """Seconds before `ip` may try again (0: now)."""
        entry = self._entry(ip)
        return max(0.0, entry[1] - self.clock()) if entry else 0.0

    def failed(self, ip):
        now = self.clock()
        with self._lock:
            entry = self._entry(ip)
            failures = (entry[0] if entry else 0) + 1
            delay = min(2.0 ** (failures - self.free), self.max_delay) if failures >= self.free else 0.0
            self._seen[ip] = (failures, now + delay, now)
            self._seen.move_to_end(ip)
            while len(self._seen) > self.max_entries:
                self._seen.popitem(last=False)

    def succeeded(self, ip):
        if ip in self._seen:
            with self._lock:
                self._seen.pop(ip, None)

    def _entry(self, ip):
        entry = self._seen.get(ip)
        if entry and self.clock() - entry[2] > self.forget_after:
            self._seen.pop(ip, None)
            return None
        return entry


def install(app: Flask) -> None:
    app.extensions[EXTENSION] = FailureThrottle()


def throttle() -> FailureThrottle:
    return current_app.extensions[EXTENSION]


def client_ip() -> str:
    return request.remote_addr or "?"


def wait() -> float:
    """Seconds this request's address must still wait before its next admin-key attempt."""
    return throttle().wait(client_ip())


def record(ok: bool, presented: bool = True) -> bool:
    """Count one admin-key attempt's outcome for this request's address; returns `ok`."""
    if ok:
        throttle().succeeded(client_ip())
    elif presented:
        throttle().failed(client_ip())
    return ok
