"""How an embedding call meets its chosen target (issue 17). Same WIRE, one upstream request and
an encoding the upstream can produce: the fast path (body forwarded with the model swapped, answer
passed back with the alias as model). Otherwise a translation: client request -> unified -> one
upstream request per batch of at most the upstream's limit, sent one after another (a failure in
any fails the whole attempt over), vectors joined in input order, `base64` encoded here when asked."""

from typing import Any, NamedTuple

import orjson

from ..unified import embeddings as emb
from .call import Call
from .errors import InvalidRequest, UpstreamError


class Collected(NamedTuple):
    """The answers of a translated call's upstream requests, as the pipeline reads one response."""

    status_code: int
    headers: Any
    content: bytes  # a JSON array of the upstream answers, in request order

    def close(self) -> None:
        pass


class Answer(NamedTuple):
    body: bytes
    final: None
    usage: Any
    finish_reason: None
    output_chars: int


class EmbeddingExchange:
    timed = True
    dropped = ()  # no tools in an embedding call

    def __init__(self, call: Call, to: Any, body: dict) -> None:
        self.style, self.module, self.alias = call.style, to.module, call.alias
        options = to.provider.embeddings
        narrow = getattr(to.module, "batch_limit", None)
        limit = options.get("batch_size") or (narrow(to.model) if narrow else to.module.MAX_BATCH)
        try:
            self.request = call.style.parse_request(body, call.route)
            inputs = self.request["inputs"]
            base64_ok = options.get("base64", to.module.BASE64)
            self.fast_path = (to.module.WIRE == call.style.WIRE and len(inputs) <= limit
                              and (self.request["encoding"] != "base64" or base64_ok))
            if self.fast_path:
                payload, relay_options = call.style.passthrough_request(body, to.model, call.route)
                self.url = to.module.url(to.provider, to.model, relay_options)
                self.payloads = [orjson.dumps(payload)]
            else:
                self.url = to.module.url(to.provider, to.model, None)
                self.payloads = [orjson.dumps(to.module.build_request(self.request, to.model, to.provider, part))
                                 for part in emb.batches(inputs, limit)]
        except (TypeError, AttributeError, KeyError, ValueError, IndexError) as e:
            raise InvalidRequest(f"The embedding request could not be translated for this model's provider "
                                 f"({type(e).__name__}: {str(e)[:120]})") from None
        self.payload = self.payloads[0]  # what observers are shown

    def send(self, upstreams: Any, provider: Any, headers: dict, stream: bool = False) -> Any:
        if self.fast_path:
            return upstreams.send(provider, self.url, headers, self.payload)
        raws = []
        for payload in self.payloads:
            resp = upstreams.send(provider, self.url, headers, payload)
            try:
                raws.append(resp.content)
            except Exception:
                raise UpstreamError("The upstream connection broke while sending its answer", status=502) from None
            finally:
                resp.close()
        return Collected(resp.status_code, resp.headers, b"[" + b",".join(raws) + b"]")

    def answer(self, raw: bytes, parsed: Any = None) -> Answer:
        """`parsed` is not used: embedding answers are not checked for emptiness."""
        if self.fast_path:
            body, usage = self.style.relay_response(raw, self.alias)
            return Answer(body, None, usage or emb.estimated_usage(self.request["inputs"]), None, 0)
        vectors, usages = [], []
        try:
            for data in orjson.loads(raw):
                got, usage = self.module.parse_response(data)
                vectors += got
                usages.append(usage)
        except (TypeError, AttributeError, KeyError, ValueError, IndexError):
            raise orjson.JSONDecodeError("the answer does not have the provider's shape", "", 0) from None
        if len(vectors) != len(self.request["inputs"]):
            raise UpstreamError(f"The upstream answered {len(vectors)} embeddings for {len(self.request['inputs'])} inputs",
                                status=502)
        usage = emb.total_usage(usages) if all(usages) else emb.estimated_usage(self.request["inputs"])
        result = {"vectors": vectors, "usage": usage}
        return Answer(orjson.dumps(self.style.render_response(result, self.alias, self.request)), None, usage, None, 0)
