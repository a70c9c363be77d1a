"""Management API for the gateway's running state (same auth as the usage API): cooldowns, shared
by every worker, and the answering worker's vital signs."""

from flask import Blueprint, current_app, request

from .management import json_response, require_admin_key

bp = Blueprint("operations", __name__, url_prefix="/v0/management")
bp.before_request(require_admin_key)


def gateway():
    return current_app.extensions["plexus"]


@bp.get("/cooldowns")
def list_cooldowns():
    """Every target cooling down, across all workers (read fresh from the shared table)."""
    cooldowns = gateway().cooldowns
    if cooldowns.path:
        cooldowns.sync()
    return json_response({"data": cooldowns.active()})


@bp.delete("/cooldowns")
def clear_cooldowns():
    """Clear all cooldowns, or those of `?provider=` (and `&model=`); every worker follows within a second."""
    cleared = gateway().cooldowns.clear(request.args.get("provider") or None, request.args.get("model") or None)
    return json_response({"cleared": cleared})


@bp.get("/runtime")
def runtime():
    """The answering worker's pid, open file descriptors, live greenlets and streams in flight."""
    return json_response(gateway().runtime())
