"""The usage writer and its fallback file: batching, back-pressure, flush on close, a database that
is unavailable, replay on the next start, appends and replays racing each other; retention."""

import os
import threading
import time

import orjson
import pytest

from plexus.storage import open_storage
from plexus.storage.retention import prune_expired
from plexus.usage.fallback import FallbackFile
from plexus.usage.params import Filters
from plexus.usage.record import UsageRecord
from plexus.usage.writer import UsageWriter

FAST = dict(tick=0.05, linger=0.01, retry_delays=(0.01,), db_retry_after=0.05, chore_interval=0.05)


class FakeStore:
    """Records batches; `gate` (when closed) holds write_batch, `failing` makes it raise."""

    def __init__(self):
        self.batches = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.failing = False

    def write_batch(self, rows):
        self.entered.set()
        assert self.gate.wait(10)
        if self.failing:
            raise OSError("database unavailable")
        self.batches.append(list(rows))

    @property
    def ids(self):
        return [r["request_id"] for b in self.batches for r in b]


def rec(i):
    return UsageRecord(api_style="chat", request_id=f"r{i}", status=200)


def as_row(r):
    return {"request_id": r.request_id, "time": r.time, "status": r.status}


@pytest.fixture
def fallback(tmp_path):
    return FallbackFile(str(tmp_path / "usage.db.fallback.jsonl"))


@pytest.fixture
def make_writer(fallback):
    writers = []

    def make(store, **settings):
        w = UsageWriter(store, fallback, as_row, **{**FAST, **settings}).start()
        writers.append(w)
        return w

    yield make
    for w in writers:
        w.close()


def fallback_ids(fallback):
    if not os.path.exists(fallback.path):
        return []
    with open(fallback.path, "rb") as f:
        return [orjson.loads(line)["request_id"] for line in f if line.strip()]


def eventually(check, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def hold_first_batch(store, writer):
    """Submit r0 and wait until the writer is stuck writing it."""
    store.gate.clear()
    writer.submit(rec(0))
    assert store.entered.wait(5)


def test_records_that_queue_up_share_a_batch(make_writer):
    store = FakeStore()
    writer = make_writer(store)
    hold_first_batch(store, writer)
    for i in range(1, 50):
        writer.submit(rec(i))
    store.gate.set()
    assert writer.flush()
    assert [len(b) for b in store.batches] == [1, 49]
    assert store.ids == [f"r{i}" for i in range(50)]


def test_batches_are_capped(make_writer):
    store = FakeStore()
    writer = make_writer(store, batch_size=10)
    hold_first_batch(store, writer)
    for i in range(1, 42):
        writer.submit(rec(i))
    store.gate.set()
    assert writer.flush()
    assert [len(b) for b in store.batches] == [1, 10, 10, 10, 10, 1]


def test_a_full_queue_holds_the_producer_until_there_is_room(make_writer, fallback):
    store = FakeStore()
    writer = make_writer(store, max_queue=1, put_timeout=10)
    hold_first_batch(store, writer)
    writer.submit(rec(1))  # fills the queue
    assert writer.depth() == 1
    producer = threading.Thread(target=writer.submit, args=(rec(2),))
    producer.start()
    producer.join(0.3)
    assert producer.is_alive()  # back-pressure: it waits rather than dropping
    store.gate.set()
    producer.join(5)
    assert writer.flush()
    assert store.ids == ["r0", "r1", "r2"] and fallback_ids(fallback) == []


def test_a_queue_full_for_too_long_spills_to_the_fallback_file_never_drops(make_writer, fallback):
    store = FakeStore()
    writer = make_writer(store, max_queue=1, put_timeout=0.2)
    hold_first_batch(store, writer)
    writer.submit(rec(1))
    started = time.monotonic()
    writer.submit(rec(2))
    assert time.monotonic() - started >= 0.2
    assert fallback_ids(fallback) == ["r2"]
    store.gate.set()
    eventually(lambda: sorted(store.ids) == ["r0", "r1", "r2"])  # the writer replays the spill
    assert not fallback.pending()


def test_close_writes_everything_still_queued(make_writer):
    store = FakeStore()
    writer = make_writer(store, linger=0.5)
    for i in range(300):
        writer.submit(rec(i))
    writer.close()
    assert sorted(store.ids) == sorted(f"r{i}" for i in range(300))


def test_a_record_submitted_after_close_goes_to_the_fallback_file(make_writer, fallback):
    writer = make_writer(FakeStore())
    writer.close()
    writer.submit(rec(7))
    assert fallback_ids(fallback) == ["r7"]


def test_a_failing_database_is_retried_then_its_batch_kept_and_replayed_when_it_recovers(make_writer, fallback):
    store = FakeStore()
    store.failing = True
    writer = make_writer(store)
    for i in range(5):
        writer.submit(rec(i))
    assert writer.flush()
    assert sorted(fallback_ids(fallback)) == [f"r{i}" for i in range(5)]
    store.failing = False
    eventually(lambda: sorted(store.ids) == [f"r{i}" for i in range(5)])
    eventually(lambda: not fallback.pending())


def test_an_unwritable_database_path_leaves_records_in_jsonl_replayed_on_the_next_start(tmp_path):
    db = tmp_path / "usage.db"
    db.mkdir()  # a directory where the file should be: SQLite cannot open it
    fallback = FallbackFile(str(db) + ".fallback.jsonl")
    first = UsageWriter(open_storage(str(db)).usage, fallback, as_row, **FAST).start()
    for i in range(3):
        first.submit(rec(i))
    first.close()
    assert sorted(fallback_ids(fallback)) == ["r0", "r1", "r2"]

    db.rmdir()  # the database can be created now: the next start replays the file
    store = open_storage(str(db)).usage
    second = UsageWriter(store, fallback, as_row, **FAST).start()
    assert second.flush()
    second.close()
    records, total = store.query(Filters(), 10, 0)
    assert total == 3 and {r["request_id"] for r in records} == {"r0", "r1", "r2"}
    assert not fallback.pending()


def test_appends_racing_replays_lose_nothing(fallback):
    stored = {}
    done = threading.Event()

    def write_batch(rows):
        for r in rows:
            stored[r["request_id"]] = stored.get(r["request_id"], 0) + 1

    def appender(n):
        for i in range(200):
            fallback.append([{"request_id": f"{n}-{i}"}])

    def replayer():
        while not done.is_set():
            fallback.replay(write_batch)

    threads = [threading.Thread(target=appender, args=(n,)) for n in range(4)]
    replaying = threading.Thread(target=replayer)
    replaying.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    replaying.join()
    fallback.replay(write_batch)
    assert set(stored) == {f"{n}-{i}" for n in range(4) for i in range(200)}
    assert not fallback.pending()


def test_a_torn_line_is_skipped_and_the_rest_replayed(fallback):
    with open(fallback.path, "wb") as f:
        f.write(b'{"request_id": "ok1"}\n{"request_id": "tor')
    fallback.append([{"request_id": "ok2"}])
    seen = []
    assert fallback.replay(seen.extend) == 2
    assert [r["request_id"] for r in seen] == ["ok1", "ok2"]


def test_records_and_stored_responses_past_the_retention_period_are_pruned(tmp_path):
    storage = open_storage(str(tmp_path / "usage.db"))
    now = time.time()
    storage.usage.write_batch([{"record_key": k, "request_id": k, "time": t} for k, t in
                               (("old", now - 31 * 86400), ("new", now - 29 * 86400))])
    storage.responses.put("resp_new", "k", {})
    prune_expired(storage, None)  # no retention_days: kept forever
    assert storage.usage.query(Filters(), 10, 0)[1] == 2
    prune_expired(storage, 30)
    assert [r["request_id"] for r in storage.usage.query(Filters(), 10, 0)[0]] == ["new"]
    assert storage.responses.get("resp_new", "k") == {}
    prune_expired(storage, 1 / 86400 / 1000)  # a millisecond
    assert storage.responses.get("resp_new", "k") is None
