"""The dashboard blueprint and what every view shares: login required, CSRF checked, the nav
section each page highlights, page or fragment rendering, error pages, and the Jinja filters that
format numbers, money and times."""

import logging
import math
import os
from datetime import datetime, timezone

from flask import Blueprint, current_app, make_response, redirect, render_template, request, session, url_for
from werkzeug.exceptions import HTTPException

from . import security

bp = Blueprint("dashboard", __name__)
log = logging.getLogger("plexus.dashboard")

PUBLIC = {"dashboard.login", "dashboard.login_post"}
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def gateway():
    return current_app.extensions["plexus"]


def store():
    return current_app.extensions["plexus.usage"].store


def config_path():
    """The file the running config came from, or None when there is no file to edit."""
    path = gateway().config.path
    return path if path and os.path.isfile(path) else None


def is_htmx():
    """An htmx request wants a fragment; a history restore (back button after hx-push-url) wants the page."""
    return request.headers.get("HX-Request") == "true" and not request.headers.get("HX-History-Restore-Request")


def render(page, fragment, status=200, **context):
    """The full page on a plain request, only the fragment it includes for htmx."""
    resp = make_response(render_template(fragment if is_htmx() else page, **context), status)
    resp.vary.add("HX-Request")
    resp.headers["Cache-Control"] = "no-store"
    return resp


def back_to(endpoint, message=None, **values):
    """After a plain form post: redirect (post/redirect/get), with a one-time notice."""
    if message:
        session["notice"] = message
    return redirect(url_for(endpoint, **values), 303)


NAV: dict[str, str] = {}  # endpoint -> the nav section its page highlights (see base.html)


class Pages:
    """The views of one dashboard area: routes on `bp` that highlight the area's nav section."""

    def __init__(self, section: str):
        self.section = section

    def get(self, rule: str):
        return self._route(rule, "GET")

    def post(self, rule: str):
        return self._route(rule, "POST")

    def _route(self, rule, method):
        def register(view):
            NAV[f"{bp.name}.{view.__name__}"] = self.section
            return bp.route(rule, methods=[method])(view)

        return register


@bp.record_once
def _install(state):
    security.install(state.app)


@bp.app_context_processor
def shared_context():
    if request.blueprint != "dashboard":
        return {}
    return {"csrf_token": security.csrf_token, "nav_section": NAV.get(request.endpoint),
            "notice": session.pop("notice", None) if session.get("notice") else None}


@bp.before_request
def require_login():
    if request.endpoint in PUBLIC:
        return None
    if not security.logged_in():
        if is_htmx() or request.method in UNSAFE_METHODS:
            resp = make_response("Log in again to continue.", 401)
            resp.headers["HX-Redirect"] = url_for("dashboard.login")
            resp.vary.add("HX-Request")
            return resp
        return redirect(url_for("dashboard.login", next=request.full_path.rstrip("?")))
    if request.method in UNSAFE_METHODS:
        security.check_csrf()
    return None


@bp.errorhandler(HTTPException)
def http_error(e):
    return error_page(e.code, e.name, e.description)


@bp.errorhandler(Exception)
def unexpected_error(e):
    log.exception("dashboard error on %s %s", request.method, request.path)
    return error_page(500, "Internal error", "Something went wrong on this page; the gateway log has the details.")


def error_page(status, title, message):
    resp = make_response(render_template("error.html", status=status, title=title, message=message), status)
    resp.vary.add("HX-Request")
    return resp


# ---- formatting ----------------------------------------------------------------------------------


@bp.app_template_filter("money")
def money(value):
    """USD; unknown cost (no configured price) reads 'no price', never $0.00."""
    if value is None:
        return "no price"
    if value == 0:
        return "$0.00"
    if abs(value) < 0.000001:
        return "< $0.000001"
    if abs(value) < 0.01:
        return "$" + f"{value:.6f}".rstrip("0")
    if abs(value) < 1:
        return "$" + f"{value:.4f}".rstrip("0").ljust(4, "0")
    return f"${value:,.2f}"


@bp.app_template_filter("price")
def price(value):
    """A configured price (USD per 1M tokens): at least two decimals, more when it has them."""
    return "$" + f"{value:.6f}".rstrip("0").ljust(len(f"{int(value)}") + 3, "0")


@bp.app_template_filter("num")
def num(value):
    if value is None:
        return "—"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


@bp.app_template_filter("compact")
def compact(value):
    """1234 -> 1.2k, 3400000 -> 3.4M."""
    if value is None:
        return "—"
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.1f}".rstrip("0").rstrip(".") + suffix
    return num(value)


@bp.app_template_filter("ms")
def ms(value):
    if value is None:
        return "—"
    if value < 1:
        return "< 1 ms"
    if value < 1000:
        return f"{value:.0f} ms"
    return f"{value / 1000:.2f} s"


@bp.app_template_filter("pct")
def pct(value):
    if value is None:
        return "—"
    if value == 0:
        return "0%"
    return f"{value * 100:.1f}%" if value < 0.1 else f"{value * 100:.0f}%"


@bp.app_template_filter("when")
def when(epoch):
    """An epoch (or ISO 8601) time in UTC, to the second."""
    if epoch is None:
        return "—"
    if isinstance(epoch, str):
        try:
            epoch = datetime.fromisoformat(epoch.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return epoch
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


@bp.app_template_filter("ago")
def ago(epoch, now=None):
    if epoch is None:
        return "never"
    seconds = max(0, (now or datetime.now(timezone.utc).timestamp()) - epoch)
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{math.floor(seconds / size)} {unit} ago"
    return "just now"
