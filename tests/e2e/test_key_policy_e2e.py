"""Per-key limits are exact across gunicorn workers: two workers and many concurrent clients
together admit no more than the limit (issue 14)."""

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import yaml

from tests.support.configs import config_text
from tests.support.fake_upstream import FakeUpstream
from tests.support.gateways import gateway_for
from tests.support.secrets import CLIENT_SECRET, OTHER_SECRET

AUTH = {"Authorization": f"Bearer {CLIENT_SECRET}"}
OTHER = {"Authorization": f"Bearer {OTHER_SECRET}"}
RPM, CONCURRENT = 5, 2


@pytest.fixture(scope="module")
def fake():
    with FakeUpstream() as up:
        yield up


@pytest.fixture(scope="module")
def gateway(fake, tmp_path_factory):
    config = yaml.safe_load(config_text(fake.url))
    config["keys"]["test"].update(limits={"rpm": RPM})
    config["keys"]["other"] = {"secret": OTHER_SECRET, "limits": {"concurrent": CONCURRENT}}
    with gateway_for(config, tmp_path_factory.mktemp("policy"), workers=2) as gw:
        yield gw


def chat(gw, headers):
    body = {"model": "fast", "messages": [{"role": "user", "content": "hi"}]}
    with requests.post(gw.url + "/v1/chat/completions", json=body, headers=headers, timeout=20) as resp:
        return resp.status_code, resp.headers


def burst(gw, headers, n):
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda _: chat(gw, headers), range(n)))


def test_two_workers_admit_no_more_than_rpm(gateway, fake):
    fake.reset()
    answers = burst(gateway, AUTH, 3 * RPM)
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] * RPM + [429] * (2 * RPM)
    refused = [h for status, h in answers if status == 429]
    assert all(h["x-ratelimit-limit-requests"] == str(RPM) and int(h["Retry-After"]) >= 1 for h in refused)
    assert len(fake.requests) == RPM


def test_two_workers_admit_no_more_than_concurrent(gateway, fake):
    fake.reset()
    for _ in range(4 * CONCURRENT):
        fake.reply(body={"choices": [], "model": "up-model", "object": "chat.completion"}, delay=3)  # all still in flight when the last arrives
    statuses = sorted(status for status, _ in burst(gateway, OTHER, 4 * CONCURRENT))
    assert statuses.count(200) == CONCURRENT and statuses.count(429) == 3 * CONCURRENT
    assert len(fake.requests) == CONCURRENT
