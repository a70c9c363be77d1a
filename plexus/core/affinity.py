"""Session affinity: the requests of one conversation go to the target that served its previous
turn, whatever the alias's selector, so the provider's prompt cache is reused.

The session comes from what clients already send (`session_key`). Entries are shared by every
worker: the request path reads and writes this worker's memory only; the scheduler calls `sync()`
every second to write this worker's new entries and read the others' (only those written since the
last read). Entries are stored under a digest of (client key, alias, session), never the id."""

import hashlib
import logging
import threading
import time
from typing import Any, Mapping

log = logging.getLogger("plexus.affinity")

SYNC_S = 1.0
# headers that name a session: Claude Code's, Codex's (`session-id`; gunicorn drops the underscore
# spelling `session_id` unless its header_map says otherwise) and the common `x-session-id`
SESSION_HEADERS = ("x-claude-code-session-id", "session-id", "x-session-id")


def session_key(body: Any, headers: Mapping[str, str]) -> str | None:
    """The conversation a request belongs to, from the body (`prompt_cache_key`, Anthropic's
    `metadata.user_id`, `previous_response_id`) or the headers; None when it names none."""
    if isinstance(body, dict):
        for value in (body.get("prompt_cache_key"), _user_id(body.get("metadata")), body.get("previous_response_id")):
            if isinstance(value, str) and value:
                return value
    for name in SESSION_HEADERS:
        value = headers.get(name)
        if value:
            return value
    return None


def _user_id(metadata):
    return metadata.get("user_id") if isinstance(metadata, dict) else None


def digest(key_name: str | None, alias: str, session: str) -> str:
    return hashlib.sha256(f"{key_name or ''}\0{alias}\0{session}".encode("utf-8", "surrogatepass")).hexdigest()[:32]


class Affinity:
    def __init__(self, store: Any = None, clock=time.time) -> None:
        """`store` (a storage.base.AffinityStore) shares the entries; without one they are this worker's."""
        self.store = store
        self.clock = clock
        self._entries = {}  # digest -> (provider, model, expires)
        self._pending = {}
        self._read_until = 0.0
        self._lock = threading.Lock()

    def target(self, session: str) -> tuple[str, str] | None:
        entry = self._entries.get(session)
        if entry and entry[2] > self.clock():
            return entry[0], entry[1]
        return None

    def remember(self, session: str, provider: str, model: str, ttl: float) -> None:
        """`session` now sticks to (provider, model) for `ttl` seconds. An unchanged entry is
        rewritten only once half its time has passed, so a busy session costs no writes."""
        now = self.clock()
        entry = self._entries.get(session)
        if entry and entry[:2] == (provider, model) and entry[2] - now > ttl / 2:
            return
        with self._lock:
            self._entries[session] = self._pending[session] = (provider, model, now + ttl)

    def sync(self) -> None:
        if self.store is None:
            return
        now = self.clock()
        with self._lock:
            pending, self._pending = self._pending, {}
        if pending:
            self.store.save(pending, now)
        since, self._read_until = self._read_until, now
        changed = self.store.load(since - SYNC_S, now)  # a little overlap: a write racing the last read is not lost
        with self._lock:
            for k, v in changed.items():
                if k not in self._pending:
                    self._entries[k] = v
            for k in [k for k, v in self._entries.items() if v[2] <= now]:
                del self._entries[k]
