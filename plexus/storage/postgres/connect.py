"""The one way Plexus opens PostgreSQL: a small psycopg_pool per worker (process), autocommit
connections checked before use, bounded waits, and a name for the logs that never shows the password.

psycopg cooperates with gevent when it is imported after gevent patched the standard library
(app.py patches first; gunicorn never preloads the app), so a slow query waits on the hub and the
worker's other requests go on."""

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

log = logging.getLogger("plexus.storage")

POOL_MIN = 1
POOL_MAX = 4  # per worker: the writer, the scheduler and a few requests at once (PLEXUS_PG_POOL_MAX)
WAIT_S = 3.0  # the longest a caller waits for a connection; then it fails (the writer spools)
# A lost connection is retried with backoff (1 s, 2 s) for this long, then given up; the next caller
# that needs one starts a fresh attempt at once. psycopg_pool's default (5 minutes of doubling
# delays) would leave a worker without connections for minutes after the database came back.
RECONNECT_S = 4.0
CONNECT_TIMEOUT_S = 3


def describe(url: str) -> str:
    """user@host:port/dbname, for messages: the URL's password stays out of logs and errors."""
    try:
        p = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://(unparsable URL)"
    return f"postgresql://{p.get('user', '')}@{p.get('host', '')}:{p.get('port', 5432)}/{p.get('dbname', '')}"


def check_url(url: str) -> None:
    """Raises ValueError (without the URL) when libpq cannot parse it."""
    try:
        conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        raise ValueError("database: the postgresql:// URL cannot be parsed") from None


def open_pool(url: str) -> ConnectionPool:
    """A pool that fills in the background: opening never waits for the server, so a gateway starts
    (and serves) while the database is away."""
    given = conninfo_to_dict(url)
    kwargs = {"autocommit": True}
    if "connect_timeout" not in given:
        kwargs["connect_timeout"] = CONNECT_TIMEOUT_S
    if "application_name" not in given:
        kwargs["application_name"] = "plexus"
    size = int(os.environ.get("PLEXUS_PG_POOL_MAX") or POOL_MAX)
    return ConnectionPool(url, min_size=min(POOL_MIN, size), max_size=size, kwargs=kwargs, timeout=WAIT_S,
                          reconnect_timeout=RECONNECT_S,
                          check=ConnectionPool.check_connection, name="plexus", open=True)


class Database:
    """The pool, plus `ensure_schema`: the first use after a start without the database migrates."""

    def __init__(self, url: str, ensure_schema=lambda: None):
        self.url = url
        self.name = describe(url)
        self.pool = open_pool(url)
        self.ensure_schema = ensure_schema

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        self.ensure_schema()
        with self.pool.connection() as conn:
            yield conn

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection]:
        with self.connection() as conn, conn.transaction():
            yield conn

    def close(self) -> None:
        self.pool.close(timeout=5)
