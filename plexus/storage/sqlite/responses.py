"""Stored Responses API responses (`store` / `previous_response_id` / `GET` and `DELETE
/v1/responses/{id}`), one table. Each response belongs to the client key that made it, by the
key's stable id (`owner`, config.types.ClientKey.id) — not its name, which a new key may reuse:
another key cannot read, continue or delete it. Implements storage.base.ResponseStore."""

import time

import orjson

from .connect import connect


class SQLiteResponseStore:
    def __init__(self, path: str):
        self.path = path

    def put(self, response_id: str, owner: str | None, value: dict) -> None:
        with connect(self.path) as conn:
            conn.execute("INSERT OR REPLACE INTO responses (id, owner, created, data) VALUES (?, ?, ?, ?)",
                         (response_id, owner, time.time(), orjson.dumps(value)))

    def get(self, response_id: str, owner: str | None) -> dict | None:
        with connect(self.path) as conn:
            row = conn.execute("SELECT data FROM responses WHERE id = ? AND owner IS ?", (response_id, owner)).fetchone()
        return orjson.loads(row[0]) if row else None

    def delete(self, response_id: str, owner: str | None) -> bool:
        with connect(self.path) as conn:
            return conn.execute("DELETE FROM responses WHERE id = ? AND owner IS ?", (response_id, owner)).rowcount > 0

    def prune(self, before: float) -> int:
        """Delete responses stored before `before` (epoch seconds); returns how many."""
        with connect(self.path) as conn:
            return conn.execute("DELETE FROM responses WHERE created < ?", (before,)).rowcount

    def claim_unowned(self, owners: dict[str, str]) -> int:
        """Give responses stored before owners were recorded (by key name only) to the key that
        has that name now ({name: id}); returns how many."""
        with connect(self.path) as conn:
            return sum(conn.execute("UPDATE responses SET owner = ? WHERE owner IS NULL AND key_name = ?",
                                    (owner, name)).rowcount for name, owner in owners.items())
