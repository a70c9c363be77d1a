"""References a client may send to state an upstream keeps under the provider's key — which every
client of the gateway shares: a stored conversation (`conversation`), a context cache (Gemini
`cachedContent`), uploaded files (`file_id`, Gemini Files API `fileUri`s), code-execution
containers (Anthropic `container`), stored items (Responses `item_reference`). The gateway did not
make any of them for the calling key and cannot tell whose they are, so a request naming one is
refused (400) before any upstream sees it; otherwise one client key could reach another's data.
(`previous_response_id` is the gateway's own: wire/responses/client.py checks its owner.)

`refuse_top_level` looks at the body's own fields; `refuse_reference` is shown every object of the
body by the one walk over it (wire/limits.py)."""

import re
from typing import Any

from ..core.errors import InvalidRequest
from .limits import path_to

TOP_LEVEL = {"responses": ("conversation",), "gemini": ("cachedContent", "cached_content"), "messages": ("container",)}
GEMINI_FILE = re.compile(r"^(?:https://generativelanguage\.googleapis\.com/[^?#]*/)?files/[^/]+$")


def refuse_top_level(style: str, body: Any) -> None:
    if not isinstance(body, dict):
        return
    for name in TOP_LEVEL.get(style, ()):
        if body.get(name) not in (None, "", {}):
            raise InvalidRequest(f"'{name}' refers to state the upstream keeps for every client of this gateway: "
                                 "it cannot be used through the gateway", param=name)


def refuse_reference(node: dict, root: Any) -> None:
    """InvalidRequest when the object `node` (somewhere in `root`) refers to upstream-kept state."""
    if isinstance(node.get("file_id"), str):
        what = "A file id ('file_id') refers to a file stored at the upstream"
    elif node.get("type") == "item_reference":
        what = "An 'item_reference' refers to items stored at the upstream"
    elif _gemini_file(node.get("fileUri") or node.get("file_uri")):
        what = "A Gemini Files API 'fileUri' refers to a file stored at the upstream"
    else:
        return
    raise InvalidRequest(f"{what} for every client of this gateway: send the content itself",
                         param=path_to(root, node))


def _gemini_file(uri) -> bool:
    return isinstance(uri, str) and bool(GEMINI_FILE.match(uri))
