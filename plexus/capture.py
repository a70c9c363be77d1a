"""Debug capture: for chosen providers (or all), the four sides of an exchange — the client's raw
request, each request sent upstream, the upstream's raw answer or stream, and what the client got
— stored (storage.base.CaptureStore), secrets redacted, for the dashboard's request view and a
`curl` replay of the upstream call.

The switch is stored too, so the management API turns it on or off for every worker: each worker
reads it into memory once a second (the scheduler calls `sync`, as for cooldowns), and the request
path only ever checks `Captures.on`. With capture off nothing else happens per request or per chunk.

With it on, the request path only collects bytes, each part bounded by `max_bytes`; everything else
— redaction, trimming, JSON, the insert, pruning by age and total size — happens on the scheduler's
thread (`store_queued`), fed by a small bounded queue. A capture that finds the queue full is
dropped, not waited for.

Redaction, in that order: every secret the config holds (provider keys, client keys, admin key,
metrics token) and every credential the client presented is replaced by `[REDACTED]` wherever it
appears (URLs, headers, bodies, error messages); then any header whose name suggests a credential
(authorization, x-api-key, cookie, ...) keeps only its scheme word. A part is redacted before it is
trimmed, and a trimmed end that is the start of a secret is cut too, so not even a prefix remains.
"""

import logging
import queue
import re
import shlex
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from urllib.parse import parse_qsl, urlencode

import yaml

from .redaction import REDACTED, cut_partial_secret, redact_text, spellings

log = logging.getLogger("plexus.capture")

SYNC_S = 1.0
PRUNE_S = 60.0
PRUNE_AFTER_WRITE_S = 5.0
QUEUE_SIZE = 32
# header and query names that carry credentials (not, say, x-ratelimit-remaining-tokens)
SENSITIVE = re.compile(r"(^|[-_])(authorization|cookie|key|token|secret|password|signature|session)$|secret|password|"
                       r"credential", re.I)
SCHEMES = ("bearer", "basic", "token")
MIN_PRESENTED = 8  # a presented credential shorter than this is not scrubbed from bodies (only its header is)


@dataclass(frozen=True)
class Settings:
    enabled: bool = False
    providers: tuple = ()  # provider ids; empty: every request
    max_bytes: int = 256 * 1024  # one exchange, all its parts together
    max_total_bytes: int = 64 * 1024 * 1024  # all captures; the oldest go first
    retention_hours: float = 24.0
    until: float | None = None  # epoch seconds: capture switches itself off then

    def active(self, now):
        return self.enabled and (self.until is None or now < self.until)

    def to_json(self):
        return {**asdict(self), "providers": list(self.providers)}

    @classmethod
    def from_json(cls, data):
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**{**known, "providers": tuple(known.get("providers") or ())})


class Captures:
    """This worker's view of the switch, its capture queue, and the store (reads pass through)."""

    def __init__(self, store, clock=time.time):
        """`store` is a storage.base.CaptureStore."""
        self.store = store
        self.clock = clock
        self.settings = Settings()
        self.on = False  # the request path's one check
        self.dropped = 0
        self.on_queued = lambda: None  # set by whoever writes the queue (the scheduler's job)
        self._queue = queue.Queue(QUEUE_SIZE)
        self._queued = 0  # submitted, not yet stored
        self._idle = threading.Condition()
        self._last_prune = 0.0
        self._dirty = False
        try:
            self.sync()
        except Exception as e:  # the database is away: off until the sync reads the switch
            log.warning("capture switch not read at start: %s", e)

    # ---- the switch -------------------------------------------------------------------------------

    def sync(self):
        """Take the switch from the store (every worker does, each second)."""
        data = self.store.load_switch()
        self._apply(Settings.from_json(data) if data else Settings())

    def update(self, **changes):
        """Change the switch for every worker: stored, applied here at once."""
        settings = replace(self.settings, **changes)
        self.store.save_switch(settings.to_json())
        self._apply(settings)
        return settings

    def _apply(self, settings):
        self.settings = settings
        self.on = settings.active(self.clock())

    # ---- the request path (only when `on`) --------------------------------------------------------

    def observe(self, call, config):
        """The call's observer while capture is on (plexus/core/observers.py), else None. `config`
        is the one in force for this call: its secrets are redacted from what is stored."""
        if not self.on:
            return None
        try:
            body = call.peek_body()  # kept, so the pipeline's own read gets the same bytes
        except Exception:  # too large, or the client went away: the pipeline reports it
            body = b""
        url, headers = call.client_request()
        return Exchange(self, self.settings, config, call.method, url, headers, body)

    def submit(self, exchange):
        try:
            with self._idle:
                self._queue.put_nowait(exchange)
                self._queued += 1
        except queue.Full:
            self.dropped += 1
            if self.dropped in (1, 10, 100) or self.dropped % 1000 == 0:
                log.warning("capture queue full: %d captures dropped so far in this worker", self.dropped)
            return
        self.on_queued()

    # ---- storing (the scheduler's thread) ---------------------------------------------------------

    def store_queued(self):
        """Store every queued capture, prune when due. Returns the seconds until the next prune is
        due (soon after writes: the total may be over its cap now)."""
        while True:
            try:
                exchange = self._queue.get_nowait()
            except queue.Empty:
                break
            self._write_queued(exchange)
        now = time.monotonic()
        due = self._last_prune + (PRUNE_AFTER_WRITE_S if self._dirty else PRUNE_S)
        if now >= due:
            self._dirty, self._last_prune = False, now
            self.prune()
            return PRUNE_S
        return due - now

    def write(self, exchange):
        """Redact, trim and store one exchange. Returns the stored document."""
        doc = exchange.document()
        size = self.store.add(doc)
        log.debug("captured request %s (%d bytes stored)", doc["request_id"], size)
        self._dirty = True  # the total may be over its cap now
        return doc

    def _write_queued(self, exchange):
        try:
            self.write(exchange)
        except Exception:  # one capture that cannot be stored must not stop the others
            log.exception("capture of request %s not stored", getattr(exchange.rec, "request_id", "?"))
        finally:
            with self._idle:
                self._queued -= 1
                self._idle.notify_all()

    def flush(self, timeout=5.0):
        """Wait until every capture submitted so far is stored (tests, close). False on timeout."""
        while True:
            try:
                self._write_queued(self._queue.get_nowait())  # help the scheduler, or stand in for it
            except queue.Empty:
                break
        with self._idle:
            return self._idle.wait_for(lambda: self._queued == 0, timeout)

    def prune(self):
        """Drop captures past their retention, then the oldest while the total is over its cap."""
        s = self.settings
        self.store.prune(self.clock() - s.retention_hours * 3600, s.max_total_bytes)

    # ---- reading ----------------------------------------------------------------------------------

    def list(self, request_id=None, limit=50):
        return self.store.list(request_id, limit)

    def get(self, capture_id):
        return self.store.get(capture_id)

    def for_request(self, request_id, at=None):
        """The capture of a request id (ids may repeat: the one nearest `at`, the usage record's
        time, else the latest), or None."""
        return self.store.for_request(request_id, at) if request_id else None

    def stats(self):
        return self.store.stats()

    def clear(self):
        return self.store.clear()


# ---- one exchange ---------------------------------------------------------------------------------


class Part:
    """Bytes of one side of the exchange, kept up to `limit` (the rest only counted)."""

    __slots__ = ("chunks", "size", "seen", "limit")

    def __init__(self, limit, data=b""):
        self.chunks, self.size, self.seen, self.limit = [], 0, 0, limit
        if data:
            self.add(data)

    def add(self, data):
        self.seen += len(data)
        room = self.limit - self.size
        if room > 0:
            piece = data[:room]
            self.chunks.append(piece)
            self.size += len(piece)

    def text(self):
        return b"".join(self.chunks).decode("utf-8", "replace")


@dataclass
class Attempt:
    provider: str
    model: str
    url: str
    headers: dict
    body: Part
    status: int | None = None
    error: str | None = None
    error_body: Part | None = None


@dataclass
class Exchange:
    """Collected on the request path, turned into a stored document on the writer thread."""

    captures: Captures
    settings: Settings
    config: object
    method: str
    url: str
    headers: dict
    raw_body: bytes
    attempts: list = field(default_factory=list)
    upstream_status: int | None = None
    upstream_headers: dict | None = None
    upstream_body: Part | None = None
    client_body: Part | None = None
    client_status: object = None
    client_type: str | None = None
    rec: object = None

    def __post_init__(self):
        self.client_request = Part(self.settings.max_bytes, self.raw_body)
        self.raw_body = None

    # the observer interface (plexus/core/observers.py), called by the pipeline
    def upstream_request(self, provider, model, url, headers, body):
        self.attempts.append(Attempt(provider.id, model, url, dict(headers), Part(self.settings.max_bytes, body)))

    def upstream_failed(self, err):
        attempt = self.attempts[-1]
        attempt.status, attempt.error = err.status, err.message
        raw = getattr(err, "upstream_body", None)
        if raw:
            attempt.error_body = Part(self.settings.max_bytes, raw)

    def upstream_answer(self, status, headers):
        self.upstream_status, self.upstream_headers = status, headers
        self.upstream_body = Part(self.settings.max_bytes)
        self.client_body = Part(self.settings.max_bytes)

    def upstream_bytes(self, chunk):
        self.upstream_body.add(chunk)

    def client_bytes(self, chunk):
        self.client_body.add(chunk)

    def finish(self, call, reply):
        """The answer is complete (`reply` None: a stream that ended): keep it if the switch wants
        this provider, and queue it."""
        providers = self.settings.providers
        if providers and not any(a.provider in providers for a in self.attempts):
            return
        rec = call.record
        if reply is not None:
            self.client_status, self.client_type = reply.status, reply.content_type
            self.client_body = Part(self.settings.max_bytes, reply.body)
        else:
            self.client_status = rec.status
        self.rec = rec
        self.captures.submit(self)

    # ---- on the writer thread ---------------------------------------------------------------------

    def document(self):
        rec = self.rec
        secrets = spellings(list(self.config.secrets() if self.config else ()) + _presented(self.headers, self.url))
        parts = [self.client_request] + [a.body for a in self.attempts]
        parts += [a.error_body for a in self.attempts if a.error_body]
        parts += [p for p in (self.upstream_body, self.client_body) if p is not None]
        texts = {id(p): redact_text(p.text(), secrets) for p in parts}
        keep = fair_share({k: len(t) for k, t in texts.items()}, self.settings.max_bytes)

        def body(part):
            if part is None:
                return None
            text = texts[id(part)]
            cut = max(part.seen - part.size, 0) + max(len(text) - keep[id(part)], 0)
            text = text[: keep[id(part)]]
            if cut:
                text = cut_partial_secret(text, secrets)
            return {"text": text, "bytes": part.seen, "truncated": bool(cut)}

        return {
            "time": rec.time, "request_id": rec.request_id, "alias": rec.alias, "provider": rec.provider,
            "status": rec.status, "streamed": bool(rec.streamed), "fast_path": bool(rec.fast_path),
            "api_style": rec.api_style, "max_bytes": self.settings.max_bytes,
            "client_request": {"method": self.method, "url": redact_url(self.url, secrets),
                               "headers": redact_headers(self.headers, secrets), "body": body(self.client_request)},
            "upstream_requests": [
                {"provider": a.provider, "model": a.model, "url": redact_url(a.url, secrets),
                 "headers": redact_headers(a.headers, secrets), "body": body(a.body), "status": a.status,
                 "error": redact_text(a.error, secrets) if a.error else None, "error_body": body(a.error_body)}
                for a in self.attempts
            ],
            "upstream_response": None if self.upstream_status is None else {
                "status": self.upstream_status, "headers": redact_headers(self.upstream_headers, secrets),
                "body": body(self.upstream_body)},
            "client_response": {"status": self.client_status, "content_type": self.client_type,
                                "body": body(self.client_body)},
        }


# ---- redaction ------------------------------------------------------------------------------------


def redact_url(url, secrets):
    """Known secrets, and the value of any query parameter named like a credential (`?key=`)."""
    url = redact_text(url, secrets)
    base, sep, query = url.partition("?")
    if not sep:
        return url
    pairs = [(k, REDACTED if SENSITIVE.search(k) else v) for k, v in parse_qsl(query, keep_blank_values=True)]
    return base + "?" + urlencode(pairs, safe="[]/:")


def redact_headers(headers, secrets):
    out = {}
    for name, value in (headers or {}).items():
        value = redact_text(str(value), secrets)
        if SENSITIVE.search(name) and REDACTED not in value:
            scheme, _, rest = value.partition(" ")
            value = f"{scheme} {REDACTED}" if rest and scheme.lower() in SCHEMES else REDACTED
        out[name] = value
    return out


def _presented(headers, url):
    """Credentials the client sent (whatever they are worth): scrubbed from everything stored."""
    found = []
    for name, value in headers.items():
        if SENSITIVE.search(name):
            scheme, _, rest = value.partition(" ")
            found.append(rest.strip() if rest and scheme.lower() in SCHEMES else value.strip())
    query = url.partition("?")[2]
    found += [v for k, v in parse_qsl(query) if SENSITIVE.search(k)]
    return [v for v in found if len(v) >= MIN_PRESENTED]


def fair_share(sizes, budget):
    """How much of each part to keep so that they add up to at most `budget`: small parts whole,
    the large ones cut to one common length ("water filling")."""
    if sum(sizes.values()) <= budget:
        return dict(sizes)
    remaining, left = budget, len(sizes)
    for size in sorted(sizes.values()):
        share = remaining // left
        if size > share:
            return {k: min(v, share) for k, v in sizes.items()}
        remaining -= size
        left -= 1
    return dict(sizes)


# ---- the curl export ------------------------------------------------------------------------------


def curl(doc, attempt=-1, config_path=None):
    """A shell command that replays one upstream call of a capture (the last by default). The
    provider's key stays a placeholder: `$NAME` when the config takes it from `${NAME}`, else
    `<API_KEY>`."""
    calls = doc.get("upstream_requests") or []
    if not calls:
        return None
    call = calls[attempt]
    placeholder = key_placeholder(config_path, call["provider"])
    lines = [f"curl -sS -X POST {_quote(call['url'], placeholder)}"]
    for name, value in call["headers"].items():
        lines.append(f"  -H {_quote(f'{name}: {value}', placeholder)}")
    body = call.get("body") or {"text": ""}
    lines.append("  --data-binary @- <<'PLEXUS_BODY'")
    out = " \\\n".join(lines) + "\n" + body["text"] + "\nPLEXUS_BODY\n"
    if body.get("truncated"):
        out = f"# the captured body was cut at {len(body['text'])} of {body['bytes']} bytes: this replay is incomplete\n" + out
    return out


def key_placeholder(config_path, provider_id):
    """`$NAME` when the provider's api_key is written `${NAME}` in the config file, else `<API_KEY>`."""
    try:
        with open(config_path, encoding="utf-8") as f:
            raw = yaml.safe_load(f) or {}
        value = str(raw["providers"][provider_id]["api_key"]).strip()
    except Exception:  # no file, not readable, no such provider any more
        return "<API_KEY>"
    m = re.fullmatch(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", value)
    return f"${m.group(1)}" if m else "<API_KEY>"


def _quote(text, placeholder):
    """Shell-quote `text`, with [REDACTED] turned into the placeholder (left for the shell to expand
    when it is a `$VARIABLE`)."""
    if REDACTED not in text:
        return shlex.quote(text)
    if not placeholder.startswith("$"):
        return shlex.quote(text.replace(REDACTED, placeholder))
    escaped = re.sub(r'([\\"$`])', r"\\\1", text)
    return '"' + escaped.replace(REDACTED, placeholder) + '"'
