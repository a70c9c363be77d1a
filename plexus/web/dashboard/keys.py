"""Client keys: who may call /v1, when each was last used and how often; create (the secret is
shown once and only its SHA-256 is written) and revoke (the entry is removed from the file)."""

import hashlib
import re
import secrets
import time
from datetime import datetime, timezone

from flask import request

from .crud import Area, FormError, document, plain, refusal_status
from .pages import Pages, gateway, render, store

pages = Pages("keys")

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
SECRET_PREFIX = "sk-plexus-"


def standings():
    """Each loaded key's policy and standing (as GET /v1/key tells it), by name."""
    gw, now = gateway(), time.time()
    return {name: gw.policy.standing(key, now) for name, key in gw.config.keys.items()}


def key_views(doc):
    activity = store().key_activity()
    policy = standings()
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
            "policy": policy.get(str(name)),
        })
    return out


def list_page(status=200, **extra):
    doc, version = document()
    extra.setdefault("form", {"name": "", "comment": ""})
    extra.setdefault("errors", {})
    return render("keys.html", "_keys.html", status=status, keys=key_views(doc), version=version,
                  editable=version is not None, **extra)


AREA = Area("keys", "Key", "dashboard.keys", list_page, {"": "name", "comment": "comment"})


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
    refused = {}
    if not NAME.match(form["name"]):
        refused["name"] = "Use letters, digits, '.', '_' or '-' (starting with a letter or digit)."
    elif form["name"] in AREA.entries(doc):
        refused["name"] = f"There is already a key named '{form['name']}'."
    secret = new_secret()

    def change(d):
        entry = AREA.node_for(d, form["name"], None)
        entry["secret_sha256"] = hashlib.sha256(secret.encode()).hexdigest()
        entry["created"] = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
        if form["comment"]:
            entry["comment"] = form["comment"]

    def check():
        if refused:
            raise FormError(refused)

    errors = AREA.try_save(request.form.get("version", ""), form["name"], change, check)
    if errors is not None:
        return list_page(status=refusal_status(errors), form=form, errors=errors)
    resp = list_page(created={"name": form["name"], "secret": secret})
    resp.headers["Cache-Control"] = "no-store"  # the one response that holds the secret: never cached
    return resp


@pages.post("/keys/<name>/revoke")
def revoke_key(name):
    """Delete the key from the config: requests with it are refused within a second or so."""
    AREA.find(document()[0], name)
    return AREA.delete(name, request.form.get("version", ""), verb="revoked")
