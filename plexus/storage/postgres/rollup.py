"""Hourly rollups in PostgreSQL (the same totals as the SQLite backend's): per hour and per value
of each dimension, the request and token totals, the cost and the latency histograms of the usage
rows. The rows are folded in Python — the same code adds a written batch to the rollups and sums
the rows of a summary finer than an hour — and merged in SQL (`plexus_hist_add`), so writers on
several machines add to the same rollup rows without reading them first.

Writers hold the shared advisory lock ROLLUP_LOCK, a delete's refold the exclusive one: a refold
never misses a batch written meanwhile, and batches never wait for each other."""

import sys
from array import array

from ...usage import histogram
from ...usage.params import DIMENSIONS
from ..base import ROLLUP_HISTOGRAMS, ROLLUP_TOTALS

HOUR = 3600
ROLLUP_LOCK = 7041002

TOTALS, HISTOGRAMS = ROLLUP_TOTALS, ROLLUP_HISTOGRAMS
TOKENS = ("input_tokens", "output_tokens", "cached_tokens", "cache_write_tokens", "reasoning_tokens")
# what a fold reads of each row
ROW_COLUMNS = ("time", "status", *TOKENS, "cost", "duration_ms", "ttft_ms", *DIMENSIONS.values())

# a summary reads the rollup rows as they are and adds them up in Python (fold_rollups)
ROLLUP_ROW = ", ".join(TOTALS + ("duration_bytes", "ttft_bytes"))

_COLUMNS = ("time", "status", *TOKENS, "cost", "duration_ms", "ttft_ms", *DIMENSIONS.values())

OF_ROLLUPS = """SUM(requests)::bigint, SUM(errors)::bigint, SUM(cancelled)::bigint, SUM(input_tokens)::bigint,
    SUM(output_tokens)::bigint, SUM(cached_tokens)::bigint, SUM(cache_write_tokens)::bigint,
    SUM(reasoning_tokens)::bigint, COALESCE(SUM(cost), 0), SUM(priced)::bigint"""
# a histogram column's bins summed per slot and value, set-based: far faster than merging arrays row by row
BINS_OF_ROLLUPS = """SELECT slot, value, n, SUM(c)::bigint FROM (
    SELECT ((bucket - %(start)s) / %(step)s)::int AS slot, value, b.c, b.n
    FROM usage_rollup, unnest({hist}) WITH ORDINALITY AS b(c, n)
    WHERE dim = %(dim)s AND bucket >= %(start)s AND bucket < %(end)s AND b.c > 0) t
    GROUP BY slot, value, n"""

_COLUMNS = ("dim", "bucket", "value") + TOTALS + HISTOGRAMS
UPSERT = (
    f"INSERT INTO usage_rollup ({', '.join(_COLUMNS)}) VALUES ({', '.join(['%s'] * len(_COLUMNS))})"
    " ON CONFLICT (dim, bucket, value) DO UPDATE SET "
    + ", ".join([f"{t} = usage_rollup.{t} + excluded.{t}" for t in TOTALS]
                + [f"{h} = plexus_hist_add(usage_rollup.{h}, excluded.{h})" for h in HISTOGRAMS])
)


def fold(rows, key) -> dict:
    """{key(row): [*TOTALS, duration histogram, ttft histogram]} over `rows` (dicts with
    ROW_COLUMNS; histograms as plexus.usage.histogram ints). `key` may return None to skip a row."""
    out = {}
    for row in rows:
        k = key(row)
        if k is None:
            continue
        acc = out.get(k)
        if acc is None:
            acc = out[k] = [0, 0, 0, 0, 0, 0, 0, 0, 0.0, 0, 0, 0]
        status = row.get("status")
        acc[0] += 1
        if _is_error(status):
            acc[1] += 1
        elif status == "cancelled":
            acc[2] += 1
        for i, name in enumerate(TOKENS, 3):
            acc[i] += row.get(name) or 0
        cost = row.get("cost")
        if cost is not None:
            acc[8] += cost
            acc[9] += 1
        acc[10] = histogram.with_value(acc[10], row.get("duration_ms"))
        acc[11] = histogram.with_value(acc[11], row.get("ttft_ms"))
    return out


def rollup_rows(rows) -> list[tuple]:
    """The upsert parameters (in UPSERT's order) that add `rows` to the rollups, sorted by key so
    concurrent writers lock rollup rows in the same order (no deadlock)."""
    cells = {}
    for dim, column in DIMENSIONS.items():
        for (hour, value), acc in fold(rows, lambda r, c=column: (hour_of(r["time"]), r.get(c) or "")).items():
            cells[(dim, hour, value)] = acc
    return [(*k, *acc[:10], to_array(acc[10]), to_array(acc[11])) for k, acc in sorted(cells.items())]


def hour_of(t: float) -> int:
    return int(t // HOUR) * HOUR


def to_array(hist: int) -> list[int]:
    bins = histogram.counts(hist).tolist()
    while bins and not bins[-1]:
        bins.pop()
    return bins


def fold_rollups(rows) -> list[tuple]:
    """(slot, value, *TOTALS, duration blob, ttft blob) per slot and value, from rows of
    (slot, value, *TOTALS, duration_bytes, ttft_bytes)."""
    cells = {}
    for slot, value, *totals, duration, ttft in rows:
        acc = cells.get((slot, value))
        if acc is None:
            acc = cells[(slot, value)] = [0] * len(TOTALS) + [0, 0]
        for i, v in enumerate(totals):
            acc[i] += v
        acc[-2] += _from_words(duration)
        acc[-1] += _from_words(ttft)
    return [(*k, *acc[:-2], histogram.to_blob(acc[-2]), histogram.to_blob(acc[-1])) for k, acc in cells.items()]


def _from_words(data) -> int:
    """A histogram from plexus_hist_bytes (big-endian 32-bit bin counts)."""
    if not data:
        return 0
    words = array("I")
    words.frombytes(bytes(data))
    if sys.byteorder == "little":
        words.byteswap()
    return int.from_bytes(words.tobytes(), sys.byteorder)


def _is_error(status):
    if isinstance(status, int):
        return status >= 400
    return isinstance(status, str) and status.isdigit() and int(status) >= 400
