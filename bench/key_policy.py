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

    .venv/bin/python bench/key_policy.py --gunicorn [--requests N] [--rounds R]

As users run it: two gateways (`gunicorn -k gevent -w 1` with the repo's gunicorn.conf.py, SQLite
store) on core 1, one called with the key without policy and one with the key with every field,
`bench/fake_upstream.js` and `bench/loadgen.js` (32 concurrent, non-streamed, the keys taking turns
in blocks) on core 0. The figure is each gateway's process CPU per request (usage writing included),
median of R rounds of N requests per key. Needs Node and taskset, like bench/run.sh.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT))

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


def under_gunicorn(requests, rounds):
    """{"free"|"governed": [CPU ms per request of its gateway, per round]}."""
    sys.path.insert(0, str(BENCH))
    from procs import Proc, Window, free_port, wait_http
    from run import body, headers, path, tokens_of

    pin = {0, 1} <= os.sched_getaffinity(0)
    core = (lambda c: c) if pin else (lambda c: None)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        procs = {}
        try:
            up = procs["upstream"] = Proc("fake_upstream", ["node", str(BENCH / "fake_upstream.js"), "0"], cwd=BENCH,
                                          log_path=work / "upstream.log", core=core(0), pipe_stdout=True)
            port = int(up.popen.stdout.readline().decode().split()[1])
            (work / "plexus.yaml").write_text(config(f"http://127.0.0.1:{port}").replace("up-model", "fake-n50-i10"))
            ports = {}
            for name in ("free", "governed"):
                ports[name] = free_port()
                env = {k: v for k, v in os.environ.items() if k not in ("WEB_CONCURRENCY", "ACCESS_LOG", "HOST", "PORT")}
                env.update(CONFIG_FILE=str(work / "plexus.yaml"), DATABASE_URL=f"sqlite:///{work / name}.db",
                           PLEXUS_SPOOL_DIR=str(work / name), GRACEFUL_TIMEOUT="5")
                (work / name).mkdir()
                procs[name] = Proc(name, [sys.executable, "-m", "gunicorn", "app:app", "-c", "gunicorn.conf.py",
                                          "--bind", f"127.0.0.1:{ports[name]}", "-w", "1"],
                                   cwd=ROOT, env=env, log_path=work / f"{name}.log", core=core(1))
                wait_http(procs[name], f"http://127.0.0.1:{ports[name]}/health")
            targets = [{"name": name, "url": f"http://127.0.0.1:{ports[name]}{path('chat', 'fast', False)}",
                        "headers": headers("chat", secret), "body": body("chat", "fast", False), "style": "chat",
                        "stream": False, "model": "fast", "tokens": tokens_of("n50-i10")}
                       for name, secret in (("free", FREE), ("governed", GOVERNED))]
            job = work / "job.json"
            job.write_text(json.dumps({"mode": "closed", "targets": targets, "concurrency": 32, "count": requests,
                                       "duration_s": 60, "warmup": 300, "blocks": 4, "sync": True}))
            figures = {"free": [], "governed": []}
            for _ in range(rounds):
                figures_of_round(job, core(0), Window({n: procs[n] for n in figures}), figures)
            return figures
        finally:
            for p in procs.values():
                p.stop()


def figures_of_round(job, client_core, window, figures):
    argv = ["node", str(BENCH / "loadgen.js"), f"@{job}"]
    if client_core is not None:
        argv = ["taskset", "-c", str(client_core), *argv]
    gen = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=BENCH)
    try:
        results = None
        for line in gen.stdout:
            msg = json.loads(line)
            if msg["event"] == "ready":
                window.start()
                gen.stdin.write("go\n")
                gen.stdin.flush()
            elif msg["event"] == "result":
                results = msg["results"]
            elif msg["event"] == "failed":
                raise RuntimeError(f"loadgen failed: {msg['error']}")
        gen.wait(120)
    finally:
        if gen.poll() is None:
            gen.kill()
    time.sleep(1.0)  # the usage writer stores off the request path: count that CPU too
    cpu = window.stop()["cpu_s"]
    for r in results:
        if r["errors"]:
            raise RuntimeError(f"{r['target']}: {r['errors']} failed answers")
        figures[r["target"]].append(1000 * cpu[r["target"]] / r["requests"])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--window", type=int, default=100, help="requests already in the rolling minute")
    parser.add_argument("--gunicorn", action="store_true", help="measure two gateways under gunicorn instead")
    args = parser.parse_args()
    if args.gunicorn:
        figures = under_gunicorn(args.requests, args.rounds)
        free, governed = (statistics.median(figures[k]) for k in ("free", "governed"))
        paired = statistics.median(b - a for a, b in zip(figures["free"], figures["governed"]))
        print("per round, ms CPU per request: " + "; ".join(f"{a:.3f} / {b:.3f}" for a, b in zip(figures["free"], figures["governed"])))
        print(f"under gunicorn, 32 concurrent, {args.requests} requests per key and round: key without policy {free * 1000:.0f} us CPU"
              f" per request, with every field {governed * 1000:.0f} us (medians of {args.rounds} rounds); difference: median of"
              f" the rounds' {1000 * paired:+.0f} us, of the medians {1000 * (governed - free):+.0f} us"
              f" (load average {open('/proc/loadavg').read().split()[0]})")
        return
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
