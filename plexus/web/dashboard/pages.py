"""The dashboard blueprint and what every view shares: small form limits, login required, CSRF
checked, the nav section each page highlights, page or fragment rendering, error pages, the
browser-side protections every answer carries (a strict CSP, no framing), and the Jinja filters of
formatting.py."""

import logging
import os
from collections.abc import Callable

from flask import Blueprint, Response, current_app, make_response, redirect, render_template, request, session, url_for
from werkzeug.exceptions import HTTPException

from ..limits import form_limits
from . import formatting, security

bp = Blueprint("dashboard", __name__)
log = logging.getLogger("plexus.dashboard")

PUBLIC = {"dashboard.login", "dashboard.login_post"}
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
LARGE_FORMS = {"dashboard.save_config"}  # the raw config editor sends the whole file

# Every page's scripts and styles are files under /static (htmx included): nothing inline runs.
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")


def gateway():
    return current_app.extensions["plexus"]


def store():
    return current_app.extensions["plexus.usage"].store


def config_path() -> str | None:
    """The file the running config came from, or None when there is no file to edit."""
    path = gateway().config.path
    return path if path and os.path.isfile(path) else None


def is_htmx() -> bool:
    """An htmx request wants a fragment; a history restore (back button after hx-push-url) wants the page."""
    return request.headers.get("HX-Request") == "true" and not request.headers.get("HX-History-Restore-Request")


def render(page: str, fragment: str, status: int = 200, **context) -> Response:
    """The full page on a plain request, only the fragment it includes for htmx."""
    resp = make_response(render_template(fragment if is_htmx() else page, **context), status)
    resp.vary.add("HX-Request")
    resp.headers["Cache-Control"] = "no-store"
    return resp


def back_to(endpoint: str, message: str | None = None, **values) -> Response:
    """After a plain form post: redirect (post/redirect/get), with a one-time notice."""
    if message:
        session["notice"] = message
    return redirect(url_for(endpoint, **values), 303)


NAV: dict[str, str] = {}  # endpoint -> the nav section its page highlights (see base.html)


class Pages:
    """The views of one dashboard area: routes on `bp` that highlight the area's nav section."""

    def __init__(self, section: str):
        self.section = section

    def get(self, rule: str) -> Callable[[Callable], Callable]:
        return self._route(rule, "GET")

    def post(self, rule: str) -> Callable[[Callable], Callable]:
        return self._route(rule, "POST")

    def _route(self, rule, method):
        def register(view):
            NAV[f"{bp.name}.{view.__name__}"] = self.section
            return bp.route(rule, methods=[method])(view)

        return register


@bp.record_once
def _install(state):
    security.install(state.app)
    state.app.jinja_env.filters.update(formatting.FILTERS)


@bp.app_context_processor
def shared_context():
    if request.blueprint != "dashboard":
        return {}
    return {"csrf_token": security.csrf_token, "nav_section": NAV.get(request.endpoint),
            "notice": session.pop("notice", None) if session.get("notice") else None}


@bp.before_request
def require_login():
    if request.method in UNSAFE_METHODS:  # before anything reads the body
        form_limits(request, gateway().config.limits, large=request.endpoint in LARGE_FORMS)
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


@bp.after_request
def browser_protections(resp):
    resp.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "same-origin"
    return resp


@bp.errorhandler(HTTPException)
def http_error(e):
    return error_page(e.code, e.name, e.description)


@bp.errorhandler(Exception)
def unexpected_error(e):
    log.exception("dashboard error on %s %s", request.method, request.path)
    return error_page(500, "Internal error", "Something went wrong on this page; the gateway log has the details.")


def error_page(status: int, title: str, message: str) -> Response:
    resp = make_response(render_template("error.html", status=status, title=title, message=message), status)
    resp.vary.add("HX-Request")
    return resp
