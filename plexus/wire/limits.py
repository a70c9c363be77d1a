"""Limits on what a client's JSON may be, checked when the body is parsed (before anything is sent
upstream): nesting depth. orjson parses up to 1024 levels but writes at most 254, so a deeper body
would only fail later, when the gateway writes it again, after the upstream has seen it."""

from typing import Any

MAX_JSON_DEPTH = 128  # far above any real request (tool schemas nest a few dozen levels at most)


def nested_too_deep(raw: bytes, value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether `value` (parsed from `raw`) nests arrays and objects more than `limit` deep. Bodies
    with fewer brackets than that cannot be, and are not walked."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node if isinstance(v, (dict, list)))
    return False
