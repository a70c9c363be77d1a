"""Soak test: mixed streaming and non-streaming traffic with injected upstream faults through a
2-worker gunicorn, for a bounded time. Reports requests served, errors by kind, and the workers'
RSS over time (it must level off, not grow).

    .venv/bin/python bench/soak.py --minutes 10 --clients 16

Not part of the test suite. Traffic goes to 127.0.0.1 only."""

import argparse
import collections
import json
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support import wire  # noqa: E402
from tests.support.fake_upstream import FakeUpstream, Reply  # noqa: E402
from tests.support.gateway_process import GatewayProcess  # noqa: E402

KEY = "sk-soak-client-key-0001"
FAULTS = [  # (share, what the upstream does)
    (0.04, "status_500"), (0.03, "status_429"), (0.02, "drop"), (0.02, "cut_midstream"), (0.01, "stall"),
]


class FaultyUpstream(FakeUpstream):
    """The fake provider, misbehaving at random on a share of requests."""

    def default_reply(self, seen):
        reply = super().default_reply(seen)
        roll, acc = random.random(), 0.0
        for share, fault in FAULTS:
            acc += share
            if roll < acc:
                return self.fault(fault, seen, reply)
        if reply.events:
            reply.gap = 0.01
        return reply

    def fault(self, fault, seen, reply):
        if fault == "status_500":
            return Reply(status=500, body=wire.openai_error(500, "injected", "server_error"))
        if fault == "status_429":
            return Reply(status=429, body=wire.openai_error(429, "injected", "requests"), headers={"Retry-After": "1"})
        if fault == "drop":
            return Reply(drop=True)
        if reply.events is None:
            return Reply(status=502, body=b"bad gateway")
        if fault == "cut_midstream":
            reply.cut_after = max(2, len(reply.events) // 2)
        else:
            reply.gate, reply.gate_timeout = threading.Event(), 3.0  # stalls past the idle timeout
        return reply


def rss_kib(pid):
    total = 0
    for p in [pid] + children(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def children(pid):
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def client_loop(url, deadline, counts, lock):
    session = requests.Session()
    while time.time() < deadline:
        stream = random.random() < 0.5
        alias = random.choice(["both", "solo"])
        body = {"model": alias, "stream": stream, "messages": [{"role": "user", "content": "soak " * random.randint(1, 50)}]}
        kind = "ok"
        try:
            if random.random() < 0.03:  # a client that hangs up mid-stream
                with session.post(url, json={**body, "stream": True}, headers={"Authorization": f"Bearer {KEY}"},
                                  stream=True, timeout=30) as r:
                    next(r.iter_lines(), None)
                kind = "client_hangup"
            else:
                r = session.post(url, json=body, headers={"Authorization": f"Bearer {KEY}"}, timeout=30)
                text = r.text
                if r.status_code != 200:
                    kind = f"http_{r.status_code}"
                elif stream and not text.rstrip().endswith("data: [DONE]"):
                    kind = "stream_error_event" if '"error"' in text else "stream_truncated"
        except requests.RequestException as e:
            kind = f"client_{type(e).__name__}"
        with lock:
            counts[kind] += 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--clients", type=int, default=16)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, FaultyUpstream() as up:
        config = Path(tmp) / "plexus.yaml"
        config.write_text(f"""
keys: {{soak: {{secret: {KEY}}}}}
providers:
  a: {{type: chat, api_base_url: "{up.url}/v1", api_key: ka, timeouts: {{connect: 2, read: 10, idle: 1.5}}}}
  b: {{type: chat, api_base_url: "{up.url}/v1", api_key: kb, timeouts: {{connect: 2, read: 10, idle: 1.5}}}}
cooldown: {{initial_s: 1, max_s: 5}}
models:
  both: {{targets: [{{provider: a, model: m1}}, {{provider: b, model: m2}}]}}
  solo: {{targets: [{{provider: a, model: m3}}]}}
""")
        env = {"DATABASE_URL": str(Path(tmp) / "soak.db")}
        with GatewayProcess(config, env=env, workers=2, log_path=Path(tmp) / "gw.log") as gw:
            url = gw.url + "/v1/chat/completions"
            counts, lock = collections.Counter(), threading.Lock()
            deadline = time.time() + args.minutes * 60
            threads = [threading.Thread(target=client_loop, args=(url, deadline, counts, lock), daemon=True)
                       for _ in range(args.clients)]
            start_rss = rss_kib(gw.proc.pid)
            samples = [(0, start_rss)]
            for t in threads:
                t.start()
            began = time.time()
            while any(t.is_alive() for t in threads):
                time.sleep(min(30, max(deadline - time.time(), 0) + 1))
                samples.append((round(time.time() - began), rss_kib(gw.proc.pid)))
            for t in threads:
                t.join()
            rows = None
            time.sleep(2)
        import sqlite3

        with sqlite3.connect(Path(tmp) / "soak.db") as conn:
            rows = conn.execute("SELECT count(*) FROM usage").fetchone()[0]
    total = sum(counts.values())
    report = {"minutes": args.minutes, "clients": args.clients, "requests": total, "usage_rows": rows,
              "outcomes": dict(counts.most_common()), "rss_kib_samples": samples}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
