"""Each worker's journal: every finished usage row is appended to a file of this worker's own
before it is queued for the database, so a worker killed outright (SIGKILL, the OOM killer) loses
no record — what write() put in the page cache survives the process. A later worker replays the
journal of one that died.

Cost on the request path: one write() of one JSON line to a file already open with O_APPEND; no
fsync, no lock. So a record is as safe as the page cache: it survives the process, not a crash of
the machine itself (or of its power) within the kernel's writeback delay (about 30 s by default).

Files are `<prefix>.<pid>-<random>.<generation>.jsonl`. The owning worker holds an exclusive flock on
each of its files while it lives; the kernel drops it when the process dies, however it dies. A
file nobody holds is a dead worker's: `replay_orphans` writes its rows (the store skips record keys
it has, so a row written already is harmless) and deletes it. The owner starts a new generation
once a file passes ROTATE_BYTES and deletes an old one once each of its rows was stored or spilled
to the fallback file."""

import fcntl
import glob
import logging
import os
import threading
import uuid

import orjson

from .fallback import read_rows

log = logging.getLogger("plexus.usage")

ROTATE_BYTES = 4 << 20
REPLAY_CHUNK = 500


class Journal:
    def __init__(self, prefix: str, rotate_bytes: int = ROTATE_BYTES):
        """`prefix`: the path the journal files start with (the folder must exist)."""
        self.prefix = prefix
        self.rotate_bytes = rotate_bytes
        self._name = f"{prefix}.{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._lock = threading.Lock()
        self._gen = -1
        self._files = {}  # generation -> [fd, path, appended, done]
        self._bytes = 0
        self._closed = False
        self._open_generation()

    # ---- the request path -----------------------------------------------------------------------

    def append(self, row: dict) -> int:
        """Write one row; returns its generation (hand it to done() once the row is stored)."""
        line = orjson.dumps(row) + b"\n"
        with self._lock:
            gen = self._gen
            entry = self._files[gen]
            os.write(entry[0], line)
            entry[2] += 1
            self._bytes += len(line)
        return gen

    # ---- the writer thread ----------------------------------------------------------------------

    def done(self, generations) -> None:
        """These rows (one generation each) are stored or spilled: drop files fully done, and
        start a new generation when the current one is big."""
        with self._lock:
            for gen in generations:
                self._files[gen][3] += 1
            if self._bytes >= self.rotate_bytes and not self._closed:
                self._open_generation()
            for gen in [g for g, e in self._files.items() if g != self._gen and e[3] >= e[2]]:
                self._drop(gen)

    def close(self) -> None:
        """Delete every file whose rows were all stored; keep (and unlock, by closing) the rest for
        a successor to replay."""
        with self._lock:
            self._closed = True
            for gen, entry in list(self._files.items()):
                if entry[3] >= entry[2]:
                    self._drop(gen)
                else:
                    os.close(entry[0])
                    log.warning("usage journal %s keeps %d records for the next worker", entry[1], entry[2] - entry[3])
            self._files.clear()

    def replay_orphans(self, write_batch) -> int:
        """Write the rows of journals no living worker holds, then delete them. Returns how many rows."""
        replayed = 0
        for path in sorted(glob.glob(glob.escape(self.prefix) + ".*.jsonl")):
            if path.startswith(self._name + "."):
                continue
            replayed += _replay_file(path, write_batch)
        return replayed

    # ---- files ----------------------------------------------------------------------------------

    def _open_generation(self):
        self._gen += 1
        path = f"{self._name}.{self._gen}.jsonl"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a new file: never contended
        self._files[self._gen] = [fd, path, 0, 0]
        self._bytes = 0

    def _drop(self, gen):
        fd, path, _, _ = self._files.pop(gen)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        os.close(fd)


def _replay_file(path, write_batch):
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return 0
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # its worker lives, or another worker is replaying it
            return 0
        if not os.path.exists(path):  # replayed and deleted while we opened it
            return 0
        with os.fdopen(os.dup(fd), "rb") as f:
            rows = read_rows(f, path)
        for i in range(0, len(rows), REPLAY_CHUNK):
            write_batch(rows[i : i + REPLAY_CHUNK])
        os.unlink(path)
    finally:
        os.close(fd)
    if rows:
        log.info("replayed %d usage records from the journal of a worker that died (%s)", len(rows), path)
    return len(rows)
