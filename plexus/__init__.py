"""Plexus: a self-hosted LLM API gateway."""

import logging

from flask import Flask

from .config import ConfigWatcher, load_config
from .gateway import Gateway
from .usage import open_usage

log = logging.getLogger("plexus")

DEFAULT_MAX_BODY = 32 * 1024 * 1024


def create_app(config_path=None, *, config=None, watch=True, **overrides):
    """Build the WSGI app. Raises ConfigError when the config cannot be used."""
    config = config or load_config(config_path)
    app = Flask(__name__, static_folder="../static", template_folder="../templates")
    app.config["MAX_CONTENT_LENGTH"] = DEFAULT_MAX_BODY
    app.config.update(overrides)
    _setup_logging()
    for warning in config.warnings():
        log.warning("%s", warning)

    gw = Gateway(config)
    app.extensions["plexus"] = gw
    usage = open_usage(config, lambda: gw.config, overrides.get("DATABASE"))
    gw.sinks.append(usage.writer.submit)
    app.extensions["plexus.usage"] = usage

    from . import endpoints, management

    app.register_blueprint(endpoints.bp)
    app.register_blueprint(management.bp)

    if watch:
        app.extensions["plexus.watcher"] = ConfigWatcher(config.path, gw.apply, stamp=config.stamp).start()
    return app


def _setup_logging():
    root = logging.getLogger("plexus")
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        root.propagate = False
