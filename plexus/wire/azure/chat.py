"""Azure OpenAI deployments reached through Chat Completions: OpenAI's bodies, answers and streams
(plexus/wire/openai_chat) at the deployment's URL (plexus/wire/azure/endpoint.py)."""

from ..openai_chat import upstream as chat
from . import endpoint

FAMILY = "chat"  # an OpenAI chat client's body goes up as sent
FORWARDED_HEADERS = ()

build_request = chat.build_request
parse_response = chat.parse_response
StreamParser = chat.StreamParser
headers = endpoint.headers


def url(provider, model, stream):
    return endpoint.url(provider, model, "chat/completions")
