"""A fake Google Cloud for `type: vertex` tests: an OAuth token endpoint that checks the
service-account JWT grant as Google does (RS256, signed by the key whose id is in the header), and
Vertex AI's publisher endpoints — Gemini (`…/publishers/google/models/{m}:generateContent`,
`:streamGenerateContent?alt=sse`) and Claude (`…/publishers/anthropic/models/{m}:rawPredict`,
`:streamRawPredict`, body with `anthropic_version` and no `model`) — which accept only a token the
endpoint issued. `service_account_key()` makes a key (a fresh RSA key) whose `token_uri` is this
fake's."""

import base64
import json
import re
import threading
from urllib.parse import parse_qs

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from . import gemini_wire, wire
from .embedding_wire import vector
from .fake_upstream import FakeUpstream, Reply

VERTEX_PATH = re.compile(r"^/v1/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/publishers/(?P<publisher>google|anthropic)"
                         r"/models/(?P<model>[^/:]+):(?P<method>\w+)(\?alt=sse)?$")
GOOGLE_AUD = "https://oauth2.googleapis.com/token"  # google-auth's audience, whatever the token_uri


def _b64(segment):
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def predict_answer(model, body):
    """Vertex's answer to an embedding `:predict`; gemini-embedding-001 refuses more than one instance."""
    if model == "gemini-embedding-001" and len(body["instances"]) > 1:
        return google_error(400, "Unable to submit request because the model supports only 1 instance", "INVALID_ARGUMENT")
    dims = (body.get("parameters") or {}).get("outputDimensionality")
    return Reply(body={"predictions": [{"embeddings": {"values": vector(i["content"], dims),
                                            "statistics": {"token_count": len(i["content"].split()), "truncated": False}}}
                            for i in body["instances"]], "metadata": {"billableCharacterCount": 1}})


def google_error(status, message, name):
    return Reply(status=status, body={"error": {"code": status, "message": message, "status": name}})


class FakeVertex(FakeUpstream):
    def __init__(self, expires_in=3599, token_delay=0.0):
        super().__init__()
        self.expires_in = expires_in
        self.token_delay = token_delay
        self.issued = []  # access tokens, in the order minted
        self.keys = {}  # private_key_id -> public key
        self._mint = threading.Lock()

    def service_account_key(self, project="test-project"):
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        kid = f"kid-{len(self.keys) + 1}"
        self.keys[kid] = private.public_key()
        pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
        return {"type": "service_account", "project_id": project, "private_key_id": kid, "private_key": pem,
                "client_email": f"plexus@{project}.iam.gserviceaccount.com", "client_id": "1",
                "token_uri": f"{self.url}/token"}

    @property
    def token_requests(self):
        return [r for r in self.requests if r.path == "/token"]

    def default_reply(self, seen):
        if seen.path == "/token":
            return self._token(seen)
        m = VERTEX_PATH.match(seen.path)
        if not m:
            return google_error(404, f"no route {seen.path}", "NOT_FOUND")
        auth = seen.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.issued:
            return google_error(401, "Request had invalid authentication credentials.", "UNAUTHENTICATED")
        body = seen.body if isinstance(seen.body, dict) else {}
        if m["publisher"] == "google":
            if m["method"] == "streamGenerateContent" and seen.path.endswith("?alt=sse"):
                return Reply(events=gemini_wire.stream(["Hello", " from", " Vertex"], model=m["model"]))
            if m["method"] == "countTokens":
                return Reply(body={"totalTokens": 7, "totalBillableCharacters": 20})
            if m["method"] == "predict":
                return predict_answer(m["model"], body)
            if m["method"] == "generateContent":
                return Reply(body=gemini_wire.response([gemini_wire.text("Hello from Vertex")], model=m["model"]))
            return google_error(400, f"unsupported method {m['method']}", "INVALID_ARGUMENT")
        if "model" in body or "anthropic_version" not in body:
            return google_error(400, "anthropic_version is required and model is not allowed", "INVALID_ARGUMENT")
        if m["method"] == "streamRawPredict" and body.get("stream"):
            return Reply(events=wire.anthropic_stream(m["model"], [wire.text_block("Hello from Vertex Claude")]))
        if m["method"] == "rawPredict" and not body.get("stream"):
            return Reply(body=wire.anthropic_message(m["model"], [wire.text_block("Hello from Vertex Claude")]))
        return google_error(400, f"{m['method']} does not match stream={body.get('stream')}", "INVALID_ARGUMENT")

    def _token(self, seen):
        form = parse_qs(seen.body.decode() if isinstance(seen.body, bytes) else "")
        if seen.headers.get("content-type") != "application/x-www-form-urlencoded" or \
                form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"]:
            return Reply(status=400, body={"error": "unsupported_grant_type"})
        head, claims, signature = form["assertion"][0].split(".")
        header, payload = json.loads(_b64(head)), json.loads(_b64(claims))
        public = self.keys.get(header.get("kid"))
        try:
            assert header["alg"] == "RS256" and public is not None
            public.verify(_b64(signature), f"{head}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256())
            assert payload["aud"] == GOOGLE_AUD and "cloud-platform" in payload["scope"]
        except Exception:
            return Reply(status=400, body={"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
        if self.token_delay:
            threading.Event().wait(self.token_delay)
        with self._mint:
            token = f"ya29.fake-vertex-token-{len(self.issued) + 1}"
            self.issued.append(token)
        return Reply(body={"access_token": token, "expires_in": self.expires_in, "token_type": "Bearer"})
