"""References a client may send to state an upstream keeps under the provider's key — which every
client of the gateway shares: a stored conversation (`conversation`), a context cache (Gemini
`cachedContent`), uploaded files (`file_id`, Gemini Files API `fileUri`s), code-execution
containers (Anthropic `container`), stored items (Responses `item_reference`). The gateway did not
make any of them for the calling key and cannot tell whose they are, so a request naming one is
refused (400) before any upstream sees it; otherwise one client key could reach another's data.
(`previous_response_id` is the gateway's own: wire/responses/client.py checks its owner.)

The raw body is searched first (in C), so a request without any such name costs no walk."""

import re
from typing import Any, Iterator

from ..core.errors import InvalidRequest

TOP_LEVEL = {"responses": ("conversation",), "gemini": ("cachedContent", "cached_content"), "messages": ("container",)}
GEMINI_FILE = re.compile(r"^(?:https://generativelanguage\.googleapis\.com/[^?#]*/)?files/[^/]+$")


def refuse_foreign_state(style: str, raw: bytes, body: Any) -> None:
    """Raise InvalidRequest when `body` names upstream state (see the module docstring)."""
    if not isinstance(body, dict):
        return
    for name in TOP_LEVEL.get(style, ()):
        if body.get(name) not in (None, "", {}):
            raise InvalidRequest(f"'{name}' refers to state the upstream keeps for every client of this gateway: "
                                 "it cannot be used through the gateway", param=name)
    if b"file_id" in raw or b"item_reference" in raw or b"files/" in raw:
        for where, node in _objects(body, ()):
            _check(node, where)


def _check(node: dict, where: tuple) -> None:
    path = ".".join(str(p) for p in where) or None
    if isinstance(node.get("file_id"), str):
        raise InvalidRequest("A 'file_id' refers to a file stored at the upstream for every client of this gateway: "
                             "send the file's content instead", param=path)
    if node.get("type") == "item_reference":
        raise InvalidRequest("An 'item_reference' refers to items stored at the upstream for every client of this "
                             "gateway: send the items themselves", param=path)
    uri = node.get("fileUri") or node.get("file_uri")
    if isinstance(uri, str) and GEMINI_FILE.match(uri):
        raise InvalidRequest("A Gemini Files API 'fileUri' refers to a file stored at the upstream for every client "
                             "of this gateway: send the file's content instead", param=path)


def _objects(node: Any, where: tuple) -> Iterator[tuple[tuple, dict]]:
    stack = [(node, where)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, dict):
            yield where, node
            stack.extend((v, where + (k,)) for k, v in node.items() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend((v, where + (i,)) for i, v in enumerate(node) if isinstance(v, (dict, list)))
