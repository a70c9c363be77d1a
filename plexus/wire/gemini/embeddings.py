"""Gemini embeddings, both sides: `/v1beta/models/{alias}:embedContent` and `:batchEmbedContents` as
a client API (google-genai's `embed_content` always calls the batch method), and the same methods
of `type: gemini` upstreams (translated calls use `:batchEmbedContents`, at most 100 requests each).

Text only: a content's text parts are joined with newlines; a token-array input from an OpenAI-style
client cannot be sent here. The API reports no token count, so usage is estimated."""

from urllib.parse import quote

import orjson

from ...core.errors import InvalidRequest
from ...unified import embeddings as emb
from . import upstream as gemini
from .client import _get, render_error

STYLE = "gemini-embeddings"
FAMILY = "gemini"
WIRE = "gemini"
KEEPS_CONVERSATIONS = False
ROUTES = {"/v1beta/models/<path:alias>:<any(embedContent,batchEmbedContents):method>": "embed"}
MAX_BATCH = 100  # "at most 100 requests can be in one batch"
BASE64 = False  # Gemini has no base64 encoding

__all__ = ["render_error"]


# ---- client side ------------------------------------------------------------------------------------


def _single(route):
    return ((route or {}).get("args") or {}).get("method") == "embedContent"


def _requests(body, route):
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object")
    if _single(route):
        return [body]
    requests = body.get("requests")
    if not isinstance(requests, list) or not requests or not all(isinstance(r, dict) for r in requests):
        raise InvalidRequest("* BatchEmbedContentsRequest.requests: requests must be a non-empty list")
    return requests


def _text(request, i):
    content = request.get("content")
    parts = content.get("parts") if isinstance(content, dict) else None
    texts = [p["text"] for p in parts or () if isinstance(p, dict) and isinstance(p.get("text"), str)]
    if not texts:
        raise InvalidRequest(f"* EmbedContentRequest[{i}].content: content must have a text part")
    return "\n".join(texts)


def check_request(body, route=None):
    for i, r in enumerate(_requests(body, route)):
        _text(r, i)
    return ((route or {}).get("args") or {}).get("alias") or "", False


def parse_request(body, route=None):
    requests = _requests(body, route)
    first = requests[0]
    req = emb.new_request(check_request(body, route)[0], [_text(r, i) for i, r in enumerate(requests)],
                          _get(first, "outputDimensionality"), task_type=_get(first, "taskType"), title=first.get("title"))
    req["single"] = _single(route)
    return req


def render_response(result, alias, request):
    vectors = [emb.from_base64(v) if isinstance(v, str) else v for v in result["vectors"]]
    if request.get("single"):
        return {"embedding": {"values": vectors[0]}}
    return {"embeddings": [{"values": v} for v in vectors]}


def passthrough_request(body, upstream_model, route=None):
    """The body as sent, each batch request naming the upstream model; the method is kept."""
    if _single(route):
        return ({**body, "model": f"models/{upstream_model}"} if "model" in body else dict(body)), {"single": True}
    requests = [{**r, "model": f"models/{upstream_model}"} for r in body["requests"]]
    return {**body, "requests": requests}, {"single": False}


def relay_response(raw, alias):
    data = orjson.loads(raw)
    if not isinstance(data, dict):
        raise orjson.JSONDecodeError("the answer is not a JSON object", "", 0)
    return raw, None


# ---- upstream side ----------------------------------------------------------------------------------


def url(provider, model, options=None):
    method = "embedContent" if (options or {}).get("single") else "batchEmbedContents"
    return f"{provider.api_base_url}/models/{quote(gemini._model_name(model), safe='/-._')}:{method}"


headers = gemini.headers


def build_request(req, model, provider, inputs):
    name = f"models/{gemini._model_name(model)}"
    return {"requests": [_request(req, name, text) for text in inputs]}


def _request(req, name, text):
    if not isinstance(text, str):
        raise InvalidRequest("Token-array input cannot be sent to a Gemini embedding model: send text", param="input")
    out = {"model": name, "content": {"parts": [{"text": text}]}}
    for key, wire in (("task_type", "taskType"), ("title", "title"), ("dimensions", "outputDimensionality")):
        if req[key]:
            out[wire] = req[key]
    return out


def parse_response(data):
    if "embedding" in data:
        return [data["embedding"]["values"]], None
    return [e["values"] for e in data["embeddings"]], None
