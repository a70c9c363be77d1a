"""The two typed shapes a wire format implements: `ClientStyle` (a format clients speak to us) and
`Provider` (a format we speak to upstreams). Modules implement them (PEP 544 allows modules as
protocol implementations); the registry checks every member at import, so a missing function fails
at start-up rather than on the first request that needs it.

Optional capabilities are explicit: a style's `ROUTES` name its operations, and an operation beyond
`create` needs its own members (`OPERATION_MEMBERS`); a style with `KEEPS_CONVERSATIONS` stores
responses and implements `ConversationStyle`; a provider that can count tokens has `count_url`."""

from typing import Any, Callable, Iterable, Mapping, Protocol, runtime_checkable

Route = Mapping[str, Any]  # {"args": path variables, "query": query string}


class StreamRelayType(Protocol):
    """Fast path: upstream stream bytes in, client stream bytes out, reading usage on the way."""

    usage: Any
    finish_reason: str | None
    output_chars: int
    final: dict | None
    content_type: str  # of the client's stream: SSE, or Gemini's JSON array

    def feed(self, chunk: bytes) -> bytes: ...
    def close(self) -> tuple[bytes, bool]: ...
    def fail(self, err: Exception) -> bytes: ...


@runtime_checkable
class ClientStyle(Protocol):
    STYLE: str  # the name in usage records and the registry
    FAMILY: str  # the provider type this style reaches without translation (the fast path)
    ROUTES: Mapping[str, str | tuple[str, ...]]  # path -> operation name(s)
    KEEPS_CONVERSATIONS: bool  # True: implements ConversationStyle

    # (alias, stream); a style with a count_tokens route also takes `count_only=True`
    def check_request(self, body: Any, route: Route | None = None) -> tuple[str, bool]: ...
    def render_error(self, err: Exception, same_family: bool = False) -> tuple[bytes, int]: ...
    def parse_request(self, body: dict, route: Route | None = None) -> dict: ...
    def render_response(self, resp: dict, alias: str, request: dict | None = None) -> dict: ...
    def passthrough_request(self, body: dict, upstream_model: str, stream: bool,
                            route: Route | None = None) -> tuple[dict, Any]: ...
    def relay_response(self, raw: bytes, alias: str, parsed: Any = None) -> tuple[bytes, Any]: ...
    def response_usage(self, data: dict) -> tuple[Any, str | None]: ...
    StreamRenderer: Callable[[str, dict], Any]  # (alias, unified request) -> feed(event) -> bytes
    StreamRelay: Callable[[str, Any], StreamRelayType]  # (alias, relay options)


@runtime_checkable
class ConversationStyle(Protocol):
    """Server-side conversation state (the Responses API's `previous_response_id` and `store`)."""

    def prepare(self, body: dict, store: Any, owner: str | None, same_family: bool) -> dict: ...
    def remember(self, store: Any, owner: str | None, body: dict, response: dict) -> None: ...
    def retrieve(self, store: Any, owner: str | None, response_id: str) -> dict: ...
    def delete(self, store: Any, owner: str | None, response_id: str) -> dict: ...


# members an operation named in ROUTES needs beyond ClientStyle's
OPERATION_MEMBERS = {
    "create": (),
    "models": ("render_models",),
    "count_tokens": ("count_estimate",),
    "retrieve": ("retrieve",),
    "delete": ("delete",),
    "embed": (),
}


@runtime_checkable
class Provider(Protocol):
    FORWARDED_HEADERS: tuple[str, ...]  # client headers this API defines and we pass on

    def url(self, provider: Any, model: str, stream: bool) -> str: ...
    def headers(self, provider: Any, client_headers: Mapping[str, str] | None = None) -> dict[str, str]: ...
    def build_request(self, req: dict, model: str, provider: Any) -> dict: ...
    def parse_response(self, data: dict, quirks: Mapping[str, Any] | None = None) -> dict: ...
    StreamParser: Callable[[Mapping[str, Any] | None], Any]  # (quirks) -> feed(sse event) -> [unified events]


@runtime_checkable
class EmbeddingStyle(Protocol):
    """An embeddings API as clients speak it (issue 17): routes whose operation is `embed`. Never
    streamed; see plexus/core/embedding.py."""

    STYLE: str
    FAMILY: str
    WIRE: str  # a client and an upstream of the same WIRE take the fast path
    ROUTES: Mapping[str, str]
    KEEPS_CONVERSATIONS: bool  # always False: the pipeline asks every style

    def check_request(self, body: Any, route: Route | None = None) -> tuple[str, bool]: ...
    def render_error(self, err: Exception, same_family: bool = False) -> tuple[bytes, int]: ...
    def parse_request(self, body: dict, route: Route | None = None) -> dict: ...
    def render_response(self, result: dict, alias: str, request: dict) -> dict: ...
    def passthrough_request(self, body: dict, upstream_model: str, route: Route | None = None) -> tuple[dict, Any]: ...
    def relay_response(self, raw: bytes, alias: str, parsed: Any = None) -> tuple[bytes, Any]: ...


@runtime_checkable
class EmbeddingUpstream(Protocol):
    """An embeddings API as a provider type's upstreams speak it. A translated call is split into
    requests of at most `MAX_BATCH` inputs (a module may narrow it per model with `batch_limit(model)`)."""

    WIRE: str
    MAX_BATCH: int
    BASE64: bool  # the upstream encodes base64 vectors itself

    def url(self, provider: Any, model: str, options: Any = None) -> str: ...
    def headers(self, provider: Any, client_headers: Mapping[str, str] | None = None) -> dict[str, str]: ...
    def build_request(self, req: dict, model: str, provider: Any, inputs: list) -> dict: ...
    def parse_response(self, data: dict) -> tuple[list, Any]: ...


def members(protocol: type) -> list[str]:
    """The names a protocol requires: its annotated attributes and its methods."""
    names = [n for n in getattr(protocol, "__annotations__", {})]
    names += [n for n, v in vars(protocol).items() if callable(v) and not n.startswith("_")]
    return names


def missing(obj: Any, names: Iterable[str]) -> list[str]:
    return [n for n in names if not hasattr(obj, n)]
