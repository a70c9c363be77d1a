"""The shared cooldown table in PostgreSQL: every worker of every machine writes its changes and
reads everyone's (plexus/cooldowns.py keeps the live copy in memory). Implements
storage.base.CooldownStore."""

from ..base import CooldownEntry, CooldownKey
from .connect import Database


class PostgresCooldownStore:
    def __init__(self, db: Database):
        self.db = db

    def save(self, changes: dict[CooldownKey, CooldownEntry | None], purge_before: float) -> None:
        with self.db.transaction() as conn:
            for (provider, model), entry in sorted(changes.items()):
                if entry is None:
                    conn.execute("DELETE FROM cooldowns WHERE provider = %s AND model = %s", (provider, model))
                else:
                    conn.execute("INSERT INTO cooldowns (provider, model, until, failures, reason) "
                                 "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (provider, model) DO UPDATE SET "
                                 "until = excluded.until, failures = excluded.failures, reason = excluded.reason",
                                 (provider, model, *entry))
            conn.execute("DELETE FROM cooldowns WHERE until < %s", (purge_before,))

    def load(self) -> dict[CooldownKey, CooldownEntry]:
        with self.db.connection() as conn:
            rows = conn.execute("SELECT provider, model, until, failures, reason FROM cooldowns").fetchall()
        return {(p, m): (u, f, r) for p, m, u, f, r in rows}
