"""The management API under /v0/management: usage records, summaries and cleanup. JSON only, for
holders of the config's `admin_key` (in `x-admin-key` or `Authorization: Bearer`)."""

import hmac

import orjson
from flask import Blueprint, Response, current_app, request

from .usage import summary
from .usage.params import BadParameter, iso_time, parse_filters, parse_paging, parse_time

bp = Blueprint("management", __name__, url_prefix="/v0/management")


def store():
    return current_app.extensions["plexus.usage"].store


def json_response(payload, status=200):
    return Response(orjson.dumps(payload), status=status, content_type="application/json")


def error_response(status, message):
    kind = {400: "invalid_request", 401: "authentication", 403: "permission"}.get(status, "api_error")
    return json_response({"error": {"message": message, "type": kind}}, status)


@bp.before_request
def require_admin_key():
    admin_key = current_app.extensions["plexus"].config.admin_key
    if not admin_key:
        return error_response(403, "The management API is disabled: set admin_key in the config to use it")
    presented = presented_key()
    if not presented or not hmac.compare_digest(presented.encode(), admin_key.encode()):
        return error_response(401, "Missing or invalid admin key: send it in 'x-admin-key' or 'Authorization: Bearer'")
    return None


def presented_key():
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return request.headers.get("x-admin-key", "").strip()


@bp.errorhandler(BadParameter)
def bad_parameter(e):
    return error_response(400, str(e))


@bp.get("/usage")
def list_usage():
    """Usage records, newest first, filtered and paged."""
    limit, offset = parse_paging(request.args)
    records, total = store().query(parse_filters(request.args), limit, offset)
    return json_response({"data": [record_json(r) for r in records], "total": total})


@bp.get("/usage/summary")
def usage_summary():
    """Totals per time bucket and per group over the last hour, day, week or month."""
    range_name = request.args.get("range", "day")
    group_by = summary.check_group_by(request.args.get("group_by", "alias"))
    window = summary.window(range_name, parse_time(request.args.get("until"), "until"))
    return json_response(summary.build(range_name, window, group_by, store().summary(window, group_by)))


@bp.delete("/usage")
def delete_usage():
    """Delete the records the filters match; without filters, only when `all=true`."""
    filters = parse_filters(request.args)
    if filters.is_empty() and request.args.get("all") != "true":
        raise BadParameter("Name at least one filter, or pass all=true to delete every record")
    return json_response({"deleted": store().delete(filters)})


def record_json(rec):
    """A stored record as the API shows it (the field names are a contract)."""
    return {"id": rec["id"], "time": iso_time(rec["time"]), **{k: v for k, v in rec.items() if k not in ("id", "time")}}
