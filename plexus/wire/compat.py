"""Quirks of OpenAI-compatible servers that accept less than OpenAI does (Cerebras, Groq, …), from
config flags on the provider or target (see plexus/wire/quirks.py for the rest):

| flag | effect |
|---|---|
| `strip_fields: [name, …]` | top-level body fields the server refuses are removed (any provider type) |
| `tool_choice_named: false` | chat: a named `tool_choice` becomes `auto` with only that tool offered |
| `flatten_content: true` | chat: text-only message content goes as one string, not a list of parts |
| `tool_schema_strip: [key, …]` | chat: these keys (e.g. `$schema`) are removed at every level of the tool schemas |
"""


def apply(body, provider_type, quirks):
    """`body` (the gateway's own dict) with these quirks applied, in place."""
    for name in quirks.get("strip_fields") or ():
        body.pop(name, None)
    if provider_type != "chat":
        return
    if quirks.get("tool_choice_named") is False:
        _unname_tool_choice(body)
    if quirks.get("flatten_content"):
        for m in body.get("messages") or ():
            if isinstance(m, dict) and _text_parts(m.get("content")):
                m["content"] = "".join(p["text"] for p in m["content"])
    strip = quirks.get("tool_schema_strip")
    if strip and isinstance(body.get("tools"), list):
        body["tools"] = [_without_keys(t, frozenset(strip)) for t in body["tools"]]


def _unname_tool_choice(body):
    choice = body.get("tool_choice")
    if not isinstance(choice, dict):
        return
    name = (choice.get("function") or {}).get("name")
    body["tool_choice"] = "auto"
    if name and isinstance(body.get("tools"), list):
        body["tools"] = [t for t in body["tools"] if ((t or {}).get("function") or {}).get("name") == name]


def _text_parts(content):
    return isinstance(content, list) and content and all(
        isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str) for p in content)


def _without_keys(tool, keys):
    fn = tool.get("function") if isinstance(tool, dict) else None
    if not isinstance(fn, dict) or "parameters" not in fn:
        return tool
    return {**tool, "function": {**fn, "parameters": _strip(fn["parameters"], keys)}}


def _strip(value, keys):
    if isinstance(value, dict):
        return {k: _strip(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list):
        return [_strip(v, keys) for v in value]
    return value
