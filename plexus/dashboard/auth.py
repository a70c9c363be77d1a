"""Logging in with the config's `admin_key`, the session cookie, CSRF tokens, and slowing down
repeated failed logins.

The session is Flask's signed cookie (nothing stored server-side), signed with a key derived from
the admin key by HMAC-SHA256: every gunicorn worker (and every instance sharing the config) derives
the same key, so a session works whichever worker answers, and changing the admin key logs every
session out. The cookie is HttpOnly, SameSite=Lax, Secure when the request came over HTTPS (as
gunicorn reports it: it trusts `X-Forwarded-Proto` only from FORWARDED_ALLOW_IPS, by default
127.0.0.1), and expires with the browser or after SESSION_HOURS, whichever is first.
"""

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from datetime import timedelta

from flask import abort, current_app, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

from .core import bp, gateway, render

SESSION_HOURS = 12
COOKIE_NAME = "plexus_session"


def signing_key(admin_key):
    return hmac.new(admin_key.encode("utf-8"), b"plexus dashboard session key v1", hashlib.sha256).digest()


class DashboardSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, signed with a key derived from the current admin key."""

    salt = "plexus-dashboard-session"

    def __init__(self):
        self._cached = (None, None)  # (admin key digest, serializer)

    def get_signing_serializer(self, app):
        admin_key = app.extensions["plexus"].config.admin_key
        if not admin_key:
            return None
        digest = hashlib.sha256(admin_key.encode("utf-8")).digest()
        if self._cached[0] != digest:
            serializer = URLSafeTimedSerializer(
                signing_key(admin_key),
                salt=self.salt,
                serializer=self.serializer,
                signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha256},
            )
            self._cached = (digest, serializer)
        return self._cached[1]

    def open_session(self, app, request):
        if not app.extensions["plexus"].config.admin_key:
            return None  # a null session: nothing can be signed, nobody can log in
        if COOKIE_NAME not in request.cookies:  # every /v1 request: no signing work at all
            return self.session_class()
        return super().open_session(app, request)

    def get_cookie_name(self, app):
        return COOKIE_NAME

    def get_cookie_httponly(self, app):
        return True

    def get_cookie_samesite(self, app):
        return "Lax"

    def get_cookie_secure(self, app):
        return request.is_secure


@bp.record_once
def _setup(state):
    app = state.app
    app.session_interface = DashboardSessions()
    app.permanent_session_lifetime = timedelta(hours=SESSION_HOURS)  # the signature's max age
    app.extensions["plexus.login_throttle"] = LoginThrottle()
    app.jinja_env.globals["csrf_token"] = csrf_token  # also inside imported macros


# ---- CSRF ----------------------------------------------------------------------------------------


def csrf_token():
    """This session's CSRF token (made on first use); every form and htmx request sends it back."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def check_csrf():
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    expected = session.get("csrf") or ""
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(403, "This form has expired or did not come from this dashboard (missing CSRF token). Reload the page and try again.")


# ---- login ---------------------------------------------------------------------------------------


class LoginThrottle:
    """Failed logins per client IP: after `free` failures, each further attempt must wait twice as
    long as the one before (up to `max_delay` seconds). Bounded memory: at most `max_entries` IPs,
    the least recently seen forgotten first; a quiet IP is forgiven after `forget_after`. Per worker
    (with N workers an attacker gets at most N times the attempts)."""

    def __init__(self, free=3, max_delay=60.0, max_entries=4096, forget_after=900.0, clock=time.monotonic):
        self.free, self.max_delay, self.max_entries, self.forget_after = free, max_delay, max_entries, forget_after
        self.clock = clock
        self._seen = OrderedDict()  # ip -> (failures, not before, last failure)
        self._lock = threading.Lock()

    def wait(self, ip):
        """Seconds before `ip` may try again (0: now)."""
        entry = self._entry(ip)
        return max(0.0, entry[1] - self.clock()) if entry else 0.0

    def failed(self, ip):
        now = self.clock()
        with self._lock:
            entry = self._entry(ip)
            failures = (entry[0] if entry else 0) + 1
            delay = min(2.0 ** (failures - self.free), self.max_delay) if failures >= self.free else 0.0
            self._seen[ip] = (failures, now + delay, now)
            self._seen.move_to_end(ip)
            while len(self._seen) > self.max_entries:
                self._seen.popitem(last=False)

    def succeeded(self, ip):
        with self._lock:
            self._seen.pop(ip, None)

    def _entry(self, ip):
        entry = self._seen.get(ip)
        if entry and self.clock() - entry[2] > self.forget_after:
            self._seen.pop(ip, None)
            return None
        return entry


def throttle():
    return current_app.extensions["plexus.login_throttle"]


def logged_in():
    return bool(gateway().config.admin_key) and session.get("admin") is True


def safe_next(target):
    """Only a path on this site (never `//host` or a URL) may be where login sends you."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("dashboard.overview")


@bp.get("/login")
def login():
    """The login form (or why there is none)."""
    enabled = bool(gateway().config.admin_key)
    if enabled and logged_in():
        return redirect(safe_next(request.args.get("next")))
    return render("login.html", "login.html", enabled=enabled, next=request.args.get("next", ""),
                  status=200 if enabled else 503)


@bp.post("/login")
def login_post():
    """Check the admin key (constant-time); slow down an IP that keeps failing."""
    admin_key = gateway().config.admin_key
    nxt = request.form.get("next", "")
    if not admin_key:
        return render("login.html", "login.html", enabled=False, next=nxt, status=403)
    check_csrf()
    ip = request.remote_addr or "?"
    wait = throttle().wait(ip)
    if wait > 0:
        error = f"Too many failed attempts. Try again in {wait:.0f} s."
        return render("login.html", "login.html", enabled=True, next=nxt, error=error, status=429)
    presented = request.form.get("admin_key", "")
    if not hmac.compare_digest(presented.encode("utf-8"), admin_key.encode("utf-8")):
        throttle().failed(ip)
        return render("login.html", "login.html", enabled=True, next=nxt, error="That is not the admin key.", status=401)
    throttle().succeeded(ip)
    session.clear()
    session["admin"] = True
    session["csrf"] = secrets.token_urlsafe(32)  # a fresh token: nothing seen before login stays valid
    return redirect(safe_next(nxt), 303)


@bp.post("/logout")
def logout():
    """End the session (the cookie is dropped; a copied cookie stays valid until it expires)."""
    session.clear()
    return redirect(url_for("dashboard.login"), 303)
