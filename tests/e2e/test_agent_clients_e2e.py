"""Issue 13 through the official SDKs and the real gateway: `GET /v1/models` (and one model) in
the caller's shape, Codex's captured request (namespace, custom and hosted tools) to a chat, a
messages and a gemini upstream, and a custom tool's call coming back as a custom tool call."""

import json
from pathlib import Path

import anthropic
import openai
import pytest

from tests.support import gemini_wire, wire
from tests.support.gateways import SHARED_ALIASES
from tests.support.secrets import CLIENT_SECRET

CODEX = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "codex_request.json").read_text())["body"]
APPLY_PATCH = {"type": "custom", "name": "apply_patch", "description": "Edit files.",
               "format": {"type": "grammar", "syntax": "lark", "definition": "start: begin_patch hunk+ end_patch"}}
PATCH = "*** Begin Patch\n*** End Patch"


@pytest.fixture
def oa(gateway):
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=CLIENT_SECRET, max_retries=0, timeout=20)


@pytest.fixture
def an(gateway):
    return anthropic.Anthropic(base_url=gateway.url, api_key=CLIENT_SECRET, max_retries=0, timeout=20)


def test_anthropic_sdk_lists_and_retrieves_models_in_anthropics_shape(an):
    models = list(an.models.list(limit=4))  # the SDK pages with after_id until has_more is false
    assert [m.id for m in models] == SHARED_ALIASES
    assert all(m.type == "model" and m.display_name == m.id and m.created_at.year >= 2024 for m in models)
    page = an.models.list(limit=4)
    assert page.has_more and page.first_id == "fast" and page.last_id == "to-messages"
    one = an.models.retrieve("to-gemini")
    assert (one.id, one.type) == ("to-gemini", "model")
    with pytest.raises(anthropic.NotFoundError) as e:
        an.models.retrieve("ghost")
    assert e.value.body["error"]["type"] == "not_found_error"


def test_openai_sdk_lists_and_retrieves_models_in_openais_shape(oa):
    assert [m.id for m in oa.models.list()] == SHARED_ALIASES
    one = oa.models.retrieve("to-chat")
    assert (one.id, one.object, one.owned_by) == ("to-chat", "model", "plexus")
    with pytest.raises(openai.NotFoundError) as e:
        oa.models.retrieve("ghost")
    assert e.value.code == "model_not_found"


SPAWN = ("call_spawn1", "multi_agent_v1__spawn_agent", {"message": "look around"})
ANSWERS = {
    "to-chat": lambda: wire.chat_stream_full("up-chat", tool_calls=[SPAWN]),
    "to-messages": lambda: wire.anthropic_stream("up-claude", [wire.tool_use_block(*SPAWN)], "tool_use"),
    "to-gemini": lambda: gemini_wire.stream([], calls=[gemini_wire.call(SPAWN[1], SPAWN[2])]),
}


def upstream_tool_names(body):
    if "contents" in body:
        return [d["name"] for t in body.get("tools", ()) for d in t.get("functionDeclarations", ())]
    return [t.get("name") or t["function"]["name"] for t in body["tools"]]


@pytest.mark.parametrize("alias", ANSWERS)
def test_codex_request_through_the_openai_sdk_to_every_upstream_type(oa, fake, alias):
    fake.reply(events=ANSWERS[alias]())
    body = {k: v for k, v in CODEX.items() if k not in ("model", "stream", "client_metadata")}
    with oa.responses.with_streaming_response.create(model=alias, stream=True, **body,
                                                     extra_body={"client_metadata": CODEX["client_metadata"]}) as raw:
        dropped = raw.headers.get("x-plexus-dropped-tools")
        events = list(raw.parse())
    final = events[-1].response
    assert events[-1].type == "response.completed"
    call = final.output[0].model_dump()
    assert (call["type"], call["name"], call["namespace"]) == ("function_call", "spawn_agent", "multi_agent_v1")
    names = upstream_tool_names(fake.last.body)
    assert "multi_agent_v1__spawn_agent" in names and "exec_command" in names
    assert dropped == (None if alias == "to-messages" else "web_search")


def test_custom_tool_call_comes_back_to_the_openai_sdk_as_custom_tool_call(oa, fake):
    fake.reply(body=wire.anthropic_message("up-claude", [wire.tool_use_block("toolu_1", "apply_patch", {"input": PATCH})],
                                           "tool_use"))
    resp = oa.responses.create(model="to-messages", input="Add a file.", tools=[APPLY_PATCH])
    item = resp.output[0]
    assert (item.type, item.name, item.input, item.call_id) == ("custom_tool_call", "apply_patch", PATCH, "toolu_1")
    sent = fake.last.body["tools"][0]
    assert sent["name"] == "apply_patch" and sent["input_schema"]["required"] == ["input"]
    resp = oa.responses.create(model="to-messages", tools=[APPLY_PATCH], input=[
        {"role": "user", "content": "Add a file."}, item.model_dump(exclude_none=True),
        {"type": "custom_tool_call_output", "call_id": "toolu_1", "output": "Done!"}])
    assert fake.last.body["messages"][-1]["content"][0] == {"type": "tool_result", "tool_use_id": "toolu_1",
                                                            "content": [{"type": "text", "text": "Done!"}]}
