"""Usage accounting: one record per request through `/v1/*`, stored off the request path.

`open_usage` starts this process's store and writer. `shutdown` stores whatever every writer of this
process still holds; gunicorn's `worker_exit` hook and `atexit` call it, so a worker that is stopped
gracefully loses nothing.
"""

import atexit
import logging
import os
import sqlite3
from dataclasses import dataclass

from ..config import ConfigError
from .fallback import FallbackFile
from .row import to_row
from .sqlite_store import SQLiteStore
from .writer import UsageWriter

log = logging.getLogger("plexus.usage")

DEFAULT_DATABASE = "data/plexus.db"
SQLITE_URL = "sqlite:///"

_writers = set()  # started in this process and not yet closed, for shutdown()


@dataclass(frozen=True)
class Usage:
    store: SQLiteStore
    writer: UsageWriter


def open_usage(config, current_config, database=None):
    """Migrate the store's schema and start the writer. `current_config()` gives the config whose
    prices and retention apply when records are written; `database` overrides where the store is."""
    path = database_path(config, database)
    store = SQLiteStore(path)
    try:
        store.migrate()
    except (sqlite3.Error, OSError) as e:
        log.error("usage database %s is unavailable (%s): records go to the fallback file until it works", path, e)
    writer = UsageWriter(
        store,
        FallbackFile(path + ".fallback.jsonl"),
        lambda rec: to_row(rec, current_config()),
        retention_days=lambda: current_config().retention_days,
    )
    _writers.add(writer.start())
    return Usage(store, writer)


def database_path(config, override=None):
    """The SQLite file: `override`, else $DATABASE_URL, else the config's `database`, else
    data/plexus.db. Each may be a path or a sqlite:/// URL (sqlite:////abs/path for an absolute one)."""
    value = override or os.environ.get("DATABASE_URL") or config.database or DEFAULT_DATABASE
    if value.startswith(SQLITE_URL):
        return value[len(SQLITE_URL) :]
    if "://" in value:  # the URL may hold a password: name only its scheme
        scheme = value.split("://", 1)[0]
        problem = f"database: '{scheme}://' is not supported; give a SQLite path or a sqlite:/// URL"
        raise ConfigError(config.path, [problem])
    return value


def shutdown():
    while _writers:
        _writers.pop().close()


atexit.register(shutdown)
