"""What every editable area (providers, aliases, keys) shares: reading the config file's
round-trip document, finding an entry or answering 404, saving a form's change (conflict-checked,
validated, atomic) with refusals placed next to fields, and the answer after a save or delete.

An area module declares only what differs (`Area(...)`: its section of the file, its name for one
entry, its list page) and its own form. Its views follow one naming scheme, which the shared form
partial (`_crud.html`) relies on: `<list>`, `new_<noun>`, `create_<noun>`, `edit_<noun>`,
`update_<noun>`, `delete_<noun>`."""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Response, abort, url_for
from ruamel.yaml.comments import CommentedMap

from ...config import ConfigError
from ...config import edit as config_edit
from .pages import back_to, config_path, gateway, is_htmx

_PROBLEM = re.compile(r"^(?:line (\d+): )?(.*?): (.*)$")

Errors = dict  # {field: message}; "_form": messages for the whole form; "_conflict": the file moved


class FormError(Exception):
    """What the form's own checks refused: {field: message}; "_form" holds messages for the whole form."""

    def __init__(self, errors):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def refusal_status(errors: Errors) -> int:
    """409 when the file changed under the form (reload and redo), 422 when the change was refused."""
    return 409 if errors.get("_conflict") else 422


@dataclass(frozen=True)
class Area:
    """One editable section of the config file as the dashboard lists and edits it."""

    section: str  # the top-level key in the file: "providers", "models", "keys"
    label: str  # one entry, as messages name it: "Provider"
    list_endpoint: str  # the list page, where a saved change lands: "dashboard.providers"
    list_page: Callable[..., Response]  # renders that page: list_page(status=, notice=, error=, ...)
    fields: dict = field(default_factory=dict)  # validation problem paths -> form fields (see `place`)

    @property
    def noun(self) -> str:
        return self.label.lower()

    @property
    def dom_id(self) -> str:
        """The id of the element every list and form fragment of this area replaces."""
        return self.list_endpoint.rsplit(".", 1)[-1] + "-section"

    def entries(self, doc: Any) -> dict:
        return (doc or {}).get(self.section) or {}

    def find(self, doc: Any, name: str) -> Any:
        """The raw entry `name` from the document, or a 404 page."""
        entries = self.entries(doc)
        if name not in entries:
            abort(404, f"There is no {self.noun} named '{name}'.")
        return entries[name]

    def node_for(self, doc: CommentedMap, name: str, original: str | None) -> CommentedMap:
        """The node a form writes into: a new entry, or `original`'s renamed to `name` in place
        (same position, comments and the settings the form does not show)."""
        entries = config_edit.section(doc, self.section)
        if original is None:
            entries[name] = CommentedMap()
            return entries[name]
        if original not in entries:
            raise FormError({"_form": [f"{self.label} '{original}' is no longer in the file — reload."]})
        if not isinstance(entries[original], dict):
            entries[original] = CommentedMap()
        config_edit.rename_key(entries, original, name)
        return entries[name]

    def try_save(self, version: str, name: str, change: Callable, check: Callable | None = None) -> Errors | None:
        """Run the form's own `check`, then save `change`: None when saved, else the errors, the
        config's own problems placed next to the fields of entry `name`."""
        try:
            if check is not None:
                check()
            save(version, change)
        except FormError as e:
            if "_problems" not in e.errors:
                return e.errors
            return place(e.errors["_problems"], f"{self.section}.{name}.", self.fields)
        return None

    def submit(self, version: str, name: str, original: str | None, change: Callable, check: Callable,
               refused: Callable[[Errors, int], Response]) -> Response:
        """Save an add (`original` None) or edit form: the list with a notice, or `refused(errors, status)`."""
        errors = self.try_save(version, name, change, check)
        if errors is not None:
            return refused(errors, refusal_status(errors))
        return self.answer(f"{self.label} '{name}' {'added' if original is None else 'saved'}.", push_url=True)

    def delete(self, name: str, version: str, verb: str = "deleted") -> Response:
        """Remove entry `name` from the file: the list with a notice, or with why not."""
        try:
            save(version, lambda doc: config_edit.section(doc, self.section).pop(name, None))
        except FormError as e:
            message = " ".join(e.errors.get("_form") or e.errors.get("_problems") or [])
            return self.list_page(status=refusal_status(e.errors), error=message)
        return self.answer(f"{self.label} '{name}' {verb}.")

    def answer(self, message: str, push_url: bool = False) -> Response:
        """After a change: htmx gets the list fragment with `message`; a plain post is redirected."""
        if not is_htmx():
            return back_to(self.list_endpoint, message)
        resp = self.list_page(notice=message)
        if push_url:
            resp.headers["HX-Push-Url"] = url_for(self.list_endpoint)
        return resp


def save(version: str, change: Callable) -> config_edit.Saved:
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


def document() -> tuple[Any, str | None]:
    """(round-trip doc, version) of the config file, or (None, None) when there is no file."""
    path = config_path()
    if path is None:
        return None, None
    snapshot = config_edit.read(path)
    _, doc = config_edit.load_document(snapshot.text, path)
    return doc, snapshot.version


def plain(value: Any) -> Any:
    """A round-trip node as plain Python (dicts, lists, scalars)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str(value)


def place(problems: list[str], prefix: str, fields: dict) -> Errors:
    """Sort validation problems into {field: message} for paths under `prefix` (a dotted path ending
    with "."): `fields` maps the next part of the path to a form field ("" is the entry itself; a
    field of "*" takes the whole rest of the path as its name). The rest go to "_form" as they are."""
    errors = {"_form": []}
    for problem in problems:
        m = _PROBLEM.match(problem)
        path, message = (m.group(2), m.group(3)) if m else ("", problem)
        field_name = None
        if path + "." == prefix:
            field_name = fields.get("")
        elif path.startswith(prefix):
            rest = path[len(prefix):]
            for part, name in fields.items():
                if part and (rest == part or rest.startswith(part + ".")):
                    field_name = rest if name == "*" else name
                    break
        if field_name and field_name not in errors:
            errors[field_name] = message
        else:
            errors["_form"].append(problem)
    return errors
