"""Issue 18, the admin surfaces: session signing and generation, the admin-key length and its
throttle on every surface, trusted proxies, the login redirect, form limits, browser protections
and the file modes of what the dashboard and the usage writer create."""

import hashlib
import hmac
import io
import os
import stat
import time

import pytest
from itsdangerous import BadSignature, URLSafeTimedSerializer

from plexus.config import ConfigError, parse_config
from plexus.config import edit as config_edit
from plexus.usage.fallback import FallbackFile
from tests.support.configs import config_text
from tests.support.dashboard import Admin, csrf_of
from tests.support.secrets import ADMIN_SECRET

ELSEWHERE = {"REMOTE_ADDR": "192.0.2.50"}


@pytest.fixture
def app_with(env, write_config, upstream, make_app):
    def make(extra=""):
        app = make_app(str(write_config(config_text(upstream.url, extra))), watch=False)
        app.testing = True
        return app

    return make


def session_cookie(client):
    return client.get_cookie("plexus_session").value


# ---- 1. sessions are signed with a random install secret; a long admin key; throttled guesses ----


def test_the_anonymous_login_cookie_cannot_be_checked_against_a_guessed_admin_key(client):
    client.get("/login")
    cookie = session_cookie(client)
    derived = hmac.new(ADMIN_SECRET.encode(), b"plexus dashboard session key v1", hashlib.sha256).digest()
    guesser = URLSafeTimedSerializer(derived, salt="plexus-dashboard-session",
                                     signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha256})
    with pytest.raises(BadSignature):
        guesser.loads(cookie)


def test_the_session_secret_is_random_and_kept_in_the_store(app, client):
    client.get("/login")
    stored = app.extensions["plexus.services"].storage.install.get("dashboard.session_secret")
    assert stored and len(bytes.fromhex(stored)) == 32
    assert hashlib.sha256(ADMIN_SECRET.encode()).hexdigest() not in stored


def test_an_admin_key_shorter_than_16_characters_stops_start_up():
    with pytest.raises(ConfigError, match="admin key needs 16 or more characters"):
        parse_config("admin_key: a\n")
    assert parse_config("admin_key: a-long-enough-key!\n").admin_key == "a-long-enough-key!"


@pytest.mark.parametrize("path", ["/v0/management/usage", "/metrics"])
def test_wrong_admin_keys_are_throttled_on_the_api_and_metrics(client, path):
    statuses = [client.get(path, headers={"x-admin-key": f"guess-{i}", "Authorization": f"Bearer guess-{i}"}).status_code
                for i in range(12)]
    assert statuses[:3] == [401, 401, 401] and 429 in statuses
    refused = client.get(path, headers={"Authorization": f"Bearer {ADMIN_SECRET}"})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    # someone else, at another address, is not kept out
    assert client.get(path, headers={"Authorization": f"Bearer {ADMIN_SECRET}"}, environ_base=ELSEWHERE).status_code == 200


def test_requests_without_any_key_are_not_counted_as_guesses(client):
    for _ in range(10):
        assert client.get("/v0/management/usage").status_code == 401
    assert client.get("/v0/management/usage", headers={"x-admin-key": ADMIN_SECRET}).status_code == 200


def test_failed_logins_and_api_guesses_share_one_throttle(client):
    for i in range(3):
        client.get("/v0/management/usage", headers={"x-admin-key": f"guess-{i}"})
    assert Admin(client).login().status_code == 429


# ---- 7. the login's `next` -----------------------------------------------------------------------


@pytest.mark.parametrize("target", ["/\t/evil.example", "/\n/evil.example",
                                    "https://evil.example/", "//evil.example", "/\\evil.example", "/ok\r\nX-Injected: 1"])
def test_login_never_redirects_off_site_or_fails_on_odd_next(client, target):
    page = client.get("/login")
    resp = client.post("/login", data={"admin_key": ADMIN_SECRET, "csrf_token": csrf_of(page), "next": target})
    assert resp.status_code == 303 and resp.headers["Location"] == "/"


def test_login_keeps_a_local_next(client):
    page = client.get("/login")
    resp = client.post("/login", data={"admin_key": ADMIN_SECRET, "csrf_token": csrf_of(page), "next": "/logs?status=500"})
    assert resp.headers["Location"] == "/logs?status=500"


# ---- 8. trusted proxies ------------------------------------------------------------------------------


def login_from(client, forwarded, key):
    headers = {"X-Forwarded-For": forwarded}
    page = client.get("/login", headers=headers)
    return client.post("/login", headers=headers, data={"admin_key": key, "csrf_token": csrf_of(page)})


def test_behind_a_trusted_proxy_an_attacker_cannot_lock_the_admin_out(app_with):
    app = app_with("trusted_proxies: [127.0.0.1]\n")
    attacker, admin = app.test_client(), app.test_client()
    for _ in range(6):
        login_from(attacker, "203.0.113.9", "wrong")
    assert login_from(attacker, "203.0.113.9", ADMIN_SECRET).status_code == 429
    assert login_from(admin, "198.51.100.7", ADMIN_SECRET).status_code == 303


def test_forwarded_addresses_are_ignored_unless_the_peer_is_a_trusted_proxy(app_with):
    app = app_with("trusted_proxies: [10.0.0.0/8]\n")
    attacker = app.test_client()
    for i in range(6):  # a new made-up address each time does not escape the throttle
        login_from(attacker, f"203.0.113.{i}", "wrong")
    assert login_from(attacker, "198.51.100.7", ADMIN_SECRET).status_code == 429


def test_the_client_address_is_the_right_most_untrusted_hop(app_with):
    from plexus.web.proxies import client_address
    from plexus.config.types import networks

    trusted = networks(["127.0.0.1", "10.0.0.0/8"])
    assert client_address("6.6.6.6, 198.51.100.7, 10.1.2.3", trusted, "127.0.0.1") == "198.51.100.7"
    assert client_address("10.1.2.3", trusted, "127.0.0.1") == "10.1.2.3"
    assert client_address("not-an-ip", trusted, "127.0.0.1") == "127.0.0.1"


def test_a_bad_trusted_proxy_entry_is_a_config_error():
    with pytest.raises(ConfigError, match="trusted_proxies: 'example.com' is not an IP address"):
        parse_config("trusted_proxies: [example.com]\n")


# ---- 14. logging out ends copied sessions --------------------------------------------------------------


def test_logout_invalidates_a_copied_session_cookie(app, admin):
    thief = app.test_client()
    thief.set_cookie("plexus_session", session_cookie(admin.client))
    assert thief.get("/keys").status_code == 200
    assert admin.post("/logout").status_code == 303
    assert thief.get("/keys").status_code == 302


@pytest.fixture
def admin(client):
    a = Admin(client)
    assert a.login().status_code == 303
    return a


# ---- 2. small dashboard forms, a deadline on every body --------------------------------------------------


def test_a_large_login_body_is_refused_before_it_is_parsed(client):
    page = client.get("/login")
    resp = client.post("/login", data={"admin_key": "x" * 200_000, "csrf_token": csrf_of(page)})
    assert resp.status_code == 413


def test_a_login_form_with_thousands_of_fields_is_refused(client):
    page = client.get("/login")
    body = f"csrf_token={csrf_of(page)}&admin_key=x&" + "&".join(f"f{i}=" for i in range(5000))
    resp = client.post("/login", data=body, content_type="application/x-www-form-urlencoded")
    assert resp.status_code == 413


def test_the_config_editor_still_takes_a_big_file(app, admin):
    page = admin.get("/config")
    text = page.get_data(as_text=True)
    import html
    import re

    shown = html.unescape(re.search(r"<textarea[^>]*>(.*?)</textarea>", text, re.S).group(1))
    version = re.search(r'name="version" value="([^"]*)"', text).group(1)
    padded = shown + "# " + "x" * 200_000 + "\n"
    resp = admin.post("/config", {"text": padded, "version": version, "action": "check"})
    assert resp.status_code == 200


def test_form_limits_follow_the_config(app_with):
    app = app_with("limits: {form_bytes: 2048}\n")
    client = app.test_client()
    page = client.get("/login")
    assert client.post("/login", data={"admin_key": "x" * 4000, "csrf_token": csrf_of(page)}).status_code == 413


class Trickle(io.RawIOBase):
    """A body that arrives one byte per `delay` seconds."""

    def __init__(self, size, delay):
        self.left, self.delay = size, delay

    def readable(self):
        return True

    def readinto(self, buf):
        if not self.left:
            return 0
        time.sleep(self.delay)
        buf[0:1] = b"x"
        self.left -= 1
        return 1


def test_a_body_that_arrives_too_slowly_is_a_408():
    from werkzeug.exceptions import RequestTimeout

    from plexus.web.limits import DeadlineInput

    stream = DeadlineInput(Trickle(1000, 0.01), time.monotonic() + 0.2, {})
    with pytest.raises(RequestTimeout):
        while stream.read(1):
            pass


def test_the_body_deadline_applies_to_the_app(app_with):
    from werkzeug.test import EnvironBuilder, run_wsgi_app

    app = app_with("limits: {body_timeout_s: 0.2}\n")
    client = app.test_client()
    client.get("/login")
    environ = EnvironBuilder(path="/login", method="POST", headers={
        "Cookie": f"plexus_session={session_cookie(client)}"}).get_environ()
    environ.update({"wsgi.input": Trickle(500, 0.01), "CONTENT_LENGTH": "500",  # one byte a read, as a socket gives them
                    "CONTENT_TYPE": "application/x-www-form-urlencoded"})
    started = time.monotonic()
    _, status, _ = run_wsgi_app(app, environ, buffered=True)
    assert status.startswith("408") and time.monotonic() - started < 2


# ---- 17. browser protections on dashboard pages --------------------------------------------------------------


@pytest.mark.parametrize("path", ["/login", "/", "/logs", "/providers", "/models", "/models/new", "/keys", "/config",
                                  "POST /keys"])
def test_dashboard_pages_forbid_framing_and_inline_code(admin, path):
    if path.startswith("POST "):  # the page that shows a new key's secret
        version = __import__("re").search(r'name="version" value="([^"]*)"', admin.get("/keys").get_data(as_text=True))
        resp = admin.post(path[5:], {"name": "csp-check", "comment": "", "version": version.group(1)})
        assert "secret-once" in resp.get_data(as_text=True)
    else:
        resp = admin.get(path)
    csp = resp.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe-inline" not in csp and resp.headers["X-Frame-Options"] == "DENY"
    html = resp.get_data(as_text=True)
    assert " style=" not in html and "<style" not in html
    assert "<script>" not in html and not __import__("re").search(r"\son[a-z]+=", html)  # no inline handlers


# ---- 10. file modes -----------------------------------------------------------------------------------


def test_the_config_backup_is_as_private_as_the_config(tmp_path, env):
    path = tmp_path / "plexus.yaml"
    path.write_text("admin_key: ${PLEXUS_ADMIN_KEY}\n")
    os.chmod(path, 0o600)
    snapshot = config_edit.read(path)
    config_edit.save_text(str(path), snapshot.text + "# changed\n", snapshot.version)
    assert stat.S_IMODE(os.stat(config_edit.backup_path(path)).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_the_database_and_the_fallback_file_are_private(tmp_path):
    from plexus.storage import open_storage

    old = os.umask(0o022)
    try:
        storage = open_storage(str(tmp_path / "p.db"))
        storage.cooldowns.save({("p", "m"): (time.time() + 60, 1, "x")}, 0)  # a write: -wal and -shm exist now
        FallbackFile(storage.spool_path).append([{"a": 1}])
    finally:
        os.umask(old)
    for name in ("p.db", "p.db-wal", "p.db-shm", "p.db.fallback.jsonl"):
        if (tmp_path / name).exists():
            assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o600, name


# ---- 15. the config editor, YAML aliases, model names in URLs ----------------------------------------------


def shown_config(admin):
    import html
    import re

    return html.unescape(re.search(r"<textarea[^>]*>(.*?)</textarea>", admin.get("/config").get_data(as_text=True), re.S).group(1))


def test_the_config_editor_hides_the_metrics_token_and_short_secrets(make_app, write_config, env, upstream):
    text = config_text(upstream.url, "metrics:\n  token: metrics-LITERAL-token-99\n").replace(
        '"${UPSTREAM_HEADER_TOKEN}"', "tiny")  # a four-character header secret
    path = write_config(text, "literal.yaml")
    a = Admin(make_app(str(path), watch=False).test_client())
    assert a.login().status_code == 303
    shown = shown_config(a)
    assert "metrics-LITERAL-token-99" not in shown and "tiny" not in shown
    assert "x-upstream-token: PLEXUS-HIDDEN-SECRET-" in shown and "token: PLEXUS-HIDDEN-SECRET-" in shown
    version = __import__("re").search(r'name="version" value="([^"]*)"', a.get("/config").get_data(as_text=True)).group(1)
    resp = a.post("/config", {"text": shown.replace("read: 5", "read: 6"), "version": version, "action": "save"})
    assert resp.status_code == 200 and path.read_text() == text.replace("read: 5", "read: 6")


def test_a_yaml_alias_bomb_is_refused_quickly():
    levels = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for prev, name in zip("abcde", "bcdef"):
        levels.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    started = time.monotonic()
    with pytest.raises(ConfigError, match="YAML aliases"):
        parse_config("\n".join(levels) + "\n")
    assert time.monotonic() - started < 1


def test_a_few_aliases_are_fine():
    text = "admin_key: 0123456789abcdef0\nx-price: &p {input: 1.0}\n"
    with pytest.raises(ConfigError, match="x-price: unknown key"):  # parsed: only the unknown key is wrong
        parse_config(text)


@pytest.mark.parametrize("model", ["../../files", "gemini?alt=x", "gemini#frag", "a/b", "x\nY"])
def test_gemini_model_names_must_be_safe_in_a_url(model):
    import yaml

    doc = {"providers": {"g": {"type": "gemini", "api_base_url": "http://127.0.0.1:9/v1beta", "api_key": "k"}},
           "models": {"m": {"targets": [{"provider": "g", "model": model}]}}}
    with pytest.raises(ConfigError, match="cannot go into a gemini URL|control characters"):
        parse_config(yaml.safe_dump(doc))
    doc["models"]["m"]["targets"][0]["model"] = "models/gemini-2.5-flash"
    assert parse_config(yaml.safe_dump(doc)).aliases["m"]


def test_the_provider_test_button_refuses_a_model_that_would_climb_the_url(make_app, write_config, env, upstream):
    text = config_text(upstream.url).replace("models:\n  fast:", "  gm:\n    type: gemini\n    api_base_url: "
                                             + upstream.url + "/v1beta\n    api_key: ${UPSTREAM_KEY}\nmodels:\n  fast:")
    a = Admin(make_app(str(write_config(text, "gm.yaml")), watch=False).test_client())
    assert a.login().status_code == 303
    before = len(upstream.requests)
    resp = a.post("/providers/gm/test", {"model": "../../files?x=1"}, htmx=True)
    assert "Not sent" in resp.get_data(as_text=True) and len(upstream.requests) == before


# ---- 12. log lines cannot be forged --------------------------------------------------------------------


def test_a_newline_in_a_model_name_cannot_forge_a_log_line():
    import logging

    from plexus import logging_setup as logs
    from plexus.core.gateway import describe
    from plexus.usage.record import UsageRecord

    logs.setup("info", "text")
    handler = logging.getLogger("plexus").handlers[0]
    rec = UsageRecord(api_style="chat", request_id="r1")
    rec.alias = "fast\n2026-01-01 00:00:00 INFO plexus [-]: admin logged in"
    rec.status = 404
    record = logging.LogRecord("plexus", logging.INFO, __file__, 1, "%s", (describe(rec),), None)
    record.request_id = "r1"
    line = handler.format(record)
    assert "\n" not in line and "\\n2026-01-01" in line
