"""Tool call ids for a provider that gives none (Gemini): new for every call, so unique in the whole
conversation, and kept as the client sends them back (Claude Code's second tool turn to Gemini)."""

from plexus.wire.anthropic import client as anthropic_messages
from plexus.wire.gemini import upstream as gemini
from plexus.wire.sse import SSEDecoder
from tests.support import gemini_wire as gw
from tests.unit.test_gemini_requests import PROVIDER


def streamed_ids(raw):
    parser = gemini.StreamParser()
    return [e.id for event in SSEDecoder().feed(raw) for e in parser.feed(event) if hasattr(e, "name")]


def test_every_call_gets_its_own_id_across_answers_and_in_streams():
    answer = gw.response([gw.call("Bash", {"command": "ls"}), gw.call("Bash", {"command": "pwd"})])
    ids = [p["id"] for _ in range(2) for p in gemini.parse_response(answer)["content"]]
    ids += streamed_ids(b"".join(gw.stream([], calls=[gw.call("Bash", {"command": "ls"})])))
    ids += streamed_ids(b"".join(gw.stream([], calls=[gw.call("Bash", {"command": "ls"})])))
    assert len(ids) == 6 and len(set(ids)) == 6 and all(i == gw.MINTED_ID for i in ids)


def test_second_tool_turn_of_an_anthropic_client_keeps_both_ids_and_names_each_result():
    first = anthropic_messages.render_response(gemini.parse_response(gw.response([gw.call("Bash", {"command": "ls"})])), "a")
    second = anthropic_messages.render_response(gemini.parse_response(gw.response([gw.call("Read", {"path": "x"})])), "a")
    (call1,), (call2,) = first["content"], second["content"]
    assert call1["id"] != call2["id"]
    body = {"model": "a", "max_tokens": 64, "messages": [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [call1]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call1["id"], "content": "a.txt"}]},
        {"role": "assistant", "content": [call2]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call2["id"], "content": "hello"}]}]}
    req = anthropic_messages.parse_request(body)
    assert [p["id"] for m in req["messages"] for p in m["content"] if p["type"] == "tool_call"] == [call1["id"], call2["id"]]
    sent = gemini.build_request(req, "m", PROVIDER)
    results = [p["functionResponse"] for c in sent["contents"] for p in c["parts"] if "functionResponse" in p]
    assert results == [{"name": "Bash", "response": {"output": "a.txt"}}, {"name": "Read", "response": {"output": "hello"}}]
