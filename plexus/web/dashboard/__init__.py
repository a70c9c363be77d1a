"""The dashboard: server-rendered pages (Jinja + htmx) to watch the gateway and change its config.

One blueprint, `bp`, at the site root; each area (overview, logs, providers, aliases, keys, raw
config) is a module of views on it, declaring the nav section its pages highlight. A plain request
gets the full page, an htmx request the fragment the page is built from (`_name.html`), with
`Vary: HX-Request`. `security.py` owns the session, CSRF and login checks."""

# importing an area's module adds its views to the blueprint
from . import aliases, config_page, key_policy, keys, login, overview, pages, providers, request_log  # noqa: F401

bp = pages.bp
