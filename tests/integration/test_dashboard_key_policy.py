"""The Keys page and a key's policy (issue 14): standing shown (rate against limits, spend against
budget as a bar, expiry), the policy edited through the same atomic, comment-keeping save."""

import re

import pytest
import yaml

from plexus import create_app
from tests.support.configs import config_text
from tests.support.dashboard import Admin
from tests.support.secrets import CLIENT_SECRET

COMMENT = "# the team's key: keep this comment\n"
POLICY = """    allowed_models: [fast]
    limits: {rpm: 60, concurrent: 4}
    budget: {usd: 1, period: month}
"""


@pytest.fixture
def config_file(env, write_config, upstream):
    text = config_text(upstream.url).replace("  test:\n", "  test:  " + COMMENT, 1)
    return write_config(text.replace("    secret: ${PLEXUS_KEY_TEST}\n", "    secret: ${PLEXUS_KEY_TEST}\n" + POLICY))


@pytest.fixture
def app(config_file, tmp_path):
    app = create_app(str(config_file), watch=False, DATABASE=str(tmp_path / "usage.db"))
    app.testing = True
    return app


@pytest.fixture
def admin(app):
    a = Admin(app.test_client())
    assert a.login().status_code == 303
    return a


def version_of(resp):
    return re.search(r'name="version" value="([^"]*)"', resp.get_data(as_text=True)).group(1)


def test_the_keys_page_shows_rate_against_limits_spend_against_budget_and_expiry(app, admin):
    client = app.test_client()
    body = {"model": "fast", "messages": [{"role": "user", "content": "hi"}]}
    assert client.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {CLIENT_SECRET}"}).status_code == 200
    assert app.extensions["plexus.usage"].writer.flush()
    html = admin.get("/keys").get_data(as_text=True)
    assert "1/60 rpm" in html and "0/4 in flight" in html
    assert re.search(r'<progress class="budget-bar" value="2.2e-05" max="1.0">[^<]*</progress> \$0.00 of \$1.00 per month', html)
    assert 'style="' not in html  # the dashboard's CSP allows no inline style
    assert 'href="/keys/test/edit"' in html


def test_editing_a_keys_policy_saves_it_keeping_comments_and_applies_it(app, admin, config_file):
    form = admin.get("/keys/test/edit").get_data(as_text=True)
    assert 'value="fast"' in form and 'name="limits.rpm" value="60"' in form
    resp = admin.post("/keys/test/edit", {"version": version_of(admin.get("/keys/test/edit")), "allowed_models": "fast, fast-too",
                                          "limits.rpm": "", "limits.tpm": "5000", "limits.concurrent": "2",
                                          "budget.usd": "2.5", "budget.period": "week",
                                          "expires_at": "2030-01-01T00:00:00Z"}, htmx=True)
    assert resp.status_code == 200 and "Key &#39;test&#39; saved." in resp.get_data(as_text=True)
    text = config_file.read_text()
    assert COMMENT.strip() in text
    spec = yaml.safe_load(text.replace("${PLEXUS_KEY_TEST}", "x"))["keys"]["test"]
    assert spec["allowed_models"] == ["fast", "fast-too"]
    assert spec["limits"] == {"tpm": 5000, "concurrent": 2} and spec["budget"] == {"usd": 2.5, "period": "week"}
    assert str(spec["expires_at"]).startswith("2030-01-01")
    rules = app.extensions["plexus"].config.keys["test"].policy
    assert rules.limits.tpm == 5000 and rules.budget.period == "week"
    cleared = {"version": version_of(admin.get("/keys/test/edit")), "budget.period": "month"}
    assert admin.post("/keys/test/edit", cleared, htmx=True).status_code == 200
    assert app.extensions["plexus"].config.keys["test"].policy is None
    assert "allowed_models" not in config_file.read_text() and COMMENT.strip() in config_file.read_text()


def test_policy_form_refusals_sit_next_to_their_fields(admin, config_file):
    before = config_file.read_text()
    version = version_of(admin.get("/keys/test/edit"))
    resp = admin.post("/keys/test/edit", {"version": version, "limits.rpm": "0", "budget.usd": "-1",
                                          "budget.period": "month"}, htmx=True)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and 'id="err-limits-rpm"' in html and 'id="err-budget-usd"' in html
    resp = admin.post("/keys/test/edit", {"version": version, "budget.period": "month", "expires_at": "soon"}, htmx=True)
    assert resp.status_code == 422 and 'id="err-expires_at"' in resp.get_data(as_text=True)
    resp = admin.post("/keys/test/edit", {"version": version, "allowed_models": "nope", "budget.period": "month"}, htmx=True)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "no alias named &#39;nope&#39;" in html and 'id="err-allowed_models"' in html
    assert config_file.read_text() == before
