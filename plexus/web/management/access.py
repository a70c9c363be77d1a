"""What every management endpoint shares: the admin-key check (`x-admin-key` or `Authorization:
Bearer`) and the JSON answers, errors in one shape."""

import hmac

import orjson
from flask import Response, current_app, request


def json_response(payload, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status=status, content_type="application/json")


def json_error(status: int, message: str) -> Response:
    """`{"error": {"message", "type"}}`, the type named after the status."""
    kind = {400: "invalid_request", 401: "authentication", 403: "permission"}.get(status, "api_error")
    return json_response({"error": {"message": message, "type": kind}}, status)


def require_admin_key() -> Response | None:
    """A blueprint's before_request: refuse unless the request presents the config's admin key."""
    admin_key = current_app.extensions["plexus"].config.admin_key
    if not admin_key:
        return json_error(403, "The management API is disabled: set admin_key in the config to use it")
    presented = presented_key()
    if not presented or not hmac.compare_digest(presented.encode(), admin_key.encode()):
        return json_error(401, "Missing or invalid admin key: send it in 'x-admin-key' or 'Authorization: Bearer'")
    return None


def presented_key() -> str:
    """The token the request presents: `Authorization: Bearer`, else `x-admin-key` ('' for none)."""
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return request.headers.get("x-admin-key", "").strip()
