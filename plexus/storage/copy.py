"""`python -m plexus migrate-usage sqlite:///old.db postgresql://...`: copies an existing SQLite
store's usage records and stored responses into PostgreSQL, in chunks, each its own transaction.

Resumable: every usage row has a record key (rows from before record keys get one made of their
SQLite id and request id) and every response its id, and the target skips those it has, so a copy
cut short is simply run again; the rollups count each row once. Prints its progress and, at the
end, how many were read, copied and already there."""

import argparse
import os
import sqlite3
import sys
from contextlib import closing

from ..usage.params import Filters
from . import is_postgres, open_storage, sqlite_path

CHUNK = 5000


def main(argv, out=None, err=None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    parser = argparse.ArgumentParser(prog="python -m plexus migrate-usage",
                                     description="Copy a SQLite store's usage records and stored responses into PostgreSQL.")
    parser.add_argument("source", help="the SQLite store: a path or sqlite:///path")
    parser.add_argument("target", help="the PostgreSQL database: postgresql://user:pass@host:5432/dbname")
    parser.add_argument("--chunk", type=int, default=CHUNK, help=f"rows per transaction (default {CHUNK})")
    args = parser.parse_args(argv)
    if is_postgres(args.source) or not is_postgres(args.target):
        print("plexus: migrate-usage copies a SQLite store (a path or sqlite:///) into a postgresql:// one", file=err)
        return 2
    path = sqlite_path(args.source)
    if not os.path.isfile(path):
        print(f"plexus: {path}: no such SQLite file", file=err)
        return 2
    source, target = open_storage(path), open_storage(args.target)
    try:
        target.migrate()  # raises here, with its reason, when the target cannot be used
        usage = copy_usage(path, target, args.chunk, out)
        responses = copy_responses(path, target, args.chunk)
    finally:
        source.close()
        target.close()
    print(f"usage records: {usage[0]} read, {usage[1]} copied, {usage[0] - usage[1]} already there", file=out)
    print(f"stored responses: {responses[0]} read, {responses[1]} copied, {responses[0] - responses[1]} already there",
          file=out)
    return 0


def copy_usage(path, target, chunk, out) -> tuple[int, int]:
    """(rows read, rows new in the target)."""
    before = _count(target)
    read, last = 0, 0
    with closing(sqlite3.connect(path)) as conn:
        conn.row_factory = sqlite3.Row
        while True:
            rows = conn.execute("SELECT * FROM usage WHERE id > ? ORDER BY id LIMIT ?", (last, chunk)).fetchall()
            if not rows:
                break
            last = rows[-1]["id"]
            target.usage.write_batch([_usage_row(r) for r in rows])
            read += len(rows)
            print(f"  usage records: {read} read", file=out, flush=True)
    return read, _count(target) - before


def copy_responses(path, target, chunk) -> tuple[int, int]:
    read = copied = 0
    with closing(sqlite3.connect(path)) as conn:
        cursor = conn.execute("SELECT id, key_name, owner, created, data FROM responses ORDER BY id")
        while rows := cursor.fetchmany(chunk):
            read += len(rows)
            copied += target.responses.copy_in([(i, k, o, c, d.encode() if isinstance(d, str) else d)
                                                for i, k, o, c, d in rows])
    return read, copied


def _usage_row(row):
    rec = dict(row)
    sqlite_id = rec.pop("id")
    if not rec.get("record_key"):
        rec["record_key"] = f"sqlite-{sqlite_id}-{rec.get('request_id')}"
    return rec


def _count(target):
    return target.usage.query(Filters(), 1, 0)[1]
