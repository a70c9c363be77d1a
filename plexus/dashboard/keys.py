"""Client keys: who may call /v1, when each was last used and how often; create (the secret is
shown once and only its SHA-256 is written) and revoke (the entry is removed from the file)."""

import hashlib
import re
import secrets
from datetime import datetime, timezone

from flask import abort, request
from ruamel.yaml.comments import CommentedMap

from .core import Pages, back_to, is_htmx, render, store
from .forms import FormError, document, place, save
from .providers import plain

pages = Pages("keys")

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
SECRET_PREFIX = "sk-plexus-"


def key_views(doc):
    activity = store().key_activity()
    out = []
    for name, spec in ((doc or {}).get("keys") or {}).items():
        spec = spec if isinstance(spec, dict) else {}
        requests_, last = activity.get(str(name), (0, None))
        out.append({
            "name": str(name),
            "comment": plain(spec.get("comment")),
            "created": plain(spec.get("created")),
            "stored_as": "hash" if "secret_sha256" in spec else "reference" if "${" in str(spec.get("secret", "")) else "literal",
            "requests": requests_,
            "last_used": last,
        })
    return out


def list_page(status=200, **extra):
    doc, version = document()
    extra.setdefault("form", {"name": "", "comment": ""})
    extra.setdefault("errors", {})
    resp = render("keys.html", "_keys.html", status=status, keys=key_views(doc), version=version,
                  editable=version is not None, **extra)
    return resp


@pages.get("/keys")
def keys():
    """Every client key with its use, and the form to make one."""
    return list_page()


def new_secret():
    return SECRET_PREFIX + secrets.token_urlsafe(32)


@pages.post("/keys")
def create_key():
    """Make a key: the secret is shown in this response only; the file gets its SHA-256."""
    form = {"name": request.form.get("name", "").strip(), "comment": request.form.get("comment", "").strip()}
    doc, _ = document()
    errors = {}
    if not NAME.match(form["name"]):
        errors["name"] = "Use letters, digits, '.', '_' or '-' (starting with a letter or digit)."
    elif form["name"] in ((doc or {}).get("keys") or {}):
        errors["name"] = f"There is already a key named '{form['name']}'."
    secret = new_secret()

    def change(d):
        entry = CommentedMap()
        entry["secret_sha256"] = hashlib.sha256(secret.encode()).hexdigest()
        entry["created"] = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
        if form["comment"]:
            entry["comment"] = form["comment"]
        keys = d.get("keys")
        if not isinstance(keys, dict):
            d["keys"] = keys = CommentedMap()
        keys[form["name"]] = entry

    try:
        if errors:
            raise FormError(errors)
        save(request.form.get("version", ""), change)
    except FormError as e:
        errors = e.errors
        if "_problems" in errors:
            errors = place(errors["_problems"], f"keys.{form['name']}.", {"": "name", "comment": "comment"})
        return list_page(status=409 if errors.get("_conflict") else 422, form=form, errors=errors)
    resp = list_page(created={"name": form["name"], "secret": secret})
    resp.headers["Cache-Control"] = "no-store"  # the one response that holds the secret: never cached
    return resp


@pages.post("/keys/<name>/revoke")
def revoke_key(name):
    """Delete the key from the config: requests with it are refused within a second or so."""
    doc, _ = document()
    if name not in ((doc or {}).get("keys") or {}):
        abort(404, f"There is no key named '{name}'.")
    try:
        save(request.form.get("version", ""), lambda d: d["keys"].pop(name, None))
    except FormError as e:
        return list_page(status=409 if e.errors.get("_conflict") else 422,
                         error=" ".join(e.errors.get("_form") or e.errors.get("_problems") or []))
    if is_htmx():
        return list_page(notice=f"Key '{name}' revoked.")
    return back_to("dashboard.keys", f"Key '{name}' revoked.")
