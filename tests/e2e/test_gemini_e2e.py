"""The real gateway under gunicorn + gevent, a fake upstream on 127.0.0.1, Google's own SDK
(google-genai) as the client: to a chat upstream and to a gemini upstream, streaming and not."""

import base64

import pytest

genai = pytest.importorskip("google.genai")
from google.genai import errors, types  # noqa: E402

from tests.support.secrets import CLIENT_SECRET, PROVIDER_SECRET  # noqa: E402
from tests.support import gemini_wire as gw, wire  # noqa: E402

WEATHER = types.FunctionDeclaration(name="get_weather", description="Current weather in a city",
                                    parameters_json_schema={"type": "object", "properties": {"city": {"type": "string"}},
                                                            "required": ["city"]})


@pytest.fixture
def sdk(gateway):
    options = types.HttpOptions(base_url=gateway.url, api_version="v1beta", timeout=20_000)
    return genai.Client(api_key=CLIENT_SECRET, http_options=options)


def test_generate_content_through_a_chat_upstream(sdk, fake):
    fake.reply(body=wire.chat_completion("up-chat-2025", "Bonjour !", usage=wire.chat_usage(30, 4, cached=10)))
    result = sdk.models.generate_content(model="to-chat", contents="Say hello in French",
                                         config=types.GenerateContentConfig(system_instruction="Be brief.", temperature=0.3))
    assert result.text == "Bonjour !"
    assert result.model_version == "to-chat"
    assert result.candidates[0].finish_reason == types.FinishReason.STOP
    usage = result.usage_metadata
    assert (usage.prompt_token_count, usage.cached_content_token_count, usage.candidates_token_count) == (30, 10, 4)
    sent = fake.last.body
    assert fake.last.path == "/v1/chat/completions" and sent["model"] == "up-chat" and sent["temperature"] == 0.3
    assert sent["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello in French"}]


def test_streamed_generate_content_through_a_chat_upstream(sdk, fake):
    fake.reply(events=wire.chat_stream("up-chat", ["One", " two", " three"]))
    chunks = list(sdk.models.generate_content_stream(model="to-chat", contents="count"))
    assert "".join(c.text or "" for c in chunks) == "One two three"
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert chunks[-1].usage_metadata.prompt_token_count == 12
    assert fake.last.body["stream"] is True


def test_function_call_through_a_chat_upstream(sdk, fake):
    fake.reply(body=wire.chat_completion_full("up-chat", None, tool_calls=[("call_7", "get_weather", {"city": "Paris"})]))
    result = sdk.models.generate_content(model="to-chat", contents="Weather in Paris?", config=types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=[WEATHER])],
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True)))
    call = result.function_calls[0]
    assert (call.name, call.args, call.id) == ("get_weather", {"city": "Paris"}, "call_7")
    assert fake.last.body["tools"][0]["function"]["parameters"]["required"] == ["city"]


def test_generate_content_through_a_gemini_upstream_keeps_the_signature(sdk, fake):
    signature = base64.b64encode(b"opaque-thought-state").decode()
    fake.reply(body=gw.response([gw.text("Plan.", thought=True), gw.call("get_weather", {"city": "Paris"}, signature)]))
    config = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[WEATHER])],
                                         automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
                                         thinking_config=types.ThinkingConfig(include_thoughts=True))
    result = sdk.models.generate_content(model="to-gemini", contents="Weather in Paris?", config=config)
    parts = result.candidates[0].content.parts
    assert parts[0].thought is True and parts[1].function_call.name == "get_weather"
    assert parts[1].thought_signature == b"opaque-thought-state"
    assert result.model_version == "to-gemini"
    seen = fake.last
    assert seen.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert seen.headers["x-goog-api-key"] == PROVIDER_SECRET
    assert seen.body["generationConfig"]["thinkingConfig"] == {"include_thoughts": True}  # as the SDK spells it, untouched

    # the next turn goes back with the signature on the same part, untouched (fast path)
    fake.reply(body=gw.response([gw.text("21C and sunny.")]))
    history = [types.Content(role="user", parts=[types.Part(text="Weather in Paris?")]), result.candidates[0].content,
               types.Content(role="user", parts=[types.Part.from_function_response(name="get_weather", response={"output": "21C"})])]
    follow = sdk.models.generate_content(model="to-gemini", contents=history, config=config)
    assert follow.text == "21C and sunny."
    part = fake.last.body["contents"][1]["parts"][1]
    assert part.get("thoughtSignature", part.get("thought_signature")) == signature


def test_streamed_generate_content_through_a_gemini_upstream(sdk, fake):
    fake.reply(events=gw.stream(["Hel", "lo ", "there"], usage_metadata=gw.usage(8, 3)))
    chunks = list(sdk.models.generate_content_stream(model="to-gemini", contents="hi"))
    assert "".join(c.text or "" for c in chunks) == "Hello there"
    assert chunks[-1].usage_metadata.candidates_token_count == 3
    assert all(c.model_version == "to-gemini" for c in chunks)
    assert fake.last.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"


def test_errors_reach_the_sdk_with_their_status(sdk, fake, gateway):
    with pytest.raises(errors.ClientError) as e:
        sdk.models.generate_content(model="no-such-alias", contents="hi")
    assert e.value.code == 404 and e.value.status == "NOT_FOUND"
    fake.reply(status=429, body=gw.error("RESOURCE_EXHAUSTED", "Quota exceeded"))
    with pytest.raises(errors.ClientError) as e:
        sdk.models.generate_content(model="to-gemini", contents="hi")
    assert e.value.code == 429 and e.value.status == "RESOURCE_EXHAUSTED"
    bad = genai.Client(api_key="wrong", http_options=types.HttpOptions(base_url=gateway.url, api_version="v1beta"))
    with pytest.raises(errors.ClientError) as e:
        bad.models.generate_content(model="to-chat", contents="hi")
    assert e.value.code == 401


def test_count_tokens_and_model_list(sdk, fake):
    fake.reply(body={"totalTokens": 5})
    assert sdk.models.count_tokens(model="to-gemini", contents="hello").total_tokens == 5
    assert fake.last.path == "/v1beta/models/gemini-2.5-flash:countTokens"
    assert sdk.models.count_tokens(model="to-chat", contents="hello " * 40).total_tokens > 40
    names = {m.name for m in sdk.models.list()}
    assert {"models/to-chat", "models/to-gemini"} <= names
