"""Usage rows and their hourly rollups in PostgreSQL, shared by every worker of every gateway
machine. Implements storage.base.UsageStore; callers never see SQL."""

import time

import orjson
from psycopg.rows import dict_row

from ...usage import histogram
from ...usage.params import DIMENSIONS, Filters
from ...usage.row import COLUMNS
from ...usage.summary import Window
from . import rollup
from .connect import Database

_INSERT = (
    f"INSERT INTO usage ({', '.join(COLUMNS)}) VALUES ({', '.join('%(' + c + ')s' for c in COLUMNS)})"
    " ON CONFLICT (record_key) DO NOTHING RETURNING record_key"
)
_CONDITIONS = {
    "since": "time >= %(since)s",
    "until": "time < %(until)s",
    "key_name": "key_name = %(key_name)s",
    "alias": "alias = %(alias)s",
    "provider": "provider = %(provider)s",
    "model": "model = %(model)s",
    "status": "status = %(status)s",
    "api_style": "api_style = %(api_style)s",
    "request_id": "request_id = %(request_id)s",
}
_BOOLEANS = ("streamed", "fast_path", "estimated")
_IN_HOUR = "time >= %(hour)s - 1 AND time < %(hour)s + 3601 AND floor(time / 3600) * 3600 = %(hour)s"


class PostgresUsageStore:
    def __init__(self, db: Database):
        self.db = db

    def write_batch(self, rows: list[dict]) -> None:
        """Insert rows (dicts of row.COLUMNS) and add the new ones to the rollups, in one
        transaction; a row whose record_key is stored already is skipped (replays are harmless)."""
        params = [_params(row) for row in rows]
        with self.db.transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock_shared(%s)", (rollup.ROLLUP_LOCK,))
            with conn.cursor() as cur:
                cur.executemany(_INSERT, params, returning=True)
                inserted = set()
                while True:
                    inserted.update(key for (key,) in cur.fetchall())
                    if not cur.nextset():
                        break
                new = [p for p in params if p["record_key"] is None or _take(inserted, p["record_key"])]
                cells = rollup.rollup_rows(new)
                if cells:
                    cur.executemany(rollup.UPSERT, cells)

    def query(self, filters: Filters, limit: int, offset: int) -> tuple[list[dict], int]:
        where, params = _where(filters)
        with self.db.connection() as conn:
            with conn.cursor(row_factory=dict_row) as cur:
                rows = cur.execute(
                    f"SELECT * FROM usage WHERE {where} ORDER BY time DESC, id DESC LIMIT %(limit)s OFFSET %(offset)s",
                    {**params, "limit": limit, "offset": offset},
                ).fetchall()
            total = conn.execute(f"SELECT COUNT(*) FROM usage WHERE {where}", params).fetchone()[0]
        return [_record(r) for r in rows], total

    def record(self, record_id: int) -> dict | None:
        with self.db.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute("SELECT * FROM usage WHERE id = %s", (record_id,)).fetchone()
        return _record(row) if row else None

    def key_activity(self) -> dict[str, tuple[int, float]]:
        with self.db.connection() as conn:
            counts = conn.execute(
                "SELECT value, SUM(requests)::bigint FROM usage_rollup WHERE dim = 'key' AND value != '' GROUP BY value"
            ).fetchall()
            last = "SELECT MAX(time) FROM usage WHERE key_name = %s"
            return {name: (n, conn.execute(last, (name,)).fetchone()[0]) for name, n in counts}

    def summary(self, window: Window, group_by: str) -> list[tuple]:
        """Rows of (slot, group value or '', *rollup.TOTALS, *histogram blobs). Whole hours come
        from the rollups; finer slots are folded from the rows."""
        if window.step % rollup.HOUR == 0 and window.start % rollup.HOUR == 0:
            with self.db.connection() as conn:
                rows = conn.execute(f"""SELECT ((bucket - %(start)s) / %(step)s)::int, value, {rollup.ROLLUP_ROW}
                    FROM usage_rollup WHERE dim = %(dim)s AND bucket >= %(start)s AND bucket < %(end)s""",
                                    {"start": window.start, "end": window.end, "step": window.step, "dim": group_by},
                                    binary=True)  # bytea in binary: half the bytes, no hex decoding
                return rollup.fold_rollups(rows)
        column = DIMENSIONS[group_by]
        with self.db.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(
                f"SELECT {', '.join(rollup.ROW_COLUMNS)} FROM usage WHERE time >= %s AND time < %s",
                (window.start, window.end),
            ).fetchall()
        cells = rollup.fold(rows, lambda r: (int((r["time"] - window.start) // window.step), r[column] or ""))
        return [(*k, *acc[:10], _blob(acc[10]), _blob(acc[11])) for k, acc in cells.items()]

    def delete(self, filters: Filters) -> int:
        """Delete the matching rows; returns how many. One transaction per hour touched (its rows
        and its rollups refolded together)."""
        where, params = _where(filters)
        deleted = 0
        with self.db.connection() as conn:
            hours = conn.execute(
                f"SELECT DISTINCT (floor(time / 3600) * 3600)::bigint FROM usage WHERE {where}", params
            ).fetchall()
        for (hour,) in hours:
            with self.db.transaction() as conn:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (rollup.ROLLUP_LOCK,))
                deleted += conn.execute(f"DELETE FROM usage WHERE {where} AND {_IN_HOUR}",
                                        {**params, "hour": hour}).rowcount
                _refold_hour(conn, hour)
            time.sleep(0)  # under gevent, let requests run between hours
        return deleted

    def prune(self, before: float) -> int:
        return self.delete(Filters(until=before))


def _refold_hour(conn, hour):
    conn.execute("DELETE FROM usage_rollup WHERE bucket = %s", (hour,))
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(f"SELECT {', '.join(rollup.ROW_COLUMNS)} FROM usage WHERE {_IN_HOUR}", {"hour": hour}).fetchall()
        cells = rollup.rollup_rows(rows)
        if cells:
            cur.executemany(rollup.UPSERT, cells)


def _take(keys, key):
    """True the first time `key` is taken from `keys` (a batch may hold one row twice)."""
    if key in keys:
        keys.discard(key)
        return True
    return False


def _params(row):
    params = {c: row.get(c) for c in COLUMNS}
    if params["status"] is not None:
        params["status"] = str(params["status"])
    for name in _BOOLEANS:
        if params[name] is not None:
            params[name] = bool(params[name])
    return params


def _where(filters):
    items = filters.items()
    where = " AND ".join(_CONDITIONS[name] for name, _ in items) or "true"
    return where, {name: str(value) if name == "status" else value for name, value in items}


def _status(value):
    return int(value) if isinstance(value, str) and value.isdigit() else value


def _record(row):
    rec = dict(row)
    del rec["record_key"]
    for name in _BOOLEANS:
        rec[name] = bool(rec[name])
    rec["status"] = _status(rec["status"])
    rec["attempts"] = orjson.loads(rec["attempts"]) if rec["attempts"] else []
    rec["skipped"] = orjson.loads(rec["skipped"]) if rec.get("skipped") else []
    return rec


def _blob(hist):
    return histogram.to_blob(hist)
