"""Latency histograms for p50/p95 over any number of requests (the SQL functions over them are in
plexus/storage/sqlite/connect.py).

A histogram is one Python int holding BINS counters of FIELD_BITS bits each, so merging two of them
is a single integer addition (fast enough to fold thousands of hourly rollups per query). Bins are
log-spaced, BINS_PER_OCTAVE per doubling from 1 ms, so a percentile read back from the histogram is
within about ±6% of the true value. Stored as little-endian bytes with the empty top bins trimmed.
"""

import math
import sys
from array import array

BINS = 128
FIELD_BITS = 32  # a bin counts up to 4 billion requests
BINS_PER_OCTAVE = 6  # bin 127 starts at 2**21 ms (35 minutes) and holds everything longer


def bin_of(ms):
    if ms < 1:
        return 0
    return min(BINS - 1, 1 + int(math.log2(ms) * BINS_PER_OCTAVE))


def with_value(hist, ms):
    return hist if ms is None else hist + (1 << (FIELD_BITS * bin_of(ms)))


def to_blob(hist):
    return hist.to_bytes((hist.bit_length() + 7) // 8, "little")


def from_blob(blob):
    return int.from_bytes(blob, "little") if blob else 0


def counts(hist):
    """The BINS counters (array "I" is 32-bit wherever CPython runs)."""
    bins = array("I", hist.to_bytes(BINS * FIELD_BITS // 8, "little"))
    if sys.byteorder == "big":
        bins.byteswap()
    return bins


def percentile(hist, q):
    """The q-quantile (nearest rank) in ms, as the geometric middle of its bin; None when empty."""
    if not hist:
        return None
    bins = counts(hist)
    rank = max(1, math.ceil(q * sum(bins)))
    seen = 0
    for i, n in enumerate(bins):
        seen += n
        if seen >= rank:
            return _representative(i)


def _representative(i):
    if i == 0:
        return 0.5
    if i == BINS - 1:
        return 2 ** ((i - 1) / BINS_PER_OCTAVE)
    return round(2 ** ((i - 0.5) / BINS_PER_OCTAVE), 1)


def hist_add(a, b):
    """Two stored histograms merged, stored."""
    return to_blob(from_blob(a) + from_blob(b))
