"""Claude models on Vertex AI: Anthropic Messages bodies without `model` (it is in the URL) and with
`anthropic_version` (default `vertex-2023-10-16`, config `vertex.anthropic_version`), posted to
`…/publishers/anthropic/models/{model}:rawPredict` or, streamed, `:streamRawPredict`; answers and
streams are Anthropic's own (plexus/wire/anthropic)."""

from ..anthropic import upstream as anthropic
from . import auth

FAMILY = "vertex-claude"  # always translated: the body differs from what an Anthropic client sends
FORWARDED_HEADERS = ("anthropic-beta",)
PUBLISHER = "anthropic"
VERSION = "vertex-2023-10-16"

parse_response = anthropic.parse_response
StreamParser = anthropic.StreamParser


def url(provider, model, stream):
    return f"{auth.prefix(provider, PUBLISHER)}/{auth.model_segment(model)}:" + ("streamRawPredict" if stream else "rawPredict")


def headers(provider, client_headers=None):
    h = auth.headers(provider)
    for name in FORWARDED_HEADERS:
        if client_headers and client_headers.get(name):
            h[name] = client_headers[name]
    return h


def build_request(req, model, provider):
    body = anthropic.build_request(req, model, provider)
    del body["model"]
    return {"anthropic_version": provider.vertex.get("anthropic_version") or VERSION, **body}
