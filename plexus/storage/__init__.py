"""Everything Plexus keeps beyond one request — usage records and rollups, stored responses,
cooldowns, the capture switch and captures, the shared config — behind one interface (base.py),
opened in one place from one setting, with all tables migrated together. SQLite (sqlite/) is the
embedded default; PostgreSQL (postgres/, a `postgresql://` or `postgres://` URL) lets several
gateway machines share one truth. The background jobs that keep a worker in step with the store
live in scheduler.py."""

import logging
import os

from ..config import ConfigError
from .base import Storage
from .sqlite import SQLiteStorage

log = logging.getLogger("plexus.storage")

DEFAULT_DATABASE = "data/plexus.db"
SQLITE_URL = "sqlite:///"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


class UnsupportedDatabase(ValueError):
    """A database URL of a kind Plexus cannot use (the message names only its scheme)."""


def database_url(config, override: str | None = None) -> str:
    """Where the store is: `override`, else $DATABASE_URL, else the config's `database`, else
    data/plexus.db. A path or a sqlite:/// URL (sqlite:////abs/path for an absolute one), or a
    postgresql:// (postgres://) URL with libpq's options. A URL Plexus cannot use is a ConfigError
    (`python -m plexus check-config` asks this too)."""
    url = override or os.environ.get("DATABASE_URL") or config.database or DEFAULT_DATABASE
    try:
        check_database_url(url)
    except (UnsupportedDatabase, ValueError) as e:
        raise ConfigError(config.path, [str(e)]) from None
    return url


def open_storage(url: str) -> Storage:
    """The store at `url`, migrated. A failed migration is logged here, not raised: the usage
    writer spools its records and migrates on its first write that works (the services that read
    the store at start still fail on a database that cannot be used, as they always have). Raises
    UnsupportedDatabase for a URL of a kind Plexus cannot use."""
    if is_postgres(url):
        from .postgres import PostgresStorage  # psycopg is imported only by gateways that use it

        storage = PostgresStorage(url)
    else:
        storage = SQLiteStorage(sqlite_path(url))
    try:
        storage.migrate()
    except Exception as e:  # sqlite3.Error, psycopg.Error, OSError
        log.error("database %s is unavailable (%s): usage records go to the fallback file until it works",
                  storage.path, e)
    return storage


def check_database_url(url: str) -> None:
    """Raises UnsupportedDatabase or ValueError (naming no password) for a URL Plexus cannot use."""
    if is_postgres(url):
        from .postgres.connect import check_url

        check_url(url)
    else:
        sqlite_path(url)


def is_postgres(url: str) -> bool:
    return url.startswith(POSTGRES_SCHEMES)


def sqlite_path(url: str) -> str:
    if url.startswith(SQLITE_URL):
        return url[len(SQLITE_URL) :]
    if "://" in url:  # the URL may hold a password: name only its scheme
        scheme = url.split("://", 1)[0]
        raise UnsupportedDatabase(f"database: '{scheme}://' is not supported; give a SQLite path, a sqlite:/// URL "
                                  "or a postgresql:// URL")
    return url
