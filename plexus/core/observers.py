"""The observer interface: what a watcher of a call (debug capture today; metrics and logs read the
finished record through the gateway's sinks) is told, at the pipeline's defined points. The pipeline
asks each registered factory for an observer per call; with none, the per-chunk points cost nothing
(the stream is not wrapped at all)."""

from typing import Any, Callable, Iterable, NamedTuple, Protocol

from .call import Call


class Reply(NamedTuple):
    """What the client gets: the HTTP layer turns it into its own response object."""

    status: int
    body: bytes | Iterable[bytes]  # an iterable for a stream (status and headers are then fixed)
    content_type: str
    headers: dict

    @property
    def streamed(self) -> bool:
        return not isinstance(self.body, bytes)


class Observer(Protocol):
    def upstream_request(self, provider: Any, model: str, url: str, headers: dict, body: bytes) -> None: ...
    def upstream_failed(self, err: Exception) -> None: ...
    def upstream_answer(self, status: int, headers: dict) -> None: ...
    def upstream_bytes(self, chunk: bytes) -> None: ...
    def client_bytes(self, chunk: bytes) -> None: ...
    def finish(self, call: Call, reply: Reply | None) -> None: ...  # None: a stream that has ended


ObserverFactory = Callable[[Call, Any], "Observer | None"]  # (call, config in force) -> observer or None


class Fanout:
    """Several observers as one."""

    def __init__(self, observers: list) -> None:
        self.observers = observers

    def upstream_request(self, provider: Any, model: str, url: str, headers: dict, body: bytes) -> None:
        for o in self.observers:
            o.upstream_request(provider, model, url, headers, body)

    def upstream_failed(self, err: Exception) -> None:
        for o in self.observers:
            o.upstream_failed(err)

    def upstream_answer(self, status: int, headers: dict) -> None:
        for o in self.observers:
            o.upstream_answer(status, headers)

    def upstream_bytes(self, chunk: bytes) -> None:
        for o in self.observers:
            o.upstream_bytes(chunk)

    def client_bytes(self, chunk: bytes) -> None:
        for o in self.observers:
            o.client_bytes(chunk)

    def finish(self, call: Call, reply: Reply | None) -> None:
        for o in self.observers:
            o.finish(call, reply)


def observers_for(factories: list, call: Call, config: Any) -> Observer | None:
    """The call's observer (one, or a fan-out of several), or None when nobody watches."""
    if len(factories) == 1:
        return factories[0](call, config)
    found = [o for o in (f(call, config) for f in factories) if o is not None]
    if not found:
        return None
    return found[0] if len(found) == 1 else Fanout(found)
