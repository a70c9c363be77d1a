"""Debug captures and the capture switch (plexus/capture.py collects and redacts them). Implements
storage.base.CaptureStore."""

import orjson

from .connect import connect

SUMMARY = ("id", "time", "request_id", "provider", "alias", "status", "size")


class SQLiteCaptureStore:
    def __init__(self, path: str):
        self.path = path

    # ---- the switch, shared by every worker -------------------------------------------------------

    def load_switch(self) -> dict | None:
        with connect(self.path) as conn:
            row = conn.execute("SELECT data FROM capture_settings WHERE id = 1").fetchone()
        return orjson.loads(row[0]) if row else None

    def save_switch(self, settings: dict) -> None:
        with connect(self.path) as conn:
            conn.execute("INSERT OR REPLACE INTO capture_settings (id, data) VALUES (1, ?)", (orjson.dumps(settings),))

    # ---- captures ---------------------------------------------------------------------------------

    def add(self, doc: dict) -> int:
        """Store one capture document; returns its stored size in bytes."""
        data = orjson.dumps(doc).decode()  # text, so the sqlite3 shell shows it as it is
        with connect(self.path) as conn:
            conn.execute("INSERT INTO captures (time, request_id, provider, alias, status, size, data) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (doc["time"], doc["request_id"], doc["provider"], doc["alias"], str(doc["status"]),
                          len(data), data))
        return len(data)

    def prune(self, before: float, max_total_bytes: int) -> None:
        """Drop captures older than `before`, then the oldest while the total is over `max_total_bytes`."""
        with connect(self.path) as conn:
            conn.execute("DELETE FROM captures WHERE time < ?", (before,))
            conn.execute("DELETE FROM captures WHERE id <= (SELECT id FROM (SELECT id, SUM(size) OVER "
                         "(ORDER BY id DESC) AS running FROM captures) WHERE running > ? ORDER BY id DESC LIMIT 1)",
                         (max_total_bytes,))

    def list(self, request_id: str | None = None, limit: int = 50) -> list[dict]:
        """Captures without their documents, newest first."""
        sql = f"SELECT {', '.join(SUMMARY)} FROM captures"
        args = []
        if request_id:
            sql += " WHERE request_id = ?"
            args.append(request_id)
        sql += " ORDER BY id DESC LIMIT ?"
        with connect(self.path) as conn:
            rows = conn.execute(sql, (*args, limit)).fetchall()
        return [dict(zip(SUMMARY, row)) for row in rows]

    def get(self, capture_id: int) -> dict | None:
        with connect(self.path) as conn:
            row = conn.execute("SELECT id, data FROM captures WHERE id = ?", (capture_id,)).fetchone()
        return {"id": row[0], **orjson.loads(row[1])} if row else None

    def for_request(self, request_id: str, at: float | None = None) -> dict | None:
        """The capture of a request id (ids may repeat: the one nearest `at`, else the latest)."""
        order = "ABS(time - ?), id DESC" if at is not None else "id DESC"
        with connect(self.path) as conn:
            row = conn.execute(f"SELECT id FROM captures WHERE request_id = ? ORDER BY {order} LIMIT 1",
                               (request_id, at) if at is not None else (request_id,)).fetchone()
        return self.get(row[0]) if row else None

    def stats(self) -> dict:
        with connect(self.path) as conn:
            count, size = conn.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM captures").fetchone()
        return {"stored": count, "stored_bytes": size}

    def clear(self) -> int:
        with connect(self.path) as conn:
            return conn.execute("DELETE FROM captures").rowcount
