"""`type: chat` providers: OpenAI Chat Completions and the many APIs compatible with it."""


def url(provider, model, stream):
    return provider.api_base_url + "/chat/completions"


def headers(provider):
    h = {"Content-Type": "application/json", "Accept": "application/json"}
    if provider.api_key:
        h["Authorization"] = "Bearer " + provider.api_key
    h.update(provider.headers)
    return h
