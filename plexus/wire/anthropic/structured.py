"""Structured output toward Anthropic: the native `output_config.format` (json_schema), and the
forced-tool fallback for models without it (`structured_output: tool`, a provider or target flag)
and for `json_object`, which has no native form: one tool whose input is the answer, forced by
`tool_choice`; its input comes back to the client as plain JSON text (`parse_response` and the
stream parser turn the tool's block into text)."""

from ...core.errors import InvalidRequest

TOOL = "json_answer"  # the fallback tool's name: a client tool of that name is refused
TOOL_DESCRIPTION = "Give your whole answer as this tool's input. It must match the input schema exactly."
# JSON Schema keywords Anthropic's structured outputs do not support: moved into the description, as
# the Anthropic SDK's transform_schema does, so the model still reads them
UNSUPPORTED = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength", "maxLength",
               "pattern", "maxItems", "uniqueItems", "minProperties", "maxProperties")


def apply(fmt, body):
    """Put the unified `response_format` on an Anthropic body: json_schema natively, json_object as
    the forced tool with an object schema."""
    if not fmt:
        return
    if fmt["type"] == "json_object":
        force_tool(body, {"type": "object"})
    else:
        body["output_config"] = {**body.get("output_config", {}), "format": {"type": "json_schema",
                                                                            "schema": native_schema(fmt["schema"])}}


def to_tool(body):
    """The `structured_output: tool` fallback: a native `output_config.format` becomes the forced tool."""
    config = body.get("output_config")
    fmt = config.get("format") if isinstance(config, dict) else None
    if not isinstance(fmt, dict) or not isinstance(fmt.get("schema"), dict):
        return
    rest = {k: v for k, v in config.items() if k != "format"}
    if rest:
        body["output_config"] = rest
    else:
        del body["output_config"]
    force_tool(body, fmt["schema"])


def force_tool(body, schema):
    """The answer as the input of one tool. Forced when it is the only tool; with the client's own
    tools, the model must call some tool (`any`), so it can still use theirs. Forced tool use cannot
    go with thinking (Anthropic answers 400), so thinking is turned off."""
    tools = body.get("tools") or []
    if any(t.get("name") == TOOL for t in tools):
        raise InvalidRequest(f"A tool may not be named '{TOOL}' when structured output goes to this model as a tool")
    body["tools"] = tools + [{"name": TOOL, "description": TOOL_DESCRIPTION, "input_schema": schema}]
    body["tool_choice"] = {"type": "tool", "name": TOOL} if not tools else {"type": "any"}
    body.pop("thinking", None)


def native_schema(schema):
    """A JSON Schema as Anthropic's structured outputs take it: every object closed
    (`additionalProperties: false` unless the schema says otherwise), unsupported constraints
    moved into the description."""
    if isinstance(schema, list):
        return [native_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out, moved = {}, []
    for k, v in schema.items():
        if k in UNSUPPORTED:
            moved.append(f"{k}: {v}")
        elif k in ("properties", "$defs", "definitions", "patternProperties"):
            out[k] = {name: native_schema(s) for name, s in v.items()} if isinstance(v, dict) else v
        elif k in ("items", "anyOf", "allOf", "oneOf", "prefixItems", "not"):
            out[k] = native_schema(v)
        else:
            out[k] = v
    if out.get("type") == "object" and "additionalProperties" not in out:
        out["additionalProperties"] = False
    if moved:
        out["description"] = "; ".join(([out["description"]] if out.get("description") else []) + moved)
    return out
