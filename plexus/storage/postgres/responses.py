"""Stored Responses API responses in PostgreSQL, so a conversation started on one gateway continues
on another (`previous_response_id`). Each belongs to the client key that made it, by the key's
stable id (`owner`), not its name, which a new key may reuse. Implements storage.base.ResponseStore."""

import time

import orjson

from .connect import Database


class PostgresResponseStore:
    def __init__(self, db: Database):
        self.db = db

    def put(self, response_id: str, owner: str | None, value: dict) -> None:
        with self.db.connection() as conn:
            conn.execute("INSERT INTO responses (id, owner, created, data) VALUES (%s, %s, %s, %s) "
                         "ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, created = excluded.created, "
                         "data = excluded.data", (response_id, owner, time.time(), orjson.dumps(value)))

    def get(self, response_id: str, owner: str | None) -> dict | None:
        with self.db.connection() as conn:
            row = conn.execute("SELECT data FROM responses WHERE id = %s AND owner IS NOT DISTINCT FROM %s",
                               (response_id, owner)).fetchone()
        return orjson.loads(row[0]) if row else None

    def delete(self, response_id: str, owner: str | None) -> bool:
        with self.db.connection() as conn:
            return conn.execute("DELETE FROM responses WHERE id = %s AND owner IS NOT DISTINCT FROM %s",
                                (response_id, owner)).rowcount > 0

    def claim_unowned(self, owners: dict[str, str]) -> int:
        """Give responses stored by key name only (before owners, or copied in by migrate-usage) to
        the key that has that name now ({name: id}); returns how many."""
        with self.db.transaction() as conn:
            return sum(conn.execute("UPDATE responses SET owner = %s WHERE owner IS NULL AND key_name = %s",
                                    (owner, name)).rowcount for name, owner in owners.items())

    def prune(self, before: float) -> int:
        with self.db.connection() as conn:
            return conn.execute("DELETE FROM responses WHERE created < %s", (before,)).rowcount

    def copy_in(self, rows: list[tuple]) -> int:
        """(id, key_name, owner, created, data bytes) rows as another store kept them (migrate-usage);
        ids stored already are skipped. Returns how many were new."""
        with self.db.transaction() as conn, conn.cursor() as cur:
            cur.executemany("INSERT INTO responses (id, key_name, owner, created, data) VALUES (%s, %s, %s, %s, %s) "
                            "ON CONFLICT (id) DO NOTHING RETURNING id", rows, returning=True)
            new = 0
            while True:
                new += len(cur.fetchall())
                if not cur.nextset():
                    return new
