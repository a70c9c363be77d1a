"""Changing the config file from the dashboard without losing what a person wrote in it.

- Structured edits go through ruamel.yaml's round-trip mode: comments, key order, quoting and flow
  style of everything not touched stay as they were. Values are the file's raw nodes, so `${ENV}`
  references stay references; a resolved secret is never written.
- Every would-be text is checked by `parse_config`, the same schemas and `${ENV}` resolution as
  start-up, before it is written; a refused edit raises `ConfigError` with line numbers.
- Writes are atomic (a temp file in the same folder, then `os.replace`), and the previous text is
  kept as `<file>.bak` (with the file's own mode). Every worker's `ConfigWatcher` picks the new
  file up; the caller applies the returned `Config` to its own worker at once.
- Lost updates are refused: each edit names the version (content hash) of the text it was based
  on; under an exclusive lock on `.<file>.lock`, a file whose version has moved since raises
  `Conflict`. A hand edit changes the hash too, so it is never overwritten silently.
"""

import dataclasses
import fcntl
import hashlib
import io
import os
import re
import tempfile
from contextlib import contextmanager

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.util import load_yaml_guess_indent

from .load import ConfigError, file_stamp, parse_config


class Conflict(Exception):
    """The file changed since the form was rendered."""

    def __init__(self):
        super().__init__("The config file was changed by someone else since you opened this page — reload and redo your change.")


@dataclasses.dataclass(frozen=True)
class Snapshot:
    text: str
    version: str


@dataclasses.dataclass(frozen=True)
class Saved:
    config: object  # the validated Config now in the file
    version: str


def version_of(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def read(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return Snapshot(text, version_of(text))


def validate(text, path, environ=None):
    """The Config `text` would give; raises ConfigError (one problem per line, with line numbers)."""
    return parse_config(text, path, os.environ if environ is None else environ)


# ---- saving --------------------------------------------------------------------------------------


def save_text(path, text, base_version, environ=None):
    """Replace the whole file with `text` (the raw editor). Raises Conflict or ConfigError."""
    with _locked(path):
        current = _current(path, base_version)
        return _commit(path, current, text, environ)


def edit(path, base_version, change, environ=None):
    """Apply `change(doc)` to the round-trip document of the file and save it. `change` may raise
    (e.g. a form error) to abandon the edit. Raises Conflict or ConfigError."""
    with _locked(path):
        current = _current(path, base_version)
        yaml, doc = load_document(current.text, path)
        change(doc)
        return _commit(path, current, dump_document(yaml, doc), environ)


def preview(text, change, path="<config>"):
    """The text `change(doc)` would make of `text`, without saving (for tests and dry runs)."""
    yaml, doc = load_document(text, path)
    change(doc)
    return dump_document(yaml, doc)


def _current(path, base_version):
    current = read(path)
    if base_version != current.version:
        raise Conflict()
    return current


def _commit(path, current, text, environ):
    config = validate(text, path, environ)
    if text != current.text:
        write_atomic(backup_path(path), current.text, mode=_mode_of(path))  # as private as the file it copies
        write_atomic(path, text)
    return Saved(dataclasses.replace(config, stamp=file_stamp(path)), version_of(text))


def backup_path(path):
    return str(path) + ".bak"


def _mode_of(path):
    try:
        return os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        return None


def write_atomic(path, text, mode=None):
    """Write through a temp file in the same folder and os.replace, so a reader (another worker's
    watcher) sees the old file or the new one, never half of one. Keeps the file's mode unless
    `mode` is given; a new file is readable by its owner only."""
    path = str(path)
    folder = os.path.dirname(os.path.abspath(path))
    if mode is None:
        mode = _mode_of(path) or 0o600
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


@contextmanager
def _locked(path):
    """An exclusive lock shared by every worker and process that saves through this module."""
    folder, name = os.path.split(os.path.abspath(path))
    with open(os.path.join(folder, f".{name}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# ---- the round-trip document ---------------------------------------------------------------------


def load_document(text, path="<config>"):
    """(yaml, doc): ruamel's round-trip loader set to write the file back in its own indentation."""
    yaml = YAML()  # round-trip
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap long lines
    seq_indent, offset = 4, 2
    try:
        _, guessed, block_offset = load_yaml_guess_indent(text) if text.strip() else (None, None, None)
        if guessed:
            seq_indent, offset = guessed, block_offset or 0
        doc = yaml.load(text)
    except YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        raise ConfigError(path, [f"{where}invalid YAML: {getattr(e, 'problem', None) or e}"]) from None
    yaml.indent(mapping=_mapping_indent(text), sequence=max(seq_indent, offset + 2), offset=offset)
    if doc is None:
        doc = CommentedMap()
    if not isinstance(doc, CommentedMap):
        raise ConfigError(path, ["the file must be a mapping (key: value) at the top level"])
    return yaml, doc


def _mapping_indent(text):
    m = re.search(r"^[^\s#-][^\n]*:[ \t]*(?:#[^\n]*)?\n(?:[ \t]*(?:#[^\n]*)?\n)*( +)[^\s#-]", text, re.M)
    return len(m.group(1)) if m else 2


def dump_document(yaml, doc):
    out = io.StringIO()
    yaml.dump(doc, out)
    return out.getvalue()


def section(doc, name):
    """The top-level mapping `name` (providers, models, keys), created (at the end) when missing."""
    if not isinstance(doc.get(name), CommentedMap):
        doc[name] = CommentedMap()
    return doc[name]


def set_value(mapping, key, value):
    """Set `key`, keeping the node (and its formatting) when the value is already equal; None deletes."""
    if value is None or value == "" or value == [] or value == {}:
        mapping.pop(key, None)
    elif key not in mapping or not _equal(mapping[key], value):
        mapping[key] = value


def _equal(a, b):
    return a == b and isinstance(a, bool) == isinstance(b, bool)


def flow_map(**items):
    """A small mapping written on one line, `{a: 1, b: 2}`, as the example config writes targets and prices."""
    m = CommentedMap((k, v) for k, v in items.items() if v is not None)
    m.fa.set_flow_style()
    return m


def flow_seq(items):
    s = CommentedSeq(items)
    s.fa.set_flow_style()
    return s


def rename_key(mapping, old, new):
    """Rename a key in place (same position, same value and comments)."""
    if old == new:
        return
    items = list(mapping.items())
    position = [k for k, _ in items].index(old)
    value = mapping[old]
    del mapping[old]
    mapping.insert(position, new, value)


# ---- showing values without revealing secrets ----------------------------------------------------

_ONLY_REF = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$")


def is_reference(value):
    return isinstance(value, str) and bool(_ONLY_REF.match(value.strip()))


def mask(value):
    """A key as the page may show it: an `${ENV}` reference as written (it names, not holds, the
    secret); a literal as its first three and last four characters, or dots when it is short."""
    if value is None or value == "":
        return None
    value = str(value)
    if is_reference(value):
        return value.strip()
    if "${" in value or len(value) < 16:  # a literal mixed with a reference, or too short to show a part
        return "••••••••"
    return f"{value[:3]}…{value[-4:]}"
