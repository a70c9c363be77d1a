import subprocess
import sys
import textwrap

import pytest

from plexus.config import ConfigError, ConfigWatcher, load_config, parse_config
from tests.support.configs import config_text
from tests.support.secrets import PROVIDER_SECRET
from tests.support.gateway_process import ROOT

BASE = "http://127.0.0.1:9"


def parse(text, environ=None):
    return parse_config(textwrap.dedent(text), "cfg.yaml", environ if environ is not None else {})


def problems(text, environ=None):
    with pytest.raises(ConfigError) as e:
        parse(text, environ)
    return e.value.problems


def test_example_config_loads_and_reports_keyless_providers():
    cfg = load_config(str(ROOT / "config/plexus.yaml"), environ={"PLEXUS_ADMIN_KEY": "a" * 16, "PLEXUS_KEY_MY_APP": "k" * 12})
    assert set(cfg.providers) >= {"openai", "openrouter", "deepseek", "groq"}
    assert all(p.unusable for p in cfg.providers.values())
    assert "OPENAI_API_KEY" in cfg.providers["openai"].unusable
    assert cfg.names["gpt-4o-mini"].name == "fast"


def test_env_references_are_substituted_anywhere_in_a_string(env):
    cfg = parse(
        """
        keys: {k: {secret: "pre-${PLEXUS_KEY_TEST}"}}
        providers:
          up: {type: chat, api_base_url: "http://${HOST}:8000/v1", api_key: "${UPSTREAM_KEY}"}
        models: {m: {targets: [{provider: up, model: x}]}}
        """,
        {"PLEXUS_KEY_TEST": "secret-123", "HOST": "10.1.2.3", "UPSTREAM_KEY": PROVIDER_SECRET},
    )
    assert cfg.keys["k"].secret == "pre-secret-123"
    assert cfg.providers["up"].api_base_url == "http://10.1.2.3:8000/v1"
    assert cfg.providers["up"].api_key == PROVIDER_SECRET
    assert cfg.providers["up"].unusable is None


def test_missing_variable_names_the_variable_and_key_path():
    found = problems(
        """
        keys:
          app: {secret: "${NOT_SET_ANYWHERE}"}
        """
    )
    assert found == ["line 3: keys.app.secret: environment variable NOT_SET_ANYWHERE is not set"]


def test_missing_provider_key_makes_the_provider_unusable_not_the_config():
    cfg = parse(
        f"""
        providers:
          a: {{type: chat, api_base_url: "{BASE}", api_key: "${{NO_SUCH_KEY}}"}}
        models: {{m: {{targets: [{{provider: a, model: x}}]}}}}
        """
    )
    assert cfg.providers["a"].unusable == "environment variable NO_SUCH_KEY (its api_key) is not set"
    assert cfg.warnings() == ["provider 'a' is unusable: environment variable NO_SUCH_KEY (its api_key) is not set"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("providrs: {}\n", "line 1: providrs: unknown key"),
        (
            f"providers:\n  a: {{type: chat, api_base_url: '{BASE}', api_kee: x}}\n",
            "line 2: providers.a.api_kee: unknown key",
        ),
        (
            f"providers:\n  a: {{type: chatty, api_base_url: '{BASE}'}}\n",
            "line 2: providers.a.type: Must be one of: chat, messages, gemini, responses, vertex, azure",
        ),
        ("providers:\n  a: {type: chat}\n", "line 2: providers.a.api_base_url: required key is missing"),
        (
            f"providers:\n  a: {{type: chat, api_base_url: '{BASE}', timeouts: {{connect: soon}}}}\n",
            "line 2: providers.a.timeouts.connect: Not a valid number",
        ),
        ("models:\n  m:\n    targets: []\n", "line 3: models.m.targets: an alias needs at least one target"),
        ("models:\n  m: {selector: random}\n", "line 2: models.m.targets: required key is missing"),
        (
            "models:\n  m:\n    targets:\n      - {provider: ghost, model: x}\n",
            "line 4: models.m.targets.0.provider: no provider named 'ghost'",
        ),
        ("keys:\n  k: {secret: short}\n", "line 2: keys.k.secret: a key secret needs 8 or more characters"),
        ("- a list\n", "the file must be a mapping (key: value) at the top level"),
    ],
)
def test_invalid_config_is_rejected_with_line_path_and_reason(text, expected):
    assert expected in problems(text)


def test_every_problem_is_reported_at_once():
    found = problems(
        f"""
        providers:
          a: {{type: nope, api_base_url: '{BASE}'}}
        models:
          m: {{targets: [{{provider: a, model: x}}]}}
        bogus: 1
        """
    )
    assert sorted(found) == ['line 3: providers.a.type: Must be one of: chat, messages, gemini, responses, vertex, azure',
                             'line 6: bogus: unknown key']


def test_duplicate_alias_names_are_rejected():
    text = f"""
        providers:
          a: {{type: chat, api_base_url: '{BASE}'}}
        models:
          one: {{targets: [{{provider: a, model: x}}], additional_aliases: [shared]}}
          two: {{targets: [{{provider: a, model: y}}], additional_aliases: [shared]}}
        """
    assert problems(text) == ["line 6: models.two.additional_aliases.0: the name 'shared' is already used by alias 'one'"]


def test_duplicate_yaml_keys_are_rejected():
    text = f"""
        providers:
          a: {{type: chat, api_base_url: '{BASE}'}}
        models:
          one: {{targets: [{{provider: a, model: x}}]}}
          one: {{targets: [{{provider: a, model: y}}]}}
        """
    (found,) = problems(text)
    assert found.startswith("line 6: invalid YAML") and "duplicate key 'one'" in found


def test_invalid_yaml_names_the_line():
    (found,) = problems("models:\n  m: [unclosed\n")
    assert found.startswith("line 3: invalid YAML")


def test_error_message_names_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("nonsense: 1\n")
    with pytest.raises(ConfigError) as e:
        load_config(str(path), environ={})
    assert str(e.value) == f"{path}: line 1: nonsense: unknown key"


def test_unreadable_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_config(str(tmp_path / "missing.yaml"))
    assert "cannot read the file" in str(e.value)


def test_watcher_applies_a_valid_change_and_refuses_an_invalid_one(env, write_config, caplog):
    path = write_config(config_text("http://127.0.0.1:9"))
    applied = []
    watcher = ConfigWatcher(str(path), applied.append)
    assert watcher.check() is False  # nothing changed yet

    path.write_text(config_text("http://127.0.0.1:9", "  second:\n    targets: [{provider: up, model: other}]\n"))
    assert watcher.check() is True
    assert "second" in applied[-1].aliases

    path.write_text("models: [broken\n")
    assert watcher.check() is False
    assert len(applied) == 1
    assert "config change refused" in caplog.text


def test_gunicorn_exits_nonzero_with_one_message_on_a_bad_config(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("providers:\n  a: {type: chat}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "gunicorn", "app:app", "-c", "gunicorn.conf.py", "--bind", "127.0.0.1:0"],
        cwd=ROOT,
        env={"CONFIG_FILE": str(path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode != 0
    assert f"{path}: line 2: providers.a.api_base_url: required key is missing" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_key_may_be_stored_as_its_sha256_only(env):
    import hashlib

    from plexus.core.gateway import Gateway

    digest = hashlib.sha256(b"sk-only-hashed-123").hexdigest()
    cfg = parse(f"keys:\n  hashed: {{secret_sha256: {digest}, created: '2026-11-26T08:00:00Z'}}\n")
    assert cfg.keys["hashed"].secret is None and cfg.keys["hashed"].created == "2026-11-26T08:00:00Z"
    assert Gateway(cfg).authenticate("sk-only-hashed-123").name == "hashed"
    assert "line 2: keys.k.secret: give exactly one of secret or secret_sha256" in problems(
        f"keys:\n  k: {{secret: sk-both-12345, secret_sha256: {digest}}}\n")
    assert "keys.k.secret_sha256: must be 64 lowercase hex digits" in problems("keys:\n  k: {secret_sha256: nothex}\n")[0]
