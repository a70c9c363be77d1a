"""Loading the YAML config: `${ENV}` references, validation with the schemas, and the frozen
`Config` built from the result.

Loading never raises anything but `ConfigError`, whose message names the file, the line, the key
path and what is wrong."""

import hashlib
import os
import re
from collections.abc import Mapping

import yaml
from marshmallow import ValidationError

from .model_names import model_name_problem
from .schema import ALIAS, KEY, PROVIDER, ROOT
from .vertex import vertex_base_url
from .types import (Alias, Budget, ClientKey, Config, CooldownPolicy, Failover, KeyLimits, KeyPolicy, Limits, Pricing,
                    Provider, Target, networks)

DEFAULT_PATH = "config/plexus.yaml"
ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ConfigError(Exception):
    """The config cannot be used. `problems` are one line each: `line N: key.path: what is wrong`."""

    def __init__(self, path, problems):
        self.path = path
        self.problems = problems
        super().__init__("\n".join(f"{path}: {p}" for p in problems))


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


def config_path(path: str | None = None) -> str:
    return path or os.environ.get("CONFIG_FILE") or DEFAULT_PATH


def load_config(path: str | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read, resolve and validate the config file. Raises ConfigError."""
    path = config_path(path)
    stamp = file_stamp(path)  # taken before reading, so a write during the read is seen as a change
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ConfigError(path, [f"cannot read the file: {e.strerror}"]) from None
    return parse_config(text, path, os.environ if environ is None else environ, stamp)


def file_stamp(path: str) -> tuple | None:
    try:
        st = os.stat(path)
        return (st.st_mtime_ns, st.st_size, st.st_ino)
    except OSError:
        return None


def parse_config(text: str, path: str = "<config>", environ: Mapping[str, str] | None = None,
                 stamp: tuple | None = None) -> Config:
    environ = os.environ if environ is None else environ
    try:
        raw, lines = _load_yaml(text)
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


MAX_EXPANDED_NODES = 100_000  # a real config is a few thousand; a 368-byte alias bomb is billions


class _TooLarge(yaml.YAMLError):
    def __init__(self, problem):
        self.problem = problem
        super().__init__(problem)


def _load_yaml(text):
    """(data, key path -> line) from one composition of `text`. Aliases are counted as the copies
    they stand for before anything expands them: past MAX_EXPANDED_NODES the file is refused."""
    loader = _UniqueKeyLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        if expanded_size(node) > MAX_EXPANDED_NODES:
            raise _TooLarge(f"the file expands to more than {MAX_EXPANDED_NODES} values "
                            "(YAML aliases repeating anchors): refused")
        return loader.construct_document(node), _line_map(node)
    finally:
        loader.dispose()


def expanded_size(root) -> int:
    """How many nodes the document has once every alias is replaced by a copy of its anchor
    (counted without copying: each shared node once, times its uses); a recursive alias counts as
    too many."""
    sizes = {}

    def size(node):
        key = id(node)
        if key in sizes:
            if sizes[key] is None:  # still being counted: the node contains itself
                return MAX_EXPANDED_NODES + 1
            return sizes[key]
        sizes[key] = None
        if isinstance(node, yaml.MappingNode):
            total = 1 + sum(size(k) + size(v) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            total = 1 + sum(size(v) for v in node.value)
        else:
            total = 1
        sizes[key] = total = min(total, MAX_EXPANDED_NODES + 1)
        return total

    return size(root)


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
        is_provider_key = path[:1] == ("providers",) and path[2:] in (("api_key",), ("vertex", "credentials"))
        if not is_provider_key:
            problems.append((path, f"environment variable {', '.join(names)} is not set"))
    key_specs = {}
    for name, spec in (root.get("keys") or {}).items():
        if ("keys", name, "secret") in missing:
            continue
        loaded = _validate(KEY, spec, ("keys", name), problems)
        if loaded:
            key_specs[name] = loaded
    providers = {}
    for pid, spec in (root.get("providers") or {}).items():
        loaded = _validate(PROVIDER, spec, ("providers", pid), problems)
        if loaded:
            unset, what = missing.get(("providers", pid, "api_key")), "api_key"
            if not unset:
                unset, what = missing.get(("providers", pid, "vertex", "credentials")), "vertex.credentials"
            providers[pid] = _provider(pid, loaded, unset, what)
    declared = set(root.get("providers") or ())  # invalid providers still exist for targets' sake
    aliases, names = _aliases(root.get("models") or {}, declared, problems)
    _check_model_names(providers, aliases, problems)
    keys = {name: _client_key(name, spec, _key_policy(name, spec, names, problems)) for name, spec in key_specs.items()}
    admin_key = root.get("admin_key") if isinstance(root.get("admin_key"), str) else None
    settings = {k: root[k] for k in ("database", "retention_days", "responses_retention_days") if root.get(k) is not None}
    if not problems:  # only a validated root has well-formed blocks
        settings.update(_resilience(root))
    return dict(admin_key=admin_key, keys=keys, providers=providers, aliases=aliases, names=names, **settings)


def _client_key(name, spec, policy):
    secret = spec.get("secret")
    digest = hashlib.sha256(secret.encode()).digest() if secret else bytes.fromhex(spec["secret_sha256"])
    return ClientKey(name, digest, secret, spec.get("comment"), spec.get("created"), policy)


def _key_policy(name, spec, names, problems):
    """The key's KeyPolicy, or None when it sets none (such a key pays nothing for policy)."""
    allowed_models, allowed = spec.get("allowed_models"), None
    if allowed_models is not None:
        allowed = set()
        for i, model in enumerate(allowed_models):
            if model not in names:
                problems.append((("keys", name, "allowed_models", i), f"no alias named '{model}'"))
                continue
            alias = names[model]
            allowed.update((alias.name, *alias.additional_aliases))
        allowed_models, allowed = tuple(allowed_models), frozenset(allowed)
    limits = {k: v for k, v in (spec.get("limits") or {}).items() if v is not None}
    budget = spec.get("budget")
    expires_at = spec.get("expires_at")
    policy = KeyPolicy(allowed_models, allowed, KeyLimits(**limits) if limits else None,
                       Budget(budget["usd"], budget["period"]) if budget else None,
                       expires_at.timestamp() if expires_at else None)
    return policy if policy != KeyPolicy() else None


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
    if root.get("trusted_proxies"):
        out["trusted_proxies"] = networks(root["trusted_proxies"])
    if root.get("limits"):
        out["limits"] = Limits(**root["limits"])
    return out


def _provider(pid, spec, unset_key_vars, what="api_key"):
    pricing = {
        model: Pricing(**(info or {}).get("pricing", {})) for model, info in (spec.get("models") or {}).items()
    }
    timeouts = spec.get("timeouts") or {}
    reason = None
    if unset_key_vars:
        reason = f"environment variable {', '.join(unset_key_vars)} (its {what}) is not set"
    return Provider(
        id=pid,
        type=spec["type"],
        api_base_url=(spec.get("api_base_url") or vertex_base_url(spec.get("vertex") or {})).rstrip("/"),
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
        unsupported_tools=spec.get("unsupported_tools", "drop"),
        embeddings=dict(spec.get("embeddings") or {}),
        vertex=dict(spec.get("vertex") or {}),
        azure=dict(spec.get("azure") or {}),
        context_windows={model: info["context_window"] for model, info in (spec.get("models") or {}).items()
                         if (info or {}).get("context_window")},
        catalog_provider=spec.get("catalog_provider"),
        empty_failover=spec.get("empty_failover", True),
    )


QUIRKS = ("max_tokens_field", "max_tokens_cap", "strip_cache_control", "reasoning_field", "extra_body", "think_tags",
          "stream_options", "structured_output", "strip_fields", "tool_choice_named", "flatten_content",
          "tool_schema_strip")


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
            kind=loaded["kind"],
            affinity=loaded["affinity"],
            affinity_ttl=loaded["affinity_ttl"],
        )
        aliases[name] = alias
        for i, other in enumerate((name, *alias.additional_aliases)):
            path = ("models", name) if i == 0 else ("models", name, "additional_aliases", i - 1)
            if other in names:
                problems.append((path, f"the name '{other}' is already used by alias '{names[other].name}'"))
            else:
                names[other] = alias
    return aliases, names


def _check_model_names(providers, aliases, problems):
    """Model names a provider puts in its URLs must be safe there (config/model_names.py)."""
    for pid, provider in providers.items():
        for model in provider.pricing:
            problem = model_name_problem(provider.type, model)
            if problem:
                problems.append((("providers", pid, "models", model), problem))
    for name, alias in aliases.items():
        for i, target in enumerate(alias.targets):
            provider = providers.get(target.provider)
            problem = provider and model_name_problem(provider.type, target.model)
            if problem:
                problems.append((("models", name, "targets", i, "model"), problem))


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
