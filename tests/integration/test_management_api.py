"""/v0/management/usage through the Flask test client: auth, the records real requests leave (the
upstream faked by `responses`), filters, paging, summaries, deletes, and no secret ever shown; on
both backends (SQLite and PostgreSQL)."""

import json
import uuid

import pytest
import responses

from plexus import create_app
from plexus.services import close_app
from tests.support.configs import config_text
from tests.support.secrets import ADMIN_SECRET, CLIENT_SECRET, PROVIDER_SECRET
from tests.support import wire

ADMIN = {"x-admin-key": ADMIN_SECRET}
PRICE_IN, PRICE_OUT, PRICE_CACHED = 1.0, 2.0, 0.5  # conftest's up-model, USD per 1M tokens
T0 = 1_736_942_400.0  # 2025-01-15T12:00:00Z


@pytest.fixture(params=["sqlite", "postgres"])
def app(request, env, write_config, upstream, tmp_path):
    database = str(tmp_path / "usage.db") if request.param == "sqlite" else request.getfixturevalue("postgres").create_database()
    app = create_app(str(write_config(config_text(upstream.url))), watch=False, DATABASE=database)
    app.testing = True
    yield app
    close_app(app)


@pytest.fixture
def mocked(app):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture
def chat_url(app):
    return app.extensions["plexus"].config.providers["up"].api_base_url + "/chat/completions"


def chat(client, headers=None, **body):
    h = {"Authorization": f"Bearer {CLIENT_SECRET}", **(headers or {})}
    payload = {"model": "fast", "messages": [{"role": "user", "content": "hi"}], **body}
    return client.post("/v1/chat/completions", data=json.dumps(payload), headers=h, content_type="application/json")


def records(app, client, query=""):
    assert app.extensions["plexus.usage"].writer.flush()
    resp = client.get(f"/v0/management/usage?{query}", headers=ADMIN)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.json


def seed(app, *rows):
    app.extensions["plexus.usage"].store.write_batch([{"request_id": uuid.uuid4().hex, "time": T0, **r} for r in rows])


# ---- auth ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"x-admin-key": "wrong-admin-key"}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {CLIENT_SECRET}"}],
)
@pytest.mark.parametrize(
    "method, path",
    [("GET", "/v0/management/usage"), ("GET", "/v0/management/usage/summary"), ("DELETE", "/v0/management/usage?all=true")],
)
def test_a_missing_or_wrong_admin_key_is_401_in_json(client, headers, method, path):
    resp = client.open(path, method=method, headers=headers)
    assert resp.status_code == 401
    assert "admin key" in resp.json["error"]["message"]


@pytest.mark.parametrize("headers", [{"x-admin-key": ADMIN_SECRET}, {"Authorization": f"Bearer {ADMIN_SECRET}"}])
def test_the_admin_key_is_accepted_in_either_header(client, headers):
    assert client.get("/v0/management/usage", headers=headers).status_code == 200


def test_without_an_admin_key_configured_the_api_is_closed(env, write_config, upstream, tmp_path):
    text = config_text(upstream.url).replace("admin_key: ${PLEXUS_ADMIN_KEY}\n", "")
    app = create_app(str(write_config(text)), watch=False, DATABASE=str(tmp_path / "u.db"))
    try:
        resp = app.test_client().get("/v0/management/usage", headers=ADMIN)
        assert resp.status_code == 403 and "set admin_key" in resp.json["error"]["message"]
    finally:
        close_app(app)


# ---- the records requests leave -------------------------------------------------------------------


def test_a_non_streamed_request_is_recorded_with_the_upstreams_usage_and_its_price(app, client, mocked, chat_url):
    usage = wire.chat_usage(prompt=30, completion=4, cached=10, reasoning=2)
    mocked.post(chat_url, json=wire.chat_completion("up-model", "Hi", usage=usage))
    assert chat(client).status_code == 200
    body = records(app, client)
    assert body["total"] == 1
    (r,) = body["data"]
    assert (r["input_tokens"], r["output_tokens"], r["cached_tokens"], r["reasoning_tokens"]) == (20, 4, 10, 2)
    assert r["cost"] == pytest.approx((20 * PRICE_IN + 4 * PRICE_OUT + 10 * PRICE_CACHED) / 1e6)
    names = ("key_name", "alias", "provider", "model", "api_style")
    assert [r[n] for n in names] == ["test", "fast", "up", "up-model", "chat"]
    flags = ("status", "streamed", "fast_path", "estimated", "finish_reason")
    assert [r[n] for n in flags] == [200, False, True, False, "stop"]
    assert r["time"].endswith("Z") and r["duration_ms"] > 0
    assert [(a["provider"], a["model"]) for a in r["attempts"]] == [("up", "up-model")]


CONTRACT = {
    "id", "time", "request_id", "key_name", "api_style", "alias", "provider", "model", "provider_type", "streamed",
    "fast_path", "attempts", "status", "error", "input_tokens", "output_tokens", "cached_tokens",
    "cache_write_tokens", "reasoning_tokens", "estimated", "cost", "duration_ms", "ttft_ms", "upstream_ms",
    "overhead_ms", "tokens_per_second", "finish_reason",
}  # fmt: skip


def test_a_streamed_request_is_recorded_with_the_usage_chunks_counts(app, client, mocked, chat_url):
    events = wire.chat_stream("up-model", ["Hel", "lo", "!"], usage=wire.chat_usage(prompt=12, completion=3))
    mocked.post(chat_url, body=b"".join(events), content_type="text/event-stream")
    resp = chat(client, stream=True)
    assert resp.status_code == 200 and resp.get_data().endswith(b"data: [DONE]\n\n")
    (r,) = records(app, client)["data"]
    assert CONTRACT <= set(r)
    assert (r["input_tokens"], r["output_tokens"], r["streamed"], r["status"]) == (12, 3, True, 200)
    assert r["cost"] == pytest.approx((12 * PRICE_IN + 3 * PRICE_OUT) / 1e6)
    assert r["ttft_ms"] is not None and r["ttft_ms"] <= r["duration_ms"]


def test_failed_requests_are_recorded_with_their_status(app, client, mocked, chat_url):
    mocked.post(chat_url, status=500, json=wire.openai_error(500, "upstream exploded", "server_error"))
    assert chat(client).status_code == 500
    assert chat(client, model="nope").status_code == 404
    assert chat(client, headers={"Authorization": "Bearer sk-wrong-wrong"}).status_code == 401
    by_status = {r["status"]: r for r in records(app, client)["data"]}
    assert set(by_status) == {500, 404}  # a refused key leaves no row (issue 18): metrics count it
    assert by_status[500]["error"] == "upstream exploded" and by_status[500]["cost"] == 0.0
    assert by_status[404]["alias"] == "nope" and by_status[404]["cost"] is None


def test_requests_reusing_a_client_request_id_each_leave_a_row(app, client, mocked, chat_url):
    mocked.post(chat_url, json=wire.chat_completion("up-model", "Hi"))
    for _ in range(2):
        assert chat(client, headers={"x-request-id": "client-chosen-id-1"}).status_code == 200
    body = records(app, client, "limit=10")
    assert body["total"] == 2 and {r["request_id"] for r in body["data"]} == {"client-chosen-id-1"}


def test_no_management_answer_contains_a_secret(app, client, mocked, chat_url):
    mocked.post(chat_url, status=401, json=wire.openai_error(401, f"bad key {PROVIDER_SECRET}"))
    chat(client)
    chat(client, headers={"Authorization": f"Bearer {CLIENT_SECRET}x"})
    records(app, client)
    for query in ("", "/summary?range=hour&group_by=key", "?key=test"):
        text = client.get("/v0/management/usage" + query, headers=ADMIN).get_data(as_text=True)
        assert not any(s in text for s in (CLIENT_SECRET, PROVIDER_SECRET, ADMIN_SECRET))


# ---- filters, paging, summary, delete --------------------------------------------------------------


def test_filters_and_paging(app, client):
    seed(app, *[{"alias": "a", "time": T0 + i} for i in range(7)], {"alias": "b", "status": 500, "key_name": "k2"},
         {"alias": "b", "status": "cancelled", "api_style": "messages", "model": "m2", "provider": "p2"})  # fmt: skip
    body = records(app, client, "alias=a&limit=3&offset=2")
    assert body["total"] == 7 and [r["time"] for r in body["data"]] == [
        "2025-01-15T12:00:04.000Z", "2025-01-15T12:00:03.000Z", "2025-01-15T12:00:02.000Z",
    ]  # fmt: skip
    assert records(app, client, "status=cancelled")["data"][0]["status"] == "cancelled"
    for query in ("status=500", "key=k2", "api_style=messages", "model=m2", "provider=p2"):
        assert records(app, client, query)["total"] == 1, query
    assert records(app, client, "since=2025-01-15T12:00:05Z")["total"] == 2
    assert records(app, client, f"since={T0 + 5}&until={T0 + 6}")["total"] == 1
    assert records(app, client, "until=2025-01-15T12:00:01")["total"] == 3  # no zone: UTC


def test_filter_by_request_id(app, client):
    seed(app, {"request_id": "req-one", "alias": "a"}, {"request_id": "req-two", "alias": "b"}, {"alias": "c"})
    body = records(app, client, "request_id=req-two")
    assert body["total"] == 1 and body["data"][0]["alias"] == "b"
    assert records(app, client, "request_id=req-none")["total"] == 0


@pytest.mark.parametrize(
    "query, needle",
    [("limit=0", "limit"), ("limit=5000", "limit"), ("offset=-1", "offset"), ("since=yesterday", "since"),
     ("status=oops", "status"), ("api_style=soap", "api_style")],
)  # fmt: skip
def test_bad_parameters_are_400_with_the_reason(client, query, needle):
    resp = client.get(f"/v0/management/usage?{query}", headers=ADMIN)
    assert resp.status_code == 400 and needle in resp.json["error"]["message"]


@pytest.mark.parametrize(
    "query, needle", [("range=year", "range"), ("group_by=colour", "group_by"), ("until=soon", "until")]
)
def test_bad_summary_parameters_are_400(client, query, needle):
    resp = client.get(f"/v0/management/usage/summary?{query}", headers=ADMIN)
    assert resp.status_code == 400 and needle in resp.json["error"]["message"]


def test_summary_over_the_api(app, client):
    seed(
        app,
        {"provider": "p1", "input_tokens": 10, "output_tokens": 2, "cost": 0.25, "duration_ms": 100.0, "status": 200},
        {"provider": "p1", "status": 502, "duration_ms": 100.0},
        {"provider": "p2", "input_tokens": 5, "cost": 0.5, "status": 200},
    )
    resp = client.get(f"/v0/management/usage/summary?range=week&group_by=provider&until={T0}", headers=ADMIN)
    assert resp.status_code == 200
    out = resp.json
    assert out["range"] == "week" and out["group_by"] == "provider" and len(out["buckets"]) == 28
    assert out["totals"]["requests"] == 3 and out["totals"]["errors"] == 1
    assert out["totals"]["cost"] == pytest.approx(0.75) and out["totals"]["input_tokens"] == 15
    assert out["totals"]["duration_ms_p50"] == pytest.approx(100, rel=0.06)
    assert [(g["group"], g["requests"]) for g in out["groups"]] == [("p1", 2), ("p2", 1)]
    assert set(out["totals"]) >= {"ttft_ms_p50", "ttft_ms_p95", "duration_ms_p95", "cached_tokens", "reasoning_tokens"}


def test_delete_with_filters_returns_the_count(app, client):
    seed(app, {"alias": "a"}, {"alias": "a"}, {"alias": "b"})
    resp = client.delete("/v0/management/usage?alias=a", headers=ADMIN)
    assert resp.status_code == 200 and resp.json == {"deleted": 2}
    assert [r["alias"] for r in records(app, client)["data"]] == ["b"]


def test_delete_without_filters_needs_all_true(app, client):
    seed(app, {"alias": "a"}, {"alias": "b"})
    resp = client.delete("/v0/management/usage", headers=ADMIN)
    assert resp.status_code == 400 and "all=true" in resp.json["error"]["message"]
    assert client.delete("/v0/management/usage?all=true", headers=ADMIN).json == {"deleted": 2}
    assert records(app, client)["total"] == 0
