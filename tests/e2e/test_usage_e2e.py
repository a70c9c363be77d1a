"""Usage records through the real gateway (gunicorn, gevent, two workers sharing one SQLite file):
a client hanging up mid-stream, 2,000 concurrent requests, a worker stopped under load.

The fake upstream numbers its answers (prompt_tokens = BASE + the number in the request), so every
row names the request that made it."""

import itertools
import os
import signal
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
import requests

from plexus.usage.params import Filters
from plexus.storage import open_storage
from tests.support.configs import config_text
from tests.support.secrets import ADMIN_SECRET, CLIENT_SECRET
from tests.support import wire
from tests.support.fake_upstream import FakeUpstream, Reply
from tests.support.gateways import gateway_for

BASE = 100_000
AUTH = {"Authorization": f"Bearer {CLIENT_SECRET}"}


class NumberingUpstream(FakeUpstream):
    stream_gap = 0.0

    def default_reply(self, seen):
        body = seen.body if isinstance(seen.body, dict) else {}
        try:
            n = int(body["messages"][0]["content"].split()[-1])
        except (KeyError, IndexError, ValueError):
            return super().default_reply(seen)
        usage = wire.chat_usage(prompt=BASE + n, completion=2)
        if body.get("stream"):
            return Reply(events=wire.chat_stream(body["model"], ["o", "k"], usage=usage), gap=self.stream_gap)
        return Reply(body=wire.chat_completion(body["model"], "ok", usage=usage))


def chat_body(n, stream=False):
    return {"model": "fast", "messages": [{"role": "user", "content": f"request {n}"}], "stream": stream}


def completed(session, url, n, stream):
    """True when request n got its whole answer (the client-side acknowledgement)."""
    resp = session.post(url + "/v1/chat/completions", json=chat_body(n, stream), headers=AUTH, timeout=30)
    if resp.status_code != 200:
        return False
    if stream:
        return resp.content.endswith(b"data: [DONE]\n\n")
    return resp.json()["usage"]["prompt_tokens"] == BASE + n


@contextmanager
def running_gateway(fake, tmp_path, workers=2):
    """(gateway, its database path): two workers sharing one SQLite file, given as a sqlite:/// URL."""
    db = tmp_path / "usage.db"
    with gateway_for(config_text(fake.url), tmp_path, env={"DATABASE_URL": f"sqlite:///{db}"}, workers=workers) as gw:
        yield gw, str(db)


def usage(gw, query=""):
    resp = requests.get(f"{gw.url}/v0/management/usage?{query}", headers={"x-admin-key": ADMIN_SECRET}, timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()


def wait_for(check, timeout=15.0):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.1)


@pytest.fixture(scope="module")
def fake():
    with NumberingUpstream() as up:
        yield up


@pytest.fixture(scope="module")
def gateway(fake, tmp_path_factory):
    with running_gateway(fake, tmp_path_factory.mktemp("usage-e2e")) as (gw, _):
        yield gw


def test_a_client_hanging_up_mid_stream_leaves_a_cancelled_row(gateway, fake):
    fake.reply(events=wire.chat_stream("up-model", [f"w{i} " for i in range(200)]), gap=0.02)
    url = gateway.url + "/v1/chat/completions"
    with requests.post(url, json=chat_body(0, stream=True), headers=AUTH, stream=True, timeout=10) as resp:
        assert resp.status_code == 200
        next(resp.iter_content(64))
    rows = wait_for(lambda: usage(gateway, "status=cancelled")["data"])
    assert len(rows) == 1
    assert (rows[0]["streamed"], rows[0]["alias"], rows[0]["key_name"]) == (True, "fast", "test")
    assert rows[0]["duration_ms"] < 4000  # the stream was cut well before its 200 events


def test_2000_concurrent_requests_leave_exactly_2000_rows(gateway):
    """One row per request whatever became of it; each completed request's row is its own."""
    since = time.time()
    local, sessions = threading.local(), []

    def one(n):
        if not hasattr(local, "session"):
            local.session = requests.Session()
            sessions.append(local.session)
        try:
            return n, completed(local.session, gateway.url, n, stream=n % 4 == 0)
        except requests.RequestException as e:  # on a starved machine: still a request, still a row
            return n, type(e).__name__

    with ThreadPoolExecutor(64) as pool:
        outcomes = dict(pool.map(one, range(1, 2001), timeout=120))
    for session in sessions:
        session.close()
    done = {n for n, ok in outcomes.items() if ok is True}
    assert len(done) > 1500, Counter(outcomes.values())

    def count():
        return usage(gateway, f"since={since}&limit=1")["total"]

    wait_for(lambda: count() >= 2000)
    time.sleep(0.5)  # a 2,001st row would have arrived by now
    rows = [r for offset in (0, 1000) for r in usage(gateway, f"since={since}&limit=1000&offset={offset}")["data"]]
    assert len(rows) == 2000 == count(), Counter(outcomes.values())
    assert done <= {r["input_tokens"] - BASE for r in rows if r["status"] == 200}
    assert sum(r["streamed"] for r in rows) == 500


def worker_pids(master):
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == master:
                pids.append(int(entry))
    return pids


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGQUIT], ids=["graceful", "quick"])
def test_a_worker_stopped_under_load_loses_no_acknowledged_record(tmp_path, sig):
    with NumberingUpstream() as fake:
        fake.stream_gap = 0.05  # streams last ~0.25 s, so some are in flight when the worker stops
        acknowledged, numbers, stop = set(), itertools.count(1), threading.Event()

        def client():
            with requests.Session() as session:
                while not stop.is_set():
                    n = next(numbers)
                    try:
                        if completed(session, gw.url, n, stream=n % 2 == 0):
                            acknowledged.add(n)
                    except requests.RequestException:
                        pass  # not acknowledged: the client would retry it

        with running_gateway(fake, tmp_path) as (gw, db):
            clients = [threading.Thread(target=client) for _ in range(16)]
            for t in clients:
                t.start()
            time.sleep(1.0)
            victim = worker_pids(gw.proc.pid)[0]
            os.kill(victim, sig)
            assert wait_for(lambda: victim not in worker_pids(gw.proc.pid), timeout=30)
            time.sleep(0.5)
            stop.set()
            for t in clients:
                t.join(30)
        log = gw.log()

    assert f"Worker exiting (pid: {victim})" in log
    rows, total = open_storage(db).usage.query(Filters(), 1_000_000, 0)
    stored = [r["input_tokens"] - BASE for r in rows if r["status"] == 200]
    assert len(acknowledged) > 50
    assert acknowledged <= set(stored), f"{len(acknowledged - set(stored))} acknowledged requests have no row"
    assert len(stored) == len(set(stored))  # and none was stored twice
