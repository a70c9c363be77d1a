"""Debug captures and the capture switch in PostgreSQL (plexus/capture.py collects and redacts
them), shared by every gateway. Implements storage.base.CaptureStore."""

import orjson

from .connect import Database

SUMMARY = ("id", "time", "request_id", "provider", "alias", "status", "size")


class PostgresCaptureStore:
    def __init__(self, db: Database):
        self.db = db

    def load_switch(self) -> dict | None:
        with self.db.connection() as conn:
            row = conn.execute("SELECT data FROM capture_settings WHERE id = 1").fetchone()
        return orjson.loads(row[0]) if row else None

    def save_switch(self, settings: dict) -> None:
        with self.db.connection() as conn:
            conn.execute("INSERT INTO capture_settings (id, data) VALUES (1, %s) "
                         "ON CONFLICT (id) DO UPDATE SET data = excluded.data", (orjson.dumps(settings).decode(),))

    def add(self, doc: dict) -> int:
        data = orjson.dumps(doc).decode()
        with self.db.connection() as conn:
            conn.execute("INSERT INTO captures (time, request_id, provider, alias, status, size, data) "
                         "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                         (doc["time"], doc["request_id"], doc["provider"], doc["alias"], str(doc["status"]),
                          len(data), data))
        return len(data)

    def prune(self, before: float, max_total_bytes: int) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM captures WHERE time < %s", (before,))
            conn.execute("DELETE FROM captures WHERE id <= (SELECT id FROM (SELECT id, SUM(size) OVER "
                         "(ORDER BY id DESC) AS running FROM captures) t WHERE running > %s ORDER BY id DESC LIMIT 1)",
                         (max_total_bytes,))

    def list(self, request_id: str | None = None, limit: int = 50) -> list[dict]:
        sql = f"SELECT {', '.join(SUMMARY)} FROM captures"
        args = []
        if request_id:
            sql += " WHERE request_id = %s"
            args.append(request_id)
        sql += " ORDER BY id DESC LIMIT %s"
        with self.db.connection() as conn:
            rows = conn.execute(sql, (*args, limit)).fetchall()
        return [dict(zip(SUMMARY, row)) for row in rows]

    def get(self, capture_id: int) -> dict | None:
        with self.db.connection() as conn:
            row = conn.execute("SELECT id, data FROM captures WHERE id = %s", (capture_id,)).fetchone()
        return {"id": row[0], **orjson.loads(row[1])} if row else None

    def for_request(self, request_id: str, at: float | None = None) -> dict | None:
        with self.db.connection() as conn:
            if at is None:
                row = conn.execute("SELECT id FROM captures WHERE request_id = %s ORDER BY id DESC LIMIT 1",
                                   (request_id,)).fetchone()
            else:
                row = conn.execute("SELECT id FROM captures WHERE request_id = %s ORDER BY abs(time - %s), id DESC "
                                   "LIMIT 1", (request_id, at)).fetchone()
        return self.get(row[0]) if row else None

    def stats(self) -> dict:
        with self.db.connection() as conn:
            count, size = conn.execute("SELECT COUNT(*), COALESCE(SUM(size), 0)::bigint FROM captures").fetchone()
        return {"stored": count, "stored_bytes": size}

    def clear(self) -> int:
        with self.db.connection() as conn:
            return conn.execute("DELETE FROM captures").rowcount
