"""`type: azure` as a provider type: deployments listed in `azure.responses` are reached through the
Responses API, every other deployment through Chat Completions."""

from . import chat, responses

VARIANTS = (chat, responses)
FORWARDED_HEADERS = ()


def for_model(provider, model):
    return responses if model in (provider.azure.get("responses") or ()) else chat
