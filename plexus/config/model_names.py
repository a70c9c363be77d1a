"""Which upstream model names a provider can be given. Most provider types carry the model in the
JSON body, where any text is just a string; a Gemini provider puts it in the URL path
(`/models/{model}:generateContent`), where `../` would climb to another endpoint of the provider,
called with the provider's key. Checked when the config loads and on the dashboard's Test button."""

import re

MODEL_IN_URL = frozenset({"gemini"})
URL_SAFE = re.compile(r"^(?:models/)?[A-Za-z0-9][A-Za-z0-9._-]*$")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def model_name_problem(provider_type: str, model: str) -> str | None:
    """Why `model` cannot be sent to a provider of `provider_type` (None: it can)."""
    if not model or CONTROL.search(model):
        return "a model name must be non-empty, without control characters"
    if provider_type in MODEL_IN_URL and not URL_SAFE.match(model):
        return (f"'{model}' cannot go into a {provider_type} URL: use letters, digits, '.', '_' and '-' "
                "(optionally after 'models/'), starting with a letter or digit")
    return None
