"""The end-to-end gateway factory: a config (a dict, written as YAML, or YAML text) in a folder of
its own, and the real gateway under gunicorn on it (`GatewayProcess`, not yet started: use it with
`with`, which also checks its log for secrets when the block ends cleanly).

`shared_config` is the one config the session-wide gateway runs (tests/e2e/conftest.py): the union
of the providers, aliases and keys that the end-to-end modules without special needs use."""

from pathlib import Path

import yaml

from tests.support.gateway_process import GatewayProcess
from tests.support.secrets import ENV, OTHER_SECRET


def gateway_for(config, folder, env=None, workers=1, drop_env=()):
    """A gateway on `config` (dict or YAML text) written to `folder`/plexus.yaml, with the test
    secrets in its environment and its own database in `folder` unless `env` names another."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "plexus.yaml"
    path.write_text(config if isinstance(config, str) else yaml.safe_dump(config, sort_keys=False))
    env = {**ENV, "DATABASE_URL": str(folder / "plexus.db"), **(env or {})}
    return GatewayProcess(path, env=env, workers=workers, log_path=folder / "gateway.log", drop_env=drop_env)


def provider(kind, url, **extra):
    return {"type": kind, "api_base_url": url, "api_key": "${UPSTREAM_KEY}", **extra}


def alias(provider_id, model, **extra):
    return {"targets": [{"provider": provider_id, "model": model}], **extra}


def shared_config(fake_url):
    """Chat provider `up` behind `fast`/`fast-too` (as tests.support.configs.config_text), and one
    provider per type (oa chat, an messages, rs responses, gm gemini) behind `to-<type>`."""
    return {
        "admin_key": "${PLEXUS_ADMIN_KEY}",
        "keys": {"test": {"secret": "${PLEXUS_KEY_TEST}"}, "other": {"secret": OTHER_SECRET}},
        "providers": {
            "up": provider("chat", f"{fake_url}/v1", timeouts={"connect": 2, "read": 5},
                           headers={"x-upstream-token": "${UPSTREAM_HEADER_TOKEN}"},
                           models={"up-model": {"pricing": {"input": 1.0, "output": 2.0, "cached_input": 0.5}}}),
            "oa": provider("chat", f"{fake_url}/v1"),
            "an": provider("messages", f"{fake_url}/v1"),
            "rs": provider("responses", f"{fake_url}/v1"),
            "gm": provider("gemini", f"{fake_url}/v1beta"),
        },
        "models": {
            "fast": alias("up", "up-model", additional_aliases=["fast-too"]),
            "to-chat": alias("oa", "up-chat"),
            "to-messages": alias("an", "up-claude"),
            "to-responses": alias("rs", "up-gpt"),
            "to-gemini": alias("gm", "gemini-2.5-flash"),
            # issue 19: a model without output_config.format (structured output as a forced tool)
            "to-messages-tool": {"targets": [{"provider": "an", "model": "up-claude-4", "structured_output": "tool"}]},
        },
    }


SHARED_ALIASES = ["fast", "fast-too", "to-chat", "to-messages", "to-responses", "to-gemini", "to-messages-tool"]
