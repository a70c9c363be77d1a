"""Stored Responses API responses in PostgreSQL, so a conversation started on one gateway continues
on another (`previous_response_id`). Each belongs to the client key that made it. Implements
storage.base.ResponseStore."""

import time

import orjson

from .connect import Database


class PostgresResponseStore:
    def __init__(self, db: Database):
        self.db = db

    def put(self, response_id: str, key_name: str | None, value: dict) -> None:
        with self.db.connection() as conn:
            conn.execute("INSERT INTO responses (id, key_name, created, data) VALUES (%s, %s, %s, %s) "
                         "ON CONFLICT (id) DO UPDATE SET key_name = excluded.key_name, created = excluded.created, "
                         "data = excluded.data", (response_id, key_name, time.time(), orjson.dumps(value)))

    def get(self, response_id: str, key_name: str | None) -> dict | None:
        with self.db.connection() as conn:
            row = conn.execute("SELECT data FROM responses WHERE id = %s AND key_name IS NOT DISTINCT FROM %s",
                               (response_id, key_name)).fetchone()
        return orjson.loads(row[0]) if row else None

    def delete(self, response_id: str, key_name: str | None) -> bool:
        with self.db.connection() as conn:
            return conn.execute("DELETE FROM responses WHERE id = %s AND key_name IS NOT DISTINCT FROM %s",
                                (response_id, key_name)).rowcount > 0

    def prune(self, before: float) -> int:
        with self.db.connection() as conn:
            return conn.execute("DELETE FROM responses WHERE created < %s", (before,)).rowcount

    def copy_in(self, rows: list[tuple]) -> int:
        """(id, key_name, created, data bytes) rows as another store kept them (migrate-usage);
        ids stored already are skipped. Returns how many were new."""
        with self.db.transaction() as conn, conn.cursor() as cur:
            cur.executemany("INSERT INTO responses (id, key_name, created, data) VALUES (%s, %s, %s, %s) "
                            "ON CONFLICT (id) DO NOTHING RETURNING id", rows, returning=True)
            new = 0
            while True:
                new += len(cur.fetchall())
                if not cur.nextset():
                    return new
