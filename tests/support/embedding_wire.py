"""Embedding answers in the providers' own formats, for the fake upstream: OpenAI-compatible
`/embeddings` (float or base64 as asked) and Gemini's `:embedContent` / `:batchEmbedContents`.

Each vector says which input it belongs to: [length of the text (or token count), 0.25, -1.5],
padded with 0.5 or cut to the dimensions asked for (all exact in float32)."""

import array
import base64


def vector(item, dims=None):
    v = [float(len(item)), 0.25, -1.5]
    if dims:
        v = (v + [0.5] * dims)[:dims]
    return v


def openai_answer(body):
    inputs = body["input"]
    if isinstance(inputs, str) or (inputs and isinstance(inputs[0], int)):
        inputs = [inputs]
    data = []
    for i, item in enumerate(inputs):
        v = vector(item, body.get("dimensions"))
        if body.get("encoding_format") == "base64":
            v = base64.b64encode(array.array("f", v).tobytes()).decode()
        data.append({"object": "embedding", "index": i, "embedding": v})
    tokens = sum(len(i) if isinstance(i, list) else len(i.split()) for i in inputs)
    return {"object": "list", "data": data, "model": body["model"], "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


def _text(request):
    return "\n".join(p["text"] for p in request["content"]["parts"])


def gemini_answer(path, body):
    if path.split("?")[0].endswith(":embedContent"):
        return {"embedding": {"values": vector(_text(body), body.get("outputDimensionality"))}}
    return {"embeddings": [{"values": vector(_text(r), r.get("outputDimensionality"))} for r in body["requests"]]}


def answer(path, body):
    """The default answer for an embedding path, or None for any other path."""
    bare = path.split("?")[0]
    if bare.endswith("/embeddings"):
        return openai_answer(body)
    if bare.endswith((":embedContent", ":batchEmbedContents")):
        return gemini_answer(path, body)
    return None
