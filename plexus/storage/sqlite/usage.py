"""Usage rows and their hourly rollups in the SQLite file, shared safely by every worker process:
short write transactions, rollups kept in step inside them. Implements storage.base.UsageStore;
callers never see SQL.
"""

import sqlite3
import time
from collections.abc import Callable

import orjson

from ...usage.params import Filters
from ...usage.summary import Window
from ...usage.row import COLUMNS
from . import rollup
from .connect import KeptConnection, connect, write

_INSERT = (
    f"INSERT INTO usage ({', '.join(COLUMNS)}) VALUES ({', '.join(':' + c for c in COLUMNS)})"
    " ON CONFLICT (record_key) DO NOTHING"
)
_CONDITIONS = {
    "since": "time >= :since",
    "until": "time < :until",
    "key_name": "key_name = :key_name",
    "alias": "alias = :alias",
    "provider": "provider = :provider",
    "model": "model = :model",
    "status": "status = :status",
    "api_style": "api_style = :api_style",
    "request_id": "request_id = :request_id",
}
_BOOLEANS = ("streamed", "fast_path", "estimated")


class SQLiteUsageStore:
    def __init__(self, path: str, ensure_schema: Callable[[], None]):
        """`ensure_schema()` migrates the file when no migration has worked yet (a database that
        was unavailable at start): the writer's batches then create it."""
        self.path = path
        self.ensure_schema = ensure_schema
        self._writer = KeptConnection(path)

    def write_batch(self, rows: list[dict]) -> None:
        """Insert rows (dicts of row.COLUMNS) in one transaction; a row whose record_key is stored
        already is skipped, so writing the same rows again is harmless."""
        self.ensure_schema()
        values = [{c: row.get(c) for c in COLUMNS} for row in rows]
        with self._writer.using() as conn, write(conn):
            before = conn.execute("SELECT IFNULL(MAX(id), 0) FROM usage").fetchone()[0]
            if conn.executemany(_INSERT, values).rowcount > 0:  # we hold the write lock: ids above `before` are ours
                rollup.fold(conn, "id > :before", {"before": before})

    def close(self) -> None:
        self._writer.close()

    def query(self, filters: Filters, limit: int, offset: int) -> tuple[list[dict], int]:
        """(records newest first, how many match in all)."""
        where, params = _where(filters)
        with connect(self.path) as conn:
            conn.row_factory = sqlite3.Row
            rows = conn.execute(
                f"SELECT * FROM usage WHERE {where} ORDER BY time DESC, id DESC LIMIT :limit OFFSET :offset",
                {**params, "limit": limit, "offset": offset},
            ).fetchall()
            total = conn.execute(f"SELECT COUNT(*) FROM usage WHERE {where}", params).fetchone()[0]
        return [_record(r) for r in rows], total

    def record(self, record_id: int) -> dict | None:
        """One record by id, decoded as query() does, or None."""
        with connect(self.path) as conn:
            conn.row_factory = sqlite3.Row
            row = conn.execute("SELECT * FROM usage WHERE id = ?", (record_id,)).fetchone()
        return _record(row) if row else None

    def key_activity(self) -> dict[str, tuple[int, float]]:
        """{client key name: (requests recorded, time of the last one)}, from the rollups and one
        (key_name, time) index lookup per key."""
        with connect(self.path) as conn:
            counts = conn.execute(
                "SELECT value, SUM(requests) FROM usage_rollup WHERE dim = 'key' AND value != '' GROUP BY value"
            ).fetchall()
            last = "SELECT MAX(time) FROM usage WHERE key_name = ?"
            return {name: (n, conn.execute(last, (name,)).fetchone()[0]) for name, n in counts}

    def summary(self, window: Window, group_by: str) -> list[tuple]:
        """Rows of (slot, group value or '', *rollup.TOTALS, *rollup.HISTOGRAMS) over the window's
        slots. Whole hours come from the rollups; finer slots from the rows themselves."""
        params = {"start": window.start, "end": window.end, "step": window.step, "dim": group_by}
        if window.step % rollup.HOUR == 0 and window.start % rollup.HOUR == 0:
            sql = f"""SELECT CAST((bucket - :start) / :step AS INTEGER) AS slot, value, {rollup.OF_ROLLUPS}
                FROM usage_rollup WHERE dim = :dim AND bucket >= :start AND bucket < :end GROUP BY slot, value"""
        else:
            column = rollup.DIMENSIONS[group_by]
            sql = f"""SELECT CAST((time - :start) / :step AS INTEGER) AS slot, COALESCE({column}, '') AS value,
                {rollup.OF_ROWS} FROM usage WHERE time >= :start AND time < :end GROUP BY slot, value"""
        with connect(self.path) as conn:
            return conn.execute(sql, params).fetchall()

    def delete(self, filters: Filters) -> int:
        """Delete the matching rows; returns how many. One short transaction per hour touched (rows
        and that hour's rollups together), so other workers' writes never wait long."""
        where, params = _where(filters)
        deleted = 0
        with connect(self.path) as conn:
            hours = conn.execute(
                f"SELECT DISTINCT CAST(time / 3600 AS INTEGER) * 3600 FROM usage WHERE {where}", params
            ).fetchall()
            for (hour,) in hours:
                with write(conn):
                    sql = f"DELETE FROM usage WHERE {where} AND {rollup.IN_HOUR}"
                    deleted += conn.execute(sql, {**params, "hour": hour}).rowcount
                    rollup.refold_hour(conn, hour)
                time.sleep(0)  # under gevent, let requests run between hours
        return deleted

    def prune(self, before: float) -> int:
        """Delete every row older than `before` (epoch seconds); returns how many."""
        return self.delete(Filters(until=before))


def _where(filters):
    """(SQL condition, named parameters) for Filters."""
    items = filters.items()
    where = " AND ".join(_CONDITIONS[name] for name, _ in items) or "1"
    return where, dict(items)


def _record(row):
    rec = dict(row)
    del rec["record_key"]
    for name in _BOOLEANS:
        rec[name] = bool(rec[name])
    rec["attempts"] = orjson.loads(rec["attempts"]) if rec["attempts"] else []
    rec["skipped"] = orjson.loads(rec["skipped"]) if rec.get("skipped") else []
    return rec
