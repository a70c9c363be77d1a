"""The services an app runs and their one background scheduler: what close() stops and stores,
the periodic jobs (config watch, shared cooldowns, capture switch), and the scheduler itself."""

import threading
import time

import pytest

from plexus.config import CooldownPolicy
from plexus.services import close_app, running
from plexus.storage.scheduler import Scheduler
from plexus.usage.params import Filters
from plexus.usage.record import UsageRecord
from tests.support.configs import config_text


def plexus_threads():
    return sorted(t.name for t in threading.enumerate() if t.name.startswith("plexus-") and t.is_alive())


def eventually(check, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def test_an_app_runs_two_threads_and_close_stops_them_and_stores_what_it_held(env, write_config, upstream, make_app,
                                                                               tmp_path):
    before = plexus_threads()
    app = make_app(str(write_config(config_text(upstream.url))), DATABASE=str(tmp_path / "u.db"))
    assert plexus_threads() == sorted(before + ["plexus-scheduler", "plexus-usage-writer"])
    gw, services = app.extensions["plexus"], app.extensions["plexus.services"]
    assert services in running()
    gw.upstreams.session(gw.config.providers["up"])  # a pool to close
    for i in range(50):
        gw.record(UsageRecord(api_style="chat", request_id=f"held-{i}", status=200))
    close_app(app)
    close_app(app)  # twice is harmless
    assert plexus_threads() == before and services not in running()
    assert services.storage.usage.query(Filters(), 100, 0)[1] == 50  # nothing queued was lost
    assert gw.upstreams._sessions == {}
    gw.record(UsageRecord(api_style="chat", request_id="late", status=200))  # after close: the fallback file
    with open(services.storage.spool_path) as f:
        assert "late" in f.read()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_cooldowns_and_the_capture_switch_reach_the_other_workers_within_a_second(env, write_config, upstream, make_app,
                                                                                  tmp_path, request, backend):
    path = str(write_config(config_text(upstream.url)))
    database = str(tmp_path / "shared.db") if backend == "sqlite" else request.getfixturevalue("postgres").create_database()
    one, two = (make_app(path, DATABASE=database) for _ in range(2))
    gw1, gw2 = one.extensions["plexus"], two.extensions["plexus"]
    gw1.cooldowns.fail("up", "up-model", "boom", CooldownPolicy())
    gw1.capture.update(enabled=True)
    eventually(lambda: gw2.cooldowns.until("up", "up-model") is not None and gw2.capture.on, timeout=3)


def test_a_config_file_change_is_applied_by_the_scheduler(env, write_config, upstream, make_app):
    path = write_config(config_text(upstream.url))
    app = make_app(str(path))
    gw = app.extensions["plexus"]
    time.sleep(0.05)  # a new modification time, whatever the file system's resolution
    path.write_text(config_text(upstream.url, "  added:\n    targets: [{provider: up, model: up-model}]\n"))
    eventually(lambda: "added" in gw.config.names, timeout=5)


def test_the_scheduler_runs_jobs_at_their_interval_soon_when_asked_and_outlives_a_failure():
    runs, failures = [], []
    scheduler = Scheduler(name="plexus-test-scheduler")
    scheduler.every(0.05, "ticks", lambda: runs.append(time.monotonic()))
    lazy = scheduler.every(3600, "lazy", lambda: runs.append("lazy"), first=3600)

    def broken():
        failures.append(1)
        raise RuntimeError("boom")

    scheduler.every(0.05, "broken", broken)
    scheduler.start()
    try:
        eventually(lambda: len([r for r in runs if r != "lazy"]) >= 4 and len(failures) >= 2)
        assert "lazy" not in runs
        lazy.soon()
        eventually(lambda: "lazy" in runs, timeout=1)
    finally:
        scheduler.stop()
    assert not scheduler.running
    ticks = [r for r in runs if r != "lazy"]
    assert all(b - a >= 0.04 for a, b in zip(ticks, ticks[1:]))


def test_a_job_can_ask_to_run_again_sooner_and_what_jobs_return_is_ignored():
    runs = []
    scheduler = Scheduler(name="plexus-test-scheduler")
    eager = scheduler.every(3600, "eager", lambda: runs.append(1) or eager.within(0.02))
    scheduler.every(3600, "answers", lambda: False)  # ConfigWatcher.check answers True/False: not a delay
    scheduler.start()
    try:
        eventually(lambda: len(runs) >= 3, timeout=2)
        time.sleep(0.1)
        assert scheduler.jobs[1].due > time.monotonic() + 3000
    finally:
        scheduler.stop()
