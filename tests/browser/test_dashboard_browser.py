"""The dashboard in real headless Chromium against the real gateway under gunicorn (two workers):
log in, add providers (fake upstreams) and an alias in the UI, send a request through /v1, see it
in Logs and in the Overview, re-route the alias and see the next request go elsewhere.

Screenshots of every page (desktop and phone width) go to screenshots/ (git-ignored). Skipped only
when there is no Chromium on this machine (.ci/run installs Debian's)."""

import os
import re
import shutil
import textwrap
import time

import pytest
import requests
from playwright.sync_api import expect, sync_playwright

from tests.support.secrets import ADMIN_SECRET, CLIENT_SECRET, PROVIDER_SECRET, SECRETS
from tests.support.fake_upstream import FakeUpstream
from tests.support.gateway_process import ROOT
from tests.support.gateways import gateway_for

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
if not os.path.exists(CHROMIUM):
    pytest.skip("Chromium is not installed (apt-get install chromium)", allow_module_level=True)

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = ROOT / "screenshots"
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
WIDE = """[...document.querySelectorAll("body *")]
  .filter(e => !e.closest(".table-wrap, .nav") && e.getBoundingClientRect().right > innerWidth + 1)
  .slice(0, 5).map(e => `${e.tagName}.${e.className}#${e.id}: ${Math.round(e.getBoundingClientRect().right)}px`)"""

CONFIG = textwrap.dedent("""\
    # Written by the browser test; the dashboard edits the rest.
    admin_key: ${PLEXUS_ADMIN_KEY}   # dashboard login

    keys:
      test:
        secret: ${PLEXUS_KEY_TEST}
        comment: the test client
""")


@pytest.fixture(scope="module")
def upstreams():
    with FakeUpstream() as a, FakeUpstream() as b:
        yield a, b


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, upstreams):
    folder = tmp_path_factory.mktemp("browser")
    with gateway_for(CONFIG, folder, env={"DATABASE_URL": f"sqlite:///{folder / 'usage.db'}"}, workers=2) as gw:
        gw.config_file = folder / "plexus.yaml"
        yield gw


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    SHOTS.mkdir(exist_ok=True)
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(str(profile), executable_path=CHROMIUM, headless=True, args=ARGS,
                                                   viewport=DESKTOP)
        ctx.set_default_timeout(10_000)
        yield ctx
        ctx.close()


def shot(page, name):
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    html = page.content()
    for secret in SECRETS:
        assert secret not in html, f"a secret is in the page {name}"


def chat(gateway, model="chat", key=CLIENT_SECRET):
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    return requests.post(gateway.url + "/v1/chat/completions", json=body, timeout=10,
                         headers={"Authorization": f"Bearer {key}"})


def eventually(check, timeout=8.0, every=0.2):
    deadline = time.time() + timeout
    while True:
        result = check()
        if result or time.time() > deadline:
            return result
        time.sleep(every)


def add_provider(page, name, base_url, model, prices=None):
    page.get_by_role("link", name="Add provider").click()
    expect(page.get_by_role("heading", name="Add provider")).to_be_visible()
    page.fill("#name", name)
    page.select_option("#type", "chat")
    page.fill("#api_base_url", base_url)
    page.fill("#api_key", "${UPSTREAM_KEY}")
    page.locator("input[name=model]").first.fill(model)
    for field, value in (prices or {}).items():
        page.locator(f"input[name=price_{field}]").first.fill(str(value))
    page.get_by_role("button", name="Add provider").click()
    expect(page.get_by_text(f"Provider '{name}' added.")).to_be_visible()


def watch_csp(page):
    """Every Content-Security-Policy violation the page reports (the dashboard's CSP allows no
    inline script or style: a template that needs one would break under it)."""
    violations = []
    page.on("console", lambda m: "Content Security Policy" in m.text and violations.append(m.text))
    page.on("pageerror", lambda e: violations.append(f"page error: {e}"))
    return violations


def test_operator_journey(gateway, upstreams, context):
    up_a, up_b = upstreams
    page = context.new_page()
    violations = watch_csp(page)

    # log in
    page.goto(gateway.url + "/")
    expect(page).to_have_url(re.compile(r"/login"))
    page.fill("#admin_key", "not-the-key")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("not the admin key")
    shot(page, "login-desktop")
    page.fill("#admin_key", ADMIN_SECRET)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()

    # two providers, added in the UI; one test request through the first
    page.get_by_role("link", name="Providers", exact=True).click()
    add_provider(page, "fake-a", up_a.url + "/v1", "model-a", {"input": 1, "output": 2})
    expect(page).to_have_url(re.compile(r"/providers$"))
    add_provider(page, "fake-b", up_b.url + "/v1", "model-b")
    card = page.locator("#provider-fake-a")
    expect(card).to_contain_text("${UPSTREAM_KEY}")
    card.get_by_role("button", name="Send a test request").click()
    expect(card.locator(".test-result")).to_contain_text("OK")
    assert up_a.last.headers["authorization"] == f"Bearer {PROVIDER_SECRET}"
    shot(page, "providers-desktop")

    # an invalid edit shows its error next to the field
    page.locator("#provider-fake-b").get_by_role("link", name="Edit").click()
    page.fill("#api_base_url", "not a url")
    page.get_by_role("button", name="Save provider").click()
    expect(page.locator(".field.invalid #api_base_url")).to_be_visible()
    expect(page.locator("#err-api_base_url")).to_contain_text("URL")
    shot(page, "provider-form-error-desktop")
    page.get_by_role("link", name="Cancel").first.click()

    # an alias routed to fake-a
    page.get_by_role("link", name="Models", exact=True).click()
    page.get_by_role("link", name="Add alias").click()
    page.fill("#name", "chat")
    page.select_option("#t0-provider", "fake-a")
    page.fill("#t0-model", "model-a")
    page.get_by_role("button", name="+ Add target").click()
    page.select_option("#t1-provider", "fake-b")
    page.fill("#t1-model", "model-b")
    page.fill("#t1-weight", "0")
    shot(page, "alias-form-desktop")
    page.get_by_role("button", name="Add alias").click()
    expect(page.get_by_text("Alias 'chat' added.")).to_be_visible()
    shot(page, "models-desktop")

    # a request through the gateway (either worker: the other picks the file up within a second)
    up_a.reset()
    resp = eventually(lambda: (r := chat(gateway)).status_code == 200 and r)
    assert resp, gateway.log()[-2000:]
    assert up_a.requests and up_a.last.body["model"] == "model-a"

    # ... appears in Logs
    page.get_by_role("link", name="Logs", exact=True).click()
    # a reload before the click's navigation commits would cancel it and keep reloading Models
    expect(page).to_have_url(re.compile(r"/logs$"))
    row = page.locator("#log-rows tbody tr").first
    eventually(lambda: page.reload() or row.count() > 0)
    expect(row).to_contain_text("chat")
    expect(row).to_contain_text("model-a")
    expect(row).to_contain_text("200")
    shot(page, "logs-desktop")
    row.get_by_role("link").first.click()
    expect(page.get_by_role("heading", name="Attempts")).to_be_visible()
    expect(page.locator("#log-detail")).to_contain_text("fake-a")
    shot(page, "log-detail-desktop")

    # ... and in the Overview numbers
    page.get_by_role("link", name="Overview").click()
    page.get_by_role("link", name="1 hour").click()
    expect(page.locator("[data-stat=requests]")).not_to_have_text("0")
    expect(page.locator("[data-stat=cost]")).not_to_have_text("no price")
    expect(page.locator("svg.bars rect").first).to_be_visible()
    shot(page, "overview-desktop")

    # re-route the alias to fake-b: move it first, switch to in_order
    page.get_by_role("link", name="Models", exact=True).click()
    page.locator("#alias-chat").get_by_role("link", name="Edit").click()
    page.get_by_role("button", name="Move target 2 up").click()
    expect(page.locator("#t0-provider")).to_have_value("fake-b")
    page.select_option("#selector", "in_order")
    page.get_by_role("button", name="Save alias").click()
    expect(page.get_by_text("Alias 'chat' saved.")).to_be_visible()
    text = gateway.config_file.read_text()
    assert "# Written by the browser test" in text and "${PLEXUS_KEY_TEST}" in text and "${UPSTREAM_KEY}" in text
    up_b.reset()
    assert eventually(lambda: chat(gateway).status_code == 200 and bool(up_b.requests)), "fake-b never got a request"
    assert up_b.last.body["model"] == "model-b"

    # a new key, shown once, works at once
    page.get_by_role("link", name="Keys").click()
    page.fill("#key-name", "ci")
    page.fill("#key-comment", "made in the browser test")
    page.get_by_role("button", name="Create key").click()
    secret = page.locator("input.secret").input_value()
    assert secret.startswith("sk-plexus-")
    assert secret not in gateway.config_file.read_text()
    shot(page, "keys-desktop")
    assert eventually(lambda: chat(gateway, key=secret).status_code == 200)
    page.reload()
    expect(page.locator("input.secret")).to_have_count(0)

    page.get_by_role("link", name="Config").click()
    expect(page.locator("#config-text")).to_contain_text("fake-a")
    shot(page, "config-desktop")
    assert not violations, violations
    page.close()


def test_phone_width(gateway, context):
    """Every page at phone width (after the journey above filled them)."""
    page = context.new_page()
    violations = watch_csp(page)
    page.set_viewport_size(PHONE)
    page.goto(gateway.url + "/login")
    if page.locator("#admin_key").count():
        page.fill("#admin_key", ADMIN_SECRET)
        page.get_by_role("button", name="Log in").click()
    for path, name in (("/?range=hour", "overview"), ("/logs", "logs"), ("/providers", "providers"),
                       ("/models", "models"), ("/models/chat/edit", "alias-form"), ("/keys", "keys"),
                       ("/config", "config")):
        page.goto(gateway.url + path)
        expect(page.locator("main h1").first).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"] + 1, f"{path} scrolls sideways on a phone ({width}px): {page.evaluate(WIDE)}"
        shot(page, f"{name}-phone")
    assert not violations, violations
    page.close()
