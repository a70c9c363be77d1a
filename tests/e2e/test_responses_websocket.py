"""Responses over WebSocket end to end: the official openai SDK's WebSocket mode
(`client.responses.connect()`), the real gateway under gunicorn, a fake upstream of every type."""

import signal
import threading
import time

import openai
import pytest
import requests

from tests.support import gemini_wire as gw_wire
from tests.support import wire
from tests.support.gateways import gateway_for, shared_config
from tests.support.secrets import ADMIN_SECRET, CLIENT_SECRET

TOOL = {"type": "function", "name": "shell", "description": "Run a command", "parameters": {
    "type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]}}

# openai 3.57.0 opens its socket with websockets' `connect()` outside a `with`, which websockets 17.4 warns about
pytestmark = pytest.mark.filterwarnings("ignore:connect\\(\\) must be used as a context manager:DeprecationWarning")


@pytest.fixture
def sdk(gateway):
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=CLIENT_SECRET, max_retries=0, timeout=20)


def until_done(conn):
    """The events of one turn, up to its terminal event (or an error event)."""
    events = []
    for event in conn:
        events.append(event)
        if event.type in ("response.completed", "response.incomplete", "response.failed", "error"):
            return events
    raise AssertionError("the connection closed mid-turn")


def answer_with_a_call(fake, kind):
    """Script the fake's next answer, in the upstream's format: a call of the `shell` tool."""
    if kind == "chat":
        fake.reply(events=wire.chat_stream_full("up", tool_calls=[("call_1", "shell", {"cmd": "ls"})],
                                                finish_reason="tool_calls"))
    elif kind == "messages":
        fake.reply(events=wire.anthropic_stream("up", [wire.tool_use_block("toolu_1", "shell", {"cmd": "ls"})], stop_reason="tool_use"))
    elif kind == "gemini":
        fake.reply(events=gw_wire.stream([], calls=[gw_wire.call("shell", {"cmd": "ls"})]))
    else:
        fake.reply(events=wire.responses_stream("up", [wire.responses_function_call_item("call_1", "shell", {"cmd": "ls"})],
                                                usage=wire.responses_usage(), id="resp_up1"))


def answer_with_text(fake, kind):
    if kind == "gemini":
        fake.reply(events=gw_wire.stream(["Hello", " from fake"]))
    elif kind == "responses":
        fake.reply(events=wire.responses_stream("up", [wire.responses_message_item("Hello from fake")],
                                                usage=wire.responses_usage(), id="resp_up2"))
    # chat and messages: the fake's default answer is "Hello from fake"


def history_sent(seen, kind):
    """What the upstream got, as (role or item type) in order."""
    body = seen.body
    if kind == "chat":
        return [m["role"] for m in body["messages"]]
    if kind == "messages":
        return [m["role"] for m in body["messages"]]
    if kind == "gemini":
        return [c["role"] for c in body["contents"]]
    return [i.get("role") or i["type"] for i in body["input"]]


EXPECTED = {  # warm-up developer message, user, tool call, tool result
    "chat": ["system", "user", "assistant", "tool"],
    "messages": ["user", "assistant", "user"],
    "gemini": ["user", "model", "user"],
    "responses": ["developer", "user", "function_call", "function_call_output"],
}


@pytest.mark.parametrize("kind", ["chat", "messages", "gemini", "responses"])
def test_codex_like_turns_with_store_false_rebuild_the_history(sdk, fake, kind):
    """Codex's sequence on one socket: a warm-up (`generate: false`), then turns that send only the
    new items with `previous_response_id` and `store: false`; the gateway keeps the conversation."""
    alias = f"to-{kind}"
    with sdk.responses.connect() as conn:
        conn.response.create(model=alias, input=[{"role": "developer", "content": "You are terse."}], store=False,
                             generate=False)
        warm = until_done(conn)
        assert [e.type for e in warm] == ["response.created", "response.completed"] and not fake.requests

        answer_with_a_call(fake, kind)
        conn.response.create(model=alias, previous_response_id=warm[-1].response.id, store=False, tools=[TOOL],
                             input=[{"role": "user", "content": "list files"}])
        first = until_done(conn)
        assert first[0].type == "response.created" and first[-1].type == "response.completed"
        call = [o for o in first[-1].response.output if o.type == "function_call"][0]
        assert call.name == "shell" and "ls" in call.arguments
        assert first[-1].response.model == alias
        if kind != "responses":  # the fast path relays the upstream's own echo
            assert first[-1].response.previous_response_id == warm[-1].response.id

        answer_with_text(fake, kind)
        conn.response.create(model=alias, previous_response_id=first[-1].response.id, store=False, tools=[TOOL],
                             input=[{"type": "function_call_output", "call_id": call.call_id, "output": "a.txt"}])
        second = until_done(conn)
    assert second[-1].type == "response.completed"
    assert "".join(e.delta for e in second if e.type == "response.output_text.delta") == "Hello from fake"
    assert history_sent(fake.last, kind) == EXPECTED[kind]
    assert "a.txt" in str(fake.last.body)
    if kind != "gemini":  # Gemini streams by its URL
        assert fake.last.body["stream"] is True
    assert "generate" not in fake.last.body and "type" not in fake.last.body


def test_stored_responses_continue_across_transports(sdk, fake):
    """A response stored over HTTP is continued over the socket (the store expands what the
    connection itself does not hold)."""
    first = sdk.responses.create(model="to-chat", input="My name is Ada.")
    with sdk.responses.connect() as conn:
        conn.response.create(model="to-messages", previous_response_id=first.id, input="What is my name?")
        events = until_done(conn)
    assert events[-1].type == "response.completed"
    sent = fake.last.body["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"] and "Ada" in str(sent[0])
    assert sdk.responses.retrieve(events[-1].response.id).output_text == "Hello from fake"


def test_errors_are_error_events_and_the_connection_stays(sdk, fake):
    with sdk.responses.connect() as conn:
        conn.response.create(model="no-such-alias", input="hi")
        [error] = until_done(conn)
        assert error.type == "error" and error.status == 404 and error.error.code == "model_not_found"

        fake.reply(status=429, body=wire.openai_error(429, "slow down", type="rate_limit_error"), headers={"Retry-After": "7"})
        conn.response.create(model="to-chat", input="hi")
        [limited] = until_done(conn)
        assert limited.status == 429 and "slow down" in limited.error.message

        conn.send_raw('{"type": "response.cancel"}')
        [unsupported] = until_done(conn)
        assert unsupported.status == 400 and unsupported.error.param == "type"

        conn.response.create(model="to-chat", input="hi again")
        assert until_done(conn)[-1].type == "response.completed"


def usage(gateway, query):
    r = requests.get(f"{gateway.url}/v0/management/usage?{query}", headers={"x-admin-key": ADMIN_SECRET}, timeout=10)
    return r.json()


def rows_after(gateway, query, before, n, timeout=10):
    """The newest rows matching `query` once there are `n` more than `before` (records are written off the request path)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        found = usage(gateway, query)
        if found["total"] >= before + n:
            return found["data"][:found["total"] - before]
        time.sleep(0.05)
    raise AssertionError(f"no {n} new usage records for {query}")


def test_one_usage_record_per_turn_and_cancelled_on_close(sdk, gateway, fake):
    query = "alias=to-messages&api_style=responses"
    before = usage(gateway, query)["total"]
    with sdk.responses.connect() as conn:
        for text in ("one", "two"):
            conn.response.create(model="to-messages", input=text, store=False)
            assert until_done(conn)[-1].type == "response.completed"
    rows = rows_after(gateway, query, before, 2)
    assert len(rows) == 2 and all(r["status"] == 200 and r["streamed"] and r["output_tokens"] for r in rows)
    assert len({r["request_id"] for r in rows}) == 2

    cancelled_before = usage(gateway, query + "&status=cancelled")["total"]
    gate = threading.Event()
    fake.reply(events=wire.anthropic_stream("up", [wire.text_block("slow answer")]), gate=gate, gate_timeout=30)
    try:
        with sdk.responses.connect() as conn:
            conn.response.create(model="to-messages", input="slow", store=False)
            for event in conn:
                if event.type == "response.output_text.delta":
                    break
        # the upstream still holds its last event: only the hang-up watcher can end the turn this soon
        [cancelled] = rows_after(gateway, query + "&status=cancelled", cancelled_before, 1, timeout=3)
    finally:
        gate.set()
    assert cancelled["status"] == "cancelled"


def test_a_wrong_key_is_refused_before_the_upgrade(gateway):
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    with pytest.raises(InvalidStatus) as refused:
        with connect(gateway.url.replace("http://", "ws://") + "/v1/responses", additional_headers={"Authorization": "Bearer sk-wrong"}):
            pass
    assert refused.value.response.status_code == 401 and b"invalid_api_key" in refused.value.response.body


def test_a_graceful_stop_closes_idle_connections_at_once(fake, tmp_path):
    """SIGTERM: a turn in flight finishes, idle connections are closed with 1001 (going away), and
    the worker does not wait out GRACEFUL_TIMEOUT on them."""
    from websockets.exceptions import ConnectionClosedOK
    from websockets.sync.client import connect

    gate = threading.Event()
    fake.reply(events=wire.chat_stream("up", ["slow", " answer"]), gate=gate, gate_timeout=10)
    with gateway_for(shared_config(fake.url), tmp_path, env={"GRACEFUL_TIMEOUT": "20"}) as gw:
        url, auth = gw.url.replace("http://", "ws://") + "/v1/responses", {"Authorization": f"Bearer {CLIENT_SECRET}"}
        with connect(url, additional_headers=auth) as idle, connect(url, additional_headers=auth) as busy:
            busy.send('{"type": "response.create", "model": "to-chat", "input": "hi", "store": false}')
            assert '"response.created"' in busy.recv(timeout=10)
            started = time.monotonic()
            gw.proc.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            gate.set()
            frames = []
            with pytest.raises(ConnectionClosedOK):
                while True:
                    frames.append(busy.recv(timeout=10))
            assert '"response.completed"' in frames[-1]
            with pytest.raises(ConnectionClosedOK) as closed:
                idle.recv(timeout=10)
            assert closed.value.rcvd.code == 1001
        gw.proc.wait(15)
        assert time.monotonic() - started < 8
