"""Model aliases: the list (targets, selector, weights), add / edit / delete, and in the form:
add or remove a target and move it up or down (the order is what `in_order` tries first).

The row buttons are ordinary submit buttons of the form: without JavaScript they post the form and
get it back changed (nothing saved yet); with htmx the same happens in place. Only Save writes."""

import re

from flask import request
from ruamel.yaml.comments import CommentedSeq

from ...config import SELECTORS
from ...config.edit import flow_map, flow_seq, set_value
from ... import catalog
from .crud import Area, FormError, document, plain
from .pages import Pages, gateway, render

pages = Pages("aliases")

NAME = re.compile(r"^\S+$")
SELECTOR_LABELS = {"random": "random — weighted by each target's weight", "in_order": "in order — the first that works",
                   "least_busy": "least busy — fewest requests in flight", "latency": "latency — lowest recent time to first byte",
                   "cost": "cost — cheapest for the request"}


def alias_views(doc):
    applied = gateway().config.aliases
    out = []
    for name, spec in ((doc or {}).get("models") or {}).items():
        spec = spec if isinstance(spec, dict) else {}
        targets = [plain(t) for t in spec.get("targets") or [] if isinstance(t, dict)]
        out.append({
            "name": str(name),
            "selector": plain(spec.get("selector")) or "random",
            "targets": targets,
            "total_weight": sum(float(t.get("weight", 1)) for t in targets) or 1.0,
            "additional_aliases": [str(a) for a in spec.get("additional_aliases") or []],
            "loaded": str(name) in applied,
            "affinity": spec.get("affinity", True) is not False,
            "affinity_ttl": plain(spec.get("affinity_ttl")) or 3600,
        })
        with_model_facts(out[-1]["targets"])
    return out


def with_model_facts(targets):
    """Each target with its context window and where its price comes from (config, catalog, none)."""
    config = gateway().config
    for t in targets:
        known = catalog.facts(config, t.get("provider"), t.get("model")) if str(t.get("provider")) in config.providers else None
        t["context_window"] = known.context_window if known else None
        t["price_source"] = known.price_source if known else None


def list_page(status=200, **extra):
    doc, version = document()
    return render("aliases.html", "_aliases.html", status=status, aliases=alias_views(doc), version=version,
                  editable=version is not None, area=AREA, selector_labels=SELECTOR_LABELS, **extra)


AREA = Area("models", "Alias", "dashboard.aliases", list_page,
            {"": "name", "selector": "selector", "additional_aliases": "additional_aliases", "targets": "*"})


@pages.get("/models")
def aliases():
    """Every alias with its selector and targets."""
    return list_page()


# ---- the form ------------------------------------------------------------------------------------


def form_from_spec(name, spec):
    spec = spec if isinstance(spec, dict) else {}
    rows = [{"provider": plain(t.get("provider")) or "", "model": plain(t.get("model")) or "",
             "weight": _weight_text(t.get("weight")), "orig": str(i)}
            for i, t in enumerate(spec.get("targets") or []) if isinstance(t, dict)]
    return {
        "name": name or "",
        "selector": plain(spec.get("selector")) or "random",
        "additional_aliases": ", ".join(str(a) for a in spec.get("additional_aliases") or []),
        "targets": rows or [_blank_target()],
    }


def _weight_text(value):
    return "" if value is None else f"{float(value):g}"


def _blank_target():
    return {"provider": "", "model": "", "weight": "", "orig": ""}


def form_from_request():
    f = request.form
    columns = {k: f.getlist("target_" + k) for k in ("provider", "model", "weight", "orig")}
    rows = [{k: (columns[k][i] if i < len(columns[k]) else "").strip() for k in columns}
            for i in range(len(columns["provider"]))]
    return {
        "name": f.get("name", "").strip(),
        "selector": f.get("selector", "random"),
        "additional_aliases": f.get("additional_aliases", "").strip(),
        "targets": rows,
    }


def rearrange(form, action):
    """Apply a row button (add, remove:i, up:i, down:i) to the form's targets. True if it was one."""
    rows = form["targets"]
    verb, _, index = action.partition(":")
    if verb == "add":
        rows.append(_blank_target())
        return True
    if not index.isdigit() or int(index) >= len(rows):
        return False
    i = int(index)
    if verb == "remove":
        rows.pop(i)
        if not rows:
            rows.append(_blank_target())
    elif verb == "up" and i > 0:
        rows[i - 1], rows[i] = rows[i], rows[i - 1]
    elif verb == "down" and i + 1 < len(rows):
        rows[i + 1], rows[i] = rows[i], rows[i + 1]
    return verb in ("remove", "up", "down")


def form_page(form, original, version, errors=None, status=200):
    providers = sorted(gateway().config.providers)
    doc, _ = document()
    models = {}
    for pid, spec in ((doc or {}).get("providers") or {}).items():
        if str(pid) not in providers:
            providers.append(str(pid))
        models[str(pid)] = [str(m) for m in ((spec or {}).get("models") or {})] if isinstance(spec, dict) else []
    return render("alias_form.html", "_alias_form.html", status=status, form=form, original=original, version=version,
                  errors=errors or {}, selectors=SELECTORS, selector_labels=SELECTOR_LABELS, providers=providers,
                  models=models, area=AREA)


def check(form, original, doc):
    errors = {}
    existing = AREA.entries(doc)
    if not form["name"] or not NAME.match(form["name"]):
        errors["name"] = "Give the name clients will ask for (no spaces)."
    elif form["name"] != original and form["name"] in existing:
        errors["name"] = f"There is already an alias named '{form['name']}'."
    if form["selector"] not in SELECTORS:
        errors["selector"] = "Choose one of the listed selectors."
    targets = [t for t in form["targets"] if t["provider"] or t["model"] or t["weight"]]
    if not targets:
        errors["targets"] = "An alias needs at least one target."
    for i, t in enumerate(form["targets"]):
        if not (t["provider"] or t["model"] or t["weight"]):
            continue
        if not t["provider"]:
            errors[f"targets.{i}.provider"] = "Choose a provider."
        if not t["model"]:
            errors[f"targets.{i}.model"] = "Name the provider's model."
        if t["weight"]:
            try:
                if float(t["weight"]) < 0:
                    raise ValueError
            except ValueError:
                errors[f"targets.{i}.weight"] = "A weight is a number, 0 or more."
    if errors:
        raise FormError(errors)


def other_names(text):
    return [n for n in re.split(r"[,\s]+", text) if n]


def apply_form(doc, form, original):
    node = AREA.node_for(doc, form["name"], original)
    if "selector" in node or form["selector"] != "random":
        set_value(node, "selector", form["selector"])
    old_targets = node.get("targets") if isinstance(node.get("targets"), list) else []
    targets = []
    for t in form["targets"]:
        if not (t["provider"] or t["model"] or t["weight"]):
            continue
        weight = _number(t["weight"]) if t["weight"] else None
        orig = int(t["orig"]) if t["orig"].isdigit() and int(t["orig"]) < len(old_targets) else None
        kept = old_targets[orig] if orig is not None and isinstance(old_targets[orig], dict) else None
        if kept is None:
            targets.append(flow_map(provider=t["provider"], model=t["model"], weight=weight))
        else:  # the same target: its other settings (max_tokens_cap, extra_body) and style stay
            set_value(kept, "provider", t["provider"])
            set_value(kept, "model", t["model"])
            set_value(kept, "weight", weight)
            targets.append(kept)
    if isinstance(node.get("targets"), CommentedSeq):
        seq = node["targets"]
        if list(seq) != targets or any(a is not b for a, b in zip(seq, targets)):
            del seq[:]
            seq.extend(targets)
    else:
        node["targets"] = CommentedSeq(targets)
    names = other_names(form["additional_aliases"])
    current = node.get("additional_aliases")
    if names != [str(n) for n in current or []]:
        set_value(node, "additional_aliases", flow_seq(names) if names else None)


def _number(text):
    value = float(text)
    return int(value) if value.is_integer() else value


def submit(original):
    doc, _ = document()
    if original is not None:
        AREA.find(doc, original)
    form = form_from_request()
    version = request.form.get("version", "")
    action = request.form.get("action", "save")
    if action != "save" and rearrange(form, action):
        return form_page(form, original, version)
    return AREA.submit(version, form["name"], original, lambda d: apply_form(d, form, original),
                       check=lambda: check(form, original, doc),
                       refused=lambda errors, status: form_page(form, original, version, errors, status))


@pages.get("/models/new")
def new_alias():
    """An empty alias form."""
    _, version = document()
    return form_page(form_from_spec(None, {}), None, version)


@pages.post("/models/new")
def create_alias():
    return submit(None)


@pages.get("/models/<name>/edit")
def edit_alias(name):
    """The form for one alias."""
    doc, version = document()
    return form_page(form_from_spec(name, AREA.find(doc, name)), name, version)


@pages.post("/models/<name>/edit")
def update_alias(name):
    return submit(name)


@pages.post("/models/<name>/delete")
def delete_alias(name):
    """Remove an alias (clients asking for it get 404 model_not_found)."""
    AREA.find(document()[0], name)
    return AREA.delete(name, request.form.get("version", ""))
