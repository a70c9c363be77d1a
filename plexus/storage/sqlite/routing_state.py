"""What routing shares between workers: session affinity (which target a conversation sticks to)
and per-target load (requests in flight, recent time to first token). Each worker keeps its live
copy in memory (plexus/core/affinity.py, plexus/core/target_stats.py) and syncs through these in
the background. Implements storage.base.AffinityStore and TargetStatsStore."""

from .connect import connect


class SQLiteAffinityStore:
    def __init__(self, path: str):
        self.path = path

    def save(self, changes: dict, now: float) -> None:
        with connect(self.path) as conn:
            conn.executemany("INSERT OR REPLACE INTO affinity (session, provider, model, expires, written) "
                             "VALUES (?, ?, ?, ?, ?)", [(k, p, m, e, now) for k, (p, m, e) in changes.items()])
            conn.execute("DELETE FROM affinity WHERE expires < ?", (now,))

    def load(self, since: float, now: float) -> dict:
        with connect(self.path) as conn:
            rows = conn.execute("SELECT session, provider, model, expires FROM affinity WHERE written >= ? AND expires > ?",
                                (since, now)).fetchall()
        return {k: (p, m, e) for k, p, m, e in rows}


class SQLiteTargetStatsStore:
    def __init__(self, path: str):
        self.path = path

    def publish(self, worker: str, stats: dict, now: float) -> None:
        with connect(self.path) as conn:
            conn.execute("DELETE FROM target_stats WHERE worker = ?", (worker,))
            conn.executemany("INSERT INTO target_stats (worker, provider, model, in_flight, ttft_ms, published) "
                             "VALUES (?, ?, ?, ?, ?, ?)", [(worker, p, m, n, t, now) for (p, m), (n, t) in stats.items()])
            conn.execute("DELETE FROM target_stats WHERE published < ?", (now - 3600,))

    def load(self, fresh_after: float) -> dict:
        with connect(self.path) as conn:
            rows = conn.execute("SELECT worker, provider, model, in_flight, ttft_ms FROM target_stats WHERE published > ?",
                                (fresh_after,)).fetchall()
        out = {}
        for worker, p, m, n, t in rows:
            out.setdefault((p, m), []).append((worker, n, t))
        return out
