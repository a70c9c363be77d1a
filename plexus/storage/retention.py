"""The retention period (`retention_days` in the config): usage records and stored responses older
than it are deleted, once at start and then hourly, on the scheduler's thread."""

import logging
import time

from .base import Storage

log = logging.getLogger("plexus.storage")

DAY = 86400
INTERVAL_S = 3600.0


def prune_expired(storage: Storage, days: float | None) -> None:
    """Delete what is older than `days` (None or 0: keep everything)."""
    if not days:
        return
    before = time.time() - days * DAY
    pruned = storage.usage.prune(before)
    if pruned:
        log.info("pruned %d usage records older than %s days", pruned, days)
    storage.responses.prune(before)
