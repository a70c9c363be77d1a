"""The YAML config: load, `${ENV}` references, validation with marshmallow, and hot reload.

Loading never raises anything but `ConfigError`, whose message names the file, the line, the key
path and what is wrong. The parsed config is a tree of frozen dataclasses; the request path only
ever reads an already-built `Config`, never the disk.
"""

import hashlib
import logging
import os
import re
import threading
from dataclasses import dataclass, field

import yaml
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

log = logging.getLogger("plexus.config")

DEFAULT_PATH = "config/plexus.yaml"
PROVIDER_TYPES = ("chat", "messages", "gemini", "responses")
SELECTORS = ("random", "in_order")
ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ConfigError(Exception):
    """The config cannot be used. `problems` are one line each: `line N: key.path: what is wrong`."""

    def __init__(self, path, problems):
        self.path = path
        self.problems = problems
        super().__init__("\n".join(f"{path}: {p}" for p in problems))


# ---- schemas (validation only; unknown keys are rejected everywhere) -----------------------------


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class PricingSchema(StrictSchema):
    input = fields.Float(validate=validate.Range(min=0))
    output = fields.Float(validate=validate.Range(min=0))
    cached_input = fields.Float(validate=validate.Range(min=0))
    cache_write = fields.Float(validate=validate.Range(min=0))


class ModelInfoSchema(StrictSchema):
    pricing = fields.Nested(PricingSchema)


POSITIVE = validate.Range(min=0, min_inclusive=False)


class TimeoutsSchema(StrictSchema):
    connect = fields.Float(validate=POSITIVE)
    read = fields.Float(validate=POSITIVE)  # the default for first_byte and idle
    first_byte = fields.Float(validate=POSITIVE)
    idle = fields.Float(validate=POSITIVE)
    total = fields.Float(validate=POSITIVE)


class FailoverSchema(StrictSchema):
    retry_on = fields.List(fields.Integer(validate=validate.Range(min=400, max=599)))
    max_attempts = fields.Integer(validate=validate.Range(min=1, max=20))
    backoff_ms = fields.Float(validate=validate.Range(min=0, max=60_000))


class CooldownSchema(StrictSchema):
    initial_s = fields.Float(validate=POSITIVE)
    max_s = fields.Float(validate=POSITIVE)


class ProviderSchema(StrictSchema):
    type = fields.String(required=True, validate=validate.OneOf(PROVIDER_TYPES))
    api_base_url = fields.Url(required=True, schemes={"http", "https"}, require_tld=False)
    api_key = fields.String(allow_none=True)
    headers = fields.Dict(keys=fields.String(), values=fields.String())
    models = fields.Dict(keys=fields.String(), values=fields.Nested(ModelInfoSchema, allow_none=True))
    timeouts = fields.Nested(TimeoutsSchema)
    default_max_tokens = fields.Integer(validate=validate.Range(min=1))
    # quirks: how this upstream differs from the API it claims to speak (see plexus/quirks.py)
    max_tokens_field = fields.String(validate=validate.OneOf(["max_tokens", "max_completion_tokens"]))
    max_tokens_cap = fields.Integer(validate=validate.Range(min=1))
    strip_cache_control = fields.Boolean()
    reasoning_field = fields.String(validate=validate.OneOf(["reasoning_content", "reasoning"]))
    extra_body = fields.Dict(keys=fields.String())
    think_tags = fields.Boolean()
    stream_options = fields.Boolean()


class TargetSchema(StrictSchema):
    provider = fields.String(required=True)
    model = fields.String(required=True, validate=validate.Length(min=1))
    weight = fields.Float(load_default=1.0, validate=validate.Range(min=0))
    max_tokens_cap = fields.Integer(validate=validate.Range(min=1))  # per-model quirks override the provider's
    extra_body = fields.Dict(keys=fields.String())


class AliasSchema(StrictSchema):
    selector = fields.String(load_default="random", validate=validate.OneOf(SELECTORS))
    targets = fields.List(
        fields.Nested(TargetSchema),
        required=True,
        validate=validate.Length(min=1, error="an alias needs at least one target"),
    )
    additional_aliases = fields.List(fields.String(validate=validate.Length(min=1)), load_default=list)

    @validates_schema
    def some_weight(self, data, **kwargs):
        targets = data.get("targets") or []
        if data.get("selector") == "random" and targets and not any(t["weight"] > 0 for t in targets):
            raise ValidationError("at least one target needs a weight above 0", "targets")


class KeySchema(StrictSchema):
    secret = fields.String(validate=validate.Length(min=8, error="a key secret needs 8 or more characters"))
    # or only its SHA-256, so the file never holds the secret (what the dashboard writes)
    secret_sha256 = fields.String(validate=validate.Regexp(r"^[0-9a-f]{64}$", error="must be 64 lowercase hex digits"))
    comment = fields.String(allow_none=True)
    created = fields.String(allow_none=True)  # ISO 8601, informational

    @validates_schema
    def one_secret(self, data, **kwargs):
        if ("secret" in data) == ("secret_sha256" in data):
            raise ValidationError("give exactly one of secret or secret_sha256", "secret")


class LoggingSchema(StrictSchema):
    level = fields.String(validate=validate.OneOf(["debug", "info", "warning", "error"]))
    format = fields.String(validate=validate.OneOf(["text", "json"]))


class MetricsSchema(StrictSchema):
    # a bearer token that may read GET /metrics (and nothing else); the admin key may too
    token = fields.String(allow_none=True, validate=validate.Length(min=8, error="a metrics token needs 8 or more characters"))


class RootSchema(StrictSchema):
    admin_key = fields.String(allow_none=True)
    database = fields.String(allow_none=True, validate=validate.Length(min=1))
    retention_days = fields.Integer(allow_none=True, validate=validate.Range(min=1))
    failover = fields.Nested(FailoverSchema)
    cooldown = fields.Nested(CooldownSchema)
    logging = fields.Nested(LoggingSchema)
    metrics = fields.Nested(MetricsSchema)
    keys = fields.Dict(keys=fields.String(), values=fields.Raw())
    providers = fields.Dict(keys=fields.String(), values=fields.Raw())
    models = fields.Dict(keys=fields.String(), values=fields.Raw())


ROOT, PROVIDER, ALIAS, KEY = RootSchema(), ProviderSchema(), AliasSchema(), KeySchema()


# ---- the loaded config ---------------------------------------------------------------------------


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


@dataclass(frozen=True)
class ClientKey:
    name: str
    digest: bytes  # SHA-256 of the secret: all the gateway needs to recognise it
    secret: str | None = None  # set when the file holds the secret itself
    comment: str | None = None
    created: str | None = None


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

    def warnings(self):
        return [f"provider '{p.id}' is unusable: {p.unusable}" for p in self.providers.values() if p.unusable]

    def secrets(self):
        """Every secret value this config holds, for redaction."""
        found = [self.admin_key, self.metrics_token] + [k.secret for k in self.keys.values()]
        found += [p.api_key for p in self.providers.values()]
        return [s for s in found if s]


# ---- loading -------------------------------------------------------------------------------------


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a mapping with the same key twice (PyYAML silently keeps the last)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key '{key}'", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def config_path(path=None):
    return path or os.environ.get("CONFIG_FILE") or DEFAULT_PATH


def load_config(path=None, environ=None):
    """Read, resolve and validate the config file. Raises ConfigError."""
    path = config_path(path)
    stamp = file_stamp(path)  # taken before reading, so a write during the read is seen as a change
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ConfigError(path, [f"cannot read the file: {e.strerror}"]) from None
    return parse_config(text, path, os.environ if environ is None else environ, stamp)


def file_stamp(path):
    try:
        st = os.stat(path)
        return (st.st_mtime_ns, st.st_size, st.st_ino)
    except OSError:
        return None


def parse_config(text, path="<config>", environ=None, stamp=None):
    environ = os.environ if environ is None else environ
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)
        lines = _line_map(yaml.compose(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(path, [f"{where}invalid YAML: {problem}"]) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(path, ["the file must be a mapping (key: value) at the top level"])
    problems = []
    missing = {}
    data = _resolve_env(raw, (), environ, missing)
    config = _build(data, missing, problems)
    if problems:
        raise ConfigError(path, [_with_line(p, lines) for p in problems])
    return Config(path=path, stamp=stamp, **config)


def _resolve_env(value, path, environ, missing):
    """Replace `${NAME}` in every string; record unset names by key path (the value becomes None)."""
    if isinstance(value, dict):
        return {k: _resolve_env(v, path + (k,), environ, missing) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_env(v, path + (i,), environ, missing) for i, v in enumerate(value)]
    if isinstance(value, str) and "${" in value:
        unset = [n for n in ENV_REF.findall(value) if n not in environ]
        if unset:
            missing[path] = unset
            return None
        return ENV_REF.sub(lambda m: environ[m.group(1)], value)
    return value


def _build(data, missing, problems):
    root = _validate(ROOT, data, (), problems)
    if root is None:  # keep going, so every problem in the file is reported at once
        root = {k: v if isinstance(v, dict) else None for k, v in data.items()}
    for path, names in missing.items():
        is_provider_key = len(path) == 3 and path[0] == "providers" and path[2] == "api_key"
        if not is_provider_key:
            problems.append((path, f"environment variable {', '.join(names)} is not set"))
    keys = {}
    for name, spec in (root.get("keys") or {}).items():
        if ("keys", name, "secret") in missing:
            continue
        loaded = _validate(KEY, spec, ("keys", name), problems)
        if loaded:
            keys[name] = _client_key(name, loaded)
    providers = {}
    for pid, spec in (root.get("providers") or {}).items():
        loaded = _validate(PROVIDER, spec, ("providers", pid), problems)
        if loaded:
            unset = missing.get(("providers", pid, "api_key"))
            providers[pid] = _provider(pid, loaded, unset)
    declared = set(root.get("providers") or ())  # invalid providers still exist for targets' sake
    aliases, names = _aliases(root.get("models") or {}, declared, problems)
    admin_key = root.get("admin_key") if isinstance(root.get("admin_key"), str) else None
    settings = {k: root[k] for k in ("database", "retention_days") if root.get(k) is not None}
    if not problems:  # only a validated root has well-formed blocks
        settings.update(_resilience(root))
    return dict(admin_key=admin_key, keys=keys, providers=providers, aliases=aliases, names=names, **settings)


def _client_key(name, spec):
    secret = spec.get("secret")
    digest = hashlib.sha256(secret.encode()).digest() if secret else bytes.fromhex(spec["secret_sha256"])
    return ClientKey(name, digest, secret, spec.get("comment"), spec.get("created"))


def _resilience(root):
    out = {}
    if root.get("failover"):
        f = root["failover"]
        out["failover"] = Failover(frozenset(f.get("retry_on", Failover.retry_on)), f.get("max_attempts", 3),
                                   f.get("backoff_ms", 0.0))
    if root.get("cooldown"):
        out["cooldown"] = CooldownPolicy(**root["cooldown"])
    if root.get("logging"):
        out.update({f"log_{k}": v for k, v in root["logging"].items()})
    if (root.get("metrics") or {}).get("token"):
        out["metrics_token"] = root["metrics"]["token"]
    return out


def _provider(pid, spec, unset_key_vars):
    pricing = {
        model: Pricing(**(info or {}).get("pricing", {})) for model, info in (spec.get("models") or {}).items()
    }
    timeouts = spec.get("timeouts") or {}
    reason = None
    if unset_key_vars:
        reason = f"environment variable {', '.join(unset_key_vars)} (its api_key) is not set"
    return Provider(
        id=pid,
        type=spec["type"],
        api_base_url=spec["api_base_url"].rstrip("/"),
        api_key=spec.get("api_key"),
        headers=dict(spec.get("headers") or {}),
        pricing=pricing,
        connect_timeout=timeouts.get("connect", 10.0),
        first_byte_timeout=timeouts.get("first_byte", timeouts.get("read", 600.0)),
        idle_timeout=timeouts.get("idle", timeouts.get("read", 600.0)),
        total_timeout=timeouts.get("total"),
        default_max_tokens=spec.get("default_max_tokens"),
        quirks=_quirks(spec),
        unusable=reason,
    )


QUIRKS = ("max_tokens_field", "max_tokens_cap", "strip_cache_control", "reasoning_field", "extra_body", "think_tags",
          "stream_options")


def _quirks(spec):
    return {k: spec[k] for k in QUIRKS if k in spec}


def _aliases(models, providers, problems):
    """`providers` is the set of declared provider ids."""
    aliases, names = {}, {}
    for name, spec in models.items():
        loaded = _validate(ALIAS, spec, ("models", name), problems)
        if not loaded:
            continue
        for i, t in enumerate(loaded["targets"]):
            if t["provider"] not in providers:
                problems.append((("models", name, "targets", i, "provider"), f"no provider named '{t['provider']}'"))
        alias = Alias(
            name=name,
            selector=loaded["selector"],
            targets=tuple(Target(t["provider"], t["model"], t["weight"], _quirks(t)) for t in loaded["targets"]),
            additional_aliases=tuple(loaded["additional_aliases"]),
        )
        aliases[name] = alias
        for i, other in enumerate((name, *alias.additional_aliases)):
            path = ("models", name) if i == 0 else ("models", name, "additional_aliases", i - 1)
            if other in names:
                problems.append((path, f"the name '{other}' is already used by alias '{names[other].name}'"))
            else:
                names[other] = alias
    return aliases, names


def _validate(schema, data, path, problems):
    if data is None:
        data = {}
    if not isinstance(data, dict):
        problems.append((path, "must be a mapping (key: value)"))
        return None
    try:
        return schema.load(data)
    except ValidationError as e:
        for sub, msg in _flatten(e.messages):
            problems.append((path + sub, msg))
        return None


def _flatten(messages, prefix=()):
    if isinstance(messages, dict):
        for k, v in messages.items():
            # marshmallow reports Dict-field errors under "value"/"key"; that level is noise in a path
            step = () if k in ("value", "key", "_schema") and prefix else (k,) if k != "_schema" else ()
            yield from _flatten(v, prefix + step)
    elif isinstance(messages, list):
        for m in messages:
            if isinstance(m, (dict, list)):
                yield from _flatten(m, prefix)
            else:
                yield prefix, _plain(m)
    else:
        yield prefix, _plain(messages)


def _plain(message):
    return {"Unknown field.": "unknown key", "Missing data for required field.": "required key is missing"}.get(
        message, message.rstrip(".")
    )


def _line_map(node, path=(), out=None):
    out = {} if out is None else out
    if node is None:
        return out
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = k.value
            out[path + (key,)] = k.start_mark.line + 1
            _line_map(v, path + (key,), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _line_map(v, path + (i,), out)
    return out


def _with_line(problem, lines):
    path, message = problem
    dotted = ".".join(str(p) for p in path) or "(top level)"
    for n in range(len(path), -1, -1):
        if path[:n] in lines:
            return f"line {lines[path[:n]]}: {dotted}: {message}"
    return f"{dotted}: {message}"


# ---- hot reload ----------------------------------------------------------------------------------


class ConfigWatcher:
    """Polls the file's stat in a background (green) thread and hands each valid new config to
    `on_change`. An invalid file is logged and ignored: the last good config stays in force."""

    def __init__(self, path, on_change, interval=1.0, stamp=None):
        self.path = path
        self.on_change = on_change
        self.interval = interval
        self._stamp = stamp or file_stamp(path)
        self._stop = threading.Event()

    def check(self):
        """Reload if the file changed since the last look. Returns True when a new config was applied."""
        stamp = file_stamp(self.path)
        if stamp is None or stamp == self._stamp:
            return False
        try:
            config = load_config(self.path)
        except ConfigError as e:
            self._stamp = stamp
            log.error("config change refused, keeping the last good config:\n%s", e)
            return False
        self._stamp = config.stamp
        for w in config.warnings():
            log.warning("%s", w)
        self.on_change(config)
        log.info("config reloaded from %s", self.path)
        return True

    def start(self):
        threading.Thread(target=self._run, name="plexus-config-watcher", daemon=True).start()
        return self

    def stop(self):
        self._stop.set()

    def _run(self):
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:  # the watcher must outlive any surprise
                log.exception("config watcher failed")
