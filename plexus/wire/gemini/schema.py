"""Tool schemas across the JSON Schema / Gemini boundary.

`sanitize` turns a JSON Schema (OpenAI `parameters`, Anthropic `input_schema`) into the OpenAPI
subset Gemini's `functionDeclarations[].parameters` accepts. Gemini fails the whole request on any
key it does not know, so this keeps an ALLOW-LIST and rewrites what it can instead of dropping it:

- `$ref` to `#/$defs/...` or `#/definitions/...` is inlined (a cycle, or nesting past MAX_DEPTH,
  becomes a bare `{"type": "object"}`: looser, never an endless schema).
- `"type": ["string", "null"]` -> `"type": "string", "nullable": true`; several non-null types -> `anyOf`.
- `oneOf` -> `anyOf`; a `{"type": "null"}` branch of either -> `nullable: true`.
- `allOf` is merged (properties and required united, first value wins for other keys).
- `const` -> a one-value `enum` (strings), or dropped with the value named in the description.
- Non-string enums are DROPPED (not stringified: a model told "1" would send the string "1" to a
  tool expecting the integer 1); the values are named in the description instead. A `null` in a
  string enum becomes `nullable: true`.
- `exclusiveMinimum`/`exclusiveMaximum` (numbers) become the inclusive bound (a hair looser);
  `examples` -> `example` (the first); `format` is kept only for the values Gemini documents.
- Everything else outside the allow-list (`$schema`, `additionalProperties`, `propertyNames`,
  `uniqueItems`, `patternProperties`, `not`, `if`/`then`/`else`, `multipleOf`, ...) is dropped,
  which only ever makes the schema accept more, never less.
- `required` keeps only names that are among `properties` (Gemini rejects the others).

`to_json_schema` goes the other way, for Gemini clients whose tools reach other providers.
"""

import orjson

ALLOWED = frozenset((
    "type", "format", "title", "description", "nullable", "enum", "properties", "required", "items",
    "minItems", "maxItems", "minLength", "maxLength", "pattern", "minimum", "maximum", "minProperties",
    "maxProperties", "anyOf", "propertyOrdering", "default", "example",
))
FORMATS = frozenset(("enum", "date-time", "int32", "int64", "float", "double"))
TYPES = frozenset(("string", "number", "integer", "boolean", "array", "object"))
MAX_DEPTH = 24


def sanitize(schema):
    """A Gemini-safe copy of `schema` (the input is never modified)."""
    if not isinstance(schema, dict):
        return {"type": "object"}
    defs = {**(schema.get("definitions") or {}), **(schema.get("$defs") or {})}
    return _Sanitizer(defs).schema(schema, 0, ())


class _Sanitizer:
    def __init__(self, defs):
        self.defs = defs if isinstance(defs, dict) else {}

    def schema(self, s, depth, refs):
        if not isinstance(s, dict) or depth > MAX_DEPTH:
            return {}
        s = self._resolve(s, refs)
        if s is None:  # a reference cycle
            return {"type": "object"}
        refs = s.pop("__refs__", refs)
        if "allOf" in s:
            s = _merge_all_of(s, [self._resolve(p, refs) or {} for p in s["allOf"] if isinstance(p, dict)])
        out = {}
        notes = []
        nullable = bool(s.get("nullable"))

        types = s.get("type")
        if isinstance(types, list):
            nullable = nullable or "null" in types
            types = [t for t in types if t != "null"]
            if len(types) == 1:
                types = types[0]
            elif len(types) > 1:
                out["anyOf"] = [{"type": t.lower()} for t in types if isinstance(t, str) and t.lower() in TYPES]
                types = None
            else:
                types = None
        if isinstance(types, str):
            t = types.lower()
            if t == "null":
                nullable = True
            elif t in TYPES:
                out["type"] = t

        branches = s.get("anyOf") if "anyOf" in s else s.get("oneOf")
        if isinstance(branches, list):
            kept = []
            for b in branches:
                if isinstance(b, dict) and (b.get("type") == "null" or b.get("type") == ["null"]) and len(b) == 1:
                    nullable = True
                    continue
                kept.append(self.schema(b, depth + 1, refs))
            if len(kept) == 1 and not out.get("anyOf"):
                for k, v in kept[0].items():
                    out.setdefault(k, v)
            elif kept:
                out["anyOf"] = kept

        if "const" in s:
            const = s["const"]
            if isinstance(const, str):
                out["type"], out["enum"] = "string", [const]
            elif const is None:
                nullable = True
            else:
                notes.append(f"Must be {orjson.dumps(const).decode()}.")
        enum = s.get("enum")
        if isinstance(enum, list) and "enum" not in out:
            values = [v for v in enum if v is not None]
            nullable = nullable or len(values) < len(enum)
            if values and all(isinstance(v, str) for v in values):
                out["enum"] = values
                out.setdefault("type", "string")
            elif values:
                notes.append("One of: " + ", ".join(orjson.dumps(v).decode() for v in values) + ".")
                if "type" not in out and "anyOf" not in out:
                    out["type"] = _common_type(values)

        props = s.get("properties")
        if isinstance(props, dict):
            out["properties"] = {name: self.schema(p, depth + 1, refs) for name, p in props.items() if isinstance(name, str)}
            out.setdefault("type", "object")
            required = s.get("required")
            if isinstance(required, list):
                required = [r for r in required if isinstance(r, str) and r in out["properties"]]
                if required:
                    out["required"] = required
            order = s.get("propertyOrdering")
            if isinstance(order, list):
                order = [k for k in order if k in out["properties"]]
                if order:
                    out["propertyOrdering"] = order
        items = s.get("items")
        if isinstance(items, list):  # tuple form: any of the listed item schemas
            items = {"anyOf": items} if len(items) > 1 else (items[0] if items else None)
        if isinstance(items, dict):
            out["items"] = self.schema(items, depth + 1, refs)
            out.setdefault("type", "array")

        for key in ("title", "description", "pattern"):
            if isinstance(s.get(key), str):
                out[key] = s[key]
        for key in ("minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties"):
            if isinstance(s.get(key), int) and not isinstance(s.get(key), bool):
                out[key] = s[key]
        for key, strict in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
            bound = s.get(key)
            if not _is_number(bound) and _is_number(s.get(strict)):
                bound = s[strict]
            if _is_number(bound):
                out[key] = bound
        if isinstance(s.get("format"), str) and s["format"] in FORMATS:
            out["format"] = s["format"]
        if s.get("default") is not None:
            out["default"] = s["default"]
        example = s.get("example")
        if example is None and isinstance(s.get("examples"), list) and s["examples"]:
            example = s["examples"][0]
        if example is not None:
            out["example"] = example
        if nullable:
            out["nullable"] = True
        if notes:
            out["description"] = (out.get("description", "") + " " + " ".join(notes)).strip()
        return {k: v for k, v in out.items() if k in ALLOWED and v is not None}

    def _resolve(self, s, refs):
        """`s` with a local `$ref` replaced by its target (siblings such as `description` kept);
        None when the reference is already being expanded further up (a cycle)."""
        ref = s.get("$ref")
        if not isinstance(ref, str):
            return dict(s)
        if ref in refs:
            return None
        name = ref.rsplit("/", 1)[-1]
        target = self.defs.get(name) if ref.startswith(("#/$defs/", "#/definitions/")) else None
        if not isinstance(target, dict):
            out = {k: v for k, v in s.items() if k != "$ref"}
            return out
        resolved = self._resolve(target, refs + (ref,))
        if resolved is None:
            return None
        resolved = {**resolved, **{k: v for k, v in s.items() if k != "$ref"}}
        resolved["__refs__"] = resolved.get("__refs__", refs + (ref,))
        return resolved


def _merge_all_of(s, parts):
    out = {k: v for k, v in s.items() if k != "allOf"}
    for p in parts:
        for k, v in p.items():
            if k == "properties" and isinstance(v, dict):
                out["properties"] = {**v, **(out.get("properties") or {})}
            elif k == "required" and isinstance(v, list):
                out["required"] = list(dict.fromkeys((out.get("required") or []) + v))
            else:
                out.setdefault(k, v)
    return out


def _common_type(values):
    if all(isinstance(v, bool) for v in values):
        return "boolean"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "integer"
    if all(_is_number(v) for v in values):
        return "number"
    return "string" if all(isinstance(v, str) for v in values) else None


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def to_json_schema(schema):
    """A Gemini `Schema` (uppercase or lowercase types, `nullable`) as JSON Schema for other providers."""
    if isinstance(schema, list):
        return [to_json_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for k, v in schema.items():
        if k in ("properties",) and isinstance(v, dict):
            out[k] = {name: to_json_schema(p) for name, p in v.items()}
        elif k in ("items", "anyOf", "additionalProperties") and isinstance(v, (dict, list)):
            out[k] = to_json_schema(v)
        elif k == "type" and isinstance(v, str):
            out[k] = v.lower()
        elif k in ("nullable", "propertyOrdering", "property_ordering"):
            continue
        else:
            out[k] = v
    if schema.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out
