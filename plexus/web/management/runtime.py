"""The management API for the gateway's running state (/v0/management, same admin key as the
usage records): cooldowns, shared by every worker; the answering worker's vital signs; the log
level; debug capture."""

import logging
import os
import time

from flask import Blueprint, Response, current_app, request
from marshmallow import ValidationError, fields, validate

from ... import capture, logging_setup
from ...config import ConfigError
from ...config import edit as config_edit
from ...config.schema import LoggingSchema, StrictSchema
from .access import json_error, json_response, require_admin_key

log = logging.getLogger("plexus.operations")  # its name in log lines since before this module moved

bp = Blueprint("management_runtime", __name__, url_prefix="/v0/management")
bp.before_request(require_admin_key)


def gateway():
    return current_app.extensions["plexus"]


@bp.get("/cooldowns")
def list_cooldowns():
    """Every target cooling down, across all workers (read fresh from the shared table)."""
    cooldowns = gateway().cooldowns
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


# ---- the log level --------------------------------------------------------------------------------


LOGGING = LoggingSchema()  # a change is the config file's own `logging` block, checked the same way


@bp.get("/logging")
def get_logging():
    """The answering worker's log level and format, and what the config file says."""
    config = gateway().config
    return json_response({"level": logging_setup.current_level(), "format": config.log_format,
                          "configured": {"level": config.log_level, "format": config.log_format}, "pid": os.getpid()})


@bp.put("/logging")
def put_logging():
    """Set `logging.level` (and/or `format`) in the config file: this worker applies it at once,
    every other worker within a second (each polls the file), and it survives a restart."""
    try:
        change = LOGGING.load(request.get_json(silent=True) or {})
    except ValidationError as e:
        return json_error(400, _messages(e))
    if not change:
        return json_error(400, "Send {\"level\": \"debug|info|warning|error\"} and/or {\"format\": \"text|json\"}")
    path = gateway().config.path
    if not path or not os.path.isfile(path):
        return json_error(409, "The config did not come from a file, so the level cannot be shared with other workers")
    try:
        saved = _edit_config(path, lambda doc: _set_logging(doc, change))
    except ConfigError as e:
        return json_error(409, "The config file cannot be saved as it stands: " + "; ".join(e.problems))
    except OSError as e:
        return json_error(409, f"The config file cannot be written: {e.strerror}")
    gateway().apply(saved.config)
    log.info("logging set to %s through the management API", change)
    return get_logging()


def _set_logging(doc, change):
    section = config_edit.section(doc, "logging")
    for name, value in change.items():
        config_edit.set_value(section, name, value)


def _edit_config(path, change, tries=3):
    """config_edit.edit on the current version; a save that races another is redone."""
    for n in range(tries):
        try:
            return config_edit.edit(path, config_edit.read(path).version, change)
        except config_edit.Conflict:
            if n == tries - 1:
                raise ConfigError(path, ["it kept changing while we tried to save"]) from None


# ---- debug capture --------------------------------------------------------------------------------


class CaptureSchema(StrictSchema):
    enabled = fields.Boolean()
    providers = fields.List(fields.String())
    max_bytes = fields.Integer(validate=validate.Range(min=1024, max=16 * 1024 * 1024))
    max_total_bytes = fields.Integer(validate=validate.Range(min=1024 * 1024, max=16 * 1024**3))
    retention_hours = fields.Float(validate=validate.Range(min=0.01, max=24 * 365))
    duration_s = fields.Float(allow_none=True, validate=validate.Range(min=1))  # switch off by itself after this


CAPTURE = CaptureSchema()


@bp.get("/capture")
def get_capture():
    """The capture switch (shared by every worker) and what is stored."""
    captures = gateway().capture
    return json_response({**captures.settings.to_json(), "active": captures.on, **captures.stats()})


@bp.put("/capture")
def put_capture():
    """Change the switch for every worker; fields not sent keep their values."""
    try:
        change = CAPTURE.load(request.get_json(silent=True) or {})
    except ValidationError as e:
        return json_error(400, _messages(e))
    unknown = sorted(set(change.get("providers", ())) - set(gateway().config.providers))
    if unknown:
        return json_error(400, f"providers: no provider named {', '.join(map(repr, unknown))}")
    if "providers" in change:
        change["providers"] = tuple(change["providers"])
    if "duration_s" in change:
        duration = change.pop("duration_s")
        change["until"] = time.time() + duration if duration else None
    elif change.get("enabled"):
        change["until"] = None
    settings = gateway().capture.update(**change)
    log.info("debug capture %s (providers: %s)", "on" if settings.enabled else "off",
             ", ".join(settings.providers) or "all")
    return get_capture()


@bp.get("/captures")
def list_captures():
    """Stored captures, newest first (no bodies): `request_id` to find one request's, `limit` (≤ 500)."""
    try:
        limit = min(max(int(request.args.get("limit", "50")), 1), 500)
    except ValueError:
        return json_error(400, "limit must be a whole number")
    return json_response({"data": gateway().capture.list(request.args.get("request_id") or None, limit)})


@bp.get("/captures/<int:capture_id>")
def get_capture_record(capture_id):
    found = gateway().capture.get(capture_id)
    return json_response(found) if found else json_error(404, f"No capture #{capture_id}")


@bp.get("/captures/<int:capture_id>/curl")
def capture_curl(capture_id):
    """A shell command replaying the capture's last upstream call (`?attempt=N` for another), the
    provider key left as a placeholder."""
    found = gateway().capture.get(capture_id)
    if not found:
        return json_error(404, f"No capture #{capture_id}")
    calls = found.get("upstream_requests") or []
    try:
        attempt = int(request.args.get("attempt", len(calls)))
    except ValueError:
        return json_error(400, "attempt must be a whole number")
    if not 1 <= attempt <= len(calls):
        return json_error(404, "This capture has no such upstream call")
    text = capture.curl(found, attempt - 1, gateway().config.path)
    return Response(text, content_type="text/plain; charset=utf-8")


@bp.delete("/captures")
def clear_captures():
    return json_response({"deleted": gateway().capture.clear()})


def _messages(err):
    return "; ".join(f"{k}: {' '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in err.messages.items())
