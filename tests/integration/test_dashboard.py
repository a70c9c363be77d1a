"""The dashboard through the Flask test client: every page and fragment, login and sessions, CSRF,
the edits each page makes to the config file, and no secret in any response."""

import hashlib
import re
import time
import uuid

import pytest

from plexus import create_app
from plexus.services import close_app
from plexus.usage.params import Filters
from plexus.web.dashboard.security import LoginThrottle
from tests.support.configs import config_text
from tests.support.dashboard import Admin, csrf_of
from tests.support.secrets import ADMIN_SECRET, CLIENT_SECRET, PROVIDER_SECRET

COMMENTED = "# written by hand: keep me\n"


@pytest.fixture
def config_file(env, write_config, upstream):
    return write_config(COMMENTED + config_text(upstream.url))


@pytest.fixture
def make_app(tmp_path):
    apps = []

    def make(path):
        app = create_app(str(path), watch=False, DATABASE=str(tmp_path / "usage.db"))
        app.testing = True
        apps.append(app)
        return app

    yield make
    for app in apps:
        close_app(app)


@pytest.fixture
def app(make_app, config_file):
    return make_app(config_file)


@pytest.fixture
def client(app):
    return app.test_client()


def version_of(resp):
    return re.search(r'name="version" value="([^"]*)"', resp.get_data(as_text=True)).group(1)


@pytest.fixture
def admin(client):
    a = Admin(client)
    assert a.login().status_code == 303
    return a


def seed(app, *rows):
    store = app.extensions["plexus.usage"].store
    store.write_batch([{"request_id": uuid.uuid4().hex, "time": time.time() - 60, "status": 200, **r} for r in rows])


# ---- pages and fragments ---------------------------------------------------------------------------

PAGES = ["/", "/?range=hour&group=provider", "/?range=month&group=key", "/logs", "/logs?alias=fast&status=200&range=all",
         "/providers", "/providers/new", "/providers/up/edit", "/models", "/models/new", "/models/fast/edit", "/keys",
         "/config"]


@pytest.mark.parametrize("url", PAGES + ["/logs/1"])
def test_page_and_fragment(app, admin, url):
    seed(app, {"key_name": "test", "alias": "fast", "provider": "up", "model": "up-model", "input_tokens": 10,
               "output_tokens": 5, "cost": None, "attempts": '[{"provider": "up", "model": "up-model", "status": 200}]'})
    page = admin.get(url)
    assert page.status_code == 200, page.get_data(as_text=True)[:500]
    html = page.get_data(as_text=True)
    assert html.startswith("<!doctype html>") and 'href="/logs"' in html and "htmx-2.0.11.min.js" in html
    assert "HX-Request" in page.headers["Vary"]
    fragment = admin.get(url, htmx=True)
    assert fragment.status_code == 200
    assert "<html" not in fragment.get_data(as_text=True) and "HX-Request" in fragment.headers["Vary"]


@pytest.mark.parametrize("url, section", [("/", "/"), ("/logs", "/logs"), ("/providers/new", "/providers"),
                                          ("/models/fast/edit", "/models"), ("/keys", "/keys"), ("/config", "/config"),
                                          ("/models/nope/edit", "/models")])
def test_nav_marks_the_section_of_the_page(admin, url, section):
    html = admin.get(url).get_data(as_text=True)
    assert re.findall(r'<a href="([^"]*)" aria-current="page">', html) == [section]


def test_history_restore_gets_the_whole_page(admin):
    resp = admin.client.get("/logs", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<html" in resp.get_data(as_text=True)


def test_static_assets(client):
    for path in ("/static/js/htmx-2.0.11.min.js", "/static/css/plexus.css"):
        with client.get(path) as resp:
            assert resp.status_code == 200


def test_unknown_things_are_404_pages(admin):
    for url in ("/providers/nope/edit", "/models/nope/edit", "/logs/999999"):
        resp = admin.get(url)
        assert resp.status_code == 404 and "<html" in resp.get_data(as_text=True)


# ---- login, session, CSRF --------------------------------------------------------------------------


@pytest.mark.parametrize("url", PAGES)
def test_pages_need_login(client, url):
    resp = client.get(url)
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login?next=")
    fragment = client.get(url, headers={"HX-Request": "true"})
    assert fragment.status_code == 401 and fragment.headers["HX-Redirect"] == "/login"


POSTS = ["/logout", "/cooldowns/clear", "/providers/new", "/providers/up/edit", "/providers/up/delete",
         "/providers/up/test", "/models/new", "/models/fast/edit", "/models/fast/delete", "/keys",
         "/keys/test/revoke", "/config"]


@pytest.mark.parametrize("url", POSTS)
def test_posts_need_login(client, url):
    assert client.post(url, data={}).status_code == 401


@pytest.mark.parametrize("url", POSTS)
def test_posts_without_csrf_are_refused(admin, config_file, url):
    before = config_file.read_text()
    assert admin.client.post(url, data={"name": "x"}).status_code == 403
    assert admin.client.post(url, data={"name": "x", "csrf_token": "forged"}).status_code == 403
    assert admin.client.post(url, data={"name": "x"}, headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert config_file.read_text() == before


def test_csrf_header_is_accepted(admin):
    resp = admin.client.post("/cooldowns/clear", headers={"X-CSRF-Token": admin.token, "HX-Request": "true"})
    assert resp.status_code == 200 and "Cleared 0 cooldowns" in resp.get_data(as_text=True)


def test_login_without_csrf_is_refused(client):
    client.get("/login")
    assert client.post("/login", data={"admin_key": ADMIN_SECRET}).status_code == 403


def test_login_cookie_and_redirect(client):
    a = Admin(client)
    resp = a.login()
    assert resp.status_code == 303 and resp.headers["Location"] == "/logs"
    cookie = [h for h in resp.headers.getlist("Set-Cookie") if h.startswith("plexus_session=")][-1]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert a.get("/").status_code == 200


def test_cookie_is_secure_over_https(app):
    client = app.test_client()
    page = client.get("/login", base_url="https://gw.example")
    resp = client.post("/login", base_url="https://gw.example", data={"admin_key": ADMIN_SECRET, "csrf_token": csrf_of(page)})
    cookie = [h for h in resp.headers.getlist("Set-Cookie") if h.startswith("plexus_session=")][-1]
    assert "Secure" in cookie


def test_login_never_redirects_off_site(client):
    page = client.get("/login")
    resp = client.post("/login", data={"admin_key": ADMIN_SECRET, "csrf_token": csrf_of(page), "next": "//evil.example/"})
    assert resp.headers["Location"] == "/"


def test_wrong_key_then_slowed_down(client):
    a = Admin(client)
    for _ in range(3):
        resp = a.login("wrong")
        assert resp.status_code == 401 and "not the admin key" in resp.get_data(as_text=True)
    resp = a.login(ADMIN_SECRET)  # even the right key waits out the delay
    assert resp.status_code == 429 and "Too many failed attempts" in resp.get_data(as_text=True)


def test_throttle_is_bounded_and_forgets():
    now = [0.0]
    t = LoginThrottle(free=2, max_delay=8, max_entries=3, forget_after=100, clock=lambda: now[0])
    for _ in range(6):
        t.failed("a")
    assert t.wait("a") == 8
    for ip in "bcd":
        t.failed(ip)
    assert t.wait("a") == 0 and len(t._seen) == 3  # the oldest went
    t.failed("b")
    t.failed("b")
    assert t.wait("b") == 2  # its third failure
    now[0] = 500
    assert t.wait("b") == 0


def test_logout(admin):
    resp = admin.post("/logout")
    assert resp.status_code == 303 and resp.headers["Location"] == "/login"
    assert admin.client.get("/").status_code == 302


def test_session_works_on_another_worker(make_app, config_file, admin):
    other = make_app(config_file).test_client()
    other.set_cookie("plexus_session", admin.client.get_cookie("plexus_session").value)
    assert other.get("/keys").status_code == 200


def test_changing_the_admin_key_ends_sessions(app, admin, monkeypatch):
    monkeypatch.setenv("PLEXUS_ADMIN_KEY", "a-new-admin-key-0002")
    from plexus.config import load_config

    app.extensions["plexus"].apply(load_config(app.extensions["plexus"].config.path))
    assert admin.client.get("/").status_code == 302


def test_no_admin_key_no_dashboard(make_app, write_config, env, upstream):
    text = config_text(upstream.url).replace("admin_key: ${PLEXUS_ADMIN_KEY}\n", "")
    client = make_app(write_config(text, "no-admin.yaml")).test_client()
    page = client.get("/login")
    assert page.status_code == 503 and "no <code>admin_key</code>" in page.get_data(as_text=True)
    assert client.post("/login", data={"admin_key": ""}).status_code == 403
    assert client.get("/").status_code == 302


# ---- overview -------------------------------------------------------------------------------------


def test_overview_numbers_and_no_price(app, admin):
    seed(app, {"alias": "fast", "provider": "up", "model": "up-model", "input_tokens": 1000, "output_tokens": 500,
               "cost": None, "duration_ms": 120.0, "ttft_ms": 40.0},
         {"alias": "fast", "provider": "up", "model": "up-model", "status": 502, "cost": None})
    html = admin.get("/?range=hour").get_data(as_text=True)
    assert re.search(r'data-stat="requests">2<', html)
    assert re.search(r'data-stat="error-rate">50%<', html)
    assert re.search(r'data-stat="cost">no price<', html) and "$0.00" not in html
    assert html.count("<rect") >= 2 and "<svg" in html


def test_overview_cost(app, admin):
    seed(app, {"alias": "fast", "input_tokens": 1000, "output_tokens": 500, "cost": 0.0025})
    assert re.search(r'data-stat="cost">\$0.0025<', admin.get("/?range=day").get_data(as_text=True))


def test_cooldowns_shown_and_cleared(app, admin):
    gw = app.extensions["plexus"]
    gw.cooldowns.fail("up", "up-model", "HTTP 429 from upstream", gw.config.cooldown)
    html = admin.get("/").get_data(as_text=True)
    assert "up-model" in html and "HTTP 429 from upstream" in html and "Clear all" in html
    resp = admin.post("/cooldowns/clear", {"provider": "up", "model": "up-model"}, htmx=True)
    assert "Cleared 1 cooldown." in resp.get_data(as_text=True) and gw.cooldowns.active() == []
    assert admin.post("/cooldowns/clear").status_code == 303


# ---- logs -----------------------------------------------------------------------------------------


def test_logs_filters(app, admin):
    seed(app, {"alias": "fast", "provider": "up", "model": "up-model", "key_name": "test"},
         {"alias": "other", "provider": "up", "model": "x", "status": 429})
    html = admin.get("/logs?alias=fast", htmx=True).get_data(as_text=True)
    assert "1 request match" in html and "up-model" in html
    html = admin.get("/logs?status=429", htmx=True).get_data(as_text=True)
    assert "1 request match" in html and "other" in html
    html = admin.get("/logs?status=abc", htmx=True).get_data(as_text=True)
    assert "status must be" in html


def test_logs_cursor_paging_visits_every_row_once(app, admin):
    base = time.time() - 100
    rows = [{"time": base + (i // 7), "alias": f"a{i}"} for i in range(130)]  # 7 rows share each time
    seed(app, *rows)
    seen, url = [], "/logs?range=all"
    for _ in range(10):
        html = admin.get(url, htmx=True).get_data(as_text=True)
        seen += re.findall(r"a(\d+) →", html)
        m = re.search(r'href="(/logs\?[^"]*before=[^"]*)"', html)
        if not m:
            break
        url = m.group(1).replace("&amp;", "&")
    assert sorted(int(s) for s in seen) == list(range(130))


def test_log_detail_has_every_field(app, admin):
    seed(app, {"alias": "fast", "provider": "up", "model": "up-model", "api_style": "chat", "error": "boom",
               "attempts": '[{"provider": "up", "model": "up-model", "status": 503, "error": "over capacity", "ms": 12.5}]'})
    record_id = re.search(r"/logs/(\d+)", admin.get("/logs").get_data(as_text=True)).group(1)
    html = admin.get(f"/logs/{record_id}").get_data(as_text=True)
    for text in ("over capacity", "boom", "Gateway overhead", "Cache write", "12 ms"):
        assert text in html


# ---- providers ------------------------------------------------------------------------------------


def provider_form(**overrides):
    data = {"name": "extra", "type": "chat", "api_base_url": "https://api.example.com/v1", "api_key": "${EXTRA_KEY}",
            "model": ["m1", ""], "price_input": ["0.5", ""], "price_output": ["1.5", ""], "price_cached_input": ["", ""],
            "price_cache_write": ["", ""], "action": "save"}
    return {**data, **overrides}


def test_add_provider(app, admin, config_file):
    version = version_of(admin.get("/providers/new"))
    resp = admin.post("/providers/new", provider_form(version=version), htmx=True)
    assert resp.status_code == 200 and "Provider &#39;extra&#39; added." in resp.get_data(as_text=True)
    assert resp.headers["HX-Push-Url"] == "/providers"
    text = config_file.read_text()
    assert text.startswith(COMMENTED) and "api_key: ${EXTRA_KEY}" in text
    assert "m1: {pricing: {input: 0.5, output: 1.5}}" in text
    provider = app.extensions["plexus"].config.providers["extra"]  # applied to this worker at once
    assert provider.unusable and "EXTRA_KEY" in provider.unusable
    assert (config_file.parent / "plexus.yaml.bak").exists()


def test_provider_form_errors_next_to_fields(admin, config_file):
    before = config_file.read_text()
    version = version_of(admin.get("/providers/new"))
    resp = admin.post("/providers/new", provider_form(version=version, api_base_url="ftp:/x", name="up"), htmx=True)
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert 'id="err-name"' in html and "already a provider" in html
    resp = admin.post("/providers/new", provider_form(version=version, api_base_url="ftp:/x"), htmx=True)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and re.search(r'id="err-api_base_url">Not a valid URL', html)
    resp = admin.post("/providers/new", provider_form(version=version, price_input=["cheap", ""]), htmx=True)
    assert resp.status_code == 422 and "must be a number" in resp.get_data(as_text=True)
    assert config_file.read_text() == before


def test_literal_provider_key_is_masked_and_kept(make_app, write_config, env, upstream):
    path = write_config(config_text(upstream.url).replace("${UPSTREAM_KEY}", PROVIDER_SECRET), "literal.yaml")
    a = Admin(make_app(path).test_client())
    a.login()
    assert "sk-…0001" in a.get("/providers").get_data(as_text=True)
    form = a.get("/providers/up/edit")
    assert "sk-…0001 (unchanged" in form.get_data(as_text=True)
    resp = a.post("/providers/up/edit", provider_form(name="up", api_base_url=upstream.url + "/v1", api_key="",
                                                      model=["up-model", ""], version=version_of(form)))
    assert resp.status_code == 303
    assert f"api_key: {PROVIDER_SECRET}" in path.read_text()
    config = a.get("/config").get_data(as_text=True)
    assert "PLEXUS-HIDDEN-SECRET-1" in config


def test_rename_provider_follows_into_aliases(app, admin, config_file):
    form = admin.get("/providers/up/edit")
    data = provider_form(name="renamed", api_base_url="http://127.0.0.1:9/v1", api_key="${UPSTREAM_KEY}",
                         model=["up-model", ""], price_input=["1.0", ""], price_output=["2.0", ""],
                         price_cached_input=["0.5", ""], version=version_of(form))
    assert admin.post("/providers/up/edit", data).status_code == 303
    text = config_file.read_text()
    assert "  renamed:\n" in text and "{provider: renamed, model: up-model}" in text
    assert "up-model: {pricing: {input: 1.0, output: 2.0, cached_input: 0.5}}" in text  # untouched formatting
    assert app.extensions["plexus"].config.aliases["fast"].targets[0].provider == "renamed"


def test_delete_provider_in_use_is_refused(admin, config_file):
    version = version_of(admin.get("/providers"))
    resp = admin.post("/providers/up/delete", {"version": version}, htmx=True)
    assert resp.status_code == 409 and "used by fast" in resp.get_data(as_text=True)
    assert "  up:\n" in config_file.read_text()


def test_provider_test_button(app, admin, upstream):
    resp = admin.post("/providers/up/test", {"model": "up-model"}, htmx=True)
    html = resp.get_data(as_text=True)
    assert "OK" in html and " ms" in html
    assert upstream.last.body["max_tokens"] == 1 and upstream.last.headers["authorization"] == f"Bearer {PROVIDER_SECRET}"
    upstream.reply(status=401, body={"error": {"message": f"Incorrect API key provided: {PROVIDER_SECRET}"}})
    html = admin.post("/providers/up/test", {"model": "up-model"}, htmx=True).get_data(as_text=True)
    assert "Failed" in html and "Incorrect API key provided: ***" in html
    page = admin.post("/providers/up/test", {"model": "up-model"})  # without htmx: the whole list with the result
    assert "<html" in page.get_data(as_text=True) and "OK" in page.get_data(as_text=True)
    # the button takes the one pipeline: each test left a usage record, under the dashboard's name
    app.extensions["plexus.usage"].writer.flush()
    rows, total = app.extensions["plexus.usage"].store.query(Filters(key_name="dashboard"), 10, 0)
    assert total == 3 and sorted(r["status"] for r in rows) == [200, 200, 401]
    assert {(r["provider"], r["model"], r["alias"]) for r in rows} == {("up", "up-model", "up-model")}


# ---- aliases --------------------------------------------------------------------------------------


def alias_form(**overrides):
    data = {"name": "smart", "selector": "in_order", "additional_aliases": "", "target_provider": ["up", "up"],
            "target_model": ["m-one", "m-two"], "target_weight": ["", ""], "target_orig": ["", ""], "action": "save"}
    return {**data, **overrides}


def test_add_alias_and_route(app, admin, config_file):
    version = version_of(admin.get("/models/new"))
    resp = admin.post("/models/new", alias_form(version=version), htmx=True)
    assert resp.status_code == 200 and "Alias &#39;smart&#39; added." in resp.get_data(as_text=True)
    assert "  smart:\n    selector: in_order\n    targets:\n      - {provider: up, model: m-one}\n" in config_file.read_text()
    alias = app.extensions["plexus"].config.names["smart"]
    assert [t.model for t in alias.targets] == ["m-one", "m-two"]


def test_alias_row_buttons_change_the_form_not_the_file(admin, config_file):
    before = config_file.read_text()
    version = version_of(admin.get("/models/new"))
    html = admin.post("/models/new", alias_form(version=version, action="down:0"), htmx=True).get_data(as_text=True)
    assert html.index('value="m-two"') < html.index('value="m-one"')
    html = admin.post("/models/new", alias_form(version=version, action="remove:1"), htmx=True).get_data(as_text=True)
    assert 'value="m-two"' not in html
    html = admin.post("/models/new", alias_form(version=version, action="add"), htmx=True).get_data(as_text=True)
    assert html.count('name="target_model"') == 3
    assert config_file.read_text() == before


def test_edit_alias_keeps_target_settings(admin, config_file, write_config, upstream):
    text = config_file.read_text().replace("- {provider: up, model: up-model}", "- {provider: up, model: up-model, max_tokens_cap: 64}")
    config_file.write_text(text)
    form = admin.get("/models/fast/edit")
    data = alias_form(name="fast", selector="random", additional_aliases="fast-too, quick",
                      target_provider=["up", "up"], target_model=["new-model", "up-model"], target_weight=["", "3"],
                      target_orig=["", "0"], version=version_of(form))
    assert admin.post("/models/fast/edit", data).status_code == 303
    out = config_file.read_text()
    assert "- {provider: up, model: new-model}\n      - {provider: up, model: up-model, max_tokens_cap: 64, weight: 3}" in out
    assert "additional_aliases: [fast-too, quick]" in out and "selector" not in out.split("fast:")[1].split("\n\n")[0]


def test_alias_errors_next_to_fields(admin, config_file):
    version = version_of(admin.get("/models/new"))
    resp = admin.post("/models/new", alias_form(version=version, target_weight=["-1", "x"], target_provider=["up", ""]))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert 'id="err-targets-0-weight"' in html and 'id="err-targets-1-provider"' in html
    resp = admin.post("/models/new", alias_form(version=version, additional_aliases="fast-too"))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and 'id="err-additional_aliases"' in html and "already used by alias" in html
    resp = admin.post("/models/new", alias_form(version=version, target_provider=["nowhere", "up"]))
    assert resp.status_code == 422 and "no provider named" in resp.get_data(as_text=True)


def test_delete_alias(app, admin, config_file):
    version = version_of(admin.get("/models"))
    resp = admin.post("/models/fast/delete", {"version": version}, htmx=True)
    assert resp.status_code == 200 and "fast:" not in config_file.read_text()
    assert "fast" not in app.extensions["plexus"].config.names


def test_two_admins_one_loses_with_a_clear_message(app, admin, config_file):
    version = version_of(admin.get("/models/new"))
    assert admin.post("/models/new", alias_form(version=version)).status_code == 303
    resp = admin.post("/models/new", alias_form(version=version, name="other"), htmx=True)
    assert resp.status_code == 409 and "changed by someone else" in resp.get_data(as_text=True)
    assert "other:" not in config_file.read_text() and "smart:" in config_file.read_text()


# ---- keys -----------------------------------------------------------------------------------------


def test_create_use_and_revoke_a_key(app, admin, config_file):
    version = version_of(admin.get("/keys"))
    resp = admin.post("/keys", {"name": "ci", "comment": "pipelines", "version": version}, htmx=True)
    html = resp.get_data(as_text=True)
    secret = re.search(r'value="(sk-plexus-[^"]+)"', html).group(1)
    assert resp.headers["Cache-Control"] == "no-store"
    text = config_file.read_text()
    assert secret not in text and hashlib.sha256(secret.encode()).hexdigest() in text and "created: '20" in text
    assert secret not in admin.get("/keys").get_data(as_text=True)  # shown once
    v1 = app.test_client()
    assert v1.get("/v1/models", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    seed(app, {"key_name": "ci"}, {"key_name": "ci"})
    assert re.search(r"<td class=\"num\">2</td>", admin.get("/keys").get_data(as_text=True))
    resp = admin.post("/keys/ci/revoke", {"version": version_of(admin.get("/keys"))}, htmx=True)
    assert resp.status_code == 200 and "ci:" not in config_file.read_text()
    assert v1.get("/v1/models", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_key_name_errors(admin):
    version = version_of(admin.get("/keys"))
    resp = admin.post("/keys", {"name": "test", "version": version}, htmx=True)
    assert resp.status_code == 422 and "already a key" in resp.get_data(as_text=True)
    resp = admin.post("/keys", {"name": "has space", "version": version}, htmx=True)
    assert resp.status_code == 422 and 'id="err-name"' in resp.get_data(as_text=True)


# ---- raw config ------------------------------------------------------------------------------------


def test_config_save_check_and_errors(app, admin, config_file):
    page = admin.get("/config")
    version = version_of(page)
    text = config_file.read_text()
    assert COMMENTED.strip() in page.get_data(as_text=True)
    bad = text.replace("type: chat", "type: nope")
    resp = admin.post("/config", {"text": bad, "version": version, "action": "save"}, htmx=True)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and re.search(r"line \d+: providers.up.type: Must be one of", html)
    assert config_file.read_text() == text
    resp = admin.post("/config", {"text": text + "retention_days: 7\n", "version": version, "action": "check"})
    assert "Valid: this text would load." in resp.get_data(as_text=True) and config_file.read_text() == text
    resp = admin.post("/config", {"text": text + "retention_days: 7\n", "version": version, "action": "save"})
    assert resp.status_code == 200 and config_file.read_text().endswith("retention_days: 7\n")
    assert app.extensions["plexus"].config.retention_days == 7
    resp = admin.post("/config", {"text": text, "version": version, "action": "save"})
    assert resp.status_code == 409 and "changed by someone else" in resp.get_data(as_text=True)


def test_config_hides_literal_secrets_and_keeps_them(make_app, write_config, env, upstream):
    text = config_text(upstream.url).replace("${UPSTREAM_KEY}", PROVIDER_SECRET).replace("${PLEXUS_KEY_TEST}", CLIENT_SECRET)
    path = write_config(text, "literal.yaml")
    a = Admin(make_app(path).test_client())
    a.login()
    page = a.get("/config")
    shown = re.search(r"<textarea[^>]*>(.*)</textarea>", page.get_data(as_text=True), re.S).group(1)
    assert "PLEXUS-HIDDEN-SECRET-1" in shown and "PLEXUS-HIDDEN-SECRET-2" in shown
    import html as html_lib

    edited = html_lib.unescape(shown).replace("read: 5", "read: 7")
    resp = a.post("/config", {"text": edited, "version": version_of(page), "action": "save"})
    assert resp.status_code == 200
    assert path.read_text() == text.replace("read: 5", "read: 7")
