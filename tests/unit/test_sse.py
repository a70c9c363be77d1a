import pytest

from plexus.wire.sse import Event, SSEDecoder, encode

STREAM = (
    b": keep-alive comment\n"
    b"event: message_start\n"
    b"data: {\"a\":1}\n"
    b"\n"
    b"data: first line\n"
    b"data:second line\n"
    b"\n"
    b"id: 7\n"
    b"data: {\"text\":\"caf\xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x98\x80\"}\n"
    b"\n"
)
EXPECTED = [
    Event("message_start", b'{"a":1}'),
    Event(None, b"first line\nsecond line"),
    Event(None, '{"text":"café \u2028 😀"}'.encode(), "7"),
]


def decode_in_pieces(data, size):
    d = SSEDecoder()
    out = []
    for i in range(0, len(data), size):
        out += d.feed(data[i : i + size])
    return out + d.close()


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64, 10_000])
@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_decoder_handles_every_line_ending_split_anywhere(size, newline):
    data = STREAM.replace(b"\n", newline)
    assert decode_in_pieces(data, size) == EXPECTED


def test_last_event_without_blank_line_is_dispatched_at_close():
    assert decode_in_pieces(b"data: [DONE]", 4) == [Event(None, b"[DONE]")]


def test_blank_lines_without_data_dispatch_nothing():
    assert decode_in_pieces(b"\n\n: ping\n\n", 3) == []


def test_encoder_round_trips():
    events = [Event("content_block_delta", b'{"x":"y"}'), Event(None, b"a\nb")]
    wire = b"".join(encode(e.data, e.event) for e in events)
    assert wire == b'event: content_block_delta\ndata: {"x":"y"}\n\ndata: a\ndata: b\n\n'
    assert decode_in_pieces(wire, 3) == events
