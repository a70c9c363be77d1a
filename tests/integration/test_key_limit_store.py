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
