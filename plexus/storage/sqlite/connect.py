"""The one way Plexus opens its SQLite file: WAL (readers never wait for the writer), a busy
timeout, synchronous=NORMAL (with WAL: durable across a crash of the process, no fsync per
commit), a new file readable by its owner only, and the histogram functions the usage queries use.
Each caller opens a short-lived connection, so any thread or greenlet may use the store (the usage
writer alone keeps one: it writes a batch every fraction of a second)."""

import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager

from ...usage import histogram

BUSY_TIMEOUT_S = 10.0
FILE_MODE = 0o600  # SQLite gives its -wal and -shm files the mode of the database file


def create_file(path: str) -> None:
    """Make the folder and, when there is no database yet, an empty file only its owner may read
    (usage rows, stored responses and captures are private)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE))
    except FileExistsError:
        pass


@contextmanager
def connect(path: str) -> Iterator[sqlite3.Connection]:
    """A connection in autocommit mode (transactions are explicit: see `write`), closed on exit."""
    with closing(open_connection(path)) as conn:
        yield conn


def open_connection(path: str, check_same_thread: bool = True) -> sqlite3.Connection:
    """What `connect` yields, for a caller that keeps it (and closes it itself)."""
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=check_same_thread)
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.create_aggregate("hist_of", 1, _HistOf)
    conn.create_aggregate("hist_sum", 1, _HistSum)
    conn.create_function("hist_add", 2, histogram.hist_add, deterministic=True)
    return conn


def use_wal(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA journal_mode=WAL")  # stored in the file: once is enough


@contextmanager
def write(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction, taken up front so it never has to upgrade a read lock (which can fail
    with SQLITE_BUSY regardless of the busy timeout)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@contextmanager
def transaction(path: str) -> Iterator[sqlite3.Connection]:
    """A connection holding a write transaction: committed on exit, rolled back on an error."""
    with connect(path) as conn, write(conn):
        yield conn


# ---- the histogram functions (plexus/usage/histogram.py): hist_of(ms), hist_sum(blob), hist_add ----


class _HistOf:
    """Aggregate: the histogram of a column of milliseconds (NULLs skipped)."""

    def __init__(self):
        self.hist = 0

    def step(self, ms):
        self.hist = histogram.with_value(self.hist, ms)

    def finalize(self):
        return histogram.to_blob(self.hist)


class _HistSum:
    """Aggregate: the merge of stored histograms."""

    def __init__(self):
        self.hist = 0

    def step(self, blob):
        self.hist += histogram.from_blob(blob)

    def finalize(self):
        return histogram.to_blob(self.hist)

