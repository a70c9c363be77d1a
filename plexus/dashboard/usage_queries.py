"""The two usage reads the dashboard needs that the store's interface (query, summary) does not
offer yet: one record by id, and each client key's request count and last use. Read-only, on the
store's SQLite file; both use indexes (the primary key; the hourly rollups and `usage_key_name_time`)
so they stay fast on millions of rows. Candidates to move into the store interface."""

import os
import sqlite3
from contextlib import closing
from urllib.parse import quote

import orjson

BOOLEANS = ("streamed", "fast_path", "estimated")


def _connect(store):
    conn = sqlite3.connect(f"file:{quote(os.path.abspath(store.path))}?mode=ro", uri=True, timeout=5)
    conn.row_factory = sqlite3.Row
    return closing(conn)


def record(store, record_id):
    """The stored record with this id (booleans and attempts decoded), or None."""
    try:
        with _connect(store) as conn:
            row = conn.execute("SELECT * FROM usage WHERE id = ?", (record_id,)).fetchone()
    except sqlite3.OperationalError:  # no database (yet)
        return None
    if row is None:
        return None
    rec = dict(row)
    for name in BOOLEANS:
        rec[name] = bool(rec[name]) if rec[name] is not None else None
    rec["attempts"] = orjson.loads(rec["attempts"]) if rec["attempts"] else []
    return rec


def key_activity(store):
    """{key name: (requests ever recorded, last request time)} from the hourly rollups and the
    (key_name, time) index."""
    try:
        with _connect(store) as conn:
            counts = conn.execute(
                "SELECT value, SUM(requests) FROM usage_rollup WHERE dim = 'key' AND value != '' GROUP BY value"
            ).fetchall()
            out = {}
            for name, requests in counts:
                last = conn.execute("SELECT MAX(time) FROM usage WHERE key_name = ?", (name,)).fetchone()[0]
                out[name] = (requests, last)
            return out
    except sqlite3.OperationalError:
        return {}
