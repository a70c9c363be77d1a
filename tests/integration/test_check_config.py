"""`python -m plexus check-config [FILE]`: start-up's messages and an exit status, for CI pipelines."""

import os
import subprocess
import sys

import pytest

from plexus.config import ConfigError, load_config
from tests.support.configs import config_text
from tests.support.secrets import ENV, PROVIDER_SECRET
from tests.support.gateway_process import ROOT

BROKEN = """\
  broken:
    selector: sometimes
    targets:
      - {provider: nowhere, model: m, colour: red}
"""


def check(*args, env=ENV, drop=()):
    base = {k: v for k, v in os.environ.items() if k not in drop and k not in ENV}
    return subprocess.run([sys.executable, "-m", "plexus", "check-config", *map(str, args)], cwd=ROOT,
                          env={**base, **env}, capture_output=True, text=True, timeout=60)


def test_a_good_config_passes(write_config):
    path = write_config(config_text("http://127.0.0.1:9"))
    done = check(path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{path}: OK (1 providers, 1 aliases, 1 keys)\n" and done.stderr == ""


def test_a_bad_config_fails_with_the_start_up_messages(write_config, monkeypatch):
    path = write_config(config_text("http://127.0.0.1:9", BROKEN))
    done = check(path)
    assert done.returncode == 1 and done.stdout == ""
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ConfigError) as startup:
        load_config(str(path))
    assert done.stderr == f"plexus: the config cannot be used:\n{startup.value}\n"
    assert f"{path}: line 20: models.broken.selector: Must be one of: random, in_order, least_busy, latency, cost" in done.stderr.splitlines()
    assert any("colour: unknown key" in line for line in done.stderr.splitlines())


def test_an_unusable_provider_is_a_warning_not_a_failure(write_config):
    path = write_config(config_text("http://127.0.0.1:9"))
    done = check(path, env={k: v for k, v in ENV.items() if k != "UPSTREAM_KEY"})
    assert done.returncode == 0 and "1 warnings" in done.stdout
    assert done.stderr == f"{path}: warning: provider 'up' is unusable: environment variable UPSTREAM_KEY (its api_key) is not set\n"


def test_the_file_comes_from_config_file_by_default_and_a_missing_one_fails(tmp_path):
    done = check(env={**ENV, "CONFIG_FILE": str(tmp_path / "absent.yaml")})
    assert done.returncode == 1 and "absent.yaml: cannot read the file" in done.stderr


def test_ci_without_the_secrets_can_check_the_shape(write_config):
    path = write_config(config_text("http://127.0.0.1:9"))
    assert check(path, env={}).returncode == 1  # admin_key and the client key need their variables
    done = check(path, "--allow-missing-env", env={})
    assert done.returncode == 0, done.stderr
    assert "warning: environment variable PLEXUS_ADMIN_KEY is not set (checked with a placeholder)" in done.stderr
    assert PROVIDER_SECRET not in done.stdout + done.stderr


def test_an_unknown_command_is_a_usage_error():
    done = subprocess.run([sys.executable, "-m", "plexus", "frobnicate"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 2 and "check-config" in done.stderr
