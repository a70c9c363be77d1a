"""The SQLite backend: every table in one file next to its fallback spool. Embedded, needs nothing
installed; several worker processes of one machine share it safely."""

import logging

from ..steps import MigratedOnce
from .captures import SQLiteCaptureStore
from .connect import create_file, transaction, connect, use_wal
from .cooldowns import SQLiteCooldownStore
from .routing_state import SQLiteAffinityStore, SQLiteTargetStatsStore
from .install_state import SQLiteInstallState
from .limits import SQLiteKeyLimitStore
from .migrations import migrate
from .responses import SQLiteResponseStore
from .usage import SQLiteUsageStore

log = logging.getLogger("plexus.storage")


class SQLiteStorage(MigratedOnce):
    """storage.base.Storage on one SQLite file."""

    config = None  # one machine: every worker reads the same config file
    poll_interval = 1.0

    def __init__(self, path: str):
        self.path = path
        self.spool_path = path + ".fallback.jsonl"
        self.usage = SQLiteUsageStore(path, self.ensure_schema)
        self.responses = SQLiteResponseStore(path)
        self.cooldowns = SQLiteCooldownStore(path)
        self.captures = SQLiteCaptureStore(path)
        self.affinity = SQLiteAffinityStore(path)
        self.target_stats = SQLiteTargetStatsStore(path)
        self.install = SQLiteInstallState(path)
        self.limits = SQLiteKeyLimitStore(path)

    def migrate(self) -> list[str]:
        """Create the file and every table, or bring an older file up to date (rows kept)."""
        create_file(self.path)
        with connect(self.path) as conn:
            use_wal(conn)
        with transaction(self.path) as conn:  # processes starting together apply each step once
            applied = migrate(conn)
        if applied:
            log.info("database %s: applied %s", self.path, ", ".join(applied))
        self._migrated = True
        return applied

    def close(self) -> None:
        """Every call opens and closes its own connection, but for the usage writer's and the limit
        counters' ones."""
        self.usage.close()
        self.limits.close()
