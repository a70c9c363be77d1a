"""Vertex access tokens (plexus/core/google_tokens.py) against a fake token endpoint: minted once and
cached, refreshed before expiry, one refresh for many concurrent callers, clear errors that never
show the key or a token."""

import datetime
import json
import threading
from types import SimpleNamespace

import pytest

from plexus.core import google_tokens
from plexus.core.errors import UpstreamUnavailable
from tests.support.fake_vertex import FakeVertex


@pytest.fixture
def vertex():
    with FakeVertex() as fake:
        yield fake


def provider(credentials, pid="vx"):
    return SimpleNamespace(id=pid, vertex={"credentials": credentials})


def test_a_token_is_minted_once_cached_and_refreshed_before_it_expires(vertex, tmp_path):
    path = tmp_path / "sa.json"
    path.write_text(json.dumps(vertex.service_account_key()))
    p = provider(str(path), "cache-test")
    assert google_tokens.access_token(p) == google_tokens.access_token(p) == "ya29.fake-vertex-token-1"
    assert len(vertex.token_requests) == 1
    source = google_tokens._SOURCES[(p.id, str(path))]
    # three minutes left: inside google-auth's early-refresh window, so a new token comes now
    source._creds.expiry = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) + datetime.timedelta(minutes=3)
    assert google_tokens.access_token(p) == "ya29.fake-vertex-token-2"


def test_concurrent_callers_share_one_refresh(tmp_path):
    with FakeVertex(token_delay=0.3) as vertex:
        p = provider(json.dumps(vertex.service_account_key()), "concurrent-test")
        got = []
        threads = [threading.Thread(target=lambda: got.append(google_tokens.access_token(p))) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert got == ["ya29.fake-vertex-token-1"] * 8 and len(vertex.token_requests) == 1


def test_bad_credentials_are_clear_errors_without_secrets(vertex, tmp_path):
    with pytest.raises(UpstreamUnavailable, match="cannot be read"):
        google_tokens.access_token(provider(str(tmp_path / "missing.json"), "e1"))
    with pytest.raises(UpstreamUnavailable, match="not valid JSON"):
        google_tokens.access_token(provider("{not json", "e2"))
    key = vertex.service_account_key()
    vertex.keys[key["private_key_id"]] = None  # the endpoint no longer knows the key: it refuses the grant
    with pytest.raises(UpstreamUnavailable, match="token endpoint refused") as caught:
        google_tokens.access_token(provider(json.dumps(key), "e3"))
    assert "PRIVATE KEY" not in caught.value.message and vertex.issued == []
