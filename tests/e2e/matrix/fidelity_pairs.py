"""The matrix's content-fidelity cells (issue 19), for all sixteen client × upstream pairs:
structured output (whole and streamed) and PDF input. The harness is tests/e2e/test_matrix.py
(`test_fidelity_matrix`, plus `test_structured_fallback` for the forced-tool fallback toward an
Anthropic model flagged `structured_output: tool`). Cells use other_pairs.Cell for scripting the
upstream and for the checks every upstream request gets; each checks what the upstream received in
its own spelling (on the fast path: the client's own body) and what the client got back.
"""

import base64
import json

import anthropic
import openai
import pytest
from google.genai import types as gt

from tests.e2e.matrix import CaseBook
from tests.e2e.matrix.core_pairs import check_chat_stream, check_message_stream
from tests.e2e.matrix.other_pairs import Answer, check_responses_stream
from tests.support import wire
from tests.support.secrets import CLIENT_SECRET, PROVIDER_SECRET

SCENARIOS = ("structured", "streamed_structured", "pdf")
FALLBACK_ALIAS, FALLBACK_MODEL = "to-messages-tool", "up-claude-4"  # tests/support/gateways.py shared_config
FALLBACK_TOOL = "json_answer"  # plexus/wire/anthropic/structured.py

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}, "temp_c": {"type": "number"}},
          "required": ["city", "temp_c"], "additionalProperties": False}
WEATHER = {"city": "Paris", "temp_c": 18}
JSON_TEXT = json.dumps(WEATHER)
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF"
PDF_B64 = base64.b64encode(PDF).decode()
PDF_URL = f"data:application/pdf;base64,{PDF_B64}"
SUMMARY = "The report is one empty page."

BOOK = CaseBook()
case = BOOK.case


# ---- the clients' calls, and what each reads -----------------------------------------------------------


def ask_structured(m, stream, alias=None):
    """The client's structured-output request for WEATHER; returns the answer's text as it read it."""
    alias, prompt = alias or m.alias, "Weather in Paris as JSON"
    if m.client == "openai":
        fmt = {"type": "json_schema", "json_schema": {"name": "weather", "schema": SCHEMA, "strict": True}}
        req = dict(model=alias, messages=[{"role": "user", "content": prompt}], response_format=fmt)
        if stream:
            with m.oa.chat.completions.with_streaming_response.create(stream=True, **req) as resp:
                got = check_chat_stream(b"".join(resp.iter_bytes()), alias, False)
            assert got.finish == "stop" and not got.calls
            return got.content
        res = m.oa.chat.completions.create(**req)
        assert res.choices[0].finish_reason == "stop" and not res.choices[0].message.tool_calls
        return res.choices[0].message.content
    if m.client == "anthropic":
        req = dict(model=alias, max_tokens=300, messages=[{"role": "user", "content": prompt}],
                   output_config={"format": {"type": "json_schema", "schema": SCHEMA}})
        if stream:
            with m.an.messages.with_streaming_response.create(stream=True, **req) as resp:
                got = check_message_stream(b"".join(resp.iter_bytes()), alias)
            assert got.stop_reason == "end_turn" and [b["type"] for b in got.blocks] == ["text"]
            return got.blocks[0]["text"]
        res = m.an.messages.create(**req)
        assert res.stop_reason == "end_turn" and [b.type for b in res.content] == ["text"]
        return res.content[0].text
    if m.client == "responses":
        req = dict(model=alias, input=prompt,
                   text={"format": {"type": "json_schema", "name": "weather", "schema": SCHEMA, "strict": True}})
        if stream:
            with m.oa.responses.with_streaming_response.create(stream=True, **req) as resp:
                got = check_responses_stream(b"".join(resp.iter_bytes()), alias)
            assert got.final["status"] == "completed" and [i["type"] for i in got.items] == ["message"]
            return got.items[0]["content"][0]["text"]
        res = m.oa.responses.create(**req)
        assert res.status == "completed" and [i.type for i in res.output] == ["message"]
        return res.output_text
    config = gt.GenerateContentConfig(response_mime_type="application/json", response_json_schema=SCHEMA)
    if stream:
        chunks = list(m.gm.models.generate_content_stream(model=alias, contents=prompt, config=config))
        assert chunks[-1].candidates[0].finish_reason == gt.FinishReason.STOP
        return "".join(c.text or "" for c in chunks)
    res = m.gm.models.generate_content(model=alias, contents=prompt, config=config)
    assert res.candidates[0].finish_reason == gt.FinishReason.STOP
    return res.text


def sent_as_is(m, stream):
    """The fast path: the upstream got the client's own body, the model swapped (a chat stream also asks
    for usage, README "Fast path")."""
    sdk = m.capture.last
    if m.upstream == "messages":  # the client's own anthropic-version goes along (README "Fast path")
        seen = m.fake.last
        assert seen.path.split("?")[0] == "/v1/messages" and seen.headers.get("x-api-key") == PROVIDER_SECRET
        assert seen.headers.get("anthropic-version") == sdk.headers["anthropic-version"]
        body = seen.body
    else:
        body = m.sent(stream)
    expected = dict(sdk.body)
    if m.upstream != "gemini":
        expected["model"] = m.up_model
    if m.upstream == "chat" and stream:
        expected["stream_options"] = {"include_usage": True}
    assert body == expected


def client_schema(m):
    """The schema as the client's SDK sent it (the gateway must pass on exactly that)."""
    body = m.capture.last.body
    return {"openai": lambda: body["response_format"]["json_schema"]["schema"],
            "anthropic": lambda: body["output_config"]["format"]["schema"],
            "responses": lambda: body["text"]["format"]["schema"],
            "gemini": lambda: body["generationConfig"]["responseJsonSchema"]}[m.client]()


def check_structured_sent(m, stream):
    """The upstream got the client's schema in its own spelling (on the fast path: the client's body)."""
    if m.fast:
        return sent_as_is(m, stream)
    body, schema = m.sent(stream), client_schema(m)
    assert schema == SCHEMA
    named = m.client in ("openai", "responses")  # Anthropic's and Gemini's formats carry no name or strict flag
    spec = {"name": "weather", "schema": schema, "strict": True} if named else {"name": "response", "schema": schema}
    if m.upstream == "chat":
        assert body["response_format"] == {"type": "json_schema", "json_schema": spec}
    elif m.upstream == "responses":
        assert body["text"] == {"format": {"type": "json_schema", **spec}}
    elif m.upstream == "messages":
        assert body["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
        assert "tools" not in body and "tool_choice" not in body
    else:
        gen = body["generationConfig"]
        assert (gen["responseMimeType"], gen["responseJsonSchema"]) == ("application/json", schema)


def structured(m, stream):
    m.script(Answer(text=JSON_TEXT, usage=m.usage(30, 0, 9)), stream=stream)
    text = ask_structured(m, stream)
    assert json.loads(text) == WEATHER
    check_structured_sent(m, stream)


for _client in ("openai", "anthropic", "responses", "gemini"):
    case(_client, "structured")(lambda m: structured(m, False))
    case(_client, "streamed_structured")(lambda m: structured(m, True))


# ---- PDF input ------------------------------------------------------------------------------------------


def ask_pdf(m):
    if m.client == "openai":
        content = [{"type": "text", "text": "Summarise."},
                   {"type": "file", "file": {"file_data": PDF_URL, "filename": "report.pdf"}}]
        res = m.oa.chat.completions.create(model=m.alias, messages=[{"role": "user", "content": content}])
        return res.choices[0].message.content
    if m.client == "anthropic":
        content = [{"type": "text", "text": "Summarise."},
                   {"type": "document", "title": "report.pdf",
                    "source": {"type": "base64", "media_type": "application/pdf", "data": PDF_B64}}]
        res = m.an.messages.create(model=m.alias, max_tokens=300, messages=[{"role": "user", "content": content}])
        return res.content[0].text
    if m.client == "responses":
        content = [{"type": "input_text", "text": "Summarise."},
                   {"type": "input_file", "file_data": PDF_URL, "filename": "report.pdf"}]
        return m.oa.responses.create(model=m.alias, input=[{"role": "user", "content": content}]).output_text
    contents = [gt.Content(role="user", parts=[gt.Part(text="Summarise."),
                                               gt.Part.from_bytes(data=PDF, mime_type="application/pdf")])]
    return m.gm.models.generate_content(model=m.alias, contents=contents).text


def check_pdf_sent(m):
    if m.fast:
        return sent_as_is(m, False)
    body = m.sent()
    name = "document.pdf" if m.client == "gemini" else "report.pdf"  # Gemini's inlineData has no file name
    if m.upstream == "chat":
        assert body["messages"] == [{"role": "user", "content": [
            {"type": "text", "text": "Summarise."}, {"type": "file", "file": {"file_data": PDF_URL, "filename": name}}]}]
    elif m.upstream == "responses":
        assert body["input"] == [{"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "Summarise."}, {"type": "input_file", "file_data": PDF_URL, "filename": name}]}]
    elif m.upstream == "messages":
        document = {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": PDF_B64}}
        if m.client != "gemini":
            document["title"] = name
        assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Summarise."}, document]}]
    else:
        assert body["contents"] == [{"role": "user", "parts": [
            {"text": "Summarise."}, {"inlineData": {"mimeType": "application/pdf", "data": PDF_B64}}]}]


def pdf(m):
    m.script(Answer(text=SUMMARY))
    assert ask_pdf(m) == SUMMARY
    check_pdf_sent(m)


for _client in ("openai", "anthropic", "responses", "gemini"):
    case(_client, "pdf")(pdf)


# ---- the forced-tool fallback toward an Anthropic model without output_config.format ---------------------


def structured_fallback(m, stream):
    """A model flagged `structured_output: tool`: the schema goes up as a forced tool and the tool's
    input comes back as the client's plain JSON text (streamed as text deltas). An Anthropic client
    takes the fast path: its own body goes as sent."""
    if m.client == "anthropic":
        m.fake.reply(**_anthropic_answer([wire.text_block(JSON_TEXT)], "end_turn", stream))
        assert json.loads(ask_structured(m, stream, FALLBACK_ALIAS)) == WEATHER
        body = m.fake.last.body
        assert body == {**m.capture.last.body, "model": FALLBACK_MODEL}
        return
    m.fake.reply(**_anthropic_answer([wire.tool_use_block("toolu_01S", FALLBACK_TOOL, WEATHER)], "tool_use", stream))
    assert json.loads(ask_structured(m, stream, FALLBACK_ALIAS)) == WEATHER
    seen = m.fake.last
    assert seen.path == "/v1/messages" and CLIENT_SECRET not in json.dumps(dict(seen.headers))
    body = seen.body
    assert body["model"] == FALLBACK_MODEL and "output_config" not in body
    assert body["tools"] == [{"name": FALLBACK_TOOL, "description": body["tools"][0]["description"],
                              "input_schema": client_schema(m)}]
    assert body["tool_choice"] == {"type": "tool", "name": FALLBACK_TOOL}


def _anthropic_answer(blocks, stop, stream):
    usage = wire.anthropic_usage(20, 9)
    if stream:
        return {"events": wire.anthropic_stream(FALLBACK_MODEL, blocks, stop, usage)}
    return {"body": wire.anthropic_message(FALLBACK_MODEL, blocks, stop, usage)}


# ---- refusals the client hears in its own shape ----------------------------------------------------------


def n_refused(m):
    """`n: 2` toward a provider that gives one answer a request: a 400 in OpenAI's shape, no upstream call."""
    with pytest.raises(openai.BadRequestError) as e:
        m.oa.chat.completions.create(model=m.alias, n=2, messages=[{"role": "user", "content": "Two haikus"}])
    assert e.value.status_code == 400 and e.value.body["param"] == "n"
    assert not m.fake.requests


def file_id_refused(m):
    content = [{"type": "text", "text": "Summarise."},
               {"type": "document", "source": {"type": "file", "file_id": "file_011abc"}}]
    with pytest.raises(anthropic.BadRequestError) as e:
        m.an.messages.create(model=m.alias, max_tokens=100, messages=[{"role": "user", "content": content}])
    assert "file id" in e.value.message and not m.fake.requests


def stop_emulated(m, stream):
    """A stop sequence toward a Responses provider (which has no stop parameter): the gateway ends the
    answer there, with the client's stop-sequence finish."""
    m.script(Answer(text="Forty-two. END Then more text."), stream=stream)
    if m.client == "openai":
        req = dict(model=m.alias, messages=[{"role": "user", "content": "Answer"}], stop=["END"])
        if stream:
            with m.oa.chat.completions.with_streaming_response.create(stream=True, **req) as resp:
                got = check_chat_stream(b"".join(resp.iter_bytes()), m.alias, False)
            text, finish = got.content, got.finish
        else:
            res = m.oa.chat.completions.create(**req)
            text, finish = res.choices[0].message.content, res.choices[0].finish_reason
        assert (text, finish) == ("Forty-two. ", "stop")
    else:
        req = dict(model=m.alias, max_tokens=100, messages=[{"role": "user", "content": "Answer"}], stop_sequences=["END"])
        if stream:
            with m.an.messages.with_streaming_response.create(stream=True, **req) as resp:
                got = check_message_stream(b"".join(resp.iter_bytes()), m.alias)
            text, reason, seq = got.blocks[0]["text"], got.stop_reason, got.events[-2]["delta"]["stop_sequence"]
        else:
            res = m.an.messages.create(**req)
            text, reason, seq = res.content[0].text, res.stop_reason, res.stop_sequence
        assert (text, reason, seq) == ("Forty-two. ", "stop_sequence", "END")
    assert "stop" not in m.sent(stream)
