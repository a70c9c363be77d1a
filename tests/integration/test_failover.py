"""Failover, cooldowns, timeouts and mid-stream faults, injected for real through fake upstreams."""

import json
import socket
import threading
import time

import pytest

from plexus import create_app
from plexus.config import CooldownPolicy
from plexus.cooldowns import Cooldowns
from plexus.storage import open_storage
from tests.support.secrets import CLIENT_SECRET
from tests.support import fixtures, wire
from tests.support.fake_upstream import FakeUpstream


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens here once the socket is closed


@pytest.fixture
def fakes():
    with FakeUpstream() as a, FakeUpstream() as b:
        yield a, b


def make_app(write_config, tmp_path, a, b, extra_provider="", timeouts="{connect: 2, read: 5}", top=""):
    text = f"""
keys: {{test: {{secret: "${{PLEXUS_KEY_TEST}}"}}}}
{top}
providers:
  a: {{type: chat, api_base_url: "{a}/v1", api_key: ka, timeouts: {timeouts}}}
  b: {{type: chat, api_base_url: "{b}/v1", api_key: kb, timeouts: {timeouts}}}
  an: {{type: messages, api_base_url: "{a}/v1", api_key: ka, timeouts: {timeouts}}}
{extra_provider}
models:
  pair: {{selector: in_order, targets: [{{provider: a, model: ma}}, {{provider: b, model: mb}}]}}
  solo: {{targets: [{{provider: a, model: ma}}]}}
  claude-solo: {{targets: [{{provider: an, model: ca}}]}}
"""
    app = create_app(str(write_config(text)), watch=False, DATABASE=str(tmp_path / "p.db"))
    records = []
    app.extensions["plexus"].sinks.append(records.append)
    return app, records


def chat(client, model="pair", **extra):
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], **extra}
    return client.post("/v1/chat/completions", data=json.dumps(body), content_type="application/json",
                       headers={"Authorization": f"Bearer {CLIENT_SECRET}"})


def test_a_5xx_fails_over_and_the_failed_target_cools_down(env, write_config, tmp_path, fakes):
    a, b = fakes
    app, records = make_app(write_config, tmp_path, a.url, b.url)
    client = app.test_client()
    a.reply(status=503, body=wire.openai_error(503, "overloaded", "server_error"))
    resp = chat(client)
    assert resp.status_code == 200 and resp.json["model"] == "pair"
    assert [(x["provider"], x["status"]) for x in records[-1].attempts] == [("a", 503), ("b", 200)]
    assert records[-1].provider == "b"
    cooling = app.extensions["plexus"].cooldowns.active()
    assert [(c["provider"], c["model"], c["failures"]) for c in cooling] == [("a", "ma", 1)]
    assert 4 < cooling[0]["remaining_s"] <= 5

    resp = chat(client)  # a is skipped while it cools down
    assert resp.status_code == 200 and len(a.requests) == 1 and len(b.requests) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 422])
def test_client_errors_go_straight_back(env, write_config, tmp_path, fakes, status):
    a, b = fakes
    app, records = make_app(write_config, tmp_path, a.url, b.url)
    a.reply(status=status, body=wire.openai_error(status, f"no: {status}"))
    resp = chat(app.test_client())
    assert resp.status_code == status and resp.json["error"]["message"] == f"no: {status}"
    assert not b.requests and not app.extensions["plexus"].cooldowns.active()


def test_connection_refused_and_reset_fail_over(env, write_config, tmp_path, fakes):
    a, b = fakes
    app, records = make_app(write_config, tmp_path, f"http://127.0.0.1:{closed_port()}", b.url)
    assert chat(app.test_client()).status_code == 200
    assert records[-1].attempts[0]["status"] == 502

    app, records = make_app(write_config, tmp_path, a.url, b.url)
    a.reply(drop=True)
    assert chat(app.test_client()).status_code == 200
    assert [x["provider"] for x in records[-1].attempts] == ["a", "b"]


def test_first_byte_timeout_fails_over_or_is_a_504(env, write_config, tmp_path, fakes):
    a, b = fakes
    app, records = make_app(write_config, tmp_path, a.url, b.url, timeouts="{connect: 2, first_byte: 0.3}")
    a.reply(delay=1.0, body=wire.chat_completion("ma", "late"))
    assert chat(app.test_client()).json["choices"][0]["message"]["content"] == "Hello from fake"
    a.reply(delay=1.0, body=wire.chat_completion("ma", "late"))
    resp = chat(app.test_client(), model="solo")
    assert resp.status_code == 504 and resp.json["error"]["code"] == "timeout"


def test_a_stream_that_dies_before_its_first_chunk_fails_over(env, write_config, tmp_path, fakes):
    a, b = fakes
    app, records = make_app(write_config, tmp_path, a.url, b.url)
    a.reply(events=[])  # 200, then nothing
    resp = chat(app.test_client(), stream=True)
    assert resp.status_code == 200 and b"Hello" in resp.get_data() and resp.get_data().endswith(b"data: [DONE]\n\n")
    assert [x["provider"] for x in records[-1].attempts] == ["a", "b"]


def test_retry_after_sets_the_cooldown(env, write_config, tmp_path, fakes):
    a, b = fakes
    app, _ = make_app(write_config, tmp_path, a.url, b.url)
    a.reply(status=429, body=wire.openai_error(429, "slow down", "requests", "rate_limit_exceeded"), headers={"Retry-After": "40"})
    chat(app.test_client())
    (cooling,) = app.extensions["plexus"].cooldowns.active()
    assert 38 < cooling["remaining_s"] <= 40


def test_when_every_target_cools_the_soonest_is_tried(env, write_config, tmp_path, fakes):
    a, b = fakes
    app, records = make_app(write_config, tmp_path, a.url, b.url)
    cooldowns = app.extensions["plexus"].cooldowns
    policy = CooldownPolicy(initial_s=60, max_s=600)
    cooldowns.fail("a", "ma", "test", policy, retry_after=300)
    cooldowns.fail("b", "mb", "test", policy)
    resp = chat(app.test_client())
    assert resp.status_code == 200 and records[-1].provider == "b"
    assert not [c for c in cooldowns.active() if c["provider"] == "b"]  # success ends its cooldown


def test_attempts_are_bounded_by_config(env, write_config, tmp_path, fakes):
    a, b = fakes
    app, records = make_app(write_config, tmp_path, a.url, b.url, top="failover: {max_attempts: 1, retry_on: [500]}")
    a.reply(status=500, body=wire.openai_error(500, "boom", "server_error"))
    assert chat(app.test_client()).status_code == 500 and not b.requests
    a.reply(status=503, body=wire.openai_error(503, "busy", "server_error"))  # not in retry_on: no cooldown grows
    assert chat(app.test_client(), model="solo").status_code == 503
    assert app.extensions["plexus"].cooldowns.active()[0]["failures"] == 1


def test_cooldown_grows_bounded_and_resets():
    now = [1000.0]
    c = Cooldowns(clock=lambda: now[0])
    policy = CooldownPolicy(initial_s=5, max_s=30)
    periods = []
    for _ in range(5):
        c.fail("p", "m", "x", policy)
        periods.append(c.until("p", "m") - now[0])
    assert periods == [5, 10, 20, 30, 30]
    c.succeed("p", "m")
    assert c.until("p", "m") is None
    c.fail("p", "m", "x", policy)
    assert c.until("p", "m") - now[0] == 5
    now[0] += 6
    assert c.until("p", "m") is None and c.active() == []


def test_cooldowns_are_shared_through_the_database(tmp_path):
    path = str(tmp_path / "shared.db")
    store = open_storage(path).cooldowns
    one, two = Cooldowns(store), Cooldowns(store)
    one.fail("p", "m", "boom", CooldownPolicy())
    assert two.until("p", "m") is None  # not yet shared
    one.sync()
    two.sync()
    assert two.until("p", "m") is not None and two.active()[0]["reason"] == "boom"
    assert two.clear(provider="p") == 1
    one.sync()
    assert one.until("p", "m") is None


# ---- mid-stream faults: always a well-formed end in the client's own style -------------------------


def test_stalled_openai_stream_ends_with_an_error_object(env, write_config, tmp_path, fakes):
    a, b = fakes
    app, records = make_app(write_config, tmp_path, a.url, b.url, timeouts="{connect: 2, read: 5, idle: 0.3}")
    gate = threading.Event()
    a.reply(events=wire.chat_stream("ma", ["one", "two", "three"])[:4], gate=gate, gate_timeout=3)  # stalls before "three"
    started = time.time()
    body = chat(app.test_client(), model="solo", stream=True).get_data()
    gate.set()
    assert time.time() - started < 2.5
    events = [e for e in body.split(b"\n\n") if e]
    assert b'"content":"three"' not in body and b"[DONE]" not in body
    err = json.loads(events[-1][6:])["error"]
    assert "stalled" in err["message"]
    assert records[-1].status == 504 and records[-1].error and "stalled" in records[-1].error


def test_broken_anthropic_stream_ends_with_an_error_event(env, write_config, tmp_path, fakes):
    a, b = fakes
    app, records = make_app(write_config, tmp_path, a.url, b.url)
    a.reply(events=fixtures.events("anthropic_parallel_tools"), cut_after=6)
    body = {"model": "claude-solo", "max_tokens": 50, "stream": True, "messages": [{"role": "user", "content": "x"}]}
    out = app.test_client().post("/v1/messages", data=json.dumps(body), content_type="application/json",
                                 headers={"x-api-key": CLIENT_SECRET}).get_data()
    last = [e for e in out.split(b"\n\n") if e][-1]
    assert last.startswith(b"event: error\ndata: ")
    assert json.loads(last.split(b"data: ", 1)[1])["type"] == "error"
    assert b"message_stop" not in out
    assert records[-1].status == 502 and records[-1].usage.input_tokens == 24  # what was received is kept


def test_broken_translated_stream_ends_with_response_failed(env, write_config, tmp_path, fakes):
    a, b = fakes
    app, records = make_app(write_config, tmp_path, a.url, b.url)
    a.reply(events=wire.chat_stream("ma", ["one", "two", "three"]), cut_after=3)
    out = app.test_client().post("/v1/responses", data=json.dumps({"model": "solo", "input": "x", "stream": True}),
                                 content_type="application/json", headers={"Authorization": f"Bearer {CLIENT_SECRET}"}).get_data()
    events = [json.loads(e.split(b"data: ", 1)[1]) for e in out.split(b"\n\n") if e]
    assert events[-1]["type"] == "response.failed" and events[-1]["response"]["status"] == "failed"
    seqs = [e["sequence_number"] for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_total_timeout_cuts_a_long_stream(env, write_config, tmp_path, fakes):
    a, b = fakes
    app, records = make_app(write_config, tmp_path, a.url, b.url, timeouts="{connect: 2, read: 5, total: 0.5}")
    a.reply(events=wire.chat_stream("ma", ["x"] * 20), gap=0.1)
    out = chat(app.test_client(), model="solo", stream=True).get_data()
    assert b"total timeout" in out and b"[DONE]" not in out


def test_cooldowns_in_the_management_api(env, write_config, tmp_path, fakes):
    from tests.support.secrets import ADMIN_SECRET

    a, b = fakes
    text_top = 'admin_key: "${PLEXUS_ADMIN_KEY}"'
    app, _ = make_app(write_config, tmp_path, a.url, b.url, top=text_top)
    client = app.test_client()
    a.reply(status=500, body=wire.openai_error(500, "boom", "server_error"))
    chat(client)
    admin = {"x-admin-key": ADMIN_SECRET}
    assert client.get("/v0/management/cooldowns").status_code == 401
    (row,) = client.get("/v0/management/cooldowns", headers=admin).json["data"]
    assert (row["provider"], row["model"], row["failures"], row["reason"]) == ("a", "ma", 1, "boom")
    assert client.delete("/v0/management/cooldowns?provider=a", headers=admin).json == {"cleared": 1}
    assert client.get("/v0/management/cooldowns", headers=admin).json == {"data": []}
    vitals = client.get("/v0/management/runtime", headers=admin).json
    assert vitals["streams_in_flight"] == 0 and vitals["open_fds"] > 0
