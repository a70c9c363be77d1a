"""Embeddings on Vertex AI: Google's embedding models at `…/publishers/google/models/{model}:predict`,
`{"instances": [{"content", "task_type"?, "title"?}], "parameters": {"outputDimensionality"?}}` ->
`{"predictions": [{"embeddings": {"values", "statistics": {"token_count"}}}]}`. Vertex takes at most
250 instances a request, and gemini-embedding-001 only one."""

from ...core.errors import InvalidRequest
from ...unified.usage import Usage
from . import auth

WIRE = "vertex-predict"  # no client speaks it: always translated
MAX_BATCH = 250
BASE64 = False
SINGLE_INSTANCE = ("gemini-embedding-001",)  # Vertex's documented one-instance models

headers = auth.headers


def batch_limit(model):
    return 1 if model.split("@")[0] in SINGLE_INSTANCE else MAX_BATCH


def url(provider, model, options=None):
    return f"{auth.prefix(provider, 'google')}/{auth.model_segment(model)}:predict"


def build_request(req, model, provider, inputs):
    body = {"instances": [_instance(req, text) for text in inputs]}
    if req["dimensions"]:
        body["parameters"] = {"outputDimensionality": req["dimensions"]}
    return body


def _instance(req, text):
    if not isinstance(text, str):
        raise InvalidRequest("Token-array input cannot be sent to a Vertex embedding model: send text", param="input")
    out = {"content": text}
    if req["task_type"]:
        out["task_type"] = req["task_type"]
    if req["title"]:
        out["title"] = req["title"]
    return out


def parse_response(data):
    embeddings = [p["embeddings"] for p in data["predictions"]]
    counts = [e.get("statistics", {}).get("token_count") for e in embeddings]
    usage = Usage(input_tokens=int(sum(counts))) if all(isinstance(c, (int, float)) for c in counts) else None
    return [e["values"] for e in embeddings], usage
