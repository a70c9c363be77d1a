"""Azure OpenAI embedding deployments: OpenAI's embeddings bodies (plexus/wire/openai_chat/embeddings.py)
at the deployment's `/embeddings` URL."""

from ..openai_chat import embeddings as openai
from . import endpoint

WIRE, MAX_BATCH, BASE64 = openai.WIRE, openai.MAX_BATCH, openai.BASE64
build_request = openai.build_request
parse_response = openai.parse_response
headers = endpoint.headers


def url(provider, model, options=None):
    return endpoint.url(provider, model, "embeddings")
