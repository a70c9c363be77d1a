"""The fallback file: usage rows that could not reach the database, one JSON object a line, kept
next to it until a later replay moves them in.

Several worker processes may append and replay at once. Appends hold an exclusive `flock` and check
that the file they locked is still the one at the path; a replay first renames the file to a name of
its own (atomic), then locks it, so a row is never appended to a file that is being emptied.
Replaying is idempotent (the store skips record keys it has), so a replay cut short is just retried.
"""

import fcntl
import glob
import logging
import os
import time
import uuid

import orjson

log = logging.getLogger("plexus.usage")

REPLAY_CHUNK = 500
FILE_MODE = 0o600  # usage rows are as private as the database they were meant for


class FallbackFile:
    def __init__(self, path):
        self.path = path

    def append(self, rows):
        """Write rows durably (fsync). Raises OSError when even this is impossible."""
        data = b"".join(orjson.dumps(r) + b"\n" for r in rows)
        while True:
            with open(os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE), "ab") as f:
                _lock(f)
                if not _is_current(f, self.path):
                    continue  # a replay took the file away meanwhile: append to the new one
                # a leading newline ends a line a crashed writer may have left unfinished
                f.write(b"\n" + data)
                f.flush()
                os.fsync(f.fileno())
                return

    def pending(self):
        return os.path.exists(self.path) or bool(self._claimed())

    def replay(self, write_batch):
        """Hand every stored row to `write_batch` in chunks, deleting each file once it is written.
        Returns how many rows were replayed; a failure leaves the file for the next try."""
        try:
            os.rename(self.path, f"{self.path}.{os.getpid()}-{uuid.uuid4().hex[:8]}.replay")
        except FileNotFoundError:
            pass
        return sum(self._replay_file(path, write_batch) for path in self._claimed())

    def _claimed(self):
        return sorted(glob.glob(glob.escape(self.path) + ".*.replay"))

    def _replay_file(self, path, write_batch):
        try:
            f = open(path, "rb")
        except FileNotFoundError:  # another process finished it
            return 0
        with f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # another process is on it, or an append is finishing
                return 0
            if not os.path.exists(path):
                return 0
            rows = read_rows(f, path)
            for i in range(0, len(rows), REPLAY_CHUNK):
                write_batch(rows[i : i + REPLAY_CHUNK])
            os.unlink(path)
        log.info("replayed %d usage records from %s", len(rows), path)
        return len(rows)


def _lock(f):
    """Wait for the exclusive lock without blocking in the kernel: under gevent a blocking flock
    would stall every greenlet of the process, the lock holder's included."""
    while True:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            time.sleep(0.01)


def _is_current(f, path):
    try:
        return os.fstat(f.fileno()).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


def read_rows(f, path):
    """The rows of a JSON-lines file; a line that is not JSON (a write cut short) is logged and skipped."""
    rows = []
    for n, line in enumerate(f, 1):
        line = line.strip()
        if not line:
            continue
        try:
            rows.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            log.error("%s line %d is not a usage record (a write cut short?): skipped", path, n)
    return rows
