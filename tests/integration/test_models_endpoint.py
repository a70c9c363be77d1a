"""GET /v1/models and /v1/models/{id} in the caller's shape: Anthropic's for a client that sends
`anthropic-version` or `x-api-key` without `Authorization`, OpenAI's for every other."""

import pytest

from tests.support.configs import config_text
from tests.support.secrets import CLIENT_SECRET

EXTRA = """\
  org/model-x:
    targets: [{provider: up, model: up-model}]
"""
ANTHROPIC_CALLERS = [{"x-api-key": CLIENT_SECRET}, {"x-api-key": CLIENT_SECRET, "anthropic-version": "2023-06-01"},
                     {"Authorization": f"Bearer {CLIENT_SECRET}", "anthropic-version": "2023-06-01"}]
OPENAI_CALLERS = [{"Authorization": f"Bearer {CLIENT_SECRET}"},
                  {"Authorization": f"Bearer {CLIENT_SECRET}", "x-api-key": CLIENT_SECRET}]


@pytest.fixture
def client(env, write_config, make_app):
    return make_app(str(write_config(config_text("http://chat.test", EXTRA))), watch=False).test_client()


@pytest.mark.parametrize("headers", ANTHROPIC_CALLERS)
def test_an_anthropic_client_gets_anthropics_list(client, headers):
    body = client.get("/v1/models", headers=headers).json
    assert set(body) == {"data", "has_more", "first_id", "last_id"}
    assert [m["id"] for m in body["data"]] == ["fast", "fast-too", "org/model-x"] and body["has_more"] is False
    assert (body["first_id"], body["last_id"]) == ("fast", "org/model-x")
    first = body["data"][0]
    assert set(first) == {"type", "id", "display_name", "created_at"} and first["type"] == "model"
    assert first["created_at"].endswith("Z") and first["created_at"][4] == "-"


def test_anthropic_pages_follow_limit_after_id_and_before_id(client):
    def ids(query):
        body = client.get("/v1/models" + query, headers=ANTHROPIC_CALLERS[0]).json
        return [m["id"] for m in body["data"]], body["has_more"]

    assert ids("?limit=2") == (["fast", "fast-too"], True)
    assert ids("?limit=2&after_id=fast-too") == (["org/model-x"], False)
    assert ids("?limit=1&before_id=org/model-x") == (["fast-too"], True)
    assert ids("?limit=5&before_id=fast-too") == (["fast"], False)


@pytest.mark.parametrize("headers", OPENAI_CALLERS)
def test_every_other_client_gets_openais_list_and_objects(client, headers):
    body = client.get("/v1/models", headers=headers).json
    assert body["object"] == "list" and [m["id"] for m in body["data"]] == ["fast", "fast-too", "org/model-x"]
    one = client.get("/v1/models/org/model-x", headers=headers)
    assert one.status_code == 200 and set(one.json) == {"id", "object", "created", "owned_by"} and one.json["id"] == "org/model-x"


def test_one_model_in_anthropics_shape_and_unknown_ids_are_404_in_the_callers_error_shape(client):
    one = client.get("/v1/models/fast-too", headers=ANTHROPIC_CALLERS[1])
    assert one.status_code == 200 and one.json["type"] == "model" and one.json["id"] == "fast-too"
    missing = client.get("/v1/models/ghost", headers=ANTHROPIC_CALLERS[1])
    assert missing.status_code == 404 and missing.json["type"] == "error"
    assert missing.json["error"]["type"] == "not_found_error" and "ghost" in missing.json["error"]["message"]
    missing = client.get("/v1/models/ghost", headers=OPENAI_CALLERS[0])
    assert missing.status_code == 404 and missing.json["error"]["code"] == "model_not_found"


def test_a_wrong_key_is_401_in_the_callers_error_shape(client):
    resp = client.get("/v1/models", headers={"x-api-key": "wrong-key-123", "anthropic-version": "2023-06-01"})
    assert resp.status_code == 401 and resp.json["error"]["type"] == "authentication_error"
    resp = client.get("/v1/models/fast", headers={"Authorization": "Bearer wrong-key-123"})
    assert resp.status_code == 401 and "error" in resp.json and "type" not in resp.json
