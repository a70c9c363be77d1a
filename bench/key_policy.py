"""What per-key policy costs on the hot path (issue 14): CPU per request for a key with every
policy field set (allowed_models, rpm, tpm, concurrent, a monthly budget, expires_at) against a key
with none, on the SQLite store. Target: at most 0.1 ms CPU more per request.

    .venv/bin/python bench/key_policy.py [--requests N] [--rounds R] [--window W]

Two measurements, in one process, the store in a temporary folder:
1. the policy alone: `Policy.admit` + `Policy.finish` (what a governed request adds to the
   pipeline; a key with no policy does one `is None` test instead), with W requests already in the
   key's rolling minute and a month of hourly usage rollups behind its budget;
2. whole requests through the app (Flask's test client, a local fake upstream whose threads are
   not counted: CPU is this thread's), the two keys alternating request by request, median of rounds.
"""

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from plexus import create_app  # noqa: E402
from plexus.services import close_app  # noqa: E402
from tests.support.fake_upstream import FakeUpstream  # noqa: E402

FREE, GOVERNED = "sk-bench-free-key-0001", "sk-bench-governed-key-0001"
BODY = {"model": "fast", "messages": [{"role": "user", "content": "x" * 1000}]}


def config(url):
    return f"""
keys:
  free: {{secret: {FREE}}}
  governed:
    secret: {GOVERNED}
    allowed_models: [fast]
    limits: {{rpm: 1000000000, tpm: 1000000000000, concurrent: 10000}}
    budget: {{usd: 1000000, period: month}}
    expires_at: 2999-01-01T00:00:00Z
providers:
  up: {{type: chat, api_base_url: {url}/v1, models: {{up-model: {{pricing: {{input: 1, output: 2}}}}}}}}
models:
  fast: {{targets: [{{provider: up, model: up-model}}]}}
"""


def seed_month(store, hours=31 * 24):
    """One priced record an hour for the governed key over the last month (its budget's rollups)."""
    now = time.time()
    rows = [{"request_id": uuid.uuid4().hex, "record_key": uuid.uuid4().hex, "time": now - 3600 * h,
             "key_name": "governed", "status": 200, "cost": 0.001} for h in range(hours)]
    store.write_batch(rows)


def per_request_us(fn, n):
    start = time.thread_time()
    for _ in range(n):
        fn()
    return (time.thread_time() - start) / n * 1e6


def policy_alone(app, n, window):
    gw = app.extensions["plexus"]
    key = gw.config.keys["governed"]
    for _ in range(window):  # requests already in the key's rolling minute
        gw.policy.finish(gw.policy.admit(key, "fast", "chat", 1000, time.time()), None)

    def one():
        ticket = gw.policy.admit(key, "fast", "chat", 1000, time.time())
        gw.policy.finish(ticket, None)

    return per_request_us(one, n)


def whole_requests(app, n, rounds):
    client = app.test_client()

    def call(secret):
        resp = client.post("/v1/chat/completions", json=BODY, headers={"Authorization": f"Bearer {secret}"})
        assert resp.status_code == 200, resp.get_data()

    figures = {"free": [], "governed": []}
    for _ in range(rounds):  # the keys alternate request by request, so drift in the machine's load hits both
        spent = {"free": 0.0, "governed": 0.0}
        for _ in range(n):
            for name, secret in (("free", FREE), ("governed", GOVERNED)):
                start = time.thread_time()
                call(secret)
                spent[name] += time.thread_time() - start
        for name, total in spent.items():
            figures[name].append(total / n * 1e6)
    return {k: statistics.median(v) for k, v in figures.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--window", type=int, default=100, help="requests already in the rolling minute")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, FakeUpstream() as up:
        path = Path(tmp) / "plexus.yaml"
        path.write_text(config(up.url))
        app = create_app(str(path), watch=False, DATABASE=str(Path(tmp) / "bench.db"))
        try:
            seed_month(app.extensions["plexus.usage"].store)
            alone = policy_alone(app, args.requests * 3, args.window)
            whole = whole_requests(app, args.requests, args.rounds)
        finally:
            close_app(app)
    print(f"policy alone (admit + finish), {args.window} requests in the window, a month of budget rollups: "
          f"{alone:.1f} us CPU per request")
    print(f"whole request, key without policy: {whole['free']:.1f} us CPU; with every field: {whole['governed']:.1f} us CPU;"
          f" difference {whole['governed'] - whole['free']:+.1f} us (median of {args.rounds} rounds of {args.requests})")


if __name__ == "__main__":
    main()
