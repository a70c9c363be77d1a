"""One chat turn in each client style, made with that style's official SDK (OpenAI chat, Anthropic,
OpenAI Responses, google-genai), streamed or not: for tests that a provider serves every style."""

import anthropic
import openai
from google import genai
from google.genai import types as gt

from tests.support.secrets import CLIENT_SECRET

STYLES = ("openai", "anthropic", "responses", "gemini")


def ask(style, url, model, stream):
    """One chat turn in the client's style with its official SDK; the answer's text."""
    if style == "openai":
        with openai.OpenAI(base_url=url + "/v1", api_key=CLIENT_SECRET, max_retries=0) as c:
            msgs = [{"role": "user", "content": "Hi"}]
            if stream:
                return "".join(ch.choices[0].delta.content or "" for ch in c.chat.completions.create(
                    model=model, messages=msgs, stream=True) if ch.choices)
            return c.chat.completions.create(model=model, messages=msgs).choices[0].message.content
    if style == "anthropic":
        with anthropic.Anthropic(base_url=url, api_key=CLIENT_SECRET, max_retries=0) as c:
            msgs = [{"role": "user", "content": "Hi"}]
            if stream:
                with c.messages.stream(model=model, max_tokens=100, messages=msgs) as s:
                    return "".join(s.text_stream)
            return c.messages.create(model=model, max_tokens=100, messages=msgs).content[0].text
    if style == "responses":
        with openai.OpenAI(base_url=url + "/v1", api_key=CLIENT_SECRET, max_retries=0) as c:
            if stream:
                return "".join(e.delta for e in c.responses.create(model=model, input="Hi", stream=True)
                               if e.type == "response.output_text.delta")
            return c.responses.create(model=model, input="Hi").output_text
    options = gt.HttpOptions(base_url=url, api_version="v1beta")
    with genai.Client(api_key=CLIENT_SECRET, http_options=options) as c:
        if stream:
            return "".join(ch.text or "" for ch in c.models.generate_content_stream(model=model, contents="Hi"))
        return c.models.generate_content(model=model, contents="Hi").text
