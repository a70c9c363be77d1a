"""Session affinity under gunicorn: the headers agents send reach the app, and a session's target
is shared by every worker (two workers, each turn on a new connection)."""

import time

import pytest
import requests

from tests.support.fake_upstream import FakeUpstream
from tests.support.gateways import gateway_for, provider
from tests.support.secrets import CLIENT_SECRET

AUTH = {"Authorization": f"Bearer {CLIENT_SECRET}"}


@pytest.fixture(scope="module")
def fakes():
    with FakeUpstream() as a, FakeUpstream() as b:
        yield a, b


@pytest.fixture(scope="module")
def gw(fakes, tmp_path_factory):
    a, b = fakes
    config = {
        "keys": {"test": {"secret": "${PLEXUS_KEY_TEST}"}},
        "providers": {"a": provider("chat", f"{a.url}/v1"), "b": provider("chat", f"{b.url}/v1")},
        "models": {"pair": {"selector": "random", "targets": [{"provider": "a", "model": "ma"},
                                                            {"provider": "b", "model": "mb"}]}},
    }
    with gateway_for(config, tmp_path_factory.mktemp("routing"), workers=2) as process:
        yield process


def turn(gw, headers, n):
    body = {"model": "pair", "messages": [{"role": "user", "content": f"turn {n}"}]}
    resp = requests.post(gw.url + "/v1/chat/completions", json=body, headers={**AUTH, **headers}, timeout=15)
    assert resp.status_code == 200, resp.text
    return resp


@pytest.mark.parametrize("header", ["session-id", "x-claude-code-session-id", "x-session-id"])
def test_each_sessions_turns_land_on_one_target_across_workers(gw, fakes, header):
    a, b = fakes
    served = {}
    for s in range(12):
        session = f"{header}-{s}"
        before = len(a.requests)
        turn(gw, {header: session}, 1)
        served[session] = len(a.requests) > before
    time.sleep(2.5)  # the serving worker has written its entries and the other has read them (each a second apart)
    for session, on_a in served.items():
        before = len(a.requests)
        turn(gw, {header: session}, 2)
        assert (len(a.requests) > before) == on_a, f"{session} moved"
    assert set(served.values()) == {True, False}


def socket_turn(gw, session, n):
    """One response.create over the Responses WebSocket mode, on a new connection."""
    import json

    from websockets.sync.client import connect

    with connect(gw.url.replace("http://", "ws://") + "/v1/responses", additional_headers={**AUTH, "session-id": session}) as ws:
        ws.send(json.dumps({"type": "response.create", "model": "pair", "input": f"turn {n}", "store": False}))
        while (event := json.loads(ws.recv(timeout=15)))["type"] not in ("response.completed", "error", "response.failed"):
            pass
    assert event["type"] == "response.completed", event


def test_the_websocket_mode_keeps_a_sessions_target_too(gw, fakes):
    a, b = fakes
    served = {}
    for s in range(10):
        before = len(a.requests)
        socket_turn(gw, f"ws-session-{s}", 1)
        served[s] = len(a.requests) > before
    time.sleep(2.5)  # as above: both workers know every session's target
    for s, on_a in served.items():
        before = len(a.requests)
        socket_turn(gw, f"ws-session-{s}", 2)
        assert (len(a.requests) > before) == on_a, f"ws-session-{s} moved"
    assert set(served.values()) == {True, False}
