"""Saving a form's change to the config file, and turning refusals into messages next to fields."""

import re

from ..config import edit as config_edit
from ..config import ConfigError
from .core import config_path, gateway

_PROBLEM = re.compile(r"^(?:line (\d+): )?(.*?): (.*)$")


class FormError(Exception):
    """What the form's own checks refused: {field: message}; "_form" holds messages for the whole form."""

    def __init__(self, errors):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def save(version, change):
    """Apply `change(doc)` to the file (conflict-checked, validated, atomic) and to this worker at
    once; the other workers follow through their watchers. Raises FormError."""
    path = config_path()
    if path is None:
        raise FormError({"_form": ["This gateway was started without a config file, so it cannot be edited here."]})
    try:
        saved = config_edit.edit(path, version, change)
    except config_edit.Conflict as e:
        raise FormError({"_form": [str(e)], "_conflict": True}) from None
    except ConfigError as e:
        raise FormError({"_problems": e.problems}) from None
    except OSError as e:
        raise FormError({"_form": [f"Could not write {path}: {e.strerror}"]}) from None
    gateway().apply(saved.config)
    return saved


def document():
    """(round-trip doc, version) of the config file, or (None, None) when there is no file."""
    path = config_path()
    if path is None:
        return None, None
    snapshot = config_edit.read(path)
    _, doc = config_edit.load_document(snapshot.text, path)
    return doc, snapshot.version


def place(problems, prefix, fields):
    """Sort validation problems into {field: message} for paths under `prefix` (a dotted path ending
    with "."): `fields` maps the next part of the path to a form field ("" is the entry itself; a
    field of "*" takes the whole rest of the path as its name). The rest go to "_form" as they are."""
    errors = {"_form": []}
    for problem in problems:
        m = _PROBLEM.match(problem)
        path, message = (m.group(2), m.group(3)) if m else ("", problem)
        field = None
        if path + "." == prefix:
            field = fields.get("")
        elif path.startswith(prefix):
            rest = path[len(prefix):]
            for part, name in fields.items():
                if part and (rest == part or rest.startswith(part + ".")):
                    field = rest if name == "*" else name
                    break
        if field and field not in errors:
            errors[field] = message
        else:
            errors["_form"].append(problem)
    return errors
