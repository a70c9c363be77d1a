"""The SQLite schema of every table Plexus keeps (usage and its rollups, stored responses,
cooldowns, the capture switch and captures, the install's shared secrets) and its migrations: named steps, applied once each, in
list order, all together on start. The names applied are recorded in `schema_migrations`, so
branches can add steps side by side without fighting over a number. A step may add or rebuild
structure but must keep every row; new steps go at the end, and a step already released is never
edited or renamed.

Databases made before the names (usage schema versions 1-4 in `schema_version`) are adopted: the
first N usage steps count as applied, and the tables the other stores created themselves (with `IF
NOT EXISTS`) are created here the same way. `schema_version` is left as it was.

Steps run while a worker boots, inside gunicorn's `timeout` (30 s): one that must rewrite millions
of rows should do it in the background, not here."""

import sqlite3

from ..steps import Migration, applied, apply_missing
from . import rollup

__all__ = ["MIGRATIONS", "USAGE_VERSIONS", "Migration", "applied", "migrate"]


USAGE_TABLE = """CREATE TABLE usage (
    id INTEGER PRIMARY KEY,
    time REAL NOT NULL,                -- when the request arrived, epoch seconds
    request_id TEXT NOT NULL,
    key_name TEXT, source_ip TEXT, api_style TEXT,
    alias TEXT, provider TEXT, model TEXT, provider_type TEXT,
    streamed INTEGER, fast_path INTEGER,
    attempts TEXT,                     -- JSON list
    status INTEGER,                    -- the HTTP status, or the text 'cancelled'
    error TEXT, finish_reason TEXT,
    input_tokens INTEGER,              -- cached and cache-write tokens excluded
    output_tokens INTEGER,             -- reasoning tokens included
    cached_tokens INTEGER, cache_write_tokens INTEGER, reasoning_tokens INTEGER,
    estimated INTEGER,
    cost REAL, cost_input REAL, cost_output REAL, cost_cached REAL, cost_cache_write REAL,  -- USD; NULL: unpriced
    duration_ms REAL, ttft_ms REAL, upstream_ms REAL, overhead_ms REAL, tokens_per_second REAL
)"""

ROLLUP_TABLE = """CREATE TABLE usage_rollup (
    dim TEXT NOT NULL,                 -- alias | provider | key | model
    bucket INTEGER NOT NULL,           -- the hour, epoch seconds
    value TEXT NOT NULL,               -- '' when the row had none
    requests INTEGER NOT NULL, errors INTEGER NOT NULL, cancelled INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL, cached_tokens INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL, reasoning_tokens INTEGER NOT NULL,
    cost REAL NOT NULL, priced INTEGER NOT NULL,
    duration_hist BLOB NOT NULL, ttft_hist BLOB NOT NULL,
    PRIMARY KEY (dim, bucket, value)
) WITHOUT ROWID"""

RESPONSES_TABLE = """
CREATE TABLE IF NOT EXISTS responses (
    id TEXT PRIMARY KEY,
    key_name TEXT,
    created REAL NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS responses_created ON responses (created);
"""

COOLDOWNS_TABLE = """
CREATE TABLE IF NOT EXISTS cooldowns (
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    until REAL NOT NULL,
    failures INTEGER NOT NULL,
    reason TEXT,
    PRIMARY KEY (provider, model)
);
"""

CAPTURE_TABLES = """
CREATE TABLE IF NOT EXISTS capture_settings (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS captures (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time REAL NOT NULL,
    request_id TEXT,
    provider TEXT,
    alias TEXT,
    status TEXT,
    size INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS captures_request_id ON captures (request_id);
CREATE INDEX IF NOT EXISTS captures_time ON captures (time);
"""

AFFINITY_TABLE = """
CREATE TABLE affinity (
    session TEXT PRIMARY KEY,          -- a digest of (client key, alias, session id), never the id itself
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    expires REAL NOT NULL,
    written REAL NOT NULL
);
CREATE INDEX affinity_written ON affinity (written);
CREATE INDEX affinity_expires ON affinity (expires);
"""

TARGET_STATS_TABLE = """
CREATE TABLE target_stats (
    worker TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    in_flight INTEGER NOT NULL,
    ttft_ms REAL,
    published REAL NOT NULL,
    PRIMARY KEY (worker, provider, model)
);
"""

INSTALL_STATE_TABLE = """
CREATE TABLE IF NOT EXISTS install_state (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

# stored responses belong to a key's stable id, not its name (a new key may reuse a revoked one's)
RESPONSES_OWNER = """
ALTER TABLE responses ADD COLUMN owner TEXT;
CREATE INDEX responses_owner_unclaimed ON responses (key_name) WHERE owner IS NULL
"""


def _usage_table(conn):
    conn.execute(USAGE_TABLE)
    conn.execute("CREATE UNIQUE INDEX usage_request_id ON usage (request_id)")  # replays stay idempotent
    conn.execute("CREATE INDEX usage_time ON usage (time)")
    for column in ("key_name", "alias", "provider", "model"):
        conn.execute(f"CREATE INDEX usage_{column}_time ON usage ({column}, time)")


def _hourly_rollups(conn):
    conn.execute(ROLLUP_TABLE)
    rollup.fold(conn, "1", {})


def _filter_indexes(conn):
    """Errors, cancellations or one client style listed and counted without a full scan."""
    for column in ("status", "api_style"):
        conn.execute(f"CREATE INDEX usage_{column}_time ON usage ({column}, time)")


def _record_keys(conn):
    """request_id may be the client's own (x-request-id) and repeat, so replays are made idempotent
    by a key each row is given when it is made instead."""
    conn.execute("ALTER TABLE usage ADD COLUMN record_key TEXT")
    conn.execute("DROP INDEX usage_request_id")
    conn.execute("CREATE INDEX usage_request_id ON usage (request_id)")
    conn.execute("CREATE UNIQUE INDEX usage_record_key ON usage (record_key)")


def _script(sql):
    """A step of plain statements (executescript would commit the migration's transaction)."""

    def apply(conn):
        for statement in sql.split(";"):
            if statement.strip():
                conn.execute(statement)

    return apply


# usage schema version N (before named migrations) means the first N of these were applied
USAGE_VERSIONS = ("usage-table", "usage-hourly-rollups", "usage-filter-indexes", "usage-record-keys")

MIGRATIONS = [
    Migration("usage-table", _usage_table),
    Migration("usage-hourly-rollups", _hourly_rollups),
    Migration("usage-filter-indexes", _filter_indexes),
    Migration("usage-record-keys", _record_keys),
    Migration("responses-table", _script(RESPONSES_TABLE)),
    Migration("cooldowns-table", _script(COOLDOWNS_TABLE)),
    Migration("capture-tables", _script(CAPTURE_TABLES)),
    Migration("usage-price-source", _script("ALTER TABLE usage ADD COLUMN price_source TEXT")),
    Migration("usage-skipped-targets", _script("ALTER TABLE usage ADD COLUMN skipped TEXT")),
    Migration("affinity-table", _script(AFFINITY_TABLE)),
    Migration("target-stats-table", _script(TARGET_STATS_TABLE)),
    Migration("install-state-table", _script(INSTALL_STATE_TABLE)),
    Migration("responses-owner", _script(RESPONSES_OWNER)),
]


def migrate(conn: sqlite3.Connection, migrations: list[Migration] = MIGRATIONS) -> list[str]:
    """Apply the steps this database has not had yet, in list order. Call inside a write
    transaction, so that processes starting together apply each step once. Returns the names
    applied now."""
    conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied REAL NOT NULL)")
    return apply_missing(conn, migrations, applied(conn) or _adopt_usage_version(conn))


def _adopt_usage_version(conn):
    """The usage steps a database from before named migrations had, recorded by name."""
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").fetchone():
        return set()
    row = conn.execute("SELECT version FROM schema_version").fetchone()
    names = USAGE_VERSIONS[: row[0] if row else 0]
    conn.executemany("INSERT INTO schema_migrations (name, applied) VALUES (?, 0)", [(n,) for n in names])
    return set(names)
