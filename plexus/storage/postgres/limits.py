"""Per-key limit counters in PostgreSQL, for several machines on one database: each admitted
request is a row (key, when, tokens, lease), counted and inserted in one transaction under a
per-key advisory lock, so every worker of every machine together admits no more than the limit.
One round trip per admission (SQLite's single machine uses shared memory instead:
storage/shared_counters.py). Implements storage.base.KeyLimitStore."""

from ..base import END_OF_TIME, LimitCounts
from .connect import Database

_COUNTS = ("SELECT count(*) FILTER (WHERE admitted > %(since)s),"
           " coalesce(sum(tokens) FILTER (WHERE admitted > %(since)s), 0),"
           " count(*) FILTER (WHERE NOT ended AND lease_until >= %(now)s),"
           " min(admitted) FILTER (WHERE admitted > %(since)s)"
           " FROM key_limit_rows WHERE key_name = %(key)s")


class PostgresKeyLimitStore:
    def __init__(self, db: Database):
        self.db = db

    def admit(self, key_name: str, now: float, window_s: float, limits: tuple, tokens: int,
              lease_until: float) -> tuple[int | None, LimitCounts]:
        rpm, tpm, concurrent = limits
        with self.db.transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('plexus-key-limits'), hashtext(%s))", (key_name,))
            conn.execute("DELETE FROM key_limit_rows WHERE key_name = %s AND admitted <= %s AND (ended OR lease_until < %s)",
                         (key_name, now - window_s, now))
            counts = _counts(conn, key_name, now, window_s)
            if ((rpm is not None and counts.requests >= rpm)
                    or (concurrent is not None and counts.in_flight >= concurrent)
                    or (tpm is not None and counts.tokens and counts.tokens + tokens > tpm)):
                return None, counts
            lease = conn.execute("INSERT INTO key_limit_rows (key_name, admitted, tokens, lease_until, ended) "
                                 "VALUES (%s, %s, %s, %s, false) RETURNING id", (key_name, now, tokens, lease_until)).fetchone()[0]
            return lease, counts

    def finish(self, lease: int, tokens: int | None) -> None:
        with self.db.connection() as conn:
            conn.execute("UPDATE key_limit_rows SET ended = true, tokens = coalesce(%s, tokens) WHERE id = %s", (tokens, lease))

    def renew(self, leases: list, until: float, forget_before: float) -> None:
        with self.db.transaction() as conn:
            if leases:
                conn.execute("UPDATE key_limit_rows SET lease_until = %s WHERE id = ANY(%s) AND NOT ended", (until, list(leases)))
            conn.execute("DELETE FROM key_limit_rows WHERE admitted < %s AND (ended OR lease_until < %s)",
                         (forget_before, forget_before))

    def counts(self, key_name: str, now: float, window_s: float) -> LimitCounts:
        with self.db.connection() as conn:
            return _counts(conn, key_name, now, window_s)

    def spent(self, key_name: str, since: float | None, until: float | None = None) -> tuple[float, int]:
        with self.db.connection() as conn:
            row = conn.execute("SELECT coalesce(sum(cost), 0), coalesce(sum(requests - priced), 0) FROM usage_rollup"
                               " WHERE dim = 'key' AND value = %s AND bucket >= %s AND bucket < %s",
                               (key_name, since or 0, until if until is not None else END_OF_TIME)).fetchone()
        return float(row[0]), int(row[1])

    def close(self) -> None:
        pass  # the pool is the storage's


def _counts(conn, key_name: str, now: float, window_s: float) -> LimitCounts:
    requests, tokens, in_flight, oldest = conn.execute(
        _COUNTS, {"since": now - window_s, "now": now, "key": key_name}).fetchone()
    return LimitCounts(int(requests), int(tokens), int(in_flight), oldest)
