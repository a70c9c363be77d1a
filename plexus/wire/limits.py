"""Limits on what a client's JSON may be, checked once the body is parsed, before anything is sent
upstream: nesting depth. orjson parses up to 1024 levels but writes at most 254, so a deeper body
would only fail later, when the gateway writes it again, after the upstream has seen it.

`walk` is the one pass over a parsed body: it enforces the depth and shows every object to a
visitor (wire/state_refs.py looks for references to upstream state there), so a request body is
walked once, whatever is checked."""

from typing import Any, Callable

from ..core.errors import InvalidRequest

MAX_JSON_DEPTH = 128  # far above any real request (tool schemas nest a few dozen levels at most)


def walk(body: Any, visit: Callable[[dict], None], limit: int = MAX_JSON_DEPTH) -> None:
    """Call `visit` on every object (dict) in `body`; InvalidRequest (400) when arrays and objects
    nest more than `limit` deep."""
    if isinstance(body, (dict, list)) and not _walk(body, visit, limit):
        raise InvalidRequest(f"The request body is nested more than {limit} levels deep")


def _walk(node, visit, left):
    if left == 0:
        return False
    if type(node) is dict:
        visit(node)
        values = node.values()
    else:
        values = node
    for v in values:
        t = type(v)
        if (t is dict or t is list) and not _walk(v, visit, left - 1):
            return False
    return True


def path_to(root: Any, target: Any) -> str | None:
    """The dotted path of the object `target` inside `root` (for an error's `param`)."""
    stack = [(root, ())]
    while stack:
        node, where = stack.pop()
        if node is target:
            return ".".join(str(p) for p in where) or None
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        stack.extend((v, where + (k,)) for k, v in items if isinstance(v, (dict, list)))
    return None
