"""Small conversions several wire formats share: data URLs, tool ids, tool arguments, ids."""

import re

import orjson

from ..ids import hex_id

_DATA_URL = re.compile(r"^data:([\w.+-]+/[\w.+-]+)?(?:;[^,;]*)*;base64,(.*)$", re.S)
_TOOL_ID_BAD = re.compile(r"[^a-zA-Z0-9_-]")


def image_from_url(url):
    """An image part from an OpenAI-style URL: base64 for a data URL, else the URL itself."""
    m = _DATA_URL.match(url)
    if m:
        return {"type": "image", "media_type": m.group(1) or "image/png", "data": m.group(2)}
    return {"type": "image", "url": url}


def image_to_url(part):
    if part.get("data") is not None:
        return f"data:{part.get('media_type') or 'image/png'};base64,{part['data']}"
    return part.get("url", "")


def anthropic_tool_id(tool_id):
    """Anthropic accepts tool ids matching ^[a-zA-Z0-9_-]+$. The mapping is deterministic, so a
    call and its result map to the same id."""
    if not tool_id:
        return new_id("toolu_")
    return _TOOL_ID_BAD.sub("_", tool_id)


def arguments_object(arguments):
    """A tool call's JSON-string arguments as the object Anthropic/Gemini want. Arguments that
    are not a JSON object are kept under one key rather than lost."""
    if not arguments:
        return {}
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return {"_arguments": arguments}
    return value if isinstance(value, dict) else {"_arguments": value}


def arguments_string(value):
    return orjson.dumps(value if value is not None else {}).decode()


def new_id(prefix):
    return prefix + hex_id(24)


def function_tool(name, description, parameters):
    """A unified tool; a tool without a parameters schema takes none."""
    return {"name": name, "description": description,
            "parameters": parameters if isinstance(parameters, dict) else {"type": "object", "properties": {}}}
