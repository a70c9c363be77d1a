"""Gemini wire formats for fakes and assertions, after Google's API (wire-formats.md §4):
GenerateContentResponse bodies, SSE chunks ended by CRLF CRLF, Google's error shape, and readers
for both stream framings a Gemini client may ask for."""

import json
import re
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SIGNATURE = "CiQB0e2Kb7fGdlRvsWJ3+u8kxA6Spc6ZVs0cmCW7Qh8z5q1iSmUKLwHR7YpvUoPRSkVZl2Dv0Vf"


class MintedId:
    """Equal to any id the gateway makes up for a Gemini call that came without one (`call_` and 24
    hex digits: new for every call, so unique in the whole conversation)."""

    def __eq__(self, other):
        return isinstance(other, str) and re.fullmatch(r"call_[0-9a-f]{24}", other) is not None

    def __repr__(self):
        return "<a minted call_ id>"


MINTED_ID = MintedId()


def load(name):
    """A recorded transcript's bytes (`tests/fixtures/<name>.txt`)."""
    return (FIXTURES / (name if name.endswith(".txt") else name + ".txt")).read_bytes()


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def usage(prompt=12, candidates=5, thoughts=0, cached=0, tool_use=0):
    out = {"promptTokenCount": prompt, "candidatesTokenCount": candidates,
           "totalTokenCount": prompt + candidates + thoughts + tool_use,
           "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}]}
    if thoughts:
        out["thoughtsTokenCount"] = thoughts
    if cached:
        out["cachedContentTokenCount"] = cached
    if tool_use:
        out["toolUsePromptTokenCount"] = tool_use
    return out


def text(value, thought=False, signature=None):
    part = {"text": value}
    if thought:
        part["thought"] = True
    if signature:
        part["thoughtSignature"] = signature
    return part


def call(name, args, signature=None, id=None):
    fc = {"name": name, "args": args}
    if id:
        fc["id"] = id
    part = {"functionCall": fc}
    if signature:
        part["thoughtSignature"] = signature
    return part


def response(parts, finish="STOP", usage_metadata=None, model="gemini-2.5-flash", response_id="resp-fake-1"):
    """A non-streamed GenerateContentResponse."""
    candidate = {"content": {"parts": list(parts), "role": "model"}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], "usageMetadata": usage_metadata or usage(), "modelVersion": model,
            "responseId": response_id}


def blocked(reason="PROHIBITED_CONTENT", prompt=9):
    return {"promptFeedback": {"blockReason": reason},
            "usageMetadata": {"promptTokenCount": prompt, "totalTokenCount": prompt},
            "modelVersion": "gemini-2.5-flash", "responseId": "resp-blocked"}


def sse(obj):
    """One `alt=sse` event as Google frames it: CRLF line ends, no `event:` line."""
    return b"data: " + dumps(obj).encode() + b"\r\n\r\n"


def stream(pieces, calls=(), finish="STOP", usage_metadata=None, model="gemini-2.5-flash", response_id="resp-fake-1"):
    """The events of a streamed answer: one chunk per text piece (running usage with the prompt
    count only), then the last chunk with the function calls, the finish reason and the usage."""
    first = {"promptTokenCount": (usage_metadata or usage())["promptTokenCount"]}
    first["totalTokenCount"] = first["promptTokenCount"]
    events = [sse(response([p if isinstance(p, dict) else text(p)], None, first, model, response_id)) for p in pieces]
    events.append(sse(response(list(calls) or [text("")], finish, usage_metadata or usage(), model, response_id)))
    return events


def error(status, message, code=None):
    return {"error": {"code": code or {"INVALID_ARGUMENT": 400, "NOT_FOUND": 404, "RESOURCE_EXHAUSTED": 429,
                                       "INTERNAL": 500, "UNAVAILABLE": 503}.get(status, 400),
                      "message": message, "status": status}}


def sse_chunks(raw):
    """The JSON objects of an `alt=sse` body; asserts Google's framing (CRLF, data: lines only)."""
    text_ = raw.decode("utf-8")
    assert text_.endswith("\r\n\r\n"), "every event ends with CRLF CRLF"
    out = []
    for block in text_.split("\r\n\r\n")[:-1]:
        assert block.startswith("data: ") and "\n" not in block and "\r" not in block, block
        out.append(json.loads(block[len("data: "):]))
    return out


def array_chunks(raw):
    """The elements of a streamed JSON array (`[{...}\\r\\n,{...}\\r\\n]`), checking the framing."""
    text_ = raw.decode("utf-8")
    assert text_.startswith("[") and text_.endswith("]"), text_[-50:]
    elements = json.loads(text_)
    assert isinstance(elements, list)
    if elements:
        assert text_.count("\r\n,") == len(elements) - 1 and text_.endswith("\r\n]")
    return elements


def parts_of(chunks):
    return [p for c in chunks for cand in c.get("candidates", ()) for p in cand["content"]["parts"]]
