"""The dashboard's security: the session cookie, CSRF tokens, the admin-key check, and slowing
down repeated failed logins. It imports nothing from the dashboard, so any of its modules may use it.

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

from flask import Flask, abort, current_app, request, session
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

SESSION_HOURS = 12
COOKIE_NAME = "plexus_session"


def signing_key(admin_key: str) -> bytes:
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


def install(app: Flask) -> None:
    """Sessions, their lifetime, the login throttle and the template's `csrf_token()` for `app`."""
    app.session_interface = DashboardSessions()
    app.permanent_session_lifetime = timedelta(hours=SESSION_HOURS)  # the signature's max age
    app.extensions["plexus.login_throttle"] = LoginThrottle()
    app.jinja_env.globals["csrf_token"] = csrf_token  # also inside imported macros


# ---- CSRF ----------------------------------------------------------------------------------------


def csrf_token() -> str:
    """This session's CSRF token (made on first use); every form and htmx request sends it back."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def check_csrf() -> None:
    """Abort 403 unless the request sends back this session's CSRF token (form field or header)."""
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


def throttle() -> LoginThrottle:
    return current_app.extensions["plexus.login_throttle"]


def admin_key() -> str | None:
    """The running config's admin key: without one there is no dashboard login."""
    return current_app.extensions["plexus"].config.admin_key


def logged_in() -> bool:
    return bool(admin_key()) and session.get("admin") is True


def is_admin_key(presented: str) -> bool:
    """Constant-time comparison with the admin key (False when there is none)."""
    expected = admin_key()
    return bool(expected) and hmac.compare_digest(presented.encode("utf-8"), expected.encode("utf-8"))


def start_session() -> None:
    """Log this browser in: a new session with a fresh CSRF token (nothing seen before login stays valid)."""
    session.clear()
    session["admin"] = True
    session["csrf"] = secrets.token_urlsafe(32)


def end_session() -> None:
    session.clear()


def safe_next(target: str | None) -> str | None:
    """`target` when it is a path on this site (never `//host` or a URL), else None."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None
