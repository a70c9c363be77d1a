"""The dashboard's security: the session cookie, CSRF tokens, the admin-key check, and where a
login may send the browser next. It imports nothing from the dashboard, so any of its modules may
use it. Failed logins are slowed down by the throttle every admin surface shares (web/admin_guard.py).

The session is Flask's signed cookie, signed with a random secret made once per install and kept
in the store (plexus/storage: `install_state`), so every worker and every instance on the same
database signs alike — and the cookie reveals nothing about the admin key, which it is never
derived from. The store also keeps a session generation: a login records it in the session,
logging out moves it on, so every cookie issued before (a copied one too) stops working at once.
A session also carries a keyed fingerprint of the admin key it logged in with, so changing the
admin key logs everyone out. The cookie is HttpOnly, SameSite=Lax, Secure when the request came
over HTTPS, and expires with the browser or after SESSION_HOURS, whichever is first.
"""

import hashlib
import hmac
import secrets
import threading
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, request, session
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

from .. import admin_guard
from ..admin_guard import FailureThrottle as LoginThrottle  # noqa: F401  (its former home)

SESSION_HOURS = 12
COOKIE_NAME = "plexus_session"
SECRET_NAME = "dashboard.session_secret"
GENERATION_NAME = "dashboard.session_generation"


def install_state(app: Flask):
    """The store's install-wide named values (storage.base.InstallState)."""
    return app.extensions["plexus.services"].storage.install


class DashboardSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, signed with the install's random session secret."""

    salt = "plexus-dashboard-session"

    def __init__(self):
        self._secret = None
        self._serializer = None
        self._lock = threading.Lock()

    def secret(self, app) -> bytes:
        """The install's session secret: made by the first worker that needs it, read by the rest."""
        if self._secret is None:
            with self._lock:
                if self._secret is None:
                    stored = install_state(app).get_or_create(SECRET_NAME, secrets.token_hex(32))
                    self._secret = bytes.fromhex(stored)
        return self._secret

    def get_signing_serializer(self, app):
        if not app.extensions["plexus"].config.admin_key:
            return None
        if self._serializer is None:
            self._serializer = URLSafeTimedSerializer(
                self.secret(app),
                salt=self.salt,
                serializer=self.serializer,
                signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha256},
            )
        return self._serializer

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
    """Sessions, their lifetime and the template's `csrf_token()` for `app`."""
    app.session_interface = DashboardSessions()
    app.permanent_session_lifetime = timedelta(hours=SESSION_HOURS)  # the signature's max age
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


def throttle() -> LoginThrottle:
    return admin_guard.throttle()


def admin_key() -> str | None:
    """The running config's admin key: without one there is no dashboard login."""
    return current_app.extensions["plexus"].config.admin_key


def admin_fingerprint() -> str:
    """A keyed digest of the admin key (useless for guessing it without the session secret)."""
    secret = current_app.session_interface.secret(current_app)
    return hmac.new(secret, (admin_key() or "").encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def generation() -> int:
    """The install's session generation: sessions from an earlier one are logged out."""
    return int(install_state(current_app).get(GENERATION_NAME) or 0)


def logged_in() -> bool:
    if not admin_key() or session.get("admin") is not True:
        return False
    return session.get("key") == admin_fingerprint() and session.get("gen") == generation()


def is_admin_key(presented: str) -> bool:
    """Constant-time comparison with the admin key (False when there is none)."""
    expected = admin_key()
    return bool(expected) and hmac.compare_digest(presented.encode("utf-8"), expected.encode("utf-8"))


def start_session() -> None:
    """Log this browser in: a new session with a fresh CSRF token (nothing seen before login stays valid)."""
    session.clear()
    session["admin"] = True
    session["key"] = admin_fingerprint()
    session["gen"] = generation()
    session["csrf"] = secrets.token_urlsafe(32)


def end_session() -> None:
    """Log out: this cookie, and every other one issued so far (copies included), stops working."""
    install_state(current_app).increment(GENERATION_NAME)
    session.clear()


def safe_next(target: str | None) -> str | None:
    """`target` when it is a path on this site, else None: no scheme, no host (browsers drop tabs
    and newlines, so `/\\t/evil` would become `//evil`), no control characters, no backslash."""
    if not target or not target.startswith("/") or "\\" in target:
        return None
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//"):
        return None
    return target
