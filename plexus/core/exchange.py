"""The ways a call meets its chosen target: Passthrough (same family: the body goes up with the
model swapped and the answer comes back nearly as is), Translation (client wire -> unified ->
provider wire, and back), and for token counting CountPassthrough (same family) or CountEstimate
(no upstream at all). All give the pipeline the same interface: `payload`, `url`, `answer(raw)`,
`stream()`."""

import logging
from typing import Any, NamedTuple

import orjson

from ..unified import stops
from ..wire import quirks
from ..wire.protocols import Provider
from ..wire.stream import TranslatedStream
from .call import EMBED, Call
from .embedding import EmbeddingExchange
from .errors import InvalidRequest

log = logging.getLogger("plexus.request")


class Candidate(NamedTuple):
    """A target the router offered: the alias's target, its provider's config, the provider's wire module."""

    target: Any
    provider: Any
    module: Provider

    @property
    def model(self) -> str:
        return self.target.model

    @property
    def family(self) -> str:
        """The API the target speaks: its provider type, unless the wire module names another (a
        Vertex Gemini model speaks `gemini`, an Azure deployment `chat` or `responses`)."""
        return getattr(self.module, "FAMILY", self.provider.type)


class Answer(NamedTuple):
    body: bytes  # what the client gets
    final: dict | None  # the client-style response object, for styles that store responses
    usage: object  # unified Usage or None
    finish_reason: str | None
    output_chars: int | None  # None: unknown (estimate from the body size)


class Passthrough:
    fast_path = True
    timed = True  # the answer carries Server-Timing
    dropped = ()  # client tools left out (Translation only)

    def __init__(self, call: Call, to: Candidate, body: dict) -> None:
        self.style, self.alias = call.style, call.alias
        self.url = to.module.url(to.provider, to.model, call.stream)
        payload, self.relay_options = call.style.passthrough_request(body, to.model, call.stream, call.route)
        fit = getattr(to.module, "fit_passthrough", None)  # a provider whose body differs a little (Vertex's Claude)
        if fit:
            payload = fit(payload, to.provider)
        self.payload = orjson.dumps(quirks.apply(payload, to.family, quirks.for_target(to.provider, to.target),
                                                 translated=False))

    def answer(self, raw: bytes, parsed: Any = None) -> Answer:
        """`parsed`: `raw` parsed already (by the empty-answer check), or None."""
        out, data = self.style.relay_response(raw, self.alias, parsed)
        usage, finish = self.style.response_usage(data) if isinstance(data, dict) else (None, None)
        return Answer(out, data if isinstance(data, dict) else None, usage, finish, None)

    def stream(self) -> Any:
        return self.style.StreamRelay(self.alias, self.relay_options)


class Translation:
    fast_path = False
    timed = True

    def __init__(self, call: Call, to: Candidate, body: dict) -> None:
        self.style, self.module, self.alias = call.style, to.module, call.alias
        self.quirks = quirks.for_target(to.provider, to.target)
        self.url = to.module.url(to.provider, to.model, call.stream)
        try:
            self.request = call.style.parse_request(body, call.route)
            payload = to.module.build_request(self.request, to.model, to.provider)
        except (TypeError, AttributeError, KeyError, ValueError, IndexError) as e:
            # the parsers check what they name; this catches a malformed field they did not foresee
            raise InvalidRequest(f"The request could not be translated for this model's provider: a field has an "
                                 f"unexpected type or shape ({type(e).__name__}: {str(e)[:120]})") from None
        self.payload = orjson.dumps(quirks.apply(payload, to.family, self.quirks))
        # a provider without stop sequences: the gateway ends the answer at one itself
        self.stops = self.request["stop"] if not getattr(to.module, "HONOURS_STOP", True) else None
        self.dropped = self.request.get("dropped_tools") or ()
        if self.dropped:
            log.warning("tools dropped for provider %s (no equivalent): %s", to.provider.id, ", ".join(self.dropped))

    def answer(self, raw: bytes, parsed: Any = None) -> Answer:
        data = orjson.loads(raw) if parsed is None else parsed
        if not isinstance(data, dict):
            raise orjson.JSONDecodeError("the answer is not a JSON object", "", 0)
        try:
            unified = self.module.parse_response(data, self.quirks)
        except (TypeError, AttributeError, KeyError, ValueError, IndexError):
            raise orjson.JSONDecodeError("the answer does not have the provider's shape", "", 0) from None
        if self.stops:
            stops.cut(unified, self.stops)
        chars = sum(len(p.get("text") or p.get("arguments") or "") for p in unified["content"])
        final = self.style.render_response(unified, self.alias, self.request)
        return Answer(orjson.dumps(final), final, unified["usage"], unified["stop_reason"], chars)

    def stream(self) -> TranslatedStream:
        parser = self.module.StreamParser(self.quirks)
        if self.stops:
            parser = stops.StopFilter(parser, self.stops)
        return TranslatedStream(parser, self.style.StreamRenderer(self.alias, self.request))


class CountPassthrough:
    """`count_tokens` forwarded to an upstream of the client's family, its answer passed on as is."""

    fast_path = True
    timed = False
    dropped = ()

    def __init__(self, call: Call, to: Candidate, body: dict) -> None:
        payload, _ = call.style.passthrough_request(body, to.model, False, call.route)
        self.payload = orjson.dumps(payload)
        self.url = to.module.count_url(to.provider, to.model)

    def answer(self, raw: bytes, parsed: Any = None) -> Answer:
        return Answer(raw, None, None, None, 0)


class CountEstimate:
    """`count_tokens` for a target of another family: estimated here, no upstream call."""

    fast_path = False
    payload = url = None
    dropped = ()

    def __init__(self, call: Call, to: Candidate, body: dict) -> None:
        self.estimate = orjson.dumps(call.style.count_estimate(body))


def exchange_for(call: Call, to: Candidate, body: dict) -> Any:
    """Passthrough | Translation | CountPassthrough | CountEstimate | EmbeddingExchange."""
    if call.operation == EMBED:
        return EmbeddingExchange(call, to, body)
    same_family = to.family == call.style.FAMILY
    if call.operation == "count_tokens":
        counts = same_family and hasattr(to.module, "count_url")
        return (CountPassthrough if counts else CountEstimate)(call, to, body)
    return (Passthrough if same_family else Translation)(call, to, body)
