"""The one way Plexus opens its SQLite file: WAL (readers never wait for the writer), a busy
timeout, synchronous=NORMAL (with WAL: durable across a crash of the process, no fsync per
commit), a new file readable by its owner only, and the histogram functions the usage queries use.
Each caller opens a short-lived connection, so any thread or greenlet may use the store; the usage
writer and the budgets' spend keep one each (KeptConnection): they run every fraction of a second."""

import os
import sqlite3
import threading
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


class KeptConnection:
    """A connection a store keeps for what it does often (opening one costs more than a small query
    or batch), one caller at a time. It is opened again in a forked worker, when the file at the
    path is no longer the one it has open (moved or replaced: rows must not go to an unlinked
    file), and after an error."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._kept = None  # (pid, inode, connection)

    @contextmanager
    def using(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._connection()
            except sqlite3.Error:
                self._forget()  # a connection that failed is not trusted with the next call
                raise

    def close(self) -> None:
        with self._lock:
            self._forget()

    def _connection(self) -> sqlite3.Connection:
        try:
            inode = os.stat(self.path).st_ino
        except OSError:
            inode = None
        if self._kept is None or self._kept[:2] != (os.getpid(), inode):
            self._forget()
            conn = open_connection(self.path, check_same_thread=False)
            self._kept = (os.getpid(), os.stat(self.path).st_ino, conn)
        return self._kept[2]

    def _forget(self) -> None:
        if self._kept is not None and self._kept[0] == os.getpid():
            self._kept[2].close()
        self._kept = None


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

