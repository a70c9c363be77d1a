"""The unified request, response and stream events: where every client style and provider meet.

They are plain dicts on the request path (cheap to build, nothing validated per chunk);
the marshmallow schemas below are their written contract, used by the tests to check that every
parser produces exactly this shape.

Request::

    {"model": str, "system": [TextPart], "messages": [Message], "tools": [Tool],
     "tool_choice": None | {"type": "auto"|"none"|"required"|"tool", "name"?},
     "parallel_tool_calls": None | bool, "max_tokens": None | int, "temperature", "top_p",
     "top_k", "stop": [str], "seed", "user", "reasoning": None | {"effort", "budget_tokens"},
     "response_format": None | {"type": "json_object"} | {"type": "json_schema", "name", "schema", "strict"?,
     "description"?} (see `plexus.unified.media`), "stream": bool, "stream_usage": bool,
     "stream_format"?: "sse" | "json_array",   how the client wants its stream framed (Gemini)
     "presence_penalty"?, "frequency_penalty"?,  only chat and Gemini clients send them
     "cache_key"?: str,                          the client's prompt_cache_key (OpenAI styles)
     "hosted_tools"?: [{"kind", "label", "spec"}], "dropped_tools"?: [str]}   see plexus/unified/tools.py

A message is {"role": "user"|"assistant"|"tool", "content": [Part]}. A "tool" message holds
exactly one tool_result part. Parts:

    {"type": "text", "text", "cache_control"?}
    {"type": "image", "media_type"?, "data"?, "url"?}      base64 `data`, or a plain `url`
    {"type": "tool_call", "id", "name", "arguments": str}  arguments stay a JSON string
    {"type": "tool_result", "tool_call_id", "content": [text/image parts], "is_error": bool}
    {"type": "reasoning", "text", "signature"?, "redacted"?}   signature/redacted: Anthropic only
    {"type": "document", ...}, {"type": "audio", ...}      PDFs, text documents, audio: see `plexus.unified.media`

Any text, reasoning or tool_call part may carry `thought_signature`: Gemini's opaque signature for
that very part, sent back on the same part when the target is Gemini again and dropped elsewhere
(never put in `signature`, which only Anthropic may see).

Response: {"id", "model", "content": [text | reasoning | tool_call parts],
           "stop_reason": StopReason, "stop_sequence": None | str, "usage": Usage | None}

Stop reasons: "stop", "stop_sequence", "length", "tool_calls", "content_filter".

Stream events are typed NamedTuples, one per kind: see `plexus.unified.events`.
"""

from marshmallow import INCLUDE, Schema, fields, validate

STOP_REASONS = ("stop", "stop_sequence", "length", "tool_calls", "content_filter")


class _Open(Schema):
    class Meta:
        unknown = INCLUDE


class PartSchema(_Open):
    type = fields.String(required=True, validate=validate.OneOf(["text", "image", "tool_call", "tool_result", "reasoning", "document", "audio"]))
    text = fields.String()
    cache_control = fields.Dict()
    media_type = fields.String()
    data = fields.String()
    url = fields.String()
    id = fields.String()
    name = fields.String()
    arguments = fields.String()
    tool_call_id = fields.String()
    content = fields.List(fields.Dict())
    is_error = fields.Boolean()
    signature = fields.String(allow_none=True)
    redacted = fields.String(allow_none=True)
    thought_signature = fields.String()
    filename = fields.String()
    title = fields.String()


class MessageSchema(_Open):
    role = fields.String(required=True, validate=validate.OneOf(["user", "assistant", "tool"]))
    content = fields.List(fields.Nested(PartSchema), required=True)


class ToolSchema(_Open):
    name = fields.String(required=True)
    description = fields.String(allow_none=True)
    parameters = fields.Dict(required=True)
    cache_control = fields.Dict()


class RequestSchema(_Open):
    model = fields.String(required=True)
    system = fields.List(fields.Nested(PartSchema), required=True)
    messages = fields.List(fields.Nested(MessageSchema), required=True)
    tools = fields.List(fields.Nested(ToolSchema), required=True)
    tool_choice = fields.Dict(allow_none=True)
    parallel_tool_calls = fields.Boolean(allow_none=True)
    max_tokens = fields.Integer(allow_none=True)
    temperature = fields.Float(allow_none=True)
    top_p = fields.Float(allow_none=True)
    top_k = fields.Integer(allow_none=True)
    stop = fields.List(fields.String(), required=True)
    seed = fields.Integer(allow_none=True)
    user = fields.String(allow_none=True)
    reasoning = fields.Dict(allow_none=True)
    response_format = fields.Dict(allow_none=True)
    stream = fields.Boolean(required=True)
    stream_usage = fields.Boolean()
    stream_format = fields.String(validate=validate.OneOf(["sse", "json_array"]))
    presence_penalty = fields.Float()
    frequency_penalty = fields.Float()


class ResponseSchema(_Open):
    id = fields.String(required=True)
    model = fields.String(required=True)
    content = fields.List(fields.Nested(PartSchema), required=True)
    stop_reason = fields.String(required=True, validate=validate.OneOf(STOP_REASONS))
    stop_sequence = fields.String(allow_none=True)
    usage = fields.Raw(allow_none=True)


REQUEST, RESPONSE = RequestSchema(), ResponseSchema()


def new_request(model, stream=False):
    return {
        "model": model, "system": [], "messages": [], "tools": [], "tool_choice": None,
        "parallel_tool_calls": None, "max_tokens": None, "temperature": None, "top_p": None,
        "top_k": None, "stop": [], "seed": None, "user": None, "reasoning": None,
        "response_format": None, "stream": stream, "stream_usage": False,
    }


def text_of(parts):
    """The text parts of a content list, joined."""
    return "".join(p["text"] for p in parts if p["type"] == "text")


# reasoning effort <-> a thinking-token budget, for APIs that speak one or the other
EFFORT_BUDGETS = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 24576, "xhigh": 32768, "max": 32768}


def effort_for_budget(budget):
    if budget <= 2048:
        return "low"
    if budget <= 8192:
        return "medium"
    return "high"


# Gemini's thought signatures ride through Anthropic-style clients in thinking blocks whose signature
# is marked as Gemini's, so the client sends them back untouched and no Anthropic upstream sees them.
# `kind` says which part the signature belonged to: "thought" (this thinking block), "call" (the
# tool_use right after), "text" (the text block right before, or an empty text part of its own).
GEMINI_MARK = "gemini:"


def gemini_mark(kind, signature):
    return f"{GEMINI_MARK}{kind}:{signature}"


def gemini_unmark(value):
    """(kind, signature) of a marked signature, or None for any other (Anthropic's are base64)."""
    if not isinstance(value, str) or not value.startswith(GEMINI_MARK):
        return None
    kind, sep, signature = value[len(GEMINI_MARK):].partition(":")
    return (kind, signature) if sep and kind in ("thought", "call", "text") else None
