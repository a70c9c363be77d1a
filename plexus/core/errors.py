"""Gateway errors: a status, a kind and a message. Each API style renders them in its own shape."""

from typing import Any


class GatewayError(Exception):
    """An error the client should see. `kind` is style-neutral; api modules map it to their wire type."""

    status = 500
    kind = "api_error"

    def __init__(self, message: str, *, status: int | None = None, kind: str | None = None, param: str | None = None,
                 code: str | None = None, headers: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if kind is not None:
            self.kind = kind
        self.param = param
        self.code = code
        self.headers = headers or {}


class InvalidRequest(GatewayError):
    status = 400
    kind = "invalid_request"


class AuthenticationFailed(GatewayError):
    status = 401
    kind = "authentication"


class NotFound(GatewayError):
    status = 404
    kind = "not_found"


class RequestTooLarge(GatewayError):
    status = 413
    kind = "request_too_large"


class UpstreamUnavailable(GatewayError):
    """No usable upstream: connection failed, or the provider is not configured (e.g. missing key)."""

    status = 502
    kind = "upstream_unavailable"


class UpstreamTimeout(GatewayError):
    status = 504
    kind = "timeout"


class UpstreamError(GatewayError):
    """The upstream answered with an error status; we pass its status and message on."""

    def __init__(self, message: str, *, status: int, upstream_type: str | None = None, **kw: Any) -> None:
        super().__init__(message, status=status, kind=kind_for_status(status), **kw)
        self.upstream_type = upstream_type


def kind_for_status(status: int) -> str:
    return {
        400: "invalid_request",
        401: "authentication",
        402: "billing",
        403: "permission",
        404: "not_found",
        408: "timeout",
        413: "request_too_large",
        422: "invalid_request",
        429: "rate_limit",
        500: "api_error",
        502: "upstream_unavailable",
        503: "overloaded",
        504: "timeout",
        529: "overloaded",
    }.get(status, "invalid_request" if 400 <= status < 500 else "api_error")
