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
from ..wire.registry import module_for
from ..wire.state_refs import refuse_reference, refuse_top_level
from .call import COUNT_TOKENS, CREATE, EMBED, Call
from .errors import AuthenticationFailed, GatewayError, InvalidRequest, UpstreamError, UpstreamTimeout, UpstreamUnavailable
from .affinity import digest as affinity_digest, session_key
from .empty_answer import parsed_is_empty, stream_detector
from .context_fit import prompt_tokens, requested_output, says_exceeded
from .exchange import Candidate, CountEstimate, exchange_for
from .gateway import Gateway
from .policy import check_alias, check_expiry
from .observers import Observer, Reply, observers_for
from .routing import Need, too_long, window_of
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
        key = None
        if call.key_name is None:
            key = gw.identify(call.token)
            rec.key_name, call.owner = key.name, key.id
            if key.policy is not None:
                check_expiry(key, time.time())
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
        check_kind(config, call)
        if key is not None and key.policy is not None:
            admit(gw, call, key)
        link = connect(gw, config, call, body, watch)
        if call.stream:
            chunks = relay_stream(gw, call, link, call.watch_client(link.upstream))
            if watch:
                chunks = observed(chunks, call, watch)
            headers = {**SSE_HEADERS, **call.ticket.headers} if call.ticket else SSE_HEADERS
            return Reply(200, chunks, link.events.content_type, dropped_header(link, headers))
        reply = relay_whole(gw, call, link, watch)
    except Exception as e:
        if not isinstance(e, GatewayError):  # a bug: still one record, and no stack trace for the client
            log.exception("unexpected error on %s %s", call.method, call.path)
            e = GatewayError("Internal gateway error", status=500)
        rec.key_refused = isinstance(e, AuthenticationFailed)
        rec.finish(e.status, e.message)
        done(gw, call)
        same_family = call.operation == COUNT_TOKENS or rec.provider_type == call.style.FAMILY
        reply = error_reply(call.style, e, same_family)
    if watch:
        watch.finish(call, reply)
    return reply


def admit(gw: Gateway, call: Call, key: Any) -> None:
    """The key's policy on this call: a refusal raises; an admitted call may hold a lease until it ends."""
    if call.operation == COUNT_TOKENS:
        check_alias(key, call.alias)
    else:
        call.ticket = gw.policy.admit(key, call.alias, call.style.FAMILY, call.body_size, time.time())


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
    that target down and moves on; an upstream that says the prompt is too long for it moves on to
    a target with a larger window (no cooldown: the target is fine)."""
    rec = call.record
    policy = config.failover
    if call.targets:  # named by a caller inside the gateway: no routing
        need, candidates = Need(), call.targets
    else:
        need = routing_need(gw, config, call, body)
        candidates = gw.router.candidates(config, call.alias, gw.cooldowns, need, gw.affinity, gw.target_stats)
    prepared = conversation(gw, call, body)
    error, exceeded = None, None  # exceeded: the window a target said was too small (0: unknown)
    tried = 0
    try:
        for target, provider in candidates:
            if tried >= policy.max_attempts:
                break
            window = window_of(config, target)
            if exceeded is not None and window is not None and window <= exceeded:
                need.skipped.append({"provider": provider.id, "model": target.model, "reason": "context",
                                     "detail": f"a target with window {exceeded} said the prompt is too long"})
                continue
            if tried and policy.backoff_ms:
                time.sleep(policy.backoff_ms * 2 ** (tried - 1) / 1000)
            tried += 1
            to = Candidate(target, provider, module_for(call.operation, provider, target.model))
            sent = prepared(to.family == call.style.FAMILY)
            rec.provider, rec.model, rec.provider_type = provider.id, target.model, provider.type
            exchange = exchange_for(call, to, sent)
            rec.fast_path = exchange.fast_path
            if isinstance(exchange, CountEstimate):
                return Link(exchange, None, to, sent)
            try:
                upstream = attempt(gw, call, to, exchange, watch)
            except GatewayError as e:
                if says_exceeded(e):
                    exceeded, error = max(exceeded or 0, window or 0), e
                    continue
                if not retryable(e, policy):
                    raise
                gw.cooldowns.fail(provider.id, target.model, e.message, config.cooldown, retry_after(e))
                error = e
                continue
            gw.cooldowns.succeed(provider.id, target.model)
            if need.session:  # set only for an alias with affinity on
                alias = config.names[call.alias]
                gw.affinity.remember(need.session, provider.id, target.model, alias.affinity_ttl)
            return Link(exchange, upstream, to, sent, watch)
    finally:
        rec.skipped = need.skipped + not_tried_for_cooldown(gw, rec, candidates)
    if exceeded is not None and isinstance(error, UpstreamError):
        raise too_long_for_all(config, call, need, error)
    raise error


def attempt(gw: Gateway, call: Call, to: Candidate, exchange: Any, watch: Observer | None) -> Any:
    """One upstream call, counted in flight for the selectors while it waits; returns the open
    answer (a stream whose first chunk has come) or raises a GatewayError."""
    rec, provider, key = call.record, to.provider, (to.provider.id, to.model)
    entry = {"provider": provider.id, "model": to.model}
    rec.attempts.append(entry)
    started = rec.upstream_started = time.perf_counter()
    gw.target_stats.started(key)
    try:
        headers = to.module.headers(provider, call.client_headers)  # may mint a token (Vertex): fails over
        headers.setdefault("x-request-id", call.request_id)
        if watch:
            watch.upstream_request(provider, to.model, exchange.url, headers, exchange.payload)
        send = getattr(exchange, "send", None)  # an exchange of several upstream requests sends them itself
        if send:
            resp = send(gw.upstreams, provider, headers)
        else:
            resp = gw.upstreams.send(provider, exchange.url, headers, exchange.payload, call.stream)
        upstream = opened(resp, provider, to.family, call.stream, provider.empty_failover and call.operation == CREATE)
    except GatewayError as e:
        gw.target_stats.ended(key)
        if watch:
            watch.upstream_failed(e)
        entry.update(status=e.status, error=e.message[:200], ms=round((time.perf_counter() - started) * 1000, 1))
        rec.upstream_s += time.perf_counter() - started  # a failed attempt's wait is upstream time too
        raise
    ms = round((time.perf_counter() - started) * 1000, 1)
    entry.update(status=resp.status_code, ms=ms)
    gw.target_stats.first_byte(key, ms)
    call.in_flight = key  # ended when the call is recorded
    if watch:
        watch.upstream_answer(resp.status_code, dict(resp.headers))
    return upstream


def opened(resp: Any, provider: Any, family: str, stream: bool, check_output: bool) -> Any:
    """The upstream's answer, with `check_output` checked for output (provider `empty_failover`): a
    stream is held until it carries some, a whole answer is read and parsed now (relay_whole reuses
    both: `resp.parsed`)."""
    if stream:
        return UpstreamStream(resp, provider, stream_detector(family) if check_output else None)
    if check_output:
        try:
            raw = resp.content
        except Exception:
            resp.close()
            raise UpstreamError("The upstream connection broke while sending its answer", status=502) from None
        try:
            resp.parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return resp  # not ours to judge: the relay reports a body that is not JSON
        if resp.status_code == 200 and parsed_is_empty(family, resp.parsed):
            resp.close()
            raise UpstreamError(f"Provider '{provider.id}' sent an empty answer (no text and no tool call)", status=502)
    return resp


def routing_need(gw: Gateway, config: Any, call: Call, body: Any) -> Need:
    """What the router must know of this request: its session (for affinity) and its size."""
    alias = gw.router.resolve(config, call.alias)
    need = Need()
    if call.operation != CREATE:  # a count has no answer to route by; an embedding's window is per input
        return need
    session = session_key(body, call.session_headers)
    if session and alias.affinity:
        need.session = affinity_digest(call.record.key_name, alias.name, session)
    windows = [w for w in (window_of(config, t) for t in alias.targets) if w]
    need.prompt_tokens = prompt_tokens(body, call.body_size, min(windows) if windows else None)
    need.max_output = requested_output(body)
    return need


def not_tried_for_cooldown(gw: Gateway, rec: Any, candidates: list) -> list:
    tried = {(a["provider"], a["model"]) for a in rec.attempts} | {(rec.provider, rec.model)}
    return [{"provider": t.provider, "model": t.model, "reason": "cooldown"} for t, _ in candidates
            if (t.provider, t.model) not in tried and gw.cooldowns.until(t.provider, t.model) is not None]


def too_long_for_all(config: Any, call: Call, need: Need, error: UpstreamError) -> GatewayError:
    """The 400 for a prompt no target could take, naming the largest window there is."""
    targets = [t for t, _ in call.targets] if call.targets else config.names[call.alias].targets
    windows = [w for w in (window_of(config, t) for t in targets) if w]
    if not windows:
        return error
    return too_long(call.alias, need.tokens, max(windows))


def done(gw: Gateway, call: Call) -> None:
    """The call is over: its target no longer counts it in flight, its key's lease on the policy
    counters (if any) ends, and its record goes to the sinks."""
    if call.in_flight is not None:
        gw.target_stats.ended(call.in_flight)
        call.in_flight = None
    if call.ticket is not None:
        gw.policy.finish(call.ticket, call.record.usage)
        call.ticket = None
    gw.record(call.record)


def check_kind(config: Any, call: Call) -> None:
    """Embedding aliases serve embedding calls only, and chat aliases everything else."""
    alias = config.names.get(call.alias) if isinstance(call.alias, str) else None
    if alias is None:
        return  # the router names the unknown alias
    wanted = "embedding" if call.operation == EMBED else "chat"
    if alias.kind != wanted:
        what = "an embedding model: call its embeddings endpoint" if alias.kind == "embedding" else \
            "a chat model, not an embedding model"
        raise InvalidRequest(f"The model '{call.alias}' is {what}", param="model", code="model_kind_mismatch")


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
        done(gw, call)
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
        answer = exchange.answer(raw, getattr(resp, "parsed", None))  # parsed by opened() if it checked the answer
    except orjson.JSONDecodeError:
        raise UpstreamError("The upstream answered with a body that is not JSON", status=502) from None
    rec.usage, rec.finish_reason = answer.usage, answer.finish_reason
    rec.output_chars = answer.output_chars if answer.output_chars is not None else len(raw) // 2
    remember(gw, call, link, answer.final)
    if exchange.timed:
        rec.first_byte = time.perf_counter()
    headers = {**call.ticket.headers} if call.ticket else {}
    rec.finish(resp.status_code)
    done(gw, call)
    if exchange.timed:
        headers["Server-Timing"] = server_timing(rec)
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
        done(gw, call)


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
