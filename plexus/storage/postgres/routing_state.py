"""What routing shares between workers and machines in PostgreSQL: session affinity and per-target
load (plexus/core/affinity.py, plexus/core/target_stats.py keep the live copies in memory and sync
through these in the background). Implements storage.base.AffinityStore and TargetStatsStore."""

from .connect import Database


class PostgresAffinityStore:
    def __init__(self, db: Database):
        self.db = db

    def save(self, changes: dict, now: float) -> None:
        with self.db.transaction() as conn:
            for session, (provider, model, expires) in sorted(changes.items()):
                conn.execute("INSERT INTO affinity (session, provider, model, expires, written) VALUES (%s, %s, %s, %s, %s) "
                             "ON CONFLICT (session) DO UPDATE SET provider = excluded.provider, model = excluded.model, "
                             "expires = excluded.expires, written = excluded.written",
                             (session, provider, model, expires, now))
            conn.execute("DELETE FROM affinity WHERE expires < %s", (now,))

    def load(self, since: float, now: float) -> dict:
        with self.db.connection() as conn:
            rows = conn.execute("SELECT session, provider, model, expires FROM affinity WHERE written >= %s AND expires > %s",
                                (since, now)).fetchall()
        return {k: (p, m, e) for k, p, m, e in rows}


class PostgresTargetStatsStore:
    def __init__(self, db: Database):
        self.db = db

    def publish(self, worker: str, stats: dict, now: float) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM target_stats WHERE worker = %s", (worker,))
            for (provider, model), (in_flight, ttft) in sorted(stats.items()):
                conn.execute("INSERT INTO target_stats (worker, provider, model, in_flight, ttft_ms, published) "
                             "VALUES (%s, %s, %s, %s, %s, %s)", (worker, provider, model, in_flight, ttft, now))
            conn.execute("DELETE FROM target_stats WHERE published < %s", (now - 3600,))

    def load(self, fresh_after: float) -> dict:
        with self.db.connection() as conn:
            rows = conn.execute("SELECT worker, provider, model, in_flight, ttft_ms FROM target_stats WHERE published > %s",
                                (fresh_after,)).fetchall()
        out = {}
        for worker, p, m, n, t in rows:
            out.setdefault((p, m), []).append((worker, n, t))
        return out
