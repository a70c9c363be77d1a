"""The rate-limit headers clients read, in each API family's own names: OpenAI's
`x-ratelimit-{limit,remaining,reset}-{requests,tokens}` (reset as a duration, "1.5s"), Anthropic's
`anthropic-ratelimit-{requests,tokens}-{limit,remaining,reset}` (reset as an RFC 3339 time). Google's
API has none; every family gets `Retry-After` on a refusal."""

import math
import time
from datetime import datetime, timezone

OPENAI_FAMILIES = ("chat", "responses")


def render_rate_limit_headers(family: str, limits: dict, retry_after: float | None = None) -> dict:
    """`limits`: {"requests"|"tokens": (limit, remaining, reset in seconds)} for the limits a key
    has. `retry_after` (seconds) is set on a refusal."""
    headers = {"Retry-After": str(max(1, math.ceil(retry_after)))} if retry_after is not None else {}
    if family in OPENAI_FAMILIES:
        for what, (limit, remaining, reset_s) in limits.items():
            headers[f"x-ratelimit-limit-{what}"] = str(limit)
            headers[f"x-ratelimit-remaining-{what}"] = str(max(0, remaining))
            headers[f"x-ratelimit-reset-{what}"] = _duration(reset_s)
    elif family == "messages":
        now = time.time()
        for what, (limit, remaining, reset_s) in limits.items():
            headers[f"anthropic-ratelimit-{what}-limit"] = str(limit)
            headers[f"anthropic-ratelimit-{what}-remaining"] = str(max(0, remaining))
            headers[f"anthropic-ratelimit-{what}-reset"] = _rfc3339(now + reset_s)
    return headers


def _duration(seconds: float) -> str:
    """OpenAI's style: "0s", "1.5s", "6m0s"."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.3g}s" if seconds else "0s"
    minutes, rest = divmod(int(math.ceil(seconds)), 60)
    return f"{minutes}m{rest}s"


def _rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(math.ceil(epoch), timezone.utc).isoformat().replace("+00:00", "Z")
