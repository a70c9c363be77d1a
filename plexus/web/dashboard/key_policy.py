"""A client key's policy on the Keys page (issue 14): the form that edits its allowed_models,
limits, budget and expires_at, saved like every other area (crud.Area: conflict-checked,
validated, atomic, comments kept). What the list shows of each key's standing is in keys.py."""

from datetime import datetime, timezone

from flask import request

from ...config.edit import flow_map, flow_seq, set_value
from ...config.schema import BUDGET_PERIODS
from .crud import Area, FormError, document, plain
from .keys import list_page
from .pages import Pages, gateway, render

pages = Pages("keys")

LIMITS = ("rpm", "tpm", "concurrent")
# validation problems under keys.<name>.<part> go next to these fields ("*": the path itself, e.g. limits.rpm)
AREA = Area("keys", "Key", "dashboard.keys", list_page,
            {"allowed_models": "allowed_models", "limits": "*", "budget": "*", "expires_at": "expires_at"})


def form_from_spec(spec):
    spec = spec if isinstance(spec, dict) else {}
    limits = spec.get("limits") if isinstance(spec.get("limits"), dict) else {}
    budget = spec.get("budget") if isinstance(spec.get("budget"), dict) else {}
    expires = spec.get("expires_at")
    if isinstance(expires, datetime):
        expires = (expires if expires.tzinfo else expires.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
        expires = expires.isoformat(timespec="seconds").replace("+00:00", "Z")
    form = {f"limits.{k}": _text(limits.get(k)) for k in LIMITS}
    return {**form, "allowed_models": ", ".join(str(m) for m in spec.get("allowed_models") or []),
            "budget.usd": _text(budget.get("usd")), "budget.period": plain(budget.get("period")) or "month",
            "expires_at": _text(expires)}


def _text(value):
    return "" if value is None else str(plain(value))


def form_from_request():
    fields = ("allowed_models", "budget.usd", "budget.period", "expires_at", *(f"limits.{k}" for k in LIMITS))
    return {k: request.form.get(k, "").strip() for k in fields}


def check(form):
    errors = {}
    for k in LIMITS:
        text = form[f"limits.{k}"]
        if text and not (text.isdigit() and int(text) >= 1):
            errors[f"limits.{k}"] = "A whole number, 1 or more (empty: no limit)."
    if form["budget.usd"]:
        try:
            if float(form["budget.usd"]) < 0:
                raise ValueError
        except ValueError:
            errors["budget.usd"] = "An amount in USD, 0 or more (empty: no budget)."
    if form["budget.period"] not in BUDGET_PERIODS:
        errors["budget.period"] = "Choose one of the listed periods."
    if errors:
        raise FormError(errors)


def apply_form(doc, name, form):
    node = AREA.node_for(doc, name, name)
    models = [m for m in form["allowed_models"].replace(",", " ").split() if m]
    if models != [str(m) for m in node.get("allowed_models") or []]:
        set_value(node, "allowed_models", flow_seq(models) if models else None)
    limits = {k: int(form[f"limits.{k}"]) for k in LIMITS if form[f"limits.{k}"]}
    if limits != plain(node.get("limits") or {}):
        set_value(node, "limits", flow_map(**limits) if limits else None)
    budget = {"usd": _number(form["budget.usd"]), "period": form["budget.period"]} if form["budget.usd"] else {}
    if budget != plain(node.get("budget") or {}):
        set_value(node, "budget", flow_map(**budget) if budget else None)
    if form["expires_at"] != form_from_spec(node)["expires_at"]:
        set_value(node, "expires_at", form["expires_at"] or None)


def _number(text):
    value = float(text)
    return int(value) if value.is_integer() else value


def form_page(name, form, version, errors=None, status=200):
    return render("key_policy_form.html", "_key_policy_form.html", status=status, original=name, form=form,
                  version=version, errors=errors or {}, area=AREA, periods=BUDGET_PERIODS,
                  aliases=sorted(gateway().config.names))


@pages.get("/keys/<name>/edit")
def edit_key(name):
    """The form for one key's policy."""
    doc, version = document()
    return form_page(name, form_from_spec(AREA.find(doc, name)), version)


@pages.post("/keys/<name>/edit")
def update_key(name):
    AREA.find(document()[0], name)
    form, version = form_from_request(), request.form.get("version", "")
    return AREA.submit(version, name, name, lambda d: apply_form(d, name, form), check=lambda: check(form),
                       refused=lambda errors, status: form_page(name, form, version, errors, status))
