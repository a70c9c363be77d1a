"""A `Call`: one client request as the core sees it, with no HTTP framework in sight — what was
asked (style, operation, route variables, the body), by whom (the presented key, the source
address), and, once the pipeline has read the body, which alias and whether it streams. The usage
record it carries is written by the pipeline alone and handed to the sinks when the call ends."""

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ..usage.record import UsageRecord
from ..wire.protocols import ClientStyle

CREATE, COUNT_TOKENS, EMBED = "create", "count_tokens", "embed"


class _Unwatched:
    client_gone = False

    def stop(self) -> None:
        pass


def _no_watch(upstream: Any) -> _Unwatched:
    return _Unwatched()


@dataclass(slots=True, eq=False)
class Call:
    style: ClientStyle
    operation: str  # CREATE, COUNT_TOKENS or EMBED
    request_id: str
    token: str  # the client key as presented ("" when none was)
    read_body: Callable[[], bytes]  # raises a GatewayError when the body cannot be read (too large)
    content_type: str | None = None  # the body's mimetype, as the client declared it
    body_size: int = 0  # Content-Length, 0 when unknown
    route_args: Mapping[str, Any] = field(default_factory=dict)  # the path's variables
    query: Mapping[str, str] = field(default_factory=dict)
    client_headers: Mapping[str, str] = field(default_factory=dict)  # headers providers may pass on
    source_ip: str | None = None
    method: str = "POST"  # for logs and capture
    path: str = ""
    client_request: Callable[[], tuple[str, dict]] = lambda: ("", {})  # (url, all headers): for capture only,
    #   built only when asked
    watch_client: Callable[[Any], Any] = _no_watch  # (upstream) -> a hang-up watcher with stop() and client_gone
    # for callers inside the gateway (the dashboard's test button), which authenticate the person
    # themselves and name the target: never set from what a client sent
    key_name: str | None = None  # the name the record carries instead of a client key's
    targets: list | None = None  # (Target, Provider) pairs tried instead of the alias's
    session_headers: Mapping[str, str] = field(default_factory=dict)  # headers naming a session (core/affinity.py)
    # learned along the pipeline
    owner: str | None = None  # the authenticated key's stable id (config.types.ClientKey.id): what stored state belongs to
    alias: str | None = None
    stream: bool = False
    prompt_cache_key: str | None = None  # the client's conversation key (OpenAI's `prompt_cache_key`), if it sent one
    record: UsageRecord = None
    in_flight: tuple | None = None  # the (provider, model) this call counts in flight against, until it ends
    ticket: Any = None  # the key's lease on the shared limit counters while the call runs (core/policy.py)
    _raw: bytes | None = None

    def __post_init__(self) -> None:
        self.record = UsageRecord(api_style=self.style.STYLE, source_ip=self.source_ip, request_id=self.request_id)

    @property
    def route(self) -> dict:
        return {"args": self.route_args, "query": self.query}

    def peek_body(self) -> bytes:
        """The raw body, kept for a later `take_body` (an observer that wants it before parsing)."""
        if self._raw is None:
            self._raw = self.read_body()
        return self._raw

    def take_body(self) -> bytes:
        raw = self._raw if self._raw is not None else self.read_body()
        self._raw = None
        return raw
