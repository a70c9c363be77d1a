"""Per-key policy (issue 14) through the app: allowed_models, expiry, rpm/tpm/concurrent, budgets,
GET /v1/key — each refusal in the client's own error shape and recorded like any other call."""


import pytest

from plexus.config import ConfigError, load_config
from plexus.usage.params import Filters
from tests.support.configs import config_text
from tests.support.secrets import CLIENT_SECRET

SECRET_LINE = "    secret: ${PLEXUS_KEY_TEST}\n"
SMART = """  smart:
    targets:
      - {provider: up, model: up-model}
"""


def policy_config(url, policy):
    """config_text with an alias `smart` too, and `policy` (YAML lines at the key's level) on key `test`."""
    text = config_text(url).replace(SECRET_LINE, SECRET_LINE + "".join(f"    {line}\n" for line in policy.splitlines()))
    return text + SMART


@pytest.fixture
def policy_app(env, write_config, upstream, make_app):
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
