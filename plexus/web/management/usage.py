"""The management API's usage records: list, summarise and delete them (/v0/management/usage)."""

from flask import Blueprint, current_app, request

from ...usage import summary
from ...usage.params import BadParameter, iso_time, parse_filters, parse_paging, parse_time
from .access import json_error, json_response, require_admin_key

bp = Blueprint("management_usage", __name__, url_prefix="/v0/management")
bp.before_request(require_admin_key)


def store():
    return current_app.extensions["plexus.usage"].store


@bp.errorhandler(BadParameter)
def bad_parameter(e):
    return json_error(400, str(e))


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
