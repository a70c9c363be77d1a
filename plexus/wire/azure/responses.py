"""Azure OpenAI deployments reached through the Responses API: always the v1 form
(`/openai/v1/responses`, deployment in the body's `model`), which Microsoft requires for it."""

from ..responses import upstream as responses
from . import endpoint

FAMILY = "responses"  # a Responses client's body goes up as sent
FORWARDED_HEADERS = ()

build_request = responses.build_request
parse_response = responses.parse_response
StreamParser = responses.StreamParser
HONOURS_STOP = responses.HONOURS_STOP
headers = endpoint.headers


def url(provider, model, stream):
    return endpoint.v1_url(provider, "responses")
