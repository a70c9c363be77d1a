"""Documents, audio and structured output in unified form, and the conversions the wire formats
share: data URLs of files, audio formats <-> MIME types, the unified `response_format`, and the
clear refusal for what a provider cannot take.

Unified parts (besides those in `types.py`)::

    {"type": "document", "media_type": "application/pdf", "data": base64, "filename"?, "title"?}
    {"type": "document", "media_type": "text/plain", "text": str, "title"?}
    {"type": "document", "url": str, "media_type"?, "title"?}          a document the provider fetches
    {"type": "audio", "media_type": "audio/wav"|"audio/mp3"|..., "data": base64}

A provider-side file id (OpenAI `file_id`, Anthropic `file` source, a Gemini Files-API URI) names a
file only that provider holds: it is refused when the request is translated (`refuse_file_id`).

Unified `response_format`: None (free text) | {"type": "json_object"} |
{"type": "json_schema", "name": str, "schema": dict, "strict"?: bool, "description"?: str}.
"""

import base64
import binascii
import re

from ..core.errors import InvalidRequest

PDF = "application/pdf"
TEXT = "text/plain"
DEFAULT_SCHEMA_NAME = "response"
_DATA_URL = re.compile(r"^data:([\w.+-]+/[\w.+-]+)?(?:;[^,;]*)*;base64,(.*)$", re.S)

# OpenAI's input_audio formats <-> MIME types (Gemini takes audio as inlineData with a MIME type)
AUDIO_MIME = {"wav": "audio/wav", "mp3": "audio/mp3"}
AUDIO_FORMAT = {"audio/wav": "wav", "audio/x-wav": "wav", "audio/wave": "wav", "audio/mp3": "mp3", "audio/mpeg": "mp3"}


def document_from_data(data_url_or_b64, media_type=None, filename=None):
    """A document part from a data URL (or bare base64 with its media type). A text/plain file
    becomes a text document (decoded), anything else keeps its base64."""
    m = _DATA_URL.match(data_url_or_b64)
    mime, data = (m.group(1) or media_type or PDF, m.group(2)) if m else (media_type or PDF, data_url_or_b64)
    if mime == TEXT:
        part = {"type": "document", "media_type": TEXT, "text": decode_text(data)}
    else:
        part = {"type": "document", "media_type": mime, "data": data}
    if filename:
        part["filename"] = filename
    return part


_URLSAFE = str.maketrans("-_", "+/")


def standard_b64(data):
    """Base64 in the standard alphabet. Google's APIs (and the google-genai SDK) use the URL-safe
    one, which Anthropic and OpenAI reject; the two differ only in these two characters."""
    return data.translate(_URLSAFE) if "-" in data or "_" in data else data


def decode_text(data):
    try:
        return base64.b64decode(standard_b64(data), validate=False).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidRequest("A text/plain file must be base64-encoded UTF-8 text") from None


def data_url(part):
    """A base64 document or audio part as a data URL."""
    return f"data:{part.get('media_type') or PDF};base64,{part['data']}"


def filename(part):
    """The file name OpenAI's APIs want with file data: the client's own, else from the title."""
    name = part.get("filename") or part.get("title") or "document"
    return name if name.lower().endswith(".pdf") else name + ".pdf"


def document_text(part):
    """A text document as the text a format without text documents gets: its title, then its text."""
    title = part.get("title")
    return f"{title}\n\n{part['text']}" if title else part["text"]


def check_pdf(part, provider):
    """A base64 document a format takes only as PDF; anything else is refused."""
    if part.get("media_type") != PDF:
        refuse(f"a '{part.get('media_type')}' file", provider)


def refuse(what, provider):
    raise InvalidRequest(f"This model's provider ({provider}) cannot take {what}; send it to a provider that can "
                         "(README: 'Field fidelity')")


def refuse_file_id(where):
    raise InvalidRequest(f"{where}: a provider-side file id names a file only that provider holds; it cannot be sent "
                         "to this model's provider (send the file's content instead)")


def audio_format(part, provider):
    fmt = AUDIO_FORMAT.get(part.get("media_type") or "")
    if fmt is None:
        refuse(f"'{part.get('media_type')}' audio (only wav and mp3)", provider)
    return fmt


# ---- the unified response_format ---------------------------------------------------------------------


def json_schema(schema, name=None, strict=None, description=None):
    fmt = {"type": "json_schema", "name": name or DEFAULT_SCHEMA_NAME, "schema": schema}
    if strict is not None:
        fmt["strict"] = strict
    if description:
        fmt["description"] = description
    return fmt


def from_spec(kind, spec, param):
    """The unified format from OpenAI's two spellings (Chat nests the schema under `json_schema`,
    Responses has it flat): `kind` is the type, `spec` holds name/schema/strict/description."""
    if kind in (None, "text"):
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema" and isinstance(spec, dict) and isinstance(spec.get("schema"), dict):
        return json_schema(spec["schema"], spec.get("name"), spec.get("strict"), spec.get("description"))
    raise InvalidRequest(f"'{param}' must be text, json_object or json_schema with a schema object", param=param)


def spec_of(fmt):
    """name/schema/strict/description of a json_schema format, as OpenAI's APIs spell them."""
    return {k: fmt[k] for k in ("name", "schema", "strict", "description") if k in fmt}
