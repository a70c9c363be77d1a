"""A fake Azure OpenAI resource: deployment URLs (`/openai/deployments/{d}/chat/completions` and
`/embeddings`, each with `?api-version=`) and the v1 API (`/openai/v1/chat/completions`,
`/openai/v1/responses`, `/openai/v1/embeddings`, deployment in the body's `model`), answering in
OpenAI's formats; it accepts only the configured key, in `api-key` or as a bearer token."""

import re

from . import embedding_wire, wire
from .fake_upstream import FakeUpstream, Reply

DEPLOYMENT = re.compile(r"^/openai/deployments/(?P<deployment>[^/]+)/(?P<op>chat/completions|embeddings)\?api-version=(?P<version>[\w.-]+)$")
V1 = re.compile(r"^/openai/v1/(?P<op>chat/completions|responses|embeddings)$")


def azure_error(status, code, message):
    return Reply(status=status, body={"error": {"code": code, "message": message}})


class FakeAzure(FakeUpstream):
    def __init__(self, key):
        super().__init__()
        self.key = key

    def default_reply(self, seen):
        given = seen.headers.get("api-key") or seen.headers.get("authorization", "").removeprefix("Bearer ")
        if given != self.key:
            return azure_error(401, "401", "Access denied due to invalid subscription key or wrong API endpoint.")
        body = seen.body if isinstance(seen.body, dict) else {}
        m = DEPLOYMENT.match(seen.path) or V1.match(seen.path)
        if not m:
            return azure_error(404, "404", "Resource not found")
        deployment = m.groupdict().get("deployment") or body.get("model")
        if m["op"] == "embeddings":
            return Reply(body=embedding_wire.openai_answer({**body, "model": deployment}))
        if m["op"] == "responses":
            output = [wire.responses_message_item("Hello from Azure")]
            if body.get("stream"):
                return Reply(events=wire.responses_stream(deployment, output=output, usage=wire.responses_usage()))
            return Reply(body=wire.responses_response(deployment, output=output, usage=wire.responses_usage()))
        if body.get("stream"):
            usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return Reply(events=wire.chat_stream(deployment, ["Hello", " from", " Azure"], with_usage=usage))
        return Reply(body=wire.chat_completion(deployment, "Hello from Azure"))
