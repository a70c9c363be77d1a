"""The Prometheus scrape, `GET /metrics`: every worker's numbers added up, for the admin key or the
config's metrics token (failed attempts throttled like every admin surface's)."""

import hmac

from flask import Blueprint, Response, current_app

from . import admin_guard
from .management.access import json_error, presented_key, throttled

bp = Blueprint("metrics_scrape", __name__)


def gateway():
    return current_app.extensions["plexus"]


@bp.get("/metrics")
def metrics():
    """Prometheus text format, every worker's numbers added up. For the admin key or the metrics token."""
    config = gateway().config
    allowed = [t for t in (config.admin_key, config.metrics_token) if t]
    if not allowed:
        return json_error(403, "Metrics are disabled: set admin_key or metrics.token in the config")
    refused = throttled()
    if refused:
        return refused
    presented = presented_key().encode()
    if not admin_guard.record(bool(presented) and any(hmac.compare_digest(presented, t.encode()) for t in allowed),
                              bool(presented)):
        resp = json_error(401, "Missing or invalid token: send the metrics token or admin key as 'Authorization: Bearer'")
        resp.headers["WWW-Authenticate"] = 'Bearer realm="plexus metrics"'
        return resp
    body, content_type = gateway().metrics.render()
    return Response(body, content_type=content_type)
