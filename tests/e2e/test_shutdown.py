"""Graceful shutdown under gunicorn: SIGTERM lets in-flight streams finish, refuses new
connections, and flushes their usage records."""

import signal
import sqlite3
import threading
import time

import requests

from tests.support.configs import config_text
from tests.support.secrets import CLIENT_SECRET
from tests.support import wire
from tests.support.fake_upstream import FakeUpstream
from tests.support.gateways import gateway_for


def test_sigterm_lets_the_stream_finish_refuses_new_work_and_keeps_the_record(tmp_path):
    with FakeUpstream() as fake:
        db = tmp_path / "usage.db"
        gw = gateway_for(config_text(fake.url), tmp_path, env={"DATABASE_URL": str(db), "GRACEFUL_TIMEOUT": "20"}).start()
        try:
            fake.reply(events=wire.chat_stream("up-model", [f"w{i} " for i in range(15)]), gap=0.2)
            got, first = [], threading.Event()

            def consume():
                with requests.post(gw.url + "/v1/chat/completions", stream=True, timeout=30,
                                   headers={"Authorization": f"Bearer {CLIENT_SECRET}"},
                                   json={"model": "fast", "stream": True, "messages": [{"role": "user", "content": "x"}]}) as r:
                    for line in r.iter_lines():
                        if line:
                            got.append(line)
                            first.set()

            reader = threading.Thread(target=consume)
            reader.start()
            assert first.wait(10)
            gw.proc.send_signal(signal.SIGTERM)
            refused = False
            deadline = time.time() + 2.5  # the gevent worker looks at its alive flag once a second
            while not refused and time.time() < deadline:
                try:
                    requests.get(gw.url + "/health", timeout=2)
                    time.sleep(0.2)
                except requests.ConnectionError:
                    refused = True
            reader.join(30)
            assert refused, "a new connection was accepted after SIGTERM"
            assert got[-1] == b"data: [DONE]" and sum(b'"content":"w' in line for line in got) == 15
            assert gw.proc.wait(30) == 0
        finally:
            gw.stop()
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT status, streamed, output_tokens FROM usage").fetchall()
    assert rows == [(200, 1, 15)]
