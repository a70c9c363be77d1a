"""The loaded config: a tree of frozen dataclasses. The request path only ever reads an
already-built `Config`, never the disk."""

import hashlib
import ipaddress
import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Pricing:
    input: float | None = None
    output: float | None = None
    cached_input: float | None = None
    cache_write: float | None = None


@dataclass(frozen=True)
class Provider:
    id: str
    type: str
    api_base_url: str
    api_key: str | None
    headers: dict
    pricing: dict  # upstream model -> Pricing
    connect_timeout: float = 10.0
    first_byte_timeout: float = 600.0  # until the upstream's first byte (a non-streamed answer's whole wait)
    idle_timeout: float = 600.0  # between two stream chunks: a stalled stream is cut
    total_timeout: float | None = None  # the whole exchange; None: no limit
    default_max_tokens: int | None = None  # `type: messages`: max_tokens when the client sent none
    quirks: dict = field(default_factory=dict)  # see plexus/quirks.py
    unusable: str | None = None  # why requests cannot go to it (e.g. its key's variable is unset)
    unsupported_tools: str = "drop"  # a hosted tool with no equivalent here: "drop" or "error"
    # issue 17: the provider's `embeddings`, `vertex` and `azure` blocks as written (plexus/wire/vertex, azure)
    embeddings: dict = field(default_factory=dict)
    vertex: dict = field(default_factory=dict)
    azure: dict = field(default_factory=dict)
    # routing (issue 16)
    context_windows: dict = field(default_factory=dict)  # upstream model -> tokens, where the config says
    catalog_provider: str | None = None  # which catalog provider it is (plexus/catalog.py); None: guessed
    empty_failover: bool = True  # an empty answer, or a stream with nothing useful before first_byte, fails over


@dataclass(frozen=True)
class Failover:
    """When a target fails before the client got a byte, the next one is tried (see routing.py)."""

    retry_on: frozenset = frozenset((408, 409, 429, 500, 502, 503, 504, 520, 522, 524, 529))
    max_attempts: int = 3
    backoff_ms: float = 0.0


@dataclass(frozen=True)
class CooldownPolicy:
    initial_s: float = 5.0  # doubled on each further failure, up to max_s; reset on success
    max_s: float = 300.0


@dataclass(frozen=True)
class Target:
    provider: str
    model: str
    weight: float = 1.0
    quirks: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Alias:
    name: str
    selector: str
    targets: tuple
    additional_aliases: tuple = ()
    kind: str = "chat"  # or "embedding": which calls the alias serves
    affinity: bool = True  # a session's requests stay on the target that served it (plexus/core/affinity.py)
    affinity_ttl: float = 3600.0


# ---- per-key policy (issue 14) -------------------------------------------------------------------


@dataclass(frozen=True)
class KeyLimits:
    rpm: int | None = None  # requests per rolling 60 s
    tpm: int | None = None  # input + output tokens per rolling 60 s
    concurrent: int | None = None  # requests in flight at once (a stream until it ends)


@dataclass(frozen=True)
class Budget:
    usd: float
    period: str = "month"  # day | week | month (calendar, UTC) | total


@dataclass(frozen=True)
class KeyPolicy:
    """What a key may do. A key without any of it has no KeyPolicy at all (None), so it pays nothing."""

    allowed_models: tuple | None = None  # as written; None: every alias
    allowed: frozenset | None = None  # every name (additional ones too) of the allowed aliases
    limits: KeyLimits | None = None  # None when no limit is set
    budget: Budget | None = None
    expires_at: float | None = None  # epoch seconds


@dataclass(frozen=True)
class ClientKey:
    name: str
    digest: bytes  # SHA-256 of the secret: all the gateway needs to recognise it
    secret: str | None = None  # set when the file holds the secret itself
    comment: str | None = None
    created: str | None = None
    policy: KeyPolicy | None = None  # see plexus/core/policy.py

    @property
    def id(self) -> str:
        """A stable id for what the gateway keeps for this key (stored responses): derived from
        the secret, so a new key given a revoked key's name does not inherit anything."""
        return hashlib.sha256(b"plexus-key-id:" + self.digest).hexdigest()[:32]


DEFAULT_RESPONSES_RETENTION_DAYS = 30


@dataclass(frozen=True)
class Limits:
    """What one request may cost the gateway: the `limits:` block."""

    form_bytes: int = 64 * 1024  # a dashboard form (login included)
    config_form_bytes: int = 2 * 1024 * 1024  # the raw config editor
    form_fields: int = 1000  # fields of one url-encoded form, parts of a multipart one
    body_timeout_s: float = 30.0  # every request body (dashboard, management, /v1) must arrive within
    upstream_body_bytes: int = 32 * 1024 * 1024  # a non-streamed upstream answer, decompressed
    sse_event_bytes: int = 4 * 1024 * 1024  # one event (or line) of an upstream stream


def networks(entries) -> tuple:
    """`trusted_proxies` entries (addresses or CIDR networks) as ip_network objects; ValueError
    names an entry that is neither."""
    out = []
    for entry in entries:
        try:
            out.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(f"'{entry}' is not an IP address or network") from None
    return tuple(out)


@dataclass(frozen=True)
class Config:
    path: str
    admin_key: str | None
    keys: dict = field(default_factory=dict)  # name -> ClientKey
    providers: dict = field(default_factory=dict)  # id -> Provider
    aliases: dict = field(default_factory=dict)  # alias name -> Alias (primary names only)
    names: dict = field(default_factory=dict)  # every name a client may ask for -> Alias
    stamp: tuple | None = None  # the file's (mtime, size, inode) when it was read
    database: str | None = None  # the usage store: a SQLite path or sqlite:/// URL
    retention_days: int | None = None  # usage records older than this are pruned; None keeps all
    failover: Failover = field(default_factory=Failover)
    cooldown: CooldownPolicy = field(default_factory=CooldownPolicy)
    log_level: str = "info"
    log_format: str = "text"  # or "json": one JSON object a line
    metrics_token: str | None = None  # may read GET /metrics, as the admin key may
    model_facts: dict = field(default_factory=dict, repr=False, compare=False)  # (provider, model) -> catalog.Facts,
    #   filled when the config is applied (catalog.warm), read on the request path
    trusted_proxies: tuple = ()  # ip_network objects whose X-Forwarded-For is believed
    limits: Limits = field(default_factory=Limits)
    responses_retention_days: int | None = None  # None: retention_days, else DEFAULT_RESPONSES_RETENTION_DAYS

    @property
    def responses_retention(self) -> int | None:
        """Days stored Responses are kept (None: for ever)."""
        days = self.responses_retention_days
        if days is None:
            days = self.retention_days or DEFAULT_RESPONSES_RETENTION_DAYS
        return days or None

    def warnings(self):
        return [f"provider '{p.id}' is unusable: {p.unusable}" for p in self.providers.values() if p.unusable]

    def secrets(self):
        """Every secret value this config holds, for redaction: the admin key, the metrics token,
        client keys, provider keys, and what may carry a credential in a provider's `headers:` and
        the `extra_body` of a provider or target (see configured_secrets)."""
        found = [self.admin_key, self.metrics_token] + [k.secret for k in self.keys.values()]
        for p in self.providers.values():
            found += [p.api_key, *configured_secrets(p.headers, p.quirks.get("extra_body"))]
            if p.vertex:
                found.append(p.vertex.get("credentials"))
        for alias in self.aliases.values():
            for t in alias.targets:
                found += configured_secrets(None, t.quirks.get("extra_body"))
        return list(dict.fromkeys(s for s in found if s))


# Headers a provider may be configured with that are known to carry no credential; every other
# header value is treated as a secret (so is its last word: `Bearer <token>` may be echoed alone).
PUBLIC_HEADERS = frozenset({"accept", "content-type", "user-agent", "anthropic-version", "anthropic-beta", "openai-beta",
                            "http-referer", "referer", "x-title"})
SECRET_FIELD = re.compile(r"key|token|secret|passw|auth|cred|sign", re.I)
MIN_SECRET = 8  # shorter values would redact ordinary words


def configured_secrets(headers, extra_body) -> list:
    """The secret-bearing values of a provider's `headers` and an `extra_body`: every header value
    but those of PUBLIC_HEADERS, and string values of extra_body fields named like credentials."""
    out = []
    for name, value in (headers or {}).items():
        if name.lower() not in PUBLIC_HEADERS and isinstance(value, str):
            out += [value, value.split()[-1] if value.split() else value]
    out += _named_secrets(extra_body)
    return [v for v in dict.fromkeys(out) if len(v) >= MIN_SECRET]


def _named_secrets(value, secret_field=False):
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _named_secrets(v, secret_field or bool(SECRET_FIELD.search(str(k))))]
    if isinstance(value, list):
        return [s for v in value for s in _named_secrets(v, secret_field)]
    return [value] if secret_field and isinstance(value, str) else []
