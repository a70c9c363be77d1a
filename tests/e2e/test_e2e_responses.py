"""The Responses API end to end: the official SDK, the real gateway under gunicorn, a fake upstream."""

import openai
import pytest

from tests.support.secrets import CLIENT_SECRET, OTHER_SECRET
from tests.support import fixtures, wire


@pytest.fixture
def sdk(gateway):
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=CLIENT_SECRET, max_retries=0, timeout=20)


def test_conversation_continues_across_providers_and_is_stored_per_key(sdk, gateway, fake):
    first = sdk.responses.create(model="to-chat", input="My name is Ada.", instructions="Be brief.")
    assert first.output_text == "Hello from fake" and first.model == "to-chat" and first.status == "completed"
    assert first.usage.input_tokens == 12 and first.usage.output_tokens == 5

    second = sdk.responses.create(model="to-messages", input="What is my name?", previous_response_id=first.id)
    sent = fake.last.body
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]
    assert sent["messages"][0]["content"][0]["text"] == "My name is Ada."
    assert sent["messages"][1]["content"][0]["text"] == "Hello from fake"
    assert "system" not in sent  # instructions are not carried over, as with OpenAI
    assert second.previous_response_id == first.id

    assert sdk.responses.retrieve(first.id).output_text == "Hello from fake"
    other = openai.OpenAI(base_url=gateway.url + "/v1", api_key=OTHER_SECRET, max_retries=0)
    with pytest.raises(openai.NotFoundError):
        other.responses.retrieve(first.id)
    sdk.responses.delete(first.id)
    with pytest.raises(openai.NotFoundError):
        sdk.responses.retrieve(first.id)


def test_store_false_keeps_nothing(sdk):
    r = sdk.responses.create(model="to-chat", input="x", store=False)
    with pytest.raises(openai.NotFoundError):
        sdk.responses.retrieve(r.id)


def test_unknown_previous_response_is_400_for_a_translated_target(sdk):
    with pytest.raises(openai.BadRequestError) as e:
        sdk.responses.create(model="to-chat", input="x", previous_response_id="resp_unknown")
    assert "resp_unknown" in str(e.value)


def test_streamed_translation_with_a_tool_call(sdk, fake):
    fake.reply(events=fixtures.events("openai_parallel_tools"))
    with sdk.responses.stream(model="to-chat", input="weather and time in Paris?") as stream:
        types = [ev.type for ev in stream]
        final = stream.get_final_response()
    assert types[0] == "response.created" and types[-1] == "response.completed"
    calls = [o for o in final.output if o.type == "function_call"]
    assert [(c.name, c.call_id) for c in calls] == [("get_weather", "call_DdmO9pD3xa9XTPNJ32zg2hcA"), ("get_time", "call_ABSDBtVmUk2b6ZiNUz8zt3aG")]
    assert calls[1].arguments == '{"timezone":"Europe/Paris"}'
    assert fake.last.body["stream"] is True


def test_fast_path_stream_is_relayed_and_stored(sdk, fake):
    fake.reply(events=fixtures.events("responses_reasoning_text_tool"))
    with sdk.responses.stream(model="to-responses", input="weather?") as stream:
        list(stream)
        final = stream.get_final_response()
    assert fake.last.path == "/v1/responses" and fake.last.body["model"] == "up-gpt"
    assert final.model == "to-responses"
    assert [o.type for o in final.output] == ["reasoning", "message", "function_call"]
    assert final.usage.input_tokens_details.cached_tokens == 64
    assert sdk.responses.retrieve(final.id).output[2].arguments == '{"city":"Paris"}'


def test_chat_client_reaches_a_responses_upstream(gateway, fake):
    raw = fixtures.events("responses_reasoning_text_tool")[-1].split(b"data: ", 1)[1]
    import json

    fake.reply(body=json.loads(raw)["response"])
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key=CLIENT_SECRET, max_retries=0)
    result = client.chat.completions.create(model="to-responses", messages=[{"role": "user", "content": "weather?"}])
    msg = result.choices[0].message
    assert msg.content == "Let me check." and msg.tool_calls[0].function.arguments == '{"city":"Paris"}'
    assert result.choices[0].finish_reason == "tool_calls"
    assert result.usage.prompt_tokens == 81 and result.usage.completion_tokens_details.reasoning_tokens == 128
    assert fake.last.body["store"] is False and fake.last.body["input"][0]["role"] == "user"


def test_upstream_error_reaches_the_responses_client(sdk, fake):
    fake.reply(status=429, body=wire.openai_error(429, "Too many", "requests", "rate_limit_exceeded"))
    with pytest.raises(openai.RateLimitError) as e:
        sdk.responses.create(model="to-chat", input="x")
    assert "Too many" in str(e.value)
