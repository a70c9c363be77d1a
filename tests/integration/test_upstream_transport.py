"""How Upstreams.send reaches a provider: the request as requests would prepare it, no cookie carried
from one client's call to another's, redirects followed, TLS verified, the environment's proxy
variables honoured and .netrc ignored (see plexus/core/upstream.py)."""

import datetime
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import SimpleNamespace

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from plexus.core.errors import UpstreamUnavailable
from plexus.core.upstream import Upstreams

HEADERS = {"Authorization": "Bearer sk-up", "Content-Type": "application/json", "x-api-key": "sk-up"}
BODY = b'{"model":"m","messages":[]}'


def provider(url):
    return SimpleNamespace(id="up", api_base_url=url, api_key="sk-up", connect_timeout=2,
                           first_byte_timeout=5, total_timeout=None)


@pytest.mark.parametrize("url", ["http://api.test/v1/chat/completions", "https://api.test:8443/v1beta/models/a b:x?alt=sse",
                                 "https://user:p%40ss@api.test/v1/messages", "http://API.test/v1/caf\u00e9?q=%zz",
                                 "https://b\u00fccher.test/v1/m"])
@pytest.mark.parametrize("body", [BODY, b"", None])
def test_a_request_is_prepared_as_requests_prepares_it(url, body):
    mine = Upstreams().prepare(url, HEADERS, body)
    for _ in range(2):  # the second time from the URL cache
        theirs = requests.PreparedRequest()
        theirs.prepare(method="POST", url=url, headers=HEADERS, data=body)
        assert (mine.method, mine.url, dict(mine.headers), mine.body) == (theirs.method, theirs.url, dict(theirs.headers), theirs.body)
        mine = Upstreams().prepare(url, HEADERS, body)


def test_a_header_holding_a_newline_is_refused():
    with pytest.raises(requests.exceptions.InvalidHeader):
        Upstreams().prepare("http://api.test/v1", {"x-custom": "a\r\nX-Injected: 1"}, BODY)


def test_no_cookie_an_upstream_set_goes_out_with_a_later_call(upstream):
    pools = Upstreams()
    upstream.reply(body={"ok": 1}, headers={"Set-Cookie": "sess=client-one; Path=/"})
    pools.send(provider(upstream.url), upstream.url + "/v1/chat/completions", HEADERS, BODY).close()
    upstream.reply(status=307, body=b"", headers={"Location": upstream.url + "/v1/moved"})
    upstream.reply(body={"ok": 2})
    resp = pools.send(provider(upstream.url), upstream.url + "/v1/chat/completions", HEADERS, BODY)
    assert resp.status_code == 200 and [r.status_code for r in resp.history] == [307]
    first, redirected, followed = upstream.requests
    assert followed.path == "/v1/moved" and followed.body == {"model": "m", "messages": []}  # 307 keeps the POST
    assert "cookie" not in redirected.headers and "cookie" not in followed.headers
    assert len(pools.session(provider(upstream.url)).cookies) == 0


PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


def proxied_by(monkeypatch, proxy, no_proxy=""):
    for name in PROXY_VARIABLES:
        monkeypatch.setenv(name, proxy)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, no_proxy)


def test_a_proxy_named_in_the_environment_carries_the_call(upstream, monkeypatch):
    proxied_by(monkeypatch, upstream.url)  # the fake answers whatever it is asked, like a forwarding proxy would
    target = "http://provider.invalid:9/v1/chat/completions"  # not resolvable: only the proxy can reach it
    resp = Upstreams().send(provider("http://provider.invalid:9/v1"), target, HEADERS, BODY)
    assert resp.status_code == 200 and upstream.last.path == target  # absolute form: a request to a proxy


def test_no_proxy_and_netrc_are_honoured_and_ignored(upstream, monkeypatch, tmp_path):
    trap = socket.socket()
    trap.bind(("127.0.0.1", 0))
    trap.listen(8)
    trap.settimeout(0.3)
    proxied_by(monkeypatch, f"http://127.0.0.1:{trap.getsockname()[1]}", no_proxy="127.0.0.1")
    (tmp_path / "netrc").write_text("machine 127.0.0.1 login someone password netrc-secret\n")
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    try:
        headers = {k: v for k, v in HEADERS.items() if k != "Authorization"}
        resp = Upstreams().send(provider(upstream.url), upstream.url + "/v1/chat/completions", headers, BODY)
        assert resp.status_code == 200 and len(upstream.requests) == 1
        assert "authorization" not in upstream.last.headers  # .netrc is never read
        with pytest.raises(socket.timeout):
            trap.accept()[0].close()  # NO_PROXY: nobody came through the proxy
    finally:
        trap.close()


@pytest.fixture
def self_signed_server(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False).sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    served = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            served.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"https://localhost:{server.server_address[1]}", served
    server.shutdown()
    server.server_close()


def test_an_upstream_certificate_is_verified(self_signed_server):
    url, served = self_signed_server
    with pytest.raises(UpstreamUnavailable):
        Upstreams().send(provider(url), url + "/v1/chat/completions", HEADERS, BODY)
    assert served == []


def test_a_ca_bundle_named_in_the_environment_is_trusted(self_signed_server, monkeypatch, tmp_path):
    url, served = self_signed_server  # its certificate is the fixture's tmp_path/cert.pem, this test's tmp_path too
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "cert.pem"))
    pools = Upstreams()
    pools.configure(SimpleNamespace(secrets=lambda: [], limits=SimpleNamespace(upstream_body_bytes=1 << 20)))
    resp = pools.send(provider(url), url + "/v1/chat/completions", HEADERS, BODY)
    assert resp.status_code == 200 and served == ["/v1/chat/completions"]
