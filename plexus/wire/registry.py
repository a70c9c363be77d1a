"""The two registries: client styles by name (the routes they serve) and provider types by name (the
`type:` of a configured provider). Each entry is checked against its Protocol when registered."""

from .protocols import OPERATION_MEMBERS, ClientStyle, ConversationStyle, Provider, members, missing
from .anthropic import client as anthropic_client, upstream as anthropic_upstream
from .gemini import client as gemini_client, upstream as gemini_upstream
from .openai_chat import client as chat_client, upstream as chat_upstream
from .responses import client as responses_client, upstream as responses_upstream

CLIENT_STYLES: dict[str, ClientStyle] = {}
PROVIDERS: dict[str, Provider] = {}


def register_provider(name: str, module: Provider) -> None:
    _check(module, members(Provider), f"provider type '{name}'")
    PROVIDERS[name] = module


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
                       ("gemini", gemini_upstream)):
    register_provider(_name, _module)
for _module in (chat_client, anthropic_client, responses_client, gemini_client):
    register_style(_module)

# every client header some provider passes on: what the HTTP layer keeps from a request
FORWARDED_HEADERS = tuple(dict.fromkeys(h for p in PROVIDERS.values() for h in p.FORWARDED_HEADERS))
