"""Gemini models on Vertex AI: the Gemini API's bodies, answers and streams (plexus/wire/gemini) at
`…/publishers/google/models/{model}:generateContent` and `:streamGenerateContent?alt=sse`."""

from ..gemini import upstream as gemini
from . import auth

FAMILY = "gemini"  # a Gemini client's body goes up as sent (the fast path): only the URL and auth differ
FORWARDED_HEADERS = ()
PUBLISHER = "google"

build_request = gemini.build_request
parse_response = gemini.parse_response
StreamParser = gemini.StreamParser
headers = auth.headers


def url(provider, model, stream):
    base = f"{auth.prefix(provider, PUBLISHER)}/{auth.model_segment(model)}"
    return base + (":streamGenerateContent?alt=sse" if stream else ":generateContent")


def count_url(provider, model=None):
    return f"{auth.prefix(provider, PUBLISHER)}/{auth.model_segment(model or '')}:countTokens"
