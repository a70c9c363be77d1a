"""The client-facing HTTP surface: `/v1/*` for every registered API style, `/health`.

Each request: authenticate, read JSON, let the style check it, route the alias to a target, then
either take the fast path (same family: body forwarded, stream relayed) or translate."""

import logging
import time

import orjson
from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from . import api
from .errors import GatewayError, InvalidRequest, RequestTooLarge, UpstreamError
from .proxy import iter_body
from .providers import REGISTRY as PROVIDERS
from .unified.usage import from_openai
from .usage.record import UsageRecord

log = logging.getLogger("plexus.request")

bp = Blueprint("v1", __name__)

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def gateway():
    return current_app.extensions["plexus"]


@bp.get("/health")
def health():
    return Response(b'{"status":"ok"}', content_type="application/json")


@bp.get("/v1/models")
def list_models():
    """The aliases a client may ask for, in OpenAI's list format."""
    style = api.REGISTRY["chat"]
    gw = gateway()
    try:
        gw.authenticate(client_token())
    except GatewayError as e:
        return error_response(style, e)
    created = int(gw.config_loaded_at)
    data = [{"id": name, "object": "model", "created": created, "owned_by": "plexus"} for name in gw.config.names]
    return Response(orjson.dumps({"object": "list", "data": data}), content_type="application/json")


def client_token():
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return request.headers.get("x-api-key", "").strip()


def read_json():
    ctype = request.mimetype
    if ctype and "json" not in ctype:
        raise InvalidRequest(f"Unsupported Content-Type '{ctype}': send the body as application/json")
    try:
        raw = request.get_data(cache=False)
    except RequestEntityTooLarge:
        raise RequestTooLarge(f"The request body is larger than {current_app.config['MAX_CONTENT_LENGTH']} bytes") from None
    if not raw:
        raise InvalidRequest("The request body is empty: send a JSON object")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise InvalidRequest(f"The request body is not valid JSON: {e}") from None


def handle(style):
    """The one path every request of every style takes."""
    gw = gateway()
    config = gw.config
    rec = UsageRecord(api_style=style.STYLE, source_ip=request.remote_addr)
    same_family = False
    try:
        rec.key_name = gw.authenticate(client_token()).name
        body = read_json()
        rec.prompt_chars = request.content_length or 0
        alias, stream = style.check_request(body)
        rec.alias, rec.streamed = alias, stream
        candidates = gw.router.candidates(config, alias)
        target, provider = candidates[0]
        rec.provider, rec.model, rec.provider_type = provider.id, target.model, provider.type
        same_family = provider.type == style.FAMILY
        if not same_family:
            raise GatewayError(
                f"Provider '{provider.id}' speaks '{provider.type}', which '{style.STYLE}' clients cannot reach yet",
                status=501,
                kind="not_implemented",
            )
        rec.fast_path = True
        return fast_path(gw, style, rec, body, alias, stream, target, provider)
    except GatewayError as e:
        rec.finish(e.status, e.message)
        gw.record(rec)
        return error_response(style, e, same_family)


def fast_path(gw, style, rec, body, alias, stream, target, provider):
    module = PROVIDERS[provider.type]
    payload, client_wants_usage = style.passthrough_request(body, target.model, stream)
    rec.attempts.append({"provider": provider.id, "model": target.model})
    rec.upstream_started = time.perf_counter()
    resp = gw.upstreams.send(provider, module.url(provider, target.model, stream), module.headers(provider), payload, stream)
    if not stream:
        return relay_json(gw, style, rec, resp, alias)
    return Response(
        relay_stream(gw, style, rec, resp, style.StreamRelay(alias, client_wants_usage)),
        content_type="text/event-stream",
        headers=SSE_HEADERS,
    )


def relay_json(gw, style, rec, resp, alias):
    try:
        raw = resp.content
    except Exception:
        raise UpstreamError("The upstream connection broke while sending its answer", status=502) from None
    finally:
        rec.upstream_s = time.perf_counter() - rec.upstream_started
        resp.close()
    try:
        out, data = style.relay_response(raw, alias)
    except orjson.JSONDecodeError:
        raise UpstreamError("The upstream answered with a body that is not JSON", status=502) from None
    rec.usage = from_openai(data.get("usage")) if isinstance(data, dict) else None
    choices = data.get("choices") if isinstance(data, dict) else None
    if choices and isinstance(choices[0], dict):
        rec.finish_reason = choices[0].get("finish_reason")
    rec.first_byte = time.perf_counter()
    rec.finish(resp.status_code)
    gw.record(rec)
    return Response(out, status=resp.status_code, content_type="application/json")


def relay_stream(gw, style, rec, resp, relay):
    """Forward each upstream event as it arrives. `finally` runs on success, on upstream failure and
    when the client hangs up (the server closes this generator), so the upstream is always closed
    and the request always recorded."""
    status = resp.status_code
    try:
        for chunk in iter_body(resp):
            out = relay.feed(chunk)
            if out:
                if rec.first_byte is None:
                    rec.first_byte = time.perf_counter()
                yield out
        tail, complete = relay.close()
        if tail:
            yield tail
        if not complete:
            status = 502
            rec.error = "upstream stream ended before it finished"
            yield style.render_stream_error(UpstreamError("The upstream stream ended before it finished", status=502))
    except GeneratorExit:
        status = "cancelled"
        raise
    except Exception as e:
        status = 502
        rec.error = f"upstream stream broke: {type(e).__name__}"
        log.warning("stream from %s broke: %s", rec.provider, type(e).__name__)
        yield style.render_stream_error(UpstreamError("The upstream stream broke off", status=502))
    finally:
        resp.close()
        rec.upstream_s = time.perf_counter() - rec.upstream_started
        rec.usage, rec.finish_reason = relay.usage, relay.finish_reason
        rec.output_chars = relay.chunks * 4
        rec.finish(status)
        gw.record(rec)


def error_response(style, err, same_family=False):
    body, status = style.render_error(err, same_family)
    return Response(body, status=status, content_type="application/json", headers=err.headers)


def register_styles(blueprint):
    for style in api.REGISTRY.values():
        for path in style.PATHS:
            blueprint.add_url_rule(path, f"{style.STYLE}:{path}", _view(style), methods=["POST"])


def _view(style):
    def view():
        return handle(style)

    return view


register_styles(bp)


@bp.app_errorhandler(HTTPException)
def http_error(e):
    """Routing errors (unknown path, wrong method) in OpenAI's shape on `/v1`, plain JSON elsewhere."""
    err = GatewayError(e.description or e.name, status=e.code, kind="invalid_request" if e.code < 500 else "api_error")
    if isinstance(e, RequestEntityTooLarge):
        err = RequestTooLarge("The request body is too large")
    return error_response(api.REGISTRY["chat"], err)


@bp.app_errorhandler(Exception)
def unexpected_error(e):
    log.exception("unexpected error on %s %s", request.method, request.path)
    return error_response(api.REGISTRY["chat"], GatewayError("Internal gateway error", status=500))
