"""`type: vertex` as a provider type: each model is served by the API of its publisher — Claude
(`anthropic`) or Gemini (`google`) — as the provider's `vertex.publishers` says, else by its name
(`claude-…` is Anthropic's, anything else Google's)."""

from . import claude, gemini

VARIANTS = (gemini, claude)
FORWARDED_HEADERS = claude.FORWARDED_HEADERS
_BY_PUBLISHER = {v.PUBLISHER: v for v in VARIANTS}


def for_model(provider, model):
    publisher = (provider.vertex.get("publishers") or {}).get(model)
    if publisher is None:
        publisher = "anthropic" if model.startswith("claude") else "google"
    return _BY_PUBLISHER[publisher]
