"""Blanking secrets out of text the gateway passes on or keeps: upstream error messages (for the
client, the log and the usage record), debug captures, the dashboard. Redaction always comes
before any cut, and a cut that ends in the first characters of a secret loses those too, so not
even a prefix of a secret survives."""

import orjson
from urllib.parse import quote

REDACTED = "[REDACTED]"
PARTIAL_MIN = 4  # a cut end this long or longer that starts a secret is removed


def spellings(secrets) -> list[str]:
    """Each secret as it may appear: as is, escaped inside a JSON string, percent-encoded in a
    URL. Longest first, so a secret that contains another is replaced whole."""
    found = set()
    for secret in secrets:
        if secret:
            found |= {secret, orjson.dumps(secret).decode()[1:-1], quote(secret, safe="")}
    return sorted(found, key=len, reverse=True)


def redact_text(text: str, secrets, mark: str = REDACTED) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, mark)
    return text


def cut_partial_secret(text: str, secrets, mark: str = REDACTED) -> str:
    """A trimmed text may end in the first characters of a secret: cut them as well."""
    for secret in secrets:
        for n in range(min(len(secret) - 1, len(text)), PARTIAL_MIN - 1, -1):
            if text.endswith(secret[:n]):
                return text[:-n] + mark
    return text


def redact_and_clip(text: str, secrets, limit: int, mark: str = REDACTED) -> str:
    """`text` with every secret replaced, then cut to `limit` characters without leaving the start
    of a secret at the cut."""
    text = redact_text(text, secrets, mark)
    if len(text) <= limit:
        return text
    return cut_partial_secret(text[:limit], secrets, mark)
