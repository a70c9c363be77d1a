"""Issue 19, each translation on its own: structured output, documents (PDF, text, URL), audio and
`n`, from every client style into the unified request and out to every provider type, plus the
Anthropic forced-tool fallback both ways (request and answer, whole and streamed)."""

import base64
import json

import pytest

from plexus.config import Provider
from plexus.core.errors import InvalidRequest
from plexus.unified.types import REQUEST, new_request
from plexus.wire import quirks
from plexus.wire.anthropic import client as anthropic_client, structured, upstream as messages
from plexus.wire.gemini import client as gemini_client, upstream as gemini
from plexus.wire.openai_chat import client as chat_client, upstream as chat
from plexus.wire.responses import client as responses_client, upstream as responses
from plexus.wire.stream import TranslatedStream
from tests.support import wire

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}, "temp": {"type": "number"}},
          "required": ["city", "temp"], "additionalProperties": False}
PDF_B64 = base64.b64encode(b"%PDF-1.4 fake").decode()
TEXT_DOC = "Paris is the capital of France."
WAV_B64 = base64.b64encode(b"RIFF....WAVE").decode()
PROVIDERS = {t: Provider(id=t, type=t, api_base_url="http://x/v1", api_key="k", headers={}, pricing={})
             for t in ("chat", "messages", "responses", "gemini")}
BUILD = {"chat": chat, "messages": messages, "responses": responses, "gemini": gemini}


def parse(client, body):
    """A client body (without model or the style's required fields) as the unified request."""
    if client == "openai":
        body = {"model": "a", **body}
        chat_client.check_request(body)
        req = chat_client.parse_request(body)
    elif client == "anthropic":
        body = {"model": "a", "max_tokens": 100, **body}
        anthropic_client.check_request(body)
        req = anthropic_client.parse_request(body)
    elif client == "responses":
        body = {"model": "a", **body}
        responses_client.check_request(body)
        req = responses_client.parse_request(body)
    else:
        req = gemini_client.parse_request(body, {"args": {"alias": "a", "method": "generateContent"}})
    assert REQUEST.validate(req) == {}
    return req


def build(req, provider, flags=None):
    body = BUILD[provider].build_request(req, "up", PROVIDERS[provider])
    return quirks.apply(body, provider, flags or {})


# ---- structured output ---------------------------------------------------------------------------------

STRUCTURED = {
    "openai": {"messages": [{"role": "user", "content": "Weather?"}],
               "response_format": {"type": "json_schema", "json_schema": {"name": "weather", "schema": SCHEMA, "strict": True}}},
    "anthropic": {"messages": [{"role": "user", "content": "Weather?"}],
                  "output_config": {"format": {"type": "json_schema", "schema": SCHEMA}}},
    "responses": {"input": "Weather?", "text": {"format": {"type": "json_schema", "name": "weather", "schema": SCHEMA,
                                                           "strict": True}}},
    "gemini": {"contents": [{"role": "user", "parts": [{"text": "Weather?"}]}],
               "generationConfig": {"responseMimeType": "application/json", "responseJsonSchema": SCHEMA}},
}


@pytest.mark.parametrize("client", STRUCTURED)
def test_every_client_spelling_becomes_one_unified_format(client):
    fmt = parse(client, STRUCTURED[client])["response_format"]
    assert fmt["type"] == "json_schema" and fmt["schema"] == SCHEMA
    assert fmt["name"] == ("weather" if client in ("openai", "responses") else "response")


@pytest.mark.parametrize("client", STRUCTURED)
def test_structured_output_reaches_every_provider_in_its_own_spelling(client):
    req = parse(client, STRUCTURED[client])
    name = "weather" if client in ("openai", "responses") else "response"
    strict = {"strict": True} if client in ("openai", "responses") else {}
    assert build(req, "chat")["response_format"] == {"type": "json_schema",
                                                     "json_schema": {"name": name, "schema": SCHEMA, **strict}}
    assert build(req, "responses")["text"] == {"format": {"type": "json_schema", "name": name, "schema": SCHEMA, **strict}}
    assert build(req, "messages")["output_config"] == {"format": {"type": "json_schema", "schema": SCHEMA}}
    gen = build(req, "gemini")["generationConfig"]
    assert gen["responseMimeType"] == "application/json" and gen["responseJsonSchema"] == SCHEMA


def test_json_object_everywhere():
    req = parse("openai", {"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_object"}})
    assert build(req, "chat")["response_format"] == {"type": "json_object"}
    assert build(req, "responses")["text"] == {"format": {"type": "json_object"}}
    assert build(req, "gemini")["generationConfig"] == {"responseMimeType": "application/json"}
    body = build(req, "messages")  # no native json_object at Anthropic: the forced tool with any object
    assert body["tools"] == [{"name": structured.TOOL, "description": structured.TOOL_DESCRIPTION,
                              "input_schema": {"type": "object"}}]
    assert body["tool_choice"] == {"type": "tool", "name": structured.TOOL} and "output_config" not in body
    gemini_json = parse("gemini", {"contents": [{"parts": [{"text": "x"}]}],
                                   "generationConfig": {"responseMimeType": "application/json"}})
    assert gemini_json["response_format"] == {"type": "json_object"}
    assert parse("responses", {"input": "x", "text": {"format": {"type": "text"}}})["response_format"] is None


def test_anthropic_native_schema_closes_objects_and_moves_unsupported_constraints():
    schema = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 1, "description": "count"},
                                               "tags": {"type": "array", "items": {"type": "object", "properties": {}}}}}
    req = parse("gemini", {"contents": [{"parts": [{"text": "x"}]}],
                           "generationConfig": {"responseMimeType": "application/json", "responseJsonSchema": schema}})
    sent = build(req, "messages")["output_config"]["format"]["schema"]
    assert sent == {"type": "object", "additionalProperties": False, "properties": {
        "n": {"type": "integer", "description": "count; minimum: 1"},
        "tags": {"type": "array", "items": {"type": "object", "properties": {}, "additionalProperties": False}}}}


def test_tool_flag_turns_the_native_format_into_a_forced_tool_without_thinking():
    req = parse("openai", {**STRUCTURED["openai"], "reasoning_effort": "high"})
    body = build(req, "messages", {"structured_output": "tool"})
    assert "output_config" not in body and "thinking" not in body
    assert body["tools"] == [{"name": structured.TOOL, "description": structured.TOOL_DESCRIPTION, "input_schema": SCHEMA}]
    assert body["tool_choice"] == {"type": "tool", "name": structured.TOOL}
    # the client's own tools stay callable: the model must call some tool
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    body = build(parse("openai", {**STRUCTURED["openai"], "tools": tools}), "messages", {"structured_output": "tool"})
    assert [t["name"] for t in body["tools"]] == ["get_weather", structured.TOOL] and body["tool_choice"] == {"type": "any"}
    # the fast path (the client's own body) is left as sent
    own = {"model": "up", "output_config": {"format": {"type": "json_schema", "schema": SCHEMA}}}
    assert quirks.apply(dict(own), "messages", {"structured_output": "tool"}, translated=False) == own


def test_a_client_tool_named_like_the_fallback_tool_is_refused():
    tools = [{"type": "function", "function": {"name": structured.TOOL, "parameters": {"type": "object"}}}]
    with pytest.raises(InvalidRequest):
        build(parse("openai", {**STRUCTURED["openai"], "tools": tools}), "messages", {"structured_output": "tool"})


def test_the_fallback_tools_input_comes_back_as_the_answers_text():
    answer = wire.anthropic_message("up", [wire.tool_use_block("toolu_1", structured.TOOL, {"city": "Paris", "temp": 18})],
                                    "tool_use", wire.anthropic_usage(10, 5))
    resp = messages.parse_response(answer)
    assert resp["content"] == [{"type": "text", "text": '{"city":"Paris","temp":18}'}]
    assert resp["stop_reason"] == "stop"
    rendered = chat_client.render_response(resp, "alias")
    assert json.loads(rendered["choices"][0]["message"]["content"]) == {"city": "Paris", "temp": 18}
    assert rendered["choices"][0]["finish_reason"] == "stop" and "tool_calls" not in rendered["choices"][0]["message"]


@pytest.mark.parametrize("size", [5, 1000])
def test_the_fallback_tools_streamed_input_streams_as_text_deltas(size):
    raw = b"".join(wire.anthropic_stream("up", [wire.tool_use_block("toolu_1", structured.TOOL, {"city": "Paris", "temp": 18})],
                                         "tool_use", wire.anthropic_usage(10, 5)))
    req = new_request("alias", stream=True)
    stream = TranslatedStream(messages.StreamParser(), chat_client.StreamRenderer("alias", req))
    out = b"".join(stream.feed(raw[i:i + size]) for i in range(0, len(raw), size)) + stream.close()[0]
    chunks = [json.loads(line[6:]) for line in out.decode().split("\n") if line.startswith("data: {")]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert json.loads(text) == {"city": "Paris", "temp": 18}
    assert not any("tool_calls" in c["choices"][0]["delta"] for c in chunks if c["choices"])
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]] == ["stop"]


def test_bad_formats_are_refused_in_the_clients_terms():
    with pytest.raises(InvalidRequest) as e:
        parse("openai", {"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_schema"}})
    assert e.value.param == "response_format"
    with pytest.raises(InvalidRequest):
        parse("gemini", {"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"responseMimeType": "text/x.enum"}})


# ---- documents and audio ---------------------------------------------------------------------------------

PDF_IN = {
    "openai": {"messages": [{"role": "user", "content": [
        {"type": "text", "text": "Summarise."},
        {"type": "file", "file": {"file_data": f"data:application/pdf;base64,{PDF_B64}", "filename": "report.pdf"}}]}]},
    "anthropic": {"messages": [{"role": "user", "content": [
        {"type": "text", "text": "Summarise."},
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": PDF_B64},
         "title": "report.pdf"}]}]},
    "responses": {"input": [{"role": "user", "content": [
        {"type": "input_text", "text": "Summarise."},
        {"type": "input_file", "file_data": f"data:application/pdf;base64,{PDF_B64}", "filename": "report.pdf"}]}]},
    "gemini": {"contents": [{"role": "user", "parts": [
        {"text": "Summarise."}, {"inlineData": {"mimeType": "application/pdf", "data": PDF_B64}}]}]},
}


def pdf_part(provider, body):
    """The PDF part of the one user turn in an upstream body, in the provider's shape."""
    if provider == "gemini":
        return body["contents"][0]["parts"][1]
    if provider == "responses":
        return body["input"][0]["content"][1]
    return body["messages"][-1]["content"][1]


@pytest.mark.parametrize("client", PDF_IN)
def test_a_pdf_from_every_client_reaches_every_provider(client):
    req = parse(client, PDF_IN[client])
    name = "report.pdf" if client != "gemini" else "document.pdf"
    assert pdf_part("chat", build(req, "chat")) == {"type": "file", "file": {
        "file_data": f"data:application/pdf;base64,{PDF_B64}", "filename": name}}
    assert pdf_part("responses", build(req, "responses")) == {
        "type": "input_file", "file_data": f"data:application/pdf;base64,{PDF_B64}", "filename": name}
    block = pdf_part("messages", build(req, "messages"))
    assert block["source"] == {"type": "base64", "media_type": "application/pdf", "data": PDF_B64}
    assert pdf_part("gemini", build(req, "gemini")) == {"inlineData": {"mimeType": "application/pdf", "data": PDF_B64}}


def test_text_documents_and_urls():
    req = parse("anthropic", {"messages": [{"role": "user", "content": [
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": TEXT_DOC}, "title": "Notes"},
        {"type": "document", "source": {"type": "url", "url": "https://example.com/a.pdf"}}]}]})
    assert build(req, "gemini")["contents"][0]["parts"] == [
        {"text": f"Notes\n\n{TEXT_DOC}"}, {"fileData": {"mimeType": "application/pdf", "fileUri": "https://example.com/a.pdf"}}]
    assert build(req, "responses")["input"][0]["content"] == [
        {"type": "input_text", "text": f"Notes\n\n{TEXT_DOC}"}, {"type": "input_file", "file_url": "https://example.com/a.pdf"}]
    assert build(req, "messages")["messages"][0]["content"] == [
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": TEXT_DOC}, "title": "Notes"},
        {"type": "document", "source": {"type": "url", "url": "https://example.com/a.pdf"}}]
    text_only = parse("anthropic", {"messages": [{"role": "user", "content": [
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": TEXT_DOC}, "title": "Notes"}]}]})
    assert build(text_only, "chat")["messages"][0]["content"] == [{"type": "text", "text": f"Notes\n\n{TEXT_DOC}"}]
    with pytest.raises(InvalidRequest) as e:  # chat has no URL form, and the gateway fetches nothing
        build(parse("anthropic", {"messages": [{"role": "user", "content": [
            {"type": "document", "source": {"type": "url", "url": "https://example.com/a.pdf"}}]}]}), "chat")
    assert "URL" in e.value.message
    # a text/plain file from Gemini or Responses becomes a text document, sent to Anthropic as one
    b64 = base64.b64encode(TEXT_DOC.encode()).decode()
    req = parse("gemini", {"contents": [{"parts": [{"inlineData": {"mimeType": "text/plain", "data": b64}}]}]})
    assert build(req, "messages")["messages"][0]["content"] == [
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": TEXT_DOC}}]


@pytest.mark.parametrize("client, body", [
    ("openai", {"messages": [{"role": "user", "content": [{"type": "file", "file": {"file_id": "file-abc"}}]}]}),
    ("responses", {"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "file-abc"}]}]}),
    ("anthropic", {"messages": [{"role": "user", "content": [{"type": "document", "source": {"type": "file",
                                                                                             "file_id": "file_01"}}]}]}),
    ("gemini", {"contents": [{"parts": [{"fileData": {"mimeType": "application/pdf",
                                                      "fileUri": "https://generativelanguage.googleapis.com/v1beta/files/x"}}]}]}),
    ("gemini", {"contents": [{"parts": [{"fileData": {"mimeType": "application/pdf", "fileUri": "gs://b/a.pdf"}}]}]}),
])
def test_provider_side_files_are_refused_when_translated(client, body):
    with pytest.raises(InvalidRequest) as e:
        parse(client, body)
    assert "file id" in e.value.message


def test_audio_goes_to_gemini_and_chat_and_is_refused_elsewhere():
    req = parse("openai", {"messages": [{"role": "user", "content": [
        {"type": "input_audio", "input_audio": {"data": WAV_B64, "format": "wav"}}]}]})
    assert build(req, "gemini")["contents"][0]["parts"] == [{"inlineData": {"mimeType": "audio/wav", "data": WAV_B64}}]
    for provider in ("messages", "responses"):
        with pytest.raises(InvalidRequest) as e:
            build(req, provider)
        assert "audio" in e.value.message
    back = parse("gemini", {"contents": [{"parts": [{"inlineData": {"mimeType": "audio/mp3", "data": WAV_B64}}]}]})
    assert build(back, "chat")["messages"][0]["content"] == [
        {"type": "input_audio", "input_audio": {"data": WAV_B64, "format": "mp3"}}]
    ogg = parse("gemini", {"contents": [{"parts": [{"inlineData": {"mimeType": "audio/ogg", "data": WAV_B64}}]}]})
    with pytest.raises(InvalidRequest):
        build(ogg, "chat")


# ---- n and the other fields only one provider type honours -----------------------------------------------


@pytest.mark.parametrize("client, body, param", [
    ("openai", {"n": 2}, "n"),
    ("openai", {"logprobs": True}, "logprobs"),
    ("openai", {"modalities": ["text", "audio"]}, "modalities"),
    ("openai", {"web_search_options": {"search_context_size": "low"}}, "web_search_options"),
])
def test_fields_only_chat_honours_are_refused_when_translated(client, body, param):
    with pytest.raises(InvalidRequest) as e:
        parse(client, {"messages": [{"role": "user", "content": "x"}], **body})
    assert e.value.param == param
    parse(client, {"messages": [{"role": "user", "content": "x"}], "n": 1, "logprobs": False})  # the defaults pass


def test_more_than_one_gemini_candidate_is_refused_when_translated():
    with pytest.raises(InvalidRequest) as e:
        parse("gemini", {"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"candidateCount": 2}})
    assert "candidate" in e.value.message


def test_googles_url_safe_base64_becomes_the_standard_alphabet():
    """The google-genai SDK sends bytes URL-safe (`-`, `_`); Anthropic and OpenAI want `+`, `/`."""
    raw = b"\xfb\xff\xfe>?" * 3
    url_safe, standard = base64.urlsafe_b64encode(raw).decode(), base64.b64encode(raw).decode()
    assert url_safe != standard
    req = parse("gemini", {"contents": [{"parts": [{"inlineData": {"mimeType": "application/pdf", "data": url_safe}},
                                                   {"inlineData": {"mimeType": "image/png", "data": url_safe}}]}]})
    blocks = build(req, "messages")["messages"][0]["content"]
    assert [b["source"]["data"] for b in blocks] == [standard, standard]


@pytest.mark.parametrize("client, body, param", [
    ("anthropic", {"mcp_servers": [{"type": "url", "url": "https://mcp.example", "name": "x"}]}, "mcp_servers"),
    ("responses", {"prompt": {"id": "pmpt_1"}}, "prompt"),
    ("responses", {"background": True}, "background"),
    ("gemini", {"generationConfig": {"responseLogprobs": True}}, "generationConfig.responseLogprobs"),
    ("gemini", {"generationConfig": {"response_modalities": ["AUDIO"]}}, "generationConfig.responseModalities"),
    ("gemini", {"cachedContent": "cachedContents/abc"}, "cachedContent"),
])
def test_fields_only_the_clients_own_family_honours_are_refused(client, body, param):
    base = {"openai": {"messages": [{"role": "user", "content": "x"}]}, "anthropic": {"messages": [{"role": "user", "content": "x"}]},
            "responses": {"input": "x"}, "gemini": {"contents": [{"parts": [{"text": "x"}]}]}}[client]
    with pytest.raises(InvalidRequest) as e:
        parse(client, {**base, **body})
    assert e.value.param == param


def test_penalties_go_between_chat_and_gemini_only():
    req = parse("openai", {"messages": [{"role": "user", "content": "x"}], "presence_penalty": 0.5, "frequency_penalty": -0.2})
    gen = build(req, "gemini")["generationConfig"]
    assert (gen["presencePenalty"], gen["frequencyPenalty"]) == (0.5, -0.2)
    assert "presence_penalty" not in build(req, "messages") and "presence_penalty" not in build(req, "responses")
    back = parse("gemini", {"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"presencePenalty": 0.3}})
    assert build(back, "chat")["presence_penalty"] == 0.3


def test_more_stop_sequences_than_gemini_takes_are_refused_not_cut():
    req = parse("anthropic", {"messages": [{"role": "user", "content": "x"}], "stop_sequences": list("abcdef")})
    with pytest.raises(InvalidRequest) as e:
        build(req, "gemini")
    assert "at most 5" in e.value.message
    req["stop"] = list("abcde")
    assert build(req, "gemini")["generationConfig"]["stopSequences"] == list("abcde")


def test_an_anthropic_content_document_goes_as_text_and_refuses_images():
    req = parse("anthropic", {"messages": [{"role": "user", "content": [{"type": "document", "title": "Memo", "source": {
        "type": "content", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}}]}]})
    assert build(req, "gemini")["contents"][0]["parts"] == [{"text": "Memo\n\na\n\nb"}]
    with pytest.raises(InvalidRequest):
        parse("anthropic", {"messages": [{"role": "user", "content": [{"type": "document", "source": {
            "type": "content", "content": [{"type": "image", "source": {"type": "base64", "data": "x"}}]}}]}]})
