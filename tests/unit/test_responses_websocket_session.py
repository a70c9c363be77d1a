"""The WebSocket mode's per-connection memory (plexus/wire/responses/websocket.py)."""

import orjson
import pytest

from plexus.core.errors import InvalidRequest
from plexus.wire.responses.websocket import Session, error_frame


def frame(**fields):
    return orjson.dumps({"type": "response.create", "model": "m", **fields}).decode()


def test_turns_are_rebuilt_from_the_connections_memory_and_unknown_roots_are_left_to_the_store():
    s = Session()
    body, warm = s.request(frame(input="hi", previous_response_id="resp_stored", store=False, generate=True))
    assert not warm and body["stream"] is True and "type" not in body and "generate" not in body
    assert body["previous_response_id"] == "resp_stored"  # not held here: the pipeline expands it from the store
    s.remember(body, {"id": "resp_1", "output": [{"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "sh",
                                                  "arguments": "{}", "status": "completed"}]})
    body, _ = s.request(frame(input=[{"type": "function_call_output", "call_id": "c1", "output": "ok"}], previous_response_id="resp_1"))
    assert [i.get("type") for i in body["input"]] == ["message", "function_call", "function_call_output"]
    assert body["input"][1] == {"type": "function_call", "call_id": "c1", "name": "sh", "arguments": "{}"}
    assert body["previous_response_id"] == "resp_stored"


def test_a_warm_up_is_remembered_and_continued_without_previous_response_id():
    s = Session()
    body, warm = s.request(frame(input=[{"role": "developer", "content": "be brief"}], generate=False))
    created, completed = (orjson.loads(f) for f in s.warm_up(body))
    assert warm and created["type"] == "response.created" and completed["response"]["output"] == []
    body, _ = s.request(frame(input="hello", previous_response_id=completed["response"]["id"]))
    assert "previous_response_id" not in body and body["_previous_response_id"] == completed["response"]["id"]
    assert [i["role"] for i in body["input"]] == ["developer", "user"]


@pytest.mark.parametrize("message", [b"{}", "not json", "[1]", '{"type": "response.steer"}'])
def test_frames_that_are_not_a_create_are_refused(message):
    with pytest.raises(InvalidRequest):
        Session().request(message)


def test_acknowledgements_are_ignored_and_errors_keep_their_status():
    assert Session().request('{"type": "response.processed", "response_id": "resp_1"}') is None
    event = orjson.loads(error_frame(429, b'{"error": {"message": "slow", "type": "rate_limit_error"}}', {"Retry-After": "7"}))
    assert event == {"type": "error", "status": 429, "error": {"message": "slow", "type": "rate_limit_error"},
                     "headers": {"Retry-After": "7"}}


def test_the_stream_becomes_one_frame_per_event_and_its_terminal_response_is_kept():
    s = Session()
    body = {"model": "m", "input": "hi"}
    done = orjson.dumps({"type": "response.completed", "response": {"id": "resp_9", "output": []}})
    chunks = [b"event: response.created\ndata: {\"type\":\"response.created\"}\n", b"\nevent: response.completed\ndata: " + done + b"\n\n"]
    assert list(s.frames(body, chunks)) == ['{"type":"response.created"}', done.decode()]
    assert "resp_9" in s.turns
    # a malformed terminal event from an upstream is relayed as it came, and nothing is kept
    assert list(Session().frames(body, [b"event: response.completed\ndata: {oops\n\n"])) == ["{oops"]
