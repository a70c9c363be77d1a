"""Small named values shared by every worker and instance of one install: the dashboard's random
session-signing secret and its session generation. Implements storage.base.InstallState."""

from .connect import connect, transaction


class SQLiteInstallState:
    def __init__(self, path: str):
        self.path = path

    def get_or_create(self, name: str, value: str) -> str:
        """The stored value of `name`; `value` is stored first when there is none (the first
        worker to ask wins, every other one reads what it stored)."""
        with transaction(self.path) as conn:
            conn.execute("INSERT OR IGNORE INTO install_state (name, value) VALUES (?, ?)", (name, value))
            return conn.execute("SELECT value FROM install_state WHERE name = ?", (name,)).fetchone()[0]

    def get(self, name: str) -> str | None:
        with connect(self.path) as conn:
            row = conn.execute("SELECT value FROM install_state WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def increment(self, name: str) -> int:
        """Add one to the counter `name` (0 when unset) and return the new value."""
        with transaction(self.path) as conn:
            conn.execute("INSERT INTO install_state (name, value) VALUES (?, '1') ON CONFLICT (name) "
                         "DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)", (name,))
            return int(conn.execute("SELECT value FROM install_state WHERE name = ?", (name,)).fetchone()[0])
