"""Issue 18 through the real gunicorn gevent worker: a body that trickles in is cut off at the
body deadline (and the worker keeps answering meanwhile); gunicorn's access log never shows a
`?key=` client key; a huge login form is refused without stalling the worker."""

import socket
import threading
import time

import requests

from tests.support.configs import config_text
from tests.support.fake_upstream import FakeUpstream
from tests.support.gateways import gateway_for
from tests.support.secrets import CLIENT_SECRET


def trickle(port, results, seconds=8.0):
    """POST /login announcing 1000 bytes, then send one every 0.3 s; note what comes back and when."""
    started = time.monotonic()
    sock = socket.create_connection(("127.0.0.1", port), timeout=seconds + 5)
    try:
        sock.sendall(b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                     b"Content-Length: 1000\r\n\r\n")
        sock.settimeout(0.3)
        answer = b""
        while time.monotonic() - started < seconds:
            try:
                sock.sendall(b"a")
            except OSError:
                break
            try:
                data = sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                break
            if not data:
                break
            answer += data
        results.append((answer, time.monotonic() - started))
    finally:
        sock.close()


def test_a_trickled_body_is_cut_off_and_the_worker_keeps_answering(tmp_path):
    with FakeUpstream() as fake:
        with gateway_for(config_text(fake.url, "limits: {body_timeout_s: 1.5}\n"), tmp_path) as gw:
            results = []
            threads = [threading.Thread(target=trickle, args=(gw.port, results)) for _ in range(20)]
            for t in threads:
                t.start()
            time.sleep(0.5)
            health = []
            for _ in range(5):
                t0 = time.monotonic()
                assert requests.get(gw.url + "/health", timeout=5).status_code == 200
                health.append(time.monotonic() - t0)
                time.sleep(0.2)
            for t in threads:
                t.join()
            assert max(health) < 1.0
            assert len(results) == 20
            for answer, took in results:
                assert answer.startswith(b"HTTP/1.1 408") and took < 5, (answer[:60], took)


def test_a_form_with_millions_of_fields_is_refused_at_once(tmp_path):
    with FakeUpstream() as fake:
        with gateway_for(config_text(fake.url), tmp_path) as gw:
            body = b"&".join(b"f%d=" % i for i in range(3_000_000))  # ~26 MB
            t0 = time.monotonic()
            try:
                status = requests.post(gw.url + "/login", data=body, timeout=30,
                                       headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code
            except requests.ConnectionError:  # refused before the upload finished: as good
                status = 413
            assert status == 413 and time.monotonic() - t0 < 10
            assert requests.get(gw.url + "/health", timeout=2).status_code == 200


def test_the_access_log_never_shows_a_query_key(tmp_path):
    with FakeUpstream() as fake:
        gw = gateway_for(config_text(fake.url), tmp_path, env={"ACCESS_LOG": "-"})
        with gw:  # leaving the block checks the whole log for every test secret
            assert requests.get(f"{gw.url}/v1beta/models?key={CLIENT_SECRET}", timeout=5).status_code == 200
            assert requests.get(f"{gw.url}/v1beta/models?alt=json&key={CLIENT_SECRET}", timeout=5).status_code == 200
            time.sleep(0.3)
        log = gw.log()
        assert "/v1beta/models?key=[REDACTED]" in log and "alt=json&key=[REDACTED]" in log
