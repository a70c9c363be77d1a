"""Plexus: a self-hosted LLM API gateway."""

from flask import Flask

from . import services
from .config import load_config

DEFAULT_MAX_BODY = 32 * 1024 * 1024


def create_app(config_path=None, *, config=None, watch=True, **overrides):
    """Build the WSGI app. Raises ConfigError when the config cannot be used. Close it with
    services.close_app(app) (a gunicorn worker's services close when it exits)."""
    config = config or load_config(config_path)
    app = Flask(__name__, static_folder="../static", template_folder="../templates")
    app.config["MAX_CONTENT_LENGTH"] = DEFAULT_MAX_BODY
    app.config.update(overrides)
    running = services.build(config, overrides.get("DATABASE"), watch)
    app.extensions["plexus.services"] = running
    app.extensions["plexus"] = running.gateway
    app.extensions["plexus.usage"] = running.usage

    from .web import admin_guard, dashboard, management, metrics_scrape, responses_ws, v1
    from .web.limits import BodyDeadline
    from .web.proxies import TrustedProxies

    current = lambda: running.gateway.config  # noqa: E731  (follows hot reloads)
    app.wsgi_app = TrustedProxies(BodyDeadline(app.wsgi_app, current), current)
    admin_guard.install(app)

    app.register_blueprint(v1.bp)
    app.register_blueprint(responses_ws.bp)
    for blueprint in management.BLUEPRINTS:
        app.register_blueprint(blueprint)
    app.register_blueprint(metrics_scrape.bp)
    app.register_blueprint(dashboard.bp)
    return app
