"""What every management endpoint shares: the admin-key check (`x-admin-key` or `Authorization:
Bearer`, failed attempts throttled per client address), and the JSON answers, errors in one shape."""

import hmac

import orjson
from flask import Response, current_app, request

from .. import admin_guard


def json_response(payload, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status=status, content_type="application/json")


def json_error(status: int, message: str) -> Response:
    """`{"error": {"message", "type"}}`, the type named after the status."""
    kind = {400: "invalid_request", 401: "authentication", 403: "permission", 429: "rate_limit"}.get(status, "api_error")
    return json_response({"error": {"message": message, "type": kind}}, status)


def require_admin_key() -> Response | None:
    """A blueprint's before_request: refuse unless the request presents the config's admin key."""
    admin_key = current_app.extensions["plexus"].config.admin_key
    if not admin_key:
        return json_error(403, "The management API is disabled: set admin_key in the config to use it")
    refused = throttled()
    if refused:
        return refused
    presented = presented_key()
    if not admin_guard.record(bool(presented) and hmac.compare_digest(presented.encode(), admin_key.encode()),
                              bool(presented)):
        return json_error(401, "Missing or invalid admin key: send it in 'x-admin-key' or 'Authorization: Bearer'")
    return None


def throttled() -> Response | None:
    """429 with Retry-After while this client address is waiting out failed admin-key attempts."""
    wait = admin_guard.wait()
    if wait <= 0:
        return None
    resp = json_error(429, f"Too many failed admin-key attempts: try again in {wait:.0f} s")
    resp.headers["Retry-After"] = str(max(1, round(wait)))
    return resp


def presented_key() -> str:
    """The token the request presents: `Authorization: Bearer`, else `x-admin-key` ('' for none)."""
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return request.headers.get("x-admin-key", "").strip()
