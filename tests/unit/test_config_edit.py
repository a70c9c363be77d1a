"""plexus.config.edit: round-trip edits keep comments, order and ${ENV} references; saves are
validated, atomic, backed up, and refused when the file moved since it was read."""

import os
import textwrap
import threading

import pytest

from plexus.config import edit as config_edit
from plexus.config import ConfigError
from plexus.config.edit import Conflict, flow_map

TEXT = textwrap.dedent("""\
    # top comment
    admin_key: ${PLEXUS_ADMIN_KEY}      # the dashboard's

    providers:
      up:
        type: chat                     # the API it speaks
        api_base_url: http://127.0.0.1:9/v1
        api_key: ${UPSTREAM_KEY}
        models:
          up-model: {pricing: {input: 1.0, output: 2.0}}

    models:
      fast:
        targets:
          - {provider: up, model: up-model}
        additional_aliases: [fast-too]
      slow:                            # kept in place
        targets:
          - {provider: up, model: up-model, weight: 2}
""")


@pytest.fixture
def path(tmp_path, env):
    p = tmp_path / "plexus.yaml"
    p.write_text(TEXT)
    os.chmod(p, 0o640)
    return p


def add_target(doc):
    doc["models"]["fast"]["targets"].append(flow_map(provider="up", model="other", weight=3))


def test_structured_edit_keeps_comments_order_and_references(path):
    before = config_edit.read(path)
    saved = config_edit.edit(path, before.version, add_target)
    text = path.read_text()
    assert text == TEXT.replace(
        "      - {provider: up, model: up-model}\n",
        "      - {provider: up, model: up-model}\n      - {provider: up, model: other, weight: 3}\n",
    )
    assert "${UPSTREAM_KEY}" in text and "sk-upstream" not in text
    assert saved.version == config_edit.version_of(text)
    assert [t.model for t in saved.config.aliases["fast"].targets] == ["up-model", "other"]
    assert saved.config.stamp is not None


def test_backup_and_mode(path):
    version = config_edit.read(path).version
    config_edit.edit(path, version, add_target)
    assert (path.parent / "plexus.yaml.bak").read_text() == TEXT
    assert os.stat(path).st_mode & 0o777 == 0o640
    assert not [f for f in os.listdir(path.parent) if f.endswith(".tmp")]


def test_stale_version_is_a_conflict_and_writes_nothing(path):
    version = config_edit.read(path).version
    path.write_text(TEXT.replace("# top comment", "# edited by hand"))
    with pytest.raises(Conflict, match="changed by someone else"):
        config_edit.edit(path, version, add_target)
    with pytest.raises(Conflict):
        config_edit.save_text(path, TEXT, version)
    assert "# edited by hand" in path.read_text()
    assert not (path.parent / "plexus.yaml.bak").exists()


def test_two_saves_from_one_version_one_wins(path):
    version = config_edit.read(path).version
    results = []

    def save(model):
        def change(doc):
            doc["models"]["fast"]["targets"][0]["model"] = model

        try:
            config_edit.edit(path, version, change)
            results.append("saved")
        except Conflict:
            results.append("conflict")

    threads = [threading.Thread(target=save, args=(f"m{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["conflict"] * 3 + ["saved"]


def test_invalid_text_is_refused_with_its_line(path):
    version = config_edit.read(path).version
    bad = TEXT.replace("type: chat ", "type: chatty")
    with pytest.raises(ConfigError) as e:
        config_edit.save_text(path, bad, version)
    assert any(p.startswith("line 6: providers.up.type") for p in e.value.problems), e.value.problems
    assert path.read_text() == TEXT


def test_invalid_structured_edit_is_refused(path):
    version = config_edit.read(path).version

    def break_it(doc):
        doc["models"]["fast"]["targets"][0]["provider"] = "nowhere"

    with pytest.raises(ConfigError) as e:
        config_edit.edit(path, version, break_it)
    assert any("line 15: models.fast.targets.0.provider: no provider named 'nowhere'" in p for p in e.value.problems)
    assert path.read_text() == TEXT


def test_unset_variable_is_an_error_except_for_a_provider_key(path, monkeypatch):
    monkeypatch.delenv("PLEXUS_ADMIN_KEY")
    with pytest.raises(ConfigError, match="PLEXUS_ADMIN_KEY"):
        config_edit.validate(TEXT, str(path))


@pytest.mark.parametrize(
    "text",
    ["a:\n  b:\n  - x\n", "a:\n    b:\n        - x\n", "a:\n  b:\n    - x\n"],
)
def test_indentation_is_kept(text):
    assert config_edit.preview(text, lambda doc: doc["a"]["b"].append("y")) == text + text.splitlines()[-1].replace("x", "y") + "\n"


def test_empty_file_becomes_a_mapping():
    out = config_edit.preview("", lambda doc: config_edit.section(doc, "keys").update(k={"secret_sha256": "0" * 64}))
    assert out.startswith("keys:")


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("${OPENAI_API_KEY}", "${OPENAI_API_KEY}"),
        ("sk-upstream-test-PROVIDERSECRET-0001", "sk-…0001"),
        ("short-key", "••••••••"),
        ("sk-${A}-literal-part-long", "••••••••"),
        (None, None),
    ],
)
def test_mask(value, shown):
    assert config_edit.mask(value) == shown
