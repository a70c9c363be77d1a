"""The usage record: what one request did, filled in along the request path."""

from time import perf_counter, time as wall_clock
from dataclasses import dataclass, field

from ..ids import hex_id


@dataclass
class UsageRecord:
    api_style: str
    request_id: str = field(default_factory=hex_id)
    time: float = field(default_factory=wall_clock)
    started: float = field(default_factory=perf_counter)
    key_name: str | None = None
    source_ip: str | None = None
    alias: str | None = None
    provider: str | None = None
    model: str | None = None
    provider_type: str | None = None
    streamed: bool = False
    fast_path: bool = False
    attempts: list = field(default_factory=list)
    skipped: list = field(default_factory=list)  # targets not tried and why: {"provider", "model", "reason", ...}
    status: int | str | None = None
    error: str | None = None
    usage: object = None  # unified.usage.Usage as the provider reported it; None when none came
    prompt_chars: int = 0  # size of the client's request body, for an estimate when no usage comes
    output_chars: int = 0  # characters of output seen (text, reasoning, tool arguments), likewise
    finish_reason: str | None = None
    upstream_started: float | None = None
    first_byte: float | None = None  # perf_counter when the first byte went to the client
    upstream_s: float = 0.0  # time spent waiting on the upstream
    duration_s: float | None = None
    key_refused: bool = False  # no valid client key: counted in metrics and logged, never stored

    def finish(self, status, error=None):
        if self.status is None or status == "cancelled":
            self.status = status
        if error and not self.error:
            self.error = error[:500]
        self.duration_s = perf_counter() - self.started
