"""Plexus: a self-hosted LLM API gateway."""

import logging

from flask import Flask

from .capture import Captures
from .config import ConfigWatcher, load_config
from .gateway import Gateway
from .cooldowns import Cooldowns
from .metrics import Metrics
from .responses_store import ResponseStore
from .usage import database_path, open_usage

log = logging.getLogger("plexus")

DEFAULT_MAX_BODY = 32 * 1024 * 1024


def create_app(config_path=None, *, config=None, watch=True, **overrides):
    """Build the WSGI app. Raises ConfigError when the config cannot be used."""
    config = config or load_config(config_path)
    app = Flask(__name__, static_folder="../static", template_folder="../templates")
    app.config["MAX_CONTENT_LENGTH"] = DEFAULT_MAX_BODY
    app.config.update(overrides)
    gw = Gateway(config)  # configures logging
    for warning in config.warnings():
        log.warning("%s", warning)
    app.extensions["plexus"] = gw
    usage = open_usage(config, lambda: gw.config, overrides.get("DATABASE"))
    gw.sinks.append(usage.writer.submit)
    app.extensions["plexus.usage"] = usage
    database = database_path(config, overrides.get("DATABASE"))
    gw.responses = ResponseStore(database)
    gw.cooldowns = Cooldowns(database)
    gw.capture = Captures(database)
    gw.metrics = Metrics(gw, queue_depth=usage.writer.depth)
    gw.sinks.append(gw.metrics.observe)

    from . import dashboard, endpoints, management, operations

    app.register_blueprint(endpoints.bp)
    app.register_blueprint(management.bp)
    app.register_blueprint(operations.bp)
    app.register_blueprint(operations.scrape)
    app.register_blueprint(dashboard.bp)

    if watch:  # the background threads that keep this worker in step with the others
        app.extensions["plexus.watcher"] = ConfigWatcher(config.path, gw.apply, stamp=config.stamp).start()
        gw.cooldowns.start()
        gw.capture.start()
        gw.metrics.start()
    return app
