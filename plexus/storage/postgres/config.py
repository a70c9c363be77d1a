"""The config file's text as last published by any gateway sharing this database: one row with a
version that grows on every change (plexus/storage/config_share.py keeps each machine's file in
step with it). Implements storage.base.ConfigStore."""

from .connect import Database


class PostgresConfigStore:
    def __init__(self, db: Database):
        self.db = db

    def load(self) -> tuple[int, str, float] | None:
        """(version, text, updated epoch seconds), or None when nothing was published yet."""
        with self.db.connection() as conn:
            row = conn.execute("SELECT version, text, updated FROM shared_config WHERE id = 1").fetchone()
        return tuple(row) if row else None

    def publish(self, text: str, updated: float, origin: str) -> int:
        """Make `text` the shared config unless it is so already; returns the version now stored."""
        with self.db.connection() as conn:
            row = conn.execute(
                "INSERT INTO shared_config AS s (id, version, text, updated, origin) VALUES (1, 1, %(t)s, %(u)s, %(o)s) "
                "ON CONFLICT (id) DO UPDATE SET version = s.version + 1, text = excluded.text, "
                "updated = excluded.updated, origin = excluded.origin WHERE s.text IS DISTINCT FROM excluded.text "
                "RETURNING version", {"t": text, "u": updated, "o": origin}).fetchone()
            if row:
                return row[0]
            return conn.execute("SELECT version FROM shared_config WHERE id = 1").fetchone()[0]
