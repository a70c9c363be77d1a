"""The only module that talks to upstreams: pooled sessions, timeouts, error mapping, stream reading.

Every response it hands out must be closed by the caller (`close()` is safe to call twice).
"""

import logging

import requests
from requests.adapters import HTTPAdapter

from .errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable
from .providers import parse_error_body

log = logging.getLogger("plexus.proxy")

MAX_ERROR_BODY = 64 * 1024


class Upstreams:
    """One pooled `requests.Session` per provider (keyed by id and base URL, so an edited provider
    gets a fresh pool)."""

    def __init__(self, pool_size=256):
        self.pool_size = pool_size
        self._sessions = {}

    def session(self, provider):
        key = (provider.id, provider.api_base_url)
        s = self._sessions.get(key)
        if s is None:
            s = requests.Session()
            s.trust_env = False  # never pick up a proxy or .netrc credentials from the environment
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=self.pool_size, max_retries=0)
            s.mount("http://", adapter)
            s.mount("https://", adapter)
            self._sessions[key] = s
        return s

    def send(self, provider, url, headers, body, stream=False):
        """POST `body` (bytes) upstream. Returns a 2xx `requests.Response`; raises a GatewayError for
        a connection failure, a timeout, or an upstream error status (with the upstream's message)."""
        try:
            resp = self.session(provider).post(
                url,
                data=body,
                headers=headers,
                stream=stream,
                timeout=(provider.connect_timeout, provider.read_timeout),
            )
        except requests.exceptions.ConnectTimeout:
            raise UpstreamTimeout(f"Timed out connecting to provider '{provider.id}'") from None
        except requests.exceptions.ReadTimeout:
            raise UpstreamTimeout(f"Provider '{provider.id}' did not answer in time") from None
        except requests.exceptions.RequestException as e:
            log.warning("provider %s unreachable: %s", provider.id, type(e).__name__)
            raise UpstreamUnavailable(f"Could not reach provider '{provider.id}'") from None
        if resp.status_code >= 400:
            raise upstream_error(resp, provider, stream)
        return resp

    def close(self):
        for s in self._sessions.values():
            s.close()
        self._sessions.clear()


def upstream_error(resp, provider, streamed):
    try:
        body = resp.raw.read(MAX_ERROR_BODY, decode_content=True) if streamed else resp.content[:MAX_ERROR_BODY]
    except Exception:
        body = b""
    finally:
        resp.close()
    message, upstream_type, code = parse_error_body(body)
    message = redact(message or f"Provider '{provider.id}' answered HTTP {resp.status_code}", provider)
    headers = {k: v for k, v in resp.headers.items() if k.lower() in ("retry-after", "retry-after-ms")}
    return UpstreamError(message, status=resp.status_code, upstream_type=upstream_type, code=code, headers=headers)


def redact(text, provider):
    if provider.api_key and provider.api_key in text:
        text = text.replace(provider.api_key, "***")
    return text


def iter_body(resp):
    """Yield the body's bytes as they arrive, never waiting to fill a buffer. Chunked bodies come a
    chunk at a time; others as whatever one socket read returns."""
    raw = resp.raw
    if raw.chunked and raw.supports_chunked_reads():
        yield from raw.read_chunked(None, decode_content=True)
        return
    while True:
        data = raw.read1(65536, decode_content=True)
        if not data:
            return
        yield data
