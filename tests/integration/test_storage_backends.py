"""The stores besides usage on both backends (the `storage` fixture): stored responses, cooldowns,
the capture switch and captures, the shared config; and PostgreSQL's migrations (by name, one
transaction, safe when several gateways start at once)."""

import subprocess
import sys

import psycopg
import pytest

from plexus.storage import open_storage
from plexus.storage.postgres import migrations as pg_migrations
from tests.support.gateway_process import ROOT


def test_a_stored_response_belongs_to_its_key(storage):
    responses = storage.responses
    responses.put("resp_1", "test", {"input": [], "response": {"id": "resp_1"}})
    responses.put("resp_2", None, {"n": 2})
    assert responses.get("resp_1", "test") == {"input": [], "response": {"id": "resp_1"}}
    assert responses.get("resp_1", "other") is None and responses.get("resp_1", None) is None
    assert responses.get("resp_2", None) == {"n": 2}
    assert not responses.delete("resp_1", "other")
    assert responses.delete("resp_1", "test") and responses.get("resp_1", "test") is None
    responses.put("resp_2", None, {"n": 3})  # stored again: replaced
    assert responses.get("resp_2", None) == {"n": 3}
    assert responses.prune(0) == 0 and responses.prune(4e9) == 1


def test_cooldowns_are_saved_deleted_and_purged(storage):
    cooldowns = storage.cooldowns
    cooldowns.save({("up", "m1"): (2000.0, 1, "boom"), ("up", "m2"): (3000.0, 2, None)}, purge_before=0)
    assert cooldowns.load() == {("up", "m1"): (2000.0, 1, "boom"), ("up", "m2"): (3000.0, 2, None)}
    cooldowns.save({("up", "m1"): (2500.0, 2, "again"), ("up", "m2"): None}, purge_before=0)
    assert cooldowns.load() == {("up", "m1"): (2500.0, 2, "again")}
    cooldowns.save({}, purge_before=2600.0)
    assert cooldowns.load() == {}


def test_the_capture_switch_and_captures(storage):
    captures = storage.captures
    assert captures.load_switch() is None
    captures.save_switch({"enabled": True, "providers": ["up"]})
    captures.save_switch({"enabled": False, "providers": ["up"]})
    assert captures.load_switch() == {"enabled": False, "providers": ["up"]}
    sizes = [captures.add({"time": 100.0 + i, "request_id": f"r{i % 2}", "provider": "up", "alias": "fast",
                           "status": 200, "body": "x" * 100}) for i in range(4)]
    assert captures.stats() == {"stored": 4, "stored_bytes": sum(sizes)}
    listed = captures.list()
    assert [c["time"] for c in listed] == [103.0, 102.0, 101.0, 100.0] and "body" not in listed[0]
    assert [c["time"] for c in captures.list("r0", limit=1)] == [102.0]
    assert captures.for_request("r1")["time"] == 103.0 and captures.for_request("r1", at=100.9)["time"] == 101.0
    assert captures.get(listed[0]["id"])["body"] == "x" * 100
    captures.prune(before=101.0, max_total_bytes=2 * sizes[0])  # the oldest by age, then over the cap
    assert [c["time"] for c in captures.list()] == [103.0, 102.0]
    assert captures.clear() == 2 and captures.stats()["stored"] == 0


def test_only_postgresql_shares_the_config_and_publishing_the_same_text_keeps_the_version(storage):
    if storage.config is None:
        assert type(storage).__name__ == "SQLiteStorage"
        return
    assert storage.config.load() is None
    assert storage.config.publish("a: 1\n", 10.0, "host-a") == 1
    assert storage.config.publish("a: 1\n", 11.0, "host-b") == 1
    assert storage.config.publish("a: 2\n", 12.0, "host-b") == 2
    assert storage.config.load() == (2, "a: 2\n", 12.0)


# ---- PostgreSQL migrations -------------------------------------------------------------------------


def names(url):
    with psycopg.connect(url) as conn:
        return {n for (n,) in conn.execute("SELECT name FROM schema_migrations")}


def test_postgres_migrations_are_recorded_by_name_and_a_second_start_applies_nothing(postgres):
    url = postgres.create_database()
    first = open_storage(url)
    try:
        assert names(url) == {m.name for m in pg_migrations.MIGRATIONS}
        assert first.migrate() == []
    finally:
        first.close()


def test_a_failing_postgres_migration_changes_nothing(postgres):
    url = postgres.create_database()
    open_storage(url).close()

    def broken(conn):
        conn.execute("ALTER TABLE usage ADD COLUMN extra text")
        raise RuntimeError("disk on fire")

    with psycopg.connect(url, autocommit=True) as conn:
        with pytest.raises(RuntimeError):
            pg_migrations.migrate(conn, pg_migrations.MIGRATIONS + [pg_migrations.Migration("broken", broken)])
        columns = {r[0] for r in conn.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'usage'")}
    assert "extra" not in columns and "broken" not in names(url)


MIGRATE_SCRIPT = """
import sys, time
from plexus.storage.postgres import migrations
import psycopg
slow = migrations.Migration("slow-step", lambda conn: time.sleep(0.5))
with psycopg.connect(sys.argv[1], autocommit=True) as conn:
    print(",".join(migrations.migrate(conn, migrations.MIGRATIONS + [slow])))
"""


def test_gateways_starting_together_apply_each_postgres_step_once(postgres):
    url = postgres.create_database()
    procs = [subprocess.Popen([sys.executable, "-c", MIGRATE_SCRIPT, url], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outs
    applied = sorted(out.strip() for out, _ in outs)
    assert applied[:2] == ["", ""]  # the two that waited for the lock found nothing to do
    assert applied[2].split(",") == [m.name for m in pg_migrations.MIGRATIONS] + ["slow-step"]


def test_postgres_urls_with_libpq_options_are_accepted_and_no_refusal_shows_a_password():
    from types import SimpleNamespace

    from plexus.config import ConfigError
    from plexus.storage import database_url

    config = SimpleNamespace(database=None, path="plexus.yaml")
    for url in ("postgresql://plexus:pw@db.internal:5432/plexus?sslmode=require&connect_timeout=5",
                "postgres://plexus@db.internal/plexus", "sqlite:///data/x.db", "data/x.db"):
        assert database_url(config, url) == url
    for url in ("postgresql://plexus:sekret@db/plexus?no_such_option=1", "mysql://plexus:sekret@db/plexus"):
        with pytest.raises(ConfigError) as refused:
            database_url(config, url)
        assert "sekret" not in str(refused.value) and "database" in str(refused.value)
