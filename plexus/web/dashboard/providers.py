"""Providers: the list (keys masked), add / edit / delete, and a one-token test request.

A key is never sent to the browser: an `${ENV}` reference is shown as written (it names the
secret, it is not the secret), a literal only as `sk-…abcd`. An edit form leaves a literal key
field empty; submitting it empty keeps the key."""

import dataclasses
import re
import time

import orjson
from flask import g, request
from ruamel.yaml.comments import CommentedMap

from ... import catalog
from ...config import PROVIDER_TYPES
from ...config.edit import flow_map, is_reference, mask, set_value
from ...config.model_names import model_name_problem
from ...config.types import Target
from ...core import pipeline
from ...core.call import CREATE, Call
from ...wire.error_body import parse_error_body
from ...wire.registry import CLIENT_STYLES
from .crud import Area, FormError, document, plain
from .pages import Pages, gateway, is_htmx, render

pages = Pages("providers")

TYPE_LABELS = {
    "chat": "OpenAI Chat Completions (and compatible)",
    "messages": "Anthropic Messages",
    "gemini": "Google Gemini",
    "responses": "OpenAI Responses",
    "vertex": "Google Vertex AI (Gemini and Claude; set its vertex block on the Config page)",
    "azure": "Azure OpenAI (its azure block on the Config page)",
}
PRICES = ("input", "output", "cached_input", "cache_write")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
BLANK_ROWS = 2
TEST_TIMEOUT_S = 30.0
TEST_KEY_NAME = "dashboard"  # the test button's usage records carry it


def provider_views(doc):
    """Each provider as the list shows it, from the file's raw values (so references stay references)."""
    applied = gateway().config.providers
    out = []
    for name, spec in ((doc or {}).get("providers") or {}).items():
        spec = spec if isinstance(spec, dict) else {}
        models = [{"name": str(m), "pricing": plain((info or {}).get("pricing") or {}) if isinstance(info, dict) else {}}
                  for m, info in (spec.get("models") or {}).items()]
        live = applied.get(name)
        if live is not None:
            models = with_price_sources(gateway().config, name, models)
        out.append({
            "name": str(name),
            "type": plain(spec.get("type")),
            "api_base_url": plain(spec.get("api_base_url")),
            "key": mask(plain(spec.get("api_key"))),
            "key_is_reference": is_reference(plain(spec.get("api_key"))),
            "headers": sorted(str(h) for h in (spec.get("headers") or {})),
            "models": models,
            "unusable": live.unusable if live else None,
            "loaded": live is not None,
            "used_by": used_by(doc, name),
        })
    return out


def with_price_sources(config, provider_id, models):
    """Each listed model, and each model a target uses without being listed, with where its price
    comes from: the config, the built-in catalog (its prices shown), or nowhere."""
    listed = {m["name"] for m in models}
    targets = [t.model for a in config.aliases.values() for t in a.targets if t.provider == provider_id]
    models = models + [{"name": m, "pricing": {}} for m in dict.fromkeys(targets) if m not in listed]
    for m in models:
        known = catalog.facts(config, provider_id, m["name"])
        m["source"] = known.price_source
        m["context_window"] = known.context_window
        if known.price_source and known.price_source != "config":
            m["pricing"] = {k: getattr(known.pricing, k) for k in PRICES}
    return models


def used_by(doc, provider):
    aliases = []
    for alias, spec in ((doc or {}).get("models") or {}).items():
        for t in (spec or {}).get("targets") or [] if isinstance(spec, dict) else []:
            if isinstance(t, dict) and t.get("provider") == provider:
                aliases.append(str(alias))
                break
    return aliases


def list_page(status=200, **extra):
    doc, version = document()
    return render("providers.html", "_providers.html", status=status, providers=provider_views(doc), version=version,
                  editable=version is not None, type_labels=TYPE_LABELS, area=AREA, **extra)


AREA = Area("providers", "Provider", "dashboard.providers", list_page,
            {"": "name", "type": "type", "api_base_url": "api_base_url", "api_key": "api_key", "models": "models"})


@pages.get("/providers")
def providers():
    """Every provider with its type, URL, masked key, models and prices."""
    return list_page()


# ---- the form ------------------------------------------------------------------------------------


def form_from_spec(name, spec):
    spec = spec or {}
    key = plain(spec.get("api_key"))
    rows = []
    for m, info in (spec.get("models") or {}).items():
        pricing = (info or {}).get("pricing") or {} if isinstance(info, dict) else {}
        rows.append({"name": str(m), **{p: _price_text(pricing.get(p)) for p in PRICES}})
    return {
        "name": name or "",
        "type": plain(spec.get("type")) or "chat",
        "api_base_url": plain(spec.get("api_base_url")) or "",
        "api_key": key if is_reference(key) else "",
        "key_hint": mask(key) if key and not is_reference(key) else None,
        "models": rows + [_blank_row() for _ in range(BLANK_ROWS)],
    }


def _price_text(value):
    return "" if value is None else f"{float(value):g}"


def _blank_row():
    return {"name": "", **dict.fromkeys(PRICES, "")}


def form_from_request(original_key_hint=None):
    f = request.form
    names = f.getlist("model")
    columns = {p: f.getlist("price_" + p) for p in PRICES}
    rows = []
    for i, name in enumerate(names):
        row = {"name": name.strip(), **{p: (columns[p][i] if i < len(columns[p]) else "").strip() for p in PRICES}}
        rows.append(row)
    if request.form.get("action") == "more_rows":
        rows += [_blank_row() for _ in range(3)]
    return {
        "name": f.get("name", "").strip(),
        "type": f.get("type", "chat"),
        "api_base_url": f.get("api_base_url", "").strip(),
        "api_key": f.get("api_key", "").strip(),
        "key_hint": original_key_hint,
        "models": rows,
    }


def form_page(form, original, version, errors=None, status=200):
    return render("provider_form.html", "_provider_form.html", status=status, form=form, original=original,
                  version=version, errors=errors or {}, types=PROVIDER_TYPES, type_labels=TYPE_LABELS, prices=PRICES,
                  area=AREA)


def check(form, original, doc):
    """The form's own checks, before the config schemas see the result."""
    errors = {}
    existing = AREA.entries(doc)
    if not NAME.match(form["name"]):
        errors["name"] = "Use letters, digits, '.', '_' or '-' (starting with a letter or digit)."
    elif form["name"] != original and form["name"] in existing:
        errors["name"] = f"There is already a provider named '{form['name']}'."
    if form["type"] not in PROVIDER_TYPES:
        errors["type"] = "Choose one of the listed types."
    if not form["api_base_url"]:
        errors["api_base_url"] = "The base URL is required, e.g. https://api.openai.com/v1."
    seen = set()
    for i, row in enumerate(form["models"]):
        if not row["name"]:
            if any(row[p] for p in PRICES):
                errors[f"models.{i}"] = "Name the model these prices are for."
            continue
        if row["name"] in seen:
            errors[f"models.{i}"] = f"'{row['name']}' is listed twice."
        seen.add(row["name"])
        for p in PRICES:
            if row[p]:
                try:
                    if float(row[p]) < 0:
                        raise ValueError
                except ValueError:
                    errors[f"models.{i}"] = f"{p.replace('_', ' ')} price must be a number of USD per 1M tokens, 0 or more."
    if errors:
        raise FormError(errors)


def apply_form(doc, form, original):
    """Write the form into the round-trip document: fields the form does not show (headers,
    timeouts, quirks) are kept, and aliases follow a renamed provider."""
    node = AREA.node_for(doc, form["name"], original)
    if original is not None and form["name"] != original:
        for spec in (doc.get("models") or {}).values():
            for t in (spec or {}).get("targets") or [] if isinstance(spec, dict) else []:
                if isinstance(t, dict) and t.get("provider") == original:
                    t["provider"] = form["name"]
    set_value(node, "type", form["type"])
    set_value(node, "api_base_url", form["api_base_url"])
    old_key = node.get("api_key")
    if form["api_key"]:
        set_value(node, "api_key", form["api_key"])
    elif old_key is None or is_reference(old_key) or not isinstance(old_key, str):
        node.pop("api_key", None)  # a shown reference was cleared; a hidden literal stays
    _apply_models(node, form["models"])


def _apply_models(node, rows):
    """Models and prices, changed in place: untouched entries keep their formatting and comments."""
    wanted = [row for row in rows if row["name"]]
    if not wanted:
        node.pop("models", None)
        return
    if not isinstance(node.get("models"), dict):
        node["models"] = CommentedMap()
    models = node["models"]
    names = {row["name"] for row in wanted}
    for name in [k for k in models if k not in names]:
        del models[name]
    for row in wanted:
        prices = {p: _number(row[p]) for p in PRICES if row[p]}
        info = models.get(row["name"])
        if not isinstance(info, dict):
            models[row["name"]] = flow_map(pricing=flow_map(**prices)) if prices else None
        elif not isinstance(info.get("pricing"), dict):
            set_value(info, "pricing", flow_map(**prices) if prices else None)
        else:
            for p in PRICES:
                set_value(info["pricing"], p, prices.get(p))
            if not info["pricing"]:
                del info["pricing"]


def _number(text):
    value = float(text)
    return int(value) if value.is_integer() and "." not in text else value


def submit(original):
    """Check, apply and save a provider form (new when `original` is None)."""
    doc, _ = document()
    hint = None
    if original is not None and doc is not None:
        spec = AREA.find(doc, original)
        key = plain((spec or {}).get("api_key"))
        hint = mask(key) if key and not is_reference(key) else None
    form = form_from_request(hint)
    version = request.form.get("version", "")
    if request.form.get("action") == "more_rows":
        return form_page(form, original, version)
    return AREA.submit(version, form["name"], original, lambda d: apply_form(d, form, original),
                       check=lambda: check(form, original, doc),
                       refused=lambda errors, status: form_page(form, original, version, errors, status))


@pages.get("/providers/new")
def new_provider():
    """An empty provider form."""
    _, version = document()
    return form_page(form_from_spec(None, {}), None, version)


@pages.post("/providers/new")
def create_provider():
    return submit(None)


@pages.get("/providers/<name>/edit")
def edit_provider(name):
    """The form for one provider."""
    doc, version = document()
    return form_page(form_from_spec(name, AREA.find(doc, name)), name, version)


@pages.post("/providers/<name>/edit")
def update_provider(name):
    return submit(name)


@pages.post("/providers/<name>/delete")
def delete_provider(name):
    """Remove a provider no alias uses any more."""
    doc, _ = document()
    AREA.find(doc, name)
    users = used_by(doc, name)
    if users:
        message = f"Provider '{name}' is used by {', '.join(users)}: remove it from {'that alias' if len(users) == 1 else 'those aliases'} first."
        return list_page(status=409, error=message)
    return AREA.delete(name, request.form.get("version", ""))


# ---- test ----------------------------------------------------------------------------------------


def run_test(provider, model):
    """A one-token chat request to `model` at `provider` through the same pipeline as every client
    request (translation, capture, cooldowns, a usage record under the key name "dashboard"):
    (ok, milliseconds, message). Never shows the key."""
    provider = dataclasses.replace(provider, first_byte_timeout=min(provider.first_byte_timeout, TEST_TIMEOUT_S),
                                   total_timeout=TEST_TIMEOUT_S)
    body = orjson.dumps({"model": model, "messages": [{"role": "user", "content": "Reply with OK."}],
                         "max_tokens": 16 if provider.type == "responses" else 1})  # the Responses API's minimum is 16
    call = Call(CLIENT_STYLES["chat"], CREATE, g.request_id, "", lambda: body, content_type="application/json",
                body_size=len(body), source_ip=request.remote_addr, path=request.path, key_name=TEST_KEY_NAME,
                targets=[(Target(provider.id, model), provider)])
    started = time.perf_counter()
    reply = pipeline.run(gateway(), call)
    ms = (time.perf_counter() - started) * 1000
    if reply.status < 400:
        return True, ms, f"HTTP {reply.status}"
    message, _, _ = parse_error_body(reply.body)
    return False, ms, hide_config_secrets(f"HTTP {reply.status}: {message}")


def hide_config_secrets(text):
    """`text` with every secret of the running config replaced by ***, for a message shown on the page."""
    for secret in gateway().config.secrets():
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


@pages.post("/providers/<name>/test")
def test_provider(name):
    """A one-token request through the provider as it is loaded now; shows latency or the error."""
    provider = gateway().config.providers.get(name)
    model = request.form.get("model", "").strip()
    if provider is None:
        result = {"ok": False, "message": "Not loaded: save a valid config first."}
    elif provider.unusable:
        result = {"ok": False, "message": f"Unusable: {provider.unusable}."}
    elif not model:
        result = {"ok": False, "message": "Name a model to test (add one to the provider)."}
    elif model_name_problem(provider.type, model):
        result = {"ok": False, "message": f"Not sent: {model_name_problem(provider.type, model)}."}
    else:
        ok, ms, message = run_test(provider, model)
        result = {"ok": ok, "ms": ms, "message": message, "model": model}
    if is_htmx():
        return render("providers.html", "_provider_test.html", result=result, name=name)
    return list_page(test={"name": name, **result})
