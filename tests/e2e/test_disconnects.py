"""Clients that hang up mid-stream, through the real gunicorn gevent worker: the upstream is
closed and the greenlet ends promptly, nothing leaks, every request is recorded, and the worker
keeps serving."""

import json
import random
import socket
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.support.configs import config_text
from tests.support.secrets import ADMIN_SECRET, CLIENT_SECRET
from tests.support import wire
from tests.support.fake_upstream import FakeUpstream
from tests.support.gateways import gateway_for


def runtime(gw):
    return requests.get(gw.url + "/v0/management/runtime", headers={"x-admin-key": ADMIN_SECRET}, timeout=5).json()


def open_stream(gw, read_bytes):
    """A raw client: send a streaming request, read about `read_bytes` of the answer, hang up."""
    body = json.dumps({"model": "fast", "stream": True, "messages": [{"role": "user", "content": "x"}]}).encode()
    sock = socket.create_connection(("127.0.0.1", gw.port), timeout=10)
    try:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Authorization: Bearer " + CLIENT_SECRET.encode() + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        got = b""
        while len(got) < read_bytes:
            chunk = sock.recv(4096)
            if not chunk:
                break
            got += chunk
    finally:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # reset, not a polite close
        sock.close()


def wait_idle(gw, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        state = runtime(gw)
        if state["streams_in_flight"] == 0:
            return state
        time.sleep(0.1)
    raise AssertionError(f"streams still in flight: {state}")


def test_two_hundred_hang_ups_leak_nothing(tmp_path):
    with FakeUpstream() as fake:
        db = tmp_path / "usage.db"
        with gateway_for(config_text(fake.url), tmp_path, env={"DATABASE_URL": str(db)}) as gw:
            fake.default_reply = lambda seen: FakeUpstream.default_reply(fake, seen) if not (seen.body or {}).get("stream") else \
                __import__("tests.support.fake_upstream", fromlist=["Reply"]).Reply(
                    events=wire.chat_stream("up-model", [f"t{i} " for i in range(40)]), gap=0.05)
            for _ in range(3):  # warm up: pools and lazily created state
                requests.post(gw.url + "/v1/chat/completions", headers={"Authorization": f"Bearer {CLIENT_SECRET}"},
                              json={"model": "fast", "stream": True, "messages": [{"role": "user", "content": "x"}]}, timeout=10).content
            baseline = wait_idle(gw)

            rnd = random.Random(7)
            points = [rnd.choice([0, 200, 600, 1500, 3000, 6000]) for _ in range(200)]
            with ThreadPoolExecutor(50) as pool:
                list(pool.map(lambda n: open_stream(gw, n), points))
            wait_idle(gw)
            deadline = time.time() + 5  # watchers notice their stop flag within half a second
            while time.time() < deadline:
                after = runtime(gw)
                if after["greenlets"] <= baseline["greenlets"] + 2 and after["open_fds"] <= baseline["open_fds"] + 4:
                    break
                time.sleep(0.2)
            assert after["open_fds"] <= baseline["open_fds"] + 4, (baseline, after)
            assert after["greenlets"] <= baseline["greenlets"] + 2, (baseline, after)

            ok = requests.post(gw.url + "/v1/chat/completions", headers={"Authorization": f"Bearer {CLIENT_SECRET}"},
                               json={"model": "fast", "messages": [{"role": "user", "content": "x"}]}, timeout=10)
            assert ok.status_code == 200
        with sqlite3.connect(db) as conn:
            statuses = dict(conn.execute("SELECT status, count(*) FROM usage GROUP BY status").fetchall())
    assert sum(statuses.values()) == 3 + 200 + 1
    assert statuses.get("cancelled", 0) >= 150, statuses  # some clients read the whole short stream first


def test_a_hang_up_during_a_slow_upstream_ends_the_relay_within_a_second(tmp_path):
    with FakeUpstream() as fake:
        with gateway_for(config_text(fake.url), tmp_path) as gw:
            fake.reply(events=wire.chat_stream("up-model", ["a", "b", "c"]), gap=8)  # 8 s between chunks
            open_stream(gw, 100)  # reads the first chunk, then hangs up
            started = time.time()
            wait_idle(gw, timeout=5)
            assert time.time() - started < 1.5
