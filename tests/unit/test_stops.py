"""Stop sequences toward a provider without them (the Responses API): the gateway ends the answer at
the first one, whole or streamed in any cut."""

import json

import pytest

from plexus.unified import events as ev, stops
from plexus.unified.types import new_request
from plexus.wire.openai_chat import client as chat_client
from plexus.wire.responses import upstream as responses
from plexus.wire.stream import TranslatedStream
from tests.support import wire


def test_a_whole_answer_ends_at_the_first_stop_sequence():
    resp = {"content": [{"type": "reasoning", "text": "END here is fine"}, {"type": "text", "text": "one, two. END three"},
                        {"type": "text", "text": "four"}], "stop_reason": "stop", "stop_sequence": None}
    stops.cut(resp, ["three", "END"])
    assert resp["content"] == [{"type": "reasoning", "text": "END here is fine"}, {"type": "text", "text": "one, two. "}]
    assert (resp["stop_reason"], resp["stop_sequence"]) == ("stop_sequence", "END")
    untouched = {"content": [{"type": "text", "text": "no stop"}], "stop_reason": "stop", "stop_sequence": None}
    assert stops.cut(dict(untouched), ["END"]) == untouched


class Scripted:
    output_chars, usage = 0, None

    def __init__(self, events):
        self.events = events

    def feed(self, sse):
        return [self.events.pop(0)] if self.events else []


@pytest.mark.parametrize("pieces", [["Hello E", "N", "D world"], ["Hello ", "END", " world"], ["Hello END world"],
                                    ["Hel", "lo E", "ND", " world"]])
def test_a_stream_ends_at_a_stop_sequence_cut_anywhere(pieces):
    usage = object()
    events = [ev.Start("r", "m")] + [ev.Text(p) for p in pieces] + [ev.Stop("stop"), ev.UsageReport(usage)]
    f = stops.StopFilter(Scripted(events), ["END"])
    out = [e for _ in range(len(events)) for e in f.feed(None)]
    assert "".join(e.text for e in out if type(e) is ev.Text) == "Hello "
    assert [e for e in out if type(e) is ev.Stop] == [ev.Stop("stop_sequence", "END")]
    assert out[-1] == ev.UsageReport(usage)  # what the upstream reports after the stop is still read


def test_held_text_that_was_not_a_stop_goes_on():
    events = [ev.Text("ab E"), ev.Text("x"), ev.Text("yz E"), ev.Stop("stop")]
    f = stops.StopFilter(Scripted(events), ["END"])
    out = [e for _ in range(4) for e in f.feed(None)]
    assert "".join(e.text for e in out if type(e) is ev.Text) == "ab Exyz E"
    assert out[-1] == ev.Stop("stop")


def test_a_responses_stream_to_a_chat_client_stops_at_the_clients_stop():
    raw = b"".join(wire.responses_stream("up", [wire.responses_message_item("The answer is 42. END of story")],
                                         wire.responses_usage(10, 8)))
    req = new_request("alias", stream=True)
    stream = TranslatedStream(stops.StopFilter(responses.StreamParser(), ["END"]), chat_client.StreamRenderer("alias", req))
    out = b"".join(stream.feed(raw[i:i + 9]) for i in range(0, len(raw), 9)) + stream.close()[0]
    chunks = [json.loads(line[6:]) for line in out.decode().split("\n") if line.startswith("data: {")]
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]) == "The answer is 42. "
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]] == ["stop"]
