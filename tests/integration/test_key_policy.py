"""Per-key policy (issue 14) through the app: allowed_models, expiry, rpm/tpm/concurrent, budgets,
GET /v1/key — each refusal in the client's own error shape and recorded like any other call."""


import threading
import time

import pytest

from plexus.config import ConfigError, load_config
from plexus.usage.params import Filters
from tests.support import wire
from tests.support.configs import config_text
from tests.support.secrets import ADMIN_SECRET, CLIENT_SECRET

SECRET_LINE = "    secret: ${PLEXUS_KEY_TEST}\n"
SMART = """  smart:
    targets:
      - {provider: up, model: up-model}
  free:
    targets:
      - {provider: up, model: unpriced-model}
"""


def policy_config(url, policy):
    """config_text with aliases `smart` (priced) and `free` (unpriced) too, and `policy` (YAML lines at the key's level) on key `test`."""
    text = config_text(url).replace(SECRET_LINE, SECRET_LINE + "".join(f"    {line}\n" for line in policy.splitlines()))
    return text + SMART


@pytest.fixture
def policy_app(env, write_config, upstream, make_app, tmp_path, monkeypatch):
    """An app whose key `test` has `policy`, on a database of this test's own (counters are kept there)."""
    monkeypatch.setenv("DATABASE_URL", str(tmp_path / "policy.db"))

    def make(policy):
        app = make_app(str(write_config(policy_config(upstream.url, policy))), watch=False)
        app.testing = True
        return app

    return make


OPENAI = {"Authorization": f"Bearer {CLIENT_SECRET}"}
ANTHROPIC = {"x-api-key": CLIENT_SECRET, "anthropic-version": "2023-06-01"}
GEMINI = {"x-goog-api-key": CLIENT_SECRET}


def chat(client, model="fast", **extra):
    return client.post("/v1/chat/completions", json={"model": model, "messages": [{"role": "user", "content": "hi"}], **extra},
                       headers=OPENAI)


def message(client, model="fast"):
    body = {"model": model, "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}
    return client.post("/v1/messages", json=body, headers=ANTHROPIC)


def gemini(client, model="fast"):
    return client.post(f"/v1beta/models/{model}:generateContent", json={"contents": [{"parts": [{"text": "hi"}]}]},
                       headers=GEMINI)


def record_of(app, resp):
    assert app.extensions["plexus.usage"].writer.flush()
    request_id = resp.headers["x-request-id"]
    [rec] = app.extensions["plexus.services"].storage.usage.query(Filters(request_id=request_id), 10, 0)[0]
    return rec


# ---- config ------------------------------------------------------------------------------------


def test_every_policy_field_loads(tmp_path, env):
    path = tmp_path / "p.yaml"
    path.write_text(policy_config("http://127.0.0.1:9", """allowed_models: [fast-too, smart]
limits: {rpm: 60, tpm: 200000, concurrent: 8}
budget: {usd: 25.0, period: month}
expires_at: 2027-06-30T00:00:00Z"""))
    rules = load_config(str(path)).keys["test"].policy
    assert rules.allowed_models == ("fast-too", "smart")
    assert rules.allowed == {"fast", "fast-too", "smart"}  # an additional name allows its alias
    assert (rules.limits.rpm, rules.limits.tpm, rules.limits.concurrent) == (60, 200000, 8)
    assert (rules.budget.usd, rules.budget.period) == (25.0, "month")
    assert rules.expires_at == 1814313600.0


def test_a_key_without_policy_has_none(tmp_path, env):
    path = tmp_path / "p.yaml"
    path.write_text(policy_config("http://127.0.0.1:9", ""))
    assert load_config(str(path)).keys["test"].policy is None


@pytest.mark.parametrize("policy, problem", [
    ("allowed_models: [fast, nope]", "line 5: keys.test.allowed_models.1: no alias named 'nope'"),
    ("limits: {rpm: 0}", "line 5: keys.test.limits.rpm: Must be greater than or equal to 1"),
    ("limits: {tpm: 1.5}", "line 5: keys.test.limits.tpm: Not a valid integer"),
    ("limits: {per_hour: 5}", "line 5: keys.test.limits.per_hour: unknown key"),
    ("budget: {usd: -1}", "line 5: keys.test.budget.usd: Must be greater than or equal to 0"),
    ("budget: {usd: 5, period: year}", "line 5: keys.test.budget.period: Must be one of: day, week, month, total"),
    ("expires_at: next tuesday", "line 5: keys.test.expires_at: must be a date and time like 2027-06-30T00:00:00Z"),
])
def test_invalid_policy_names_file_line_and_key_path(tmp_path, env, policy, problem):
    path = tmp_path / "p.yaml"
    path.write_text(policy_config("http://127.0.0.1:9", policy))
    with pytest.raises(ConfigError) as e:
        load_config(str(path))
    assert f"{path}: {problem}" in str(e.value).splitlines()


# ---- allowed_models and expiry ------------------------------------------------------------------


def test_a_disallowed_alias_is_403_in_each_clients_shape_naming_the_alias(policy_app, upstream):
    client = policy_app("allowed_models: [fast]").test_client()
    resp = chat(client, "smart")
    assert resp.status_code == 403
    assert resp.json["error"]["type"] == "permission_error" and resp.json["error"]["code"] == "permission_denied"
    assert "'smart'" in resp.json["error"]["message"]
    resp = message(client, "smart")
    assert resp.status_code == 403 and resp.json["error"]["type"] == "permission_error"
    resp = gemini(client, "smart")
    assert resp.status_code == 403 and resp.json["error"]["status"] == "PERMISSION_DENIED"
    assert not upstream.requests
    assert chat(client, "fast-too").status_code == 200  # every name of an allowed alias


def test_model_lists_leave_out_what_the_key_may_not_use(policy_app):
    client = policy_app("allowed_models: [fast]").test_client()
    assert [m["id"] for m in client.get("/v1/models", headers=OPENAI).json["data"]] == ["fast", "fast-too"]
    names = [m["name"] for m in client.get("/v1beta/models", headers=GEMINI).json["models"]]
    assert names == ["models/fast", "models/fast-too"]
    assert len(client.get("/v1/models", headers={"x-api-key": CLIENT_SECRET}).json["data"]) == 2  # Anthropic's SDK


def test_an_expired_key_is_401_in_each_clients_shape(policy_app, upstream):
    client = policy_app("expires_at: 2020-01-01T00:00:00Z").test_client()
    resp = chat(client)
    assert resp.status_code == 401 and resp.json["error"]["code"] == "key_expired"
    assert "expired at 2020-01-01T00:00:00Z" in resp.json["error"]["message"]
    assert message(client).json["error"]["type"] == "authentication_error"
    assert gemini(client).json["error"]["status"] == "UNAUTHENTICATED"
    assert client.get("/v1/models", headers=OPENAI).status_code == 401
    assert not upstream.requests


def test_a_key_expiring_later_works(policy_app):
    assert chat(policy_app("expires_at: 2999-01-01T00:00:00Z").test_client()).status_code == 200


def test_refusals_are_usage_records_with_their_reason(policy_app):
    app = policy_app("allowed_models: [fast]")
    rec = record_of(app, chat(app.test_client(), "smart"))
    assert (rec["key_name"], rec["alias"], rec["status"]) == ("test", "smart", 403)
    assert "may not use the model 'smart'" in rec["error"]


# ---- rpm, tpm, concurrent -----------------------------------------------------------------------


def test_the_request_over_rpm_is_429_with_retry_after_and_openai_rate_limit_headers(policy_app, upstream):
    client = policy_app("limits: {rpm: 2, tpm: 100000}").test_client()
    first = chat(client)
    assert first.status_code == 200
    assert first.headers["x-ratelimit-limit-requests"] == "2"
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    assert first.headers["x-ratelimit-limit-tokens"] == "100000"
    assert chat(client).status_code == 200
    resp = chat(client)
    assert resp.status_code == 429
    assert resp.json["error"]["type"] == "rate_limit_error" and resp.json["error"]["code"] == "rate_limit_exceeded"
    assert "2 requests per minute" in resp.json["error"]["message"]
    assert 1 <= int(resp.headers["Retry-After"]) <= 60
    assert resp.headers["x-ratelimit-remaining-requests"] == "0"
    assert resp.headers["x-ratelimit-reset-requests"].endswith("s")
    assert len(upstream.requests) == 2


def test_anthropic_clients_get_anthropic_rate_limit_headers_and_gemini_clients_their_shape(policy_app):
    client = policy_app("limits: {rpm: 1}").test_client()
    assert message(client).status_code == 200
    resp = message(client)
    assert resp.status_code == 429 and resp.json["error"]["type"] == "rate_limit_error"
    assert resp.headers["anthropic-ratelimit-requests-limit"] == "1"
    assert resp.headers["anthropic-ratelimit-requests-remaining"] == "0"
    assert resp.headers["anthropic-ratelimit-requests-reset"].endswith("Z")
    assert "x-ratelimit-limit-requests" not in resp.headers
    resp = gemini(client)
    assert resp.status_code == 429 and resp.json["error"]["status"] == "RESOURCE_EXHAUSTED" and resp.headers["Retry-After"]


def test_tpm_admits_by_estimate_and_counts_what_the_upstream_reported(policy_app, upstream):
    app = policy_app("limits: {tpm: 60}")
    client = app.test_client()
    upstream.reply(body=wire.chat_completion("up-model", "Hi", usage=wire.chat_usage(prompt=40, completion=15)))
    assert chat(client).status_code == 200  # an empty window admits
    resp = chat(client)  # 55 counted + this one's estimate > 60
    assert resp.status_code == 429 and "60 tokens per minute (55 counted" in resp.json["error"]["message"]
    assert resp.headers["x-ratelimit-remaining-tokens"] == "5"


def test_a_stream_holds_its_concurrent_slot_until_it_ends(policy_app, upstream):
    client = policy_app("limits: {concurrent: 1}").test_client()
    gate = threading.Event()
    upstream.reply(events=wire.chat_stream("up-model", ["a", "b"]), gate=gate)
    stream = chat(client, stream=True)
    assert stream.status_code == 200
    refused = chat(client)
    assert refused.status_code == 429 and "1 requests in flight at once" in refused.json["error"]["message"]
    gate.set()
    stream.get_data()
    stream.close()
    assert chat(client).status_code == 200


def test_a_client_that_hangs_up_frees_its_slot(policy_app, upstream):
    client = policy_app("limits: {concurrent: 1}").test_client()
    gate = threading.Event()
    upstream.reply(events=wire.chat_stream("up-model", ["a", "b"]), gate=gate, gate_timeout=2)
    stream = chat(client, stream=True)
    next(stream.response)  # the first chunk, then the client goes
    stream.close()
    gate.set()
    assert chat(client).status_code == 200


def test_counters_survive_a_config_reload_and_a_new_worker(policy_app, upstream):
    app = policy_app("limits: {rpm: 1}")
    assert chat(app.test_client()).status_code == 200
    gw = app.extensions["plexus"]
    gw.apply(load_config(gw.config.path))
    assert chat(app.test_client()).status_code == 429
    again = policy_app("limits: {rpm: 1}")  # another worker on the same database
    assert chat(again.test_client()).status_code == 429


def test_a_key_without_limits_never_touches_the_counters(policy_app, monkeypatch):
    app = policy_app("allowed_models: [fast]")
    store = app.extensions["plexus.services"].storage.limits
    monkeypatch.setattr(store, "admit", lambda *a: pytest.fail("admit called for a key without limits"))
    assert chat(app.test_client()).status_code == 200


def test_the_slots_of_a_worker_that_died_free_themselves_when_their_leases_run_out(tmp_path):
    from plexus.storage import open_storage

    store = open_storage(str(tmp_path / "s.db")).limits
    now = 1_000_000.0
    lease, _ = store.admit("k", now, 60, (None, None, 1), 10, now + 30)
    assert lease is not None
    assert store.admit("k", now + 29, 60, (None, None, 1), 10, now + 59)[0] is None  # still leased
    # the worker died: nobody renews or ends the lease
    lease2, counts = store.admit("k", now + 31, 60, (None, None, 1), 10, now + 61)
    assert lease2 is not None and counts.in_flight == 0
    store.renew([lease2], now + 100, now + 31)  # renewed by its live worker
    assert store.counts("k", now + 90, 60).in_flight == 1
    store.finish(lease2, 42)
    assert store.counts("k", now + 90, 60) == (1, 42, 0, now + 31)
    store.close()


# ---- budget -------------------------------------------------------------------------------------


def test_a_spent_budget_is_429_insufficient_quota_saying_when_it_resets_and_survives_a_restart(policy_app, upstream):
    app = policy_app("budget: {usd: 0.00002, period: day}")
    client = app.test_client()
    assert chat(client).status_code == 200  # 12 input and 5 output tokens at $1 and $2 per million: $0.000022
    assert app.extensions["plexus.usage"].writer.flush()
    resp = chat(client)
    assert resp.status_code == 429
    error = resp.json["error"]
    assert error["type"] == "insufficient_quota" and error["code"] == "insufficient_quota"
    tomorrow = time.strftime("%Y-%m-%dT00:00:00Z", time.gmtime(time.time() + 86400))
    assert f"budget of $0.00002 per day is spent ($0.000022); it resets at {tomorrow}" in error["message"]
    assert 0 < int(resp.headers["Retry-After"]) <= 86400
    assert message(client).json["error"]["type"] == "billing_error"
    assert gemini(client).json["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert record_of(app, resp)["status"] == 429
    assert chat(policy_app("budget: {usd: 0.00002, period: day}").test_client()).status_code == 429  # a restart
    assert len(upstream.requests) == 1


def test_a_total_budget_never_resets(policy_app, upstream):
    app = policy_app("budget: {usd: 0.00002, period: total}")
    client = app.test_client()
    upstream.reply(body=wire.chat_completion("up-model", "Hi", usage=wire.chat_usage(prompt=10, completion=0)))
    assert chat(client).status_code == 200  # $0.00001
    assert app.extensions["plexus.usage"].writer.flush()
    assert chat(client).status_code == 200
    assert app.extensions["plexus.usage"].writer.flush()
    resp = chat(client)
    assert resp.status_code == 429 and "in total is spent ($0.000032); it does not reset" in resp.json["error"]["message"]
    assert "Retry-After" not in resp.headers


def test_budget_periods_are_calendar_utc():
    from plexus.core.policy import period_bounds

    now = 1_796_385_600.0  # 2026-12-04T12:00:00Z, a Friday
    assert period_bounds("day", now) == (1_796_342_400.0, 1_796_428_800.0)
    assert period_bounds("week", now) == (1_795_996_800.0, 1_796_601_600.0)  # from Monday 2026-11-30
    assert period_bounds("month", now) == (1_796_083_200.0, 1_798_761_600.0)  # 2026-12-01 .. 2027-01-01
    assert period_bounds("total", now) == (None, None)


# ---- GET /v1/key and the management API ---------------------------------------------------------

EVERYTHING = """allowed_models: [fast]
limits: {rpm: 60, tpm: 200000, concurrent: 8}
budget: {usd: 25.0, period: month}
expires_at: 2999-06-30T00:00:00Z"""


def test_v1_key_tells_a_key_its_own_policy_and_standing(policy_app, upstream):
    app = policy_app(EVERYTHING)
    client = app.test_client()
    assert chat(client).status_code == 200
    assert app.extensions["plexus.usage"].writer.flush()
    data = client.get("/v1/key", headers=OPENAI).json["data"]
    assert data == {
        "name": "test",
        "allowed_models": ["fast"],
        "limits": {"rpm": 60, "tpm": 200000, "concurrent": 8},
        "usage": {"requests_last_minute": 1, "tokens_last_minute": 17, "in_flight": 0},
        "budget": {"usd": 25.0, "period": "month", "spent_usd": 0.000022, "remaining_usd": 24.999978,
                   "resets_at": data["budget"]["resets_at"]},
        "expires_at": "2999-06-30T00:00:00Z",
    }
    assert data["budget"]["resets_at"].endswith("-01T00:00:00Z")
    assert client.get("/v1/key", headers={"x-api-key": CLIENT_SECRET}).json == {"data": data}  # any client's header


def test_v1_key_of_a_key_without_policy_is_all_null(policy_app):
    data = policy_app("").test_client().get("/v1/key", headers=OPENAI).json["data"]
    assert data == {"name": "test", "allowed_models": None, "limits": None, "usage": None, "budget": None,
                    "expires_at": None}


def test_v1_key_refuses_a_missing_or_expired_key(policy_app):
    client = policy_app("expires_at: 2020-01-01T00:00:00Z").test_client()
    assert client.get("/v1/key").status_code == 401
    assert client.get("/v1/key", headers=OPENAI).json["error"]["code"] == "key_expired"


def test_management_lists_every_key_with_its_standing_and_unpriced_requests(policy_app):
    app = policy_app("budget: {usd: 1, period: total}")
    client = app.test_client()
    assert chat(client, "free").status_code == 200
    assert app.extensions["plexus.usage"].writer.flush()
    assert client.get("/v0/management/keys").status_code == 401
    [key] = client.get("/v0/management/keys", headers={"x-admin-key": ADMIN_SECRET}).json["data"]
    assert key["name"] == "test" and key["limits"] is None and key["usage"] is None
    assert key["budget"] == {"usd": 1.0, "period": "total", "spent_usd": 0.0, "remaining_usd": 1.0, "resets_at": None,
                             "unpriced_requests": 1}


def test_counters_are_shared_with_other_processes_and_a_killed_ones_slots_expire(tmp_path):
    import os

    from plexus.storage import open_storage

    store = open_storage(str(tmp_path / "s.db")).limits
    now = 2_000_000.0
    pid = os.fork()
    if pid == 0:  # a worker that takes a slot and dies without ending it
        try:
            store.admit("k", now, 60, (10, None, 1), 10, now + 30)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert store.counts("k", now + 1, 60) == (1, 10, 1, now)
    assert store.admit("k", now + 1, 60, (10, None, 1), 10, now + 31)[0] is None  # its slot still counts
    lease, counts = store.admit("k", now + 31, 60, (10, None, 1), 10, now + 61)  # its lease ran out
    assert lease is not None and counts == (1, 10, 0, now)
    store.close()
