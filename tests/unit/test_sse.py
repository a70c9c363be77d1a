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


def decode_by_event(data):
    """Each event in a read of its own, as upstreams send them (the decoder's one-event shortcut)."""
    d = SSEDecoder()
    out = []
    for piece in data.split(b"\n\n")[:-1]:
        out += d.feed(piece + b"\n\n")
    return out + d.close()


@pytest.mark.parametrize("stream", [
    STREAM,
    b"event: content_block_delta\ndata: {\"x\":1}\n\nevent: \ndata: \n\ndata:  two spaces\n\n",
    b"event: ping\n\ndata: {\"after\":\"a named event with no data\"}\n\n",  # the name does not carry over
    b"id: 9\n\ndata: a\n\nevent: e\ndata: b\ndata: c\n\n",  # the id carries over; two data lines
    b"data: x\n\nevent: e\nid: 3\ndata: y\n\n",
])
def test_one_event_per_read_decodes_as_the_line_loop_does(stream):
    assert decode_by_event(stream) == decode_in_pieces(stream, 1)


def test_one_event_per_read_still_enforces_the_size_limit():
    from plexus.wire.sse import EventTooLarge

    with pytest.raises(EventTooLarge):
        SSEDecoder(max_bytes=10).feed(b"data: " + b"x" * 20 + b"\n\n")


def test_a_name_read_before_its_data_names_that_event_only():
    d = SSEDecoder()
    assert d.feed(b"event: x\n") == []
    assert d.feed(b"data: y\n\n") + d.feed(b"data: z\n\n") == [Event("x", b"y"), Event(None, b"z")]
