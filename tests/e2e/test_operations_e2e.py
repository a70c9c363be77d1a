"""Operations through the real gateway: gunicorn with two gevent workers, Prometheus' multiprocess
mode, the log level changed at run time for every worker, and no secret in the log or the stored
captures with the level at debug and capture on, error paths included."""

import glob
import json
import os
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.support.configs import config_text
from tests.support.secrets import ADMIN_SECRET, CLIENT_SECRET, PROVIDER_SECRET
from tests.support import wire
from tests.support.fake_upstream import FakeUpstream
from tests.support.gateways import gateway_for

TOKEN = "metrics-test-METRICSTOKEN-0001"
SECRETS = (CLIENT_SECRET, PROVIDER_SECRET, ADMIN_SECRET, TOKEN)
ADMIN = {"x-admin-key": ADMIN_SECRET}
AUTH = {"Authorization": f"Bearer {CLIENT_SECRET}"}


@pytest.fixture(scope="module")
def fake():
    with FakeUpstream() as up:
        yield up


@pytest.fixture(scope="module")
def gw(fake, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ops")
    config = config_text(fake.url) + "metrics:\n  token: ${PLEXUS_METRICS_TOKEN}\n"
    env = {"PLEXUS_METRICS_TOKEN": TOKEN, "PROMETHEUS_MULTIPROC_DIR": str(tmp / "prometheus")}
    with gateway_for(config, tmp, env=env, workers=2) as process:
        process.tmp = tmp
        yield process


def chat(gw, stream=False, headers=AUTH, content="hi", url="/v1/chat/completions"):
    body = {"model": "fast", "messages": [{"role": "user", "content": content}], "stream": stream}
    with requests.post(gw.url + url, json=body, headers=headers, timeout=15) as resp:  # a new connection each
        return resp.status_code, resp.content


def scrape(gw):
    resp = requests.get(gw.url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
    assert resp.status_code == 200, resp.text
    return [s for f in text_string_to_metric_families(resp.text) for s in f.samples]


def total(samples, name, **labels):
    return sum(s.value for s in samples if s.name == name and labels.items() <= s.labels.items())


def worker_pids_with_counters(gw):
    return {os.path.basename(p).split("_")[1] for p in glob.glob(str(gw.tmp / "prometheus" / "counter_*.db"))}


def test_metrics_add_up_whatever_worker_served_or_answers(gw):
    sent = streamed = 0
    with ThreadPoolExecutor(10) as pool:
        while sent < 20 or (sent < 100 and not wait_for(lambda: len(worker_pids_with_counters(gw)) == 2, 2.5)):
            flags = [i % 4 == 0 for i in range(10)]  # new connections, so the kernel spreads them
            assert [status for status, _ in pool.map(lambda s: chat(gw, stream=s), flags)] == [200] * 10
            sent, streamed = sent + 10, streamed + sum(flags)
    assert len(worker_pids_with_counters(gw)) == 2  # both workers served requests
    # each worker hands its counts over within a second; from then on every scrape, whichever
    # worker answers it, adds up both
    assert wait_for(lambda: total(scrape(gw), "plexus_requests_total") == sent)
    for _ in range(6):
        samples = scrape(gw)
        assert total(samples, "plexus_requests_total", alias="fast", status="200") == sent
        assert total(samples, "plexus_request_duration_seconds_count") == sent
        assert total(samples, "plexus_time_to_first_token_seconds_count") == streamed
        assert total(samples, "plexus_tokens_total", kind="input") == 12 * sent
        assert total(samples, "plexus_tokens_total", kind="output") == 5 * (sent - streamed) + 3 * streamed


def test_streams_in_flight_are_summed_over_the_workers(gw, fake):
    gate = threading.Event()
    fake.reply(events=wire.chat_stream("up-model", ["held", " back"]), gate=gate, gate_timeout=15)
    reader = threading.Thread(target=chat, args=(gw, True))
    reader.start()

    def in_flight():
        return total(scrape(gw), "plexus_streams_in_flight")

    try:
        assert wait_for(lambda: in_flight() == 1), "the held stream never showed"
    finally:
        gate.set()
        reader.join(15)
    assert wait_for(lambda: in_flight() == 0)


def test_the_log_level_changes_in_every_worker(gw):
    def level():
        resp = requests.get(gw.url + "/v0/management/logging", headers=ADMIN, timeout=5).json()
        return resp["pid"], resp["level"]

    assert requests.put(gw.url + "/v0/management/logging", json={"level": "debug"}, headers=ADMIN,
                        timeout=5).json()["level"] == "debug"
    time.sleep(1.5)  # each worker polls the config file once a second
    seen = {}
    for _ in range(200):
        pid, lvl = level()
        seen.setdefault(pid, set()).add(lvl)
        if len(seen) == 2:
            break
    assert len(seen) == 2 and all(levels == {"debug"} for levels in seen.values()), seen


def test_no_secret_reaches_the_log_or_the_captures(gw, fake):
    assert requests.put(gw.url + "/v0/management/capture", json={"enabled": True}, headers=ADMIN,
                        timeout=5).json()["active"] is True
    time.sleep(1.2)  # the other worker takes the switch from the database
    if requests.get(gw.url + "/v0/management/logging", headers=ADMIN, timeout=5).json()["level"] != "debug":
        requests.put(gw.url + "/v0/management/logging", json={"level": "debug"}, headers=ADMIN, timeout=5)
        time.sleep(1.5)
    echo = f"Incorrect API key provided: {PROVIDER_SECRET}"
    said = f"keys {CLIENT_SECRET} {ADMIN_SECRET} {PROVIDER_SECRET}"

    assert chat(gw, content=said)[0] == 200
    assert chat(gw, stream=True, content=said)[0] == 200
    fake.reply(status=401, body=wire.openai_error(401, echo, code="invalid_api_key"))
    assert chat(gw)[0] == 401
    fake.reply(status=500, body=wire.openai_error(500, echo, type="server_error"))  # retryable: a cooldown
    assert chat(gw)[0] == 500
    fake.reply(events=wire.chat_stream("up-model", ["a", "b", "c"]), cut_after=2)
    error = wire.chat_stream_error(chat(gw, stream=True)[1])
    assert error["message"] == "The connection to provider 'up' broke (ProtocolError)" and error["type"] == "server_error"
    fake.reply(body=b"not json " + PROVIDER_SECRET.encode())
    status, body = chat(gw)
    assert status == 502 and json.loads(body)["error"]["message"] == "The upstream answered with a body that is not JSON"
    for wrong in (PROVIDER_SECRET, ADMIN_SECRET, TOKEN):
        assert chat(gw, headers={"Authorization": f"Bearer {wrong}"})[0] == 401
    for wrong in (PROVIDER_SECRET, CLIENT_SECRET, TOKEN):
        assert requests.get(gw.url + "/v0/management/usage", headers={"x-admin-key": wrong}, timeout=5).status_code == 401
    # the fourth wrong admin key in a row from one address may already wait out the throttle (issue 18)
    assert requests.get(gw.url + "/metrics", headers={"Authorization": f"Bearer {CLIENT_SECRET}"},
                        timeout=5).status_code in (401, 429)
    gemini = requests.post(f"{gw.url}/v1beta/models/fast:generateContent?key={CLIENT_SECRET}", timeout=10,
                           json={"contents": [{"role": "user", "parts": [{"text": said}]}]})
    assert gemini.status_code == 200

    def stored():  # the wrong admin keys above may have this address wait out the throttle first
        resp = requests.get(gw.url + "/v0/management/capture", headers=ADMIN, timeout=5)
        return resp.json()["stored"] if resp.status_code != 429 else -1

    assert wait_for(lambda: stored() >= 7), stored()

    with sqlite3.connect(gw.tmp / "plexus.db") as conn:
        dump = "\n".join(conn.iterdump())  # captures, usage records, everything stored
    assert "[REDACTED]" in dump and "Incorrect API key provided" in dump
    assert not [s for s in SECRETS if s in dump]
    log = gw.log()
    assert " DEBUG plexus.capture " in log  # the level really was debug
    assert not [s for s in SECRETS if s in log]


def wait_for(condition, timeout=6.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()
