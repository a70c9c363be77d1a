"""`/v1/responses` over WebSocket (the Responses API's WebSocket mode, which Codex prefers).

The upgrade is refused before it happens, as an HTTP answer: 401 for a missing or wrong client
key, 426 where this server cannot hold a WebSocket (no raw socket in the WSGI environ), which
clients such as Codex take as "use HTTP" at once. An accepted connection runs each
`response.create` frame through the same pipeline as `POST /v1/responses` (one call, one usage
record per turn) and sends the stream's events back as frames (plexus/wire/responses/websocket.py);
errors are `error` events and the connection stays open for the next turn. A client that closes
the connection mid-turn stops the upstream read, and the turn is recorded as `cancelled`.

flask-sock does the handshake (simple-websocket, wsproto) on the socket gunicorn puts in the
environ; its reader runs in a greenlet of the gevent worker."""

import logging
import threading

import orjson
from flask import Blueprint, request
from flask_sock import Sock
from simple_websocket import ConnectionClosed

from ..core import pipeline
from ..core.call import CREATE, Call
from ..core.errors import GatewayError
from ..ids import hex_id
from ..wire.registry import CLIENT_STYLES
from ..wire.responses.websocket import Session, error_frame
from .v1 import client_token, forwarded_headers, gateway, respond, session_headers

log = logging.getLogger("plexus.request")

bp = Blueprint("responses_ws", __name__)
sock = Sock()
SOCKETS = ("gunicorn.socket", "werkzeug.socket")  # where the servers we run under put the raw socket
HANGUP_POLL_S = 0.25
IDLE_CHECK_S = 1.0  # how soon an idle connection notices that its worker is stopping
GOING_AWAY, INTERNAL_ERROR = 1001, 1011  # WebSocket close codes: the server is going down; a server fault


def worker_alive() -> bool:
    """False once this worker has been told to stop; gunicorn.conf.py's post_worker_init hook puts
    the worker's own flag here. A connection closes (1001) between turns when it turns False, so a
    graceful stop waits only for turns in flight, not for idle connections."""
    return True


@bp.record_once
def _server_options(state):
    state.app.config.setdefault("SOCK_SERVER_OPTIONS", {"max_message_size": state.app.config["MAX_CONTENT_LENGTH"]})


@bp.before_request
def refuse():
    """Answer in HTTP, before any upgrade, when the connection cannot be served."""
    style = CLIENT_STYLES["responses"]
    try:
        gateway().authenticate(client_token())
    except GatewayError as e:
        return respond(pipeline.error_reply(style, e))
    if not any(name in request.environ for name in SOCKETS):
        err = GatewayError("This server cannot hold WebSocket connections: use HTTP (POST /v1/responses)", status=426)
        return respond(pipeline.error_reply(style, err))
    return None


@sock.route("/v1/responses", bp=bp)
def responses_socket(ws):
    log.info("websocket /v1/responses opened from %s", request.remote_addr)
    try:
        serve(ws)
    except ConnectionClosed:
        raise
    except Exception:  # a bug: close this connection (1011) rather than write an HTTP answer into it
        log.exception("unexpected error on the websocket /v1/responses")
        ws.close(reason=INTERNAL_ERROR, message="Internal gateway error")
    finally:
        log.info("websocket /v1/responses closed from %s", request.remote_addr)


def serve(ws):
    style, gw, session = CLIENT_STYLES["responses"], gateway(), Session()
    token, headers, sessions = client_token(), forwarded_headers(), session_headers()
    while True:
        message = ws.receive(timeout=IDLE_CHECK_S)  # raises ConnectionClosed when the client is gone
        if not worker_alive():
            ws.close(reason=GOING_AWAY, message="The gateway is restarting: reconnect")
            return
        if message is None:
            continue
        try:
            asked = session.request(message)
            if asked is None:
                continue
            body, warm_up = asked
            if warm_up:
                gw.authenticate(token)
                for frame in session.warm_up(body):
                    ws.send(frame)
                continue
        except GatewayError as e:
            error, status = style.render_error(e)
            ws.send(error_frame(status, error))
            continue
        turn(ws, gw, style, session, body, token, headers, sessions)


def turn(ws, gw, style, session, body, token, headers, sessions):
    """One `response.create` through the pipeline, its answer as frames."""
    raw = orjson.dumps(body)
    request_id = hex_id()
    call = Call(style, CREATE, request_id, token, lambda: raw, content_type="application/json", body_size=len(raw),
                client_headers={**headers, "x-request-id": request_id}, source_ip=request.remote_addr, method="WEBSOCKET",
                path=request.path, client_request=lambda: (request.url, dict(request.headers)),
                watch_client=lambda upstream: HangupWatcher(ws, upstream), session_headers=sessions)
    reply = pipeline.run(gw, call)
    if isinstance(reply.body, (bytes, str)):
        ws.send(error_frame(reply.status, reply.body, reply.headers))
        return
    try:
        for frame in session.frames(body, reply.body):
            ws.send(frame)
    finally:
        reply.body.close()  # a client gone mid-stream: the relay stops and records the turn as cancelled


class HangupWatcher:
    """Stops the upstream read when the client closes the socket while a turn waits on it (the
    socket's reader notices the close; a send would only notice at the next event)."""

    def __init__(self, ws, upstream):
        self.client_gone = False
        self._done = threading.Event()
        threading.Thread(target=self._watch, args=(ws, upstream), daemon=True).start()

    def _watch(self, ws, upstream):
        while not self._done.wait(HANGUP_POLL_S):
            if not ws.connected:
                self.client_gone = True
                upstream.abort()
                return

    def stop(self):
        self._done.set()
