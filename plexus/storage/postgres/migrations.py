"""The PostgreSQL schema of every table Plexus keeps, as named steps applied once each, in list
order, recorded in `schema_migrations` (as the SQLite backend does: branches add steps side by side
by name). All of a start's steps run in ONE transaction holding `pg_advisory_xact_lock(LOCK_ID)`, so
gateways starting together on several machines apply each step once: the others wait, then find
nothing to do. PostgreSQL DDL is transactional, so a failing step leaves nothing behind; the lock
goes with the transaction, even when the process dies. New steps go at the end; a released step is
never edited or renamed; plain DDL only (no CREATE INDEX CONCURRENTLY inside a transaction)."""

import time
from collections.abc import Callable
from typing import NamedTuple

import psycopg

LOCK_ID = 7041001  # "plexus migrations"
LOCK_TIMEOUT = "60s"  # a start waits this long for another machine's migration, then fails loudly


class Migration(NamedTuple):
    name: str
    apply: Callable[[psycopg.Connection], None]


def _script(sql):
    def apply(conn):
        conn.execute(sql)

    return apply


USAGE_TABLE = """
CREATE TABLE usage (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    record_key text,
    time double precision NOT NULL,      -- when the request arrived, epoch seconds
    request_id text,
    key_name text, source_ip text, api_style text,
    alias text, provider text, model text, provider_type text,
    streamed boolean, fast_path boolean,
    attempts text,                       -- JSON list
    status text,                         -- the HTTP status, or 'cancelled'
    error text, finish_reason text,
    input_tokens bigint, output_tokens bigint, cached_tokens bigint, cache_write_tokens bigint,
    reasoning_tokens bigint,
    estimated boolean,
    cost double precision, cost_input double precision, cost_output double precision,
    cost_cached double precision, cost_cache_write double precision,
    duration_ms double precision, ttft_ms double precision, upstream_ms double precision,
    overhead_ms double precision, tokens_per_second double precision
);
CREATE UNIQUE INDEX usage_record_key ON usage (record_key);
CREATE INDEX usage_request_id ON usage (request_id);
CREATE INDEX usage_time ON usage (time);
CREATE INDEX usage_key_name_time ON usage (key_name, time);
CREATE INDEX usage_alias_time ON usage (alias, time);
CREATE INDEX usage_provider_time ON usage (provider, time);
CREATE INDEX usage_model_time ON usage (model, time);
CREATE INDEX usage_status_time ON usage (status, time);
CREATE INDEX usage_api_style_time ON usage (api_style, time);
"""

# Histograms (plexus/usage/histogram.py) are integer arrays of bin counts here, trimmed of empty top
# bins, so rollups merge in SQL: element-wise addition.
ROLLUPS = """
CREATE FUNCTION plexus_hist_add(a integer[], b integer[]) RETURNS integer[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT COALESCE(array_agg(COALESCE(x, 0) + COALESCE(y, 0) ORDER BY n), '{}')
          FROM unnest(a, b) WITH ORDINALITY AS t(x, y, n) $$;
CREATE TABLE usage_rollup (
    dim text NOT NULL,                   -- alias | provider | key | model
    bucket bigint NOT NULL,              -- the hour, epoch seconds
    value text NOT NULL,                 -- '' when the row had none
    requests bigint NOT NULL, errors bigint NOT NULL, cancelled bigint NOT NULL,
    input_tokens bigint NOT NULL, output_tokens bigint NOT NULL, cached_tokens bigint NOT NULL,
    cache_write_tokens bigint NOT NULL, reasoning_tokens bigint NOT NULL,
    cost double precision NOT NULL, priced bigint NOT NULL,
    duration_hist integer[] NOT NULL, ttft_hist integer[] NOT NULL,
    PRIMARY KEY (dim, bucket, value)
);
"""

RESPONSES_TABLE = """
CREATE TABLE responses (
    id text PRIMARY KEY,
    key_name text,
    created double precision NOT NULL,
    data bytea NOT NULL
);
CREATE INDEX responses_created ON responses (created);
"""

COOLDOWNS_TABLE = """
CREATE TABLE cooldowns (
    provider text NOT NULL,
    model text NOT NULL,
    until double precision NOT NULL,
    failures integer NOT NULL,
    reason text,
    PRIMARY KEY (provider, model)
);
"""

CAPTURE_TABLES = """
CREATE TABLE capture_settings (
    id integer PRIMARY KEY CHECK (id = 1),
    data text NOT NULL
);
CREATE TABLE captures (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time double precision NOT NULL,
    request_id text, provider text, alias text, status text,
    size integer NOT NULL,
    data text NOT NULL
);
CREATE INDEX captures_request_id ON captures (request_id);
CREATE INDEX captures_time ON captures (time);
"""

# The config file's text as last published by any gateway (plexus/storage/config_share.py).
SHARED_CONFIG_TABLE = """
CREATE TABLE shared_config (
    id integer PRIMARY KEY CHECK (id = 1),
    version bigint NOT NULL,
    text text NOT NULL,
    updated double precision NOT NULL,
    origin text
);
"""

MIGRATIONS = [
    Migration("usage-table", _script(USAGE_TABLE)),
    Migration("usage-hourly-rollups", _script(ROLLUPS)),
    Migration("responses-table", _script(RESPONSES_TABLE)),
    Migration("cooldowns-table", _script(COOLDOWNS_TABLE)),
    Migration("capture-tables", _script(CAPTURE_TABLES)),
    Migration("shared-config-table", _script(SHARED_CONFIG_TABLE)),
]


def migrate(conn: psycopg.Connection, migrations: list[Migration] = MIGRATIONS) -> list[str]:
    """Apply the steps this database has not had, in one transaction under the advisory lock.
    Returns the names applied now."""
    with conn.transaction():
        conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_ID,))
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied double precision NOT NULL)")
        done = applied(conn)
        now = []
        for step in migrations:
            if step.name not in done:
                step.apply(conn)
                conn.execute("INSERT INTO schema_migrations (name, applied) VALUES (%s, %s)", (step.name, time.time()))
                now.append(step.name)
    return now


def applied(conn: psycopg.Connection) -> set[str]:
    return {name for (name,) in conn.execute("SELECT name FROM schema_migrations")}
