"""`GET /v1/models` and `GET /v1/models/{id}` in the caller's shape. OpenAI and Anthropic share the
path; an Anthropic client is told apart by what its SDK sends (`anthropic-version`, or `x-api-key`
without `Authorization`) and gets Anthropic's list (paged by `limit`, `after_id`, `before_id`) and
model objects; everyone else gets OpenAI's."""

from datetime import datetime, timezone
from typing import Iterable, Mapping

OPENAI, ANTHROPIC = "chat", "messages"  # the client styles whose shapes (and error shapes) these are
DEFAULT_LIMIT, MAX_LIMIT = 20, 1000  # Anthropic's page sizes


def shape_for(headers: Mapping[str, str]) -> str:
    if headers.get("anthropic-version") or (headers.get("x-api-key") and not headers.get("Authorization")):
        return ANTHROPIC
    return OPENAI


def render_model(shape: str, name: str, created: int) -> dict:
    if shape == ANTHROPIC:
        stamp = datetime.fromtimestamp(created, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"type": "model", "id": name, "display_name": name, "created_at": stamp}
    return {"id": name, "object": "model", "created": created, "owned_by": "plexus"}


def render_list(shape: str, names: Iterable[str], created: int, query: Mapping[str, str]) -> dict:
    names = list(names)
    if shape != ANTHROPIC:
        return {"object": "list", "data": [render_model(shape, n, created) for n in names]}
    page, has_more = _page(names, query)
    data = [render_model(shape, n, created) for n in page]
    return {"data": data, "has_more": has_more, "first_id": page[0] if page else None, "last_id": page[-1] if page else None}


def _page(names: list, query: Mapping[str, str]) -> tuple[list, bool]:
    """Anthropic's paging: `after_id` (the next page), `before_id` (the previous one), `limit`."""
    try:
        limit = min(max(int(query.get("limit", DEFAULT_LIMIT)), 1), MAX_LIMIT)
    except ValueError:
        limit = DEFAULT_LIMIT
    before, after = query.get("before_id"), query.get("after_id")
    if before in names:
        end = names.index(before)
        return names[max(end - limit, 0):end], end - limit > 0
    start = names.index(after) + 1 if after in names else 0
    return names[start:start + limit], start + limit < len(names)
