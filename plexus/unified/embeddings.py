"""Embedding calls in one shape, whatever API the client and the upstream speak.

A request: `{"alias", "inputs": [str | [int]], "dimensions", "encoding": "float"|"base64",
"task_type", "title", "user"}` (token arrays only from OpenAI-style clients). A result:
`{"vectors": [[float] | base64 str], "usage": Usage | None}`, vectors in input order."""

import array
import base64
import sys

from .usage import Usage, estimate_tokens


def new_request(alias, inputs, dimensions=None, encoding="float", task_type=None, title=None, user=None):
    return {"alias": alias, "inputs": inputs, "dimensions": dimensions, "encoding": encoding,
            "task_type": task_type, "title": title, "user": user}


def batches(items, size):
    """`items` cut into consecutive lists of at most `size`, order kept."""
    return [items[i:i + size] for i in range(0, len(items), size)] or [[]]


def to_base64(vector):
    """OpenAI's base64 embedding: the vector's float32 values, little-endian, base64-encoded."""
    values = array.array("f", vector)
    if sys.byteorder == "big":
        values.byteswap()
    return base64.b64encode(values.tobytes()).decode("ascii")


def from_base64(text):
    values = array.array("f", base64.b64decode(text))
    if sys.byteorder == "big":
        values.byteswap()
    return values.tolist()


def estimated_usage(inputs):
    """For upstreams that report no token count: about four characters a token (a token array counts itself)."""
    tokens = sum(len(i) if isinstance(i, list) else estimate_tokens(len(i)) for i in inputs)
    return Usage(input_tokens=tokens, estimated=True)


def total_usage(parts):
    """The usage of several upstream requests (split batches) as one; None when none reported any."""
    known = [p for p in parts if p is not None]
    if not known:
        return None
    return Usage(input_tokens=sum(p.input_tokens for p in known), estimated=any(p.estimated for p in known))
