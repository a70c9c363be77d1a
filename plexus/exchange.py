"""The two ways a request meets its upstream: Passthrough (same family: the body goes up with the
model swapped and the answer comes back nearly as is) and Translation (client wire -> unified ->
provider wire, and back). Both give the HTTP layer the same interface."""

from typing import NamedTuple

import orjson

from .errors import InvalidRequest
from .wire import quirks
from .wire.stream import TranslatedStream


class Answer(NamedTuple):
    body: bytes  # what the client gets
    final: dict | None  # the client-style response object, for styles that store responses
    usage: object  # unified Usage or None
    finish_reason: str | None
    output_chars: int | None  # None: unknown (estimate from the body size)


class Passthrough:
    fast_path = True

    def __init__(self, style, provider_module, body, alias, stream, target, provider, route):
        self.style, self.provider_module, self.alias = style, provider_module, alias
        payload, self.relay_options = style.passthrough_request(body, target.model, stream, route)
        self.payload = orjson.dumps(quirks.apply(payload, provider.type, quirks.for_target(provider, target)))

    def answer(self, raw):
        out, data = self.style.relay_response(raw, self.alias)
        usage, finish = self.style.response_usage(data) if isinstance(data, dict) else (None, None)
        return Answer(out, data if isinstance(data, dict) else None, usage, finish, None)

    def stream(self):
        return self.style.StreamRelay(self.alias, self.relay_options)


class Translation:
    fast_path = False

    def __init__(self, style, provider_module, body, alias, stream, target, provider, route):
        self.style, self.provider_module, self.alias = style, provider_module, alias
        self.quirks = quirks.for_target(provider, target)
        try:
            self.request = style.parse_request(body, route)
            payload = provider_module.build_request(self.request, target.model, provider)
        except (TypeError, AttributeError, KeyError, ValueError, IndexError) as e:
            # the parsers check what they name; this catches a malformed field they did not foresee
            raise InvalidRequest(f"The request could not be translated for this model's provider: a field has an "
                                 f"unexpected type or shape ({type(e).__name__}: {str(e)[:120]})") from None
        self.payload = orjson.dumps(quirks.apply(payload, provider.type, self.quirks))

    def answer(self, raw):
        data = orjson.loads(raw)
        if not isinstance(data, dict):
            raise orjson.JSONDecodeError("the answer is not a JSON object", "", 0)
        try:
            unified = self.provider_module.parse_response(data, self.quirks)
        except (TypeError, AttributeError, KeyError, ValueError, IndexError):
            raise orjson.JSONDecodeError("the answer does not have the provider's shape", "", 0) from None
        chars = sum(len(p.get("text") or p.get("arguments") or "") for p in unified["content"])
        final = self.style.render_response(unified, self.alias, self.request)
        return Answer(orjson.dumps(final), final, unified["usage"], unified["stop_reason"], chars)

    def stream(self):
        parser = self.provider_module.StreamParser(self.quirks)
        return TranslatedStream(parser, self.style.StreamRenderer(self.alias, self.request))


def exchange_for(style, provider_module, provider_type, *args):
    return (Passthrough if provider_type == style.FAMILY else Translation)(style, provider_module, *args)
