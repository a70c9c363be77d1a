"""The two registries: client styles by name (the routes they serve) and provider types by name (the
`type:` of a configured provider), and the embeddings APIs (client styles and provider types). Each
entry is checked against its Protocol when registered."""

from typing import Any

from ..core.errors import InvalidRequest
from .protocols import (OPERATION_MEMBERS, ClientStyle, ConversationStyle, EmbeddingStyle, EmbeddingUpstream, Provider,
                        members, missing)
from .anthropic import client as anthropic_client, upstream as anthropic_upstream
from .gemini import client as gemini_client, embeddings as gemini_embeddings, upstream as gemini_upstream
from .openai_chat import client as chat_client, embeddings as chat_embeddings, upstream as chat_upstream
from .responses import client as responses_client, upstream as responses_upstream
from .vertex import embeddings as vertex_embeddings, upstream as vertex_upstream
from .azure import embeddings as azure_embeddings, upstream as azure_upstream

CLIENT_STYLES: dict[str, ClientStyle] = {}
PROVIDERS: dict[str, Provider] = {}
EMBEDDING_STYLES: dict[str, EmbeddingStyle] = {}  # client styles of the `embed` operation
EMBEDDING_PROVIDERS: dict[str, EmbeddingUpstream] = {}  # provider type -> the embeddings API its upstreams speak


def register_provider(name: str, module: Provider) -> None:
    """A provider type; one whose models speak different APIs (Vertex: Gemini or Claude) names
    them in VARIANTS and picks one per model with `for_model(provider, model)`."""
    for variant in getattr(module, "VARIANTS", None) or (module,):
        _check(variant, members(Provider), f"provider type '{name}'")
    PROVIDERS[name] = module


def register_embedding_style(module: EmbeddingStyle) -> None:
    _check(module, members(EmbeddingStyle), f"embeddings style '{getattr(module, 'STYLE', module.__name__)}'")
    EMBEDDING_STYLES[module.STYLE] = module


def register_embedding_provider(name: str, module: EmbeddingUpstream) -> None:
    _check(module, members(EmbeddingUpstream), f"embeddings of provider type '{name}'")
    EMBEDDING_PROVIDERS[name] = module


def module_for(operation: str, provider: Any, model: str) -> Any:
    """The wire module that speaks to this provider's `model` for this operation."""
    if operation == "embed":
        module = EMBEDDING_PROVIDERS.get(provider.type)
        if module is None:
            raise InvalidRequest(f"Provider '{provider.id}' (type {provider.type}) does not serve embeddings")
    else:
        module = PROVIDERS[provider.type]
    pick = getattr(module, "for_model", None)
    return pick(provider, model) if pick else module


def register_style(module: ClientStyle) -> None:
    needed = members(ClientStyle)
    if getattr(module, "KEEPS_CONVERSATIONS", False):
        needed += members(ConversationStyle)
    for ops in module.ROUTES.values():
        for op in (ops,) if isinstance(ops, str) else ops:
            needed += OPERATION_MEMBERS[op]
            if op == "count_tokens":
                _check(PROVIDERS[module.FAMILY], ["count_url"], f"provider type '{module.FAMILY}' (counts tokens)")
    _check(module, needed, f"client style '{getattr(module, 'STYLE', module.__name__)}'")
    CLIENT_STYLES[module.STYLE] = module


def _check(module, names, what):
    gaps = missing(module, names)
    if gaps:
        raise TypeError(f"{what} ({module.__name__}) lacks {', '.join(gaps)}")


for _name, _module in (("chat", chat_upstream), ("messages", anthropic_upstream), ("responses", responses_upstream),
                       ("gemini", gemini_upstream), ("vertex", vertex_upstream), ("azure", azure_upstream)):
    register_provider(_name, _module)
for _module in (chat_client, anthropic_client, responses_client, gemini_client):
    register_style(_module)
for _module in (chat_embeddings, gemini_embeddings):
    register_embedding_style(_module)
for _name, _module in (("chat", chat_embeddings), ("gemini", gemini_embeddings), ("azure", azure_embeddings),
                       ("vertex", vertex_embeddings)):
    register_embedding_provider(_name, _module)

# every client header some provider passes on: what the HTTP layer keeps from a request
FORWARDED_HEADERS = tuple(dict.fromkeys(h for p in PROVIDERS.values() for h in p.FORWARDED_HEADERS))
