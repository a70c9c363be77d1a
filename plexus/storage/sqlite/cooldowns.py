"""The shared cooldown table: each worker writes its changes and reads everyone's (plexus/cooldowns.py
keeps the live copy in memory). Implements storage.base.CooldownStore."""

from .connect import connect

Key = tuple[str, str]  # (provider, upstream model)
Entry = tuple[float, int, str | None]  # (until, failures, reason)


class SQLiteCooldownStore:
    def __init__(self, path: str):
        self.path = path

    def save(self, changes: dict[Key, Entry | None], purge_before: float) -> None:
        """Write each changed entry (None deletes it), and drop entries that ended before `purge_before`."""
        with connect(self.path) as conn:
            for (provider, model), entry in changes.items():
                if entry is None:
                    conn.execute("DELETE FROM cooldowns WHERE provider = ? AND model = ?", (provider, model))
                else:
                    conn.execute("INSERT OR REPLACE INTO cooldowns (provider, model, until, failures, reason) "
                                 "VALUES (?, ?, ?, ?, ?)", (provider, model, *entry))
            conn.execute("DELETE FROM cooldowns WHERE until < ?", (purge_before,))

    def load(self) -> dict[Key, Entry]:
        with connect(self.path) as conn:
            rows = conn.execute("SELECT provider, model, until, failures, reason FROM cooldowns").fetchall()
        return {(p, m): (u, f, r) for p, m, u, f, r in rows}
