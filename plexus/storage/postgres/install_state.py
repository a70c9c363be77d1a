"""Small named values shared by every worker and machine of one install (the dashboard's random
session-signing secret and its session generation), in PostgreSQL. Implements
storage.base.InstallState."""

from .connect import Database


class PostgresInstallState:
    def __init__(self, db: Database):
        self.db = db

    def get_or_create(self, name: str, value: str) -> str:
        """The stored value of `name`; `value` is stored first when there is none (the first caller
        wins, every other one reads what it stored)."""
        with self.db.transaction() as conn:
            conn.execute("INSERT INTO install_state (name, value) VALUES (%s, %s) ON CONFLICT (name) DO NOTHING",
                         (name, value))
            return conn.execute("SELECT value FROM install_state WHERE name = %s", (name,)).fetchone()[0]

    def get(self, name: str) -> str | None:
        with self.db.connection() as conn:
            row = conn.execute("SELECT value FROM install_state WHERE name = %s", (name,)).fetchone()
        return row[0] if row else None

    def increment(self, name: str) -> int:
        """Add one to the counter `name` (0 when unset) and return the new value."""
        with self.db.transaction() as conn:
            row = conn.execute("INSERT INTO install_state (name, value) VALUES (%s, '1') ON CONFLICT (name) "
                               "DO UPDATE SET value = (install_state.value::bigint + 1)::text RETURNING value",
                               (name,)).fetchone()
        return int(row[0])
