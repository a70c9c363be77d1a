"""The SQLite schema and its migrations: an ordered list of steps, applied once each, in order, on
start. Version N means MIGRATIONS[:N] have run. A step may add or rebuild structure but must keep
every row; new steps only ever go at the end, and a step already released is never edited.

Steps run while a worker boots, inside gunicorn's `timeout` (30 s): one that must rewrite millions
of rows should do it in the background, not here."""

from . import rollup

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


MIGRATIONS = [_usage_table, _hourly_rollups, _filter_indexes, _record_keys]


def migrate(conn, migrations=MIGRATIONS):
    """Apply the steps this database has not had yet. Call inside a write transaction, so that
    processes starting together apply each step once. Returns the version it found."""
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = conn.execute("SELECT version FROM schema_version").fetchone()
    if row is None:
        conn.execute("INSERT INTO schema_version VALUES (0)")
    found = row[0] if row else 0
    for version, step in enumerate(migrations[found:], found + 1):
        step(conn)
        conn.execute("UPDATE schema_version SET version = ?", (version,))
    return found
