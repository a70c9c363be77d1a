"""The PostgreSQL backend: every table Plexus shares, for several gateway machines on one database.
Each worker holds a small connection pool (connect.py); migrations run at start under an advisory
lock (migrations.py). Usage rows that cannot reach the database go to a local spool file, as with
SQLite (plexus/usage/fallback.py), in the folder $PLEXUS_SPOOL_DIR (default data/)."""

import logging
import os

from ..steps import MigratedOnce
from .captures import PostgresCaptureStore
from .config import PostgresConfigStore
from .connect import Database
from .cooldowns import PostgresCooldownStore
from .install_state import PostgresInstallState
from .limits import PostgresKeyLimitStore
from .migrations import migrate
from .responses import PostgresResponseStore
from .routing_state import PostgresAffinityStore, PostgresTargetStatsStore
from .usage import PostgresUsageStore

log = logging.getLogger("plexus.storage")

DEFAULT_SPOOL_DIR = "data"
SPOOL_NAME = "plexus-pg.fallback.jsonl"


class PostgresStorage(MigratedOnce):
    """storage.base.Storage on one PostgreSQL database."""

    poll_interval = 0.5  # seconds between reads of what other machines changed (cooldowns, switch, config)

    def __init__(self, url: str, spool_dir: str | None = None):
        spool_dir = spool_dir or os.environ.get("PLEXUS_SPOOL_DIR") or DEFAULT_SPOOL_DIR
        self.spool_path = os.path.join(spool_dir, SPOOL_NAME)
        os.makedirs(spool_dir, exist_ok=True)
        self.db = Database(url, self.ensure_schema)
        self.path = self.db.name  # for messages; never holds the password
        self.usage = PostgresUsageStore(self.db)
        self.responses = PostgresResponseStore(self.db)
        self.cooldowns = PostgresCooldownStore(self.db)
        self.captures = PostgresCaptureStore(self.db)
        self.config = PostgresConfigStore(self.db)
        self.affinity = PostgresAffinityStore(self.db)
        self.target_stats = PostgresTargetStatsStore(self.db)
        self.install = PostgresInstallState(self.db)
        self.limits = PostgresKeyLimitStore(self.db)

    def migrate(self) -> list[str]:
        with self.db.pool.connection() as conn:
            applied = migrate(conn)
        if applied:
            log.info("database %s: applied %s", self.db.name, ", ".join(applied))
        self._migrated = True
        return applied

    def close(self) -> None:
        self.db.close()
