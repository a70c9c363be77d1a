"""Per-key limits are exact across gunicorn workers: two workers and many concurrent clients
together admit no more than the limit (issue 14)."""

import time
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


# ---- the "done when", on one gateway of two workers with every policy field ----------------

FULL, SPENDER, EXPIRED = "sk-plexus-test-FULLPOLICY-0003", "sk-plexus-test-SPENDER-0004", "sk-plexus-test-EXPIRED-0005"
FULL_RPM, TPM = 4, 100000
SETTLED_S = 1.0  # the usage writer's linger (0.1 s) + how long a worker's read of recent spend serves (0.25 s), with room


@pytest.fixture(scope="module")
def governed(fake, tmp_path_factory):
    config = yaml.safe_load(config_text(fake.url))
    config["models"]["smart"] = {"targets": [{"provider": "up", "model": "up-model"}]}
    config["keys"].update(
        full={"secret": FULL, "allowed_models": ["fast"], "limits": {"rpm": FULL_RPM, "tpm": TPM, "concurrent": 10},
              "budget": {"usd": 1000.0, "period": "month"}, "expires_at": "2999-01-01T00:00:00Z"},
        spender={"secret": SPENDER, "budget": {"usd": 0.00002, "period": "day"}},
        expired={"secret": EXPIRED, "expires_at": "2020-01-01T00:00:00Z"},
    )
    with gateway_for(config, tmp_path_factory.mktemp("governed"), workers=2) as gw:
        yield gw


def bearer(secret):
    return {"Authorization": f"Bearer {secret}"}


def test_a_key_with_every_field_under_two_workers(governed, fake):
    fake.reset()
    denied = requests.post(governed.url + "/v1/chat/completions", headers=bearer(FULL), timeout=20,
                           json={"model": "smart", "messages": [{"role": "user", "content": "hi"}]})
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "permission_denied"
    assert "'smart'" in denied.json()["error"]["message"] and FULL not in denied.text

    answers = burst(governed, bearer(FULL), FULL_RPM + 3)
    assert sorted(status for status, _ in answers) == [200] * FULL_RPM + [429] * 3
    for status, h in answers:
        assert h["x-ratelimit-limit-requests"] == str(FULL_RPM) and h["x-ratelimit-limit-tokens"] == str(TPM)
        if status == 429:
            assert h["x-ratelimit-remaining-requests"] == "0" and int(h["Retry-After"]) >= 1
    anthropic = requests.post(governed.url + "/v1/messages", timeout=20,
                              headers={"x-api-key": FULL, "anthropic-version": "2023-06-01"},
                              json={"model": "fast", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]})
    assert anthropic.status_code == 429 and anthropic.json()["error"]["type"] == "rate_limit_error"
    assert anthropic.headers["anthropic-ratelimit-requests-limit"] == str(FULL_RPM)
    assert anthropic.headers["anthropic-ratelimit-requests-remaining"] == "0"
    assert len(fake.requests) == FULL_RPM

    time.sleep(SETTLED_S)
    data = requests.get(governed.url + "/v1/key", headers=bearer(FULL), timeout=20).json()["data"]
    assert data["allowed_models"] == ["fast"] and data["limits"] == {"rpm": FULL_RPM, "tpm": TPM, "concurrent": 10}
    assert data["usage"] == {"requests_last_minute": FULL_RPM, "tokens_last_minute": FULL_RPM * 17, "in_flight": 0}
    assert data["budget"]["spent_usd"] == round(FULL_RPM * 0.000022, 6) and data["expires_at"] == "2999-01-01T00:00:00Z"


def test_a_spent_budget_is_refused_by_every_worker(governed, fake):
    chat_ok = requests.post(governed.url + "/v1/chat/completions", headers=bearer(SPENDER), timeout=20,
                            json={"model": "fast", "messages": [{"role": "user", "content": "hi"}]})
    assert chat_ok.status_code == 200  # $0.000022 of a $0.00002 day
    time.sleep(SETTLED_S)
    refused = burst(governed, bearer(SPENDER), 6)  # on both workers
    assert [status for status, _ in refused] == [429] * 6
    body = requests.post(governed.url + "/v1/chat/completions", headers=bearer(SPENDER), timeout=20,
                         json={"model": "fast", "messages": [{"role": "user", "content": "hi"}]}).json()
    assert body["error"]["code"] == "insufficient_quota" and "it resets at" in body["error"]["message"]


def test_an_expired_key_is_401_everywhere(governed):
    resp = requests.post(governed.url + "/v1/chat/completions", headers=bearer(EXPIRED), timeout=20,
                         json={"model": "fast", "messages": [{"role": "user", "content": "hi"}]})
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "key_expired" and EXPIRED not in resp.text
    assert requests.get(governed.url + "/v1/key", headers=bearer(EXPIRED), timeout=20).status_code == 401
