"""Hourly rollups: per hour and per value of each dimension (alias, provider, key, model), the
request and token totals, the cost and the latency histograms of the usage rows. Summaries over days
and months read these instead of millions of rows.

Rollups are kept in step with the rows inside the same transaction: a written batch is folded in, a
delete refolds each hour it touched. Needs the histogram functions that connect() registers.
"""

import sqlite3

from ...usage.params import DIMENSIONS
from ..base import ROLLUP_HISTOGRAMS, ROLLUP_TOTALS

HOUR = 3600

TOTALS, HISTOGRAMS = ROLLUP_TOTALS, ROLLUP_HISTOGRAMS

# Aggregates over usage rows and over rollups, both in the order TOTALS + HISTOGRAMS.
# `priced` counts rows with a known cost, so an all-unpriced total reads as unknown, not as 0.
OF_ROWS = """COUNT(*), COUNT(CASE WHEN typeof(status) = 'integer' AND status >= 400 THEN 1 END),
    COUNT(CASE WHEN status = 'cancelled' THEN 1 END), IFNULL(SUM(input_tokens), 0),
    IFNULL(SUM(output_tokens), 0), IFNULL(SUM(cached_tokens), 0), IFNULL(SUM(cache_write_tokens), 0),
    IFNULL(SUM(reasoning_tokens), 0), TOTAL(cost), COUNT(cost), hist_of(duration_ms), hist_of(ttft_ms)"""
OF_ROLLUPS = """SUM(requests), SUM(errors), SUM(cancelled), SUM(input_tokens), SUM(output_tokens),
    SUM(cached_tokens), SUM(cache_write_tokens), SUM(reasoning_tokens), TOTAL(cost), SUM(priced),
    hist_sum(duration_hist), hist_sum(ttft_hist)"""

# The hour a row belongs to, written so the time index narrows it and the rounding decides it.
IN_HOUR = "time >= :hour - 1 AND time < :hour + 3601 AND CAST(time / 3600 AS INTEGER) * 3600 = :hour"

_COLUMNS = ", ".join(("dim", "bucket", "value") + TOTALS + HISTOGRAMS)
_MERGE = ", ".join(
    [f"{t} = {t} + excluded.{t}" for t in TOTALS] + [f"{h} = hist_add({h}, excluded.{h})" for h in HISTOGRAMS]
)
_FOLD = {
    dim: f"""INSERT INTO usage_rollup ({_COLUMNS})
        SELECT '{dim}', CAST(time / 3600 AS INTEGER) * 3600, COALESCE({column}, ''), {OF_ROWS}
        FROM usage WHERE {{where}} GROUP BY 2, 3
        ON CONFLICT (dim, bucket, value) DO UPDATE SET {_MERGE}"""
    for dim, column in DIMENSIONS.items()
}


def fold(conn: sqlite3.Connection, where: str, params: dict) -> None:
    """Add the usage rows matching `where` (named parameters) to the rollups."""
    for sql in _FOLD.values():
        conn.execute(sql.format(where=where), params)


def refold_hour(conn: sqlite3.Connection, hour: int) -> None:
    """Rebuild the rollups of one hour (epoch seconds) from its rows, after some were deleted."""
    conn.execute("DELETE FROM usage_rollup WHERE bucket = ?", (hour,))
    fold(conn, IN_HOUR, {"hour": hour})
