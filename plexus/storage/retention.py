"""The retention periods: usage records older than `retention_days` (default: kept) and stored
responses older than `responses_retention_days` (default: `retention_days`, else 30 days) are
deleted, once at start and then hourly, on the scheduler's thread."""

import logging
import time

from .base import Storage

log = logging.getLogger("plexus.storage")

DAY = 86400
INTERVAL_S = 3600.0


_SAME = object()


def prune_expired(storage: Storage, days: float | None, responses_days: float | None = _SAME) -> None:
    """Delete usage records older than `days` and stored responses older than `responses_days`
    (by default `days` too); None or 0 keeps them."""
    now = time.time()
    if days:
        pruned = storage.usage.prune(now - days * DAY)
        if pruned:
            log.info("pruned %d usage records older than %s days", pruned, days)
    responses_days = days if responses_days is _SAME else responses_days
    if responses_days:
        storage.responses.prune(now - responses_days * DAY)
