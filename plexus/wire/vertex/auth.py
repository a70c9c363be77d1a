"""Where a Vertex provider's requests go and as whom: the project/location prefix under the host
(`api_base_url`, by default the location's: plexus/config/vertex.py), and the bearer token — the
configured `api_key` as an explicit access token, else one minted from `vertex.credentials`."""

from urllib.parse import quote

from ...core.google_tokens import access_token


def prefix(provider, publisher):
    v = provider.vertex
    project, location = quote(v["project"], safe=""), quote(v["location"], safe="")
    return f"{provider.api_base_url}/v1/projects/{project}/locations/{location}/publishers/{publisher}/models"


def model_segment(model):
    return quote(model, safe="@-._")  # Claude ids carry `@date`


def bearer(provider):
    return "Bearer " + (provider.api_key or access_token(provider))


def headers(provider, client_headers=None):
    h = {"Content-Type": "application/json", "Accept": "application/json", "Authorization": bearer(provider)}
    h.update(provider.headers)
    return h
