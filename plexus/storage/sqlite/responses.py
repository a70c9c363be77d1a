"""Stored Responses API responses (`store` / `previous_response_id` / `GET` and `DELETE
/v1/responses/{id}`), one table. Each response belongs to the client key that made it: another key
cannot read or delete it. Implements storage.base.ResponseStore."""

import time

import orjson

from .connect import connect


class SQLiteResponseStore:
    def __init__(self, path: str):
        self.path = path

    def put(self, response_id: str, key_name: str | None, value: dict) -> None:
        with connect(self.path) as conn:
            conn.execute("INSERT OR REPLACE INTO responses (id, key_name, created, data) VALUES (?, ?, ?, ?)",
                         (response_id, key_name, time.time(), orjson.dumps(value)))

    def get(self, response_id: str, key_name: str | None) -> dict | None:
        with connect(self.path) as conn:
            row = conn.execute("SELECT data FROM responses WHERE id = ? AND key_name IS ?", (response_id, key_name)).fetchone()
        return orjson.loads(row[0]) if row else None

    def delete(self, response_id: str, key_name: str | None) -> bool:
        with connect(self.path) as conn:
            return conn.execute("DELETE FROM responses WHERE id = ? AND key_name IS ?", (response_id, key_name)).rowcount > 0

    def prune(self, before: float) -> int:
        """Delete responses stored before `before` (epoch seconds); returns how many."""
        with connect(self.path) as conn:
            return conn.execute("DELETE FROM responses WHERE created < ?", (before,)).rowcount
