"""Times the management API's usage queries on a store of 1,000,000 synthetic records: SQLite by
default, PostgreSQL with --database postgresql://... (an empty database, or one filled by an earlier
run, which is reused).

    .venv/bin/python bench/usage_queries.py [--rows N] [--keep PATH] [--database URL]

Fills a temporary database through the store's own write path (batches of 5,000, rollups
included), then times each summary range and the first page of records through the Flask app
(JSON included), median of 5 runs. Also compares the summary's histogram percentiles with exact
ones. Target: every query under 300 ms.
"""

import argparse
import math
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import closing
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from plexus import create_app  # noqa: E402
from plexus.services import close_app  # noqa: E402
from plexus.storage import open_storage  # noqa: E402
from plexus.config import parse_config  # noqa: E402
from plexus.usage import histogram  # noqa: E402
from plexus.usage.params import Filters  # noqa: E402

ADMIN = "bench-admin-key-0001"
DAYS = 30
KEYS = [f"app-{i}" for i in range(10)]
ALIASES = {  # alias -> [(provider, model, price in, price out)], two targets each
    f"alias-{i}": [
        (f"provider-{i % 4}", f"model-{i}", 0.5 + i, 2.0 + 3 * i),
        (f"provider-{(i + 1) % 4}", f"model-{i}b", 1.0, 4.0),
    ]
    for i in range(12)
}
RECORD_QUERIES = ("", "&alias=alias-3", "&key=app-7&alias=alias-3", "&status=500", "&status=cancelled",
                  "&api_style=gemini", "&offset=10000")
STYLES = ["chat", "chat", "chat", "messages", "responses", "gemini"]
CONFIG = f"admin_key: {ADMIN}\n"


def synthetic_rows(n, now):
    rng = random.Random(5)
    start = now - DAYS * 86400
    for i in range(n):
        alias = rng.choice(list(ALIASES))
        provider, model, p_in, p_out = rng.choice(ALIASES[alias])
        status = rng.choices([200, 429, 500, 502, "cancelled"], [95, 1.5, 1, 0.5, 2])[0]
        ok = status == 200 or status == "cancelled"
        tokens_in, tokens_out = (int(rng.lognormvariate(6.5, 1)), int(rng.lognormvariate(5, 1))) if ok else (0, 0)
        duration = rng.lognormvariate(7.5, 0.9)
        ttft = duration * rng.uniform(0.05, 0.4) if ok else None
        priced = rng.random() < 0.9
        yield {
            "record_key": uuid.UUID(int=rng.getrandbits(128)).hex,
            "time": start + (i + rng.random()) * DAYS * 86400 / n,
            "request_id": uuid.UUID(int=rng.getrandbits(128)).hex,
            "key_name": rng.choice(KEYS),
            "source_ip": "10.0.0.%d" % rng.randint(1, 50),
            "api_style": rng.choice(STYLES),
            "alias": alias,
            "provider": provider,
            "model": model,
            "provider_type": "chat",
            "streamed": rng.random() < 0.7,
            "fast_path": True,
            "attempts": f'[{{"provider":"{provider}","model":"{model}"}}]',
            "status": status,
            "error": None if ok else "upstream says no",
            "finish_reason": "stop" if status == 200 else None,
            "input_tokens": tokens_in,
            "output_tokens": tokens_out,
            "cached_tokens": 0,
            "cache_write_tokens": 0,
            "reasoning_tokens": 0,
            "estimated": False,
            "cost": (tokens_in * p_in + tokens_out * p_out) / 1e6 if priced else None,
            "duration_ms": duration,
            "ttft_ms": ttft,
            "upstream_ms": duration * 0.98,
            "overhead_ms": duration * 0.02,
            "tokens_per_second": tokens_out / (duration / 1000) if tokens_out else None,
        }


def fill(store, n, now):
    batch, started = [], time.perf_counter()
    for row in synthetic_rows(n, now):
        batch.append(row)
        if len(batch) == 5000:
            store.write_batch(batch)
            batch = []
    if batch:
        store.write_batch(batch)
    return time.perf_counter() - started


def timed(client, url, runs=5):
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        resp = client.get(url, headers={"x-admin-key": ADMIN})
        times.append((time.perf_counter() - started) * 1000)
        assert resp.status_code == 200, resp.get_data(as_text=True)
    return statistics.median(times), resp.json


def exact_percentiles(store, since):
    if hasattr(store, "db"):  # PostgreSQL
        with store.db.connection() as conn:
            values = sorted(v for (v,) in conn.execute("SELECT duration_ms FROM usage WHERE time >= %s", (since,)))
    else:
        with closing(sqlite3.connect(store.path)) as conn:
            values = sorted(v for (v,) in conn.execute("SELECT duration_ms FROM usage WHERE time >= ?", (since,)))
    return {q: values[max(0, math.ceil(q * len(values)) - 1)] for q in (0.5, 0.95)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", help="database path to fill (or reuse if it has rows) instead of a temp one")
    parser.add_argument("--database", help="a postgresql:// database to fill (or reuse) instead of SQLite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("PLEXUS_SPOOL_DIR", tmp)  # a PostgreSQL store's local fallback spool
        db = args.database or args.keep or str(Path(tmp) / "usage.db")
        storage = open_storage(db)
        store = storage.usage
        now = time.time()
        if store.query(Filters(), 1, 0)[1] == 0:
            seconds = fill(store, args.rows, now)
            print(f"filled {args.rows:,} rows in {seconds:.1f} s ({args.rows / seconds:,.0f} rows/s through write_batch)")
        print(f"database: {database_size(storage, db) / 1e6:.0f} MB (rows, indexes, rollups{'' if args.database else ', WAL'})\n")

        config_path = Path(tmp) / "plexus.yaml"
        config_path.write_text(CONFIG)
        app = create_app(str(config_path), config=parse_config(CONFIG, str(config_path)), watch=False, DATABASE=db)
        client = app.test_client()

        results = []
        for range_name in ("hour", "day", "week", "month"):
            for group_by in ("alias", "key"):
                ms, body = timed(client, f"/v0/management/usage/summary?range={range_name}&group_by={group_by}")
                note = f"{body['totals']['requests']:,} requests"
                results.append((f"summary range={range_name} group_by={group_by}", ms, note))
        for query in RECORD_QUERIES:
            ms, body = timed(client, f"/v0/management/usage?limit=50{query}")
            results.append((f"records first page limit=50{query}", ms, f"total {body['total']:,}"))
        width = max(len(r[0]) for r in results)
        for name, ms, note in results:
            flag = "" if ms < 300 else "  <-- over 300 ms"
            print(f"{name:<{width}}  {ms:7.1f} ms  ({note}){flag}")

        print()
        _, month = timed(client, "/v0/management/usage/summary?range=month&group_by=alias", runs=1)
        exact = exact_percentiles(store, time.time() - 31 * 86400)
        for q, key in ((0.5, "duration_ms_p50"), (0.95, "duration_ms_p95")):
            approx = month["totals"][key]
            error = (approx / exact[q] - 1) * 100
            print(f"month {key}: histogram {approx:.1f} ms, exact {exact[q]:.1f} ms ({error:+.1f}%)")
        print(f"(histograms: {histogram.BINS_PER_OCTAVE} log bins per octave, so within about ±6%)")
        close_app(app)
        storage.close()


def database_size(storage, db):
    if hasattr(storage, "db"):
        with storage.db.connection() as conn:
            return conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    return sum(p.stat().st_size for p in Path(db).parent.glob(Path(db).name + "*"))


if __name__ == "__main__":
    main()
