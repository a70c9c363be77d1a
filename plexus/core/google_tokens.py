"""OAuth access tokens for `type: vertex` providers, minted from a Google service-account key with
google-auth: one token source per (provider, key), cached, refreshed before it expires (google-auth
counts a token as expired 3 min 45 s early) with one refresh at a time per key — google-auth's own
refresh takes no lock, so concurrent greenlets would otherwise mint in parallel.

The key is the `vertex.credentials` of the provider: a path to the JSON file, or the JSON itself
(typically from `${ENV}`). Neither the key nor a token is ever logged or put in an error message."""

import json
import logging
import threading
from typing import Any

import google.auth.exceptions
import google.auth.transport.requests
import requests
from google.oauth2 import service_account
from requests.utils import get_environ_proxies

from .errors import UpstreamUnavailable
from .upstream import environ_ca_bundle

log = logging.getLogger("plexus.proxy")

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
TOKEN_TIMEOUT = 30.0  # seconds for one call to the token endpoint


class _Transport(google.auth.transport.requests.Request):
    """google-auth's requests transport on a session that, as the gateway's upstream pools do, takes
    the proxy the environment names for a URL and its CA bundle but never .netrc credentials; with
    a bounded wait."""

    def __init__(self) -> None:
        session = requests.Session()
        session.trust_env = False
        session.verify = environ_ca_bundle()
        super().__init__(session)

    def __call__(self, url, method="GET", body=None, headers=None, timeout=None, **kwargs):
        kwargs.setdefault("proxies", get_environ_proxies(url))
        return super().__call__(url, method, body, headers, timeout=timeout or TOKEN_TIMEOUT, **kwargs)


class TokenSource:
    def __init__(self, provider_id: str, credentials: str) -> None:
        self.provider_id = provider_id
        self._creds = service_account.Credentials.from_service_account_info(_key(provider_id, credentials),
                                                                            scopes=SCOPES)
        self._lock = threading.Lock()  # gevent-aware once monkey-patched
        self._transport = _Transport()

    def token(self) -> str:
        creds = self._creds
        if not creds.valid:
            with self._lock:
                if not creds.valid:  # another greenlet may have refreshed it while this one waited
                    self._refresh()
        return creds.token

    def _refresh(self) -> None:
        try:
            self._creds.refresh(self._transport)
        except (google.auth.exceptions.GoogleAuthError, requests.RequestException) as e:
            log.warning("provider %s: could not mint an access token (%s)", self.provider_id, type(e).__name__)
            raise UpstreamUnavailable(f"Provider '{self.provider_id}': the token endpoint refused or could not be "
                                      f"reached ({type(e).__name__})") from None


def _key(provider_id: str, credentials: str) -> dict:
    """The service-account key: the JSON itself, or read from the file it names."""
    try:
        if credentials.lstrip().startswith("{"):
            info = json.loads(credentials)
        else:
            with open(credentials, encoding="utf-8") as f:
                info = json.load(f)
    except (OSError, ValueError) as e:
        kind = "is not valid JSON" if isinstance(e, ValueError) else f"cannot be read ({e.strerror})"
        raise UpstreamUnavailable(f"Provider '{provider_id}': its service-account credentials {kind}") from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise UpstreamUnavailable(f"Provider '{provider_id}': its credentials are not a service-account key")
    return info


_SOURCES: dict[tuple[str, str], TokenSource] = {}
_SOURCES_LOCK = threading.Lock()


def access_token(provider: Any) -> str:
    """A valid access token for the provider's service account (raises UpstreamUnavailable)."""
    key = (provider.id, provider.vertex["credentials"])
    source = _SOURCES.get(key)
    if source is None:
        with _SOURCES_LOCK:
            source = _SOURCES.get(key)
            if source is None:
                try:
                    source = _SOURCES[key] = TokenSource(*key)
                except (ValueError, google.auth.exceptions.GoogleAuthError):  # google-auth refuses the key's contents (e.g. no private key)
                    raise UpstreamUnavailable(f"Provider '{provider.id}': its service-account key is incomplete") from None
    return source.token()
