"""The services one app (one worker) runs, built and closed in one place: the store, the usage
writer, cooldowns, debug capture, metrics, the config watch, and the one background scheduler
that runs their periodic jobs.

`close()` stops the scheduler, publishes the last metrics, stores the captures and usage records
still queued and closes the upstream pools. `close_all()` closes every Services of this process:
gunicorn's `worker_exit` hook and `atexit` call it, so a worker that is stopped gracefully loses no
record. Every test that builds an app closes it (`close_app`).
"""

import atexit
import logging
import sqlite3
import threading
import time

from .capture import PRUNE_S as CAPTURE_PRUNE_S, SYNC_S as CAPTURE_SYNC_S, Captures
from .config import ConfigWatcher
from .cooldowns import SYNC_S as COOLDOWN_SYNC_S, Cooldowns
from .core.affinity import SYNC_S as AFFINITY_SYNC_S, Affinity
from .core.gateway import Gateway
from .core.target_stats import SYNC_S as STATS_SYNC_S, TargetStats
from .core.policy import RENEW_S as POLICY_RENEW_S
from .metrics import SAMPLE_S, Metrics
from .storage import database_url, open_storage, retention
from .storage.base import Storage
from .storage.config_share import ConfigShare
from .storage.scheduler import Scheduler
from .usage import UsageAccounting
from .usage.fallback import FallbackFile
from .usage.journal import Journal
from .usage.row import to_row
from .usage.writer import UsageWriter

log = logging.getLogger("plexus")

_open = set()  # Services of this process not yet closed, for close_all()
_open_lock = threading.Lock()


class Services:
    def __init__(self, gateway: Gateway, storage: Storage, watch: bool = True):
        """Open everything `gateway` needs on `storage` and start the background work. With
        `watch`, also the jobs that keep this worker in step with the others (the config file,
        shared cooldowns and capture switch, metrics in multiprocess mode)."""
        self.gateway = gw = gateway
        self.storage = storage
        self.scheduler = Scheduler()
        self.writer = UsageWriter(storage.usage, FallbackFile(storage.spool_path), lambda rec: to_row(rec, gw.config),
                                  journal=_journal(storage.spool_path))
        self.usage = UsageAccounting(storage.usage, self.writer)
        gw.sinks.append(self._store_record)
        gw.responses = storage.responses
        gw.cooldowns = Cooldowns(storage.cooldowns)
        gw.affinity = Affinity(storage.affinity)
        gw.target_stats = TargetStats(storage.target_stats)
        gw.policy.store = getattr(storage, "limits", None)
        if gw.policy.store is None and any(k.policy and (k.policy.limits or k.policy.budget) for k in gw.config.keys.values()):
            log.warning("this database backend keeps no per-key counters: limits and budgets are not enforced")
        gw.capture = Captures(storage.captures)
        gw.observers.append(gw.capture.observe)
        gw.metrics = Metrics(gw, queue_depth=self.writer.depth)
        gw.sinks.append(gw.metrics.observe)
        self.watcher = None
        self._store_failing = False  # the last look at the shared tables failed
        self._config_share = None
        self._closed = False
        with _open_lock:
            _open.add(self)
        self.writer.start()
        self._schedule(watch)
        self.scheduler.start()

    def _schedule(self, watch):
        gw, every = self.gateway, self.scheduler.every
        self._capture_job = every(CAPTURE_PRUNE_S, "capture-store", self._store_captures)
        gw.capture.on_queued = self._capture_job.soon
        every(POLICY_RENEW_S, "policy-leases", self._renew_leases, first=POLICY_RENEW_S)
        every(retention.INTERVAL_S, "retention", lambda: retention.prune_expired(
            self.storage, gw.config.retention_days, gw.config.responses_retention))
        if not watch:
            return
        config = gw.config
        self.watcher = ConfigWatcher(config.path, gw.apply, stamp=config.stamp)
        every(self.watcher.interval, "config-watch", self.watcher.check, first=self.watcher.interval)
        poll = min(self.storage.poll_interval, COOLDOWN_SYNC_S, CAPTURE_SYNC_S)
        if self.storage.config is not None:  # several machines: one config (storage/config_share.py)
            self._config_share = ConfigShare(self.storage.config, config.path, on_written=self.watcher.check)
        shared_job = every(poll, "shared-state", self._sync_shared, first=poll)
        gw.cooldowns.on_change = shared_job.soon  # this worker's own cooldown change is shared at once
        every(AFFINITY_SYNC_S, "affinity-sync", lambda: self._share("affinity", gw.affinity.sync), first=AFFINITY_SYNC_S)
        every(STATS_SYNC_S, "target-stats", lambda: self._share("target stats", gw.target_stats.sync), first=STATS_SYNC_S)
        if gw.metrics.shared_dir:  # alone, a process publishes at each scrape
            every(SAMPLE_S, "metrics", gw.metrics.publish, first=SAMPLE_S)

    def _store_record(self, rec):
        """Every call that authenticated leaves a usage row; one refused for its key does not (it is
        counted in the metrics and logged), so anonymous traffic cannot fill the disk."""
        if not rec.key_refused:
            row = self.writer.submit(rec)
            if row is not None:
                self.gateway.policy.charged(row["key_name"], row["cost"])

    def _store_captures(self):
        self._capture_job.within(self.gateway.capture.store_queued())

    def _renew_leases(self):
        try:
            self.gateway.policy.renew(time.time())
        except Exception as e:  # a locked database: leases last LEASE_S, the next round is well before
            log.warning("policy leases not renewed this round: %s", e)

    def _sync_shared(self):
        """Cooldowns, the capture switch and (several machines) the config, to and from the store.
        A database that is locked or away is tried again next round, and logged once per outage."""
        try:
            self.gateway.cooldowns.sync()
            self.gateway.capture.sync()
            if self._config_share is not None:
                self._config_share.sync()
        except Exception as e:
            if not self._store_failing:
                log.warning("shared state (cooldowns, capture switch, config) not synced: %s", e,
                            exc_info=not _is_database_error(e))
            self._store_failing = True
            return
        if self._store_failing:
            log.info("shared state synced again")
        self._store_failing = False

    def store_state(self) -> str:
        """"ok", or "degraded" while the database cannot be reached or records wait in the
        fallback file for it (`GET /health` shows it)."""
        return "degraded" if self._store_failing or self.writer.degraded() else "ok"

    @staticmethod
    def _share(what, sync):
        try:
            sync()
        except Exception as e:  # a locked or missing database: the next round tries again
            log.warning("%s not shared this round: %s", what, e)

    def close(self) -> None:
        """Stop the background work and store what this worker still holds. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        with _open_lock:
            _open.discard(self)
        gw = self.gateway
        self.scheduler.stop()
        _step("metrics", gw.metrics.flush)  # the counts of the worker's last second
        _step("captures", gw.capture.flush)
        self.writer.close()
        _step("upstream pools", gw.upstreams.close)
        _step("storage", self.storage.close)


def _is_database_error(e):
    """An error of the database (or of reaching it), as opposed to a bug worth a traceback."""
    return isinstance(e, (sqlite3.Error, OSError)) or type(e).__module__.split(".")[0] in ("psycopg", "psycopg_pool")


def _journal(spool_path):
    """This worker's usage journal, next to the fallback file (None, logged, where it cannot be made)."""
    prefix = spool_path.removesuffix(".fallback.jsonl") + ".worker"
    try:
        return Journal(prefix)
    except OSError as e:
        log.error("usage journal %s unavailable (%s): a killed worker may lose its last records", prefix, e)
        return None


def _step(what, close):
    try:
        close()
    except Exception:  # closing the rest matters more
        log.exception("closing %s failed", what)


def build(config, database: str | None = None, watch: bool = True) -> Services:
    """The services for `config`; `database` overrides where the store is (see storage.database_url)."""
    gateway = Gateway(config)  # configures logging
    for warning in config.warnings():
        log.warning("%s", warning)
    storage = open_storage(database_url(config, database))
    _claim_stored_responses(storage, config)
    return Services(gateway, storage, watch)


def _claim_stored_responses(storage, config):
    """Responses stored before they had owners go to the key that has their name now."""
    try:
        storage.responses.claim_unowned({k.name: k.id for k in config.keys.values()})
    except Exception as e:  # an unavailable database: the usage writer reports it
        log.warning("stored responses not claimed: %s", e)


def close_app(app) -> None:
    """Close the services of an app made by create_app."""
    app.extensions["plexus.services"].close()


def running() -> list[Services]:
    """The Services of this process not yet closed."""
    with _open_lock:
        return list(_open)


def close_all() -> None:
    """Close every Services of this process (gunicorn's worker_exit, atexit)."""
    while True:
        with _open_lock:
            if not _open:
                return
            services = _open.pop()
        services.close()


atexit.register(close_all)
