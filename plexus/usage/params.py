"""The usage API's query parameters: which records (filters), which page, and times in and out
(ISO 8601 UTC out; ISO 8601 or epoch seconds in). Backend-neutral."""

from dataclasses import dataclass, fields
from datetime import datetime, timezone

API_STYLES = ("chat", "messages", "responses", "gemini")
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
# what a summary may be grouped by (`group_by`) -> the usage column holding it
DIMENSIONS = {"alias": "alias", "provider": "provider", "key": "key_name", "model": "model"}


class BadParameter(ValueError):
    """A query parameter that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class Filters:
    since: float | None = None  # epoch seconds, inclusive
    until: float | None = None  # epoch seconds, exclusive
    key_name: str | None = None
    alias: str | None = None
    provider: str | None = None
    model: str | None = None
    status: int | str | None = None  # an HTTP status or "cancelled"
    api_style: str | None = None
    request_id: str | None = None

    def is_empty(self):
        return all(getattr(self, f.name) is None for f in fields(self))

    def items(self):
        """(name, value) of each filter that is set."""
        return [(f.name, getattr(self, f.name)) for f in fields(self) if getattr(self, f.name) is not None]


def parse_filters(args):
    """Filters from a mapping of query parameters (`key` names the client key)."""
    api_style = args.get("api_style") or None
    if api_style is not None and api_style not in API_STYLES:
        raise BadParameter(f"api_style must be one of {', '.join(API_STYLES)}")
    return Filters(
        since=parse_time(args.get("since"), "since"),
        until=parse_time(args.get("until"), "until"),
        key_name=args.get("key") or None,
        alias=args.get("alias") or None,
        provider=args.get("provider") or None,
        model=args.get("model") or None,
        status=_status(args.get("status")),
        api_style=api_style,
        request_id=args.get("request_id") or None,
    )


def parse_paging(args):
    """(limit, offset)."""
    limit = _count(args.get("limit"), "limit", DEFAULT_LIMIT)
    if not 1 <= limit <= MAX_LIMIT:
        raise BadParameter(f"limit must be between 1 and {MAX_LIMIT}")
    return limit, _count(args.get("offset"), "offset", 0)


def parse_time(value, name):
    """Epoch seconds from an ISO 8601 time (UTC when it names no zone) or a number of epoch seconds."""
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise BadParameter(f"{name} must be an ISO 8601 time or epoch seconds, not '{value}'") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp()


def iso_time(epoch):
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _status(value):
    if not value:
        return None
    if value == "cancelled":
        return value
    if value.isdigit():
        return int(value)
    raise BadParameter("status must be an HTTP status code or 'cancelled'")


def _count(value, name, default):
    if value in (None, ""):
        return default
    if not value.isdigit():
        raise BadParameter(f"{name} must be a whole number")
    return int(value)
