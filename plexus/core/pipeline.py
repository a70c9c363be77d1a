"""The one path every call takes, whatever carried it in (the /v1 views, count_tokens, the
dashboard's test button, later the WebSocket mode):

resolve (key, body, alias) -> choose a target (router, cooldowns) -> exchange with failover ->
relay (whole or streamed) -> record (one usage record per call, also on failure or hang-up).

Flask-free: a `Call` comes in, a `Reply` goes out. Observers (debug capture) are told what happens
at fixed points; with none, nothing on the hot path looks for them."""

import logging
import time
from typing import Any, Callable, Iterator

import orjson

from ..wire.limits import walk
from ..wire.registry import PROVIDERS
from ..wire.state_refs import refuse_reference, refuse_top_level
from .call import COUNT_TOKENS, Call
from .errors import AuthenticationFailed, GatewayError, InvalidRequest, UpstreamError, UpstreamTimeout, UpstreamUnavailable
from .exchange import Candidate, CountEstimate, exchange_for
from .gateway import Gateway
from .observers import Observer, Reply, observers_for
from .upstream import UpstreamStream, retry_after

log = logging.getLogger("plexus.request")

JSON = "application/json"
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def run(gw: Gateway, call: Call) -> Reply:
    """Answer one call. Never raises: every outcome is a Reply, and every call leaves one record."""
    config = gw.config
    rec = call.record
    watch = None
    try:
        if call.key_name is None:
            key = gw.authenticate(call.token)
            rec.key_name, call.owner = key.name, key.id
        else:
            rec.key_name = call.key_name
        # observers (capture) only for an authenticated call: nobody else's body is kept
        watch = observers_for(gw.observers, call, config) if gw.observers else None
        body = parse_body(call)
        if call.operation == COUNT_TOKENS:
            call.alias, _ = call.style.check_request(body, call.route, count_only=True)
        else:
            rec.prompt_chars = call.body_size
            call.alias, call.stream = call.style.check_request(body, call.route)
            rec.streamed = call.stream
            if isinstance(body.get("prompt_cache_key"), str):
                call.prompt_cache_key = body["prompt_cache_key"]
        rec.alias = call.alias
        link = connect(gw, config, call, body, watch)
        if call.stream:
            chunks = relay_stream(gw, call, link, call.watch_client(link.upstream))
            if watch:
                chunks = observed(chunks, call, watch)
            return Reply(200, chunks, link.events.content_type, dropped_header(link, SSE_HEADERS))
        reply = relay_whole(gw, call, link, watch)
    except Exception as e:
        if not isinstance(e, GatewayError):  # a bug: still one record, and no stack trace for the client
            log.exception("unexpected error on %s %s", call.method, call.path)
            e = GatewayError("Internal gateway error", status=500)
        rec.key_refused = isinstance(e, AuthenticationFailed)
        rec.finish(e.status, e.message)
        gw.record(rec)
        same_family = call.operation == COUNT_TOKENS or rec.provider_type == call.style.FAMILY
        reply = error_reply(call.style, e, same_family)
    if watch:
        watch.finish(call, reply)
    return reply


def parse_body(call: Call) -> Any:
    ctype = call.content_type
    if ctype and "json" not in ctype:
        raise InvalidRequest(f"Unsupported Content-Type '{ctype}': send the body as application/json")
    raw = call.take_body()
    if not raw:
        raise InvalidRequest("The request body is empty: send a JSON object")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise InvalidRequest(f"The request body is not valid JSON: {e}") from None
    refuse_top_level(call.style.STYLE, body)
    walk(body, lambda node: refuse_reference(node, body))  # nesting capped, upstream-state references refused
    return body


class Link:
    """The exchange with the target that answered, its open upstream response, the body it got."""

    __slots__ = ("exchange", "upstream", "to", "body", "events")

    def __init__(self, exchange: Any, upstream: Any, to: Candidate, body: dict, watch: Observer | None = None) -> None:
        self.exchange, self.upstream, self.to, self.body = exchange, upstream, to, body
        self.events = None  # the stream relay (fast path) or translator, for a streamed answer
        if isinstance(upstream, UpstreamStream):
            self.events = exchange.stream() if not watch else Tapped(exchange.stream(), watch)


def connect(gw: Gateway, config: Any, call: Call, body: dict, watch: Observer | None) -> Link:
    """Call the targets in order until one answers: a failure before the client has had a byte
    (connection, timeout, a retryable status, a stream that dies before its first chunk) cools
    that target down and moves on."""
    rec = call.record
    policy = config.failover
    candidates = call.targets or gw.router.candidates(config, call.alias, gw.cooldowns)
    prepared = conversation(gw, call, body)
    error = None
    for n, (target, provider) in enumerate(candidates[: policy.max_attempts]):
        if n and policy.backoff_ms:
            time.sleep(policy.backoff_ms * 2 ** (n - 1) / 1000)
        to = Candidate(target, provider, PROVIDERS[provider.type])
        sent = prepared(provider.type == call.style.FAMILY)
        rec.provider, rec.model, rec.provider_type = provider.id, target.model, provider.type
        exchange = exchange_for(call, to, sent)
        rec.fast_path = exchange.fast_path
        if isinstance(exchange, CountEstimate):
            return Link(exchange, None, to, sent)
        attempt = {"provider": provider.id, "model": target.model}
        rec.attempts.append(attempt)
        headers = to.module.headers(provider, call.client_headers)
        headers.setdefault("x-request-id", call.request_id)
        if watch:
            watch.upstream_request(provider, target.model, exchange.url, headers, exchange.payload)
        started = rec.upstream_started = time.perf_counter()
        try:
            resp = gw.upstreams.send(provider, exchange.url, headers, exchange.payload, call.stream)
            upstream = UpstreamStream(resp, provider) if call.stream else resp
        except GatewayError as e:
            if watch:
                watch.upstream_failed(e)
            attempt.update(status=e.status, error=e.message[:200], ms=round((time.perf_counter() - started) * 1000, 1))
            rec.upstream_s += time.perf_counter() - started  # a failed attempt's wait is upstream time too
            if not retryable(e, policy):
                raise
            gw.cooldowns.fail(provider.id, target.model, e.message, config.cooldown, retry_after(e))
            error = e
            continue
        attempt.update(status=resp.status_code, ms=round((time.perf_counter() - started) * 1000, 1))
        gw.cooldowns.succeed(provider.id, target.model)
        if watch:
            watch.upstream_answer(resp.status_code, dict(resp.headers))
        return Link(exchange, upstream, to, sent, watch)
    raise error


def conversation(gw: Gateway, call: Call, body: dict) -> Callable[[bool], dict]:
    """The body a target gets, by whether it is of the client's family: styles that keep
    conversations expand a stored history for a stateless upstream (decided per chosen target,
    and looked up at most once per answer)."""
    if not call.style.KEEPS_CONVERSATIONS or call.operation == COUNT_TOKENS:
        return lambda same_family: body
    done = {}

    def prepared(same_family: bool) -> dict:
        if same_family not in done:
            done[same_family] = call.style.prepare(body, gw.responses, call.owner, same_family)
        return done[same_family]

    return prepared


def retryable(err: GatewayError, policy: Any) -> bool:
    if isinstance(err, (UpstreamTimeout, UpstreamUnavailable)):
        return True
    return isinstance(err, UpstreamError) and err.status in policy.retry_on


def remember(gw: Gateway, call: Call, link: Link, final: dict | None) -> None:
    """Store a finished response for styles that keep conversation state."""
    if not call.style.KEEPS_CONVERSATIONS:
        return
    try:
        call.style.remember(gw.responses, call.owner, link.body, final)
    except Exception:  # storing is a service to the client; it must not break the answer
        log.exception("could not store response %s", call.request_id)


def relay_whole(gw: Gateway, call: Call, link: Link, watch: Observer | None) -> Reply:
    """A non-streamed answer (or a token count), read whole, converted, recorded."""
    rec, exchange, resp = call.record, link.exchange, link.upstream
    if isinstance(exchange, CountEstimate):
        rec.finish(200)
        gw.record(rec)
        return Reply(200, exchange.estimate, JSON, {})
    try:
        raw = resp.content
    except Exception:
        raise UpstreamError("The upstream connection broke while sending its answer", status=502) from None
    finally:
        rec.upstream_s += time.perf_counter() - rec.upstream_started
        resp.close()
    if watch:
        watch.upstream_bytes(raw)
    try:
        answer = exchange.answer(raw)
    except orjson.JSONDecodeError:
        raise UpstreamError("The upstream answered with a body that is not JSON", status=502) from None
    rec.usage, rec.finish_reason = answer.usage, answer.finish_reason
    rec.output_chars = answer.output_chars if answer.output_chars is not None else len(raw) // 2
    remember(gw, call, link, answer.final)
    if exchange.timed:
        rec.first_byte = time.perf_counter()
    rec.finish(resp.status_code)
    gw.record(rec)
    headers = {"Server-Timing": server_timing(rec)} if exchange.timed else {}
    return Reply(resp.status_code, answer.body, JSON, dropped_header(link, headers))


def dropped_header(link: Link, headers: dict) -> dict:
    """`x-plexus-dropped-tools`: the client's tools the chosen provider had no equivalent for."""
    if not link.exchange.dropped:
        return headers
    return {**headers, "x-plexus-dropped-tools": ", ".join(link.exchange.dropped)}


def server_timing(rec: Any) -> str:
    """The gateway's own share of the request and the upstream's, for anyone to check from outside."""
    upstream = rec.upstream_s * 1000
    return f"gateway;dur={rec.duration_s * 1000 - upstream:.2f}, upstream;dur={upstream:.2f}"


def relay_stream(gw: Gateway, call: Call, link: Link, watcher: Any) -> Iterator[bytes]:
    """Forward each upstream event as it arrives. `finally` runs on success, on upstream failure and
    when the client hangs up (the server closes this generator, or the hang-up watcher closes the
    upstream), so the upstream is always closed and the call always recorded."""
    rec, upstream, relay = call.record, link.upstream, link.events
    status = upstream.resp.status_code
    total_timeout = upstream.provider.total_timeout
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
        remember(gw, call, link, relay.final)
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


def observed(chunks: Iterator[bytes], call: Call, watch: Observer) -> Iterator[bytes]:
    """The client's stream as observers see it; they finish after the relay has recorded the call
    (also when the client hangs up: closing this closes the relay first)."""
    try:
        for chunk in chunks:
            watch.client_bytes(chunk)
            yield chunk
    finally:
        chunks.close()
        watch.finish(call, None)


class Tapped:
    """A stream relay or translator whose input (the upstream's raw stream) observers see."""

    def __init__(self, inner: Any, watch: Observer) -> None:
        self._inner, self._watch = inner, watch

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def feed(self, chunk: bytes) -> bytes:
        self._watch.upstream_bytes(chunk)
        return self._inner.feed(chunk)


def error_reply(style: Any, err: GatewayError, same_family: bool = False) -> Reply:
    body, status = style.render_error(err, same_family)
    return Reply(status, body, JSON, err.headers)
