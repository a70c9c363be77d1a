"""The usage writer: takes each finished UsageRecord on the request path (its row made, one line
appended to this worker's journal, a queue put: nothing more) and stores them in batches from one
background thread (a greenlet under gunicorn's gevent worker).

Nothing is dropped. The journal (journal.py) keeps each row until it is stored, so even a worker
killed outright loses none: a later worker replays its journal. A full queue makes the producer wait briefly, then write its record to the
fallback file; a failing database is retried, then the batch goes to the fallback file too; the
file is replayed at start and whenever the database works again. close() writes what is queued.
(Rows past the retention period are pruned by the scheduler: plexus/storage/retention.py.)
"""

import logging
import queue
import threading
import time

import orjson

log = logging.getLogger("plexus.usage")

class _Flush:
    """A queue marker, set once everything queued before it is written."""

    def __init__(self):
        self.done = threading.Event()


_STOP = object()


class UsageWriter:
    # seconds, unless named otherwise
    max_queue = 10_000
    batch_size = 500
    # after a record arrives, wait this long for others to share its transaction. A SQLite batch
    # costs ~0.3 ms of CPU whatever its size plus ~25 µs a row (it was 1.2 ms + 40 µs when each
    # batch opened its own connection); under gevent the batch also holds the event loop, so
    # longer batches trade latency for little CPU. The journal keeps each row safe meanwhile, and
    # flush() and close() do not wait for it.
    linger = 0.1
    put_timeout = 2.0  # back-pressure on a producer facing a full queue, before it spills
    retry_delays = (0.1, 0.5, 1.0)
    db_retry_after = 5.0  # after the retries fail, batches go straight to the fallback this long
    tick = 1.0
    chore_interval = 5.0  # how often to look for a fallback file to replay

    def __init__(self, store, fallback, to_row, journal=None, **settings):
        """`store` is a storage.base.UsageStore; `to_row(rec)` makes the stored row; `journal` (a
        journal.Journal) keeps each row until it is stored. `settings` override the class
        attributes above (tests use it)."""
        for name, value in settings.items():
            if not hasattr(type(self), name):
                raise TypeError(f"unknown writer setting '{name}'")
            setattr(self, name, value)
        self.store = store
        self.fallback = fallback
        self.to_row = to_row
        self.journal = journal
        self._queue = queue.Queue(self.max_queue)
        self._closed = False
        self._db_down_until = 0.0
        self._next_chore = 0.0
        self._thread = threading.Thread(target=self._run, name="plexus-usage-writer", daemon=True)

    def start(self):
        self._thread.start()
        return self

    def depth(self) -> int:
        """Records submitted and not yet taken for writing (the metrics' queue-depth gauge)."""
        return self._queue.qsize()

    def submit(self, rec):
        """Journal and queue a finished record; returns its row (None if it could not be made).
        Never raises, never drops: if the queue stays full for `put_timeout`, or the writer is
        closed, the record goes to the fallback file instead."""
        rows = self._rows([rec])
        if not rows:
            return None
        if self._closed:  # straight to the fallback file, which is durable itself
            self._spill(rows)
            return rows[0]
        entry = (rows[0], self._journal(rows[0]))
        try:
            self._queue.put(entry, timeout=self.put_timeout)
            return rows[0]
        except queue.Full:
            log.warning("usage queue full for %.1fs: record %s goes to the fallback file", self.put_timeout,
                        rec.request_id)
        self._spill(rows)
        self._finished([entry])
        return rows[0]

    def degraded(self) -> bool:
        """The database failed the last write, or records wait in the fallback file for it."""
        return time.monotonic() < self._db_down_until or self.fallback.pending()

    def flush(self, timeout=10.0):
        """Wait until everything submitted so far is stored (or spilled). False on timeout."""
        if self._closed:
            return not self._thread.is_alive()
        marker = _Flush()
        self._queue.put(marker, timeout=timeout)
        return marker.done.wait(timeout)

    def close(self, timeout=10.0):
        """Stop taking records, store what is queued, stop the thread. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._thread.is_alive():
            try:
                self._queue.put(_STOP, timeout=timeout)
            except queue.Full:
                pass
            self._thread.join(timeout)
        leftovers = self._drain()  # submitted while stopping, or the thread ran out of time
        if leftovers:
            self._write([row for row, _ in leftovers])
            self._finished(leftovers)
        if self.journal is not None:
            self.journal.close()

    # ---- the writer thread ----------------------------------------------------------------------

    def _run(self):
        self._replay()
        while True:
            items = self._collect()
            try:
                entries = [i for i in items if not _is_marker(i)]
                if entries:
                    self._write([row for row, _ in entries])
                    self._finished(entries)
                self._chores()
            except Exception:  # the writer must outlive any surprise; _write already spills
                log.exception("usage writer failed")
            for item in items:
                if isinstance(item, _Flush):
                    item.done.set()
            if any(item is _STOP for item in items):
                return

    def _collect(self):
        """The next batch: the first item, then whatever arrives within `linger`, up to
        `batch_size`; a marker ends the batch so flushes and stops are answered at once."""
        try:
            items = [self._queue.get(timeout=self.tick)]
        except queue.Empty:
            return []
        deadline = time.monotonic() + self.linger
        while len(items) < self.batch_size and not _is_marker(items[-1]):
            try:
                items.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        return items

    def _drain(self):
        items = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return items
            if isinstance(item, _Flush):
                item.done.set()
            elif item is not _STOP:
                items.append(item)

    def _rows(self, records):
        rows = []
        for rec in records:
            try:
                rows.append(self.to_row(rec))
            except Exception:
                log.exception("usage record %s could not be converted", getattr(rec, "request_id", "?"))
        return rows

    def _journal(self, row):
        """The row's journal generation, or None (no journal, or it cannot be written)."""
        if self.journal is None:
            return None
        try:
            return self.journal.append(row)
        except OSError as e:
            log.error("usage journal unwritable (%s): record %s is held in memory only", e, row.get("request_id"))
            return None

    def _finished(self, entries):
        """These rows are stored or spilled: the journal may let them go."""
        generations = [gen for _, gen in entries if gen is not None]
        if generations:
            self.journal.done(generations)

    def _write(self, rows):
        if time.monotonic() < self._db_down_until or not self._store(rows):
            self._spill(rows)

    def _store(self, rows):
        for delay in (*self.retry_delays, None):
            try:
                self.store.write_batch(rows)
                self._db_down_until = 0.0
                return True
            except Exception as e:  # sqlite3.Error, OSError, or a surprise: the fallback keeps the rows
                error = e
            if delay is not None:
                time.sleep(delay)
        log.error("usage database unavailable (%s): %d records go to %s", error, len(rows), self.fallback.path)
        self._db_down_until = time.monotonic() + self.db_retry_after
        return False

    def _spill(self, rows):
        try:
            self.fallback.append(rows)
        except OSError as e:
            for row in rows:  # the last resort: the log keeps the record
                log.error("usage record not stored (fallback unwritable: %s): %s", e, orjson.dumps(row).decode())

    def _chores(self):
        now = time.monotonic()
        if now >= self._next_chore:
            self._next_chore = now + self.chore_interval
            if self.journal is not None:
                self.journal.replay_orphans(self._write)
            if now >= self._db_down_until and self.fallback.pending():
                self._replay()

    def _replay(self):
        try:
            if self.journal is not None:  # a dead worker's rows: stored, or spilled to the fallback file
                self.journal.replay_orphans(self._write)
            self.fallback.replay(self.store.write_batch)
        except Exception as e:
            log.warning("usage fallback replay failed, will retry: %s", e)
            self._db_down_until = time.monotonic() + self.db_retry_after


def _is_marker(item):
    return item is _STOP or isinstance(item, _Flush)
