"""Reading an upstream's error body, whatever provider type sent it."""

import orjson


def parse_error_body(body, limit=500):
    """(message, type, code) from any provider's error JSON: OpenAI `{"error":{...}}`, Anthropic
    `{"type":"error","error":{...}}`, Google `{"error":{"code","message","status"}}` (sometimes in a
    one-element list), or a bare `{"message"}`/`{"detail"}`. Non-JSON bodies give their text (its
first `limit` characters; None: all of it, for a caller that redacts before it cuts)."""
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        text = body.decode("utf-8", "replace").strip()
        return (text[:limit] if limit else text) or None, None, None
    if isinstance(data, list) and data:
        data = data[0]
    if not isinstance(data, dict):
        return None, None, None
    err = data.get("error", data)
    if isinstance(err, str):
        return err, None, None
    if not isinstance(err, dict):
        return None, None, None
    message = err.get("message") or err.get("detail") or data.get("detail")
    if not isinstance(message, str):
        message = None if message is None else str(message)
    kind = err.get("type") or err.get("status")
    code = err.get("code")
    # Google's `code` is the HTTP status again: only a string code means something to other styles
    return message, (kind if isinstance(kind, str) else None), (code if isinstance(code, str) else None)
