"""Stored Responses API responses (`store` / `previous_response_id` / `GET` and `DELETE
/v1/responses/{id}`), in the same SQLite file as usage, one table. Each response belongs to the
client key that made it: another key cannot read or delete it."""

import os
import sqlite3
import time
from contextlib import closing, contextmanager

import orjson

SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    id TEXT PRIMARY KEY,
    key_name TEXT,
    created REAL NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS responses_created ON responses (created);
"""


class ResponseStore:
    PRUNE_EVERY_S = 3600

    def __init__(self, path):
        self.path = path
        self._pruned_at = 0.0
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        with self._connect() as conn:
            conn.executescript(SCHEMA)

    @contextmanager
    def _connect(self):
        with closing(sqlite3.connect(self.path, timeout=10, isolation_level=None)) as conn:
            conn.execute("PRAGMA synchronous=NORMAL")  # with WAL: durable enough, no fsync per insert
            yield conn

    def put(self, response_id, key_name, value):
        with self._connect() as conn:
            conn.execute("INSERT OR REPLACE INTO responses (id, key_name, created, data) VALUES (?, ?, ?, ?)",
                         (response_id, key_name, time.time(), orjson.dumps(value)))

    def get(self, response_id, key_name):
        with self._connect() as conn:
            row = conn.execute("SELECT data FROM responses WHERE id = ? AND key_name IS ?", (response_id, key_name)).fetchone()
        return orjson.loads(row[0]) if row else None

    def delete(self, response_id, key_name):
        with self._connect() as conn:
            return conn.execute("DELETE FROM responses WHERE id = ? AND key_name IS ?", (response_id, key_name)).rowcount > 0

    def prune(self, days):
        with self._connect() as conn:
            return conn.execute("DELETE FROM responses WHERE created < ?", (time.time() - days * 86400,)).rowcount

    def prune_if_due(self, days):
        """Apply the retention (the config's `retention_days`) at most once an hour."""
        if days and time.time() - self._pruned_at > self.PRUNE_EVERY_S:
            self._pruned_at = time.time()
            self.prune(days)
