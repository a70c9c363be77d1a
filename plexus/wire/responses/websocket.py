"""The Responses API's WebSocket mode, one connection at a time: `response.create` frames in,
the stream's events out as one JSON text frame each, and the connection's own memory of its turns.

Clients in this mode (Codex) send `store: false` with `previous_response_id` and only the new
items, so the connection keeps each answered turn (its input and output items) and rebuilds the
full input before the request reaches the pipeline; an id it does not hold is left for the
pipeline to expand from the gateway's store. A `generate: false` frame (a warm-up) is answered
here, without an upstream: its input is remembered for the turn that follows. No Flask here."""

import time
from collections import OrderedDict
from typing import Any, Iterable, Iterator

import orjson

from ...core.errors import InvalidRequest
from ...unified.convert import new_id
from ..sse import SSEDecoder
from .client import EXPANDED, TERMINAL, _as_input, check_request

CREATE = "response.create"
IGNORED = frozenset(("response.processed",))  # client acknowledgements that need no answer
KEPT_TURNS = 8  # clients continue from their latest turns; older ones are the store's business
NOT_SENT = ("type", "generate", "stream_id")  # frame fields that are not part of the request


class Session:
    def __init__(self) -> None:
        self.turns: OrderedDict[str, tuple[str | None, list, list]] = OrderedDict()  # id -> (root, input, output)

    def request(self, message: Any) -> tuple[dict, bool] | None:
        """The request body a frame asks for (streamed, full input) and whether it is a warm-up, or
        None for a frame to ignore.
        Raises InvalidRequest for a frame that is not a `response.create` object."""
        if not isinstance(message, str):
            raise InvalidRequest("Binary frames are not supported: send each event as a JSON text frame")
        try:
            frame = orjson.loads(message)
        except orjson.JSONDecodeError as e:
            raise InvalidRequest(f"The frame is not valid JSON: {e}") from None
        if not isinstance(frame, dict):
            raise InvalidRequest("A frame must be a JSON object with a 'type'")
        kind = frame.get("type")
        if kind in IGNORED:
            return None
        if kind != CREATE:
            raise InvalidRequest(f"Unsupported event type '{kind}': send 'response.create'", param="type")
        body = {k: v for k, v in frame.items() if k not in NOT_SENT}
        body["stream"] = True  # implicit over WebSocket
        self._expand(body)
        return body, frame.get("generate") is False

    def _expand(self, body: dict) -> None:
        prev = body.get("previous_response_id")
        turn = self.turns.get(prev) if isinstance(prev, str) else None
        if turn is None:
            return
        root, items, output = turn
        new = body.get("input")
        new = [{"type": "message", "role": "user", "content": new}] if isinstance(new, str) else new or []
        body["input"] = items + output + new
        if root:
            body["previous_response_id"] = root
        else:
            del body["previous_response_id"]
            body[EXPANDED] = prev  # the answer still names the turn it continues

    def remember(self, body: dict, response: dict) -> None:
        rid = response.get("id")
        if not isinstance(rid, str):
            return
        items = body.get("input")
        items = [{"type": "message", "role": "user", "content": items}] if isinstance(items, str) else list(items or ())
        output = [_as_input(i) for i in response.get("output") or () if isinstance(i, dict)]
        self.turns[rid] = (body.get("previous_response_id"), items, output)
        while len(self.turns) > KEPT_TURNS:
            self.turns.popitem(last=False)

    def warm_up(self, body: dict) -> list[str]:
        """`generate: false`: nothing is generated; the input is kept for the next turn."""
        model, _ = check_request(body)
        rid = new_id("resp_")
        shell = {"id": rid, "object": "response", "created_at": int(time.time()), "status": "in_progress", "error": None,
                 "incomplete_details": None, "model": model, "output": [], "previous_response_id": body.get(EXPANDED)
                 or body.get("previous_response_id"), "store": body.get("store", True), "usage": None}
        done = dict(shell, status="completed", usage={"input_tokens": 0, "input_tokens_details": {"cached_tokens": 0},
                                                      "output_tokens": 0, "output_tokens_details": {"reasoning_tokens": 0},
                                                      "total_tokens": 0})
        self.remember(body, done)
        return [_frame({"type": "response.created", "sequence_number": 0, "response": shell}),
                _frame({"type": "response.completed", "sequence_number": 1, "response": done})]

    def frames(self, body: dict, chunks: Iterable[bytes]) -> Iterator[str]:
        """The pipeline's SSE stream, one text frame per event; the terminal event's response is
        remembered for the turns that continue from it."""
        decoder = SSEDecoder()
        for chunk in chunks:
            for event in decoder.feed(chunk):
                if event.event in TERMINAL and event.event != "response.failed":
                    self._remember_event(body, event.data)
                yield event.data.decode()


    def _remember_event(self, body: dict, data: bytes) -> None:
        try:
            response = orjson.loads(data).get("response")
        except (orjson.JSONDecodeError, AttributeError):  # an upstream's malformed event is relayed, not kept
            return
        if isinstance(response, dict):
            self.remember(body, response)


def error_frame(status: int, body: bytes, headers: dict | None = None) -> str:
    """An error answer (OpenAI's `{"error": {...}}` body) as the mode's `error` event, with the
    HTTP status it would have had, so clients treat it as they treat that status."""
    try:
        error = orjson.loads(body).get("error")
    except (orjson.JSONDecodeError, AttributeError):
        error = None
    if not isinstance(error, dict):
        error = {"type": "api_error", "code": None, "message": body.decode("utf-8", "replace"), "param": None}
    event = {"type": "error", "status": status, "error": error}
    if headers:
        event["headers"] = dict(headers)
    return _frame(event)


def _frame(event: dict) -> str:
    return orjson.dumps(event).decode()
