"""The per-key limit counters (storage.base.KeyLimitStore) on both backends: shared memory beside a
SQLite database for one machine, rows under an advisory lock in PostgreSQL for several."""

import threading

NOW = 1_000_000.0


def test_rpm_admits_up_to_the_limit_then_refuses_with_the_counts(storage):
    store = storage.limits
    leases = [store.admit("k", NOW + i, 60, (3, None, None), 10, NOW + 30)[0] for i in range(3)]
    assert all(lease is not None for lease in leases)
    lease, counts = store.admit("k", NOW + 3, 60, (3, None, None), 10, NOW + 33)
    assert lease is None and counts.requests == 3 and counts.tokens == 30 and counts.oldest == NOW
    assert store.admit("other", NOW + 3, 60, (3, None, None), 10, NOW + 33)[0] is not None  # per key
    assert store.admit("k", NOW + 61, 60, (3, None, None), 10, NOW + 91)[0] is not None  # the window rolled on


def test_tpm_counts_the_upstreams_figure_once_a_request_ends(storage):
    store = storage.limits
    lease, _ = store.admit("k", NOW, 60, (None, 100, None), 10, NOW + 30)
    store.finish(lease, 95)
    refused, counts = store.admit("k", NOW + 1, 60, (None, 100, None), 10, NOW + 31)
    assert refused is None and counts.tokens == 95
    assert store.admit("k", NOW + 1, 60, (None, 100, None), 5, NOW + 31)[0] is not None


def test_a_dead_workers_lease_frees_itself_and_renewed_leases_hold(storage):
    store = storage.limits
    lease, _ = store.admit("k", NOW, 60, (None, None, 1), 10, NOW + 30)
    assert lease is not None
    assert store.admit("k", NOW + 29, 60, (None, None, 1), 10, NOW + 59)[0] is None  # still leased
    lease2, counts = store.admit("k", NOW + 31, 60, (None, None, 1), 10, NOW + 61)  # nobody renewed the first
    assert lease2 is not None and counts.in_flight == 0
    store.renew([lease2], NOW + 100, NOW + 31)
    assert store.counts("k", NOW + 90, 60).in_flight == 1
    store.finish(lease2, 42)
    assert store.counts("k", NOW + 90, 60) == (1, 42, 0, NOW + 31)


def test_concurrent_admissions_never_pass_the_limit(storage):
    store, admitted = storage.limits, []

    def one():
        lease, _ = store.admit("k", NOW, 60, (5, None, None), 1, NOW + 30)
        if lease is not None:
            admitted.append(lease)

    threads = [threading.Thread(target=one) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(admitted) == 5


def test_spent_reads_the_keys_priced_and_unpriced_records(storage):
    storage.usage.write_batch([
        {"request_id": "a", "record_key": "a", "time": NOW, "key_name": "k", "status": 200, "cost": 0.25},
        {"request_id": "b", "record_key": "b", "time": NOW + 5, "key_name": "k", "status": 200, "cost": None},
        {"request_id": "c", "record_key": "c", "time": NOW, "key_name": "other", "status": 200, "cost": 9.0},
    ])
    spent, unpriced = storage.limits.spent("k", None)
    assert round(spent, 6) == 0.25 and unpriced == 1
    assert storage.limits.spent("k", NOW + 7200) == (0.0, 0)


def _spend(key, at, cost):
    return {"request_id": f"r{at}-{cost}", "record_key": f"k{at}-{cost}", "time": at, "key_name": key, "status": 200, "cost": cost}


def test_spent_counts_hours_from_since_to_before_until(storage):
    hour = 3600 * 300_000
    storage.usage.write_batch([_spend("k", hour - 1, 1.0), _spend("k", hour + 10, 2.0), _spend("k", hour + 3600, 4.0),
                               _spend("k", hour + 3601, None), _spend("other", hour, 8.0)])
    limits = storage.limits
    assert limits.spent("k", None) == (7.0, 1)
    assert limits.spent("k", hour) == (6.0, 1)
    assert limits.spent("k", hour, hour + 3600) == (2.0, 0)
    assert limits.spent("k", None, hour) == (1.0, 0)


def test_a_budget_reads_the_last_two_hours_fresh_and_sums_the_hours_before_once_an_hour(storage, monkeypatch):
    from plexus.core import policy as policy_module

    hour = 3600 * 300_000
    now = hour + 1800  # half past; the period began 5 hours ago
    start = hour - 5 * 3600
    storage.usage.write_batch([_spend("k", hour - 3 * 3600, 1.0), _spend("k", hour - 60, 0.5), _spend("k", now - 60, 0.25)])
    policy = policy_module.Policy()
    policy.store = storage.limits
    assert policy.spent("k", start, now) == (1.75, 0)
    # another worker's records: one late for a closed hour, one now; neither seen while the read is fresh
    storage.usage.write_batch([_spend("k", hour - 4 * 3600, 2.0), _spend("k", now - 30, 0.125)])
    assert policy.spent("k", start, now + 1) == (1.75, 0)
    policy.charged("k", 0.0625)  # this process's own records count at once
    policy.charged("k", None)
    assert policy.spent("k", start, now + 1) == (1.8125, 1)
    monkeypatch.setattr(policy_module, "SPEND_FRESH_S", 0.0)
    assert policy.spent("k", start, now + 2) == (1.875, 0)  # the fresh read has the last two hours, not the late one
    assert policy.spent("k", start, now + 3600) == (3.875, 0)  # the next hour sums the closed hours again
