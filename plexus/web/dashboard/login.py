"""The login page, logging in with the config's `admin_key` (throttled per client address), and logging out."""

from flask import Response, redirect, request, url_for

from .. import admin_guard
from . import security
from .pages import bp, render


def after_login(target: str | None) -> str:
    return security.safe_next(target) or url_for("dashboard.overview")


def login_page(status: int, **context) -> Response:
    return render("login.html", "login.html", status=status, **context)


@bp.get("/login")
def login():
    """The login form (or why there is none)."""
    enabled = bool(security.admin_key())
    if enabled and security.logged_in():
        return redirect(after_login(request.args.get("next")))
    return login_page(200 if enabled else 503, enabled=enabled, next=request.args.get("next", ""))


@bp.post("/login")
def login_post():
    """Check the admin key (constant-time); slow down an IP that keeps failing."""
    nxt = request.form.get("next", "")
    if not security.admin_key():
        return login_page(403, enabled=False, next=nxt)
    security.check_csrf()
    wait = admin_guard.wait()
    if wait > 0:
        return login_page(429, enabled=True, next=nxt, error=f"Too many failed attempts. Try again in {wait:.0f} s.")
    if not admin_guard.record(security.is_admin_key(request.form.get("admin_key", ""))):
        return login_page(401, enabled=True, next=nxt, error="That is not the admin key.")
    security.start_session()
    return redirect(after_login(nxt), 303)


@bp.post("/logout")
def logout():
    """End the session: this cookie and every copy of it (all dashboard sessions) stop working."""
    security.end_session()
    return redirect(url_for("dashboard.login"), 303)
