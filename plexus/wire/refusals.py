"""Client fields that only a provider of the client's own family can honour (README "Field
fidelity"). The parsers run only when a request is translated, so a field listed here is refused
there with a 400 in the client's shape, rather than silently answered as if it had not been sent;
on the fast path the body goes up as sent and the provider itself decides."""

from ..core.errors import InvalidRequest

# style -> field -> what it asks for (a value of None, False, 0 or empty asks for nothing)
ONLY_OWN_FAMILY = {
    "chat": {"logprobs": "log probabilities", "top_logprobs": "log probabilities", "audio": "audio output",
             "web_search_options": "OpenAI's web search", "logit_bias": "token biases"},
    "messages": {"mcp_servers": "Anthropic's MCP connector", "container": "a code-execution container",
                 "prefill": "a prefilled answer"},
    "responses": {"top_logprobs": "log probabilities", "background": "background mode",
                  "prompt": "a stored prompt", "conversation": "a stored conversation"},
    # Gemini's generationConfig (camelCase; the snake_case twin is looked up by the caller)
    "gemini": {"responseLogprobs": "log probabilities", "logprobs": "log probabilities",
               "speechConfig": "speech output"},
}
FAMILY_NAMES = {"chat": "a Chat Completions provider", "messages": "an Anthropic provider",
                "responses": "a Responses provider", "gemini": "a Gemini provider"}


def check(style, fields, get=dict.get, prefix=""):
    """Refuse the first field of `fields` (a dict) that asks for something only `style`'s family gives."""
    for key, what in ONLY_OWN_FAMILY[style].items():
        if get(fields, key) not in (None, False, 0, {}, [], ""):
            raise InvalidRequest(f"'{prefix}{key}' ({what}) can only be served by {FAMILY_NAMES[style]}; this model's "
                                 "provider is of another type", param=prefix + key)


def refuse(param, what, style):
    raise InvalidRequest(f"'{param}' ({what}) can only be served by {FAMILY_NAMES[style]}; this model's provider is "
                         "of another type", param=param)
