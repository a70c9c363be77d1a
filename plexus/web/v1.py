"""The client-facing HTTP surface: `/v1/*` for every registered API style, `/health`.

Thin views: authenticate where the view answers itself, otherwise read what the core needs from
the request into a `Call`, run the pipeline (plexus/core/pipeline.py), return its Reply."""

import logging
import re
import time

import orjson
from flask import Blueprint, Response, current_app, g, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from .. import catalog
from ..ids import hex_id
from ..core import pipeline
from ..core.affinity import SESSION_HEADERS
from ..core.call import COUNT_TOKENS, CREATE, EMBED, Call
from ..core.errors import GatewayError, NotFound, RequestTooLarge
from ..core.observers import Reply
from ..core.policy import visible_names
from ..wire import model_lists
from ..wire.registry import CLIENT_STYLES, EMBEDDING_STYLES, FORWARDED_HEADERS
from .hangup import ClientWatcher

log = logging.getLogger("plexus.request")

bp = Blueprint("v1", __name__)


def gateway():
    return current_app.extensions["plexus"]


@bp.get("/health")
def health():
    """Always 200 for load balancers; `store` says whether the database is reached (else "degraded":
    records wait in the local fallback file)."""
    state = current_app.extensions["plexus.services"].store_state()
    return Response(b'{"status":"ok","store":"%s"}' % state.encode(), content_type="application/json")


@bp.get("/v1/models")
def list_models():
    """The aliases a client may ask for, in the caller's list format (OpenAI's or Anthropic's)."""
    def listing(gw, shape, created, names):
        out = with_kinds(model_lists.render_list(shape, names, created, request.args), names)
        if shape == model_lists.OPENAI:
            for entry in out["data"]:
                entry.update(openai_limits(catalog.alias_limits(gw.config, names[entry["id"]])))
        return out

    return model_view(listing)


def with_kinds(listing, names):
    """Issue 17: entries for embedding aliases say so (`"kind": "embedding"`)."""
    for entry in listing["data"]:
        kind = names[entry["id"]].kind
        if kind != "chat":
            entry["kind"] = kind
    return listing


@bp.get("/v1/models/<path:model_id>")
def get_model(model_id):
    """One alias, in the caller's shape; an unknown one is a 404 in the caller's error shape."""

    def one(gw, shape, created, names):
        if model_id not in names:
            raise NotFound(f"The model '{model_id}' does not exist or is not served by this gateway",
                           code="model_not_found", param="model")
        entry = model_lists.render_model(shape, model_id, created)
        if shape == model_lists.OPENAI:
            entry.update(openai_limits(catalog.alias_limits(gw.config, gw.config.names[model_id])))
        return entry

    return model_view(one)


def model_view(render):
    shape = model_lists.shape_for(request.headers)
    gw = gateway()
    try:
        key = gw.authenticate(client_token())
        body = render(gw, shape, int(gw.config_loaded_at), visible_names(key, gw.config.names))
    except GatewayError as e:
        return respond(pipeline.error_reply(CLIENT_STYLES[shape], e))
    return Response(orjson.dumps(body), content_type="application/json")


def openai_limits(limits):
    """The fields OpenAI-shaped lists carry them in (OpenRouter's `context_length` and `top_provider`,
    `context_window` as others name it); none when unknown."""
    window, output = limits
    out = {}
    if window:
        out.update(context_length=window, context_window=window)
    if output:
        out["max_output_tokens"] = output
    if out:
        out["top_provider"] = {"context_length": window, "max_completion_tokens": output}
    return out


@bp.get("/v1/key")
def own_key():
    """The calling key's own policy and standing (plexus/core/policy.py), so a script can check
    before it runs out. Without the management-only `unpriced_requests`."""
    gw = gateway()
    try:
        key = gw.authenticate(client_token())
    except GatewayError as e:
        return respond(pipeline.error_reply(style_for_path(request.path), e))
    data = gw.policy.standing(key, time.time())
    if data["budget"]:
        del data["budget"]["unpriced_requests"]
    return Response(orjson.dumps({"data": data}), content_type="application/json")


def environ_key(header):
    """Where a request header is in the WSGI environ (what `request.headers` looks up each time)."""
    return "HTTP_" + header.upper().replace("-", "_")


KEY_HEADERS = tuple(environ_key(h) for h in ("x-api-key", "x-goog-api-key"))
FORWARDED = tuple((name, environ_key(name)) for name in FORWARDED_HEADERS)
SESSION = tuple((name, environ_key(name)) for name in SESSION_HEADERS)


def client_token():
    """The client key, from whichever place its SDK puts it: OpenAI's bearer token, Anthropic's
    `x-api-key`, Google's `x-goog-api-key` or `?key=`."""
    environ = request.environ
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    for key in KEY_HEADERS:
        if environ.get(key):
            return environ[key].strip()
    return request.args.get("key", "").strip()


def read_body():
    try:
        return request.get_data(cache=False)
    except RequestEntityTooLarge:
        raise RequestTooLarge(f"The request body is larger than {current_app.config['MAX_CONTENT_LENGTH']} bytes") from None


def forwarded_headers():
    environ = request.environ
    out = {name: environ[key] for name, key in FORWARDED if environ.get(key)}
    out["x-request-id"] = g.request_id
    return out


def new_call(style, operation, route_args):
    """What the core needs from this request; the body is read by the pipeline, when it needs it."""
    req = request._get_current_object()  # the proxy once, not a context lookup per attribute
    environ = req.environ
    return Call(style, operation, g.request_id, client_token(), read_body, content_type=req.mimetype,
                body_size=req.content_length or 0, route_args=route_args, query=req.args,
                client_headers=forwarded_headers(), source_ip=req.remote_addr, method=req.method,
                path=req.path, client_request=lambda: (req.url, dict(req.headers)),
                watch_client=lambda upstream: ClientWatcher(environ, upstream), session_headers=session_headers())


def session_headers():
    environ = request.environ
    return {name: environ[key] for name, key in SESSION if key in environ}


def respond(reply: Reply) -> Response:
    return Response(reply.body, status=reply.status, content_type=reply.content_type, headers=reply.headers)


def create(style, **route_args):
    """Every style's main operation (chat completion, message, response, generateContent...)."""
    return respond(pipeline.run(gateway(), new_call(style, CREATE, route_args)))


def embed(style, **route_args):
    """OpenAI's `/v1/embeddings`, Gemini's `:embedContent` and `:batchEmbedContents`."""
    return respond(pipeline.run(gateway(), new_call(style, EMBED, route_args)))


def count_tokens(style, **route_args):
    """Anthropic's `count_tokens` and Gemini's `countTokens`: forwarded to an upstream of the same
    family, estimated for the others."""
    return respond(pipeline.run(gateway(), new_call(style, COUNT_TOKENS, route_args)))


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")


@bp.before_app_request
def assign_request_id():
    """The client's `x-request-id` if it is a sane token, else a new one; returned on every answer,
    sent upstream, on every log line and in the usage record."""
    given = request.environ.get("HTTP_X_REQUEST_ID", "")
    g.request_id = given if given and _REQUEST_ID.match(given) else hex_id()


@bp.after_app_request
def return_request_id(response):
    if "request_id" in g:
        response.headers["x-request-id"] = g.request_id
    return response


def stored_response(style, response_id, action):
    """GET or DELETE one stored response (Responses API); only the key that made it may."""
    gw = gateway()
    try:
        key = gw.authenticate(client_token())
        return Response(orjson.dumps(action(gw.responses, key.id, response_id)), content_type="application/json")
    except GatewayError as e:
        return respond(pipeline.error_reply(style, e))


def style_models(style):
    """The aliases a client may ask for, in the style's own list format (e.g. Gemini's `models`)."""
    gw = gateway()
    try:
        key = gw.authenticate(client_token())
    except GatewayError as e:
        return respond(pipeline.error_reply(style, e))
    names = visible_names(key, gw.config.names)
    limits = {name: catalog.alias_limits(gw.config, alias) for name, alias in names.items()}
    return Response(orjson.dumps(style.render_models(names, limits)), content_type="application/json")


OPERATIONS = {
    "create": (create, "POST"),
    "models": (style_models, "GET"),
    "count_tokens": (count_tokens, "POST"),
    "embed": (embed, "POST"),
    "retrieve": (lambda style, response_id: stored_response(style, response_id, style.retrieve), "GET"),
    "delete": (lambda style, response_id: stored_response(style, response_id, style.delete), "DELETE"),
}


def register_styles(blueprint):
    """Each style's routes name its operations; a new style is a module and a registry line."""
    for style in (*CLIENT_STYLES.values(), *EMBEDDING_STYLES.values()):
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
    for style in CLIENT_STYLES.values():
        if any(path.startswith(route.split("<", 1)[0]) for route in style.ROUTES):
            return style
    return CLIENT_STYLES["chat"]


@bp.app_errorhandler(HTTPException)
def http_error(e):
    """Routing errors (unknown path, wrong method) as JSON in the style the path belongs to."""
    err = GatewayError(e.description or e.name, status=e.code, kind="invalid_request" if e.code < 500 else "api_error")
    if isinstance(e, RequestEntityTooLarge):
        err = RequestTooLarge("The request body is too large")
    return respond(pipeline.error_reply(style_for_path(request.path), err))


@bp.app_errorhandler(Exception)
def unexpected_error(e):
    log.exception("unexpected error on %s %s", request.method, request.path)
    return respond(pipeline.error_reply(style_for_path(request.path), GatewayError("Internal gateway error", status=500)))
