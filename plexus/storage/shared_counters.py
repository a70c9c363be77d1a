"""Per-key limit counters in shared memory: a small memory-mapped file next to the database that
every worker process of this machine maps, changed under an exclusive `flock`. The counting half of
storage.base.KeyLimitStore (admit, finish, renew, counts) for backends whose workers share one
machine; it costs a few microseconds a request, where a database transaction costs a hundred.

Per key (a slot found by a hash of its name): 60 one-second buckets of (second, requests, tokens)
— the rolling minute, at one-second resolution — and per worker process (pid, requests in flight,
lease end). A process renews its lease (storage.base.KeyLimitStore.renew) while it runs; a killed
worker's in-flight requests stop counting when its lease runs out. The file survives worker
restarts, config reloads and gateway restarts."""

import fcntl
import hashlib
import mmap
import os
import struct
import threading
from itertools import compress
from typing import Any

from .base import LimitCounts

MAGIC = b"PLXLIM01"
SLOTS = 1024  # keys with limits this file can hold
SECONDS = 60  # buckets: the rolling window, one second each
WORKERS = 32  # worker processes a key can be in flight on at once
ID = 16
BUCKETS = struct.Struct(f"<{SECONDS}q{SECONDS}q{SECONDS}q")  # seconds, requests, tokens
QWORD = struct.Struct("<q")
WORKER_TABLE = struct.Struct(f"<{WORKERS}q{WORKERS}q{WORKERS}d")  # pid, in flight, lease end
SLOT_SIZE = 4096
HEADER = 64
SIZE = HEADER + SLOTS * SLOT_SIZE
W_OFF = ID + BUCKETS.size


class SlotsFull(RuntimeError):
    """More keys with limits than the file has slots (the policy then lets requests through, logged)."""


class SharedCounters:
    def __init__(self, path: str):
        self.path = path
        self._pid = None
        self._lock = threading.Lock()  # threads of one process (flock does not exclude them)

    def _open(self) -> None:
        if self._pid == os.getpid():
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            if os.fstat(fd).st_size < SIZE:
                os.ftruncate(fd, SIZE)  # sparse: only the slots in use take space
            self._mm = mmap.mmap(fd, SIZE)
            if self._mm[:8] != MAGIC:
                self._mm[:8] = MAGIC
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
        self._fd, self._pid = fd, os.getpid()
        self._slots = {}  # key name -> offset of its slot
        self._mine = {}  # slot offset -> index of this process's row in its worker table

    def _locked(self):
        return _Locked(self)

    def _slot(self, key_name: str) -> int:
        """The key's slot offset (taken now if it has none). Call locked."""
        off = self._slots.get(key_name)
        if off is not None:
            return off
        ident = hashlib.blake2b(key_name.encode(), digest_size=ID).digest()
        start = int.from_bytes(ident[:4], "little") % SLOTS
        mm = self._mm
        for n in range(SLOTS):  # open addressing from the hash
            off = HEADER + ((start + n) % SLOTS) * SLOT_SIZE
            found = mm[off:off + ID]
            if found == ident or found == bytes(ID):
                if found != ident:
                    mm[off:off + ID] = ident
                self._slots[key_name] = off
                return off
        raise SlotsFull(f"{self.path} holds {SLOTS} keys with limits already")

    def _counts(self, off: int, now: float) -> tuple[LimitCounts, tuple]:
        # compress/map keep the loops over 60 buckets and 32 workers in C: this runs on every admission
        values = BUCKETS.unpack_from(self._mm, off + ID)
        seconds = values[:SECONDS]
        live = list(map((int(now) - SECONDS).__lt__, seconds))
        workers = WORKER_TABLE.unpack_from(self._mm, off + W_OFF)
        in_flight = sum(compress(workers[WORKERS:2 * WORKERS], map(now.__le__, workers[2 * WORKERS:])))
        oldest = min(compress(seconds, live), default=None)
        counts = LimitCounts(sum(compress(values[SECONDS:2 * SECONDS], live)), sum(compress(values[2 * SECONDS:], live)),
                             in_flight, float(oldest) if oldest is not None else None)
        return counts, workers

    def _my_row(self, off: int, workers: tuple, now: float) -> int:
        """This process's row in the slot's worker table: its own, else a free or expired one."""
        row = self._mine.get(off)
        pid = self._pid
        if row is not None and workers[row] == pid:
            return row
        free = [i for i in range(WORKERS) if workers[i] == pid] or \
               [i for i in range(WORKERS) if workers[WORKERS + i] <= 0 or workers[2 * WORKERS + i] < now]
        if not free:
            raise SlotsFull(f"more than {WORKERS} processes in flight for one key")
        row = self._mine[off] = free[0]
        if workers[row] != pid:
            self._write_worker(off, row, pid, 0, 0.0)
        return row

    def _write_worker(self, off: int, row: int, pid: int, count: int, until: float) -> None:
        base = off + W_OFF
        struct.pack_into("<q", self._mm, base + 8 * row, pid)
        struct.pack_into("<q", self._mm, base + 8 * (WORKERS + row), count)
        struct.pack_into("<d", self._mm, base + 8 * (2 * WORKERS + row), until)

    def admit(self, key_name: str, now: float, window_s: float, limits: tuple, tokens: int,
              lease_until: float) -> tuple[Any, LimitCounts]:
        rpm, tpm, concurrent = limits
        with self._locked():
            off = self._slot(key_name)
            counts, workers = self._counts(off, now)
            if ((rpm is not None and counts.requests >= rpm)
                    or (concurrent is not None and counts.in_flight >= concurrent)
                    or (tpm is not None and counts.tokens and counts.tokens + tokens > tpm)):
                return None, counts
            second = int(now)
            i = second % SECONDS
            at = (off + ID + 8 * i, off + ID + 8 * (SECONDS + i), off + ID + 8 * (2 * SECONDS + i))
            same = QWORD.unpack_from(self._mm, at[0])[0] == second
            requests = QWORD.unpack_from(self._mm, at[1])[0] if same else 0
            counted = QWORD.unpack_from(self._mm, at[2])[0] if same else 0
            QWORD.pack_into(self._mm, at[0], second)
            QWORD.pack_into(self._mm, at[1], requests + 1)
            QWORD.pack_into(self._mm, at[2], counted + tokens)
            row = self._my_row(off, workers, now)
            workers = WORKER_TABLE.unpack_from(self._mm, off + W_OFF)
            live = workers[WORKERS + row] if workers[2 * WORKERS + row] >= now else 0
            self._write_worker(off, row, self._pid, live + 1, max(lease_until, workers[2 * WORKERS + row]))
            return (off, second, tokens), counts

    def finish(self, lease: Any, tokens: int | None) -> None:
        off, second, estimate = lease
        with self._locked():
            at = off + ID
            i = second % SECONDS
            if tokens is not None and struct.unpack_from("<q", self._mm, at + 8 * i)[0] == second:
                where = at + 8 * (2 * SECONDS + i)
                struct.pack_into("<q", self._mm, where, struct.unpack_from("<q", self._mm, where)[0] + tokens - estimate)
            row = self._mine.get(off)
            if row is not None and struct.unpack_from("<q", self._mm, off + W_OFF + 8 * row)[0] == self._pid:
                where = off + W_OFF + 8 * (WORKERS + row)
                struct.pack_into("<q", self._mm, where, max(0, struct.unpack_from("<q", self._mm, where)[0] - 1))

    def renew(self, leases: list, until: float, forget_before: float) -> None:
        """Extend this process's leases on every key it has requests in flight for (the buckets
        forget on their own: a bucket is reused after a minute)."""
        if self._pid != os.getpid():
            return
        with self._locked():
            for off, row in self._mine.items():
                base = off + W_OFF
                if struct.unpack_from("<q", self._mm, base + 8 * row)[0] == self._pid:
                    struct.pack_into("<d", self._mm, base + 8 * (2 * WORKERS + row), until)

    def counts(self, key_name: str, now: float, window_s: float) -> LimitCounts:
        with self._locked():
            return self._counts(self._slot(key_name), now)[0]

    def close(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                self._mm.close()
                os.close(self._fd)
            self._pid = None


class _Locked:
    """The counters open in this process, and held by it alone (threads and processes)."""

    __slots__ = ("c",)

    def __init__(self, counters: SharedCounters) -> None:
        self.c = counters

    def __enter__(self) -> None:
        self.c._lock.acquire()
        try:
            self.c._open()
            fcntl.flock(self.c._fd, fcntl.LOCK_EX)
        except BaseException:
            self.c._lock.release()
            raise

    def __exit__(self, *exc: Any) -> None:
        fcntl.flock(self.c._fd, fcntl.LOCK_UN)
        self.c._lock.release()
