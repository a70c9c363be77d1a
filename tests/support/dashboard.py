"""The dashboard through Flask's test client: a logged-in admin whose every answer is checked for secrets."""

import re

from tests.support.secrets import ADMIN_SECRET, SECRETS


class Admin:
    """A logged-in test client that checks every response for secrets."""

    def __init__(self, client):
        self.client = client
        self.token = None

    def login(self, key=ADMIN_SECRET):
        page = self.client.get("/login")
        token = csrf_of(page)
        resp = self.client.post("/login", data={"admin_key": key, "csrf_token": token, "next": "/logs"})
        if resp.status_code == 303:
            self.token = csrf_of(self.client.get("/"))
        return resp

    def get(self, url, htmx=False, **kw):
        return clean(self.client.get(url, headers={"HX-Request": "true"} if htmx else {}, **kw))

    def post(self, url, data=None, htmx=False, **kw):
        data = {"csrf_token": self.token, **(data or {})}
        return clean(self.client.post(url, data=data, headers={"HX-Request": "true"} if htmx else {}, **kw))


def clean(resp):
    body = resp.get_data(as_text=True)
    for secret in SECRETS:
        assert secret not in body, f"a secret in the response to {resp.request.path}"
    return resp


def csrf_of(resp):
    return re.search(r'name="csrf_token" value="([^"]+)"', resp.get_data(as_text=True)).group(1)
