"""The end-to-end matrix, every pair: client style ∈ {OpenAI chat SDK, Anthropic SDK, OpenAI Responses
SDK, google-genai} × upstream provider type ∈ {chat, messages, responses, gemini} × 9 scenarios,
through the shared gateway (gunicorn + gevent) in front of the shared fake upstream, driven by the
official SDKs.

A cell scripts the upstream's answer in the upstream's own wire format, makes the call with the
client's SDK, then checks (a) what the client got and (b) what the upstream received. The cells live
in two case books: tests/e2e/matrix/core_pairs.py (OpenAI/Anthropic SDK × chat/messages upstreams,
with exact-body checks of each translation) and tests/e2e/matrix/other_pairs.py (the other twelve
pairs, checked against one expected-body builder per provider type).
Ids read `test_matrix[<client>-<upstream>-<scenario>]`.
"""

import json
from types import SimpleNamespace

import anthropic
import openai
import pytest
from google import genai
from google.genai import types as gt

from tests.e2e.matrix import core_pairs, fidelity_pairs, other_pairs
from tests.support.secrets import CLIENT_SECRET

CLIENTS = ("openai", "anthropic", "responses", "gemini")
UPSTREAMS = ("chat", "messages", "responses", "gemini")
SCENARIOS = ("text", "streamed_text", "tools", "streamed_tools", "tool_result", "image", "thinking",
             "error_429", "error_500")
assert core_pairs.PAIRS | other_pairs.PAIRS == {(c, u) for c in CLIENTS for u in UPSTREAMS}
assert not core_pairs.PAIRS & other_pairs.PAIRS


class Capture:
    """An httpx request hook: what the SDK itself sent to the gateway (for the fast-path pairs, whose
    upstream must receive exactly that body)."""

    def __init__(self):
        self.last = None

    def __call__(self, request):
        body = request.content
        self.last = SimpleNamespace(method=request.method, url=request.url, headers=dict(request.headers),
                                    body=json.loads(body) if body else None)


@pytest.fixture(scope="module")
def sdks(shared_gateway):
    url = shared_gateway.url
    cap = Capture()
    hooks = {"request": [cap]}
    oa = openai.OpenAI(base_url=url + "/v1", api_key=CLIENT_SECRET, max_retries=0, timeout=20,
                       http_client=openai.DefaultHttpxClient(event_hooks=hooks))
    an = anthropic.Anthropic(base_url=url, api_key=CLIENT_SECRET, max_retries=0, timeout=20,
                             http_client=anthropic.DefaultHttpxClient(event_hooks=hooks))
    options = gt.HttpOptions(base_url=url, api_version="v1beta", timeout=20_000, client_args={"event_hooks": hooks})
    gm = genai.Client(api_key=CLIENT_SECRET, http_options=options)
    with oa, an, gm:  # closed before the gateway stops, so no idle keep-alive holds up its shutdown
        yield SimpleNamespace(oa=oa, an=an, gm=gm, capture=cap, url=url)


def cell(client, upstream, fake, sdks):
    if (client, upstream) in core_pairs.PAIRS:
        return core_pairs.BOOK, core_pairs.Cell(client, upstream, fake, sdks.oa, sdks.an)
    return other_pairs.BOOK, other_pairs.Cell(client, upstream, fake, sdks)


@pytest.mark.parametrize(
    "client,upstream,scenario",
    [pytest.param(c, u, s, id=f"{c}-{u}-{s}") for c in CLIENTS for u in UPSTREAMS for s in SCENARIOS],
)
def test_matrix(client, upstream, scenario, sdks, fake):
    book, m = cell(client, upstream, fake, sdks)
    book.cases[client, scenario](m)


@pytest.mark.parametrize(
    "client,upstream,scenario",
    [pytest.param(c, u, s, id=f"{c}-{u}-{s}") for c in CLIENTS for u in UPSTREAMS for s in fidelity_pairs.SCENARIOS],
)
def test_fidelity_matrix(client, upstream, scenario, sdks, fake):
    """Issue 19: structured output and PDF input, every pair (tests/e2e/matrix/fidelity_pairs.py)."""
    fidelity_pairs.BOOK.cases[client, scenario](other_pairs.Cell(client, upstream, fake, sdks))


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("client", CLIENTS)
def test_structured_fallback(client, stream, sdks, fake):
    """Toward an Anthropic model flagged `structured_output: tool`: the forced tool, answered as JSON text."""
    fidelity_pairs.structured_fallback(other_pairs.Cell(client, "messages", fake, sdks), stream)


@pytest.mark.parametrize("upstream", ["messages", "responses", "gemini"])
def test_n_above_one_is_refused_in_the_clients_shape(upstream, sdks, fake):
    fidelity_pairs.n_refused(other_pairs.Cell("openai", upstream, fake, sdks))


@pytest.mark.parametrize("upstream", ["chat", "responses", "gemini"])
def test_a_provider_side_file_is_refused_in_the_clients_shape(upstream, sdks, fake):
    fidelity_pairs.file_id_refused(other_pairs.Cell("anthropic", upstream, fake, sdks))


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("client", ["openai", "anthropic"])
def test_stop_sequences_toward_responses_are_kept_by_the_gateway(client, stream, sdks, fake):
    fidelity_pairs.stop_emulated(other_pairs.Cell(client, "responses", fake, sdks), stream)
