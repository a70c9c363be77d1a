"""The client-facing HTTP surface: `/v1/*` for every registered API style, `/health`.

Each request: authenticate, read JSON, let the style check it, route the alias to a target, then
either take the fast path (same family: body forwarded, stream relayed) or translate."""

import logging
import os
import re
import time

import orjson
from flask import Blueprint, Response, current_app, g, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from . import api
from .errors import GatewayError, InvalidRequest, RequestTooLarge, UpstreamError, UpstreamTimeout, UpstreamUnavailable
from .proxy import UpstreamStream, retry_after
from .watch import ClientWatcher
from .providers import REGISTRY as PROVIDERS
from .exchange import exchange_for
from .usage.record import UsageRecord

log = logging.getLogger("plexus.request")

bp = Blueprint("v1", __name__)

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
FORWARDED_HEADERS = ("anthropic-version", "anthropic-beta")  # passed on to Anthropic upstreams


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
    """The client key, from whichever place its SDK puts it: OpenAI's bearer token, Anthropic's
    `x-api-key`, Google's `x-goog-api-key` or `?key=`."""
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    for header in ("x-api-key", "x-goog-api-key"):
        if request.headers.get(header):
            return request.headers[header].strip()
    return request.args.get("key", "").strip()


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


def handle(style, **route_args):
    """The one path every request of every style takes. `route_args` are the path's variables
    (e.g. Gemini's model and method), handed to the style with the query string."""
    gw = gateway()
    config = gw.config
    rec = new_record(style)
    cap = gw.capture.begin(request, config) if gw.capture.on else None  # debug capture (plexus/capture.py)
    try:
        rec.key_name = gw.authenticate(client_token()).name
        body = read_json()
        rec.prompt_chars = request.content_length or 0
        route = {"args": route_args, "query": request.args}
        alias, stream = style.check_request(body, route)
        rec.alias, rec.streamed = alias, stream
        candidates = gw.router.candidates(config, alias, gw.cooldowns)
        if hasattr(style, "prepare"):  # styles with server-side conversation state
            body = style.prepare(body, gw.responses, rec.key_name, candidates[0][1].type == style.FAMILY)
        exchange, upstream = connect(gw, config, style, rec, candidates, body, alias, stream, route, cap)
        if cap:
            exchange = cap.tap(exchange, upstream)
        keep = remembering(gw, style, rec, body)
        if not stream:
            answer = relay_json(gw, rec, upstream, exchange, keep)
            if cap:
                cap.finish(answer, rec)
            return answer
        watcher = ClientWatcher(request.environ, upstream)
        events = exchange.stream()
        relay = relay_stream(gw, rec, upstream, events, keep, watcher, upstream.provider.total_timeout)
        if cap:
            relay = cap.relay(relay, rec)
        return Response(relay, content_type=getattr(events, "content_type", "text/event-stream"), headers=SSE_HEADERS)
    except Exception as e:
        if not isinstance(e, GatewayError):  # a bug: still one record, and no stack trace for the client
            log.exception("unexpected error on %s %s", request.method, request.path)
            e = GatewayError("Internal gateway error", status=500)
        rec.finish(e.status, e.message)
        gw.record(rec)
        answer = error_response(style, e, rec.provider_type == style.FAMILY)
        if cap:
            cap.finish(answer, rec)
        return answer


def connect(gw, config, style, rec, candidates, body, alias, stream, route, cap=None):
    """Call the targets in order until one answers: a failure before the client has had a byte
    (connection, timeout, a retryable status, a stream that dies before its first chunk) cools
    that target down and moves on. Returns (exchange, response or UpstreamStream)."""
    policy = config.failover
    error = None
    for n, (target, provider) in enumerate(candidates[: policy.max_attempts]):
        if n and policy.backoff_ms:
            time.sleep(policy.backoff_ms * 2 ** (n - 1) / 1000)
        rec.provider, rec.model, rec.provider_type = provider.id, target.model, provider.type
        exchange = exchange_for(style, PROVIDERS[provider.type], provider.type, body, alias, stream, target, provider, route)
        rec.fast_path = exchange.fast_path
        module = exchange.provider_module
        attempt = {"provider": provider.id, "model": target.model}
        rec.attempts.append(attempt)
        url, headers = module.url(provider, target.model, stream), upstream_headers(module, provider)
        if cap:
            cap.upstream_request(provider, target.model, url, headers, exchange.payload)
        started = rec.upstream_started = time.perf_counter()
        try:
            resp = gw.upstreams.send(provider, url, headers, exchange.payload, stream)
            upstream = UpstreamStream(resp, provider) if stream else resp
        except GatewayError as e:
            if cap:
                cap.upstream_failed(e)
            attempt.update(status=e.status, error=e.message[:200], ms=round((time.perf_counter() - started) * 1000, 1))
            rec.upstream_s += time.perf_counter() - started  # a failed attempt's wait is upstream time too
            if not retryable(e, policy):
                raise
            gw.cooldowns.fail(provider.id, target.model, e.message, config.cooldown, retry_after(e))
            error = e
            continue
        attempt.update(status=resp.status_code, ms=round((time.perf_counter() - started) * 1000, 1))
        gw.cooldowns.succeed(provider.id, target.model)
        return exchange, upstream
    raise error


def retryable(err, policy):
    if isinstance(err, (UpstreamTimeout, UpstreamUnavailable)):
        return True
    return isinstance(err, UpstreamError) and err.status in policy.retry_on


def upstream_headers(module, provider):
    """The provider's headers, with our request id (the providers' `headers()` pass on only the
    client headers their API defines)."""
    headers = module.headers(provider, forwarded_headers())
    headers.setdefault("x-request-id", g.request_id)
    return headers


def forwarded_headers():
    out = {name: request.headers.get(name) for name in FORWARDED_HEADERS if request.headers.get(name)}
    out["x-request-id"] = g.request_id
    return out


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")


@bp.before_app_request
def assign_request_id():
    """The client's `x-request-id` if it is a sane token, else a new one; returned on every answer,
    sent upstream, on every log line and in the usage record."""
    given = request.headers.get("x-request-id", "")
    g.request_id = given if given and _REQUEST_ID.match(given) else os.urandom(16).hex()


@bp.after_app_request
def return_request_id(response):
    if "request_id" in g:
        response.headers["x-request-id"] = g.request_id
    return response


def new_record(style):
    return UsageRecord(api_style=style.STYLE, source_ip=request.remote_addr, request_id=g.request_id)


def remembering(gw, style, rec, body):
    """A callback that stores a finished response for styles that keep conversation state."""
    if not hasattr(style, "remember"):
        return None

    def keep(final):
        try:
            style.remember(gw.responses, rec.key_name, body, final)
        except Exception:  # storing is a service to the client; it must not break the answer
            log.exception("could not store response %s", rec.request_id)

    return keep


def relay_json(gw, rec, resp, exchange, keep=None):
    """A non-streamed answer, read whole, converted, recorded."""
    try:
        raw = resp.content
    except Exception:
        raise UpstreamError("The upstream connection broke while sending its answer", status=502) from None
    finally:
        rec.upstream_s += time.perf_counter() - rec.upstream_started
        resp.close()
    try:
        answer = exchange.answer(raw)
    except orjson.JSONDecodeError:
        raise UpstreamError("The upstream answered with a body that is not JSON", status=502) from None
    rec.usage, rec.finish_reason = answer.usage, answer.finish_reason
    rec.output_chars = answer.output_chars if answer.output_chars is not None else len(raw) // 2
    if keep:
        keep(answer.final)
    rec.first_byte = time.perf_counter()
    rec.finish(resp.status_code)
    gw.record(rec)
    return Response(answer.body, status=resp.status_code, content_type="application/json",
                    headers={"Server-Timing": server_timing(rec)})


def server_timing(rec):
    """The gateway's own share of the request and the upstream's, for anyone to check from outside."""
    upstream = rec.upstream_s * 1000
    return f"gateway;dur={rec.duration_s * 1000 - upstream:.2f}, upstream;dur={upstream:.2f}"


def count_tokens(style, **route_args):
    """Anthropic's `count_tokens` and Gemini's `countTokens`: forwarded to an upstream of the same
    family, estimated for the others."""
    gw = gateway()
    rec = new_record(style)
    try:
        rec.key_name = gw.authenticate(client_token()).name
        body = read_json()
        route = {"args": route_args, "query": request.args}
        alias, _ = style.check_request(body, route, count_only=True)
        rec.alias = alias
        target, provider = gw.router.candidates(gw.config, alias)[0]
        rec.provider, rec.model, rec.provider_type = provider.id, target.model, provider.type
        if provider.type != style.FAMILY:
            rec.finish(200)
            gw.record(rec)
            return Response(orjson.dumps(style.count_estimate(body)), content_type="application/json")
        module = PROVIDERS[provider.type]
        payload, _ = style.passthrough_request(body, target.model, False, route)
        payload = orjson.dumps(payload)
        rec.fast_path = True
        rec.upstream_started = time.perf_counter()
        url = module.count_url(provider, target.model)
        resp = gw.upstreams.send(provider, url, upstream_headers(module, provider), payload)
        raw = resp.content
        rec.upstream_s = time.perf_counter() - rec.upstream_started
        rec.finish(resp.status_code)
        gw.record(rec)
        return Response(raw, status=resp.status_code, content_type="application/json")
    except GatewayError as e:
        rec.finish(e.status, e.message)
        gw.record(rec)
        return error_response(style, e, True)


def relay_stream(gw, rec, upstream, relay, keep, watcher, total_timeout):
    """Forward each upstream event as it arrives. `finally` runs on success, on upstream failure and
    when the client hangs up (the server closes this generator, or the watcher closes the
    upstream), so the upstream is always closed and the request always recorded."""
    status = upstream.resp.status_code
    deadline = rec.started + total_timeout if total_timeout else None
    gw.streams_in_flight += 1
    try:
        for chunk in upstream:
            out = relay.feed(chunk)
            if out:
                if rec.first_byte is None:
                    rec.first_byte = time.perf_counter()
                yield out
            if deadline and time.perf_counter() > deadline:
                raise UpstreamTimeout(f"The answer took longer than the provider's total timeout ({total_timeout:g}s)")
        tail, complete = relay.close()
        if tail:
            yield tail
        if not complete:
            raise UpstreamError("The upstream stream ended before it finished", status=502)
        if keep:
            keep(relay.final)
    except GeneratorExit:
        status = "cancelled"
        raise
    except Exception as e:
        if watcher.client_gone:
            status = "cancelled"
            return
        err = e if isinstance(e, GatewayError) else UpstreamError("The upstream stream broke off", status=502)
        status, rec.error = err.status, err.message
        log.warning("stream from %s ended badly: %s", rec.provider, err.message)
        yield relay.fail(err)
    finally:
        gw.streams_in_flight -= 1
        watcher.stop()
        upstream.close()
        rec.upstream_s += time.perf_counter() - rec.upstream_started
        rec.usage, rec.finish_reason, rec.output_chars = relay.usage, relay.finish_reason, relay.output_chars
        rec.finish(status)
        gw.record(rec)


def error_response(style, err, same_family=False):
    body, status = style.render_error(err, same_family)
    return Response(body, status=status, content_type="application/json", headers=err.headers)


def stored_response(style, response_id, action):
    """GET or DELETE one stored response (Responses API); only the key that made it may."""
    gw = gateway()
    try:
        key = gw.authenticate(client_token())
        return Response(orjson.dumps(action(gw.responses, key.name, response_id)), content_type="application/json")
    except GatewayError as e:
        return error_response(style, e)


def style_models(style):
    """The aliases a client may ask for, in the style's own list format (e.g. Gemini's `models`)."""
    gw = gateway()
    try:
        gw.authenticate(client_token())
    except GatewayError as e:
        return error_response(style, e)
    return Response(orjson.dumps(style.render_models(gw.config.names)), content_type="application/json")


OPERATIONS = {
    "create": (handle, "POST"),
    "models": (style_models, "GET"),
    "count_tokens": (count_tokens, "POST"),
    "retrieve": (lambda style, response_id: stored_response(style, response_id, style.retrieve), "GET"),
    "delete": (lambda style, response_id: stored_response(style, response_id, style.delete), "DELETE"),
}


def register_styles(blueprint):
    """Each style's routes name its operations; a new style is a module and a registry line."""
    for style in api.REGISTRY.values():
        for path, operations in style.ROUTES.items():
            for name in (operations,) if isinstance(operations, str) else operations:
                view, method = OPERATIONS[name]
                blueprint.add_url_rule(path, f"{style.STYLE}:{name}", _view(view, style), methods=[method])


def _view(operation, style):
    def view(**route_args):
        return operation(style, **route_args)

    return view


register_styles(bp)


def style_for_path(path):
    """The API style whose routes this path falls under (OpenAI's by default)."""
    for style in api.REGISTRY.values():
        if any(path.startswith(route.split("<", 1)[0]) for route in style.ROUTES):
            return style
    return api.REGISTRY["chat"]


@bp.app_errorhandler(HTTPException)
def http_error(e):
    """Routing errors (unknown path, wrong method) as JSON in the style the path belongs to."""
    err = GatewayError(e.description or e.name, status=e.code, kind="invalid_request" if e.code < 500 else "api_error")
    if isinstance(e, RequestEntityTooLarge):
        err = RequestTooLarge("The request body is too large")
    return error_response(style_for_path(request.path), err)


@bp.app_errorhandler(Exception)
def unexpected_error(e):
    log.exception("unexpected error on %s %s", request.method, request.path)
    return error_response(style_for_path(request.path), GatewayError("Internal gateway error", status=500))
