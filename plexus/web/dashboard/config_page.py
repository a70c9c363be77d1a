"""The raw config file in a text area: checked with the start-up schemas before it is saved, the
problems listed with their line numbers.

Literal secrets in the file (an `admin_key`, a key's `secret`, a provider's `api_key` or header
written out rather than as `${ENV}`) are not sent to the browser: the editor shows a placeholder
in their place, and saving puts the file's value back wherever the placeholder still stands."""

from flask import request

from ...config import edit as config_edit
from ...config import ConfigError
from .pages import Pages, config_path, gateway, render

pages = Pages("config")

PLACEHOLDER = "PLEXUS-HIDDEN-SECRET-{}"


def literal_secrets(text):
    """The literal secret values written in `text` (longest first, so one inside another is safe)."""
    try:
        _, doc = config_edit.load_document(text)
    except ConfigError:
        return []
    found = []
    if isinstance(doc.get("admin_key"), str):
        found.append(doc["admin_key"])
    for spec in (doc.get("keys") or {}).values():
        if isinstance(spec, dict) and isinstance(spec.get("secret"), str):
            found.append(spec["secret"])
    for spec in (doc.get("providers") or {}).values():
        if isinstance(spec, dict):
            if isinstance(spec.get("api_key"), str):
                found.append(spec["api_key"])
            found += [v for v in (spec.get("headers") or {}).values() if isinstance(v, str)] if isinstance(spec.get("headers"), dict) else []
    values = {str(v) for v in found if not config_edit.is_reference(v) and "${" not in str(v) and len(str(v)) >= 6}
    return sorted(values, key=lambda v: (-len(v), v))


def conceal(text):
    for i, secret in enumerate(literal_secrets(text), 1):
        text = text.replace(secret, PLACEHOLDER.format(i))
    return text


def reveal(text, original):
    """Put back the secrets `conceal(original)` hid."""
    for i, secret in enumerate(literal_secrets(original), 1):
        text = text.replace(PLACEHOLDER.format(i), secret)
    return text


def page(text=None, version=None, errors=None, status=200, **extra):
    path = config_path()
    if path is not None and text is None:
        snapshot = config_edit.read(path)
        text, version = conceal(snapshot.text), snapshot.version
    return render("config.html", "_config.html", status=status, path=path, text=text or "", version=version,
                  errors=errors or [], backup=config_edit.backup_path(path) if path else None,
                  loaded_at=gateway().config_loaded_at, **extra)


@pages.get("/config")
def config_file():
    """The file as it is on disk (literal secrets hidden)."""
    return page()


@pages.post("/config")
def save_config():
    """Check, or check and save, the edited text."""
    path = config_path()
    if path is None:
        return page(status=409)
    shown = request.form.get("text", "").replace("\r\n", "\n")
    version = request.form.get("version", "")
    try:
        current = config_edit.read(path)
        text = reveal(shown, current.text)
        if request.form.get("action") == "check":
            config_edit.validate(text, path)
            return page(shown, version, checked=True)
        saved = config_edit.save_text(path, text, version)
    except config_edit.Conflict as e:
        return page(shown, version, [str(e)], status=409, conflict=True)
    except ConfigError as e:
        return page(shown, version, e.problems, status=422)
    gateway().apply(saved.config)
    return page(notice="Saved. Every worker applies it within a second or so.")
