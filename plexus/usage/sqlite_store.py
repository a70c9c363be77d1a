"""Usage rows in one SQLite file, shared safely by every worker process: WAL (readers never wait for
the writer), a busy timeout, short write transactions. Each call opens and closes its own
connection, so the store can be used from any thread or greenlet.

The methods here are the whole store interface (see store.py); callers never see SQL.
"""

import logging
import os
import sqlite3
import time
from contextlib import closing, contextmanager

import orjson

from . import histogram, rollup, schema
from .params import Filters
from .row import COLUMNS

log = logging.getLogger("plexus.usage")

BUSY_TIMEOUT_S = 5.0

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


class SQLiteStore:
    def __init__(self, path):
        self.path = path
        self._ready = False

    def migrate(self):
        """Create the file and schema, or bring an older schema up to date (rows kept)."""
        folder = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(folder, exist_ok=True)
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")  # stored in the file: once is enough
            with _write(conn):
                found = schema.migrate(conn)
        if found < len(schema.MIGRATIONS):
            log.info("usage database %s: schema version %d -> %d", self.path, found, len(schema.MIGRATIONS))
        self._ready = True

    def write_batch(self, rows):
        """Insert rows (dicts of row.COLUMNS) in one transaction; a row whose record_key is stored
        already is skipped, so writing the same rows again is harmless."""
        if not self._ready:
            self.migrate()
        with self._connect() as conn, _write(conn):
            first = None
            for row in rows:
                cur = conn.execute(_INSERT, {c: row.get(c) for c in COLUMNS})
                if cur.rowcount and first is None:
                    first = cur.lastrowid
            if first is not None:  # we hold the write lock: every id from `first` on is ours
                rollup.fold(conn, "id >= :first", {"first": first})

    def query(self, filters, limit, offset):
        """(records newest first, how many match in all)."""
        where, params = _where(filters)
        with self._connect() as conn:
            conn.row_factory = sqlite3.Row
            rows = conn.execute(
                f"SELECT * FROM usage WHERE {where} ORDER BY time DESC, id DESC LIMIT :limit OFFSET :offset",
                {**params, "limit": limit, "offset": offset},
            ).fetchall()
            total = conn.execute(f"SELECT COUNT(*) FROM usage WHERE {where}", params).fetchone()[0]
        return [_record(r) for r in rows], total

    def record(self, record_id):
        """One record by id, decoded as query() does, or None."""
        with self._connect() as conn:
            conn.row_factory = sqlite3.Row
            row = conn.execute("SELECT * FROM usage WHERE id = ?", (record_id,)).fetchone()
        return _record(row) if row else None

    def key_activity(self):
        """{client key name: (requests recorded, time of the last one)}, from the rollups and one
        (key_name, time) index lookup per key."""
        with self._connect() as conn:
            counts = conn.execute(
                "SELECT value, SUM(requests) FROM usage_rollup WHERE dim = 'key' AND value != '' GROUP BY value"
            ).fetchall()
            last = "SELECT MAX(time) FROM usage WHERE key_name = ?"
            return {name: (n, conn.execute(last, (name,)).fetchone()[0]) for name, n in counts}

    def summary(self, window, group_by):
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
        with self._connect() as conn:
            return conn.execute(sql, params).fetchall()

    def delete(self, filters):
        """Delete the matching rows; returns how many. One short transaction per hour touched (rows
        and that hour's rollups together), so other workers' writes never wait long."""
        where, params = _where(filters)
        deleted = 0
        with self._connect() as conn:
            hours = conn.execute(
                f"SELECT DISTINCT CAST(time / 3600 AS INTEGER) * 3600 FROM usage WHERE {where}", params
            ).fetchall()
            for (hour,) in hours:
                with _write(conn):
                    sql = f"DELETE FROM usage WHERE {where} AND {rollup.IN_HOUR}"
                    deleted += conn.execute(sql, {**params, "hour": hour}).rowcount
                    rollup.refold_hour(conn, hour)
                time.sleep(0)  # under gevent, let requests run between hours
        return deleted

    def prune(self, before):
        """Delete every row older than `before` (epoch seconds); returns how many."""
        return self.delete(Filters(until=before))

    @contextmanager
    def _connect(self):
        with closing(sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)) as conn:
            histogram.register(conn)
            yield conn


@contextmanager
def _write(conn):
    """A write transaction, taken up front so it never has to upgrade a read lock (which can fail
    with SQLITE_BUSY regardless of the busy timeout)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


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
    return rec
