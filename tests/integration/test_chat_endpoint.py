"""POST /v1/chat/completions to a `type: chat` upstream, with the upstream faked by `responses`."""

import json

import pytest
import requests
import responses

from tests.support.secrets import CLIENT_SECRET, PROVIDER_SECRET
from tests.support import wire

URL = None  # set per test from the app's config


@pytest.fixture
def mocked(app):
    global URL
    URL = app.extensions["plexus"].config.providers["up"].api_base_url + "/chat/completions"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def post(client, body, headers=None, **kw):
    h = {"Authorization": f"Bearer {CLIENT_SECRET}"}
    h.update(headers or {})
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post("/v1/chat/completions", data=data, headers=h, content_type=kw.get("content_type", "application/json"))


def chat_body(**extra):
    return {"model": "fast", "messages": [{"role": "user", "content": "hi"}], **extra}


def sse_lines(resp):
    return [line for line in resp.get_data().split(b"\n\n") if line]


def test_non_streamed_request_is_forwarded_with_the_model_swapped(client, mocked):
    mocked.post(URL, json=wire.chat_completion("up-model-2024", "Hi!"))
    resp = post(client, chat_body(temperature=0.2, some_new_field={"kept": True}))
    assert resp.status_code == 200
    assert resp.json["model"] == "fast"
    assert resp.json["choices"][0]["message"]["content"] == "Hi!"
    sent = mocked.calls[0].request
    assert json.loads(sent.body) == {**chat_body(temperature=0.2, some_new_field={"kept": True}), "model": "up-model"}
    assert sent.headers["Authorization"] == f"Bearer {PROVIDER_SECRET}"


def test_additional_alias_reaches_the_same_target_and_echoes_the_name_asked(client, mocked):
    mocked.post(URL, json=wire.chat_completion("up-model", "Hi!"))
    resp = post(client, chat_body(model="fast-too"))
    assert resp.json["model"] == "fast-too"
    assert json.loads(mocked.calls[0].request.body)["model"] == "up-model"


def test_stream_asks_upstream_for_usage_and_hides_the_usage_chunk(client, mocked):
    mocked.post(URL, body=b"".join(wire.chat_stream("up-model", ["Hel", "lo"])), content_type="text/event-stream")
    resp = post(client, chat_body(stream=True))
    assert resp.status_code == 200
    assert resp.mimetype == "text/event-stream"
    sent = json.loads(mocked.calls[0].request.body)
    assert sent["stream_options"] == {"include_usage": True}
    events = sse_lines(resp)
    assert events[-1] == b"data: [DONE]"
    chunks = [json.loads(e[6:]) for e in events[:-1]]
    assert [c["choices"][0]["delta"].get("content") for c in chunks] == ["", "Hel", "lo", None]
    assert all(c["model"] == "fast" for c in chunks)
    assert all(c["choices"] for c in chunks)  # the usage-only chunk was not passed on


def test_stream_keeps_the_usage_chunk_when_the_client_asked(client, mocked):
    mocked.post(URL, body=b"".join(wire.chat_stream("up-model", ["Hi"])), content_type="text/event-stream")
    resp = post(client, chat_body(stream=True, stream_options={"include_usage": True}))
    chunks = [json.loads(e[6:]) for e in sse_lines(resp)[:-1]]
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 1


def test_stream_cut_before_finishing_ends_with_an_error_not_done(client, mocked):
    cut = b"".join(wire.chat_stream("up-model", ["Hel", "lo"])[:2])
    mocked.post(URL, body=cut, content_type="text/event-stream")
    events = sse_lines(post(client, chat_body(stream=True)))
    assert events[-1].startswith(b'data: {"error"')
    assert b"[DONE]" not in b"".join(events)


def test_stream_without_done_but_finished_gets_done(client, mocked):
    mocked.post(URL, body=b"".join(wire.chat_stream("up-model", ["Hi"])[:-1]), content_type="text/event-stream")
    assert sse_lines(post(client, chat_body(stream=True)))[-1] == b"data: [DONE]"


@pytest.mark.parametrize("headers", [{"Authorization": ""}, {"Authorization": "Bearer wrong-key-123"}])
def test_missing_or_wrong_key_is_401_in_openai_shape(client, mocked, headers):
    resp = post(client, chat_body(), headers=headers)
    assert resp.status_code == 401
    assert set(resp.json["error"]) == {"message", "type", "param", "code"}
    assert not mocked.calls


def test_x_api_key_header_is_accepted(client, mocked):
    mocked.post(URL, json=wire.chat_completion("up-model", "Hi!"))
    resp = post(client, chat_body(), headers={"Authorization": "", "x-api-key": CLIENT_SECRET})
    assert resp.status_code == 200 and resp.json["choices"][0]["message"]["content"] == "Hi!"
    assert mocked.calls[0].request.headers["Authorization"] == f"Bearer {PROVIDER_SECRET}"


@pytest.mark.parametrize(
    "body, status, needle",
    [
        (b"{not json", 400, "not valid JSON"),
        (b"\xff\xfe", 400, "not valid JSON"),
        (b"", 400, "empty"),
        ([1, 2], 400, "JSON object"),
        ({"messages": [{"role": "user", "content": "x"}]}, 400, "'model'"),
        ({"model": 5, "messages": [{"role": "user", "content": "x"}]}, 400, "'model'"),
        ({"model": "fast"}, 400, "'messages'"),
        ({"model": "fast", "messages": "hi"}, 400, "'messages'"),
        ({"model": "fast", "messages": []}, 400, "'messages'"),
        ({"model": "fast", "messages": [{"role": "robot", "content": "x"}]}, 400, "role"),
        ({"model": "fast", "messages": [{"role": "user"}], "stream": "yes"}, 400, "'stream'"),
        ({"model": "nope", "messages": [{"role": "user", "content": "x"}]}, 404, "nope"),
    ],
)
def test_bad_requests_get_openai_errors(client, mocked, body, status, needle):
    resp = post(client, body)
    assert resp.status_code == status
    assert needle in resp.json["error"]["message"]
    assert not mocked.calls


def test_unknown_alias_has_model_not_found_code(client, mocked):
    resp = post(client, chat_body(model="nope"))
    assert resp.json["error"]["code"] == "model_not_found"


def test_wrong_content_type_is_refused(client, mocked):
    resp = post(client, "model=fast", content_type="application/x-www-form-urlencoded")
    assert resp.status_code == 400 and "Content-Type" in resp.json["error"]["message"]


def test_body_over_the_limit_is_413(app, mocked):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    resp = post(app.test_client(), chat_body(messages=[{"role": "user", "content": "x" * 2000}]))
    assert resp.status_code == 413 and resp.json["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize("status, etype, code", [(429, "requests", "rate_limit_exceeded"), (500, "server_error", None),
                                                 (503, "server_error", None),
                                                 (400, "invalid_request_error", "context_length_exceeded")])
def test_upstream_error_status_and_message_come_through(client, mocked, status, etype, code):
    mocked.post(URL, status=status, json=wire.openai_error(status, f"upstream says {status}", etype, code), headers={"retry-after": "7"})
    resp = post(client, chat_body())
    assert resp.status_code == status
    assert resp.json["error"]["message"] == f"upstream says {status}"
    assert resp.json["error"]["type"] == etype and resp.json["error"]["code"] == code
    assert resp.headers["Retry-After"] == "7"


def test_upstream_error_for_a_stream_is_a_real_status_not_a_200_stream(client, mocked):
    mocked.post(URL, status=429, json=wire.openai_error(429, "slow down", "requests", "rate_limit_exceeded"))
    resp = post(client, chat_body(stream=True))
    assert resp.status_code == 429 and resp.json["error"]["message"] == "slow down"


def test_upstream_echoing_the_provider_key_is_redacted(client, mocked):
    mocked.post(URL, status=401, json=wire.openai_error(401, f"Incorrect API key provided: {PROVIDER_SECRET}", code="invalid_api_key"))
    resp = post(client, chat_body())
    assert resp.status_code == 401
    assert PROVIDER_SECRET not in resp.get_data(as_text=True)
    assert resp.json == {"error": {"message": "Incorrect API key provided: ***", "type": "invalid_request_error",
                                   "param": None, "code": "invalid_api_key"}}


def test_upstream_non_json_error_body_still_gives_a_message(client, mocked):
    mocked.post(URL, status=502, body=b"<html>Bad Gateway</html>", content_type="text/html")
    resp = post(client, chat_body())
    assert resp.status_code == 502 and "Bad Gateway" in resp.json["error"]["message"]


def test_upstream_unreachable_is_502(client, mocked):
    mocked.post(URL, body=requests.exceptions.ConnectionError("refused"))
    resp = post(client, chat_body())
    assert resp.status_code == 502 and "Could not reach provider 'up'" in resp.json["error"]["message"]


@pytest.mark.parametrize("exc", [requests.exceptions.ReadTimeout, requests.exceptions.ConnectTimeout])
def test_upstream_timeout_is_504(client, mocked, exc):
    mocked.post(URL, body=exc("slow"))
    resp = post(client, chat_body(stream=True))
    assert resp.status_code == 504 and resp.json["error"]["type"] == "server_error"


def test_upstream_200_with_garbage_is_502(client, mocked):
    mocked.post(URL, body=b"not json", content_type="application/json")
    resp = post(client, chat_body())
    assert resp.status_code == 502
    assert resp.json == {"error": {"message": "The upstream answered with a body that is not JSON",
                                   "type": "server_error", "param": None, "code": "upstream_unavailable"}}


def test_models_lists_aliases_in_openai_format(client):
    resp = client.get("/v1/models", headers={"Authorization": f"Bearer {CLIENT_SECRET}"})
    assert resp.status_code == 200
    assert resp.json["object"] == "list"
    assert [m["id"] for m in resp.json["data"]] == ["fast", "fast-too"]
    assert all(set(m) == {"id", "object", "created", "owned_by"} and m["object"] == "model" for m in resp.json["data"])


def test_models_needs_a_key(client):
    assert client.get("/v1/models").status_code == 401


def test_health_needs_no_auth(client):
    resp = client.get("/health")
    assert resp.status_code == 200 and resp.json == {"status": "ok", "store": "ok"}


def test_unknown_path_is_a_json_404(client):
    resp = client.post("/v1/nothing")
    assert resp.status_code == 404 and resp.mimetype == "application/json"
    assert set(resp.json) == {"error"} and resp.json["error"]["type"] == "invalid_request_error"
    assert resp.json["error"]["message"].startswith("The requested URL was not found on the server.")


def test_provider_without_key_refuses_with_a_clear_error(env, write_config, monkeypatch, make_app):
    from tests.support.configs import config_text

    monkeypatch.delenv("UPSTREAM_KEY")
    app = make_app(str(write_config(config_text("http://127.0.0.1:9"))), watch=False)
    resp = post(app.test_client(), chat_body())
    assert resp.status_code == 503
    assert "UPSTREAM_KEY" in resp.json["error"]["message"]


def test_a_bug_still_leaves_one_record_and_no_stack_trace(app, mocked, monkeypatch):
    from plexus.wire.openai_chat import client as openai_chat

    records = []
    app.extensions["plexus"].sinks.append(records.append)
    monkeypatch.setattr(openai_chat, "passthrough_request", lambda *a, **k: 1 / 0)
    resp = post(app.test_client(), chat_body())
    assert resp.status_code == 500 and resp.json["error"]["message"] == "Internal gateway error"
    assert "Traceback" not in resp.get_data(as_text=True)
    assert [(r.status, r.alias) for r in records] == [(500, "fast")]


def test_server_timing_splits_gateway_and_upstream_time(client, mocked):
    mocked.post(URL, json=wire.chat_completion("up-model", "Hi!"))
    header = post(client, chat_body()).headers["Server-Timing"]
    parts = dict(p.strip().split(";dur=") for p in header.split(","))
    assert set(parts) == {"gateway", "upstream"} and all(float(v) >= 0 for v in parts.values())
