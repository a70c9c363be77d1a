"""OpenAI embeddings, both sides: `POST /v1/embeddings` as a client API, and `{api_base_url}/embeddings`
of `type: chat` (OpenAI-compatible) upstreams.

Input may be a string, a list of strings, a token array or a list of token arrays; `dimensions`
and `encoding_format` (`float` | `base64`; the OpenAI SDK asks for base64 unless told otherwise)
are honoured. Limits (OpenAI): 2048 inputs a request."""

import orjson

from ...core.errors import InvalidRequest
from ...unified import embeddings as emb
from ...unified.usage import Usage
from . import upstream as chat
from .client import render_error, require_model

STYLE = "embeddings"
FAMILY = "chat"
WIRE = "openai"  # requests of the same WIRE take the fast path
KEEPS_CONVERSATIONS = False
ROUTES = {"/v1/embeddings": "embed"}
MAX_BATCH = 2048
BASE64 = True  # the upstream can encode base64 itself (config `embeddings: {base64: false}` says otherwise)

__all__ = ["render_error"]


# ---- client side ------------------------------------------------------------------------------------


def check_request(body, route=None):
    alias = require_model(body)
    _inputs(body.get("input"))
    dims = body.get("dimensions")
    if dims is not None and (not isinstance(dims, int) or isinstance(dims, bool) or dims < 1):
        raise InvalidRequest("'dimensions' must be a positive integer", param="dimensions")
    if body.get("encoding_format") not in (None, "float", "base64"):
        raise InvalidRequest("'encoding_format' must be 'float' or 'base64'", param="encoding_format")
    return alias, False


def _inputs(value):
    """The inputs as a list of strings or token arrays, or a 400 in OpenAI's words."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value:
        if all(isinstance(i, int) and not isinstance(i, bool) for i in value):
            return [value]
        if all(isinstance(i, str) for i in value):
            return value
        if all(isinstance(i, list) and i and all(isinstance(t, int) and not isinstance(t, bool) for t in i) for i in value):
            return value
    raise InvalidRequest("'input' must be a string, an array of strings, an array of tokens or an array of token arrays, "
                         "and not empty", param="input")


def parse_request(body, route=None):
    return emb.new_request(body["model"], _inputs(body["input"]), body.get("dimensions"),
                           body.get("encoding_format") or "float", user=body.get("user"))


def render_response(result, alias, request):
    encode = emb.to_base64 if request["encoding"] == "base64" else None
    data = [{"object": "embedding", "index": i, "embedding": encode(v) if encode and isinstance(v, list) else v}
            for i, v in enumerate(result["vectors"])]
    usage = result["usage"]
    tokens = usage.input_tokens if usage else 0
    return {"object": "list", "data": data, "model": alias, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


def passthrough_request(body, upstream_model, route=None):
    return {**body, "model": upstream_model}, None


def relay_response(raw, alias):
    data = orjson.loads(raw)
    if not isinstance(data, dict):
        raise orjson.JSONDecodeError("the answer is not a JSON object", "", 0)
    data["model"] = alias
    return orjson.dumps(data), _usage(data.get("usage"))


def _usage(u):
    tokens = u.get("prompt_tokens") if isinstance(u, dict) else None
    return Usage(input_tokens=tokens) if isinstance(tokens, int) and tokens >= 0 else None


# ---- upstream side ----------------------------------------------------------------------------------


def url(provider, model, options=None):
    return provider.api_base_url + "/embeddings"


headers = chat.headers


def build_request(req, model, provider, inputs):
    body = {"model": model, "input": inputs, "encoding_format": "float"}
    if req["dimensions"]:
        body["dimensions"] = req["dimensions"]
    if req["user"]:
        body["user"] = req["user"]
    return body


def parse_response(data):
    """(vectors in input order, usage or None)."""
    items = sorted(data["data"], key=lambda d: d.get("index", 0))
    vectors = [emb.from_base64(d["embedding"]) if isinstance(d["embedding"], str) else d["embedding"] for d in items]
    return vectors, _usage(data.get("usage"))
