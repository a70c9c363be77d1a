"""The stack's reference: the least a Flask + gevent + requests proxy can do. Every POST goes to
$UPSTREAM with the same path, query and body; the answer comes back as is, a stream relayed chunk by
chunk as it arrives. No auth, no parsing, no accounting: Plexus's overhead is measured against this.

    gunicorn -k gevent -w 1 --chdir bench passthrough_app:app      (bench/run.py starts it so)
"""

from gevent import monkey

monkey.patch_all()

import os  # noqa: E402

import requests  # noqa: E402
from flask import Flask, Response, request  # noqa: E402
from requests.adapters import HTTPAdapter  # noqa: E402

UPSTREAM = os.environ["UPSTREAM"].rstrip("/")
HEADERS = {"Content-Type": "application/json", "Authorization": "Bearer sk-fake", "x-api-key": "sk-fake",
           "anthropic-version": "2023-06-01"}

app = Flask(__name__)
session = requests.Session()
session.trust_env = False
session.mount("http://", HTTPAdapter(pool_connections=4, pool_maxsize=1024, max_retries=0))


@app.post("/<path:path>")
def forward(path):
    query = request.query_string.decode()
    url = f"{UPSTREAM}/{path}" + (f"?{query}" if query else "")
    resp = session.post(url, data=request.get_data(), headers=HEADERS, stream=True, timeout=(10, 600))
    ctype = resp.headers.get("Content-Type", "application/json")
    if not ctype.startswith("text/event-stream"):
        body = resp.content
        resp.close()
        return Response(body, status=resp.status_code, content_type=ctype)

    def relay():
        try:
            yield from resp.raw.read_chunked(decode_content=True) if resp.raw.chunked else resp.iter_content(None)
        finally:
            resp.close()

    return Response(relay(), status=resp.status_code, content_type=ctype, headers={"Cache-Control": "no-cache"})


@app.get("/health")
def health():
    return {"status": "ok"}
