"""The usage store on both backends (SQLite and PostgreSQL, the `storage` fixture): usage rows,
filters, rollups kept in step, summaries, deletes, several writers at once; and the SQLite file's
own concerns (WAL, migrations by name, databases made before them)."""

import sqlite3
import os
import stat
import subprocess
import sys
import uuid
from contextlib import closing
from pathlib import Path

import pytest

from plexus.storage import open_storage
from plexus.storage.sqlite import migrations
from plexus.storage.sqlite.connect import transaction
from plexus.usage import histogram, summary
from plexus.usage.params import Filters
from tests.support.gateway_process import ROOT

HOUR = 3600
T0 = 1_736_942_400.0  # 2025-01-15T12:00:00Z, the start of an hour


def row(**kw):
    base = dict(
        record_key=uuid.uuid4().hex, time=T0 + 60, request_id=uuid.uuid4().hex, key_name="test", source_ip="127.0.0.1", api_style="chat",
        alias="fast", provider="up", model="up-model", provider_type="chat", streamed=False, fast_path=True,
        attempts='[{"provider":"up","model":"up-model"}]', status=200, error=None, finish_reason="stop",
        input_tokens=10, output_tokens=5, cached_tokens=2, cache_write_tokens=0, reasoning_tokens=1,
        estimated=False, cost=0.00002, cost_input=0.00001, cost_output=0.00001, cost_cached=0.0,
        cost_cache_write=0.0, duration_ms=100.0, ttft_ms=40.0, upstream_ms=90.0, overhead_ms=10.0,
        tokens_per_second=50.0,
    )  # fmt: skip
    return {**base, **kw}


@pytest.fixture
def store(storage):
    return storage.usage


@pytest.fixture
def sqlite_store(tmp_path):
    return open_storage(str(tmp_path / "sub" / "usage.db")).usage


def day_summary(store, group_by="alias", range_name="day", until=T0 + 120):
    win = summary.window(range_name, until)
    return summary.build(range_name, win, group_by, store.summary(win, group_by))


def sql(store, query, *params):
    """Rows of a query (`?` placeholders) straight from either backend's database."""
    if hasattr(store, "db"):
        with store.db.connection() as conn:
            return [tuple(r) for r in conn.execute(query.replace("?", "%s"), params).fetchall()]
    with closing(sqlite3.connect(store.path)) as conn:
        return conn.execute(query, params).fetchall()


def test_rows_come_back_newest_first_with_their_fields(store):
    store.write_batch(
        [row(time=T0 + 1, request_id="a"), row(time=T0 + 3, request_id="c", streamed=True), row(time=T0 + 2, request_id="b")]
    )
    records, total = store.query(Filters(), 10, 0)
    assert total == 3
    assert [r["request_id"] for r in records] == ["c", "b", "a"]
    assert records[0]["streamed"] is True and records[1]["streamed"] is False
    assert records[0]["attempts"] == [{"provider": "up", "model": "up-model"}]
    assert records[0]["cost"] == pytest.approx(0.00002) and records[0]["status"] == 200


def test_one_record_by_id(store):
    store.write_batch([row(request_id="a"), row(request_id="b", status="cancelled")])
    newest = store.query(Filters(), 1, 0)[0][0]
    assert store.record(newest["id"]) == newest
    assert store.record(10_000) is None


def test_key_activity_counts_requests_and_finds_the_last_per_key(store):
    store.write_batch([row(key_name="k1", time=T0 + 5), row(key_name="k1", time=T0 - 3 * 86400), row(key_name="k2")])
    store.write_batch([row(key_name=None)])
    assert store.key_activity() == {"k1": (2, T0 + 5), "k2": (1, T0 + 60)}


def test_a_row_written_again_is_stored_once_so_replays_are_harmless(store):
    rows = [row(), row()]
    store.write_batch(rows)
    store.write_batch(rows)
    assert store.query(Filters(), 10, 0)[1] == 2
    assert day_summary(store)["totals"]["requests"] == 2  # the rollups did not count the replay


def test_a_batch_mixing_stored_and_new_rows_adds_only_the_new_ones_to_the_rollups(store):
    first = [row(), row()]
    store.write_batch(first)
    store.write_batch([first[1], row(), row(input_tokens=7)])
    assert store.query(Filters(), 10, 0)[1] == 4
    assert day_summary(store)["totals"]["requests"] == 4


def test_batches_go_to_the_file_at_the_path_even_after_it_was_replaced(tmp_path):
    storage = open_storage(str(tmp_path / "usage.db"))
    try:
        storage.usage.write_batch([row()])  # the writer's connection is open now
        os.replace(tmp_path / "usage.db", tmp_path / "moved.db")
        for suffix in ("-wal", "-shm"):
            if (tmp_path / f"usage.db{suffix}").exists():
                os.replace(tmp_path / f"usage.db{suffix}", tmp_path / f"moved.db{suffix}")
        fresh = open_storage(str(tmp_path / "usage.db"))
        fresh.close()
        storage.usage.write_batch([row(), row()])
        assert storage.usage.query(Filters(), 10, 0)[1] == 2
    finally:
        storage.close()


def test_requests_sharing_a_client_chosen_request_id_are_all_kept(store):
    store.write_batch([row(request_id="client-id-1"), row(request_id="client-id-1")])
    store.write_batch([row(request_id="client-id-1")])
    records, total = store.query(Filters(), 10, 0)
    assert total == 3 and "record_key" not in records[0]


@pytest.mark.parametrize(
    "filters, expected",
    [
        (Filters(alias="other"), {"o1"}),
        (Filters(key_name="k2"), {"k"}),
        (Filters(provider="p2"), {"p"}),
        (Filters(model="m2"), {"m"}),
        (Filters(status=500), {"e"}),
        (Filters(status="cancelled"), {"x"}),
        (Filters(api_style="messages"), {"s"}),
        (Filters(since=T0 + 500), {"late"}),
        (Filters(until=T0 + 50), {"early"}),
        (Filters(since=T0 + 100, until=T0 + 500, alias="other"), {"o1"}),
    ],
)
def test_each_filter_narrows_the_records(store, filters, expected):
    store.write_batch([
        row(request_id="o1", alias="other", time=T0 + 200), row(request_id="k", key_name="k2"),
        row(request_id="p", provider="p2"), row(request_id="m", model="m2"), row(request_id="e", status=500),
        row(request_id="x", status="cancelled"), row(request_id="s", api_style="messages"),
        row(request_id="late", time=T0 + 600), row(request_id="early", time=T0 + 10),
    ])  # fmt: skip
    records, total = store.query(filters, 100, 0)
    assert {r["request_id"] for r in records} == expected and total == len(expected)


def test_paging_walks_the_records_in_order(store):
    store.write_batch([row(request_id=f"r{i:02}", time=T0 + i) for i in range(25)])
    pages = [store.query(Filters(), 10, offset) for offset in (0, 10, 20)]
    assert [len(p[0]) for p in pages] == [10, 10, 5] and {p[1] for p in pages} == {25}
    ids = [r["request_id"] for p in pages for r in p[0]]
    assert ids == [f"r{i:02}" for i in reversed(range(25))]


def test_the_file_is_in_wal_mode_with_indexes_for_time_and_each_dimension(sqlite_store):
    store = sqlite_store
    assert sql(store, "PRAGMA journal_mode") == [("wal",)]
    indexes = {name for (name,) in sql(store, "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'usage'")}
    dimensions = {f"usage_{c}_time" for c in ("key_name", "alias", "provider", "model", "status", "api_style")}
    assert {"usage_time", "usage_request_id", "usage_record_key"} | dimensions <= indexes
    plan = " ".join(str(r) for r in sql(store, "EXPLAIN QUERY PLAN SELECT * FROM usage ORDER BY time DESC, id DESC LIMIT 5"))
    assert "usage_time" in plan and "TEMP B-TREE" not in plan


ALL_STEPS = [m.name for m in migrations.MIGRATIONS]


def applied(store):
    return {name for (name,) in sql(store, "SELECT name FROM schema_migrations")}


def test_a_new_file_gets_every_table_every_step_by_name_and_is_private(tmp_path):
    path = tmp_path / "new.db"
    store = open_storage(str(path)).usage
    assert applied(store) == set(ALL_STEPS)
    tables = {name for (name,) in sql(store, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"usage", "usage_rollup", "responses", "cooldowns", "capture_settings", "captures"} <= tables
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert open_storage(str(path)).migrate() == []  # a second start applies nothing


def test_a_version_1_database_is_migrated_and_keeps_its_rows(tmp_path):
    path = str(tmp_path / "old.db")
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:  # as the numbered migrations left it
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO schema_version VALUES (1)")
        migrations.MIGRATIONS[0].apply(conn)
        for r in (row(request_id="old1", time=T0 + 5), row(request_id="old2", time=T0 + HOUR - 1, alias="other")):
            del r["record_key"]  # a column of version 4
            conn.execute(f"INSERT INTO usage ({', '.join(r)}) VALUES ({', '.join('?' * len(r))})", list(r.values()))
    store = open_storage(path).usage
    assert applied(store) == set(ALL_STEPS)
    assert {r["request_id"] for r in store.query(Filters(), 10, 0)[0]} == {"old1", "old2"}
    groups = {g["group"]: g["requests"] for g in day_summary(store)["groups"]}
    assert groups == {"fast": 1, "other": 1}  # the new rollups were built from the old rows


def test_a_database_made_before_named_migrations_upgrades_with_everything_in_it(tmp_path):
    path = str(tmp_path / "v4.db")
    with closing(sqlite3.connect(path)) as conn:
        conn.executescript((Path(__file__).parents[1] / "support" / "legacy_v4.sql").read_text())
    storage = open_storage(path)
    assert applied(storage.usage) == set(ALL_STEPS)
    assert sql(storage.usage, "SELECT name FROM schema_migrations WHERE applied = 0") == [
        (n,) for n in migrations.USAGE_VERSIONS
    ]  # adopted from schema_version 4, not run again
    records, total = storage.usage.query(Filters(), 100, 0)
    assert total == 6 and records[0]["request_id"] == "req5" and records[0]["attempts"][0]["provider"] == "up"
    assert {g["group"]: g["requests"] for g in day_summary(storage.usage, until=T0 + 600)["groups"]} == {
        "fast": 3, "other": 3}
    storage.usage.write_batch([row(request_id="new", time=T0 + 400)])
    storage.usage.write_batch([{"record_key": "key0001", "time": T0, "request_id": "again"}])  # a replayed old row
    assert storage.usage.query(Filters(), 100, 0)[1] == 7
    assert storage.responses.get("resp_legacy", "key-id-of-test") is None  # stored by name only: not yet anyone's
    assert storage.responses.claim_unowned({"test": "key-id-of-test"}) == 1  # the key named so at start
    assert storage.responses.get("resp_legacy", "key-id-of-test") == {"input": [], "response": {"id": "resp_legacy"}}
    assert storage.cooldowns.load()[("up", "up-model")][2] == "legacy failure"
    assert storage.captures.load_switch()["providers"] == ["up"]
    assert storage.captures.for_request("req1")["request_id"] == "req1"


def test_a_failing_migration_changes_nothing(sqlite_store):
    store = sqlite_store
    store.write_batch([row(request_id="kept")])

    def broken(conn):
        conn.execute("ALTER TABLE usage ADD COLUMN extra TEXT")
        raise sqlite3.OperationalError("disk on fire")

    with pytest.raises(sqlite3.OperationalError), transaction(store.path) as conn:
        migrations.migrate(conn, migrations.MIGRATIONS + [migrations.Migration("broken", broken)])
    assert applied(store) == set(ALL_STEPS)
    assert "extra" not in {c[1] for c in sql(store, "PRAGMA table_info(usage)")}
    assert store.query(Filters(), 10, 0)[1] == 1


def test_steps_added_on_two_branches_each_run_once_whatever_their_order(sqlite_store):
    store = sqlite_store
    ran = []
    one = migrations.Migration("branch-one-step", lambda conn: ran.append("one"))
    two = migrations.Migration("branch-two-step", lambda conn: ran.append("two"))
    with transaction(store.path) as conn:
        assert migrations.migrate(conn, migrations.MIGRATIONS + [one]) == ["branch-one-step"]
    with transaction(store.path) as conn:  # the merge puts the other branch's step first
        assert migrations.migrate(conn, migrations.MIGRATIONS + [two, one]) == ["branch-two-step"]
    assert ran == ["one", "two"]


def test_summary_totals_buckets_and_groups(store):
    store.write_batch([
        row(time=T0 + 10, alias="fast", input_tokens=100, output_tokens=10, cached_tokens=5, reasoning_tokens=2, cost=0.5),
        row(time=T0 + 20, alias="fast", status=500, input_tokens=0, output_tokens=0, cached_tokens=0,
            reasoning_tokens=0, cost=0.0),
        row(time=T0 - HOUR + 30, alias="slow", input_tokens=7, output_tokens=3, cached_tokens=0, reasoning_tokens=0,
            cost=None, status="cancelled"),
        row(time=T0 - 3 * 86400, alias="fast"),  # outside the day
    ])  # fmt: skip
    out = day_summary(store)
    assert out["since"] == "2025-01-14T13:00:00.000Z" and out["until"] == "2025-01-15T13:00:00.000Z"
    assert out["bucket_seconds"] == HOUR and len(out["buckets"]) == 24
    totals = out["totals"]
    assert (totals["requests"], totals["errors"], totals["cancelled"]) == (3, 1, 1)
    tokens = ("input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens")
    assert [totals[t] for t in tokens] == [107, 13, 5, 2]
    assert totals["cost"] == pytest.approx(0.5) and totals["unpriced_requests"] == 1
    assert [b["requests"] for b in out["buckets"][-2:]] == [1, 2] and sum(b["requests"] for b in out["buckets"]) == 3
    groups = {g["group"]: g for g in out["groups"]}
    assert list(groups) == ["fast", "slow"]  # most requests first
    assert groups["slow"]["cost"] is None  # unpriced, not free
    assert groups["fast"]["cost"] == pytest.approx(0.5)
    assert {(s["time"], s["group"], s["requests"]) for s in out["series"]} == {
        ("2025-01-15T11:00:00.000Z", "slow", 1), ("2025-01-15T12:00:00.000Z", "fast", 2),
    }  # fmt: skip


def test_summary_percentiles_come_from_the_histograms(store):
    store.write_batch([row(time=T0 + i, duration_ms=float(ms), ttft_ms=None) for i, ms in enumerate(range(10, 1010, 10))])
    totals = day_summary(store)["totals"]
    assert totals["duration_ms_p50"] == pytest.approx(500, rel=0.07)
    assert totals["duration_ms_p95"] == pytest.approx(950, rel=0.07)
    assert totals["ttft_ms_p50"] is None


@pytest.mark.parametrize("range_name, step, buckets", [("hour", 60, 60), ("week", 6 * HOUR, 28), ("month", 86400, 30)])
def test_summary_ranges(store, range_name, step, buckets):
    store.write_batch([row(time=T0 + 30, key_name="a"), row(time=T0 + 90, key_name="b")])
    store.write_batch([row(time=T0 - 2 * 86400, key_name="a")])
    out = day_summary(store, "key", range_name, until=T0 + 120)
    assert out["bucket_seconds"] == step and len(out["buckets"]) == buckets
    expected = {"a": 1, "b": 1} if range_name == "hour" else {"a": 2, "b": 1}
    assert {g["group"]: g["requests"] for g in out["groups"]} == expected


def test_requests_without_a_value_group_under_null(store):
    store.write_batch([row(alias=None, key_name=None)])
    assert [g["group"] for g in day_summary(store)["groups"]] == [None]
    assert [g["group"] for g in day_summary(store, range_name="hour", until=T0 + 61)["groups"]] == [None]


def test_delete_counts_and_keeps_the_summaries_in_step(store):
    store.write_batch([row(alias="fast", time=T0 + i) for i in range(5)] + [row(alias="slow", time=T0 - 5 * HOUR)] * 1)
    store.write_batch([row(alias="slow", time=T0 + 7)])
    assert store.delete(Filters(alias="slow")) == 2
    assert store.query(Filters(), 10, 0)[1] == 5
    out = day_summary(store)
    assert {g["group"]: g["requests"] for g in out["groups"]} == {"fast": 5}
    assert out["totals"]["requests"] == 5
    assert store.delete(Filters(alias="nobody")) == 0


def test_prune_removes_rows_older_than_the_cutoff(store):
    store.write_batch([row(time=T0 - 40 * 86400), row(time=T0 - 2 * 86400), row(time=T0)])
    assert store.prune(T0 - 30 * 86400) == 1
    assert store.query(Filters(), 10, 0)[1] == 2
    assert sql(store, "SELECT COUNT(*) FROM usage_rollup WHERE bucket < ?", T0 - 30 * 86400) == [(0,)]


WRITER_SCRIPT = """
import sys, uuid
from plexus.storage import open_storage
storage = open_storage(sys.argv[1])
for b in range(20):
    storage.usage.write_batch([{"time": 1736942400.0 + b, "request_id": uuid.uuid4().hex, "alias": sys.argv[2],
                                "status": 200} for _ in range(25)])
storage.close()
"""


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_several_processes_write_the_same_store_safely(tmp_path, request, backend):
    path = str(tmp_path / "shared.db") if backend == "sqlite" else request.getfixturevalue("postgres").create_database()
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER_SCRIPT, path, f"p{i}"], cwd=ROOT, stderr=subprocess.PIPE)
        for i in range(4)
    ]
    errors = [p.communicate(timeout=60)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, errors
    storage = open_storage(path)
    request.addfinalizer(storage.close)
    store = storage.usage
    assert store.query(Filters(), 1, 0)[1] == 4 * 20 * 25
    assert {g["group"]: g["requests"] for g in day_summary(store)["groups"]} == {f"p{i}": 500 for i in range(4)}


def test_histograms_merge_by_addition_and_survive_storage():
    a = histogram.with_value(histogram.with_value(0, 5.0), 2000.0)
    b = histogram.with_value(0, 5.2)
    merged = histogram.from_blob(histogram.hist_add(histogram.to_blob(a), histogram.to_blob(b)))
    assert merged == a + b
    assert sum(histogram.counts(merged)) == 3
    assert histogram.percentile(merged, 0.5) == pytest.approx(5.1, rel=0.06)
    assert histogram.percentile(merged, 1.0) == pytest.approx(2000, rel=0.06)
    assert histogram.percentile(histogram.with_value(0, 0.2), 0.5) == 0.5
    assert histogram.percentile(histogram.with_value(0, 10 * 3600 * 1000), 0.5) == 2 ** 21  # the last bin
