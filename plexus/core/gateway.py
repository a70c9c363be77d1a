"""The gateway's live state in one worker: the current config, its key index, the router, the
upstream pools. A config change swaps one attribute, so a request in flight keeps the config it
started with."""

import gc
import hashlib
import hmac
import logging
import os
import time
from typing import Any, Callable

from .. import catalog, logging_setup
from ..wire import sse
from ..cooldowns import Cooldowns
from .affinity import Affinity
from .target_stats import TargetStats
from .errors import AuthenticationFailed
from .policy import Policy, check_expiry
from .upstream import Upstreams
from .routing import Router

log = logging.getLogger("plexus")


class Gateway:
    def __init__(self, config: Any, router: Router | None = None, upstreams: Upstreams | None = None) -> None:
        self.router = router or Router()
        self.upstreams = upstreams or Upstreams()
        self.sinks: list[Callable[[Any], None]] = []  # callables that take each finished UsageRecord
        self.observers: list[Callable] = []  # factories (call, config) -> an observer of that call or None (plexus/core/observers.py)
        self.responses = None  # the storage.base.ResponseStore, for API styles that keep conversation state
        self.cooldowns = Cooldowns()  # memory only until create_app shares it through the database
        self.affinity = Affinity()  # likewise: which target each session sticks to
        self.target_stats = TargetStats()  # likewise: requests in flight and TTFT per target
        self.streams_in_flight = 0  # in this worker
        self.policy = Policy()  # per-key policy; its shared counters are set by create_app (services.py)
        self.apply(config)

    def apply(self, config: Any) -> None:
        logging_setup.setup(config.log_level, config.log_format)
        catalog.warm(config)  # prices and context windows looked up now, not per request
        self.upstreams.configure(config)
        sse.set_max_event_bytes(config.limits.sse_event_bytes)
        index = {k.digest: k for k in config.keys.values()}
        self._state = (config, index)
        self.config_loaded_at = time.time()

    def record(self, rec: Any) -> None:
        if log.isEnabledFor(logging.INFO):
            logging_setup.info(log, describe(rec), rec.request_id, lambda: fields(rec))
        for sink in self.sinks:
            sink(rec)

    def runtime(self) -> dict:
        """This worker's vital signs, for operators and leak tests."""
        try:
            fds = len(os.listdir("/proc/self/fd"))
        except OSError:
            fds = None
        return {"pid": os.getpid(), "open_fds": fds, "greenlets": _greenlets(), "streams_in_flight": self.streams_in_flight}

    @property
    def config(self) -> Any:
        return self._state[0]

    def authenticate(self, token: str) -> Any:
        """The ClientKey whose secret is `token`, refused once it has expired."""
        key = self.identify(token)
        if key.policy is not None:
            check_expiry(key, time.time())
        return key

    def identify(self, token: str) -> Any:
        """The ClientKey whose secret is `token`: found by the SHA-256 of what was sent (keys are
        stored that way), confirmed with a constant-time compare of the digests."""
        if not token:
            raise AuthenticationFailed("Missing API key: send it as 'Authorization: Bearer <key>' or 'x-api-key'")
        digest = _digest(token)
        key = self._state[1].get(digest)
        if key is None or not hmac.compare_digest(key.digest, digest):
            raise AuthenticationFailed("Invalid API key", code="invalid_api_key")
        return key


def _greenlets():
    try:
        import greenlet
    except ImportError:
        return None
    return sum(1 for o in gc.get_objects() if isinstance(o, greenlet.greenlet) and not o.dead)


def _digest(secret):
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()


def fields(rec: Any) -> dict:
    """The request line's facts, as JSON logs carry them."""
    u = rec.usage
    return {"key": rec.key_name, "api_style": rec.api_style, "provider": rec.provider, "alias": rec.alias,
            "model": rec.model, "fast_path": rec.fast_path, "status": rec.status,
            "duration_ms": round((rec.duration_s or 0) * 1000, 1),
            "input_tokens": u.input_tokens if u else None, "output_tokens": u.output_tokens if u else None}


def describe(rec: Any) -> str:
    """One log line for a finished request; names only, never a secret."""
    u = rec.usage
    tokens = f" tokens_in={u.prompt_tokens} tokens_out={u.output_tokens}" if u else ""
    ms = (rec.duration_s or 0) * 1000
    path = "fast" if rec.fast_path else "translated"
    return (
        f"{rec.request_id} key={rec.key_name or '-'} {rec.api_style}->{rec.provider or '-'} {path}"
        f" alias={rec.alias or '-'}->{rec.model or '-'} status={rec.status} {ms:.0f}ms{tokens}"
        + (f" error={rec.error!r}" if rec.error else "")
    )
