"""Operations in one process (Flask test client, fake upstream): request ids, metrics and who may read
them, the log level through the management API, debug capture (switch, redaction, size caps,
retention, the curl export, the dashboard view)."""

import re
import sqlite3
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from plexus import create_app, logging_setup
from plexus.capture import REDACTED, Captures, Exchange, Part, Settings, fair_share, redact_headers
from plexus.redaction import cut_partial_secret as _cut_partial_secret, redact_text, spellings
from plexus.services import close_app
from plexus.storage import open_storage
from plexus.usage.record import UsageRecord
from tests.support.configs import config_text
from tests.support.secrets import ADMIN_SECRET, CLIENT_SECRET, PROVIDER_SECRET, SECRETS
from tests.support import wire
from tests.support.dashboard import Admin

METRICS_TOKEN = "metrics-test-METRICSTOKEN-0001"
ADMIN = {"x-admin-key": ADMIN_SECRET}
CHAT = "/v1/chat/completions"
TWO_TARGETS = """\
  pair:
    selector: in_order
    targets:
      - {provider: up, model: first-model}
      - {provider: up, model: up-model}
"""


def ask(client, auth, model="fast", stream=False, content="hi", **headers):
    body = {"model": model, "messages": [{"role": "user", "content": content}], "stream": stream}
    return client.post(CHAT, json=body, headers={**auth, **headers})


@pytest.fixture
def make(env, write_config, upstream, tmp_path, monkeypatch):
    """create_app on a config with `extra` root keys (and `models` appended); closes what it made."""
    made = []
    monkeypatch.setenv("PLEXUS_METRICS_TOKEN", METRICS_TOKEN)

    def build(models="", root="", edit=lambda text: text):
        path = write_config(edit(config_text(upstream.url, models) + root))
        app = create_app(str(path), watch=False, DATABASE=str(tmp_path / "plexus.db"))
        app.testing = True
        made.append(app)
        return app

    yield build
    for app in made:
        close_app(app)


@pytest.fixture
def app(make):
    return make(TWO_TARGETS, "metrics:\n  token: ${PLEXUS_METRICS_TOKEN}\n")


@pytest.fixture
def client(app):
    return app.test_client()


def gw(app):
    return app.extensions["plexus"]


def scrape(client, token=ADMIN_SECRET):
    resp = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(resp.get_data(as_text=True)) for s in family.samples}


def total(samples, name, **labels):
    return sum(v for (n, ls), v in samples.items() if n == name and labels.items() <= dict(ls).items())


# ---- request ids ----------------------------------------------------------------------------------


def test_a_request_id_goes_upstream_comes_back_and_is_recorded(app, client, auth, upstream):
    resp = ask(client, auth, **{"x-request-id": "trace-42.a"})
    assert resp.headers["x-request-id"] == "trace-42.a"
    assert upstream.last.headers["x-request-id"] == "trace-42.a"
    streamed = ask(client, auth, stream=True, **{"x-request-id": "trace-43"})
    assert streamed.headers["x-request-id"] == "trace-43" and b"[DONE]" in streamed.get_data()
    refused = ask(client, {"Authorization": "Bearer wrong-key-123"}, **{"x-request-id": "trace-44"})
    assert refused.status_code == 401 and refused.headers["x-request-id"] == "trace-44"
    app.extensions["plexus.usage"].writer.flush()
    stored = {r["request_id"]: r["status"] for r in client.get("/v0/management/usage", headers=ADMIN).json["data"]}
    assert stored == {"trace-42.a": 200, "trace-43": 200}  # a refused key is counted in metrics, not stored


def test_an_unusable_request_id_is_replaced_by_a_fresh_one(client, auth, upstream):
    resp = ask(client, auth, **{"x-request-id": "has spaces and ünicode"})
    new = resp.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", new)
    assert upstream.last.headers["x-request-id"] == new
    assert ask(client, auth).headers["x-request-id"] != new  # made per request


# ---- metrics --------------------------------------------------------------------------------------


@pytest.mark.parametrize("headers, status", [
    ({}, 401),
    ({"Authorization": "Bearer not-the-token"}, 401),
    ({"Authorization": f"Bearer {CLIENT_SECRET}"}, 401),  # a client key is not enough
    ({"Authorization": f"Bearer {METRICS_TOKEN}"}, 200),
    ({"Authorization": f"Bearer {ADMIN_SECRET}"}, 200),
    ({"x-admin-key": ADMIN_SECRET}, 200),
])
def test_metrics_are_for_the_admin_key_or_the_metrics_token(client, headers, status):
    resp = client.get("/metrics", headers=headers)
    assert resp.status_code == status
    if status == 200:
        assert resp.content_type.startswith("text/plain") and b"plexus_requests_total" in resp.data
    else:
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_metrics_token_opens_nothing_else(client):
    assert client.get("/v0/management/usage", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).status_code == 401


def test_metrics_are_off_without_admin_key_or_token(make):
    app = make(edit=lambda text: text.replace("admin_key: ${PLEXUS_ADMIN_KEY}\n", ""))
    assert app.test_client().get("/metrics").status_code == 403


def test_metrics_count_what_went_through(client, auth, upstream):
    upstream.reply(body=wire.chat_completion("up-model", "a", usage=wire.chat_usage(100, 10, cached=40)))
    upstream.reply(body=wire.chat_completion("up-model", "b", usage=wire.chat_usage(20, 5, reasoning=3)))
    upstream.reply(events=wire.chat_stream("up-model", ["x", "y"], usage=wire.chat_usage(7, 2)))
    upstream.reply(status=429, body=wire.openai_error(429, "slow down", code="rate_limit_exceeded"))  # pair fails over
    upstream.reply(body=wire.chat_completion("up-model", "c", usage=wire.chat_usage(1, 1)))
    assert ask(client, auth).status_code == 200
    assert ask(client, auth).status_code == 200
    assert b"[DONE]" in ask(client, auth, stream=True).get_data()
    assert ask(client, auth, model="pair").status_code == 200
    assert ask(client, auth, model="no-such-alias").status_code == 404
    assert ask(client, {}).status_code == 401

    m = scrape(client, METRICS_TOKEN)
    assert total(m, "plexus_requests_total") == 6
    assert total(m, "plexus_requests_total", alias="fast", status="200", api_style="chat", provider="up") == 3
    assert total(m, "plexus_requests_total", alias="(unknown)", status="404") == 1  # no series per made-up name
    assert total(m, "plexus_tokens_total", kind="input") == 60 + 20 + 7 + 1
    assert total(m, "plexus_tokens_total", kind="cached") == 40
    assert total(m, "plexus_tokens_total", kind="output") == 10 + 5 + 2 + 1
    assert total(m, "plexus_tokens_total", kind="reasoning") == 3
    assert total(m, "plexus_cost_usd_total") == pytest.approx((88 * 1.0 + 18 * 2.0 + 40 * 0.5) / 1e6)
    assert total(m, "plexus_failovers_total", alias="pair") == 1
    assert total(m, "plexus_upstream_errors_total", provider="up", kind="rate_limit") == 1
    assert total(m, "plexus_request_duration_seconds_count") == 6
    assert total(m, "plexus_time_to_first_token_seconds_count") == 1
    assert total(m, "plexus_gateway_overhead_seconds_count", fast_path="true") == 4
    assert total(m, "plexus_streams_in_flight") == 0 and total(m, "plexus_usage_queue_depth") >= 0
    assert total(m, "plexus_cooldowns_active") == 1  # pair's first target after its 429


def test_batched_histogram_observations_equal_prometheus_own_observe():
    """Metrics hands many observations to prometheus_client at once through its private values
    (plexus/metrics.py `_observe_many`): the result must be what observe() one by one gives."""
    from prometheus_client import CollectorRegistry, Histogram, generate_latest

    from plexus.metrics import LATENCY_BUCKETS, Metrics

    values = [0.0, 0.1, 0.1000001, 0.3, 7, 599.9, 600, 10_000]
    metrics = Metrics(gateway=None)
    for v in values:
        metrics._put(metrics.duration, ("a", "p"), v)
    metrics.flush()
    registry = CollectorRegistry()
    reference = Histogram("plexus_request_duration_seconds", "x", ("alias", "provider"), buckets=LATENCY_BUCKETS,
                          registry=registry)
    for v in values:
        reference.labels("a", "p").observe(v)

    def samples(registry):
        text = generate_latest(registry).decode()
        return sorted(line for line in text.splitlines() if line.startswith("plexus_request_duration_seconds"))

    assert samples(metrics.registry) == samples(registry) and len(samples(registry)) == len(LATENCY_BUCKETS) + 3


def test_a_stream_cut_midway_counts_as_an_upstream_error(client, auth, upstream):
    upstream.reply(events=wire.chat_stream("up-model", ["a", "b", "c"]), cut_after=2)
    error = wire.chat_stream_error(ask(client, auth, stream=True).get_data())
    assert error["message"] == "The connection to provider 'up' broke (ProtocolError)" and error["type"] == "server_error"
    m = scrape(client)
    assert total(m, "plexus_upstream_errors_total", kind="upstream_unavailable") == 1
    assert total(m, "plexus_requests_total", status="502") == 1


# ---- the log level --------------------------------------------------------------------------------


def test_the_log_level_is_set_in_the_config_file_and_applied(app, client):
    path = gw(app).config.path
    with open(path) as f:
        before = f.read()
    assert client.get("/v0/management/logging", headers=ADMIN).json["level"] == "info"
    resp = client.put("/v0/management/logging", json={"level": "debug"}, headers=ADMIN)
    assert resp.status_code == 200 and resp.json["level"] == "debug" and resp.json["configured"]["level"] == "debug"
    assert logging_setup.current_level() == "debug" and gw(app).config.log_level == "debug"
    with open(path) as f:
        after = f.read()
    assert after.startswith(before) and after[len(before):] == "logging:\n  level: debug\n"  # nothing else touched
    assert "${UPSTREAM_KEY}" in after  # references stay references
    assert client.put("/v0/management/logging", json={"level": "info"}, headers=ADMIN).json["level"] == "info"
    assert logging_setup.current_level() == "info"


@pytest.mark.parametrize("body", [{"level": "verbose"}, {}, {"level": "info", "colour": "red"}, None])
def test_a_bad_log_level_is_refused(client, body):
    resp = client.put("/v0/management/logging", json=body, headers=ADMIN)
    assert resp.status_code == 400 and resp.json["error"]["message"]


def test_the_log_level_needs_the_admin_key(client):
    assert client.put("/v0/management/logging", json={"level": "debug"}).status_code == 401
    assert client.get("/v0/management/logging", headers={"x-admin-key": METRICS_TOKEN}).status_code == 401


# ---- debug capture --------------------------------------------------------------------------------


def capture_on(client, **settings):
    resp = client.put("/v0/management/capture", json={"enabled": True, **settings}, headers=ADMIN)
    assert resp.status_code == 200, resp.json
    return resp.json


def stored_rows(app):
    with sqlite3.connect(gw(app).capture.store.path) as conn:
        return [row[0] for row in conn.execute("SELECT data FROM captures ORDER BY id")]


def test_capture_is_off_until_switched_on(app, client, auth):
    assert gw(app).capture.on is False
    ask(client, auth)
    gw(app).capture.flush()
    assert stored_rows(app) == []
    assert client.get("/v0/management/capture", headers=ADMIN).json["active"] is False


def test_capture_keeps_four_sides_and_no_secret(app, client, auth, upstream):
    assert capture_on(client)["active"] is True
    echo = f"Incorrect API key provided: {PROVIDER_SECRET}"
    upstream.reply(body=wire.chat_completion("up-model", f"you said {CLIENT_SECRET}"))
    upstream.reply(events=wire.chat_stream("up-model", ["Hel", "lo"]))
    upstream.reply(status=401, body=wire.openai_error(401, echo, code="invalid_api_key"))
    assert ask(client, auth, content=f"my key is {CLIENT_SECRET} and {ADMIN_SECRET}", **{"x-request-id": "cap-1"}).status_code == 200
    assert b'"Hel"' in ask(client, auth, stream=True, **{"x-request-id": "cap-2"}).get_data()
    assert ask(client, auth, **{"x-request-id": "cap-3"}).status_code == 401
    gemini = client.post(f"/v1beta/models/fast:generateContent?key={CLIENT_SECRET}",
                         json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
    assert gemini.status_code == 200
    gw(app).capture.flush()

    rows = stored_rows(app)
    assert len(rows) == 4
    for raw in rows:
        assert not [s for s in SECRETS if s in raw]
    docs = {d["request_id"]: d for d in (gw(app).capture.get(c["id"]) for c in gw(app).capture.list())}
    plain = docs["cap-1"]
    assert f"my key is {REDACTED} and {REDACTED}" in plain["client_request"]["body"]["text"]
    assert plain["client_request"]["headers"]["Authorization"] == f"Bearer {REDACTED}"
    call = plain["upstream_requests"][0]
    assert call["headers"]["Authorization"] == f"Bearer {REDACTED}" and call["url"].endswith("/v1/chat/completions")
    assert '"model":"up-model"' in call["body"]["text"]
    assert f"you said {REDACTED}" in plain["upstream_response"]["body"]["text"]
    assert plain["client_response"]["status"] == 200 and '"model":"fast"' in plain["client_response"]["body"]["text"]

    stream = docs["cap-2"]
    assert stream["streamed"] and "data: [DONE]" in stream["upstream_response"]["body"]["text"]
    assert '"content":"Hel"' in stream["client_response"]["body"]["text"] and stream["client_response"]["status"] == 200

    failed = docs["cap-3"]
    assert failed["upstream_response"] is None and failed["client_response"]["status"] == 401
    assert failed["upstream_requests"][0]["status"] == 401
    assert f"Incorrect API key provided: {REDACTED}" in failed["upstream_requests"][0]["error_body"]["text"]

    (translated,) = [d for d in docs.values() if d["api_style"] == "gemini"]
    assert f"key={REDACTED}" in translated["client_request"]["url"]
    assert '"messages"' in translated["upstream_requests"][0]["body"]["text"]  # the translated request


def test_capture_exports_a_curl_with_the_key_as_a_placeholder(app, client, auth):
    capture_on(client)
    ask(client, auth, content=f"quote ' and {CLIENT_SECRET}")
    gw(app).capture.flush()
    (found,) = client.get("/v0/management/captures", headers=ADMIN).json["data"]
    resp = client.get(f"/v0/management/captures/{found['id']}/curl", headers=ADMIN)
    text = resp.get_data(as_text=True)
    assert resp.status_code == 200 and text.startswith("curl -sS -X POST ")
    assert '-H "Authorization: Bearer $UPSTREAM_KEY"' in text  # the config's ${UPSTREAM_KEY}, for the shell to fill
    assert "<<'PLEXUS_BODY'\n{" in text and f"quote ' and {REDACTED}" in text
    assert not [s for s in SECRETS if s in text]
    assert client.get(f"/v0/management/captures/{found['id']}/curl?attempt=9", headers=ADMIN).status_code == 404
    assert client.get("/v0/management/captures/999/curl", headers=ADMIN).status_code == 404


def test_capture_for_one_provider_leaves_the_others_alone(make, upstream, auth):
    other = "  other:\n    type: chat\n    api_base_url: " + upstream.url + "/v1\n    api_key: ${UPSTREAM_KEY}\n"
    app = make("  via-other:\n    targets: [{provider: other, model: m}]\n",
               edit=lambda text: text.replace("models:\n  fast:", other + "models:\n  fast:"))
    client = app.test_client()
    assert capture_on(client, providers=["other"])["providers"] == ["other"]
    ask(client, auth)
    ask(client, auth, model="via-other")
    gw(app).capture.flush()
    assert [c["provider"] for c in gw(app).capture.list()] == ["other"]


@pytest.mark.parametrize("body, message", [
    ({"providers": ["nope"]}, "no provider named 'nope'"),
    ({"max_bytes": 10}, "max_bytes"),
    ({"enabled": "maybe"}, "enabled"),
    ({"colour": "red"}, "colour"),
])
def test_bad_capture_settings_are_refused(client, body, message):
    resp = client.put("/v0/management/capture", json=body, headers=ADMIN)
    assert resp.status_code == 400 and message in resp.json["error"]["message"]


def test_the_switch_is_shared_and_can_switch_itself_off(tmp_path):
    now = [1000.0]
    store = open_storage(str(tmp_path / "db")).captures
    one, two = Captures(store, clock=lambda: now[0]), Captures(store, clock=lambda: now[0])
    one.update(enabled=True, providers=("up",), until=1060.0)
    assert one.on and not two.on
    two.sync()  # what each worker's thread does every second
    assert two.on and two.settings.providers == ("up",)
    now[0] = 1061.0
    two.sync()
    assert not two.on


def exchange(captures, rec_id, body=b"x" * 100, answer=b"y" * 100, secrets=(), settings=None):
    """An Exchange as the request path leaves it, for Captures.write."""
    settings = settings or captures.settings
    config = type("C", (), {"secrets": lambda self: list(secrets)})()
    ex = Exchange(captures, settings, config, "POST", "http://gw/v1/chat/completions",
                  {"Authorization": "Bearer abc"}, body)
    ex.client_status, ex.client_body = 200, Part(settings.max_bytes, answer)
    ex.rec = UsageRecord(api_style="chat", request_id=rec_id, alias="fast", provider="up", status=200)
    return ex


def test_an_exchange_stays_within_its_byte_budget_and_no_secret_prefix_survives_a_cut(tmp_path):
    captures = Captures(open_storage(str(tmp_path / "db")).captures)
    secret = "sk-secret-ABCDEFGHIJKLMNOP"
    settings = Settings(enabled=True, max_bytes=1000)
    # the request is long, and the cut falls inside the secret
    ex = exchange(captures, "big", body=b"a" * 990 + secret.encode() + b"b" * 5000, answer=b"short", secrets=[secret],
                  settings=settings)
    doc = captures.write(ex)
    request, answer = doc["client_request"]["body"], doc["client_response"]["body"]
    assert answer == {"text": "short", "bytes": 5, "truncated": False}  # small parts are kept whole
    assert request["truncated"] and request["bytes"] == 990 + len(secret) + 5000
    assert len(request["text"]) + len(answer["text"]) <= 1000 + len(REDACTED)
    assert "sk-s" not in request["text"] and request["text"] == "a" * 990 + REDACTED


def test_credentials_are_found_by_name_and_in_every_spelling():
    headers = {"Authorization": "Bearer abc", "x-api-key": "k", "Cookie": "a=b", "x-ratelimit-remaining-tokens": "99",
               "X-Request-Id": "r1", "anthropic-ratelimit-tokens-reset": "soon"}
    assert redact_headers(headers, []) == {"Authorization": f"Bearer {REDACTED}", "x-api-key": REDACTED,
                                           "Cookie": REDACTED, "x-ratelimit-remaining-tokens": "99",
                                           "X-Request-Id": "r1", "anthropic-ratelimit-tokens-reset": "soon"}
    secret = 'sk-"odd"/key+1'
    text = f'{{"k": "sk-\\"odd\\"/key+1"}} ?key=sk-%22odd%22%2Fkey%2B1 {secret}'
    assert redact_text(text, spellings([secret])) == f'{{"k": "{REDACTED}"}} ?key={REDACTED} {REDACTED}'


def test_fair_share_keeps_small_parts_whole():
    assert fair_share({"a": 10, "b": 20}, 100) == {"a": 10, "b": 20}
    assert fair_share({"a": 10, "b": 500, "c": 900}, 410) == {"a": 10, "b": 200, "c": 200}
    assert _cut_partial_secret("hello sk-se", ["sk-secret"]) == "hello " + REDACTED
    assert _cut_partial_secret("hello sk", ["sk-secret"]) == "hello sk"  # too short to tell


def test_old_captures_and_those_over_the_total_go(tmp_path):
    now = [time.time()]
    captures = Captures(open_storage(str(tmp_path / "db")).captures, clock=lambda: now[0])
    captures.update(max_total_bytes=6000, retention_hours=1.0)
    for i in range(10):
        captures.write(exchange(captures, f"r{i}", body=b"x" * 500))
    captures.prune()
    kept = captures.list()
    assert sum(c["size"] for c in kept) <= 6000 and kept[0]["request_id"] == "r9"
    assert [c["request_id"] for c in kept] == [f"r{i}" for i in range(9, 9 - len(kept), -1)]  # the newest stay
    now[0] += 3601
    captures.prune()
    assert captures.list() == []


def test_the_dashboard_shows_a_capture_beside_its_log_row(app, client, auth):
    capture_on(client)
    ask(client, auth, content=f"dashboard {CLIENT_SECRET}")
    gw(app).capture.flush()
    app.extensions["plexus.usage"].writer.flush()
    admin = Admin(client)
    assert admin.login().status_code == 303
    record_id = re.search(r"/logs/(\d+)", admin.get("/logs").get_data(as_text=True)).group(1)
    html = admin.get(f"/logs/{record_id}").get_data(as_text=True)  # Admin checks every answer for secrets
    assert "Debug capture" in html and "Upstream request 1" in html and "Client response" in html
    assert f"dashboard {REDACTED}" in html and "Bearer $UPSTREAM_KEY" in html
    capture_off = client.put("/v0/management/capture", json={"enabled": False}, headers=ADMIN)
    assert capture_off.json["active"] is False and capture_off.json["stored"] == 1
    ask(client, auth)
    app.extensions["plexus.usage"].writer.flush()
    newest = re.search(r"/logs/(\d+)", admin.get("/logs").get_data(as_text=True)).group(1)
    assert "Capture is off" in admin.get(f"/logs/{newest}").get_data(as_text=True)
