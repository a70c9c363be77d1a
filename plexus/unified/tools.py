"""Client tools that are not plain functions, in unified form.

- A tool inside a Responses `namespace` becomes a function tool under one flat name that fits every
  provider's name rules (OpenAI and Anthropic: `^[a-zA-Z0-9_-]{1,64}$`; Gemini also wants a letter
  or `_` first); `ToolNames` maps the flat name back to (namespace, name) for the client.
- A freeform `custom` tool (Responses, Chat Completions) becomes a function tool taking one string,
  `input`, with its grammar or format in the description; its calls go back to the client as custom
  calls with that string.
- A hosted (server-side) tool becomes a record `{"kind", "label", "spec"}` in `req["hosted_tools"]`:
  `kind` is the capability (`web_search`, `code_execution`, or None for one no other provider has),
  `label` the client's own type, `spec` what the client sent. Each provider places the kinds it has a
  native equivalent for (plexus/wire/hosted.py); the others are dropped or refused."""

import hashlib
import re

import orjson

from .convert import arguments_object, function_tool

MAX_NAME = 64
_NAME_OK = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_-]{0,63}$")
_NAME_BAD = re.compile(r"[^a-zA-Z0-9_-]")
SEPARATOR = "__"
INPUT = "input"  # the one argument of a custom tool's function
CUSTOM_PARAMETERS = {"type": "object", "properties": {INPUT: {"type": "string", "description": "The tool's raw input text."}},
                     "required": [INPUT]}


def flat_name(namespace: str, name: str) -> str:
    """`namespace__name` when that fits the name rules, else a sanitised, shortened form made
    unique by a hash of the original pair."""
    joined = f"{namespace}{SEPARATOR}{name}"
    if _NAME_OK.match(joined):
        return joined
    digest = hashlib.sha256(joined.encode()).hexdigest()[:8]
    safe = _NAME_BAD.sub("_", joined)
    if not re.match(r"[a-zA-Z_]", safe):
        safe = "t" + safe
    return f"{safe[:MAX_NAME - 9]}_{digest}"


def custom_description(description: str | None, fmt: object) -> str:
    """A custom tool's description, with its input format spelled out (no other API has grammars)."""
    text = description or ""
    note = "Call this tool with its whole input as the single string argument `input`."
    if isinstance(fmt, dict) and fmt.get("type") == "grammar":
        syntax = fmt.get("syntax") or (fmt.get("grammar") or {}).get("syntax") or "lark"
        definition = fmt.get("definition") or (fmt.get("grammar") or {}).get("definition") or ""
        note += f" The input must follow this {syntax} grammar:\n{definition}"
    return f"{text}\n\n{note}" if text else note


def custom_tool(name: str, description: str | None, fmt: object) -> dict:
    return function_tool(name, custom_description(description, fmt), CUSTOM_PARAMETERS)


def custom_input(arguments: str) -> str:
    """A custom call's input from the function arguments a provider produced."""
    value = arguments_object(arguments)
    if isinstance(value.get(INPUT), str):
        return value[INPUT]
    strings = [v for v in value.values() if isinstance(v, str)]
    return strings[0] if len(value) == 1 and strings else arguments


def custom_arguments(text: str) -> str:
    return orjson.dumps({INPUT: text if isinstance(text, str) else ""}).decode()


def hosted(kind: str | None, label: str, spec: dict) -> dict:
    return {"kind": kind, "label": label, "spec": spec}


class ToolNames:
    """The client's non-plain tools of one request: flat name -> {"name", "namespace", "custom"},
    and back. Built while parsing the tools; used for history items and for rendering calls."""

    __slots__ = ("by_flat", "by_origin")

    def __init__(self) -> None:
        self.by_flat: dict[str, dict] = {}
        self.by_origin: dict[tuple, str] = {}

    def add(self, name: str, namespace: str | None, custom: bool, taken: set) -> str:
        """The upstream name for a tool; `taken` holds the names already used in this request (the
        plain functions' first, so a flat name never shadows one)."""
        if namespace is None and not custom:
            return name
        flat = name if namespace is None else flat_name(namespace, name)
        if flat in taken:  # two tools would share a name upstream: the later gets a distinct one
            flat = flat_name(f"{namespace or ''}{len(taken)}", name)
        taken.add(flat)
        if namespace is not None or custom:
            self.by_flat[flat] = {"name": name, "namespace": namespace, "custom": custom}
            self.by_origin[(namespace, name)] = flat
        return flat

    def upstream(self, name: str, namespace: str | None = None) -> str:
        """The flat name of a call the client sends back (a tool gone from the request still maps)."""
        if namespace is None:
            return self.by_origin.get((None, name), name)
        return self.by_origin.get((namespace, name)) or flat_name(namespace, name)

    def origin(self, flat: str) -> dict | None:
        return self.by_flat.get(flat)

    def __bool__(self) -> bool:
        return bool(self.by_flat)
