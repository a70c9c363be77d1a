"""Several gateways on one PostgreSQL database, end to end (real gunicorn, the session's throw-away
cluster): two instances behave as one; a slow query does not stall a worker; the database going
away loses no record; a worker killed outright loses no record (on both backends)."""

import os
import re
import signal
import threading
import time
import uuid
from pathlib import Path

import psycopg
import pytest
import requests

from tests.support.gateways import gateway_for, provider, shared_config
from tests.support.gateway_process import free_port
from tests.support.secrets import ADMIN_SECRET, CLIENT_SECRET

AUTH = {"Authorization": f"Bearer {CLIENT_SECRET}"}
ADMIN = {"x-admin-key": ADMIN_SECRET}


def pg_gateway(config, folder, url, workers=1):
    """A gateway on `url`, with its own folder (config file, fallback spool, journals): one machine."""
    return gateway_for(config, folder, env={"DATABASE_URL": url, "PLEXUS_SPOOL_DIR": str(folder)}, workers=workers)


def chat(gw, request_id=None, model="fast", timeout=10):
    headers = {**AUTH, "x-request-id": request_id} if request_id else AUTH
    return requests.post(gw.url + "/v1/chat/completions", headers=headers, timeout=timeout,
                         json={"model": model, "messages": [{"role": "user", "content": "hi"}]})


def records(gw, **params):
    resp = requests.get(gw.url + "/v0/management/usage", headers=ADMIN, params={"limit": 1000, **params}, timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()


def stored_request_ids(gw):
    """The request ids the management API lists, or an empty set while it cannot answer."""
    resp = requests.get(gw.url + "/v0/management/usage", headers=ADMIN, params={"limit": 1000}, timeout=10)
    return {r["request_id"] for r in resp.json()["data"]} if resp.status_code == 200 else set()


def all_request_ids(gw):
    ids, offset = set(), 0
    while True:
        page = records(gw, offset=offset)
        ids |= {r["request_id"] for r in page["data"]}
        offset += len(page["data"])
        if not page["data"] or offset >= page["total"]:
            return ids


def eventually(check, timeout=10.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(interval)


def two_target_config(fake_url):
    """The shared config plus `pair`: a target nobody listens at first, then the fake."""
    config = shared_config(fake_url)
    config["providers"]["dead"] = provider("chat", f"http://127.0.0.1:{free_port()}/v1", timeouts={"connect": 1, "read": 5})
    config["models"]["pair"] = {"selector": "in_order", "targets": [{"provider": "dead", "model": "m"},
                                                                    {"provider": "up", "model": "up-model"}]}
    return config


@pytest.fixture
def two(postgres, fake, tmp_path):
    """Gateways A and B (two 'machines': own folders and config files) on one new database."""
    url = postgres.create_database()
    config = two_target_config(fake.url)
    with pg_gateway(config, tmp_path / "a", url) as a, pg_gateway(config, tmp_path / "b", url) as b:
        yield a, b


def test_a_request_served_by_a_appears_in_bs_management_api(two):
    a, b = two
    assert chat(a, "served-by-a").status_code == 200
    found = eventually(lambda: records(b, request_id="served-by-a")["data"], timeout=5)
    assert found[0]["alias"] == "fast" and found[0]["status"] == 200
    assert "served-by-a" in login(b).get(f"{b.url}/logs/{found[0]['id']}", timeout=5).text  # and B's dashboard
    assert requests.get(b.url + "/health", timeout=5).json() == {"status": "ok", "store": "ok"}


def test_a_responses_conversation_started_on_a_continues_on_b(two, fake):
    a, b = two
    first = requests.post(a.url + "/v1/responses", headers=AUTH, timeout=10,
                          json={"model": "to-chat", "input": "My name is Ada."})
    assert first.status_code == 200, first.text
    second = requests.post(b.url + "/v1/responses", headers=AUTH, timeout=10,
                           json={"model": "to-chat", "input": "What is my name?", "previous_response_id": first.json()["id"]})
    assert second.status_code == 200, second.text
    sent = fake.last.body["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"] and "Ada" in str(sent[0])
    assert requests.get(f"{b.url}/v1/responses/{first.json()['id']}", headers=AUTH, timeout=5).status_code == 200


def test_a_cooldown_set_by_failures_on_a_is_honoured_by_b_within_a_second(two):
    a, b = two
    assert chat(a, "fails-over-on-a", model="pair").status_code == 200  # `dead` refused: cooled down
    answered = time.monotonic()
    time.sleep(max(0.0, 1.0 - (time.monotonic() - answered)))
    assert chat(b, "skips-on-b", model="pair").status_code == 200
    on_a = eventually(lambda: records(a, request_id="fails-over-on-a")["data"], timeout=5)[0]
    on_b = eventually(lambda: records(b, request_id="skips-on-b")["data"], timeout=5)[0]
    assert [t["provider"] for t in on_a["attempts"]] == ["dead", "up"]
    assert [t["provider"] for t in on_b["attempts"]] == ["up"]  # B never tried `dead`


def login(gw):
    session = requests.Session()
    token = re.search(r'name="csrf_token" value="([^"]+)"', session.get(gw.url + "/login", timeout=5).text).group(1)
    resp = session.post(gw.url + "/login", data={"admin_key": ADMIN_SECRET, "csrf_token": token, "next": "/config"},
                        timeout=5)
    assert resp.status_code == 200, resp.text[:300]
    return session


def test_a_dashboard_config_edit_on_a_takes_effect_on_b_within_5_seconds(two):
    a, b = two
    session = login(a)
    page = session.get(a.url + "/config", timeout=5).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    version = re.search(r'name="version" value="([^"]*)"', page).group(1)
    text = Path(a.config_path).read_text() + "  added-on-a:\n    targets: [{provider: up, model: up-model}]\n"
    saved = session.post(a.url + "/config", data={"text": text, "version": version, "action": "save",
                                                  "csrf_token": token}, timeout=10)
    assert saved.status_code == 200 and "Saved." in saved.text
    started = time.monotonic()

    def b_knows():
        names = [m["id"] for m in requests.get(b.url + "/v1/models", headers=AUTH, timeout=5).json()["data"]]
        return "added-on-a" in names

    eventually(b_knows, timeout=5.0)
    assert time.monotonic() - started < 5.0
    assert "added-on-a" in Path(b.config_path).read_text()  # B's own file, kept in step


def test_a_slow_query_does_not_stall_the_workers_other_requests(postgres, fake, tmp_path):
    url = postgres.create_database()
    with pg_gateway(shared_config(fake.url), tmp_path, url) as gw:
        assert chat(gw).status_code == 200
        slow = {}

        def hold_the_table():  # another session sleeps 2 s holding a lock the gateway's query needs
            with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
                conn.execute("LOCK TABLE responses IN ACCESS EXCLUSIVE MODE")
                holding.set()
                conn.execute("SELECT pg_sleep(2)")

        def slow_request():
            started = time.monotonic()
            slow["status"] = requests.get(gw.url + "/v1/responses/resp_nobody", headers=AUTH, timeout=20).status_code
            slow["seconds"] = time.monotonic() - started

        holding = threading.Event()
        holder = threading.Thread(target=hold_the_table)
        holder.start()
        assert holding.wait(10)
        waiting = threading.Thread(target=slow_request)
        waiting.start()
        time.sleep(0.3)  # the slow query is waiting in PostgreSQL now
        fast = []
        for _ in range(5):
            started = time.monotonic()
            assert chat(gw).status_code == 200 and requests.get(gw.url + "/health", timeout=5).status_code == 200
            fast.append(time.monotonic() - started)
        still_waiting = waiting.is_alive()
        holder.join(10)
        waiting.join(20)
    assert still_waiting and slow["status"] == 404 and slow["seconds"] >= 1.5
    assert max(fast) < 0.5, fast


def test_with_the_database_stopped_requests_are_served_and_records_arrive_when_it_returns(postgres, fake, tmp_path):
    url = postgres.create_database()
    with pg_gateway(shared_config(fake.url), tmp_path, url) as gw:
        assert chat(gw, "before").status_code == 200
        eventually(lambda: records(gw, request_id="before")["data"], timeout=5)
        postgres.stop("fast")
        try:
            ids = [f"while-down-{i}" for i in range(5)]
            for request_id in ids:
                assert chat(gw, request_id).status_code == 200
            assert requests.get(gw.url + "/health", timeout=5).status_code == 200
            eventually(lambda: requests.get(gw.url + "/health", timeout=5).json() == {"status": "ok", "store": "degraded"},
                       timeout=30, interval=0.5)
            eventually(lambda: os.path.exists(tmp_path / "plexus-pg.fallback.jsonl"), timeout=40, interval=0.5)
        finally:
            postgres.start()
        eventually(lambda: stored_request_ids(gw) >= {"before", *ids}, timeout=40, interval=0.5)
        assert records(gw)["total"] == 6  # each record once
        eventually(lambda: requests.get(gw.url + "/health", timeout=5).json()["store"] == "ok", timeout=20, interval=0.5)


def worker_pids(gw):
    with open(f"/proc/{gw.proc.pid}/task/{gw.proc.pid}/children") as f:
        return [int(p) for p in f.read().split()]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_workers_killed_outright_under_load_lose_no_answered_record(backend, request, fake, tmp_path):
    url = str(tmp_path / "plexus.db") if backend == "sqlite" else request.getfixturevalue("postgres").create_database()
    with pg_gateway(shared_config(fake.url), tmp_path, url, workers=2) as gw:
        answered, stop = [], threading.Event()

        def client(n):
            session = requests.Session()
            i = 0
            while not stop.is_set():
                request_id = f"c{n}-{i}-{uuid.uuid4().hex[:6]}"
                i += 1
                try:
                    resp = session.post(gw.url + "/v1/chat/completions", headers={**AUTH, "x-request-id": request_id},
                                        json={"model": "fast", "messages": [{"role": "user", "content": "hi"}]}, timeout=10)
                except requests.RequestException:
                    session = requests.Session()
                    continue
                if resp.status_code == 200:
                    answered.append(request_id)

        clients = [threading.Thread(target=client, args=(n,)) for n in range(8)]
        for t in clients:
            t.start()
        try:
            time.sleep(1.0)
            for pid in worker_pids(gw)[:2]:  # one after the other, as the OOM killer would
                os.kill(pid, signal.SIGKILL)
                time.sleep(1.0)
        finally:
            stop.set()
            for t in clients:
                t.join(15)
        assert len(answered) > 50
        eventually(lambda: set(answered) <= all_request_ids(gw), timeout=30, interval=0.5)
        assert "journal of a worker that died" in gw.log()  # the successors replayed what the dead held
