"""Claude models on Vertex AI: Anthropic Messages bodies without `model` (it is in the URL) and with
`anthropic_version` (default `vertex-2023-10-16`, config `vertex.anthropic_version`), posted to
`…/publishers/anthropic/models/{model}:rawPredict` or, streamed, `:streamRawPredict`; answers and
streams are Anthropic's own (plexus/wire/anthropic). Token counts are estimated (no count_url)."""

from ..anthropic import upstream as anthropic
from . import auth

FAMILY = "messages"  # an Anthropic client's body goes up as sent, fitted by `fit_passthrough`
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
    return fit_passthrough(anthropic.build_request(req, model, provider), provider)


def fit_passthrough(body, provider):
    """A Messages body as Vertex takes it: the model is in the URL, the version in the body."""
    body.pop("model", None)
    return {"anthropic_version": provider.vertex.get("anthropic_version") or VERSION, **body}
