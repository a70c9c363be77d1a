"""The real gateway under `gunicorn -k gevent` on a free 127.0.0.1 port, stopped by PID."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.support.secrets import SECRETS

ROOT = Path(__file__).resolve().parents[2]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class GatewayProcess:
    def __init__(self, config_path, env=None, workers=1, log_path=None, drop_env=()):
        self.config_path = str(config_path)
        self.port = free_port()
        self.workers = workers
        base = {k: v for k, v in os.environ.items() if k not in drop_env}
        self.env = {**base, "CONFIG_FILE": self.config_path, "WEB_CONCURRENCY": str(workers), **(env or {})}
        self.log_path = log_path or Path(self.config_path).with_suffix(".log")
        self.proc = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout=40):
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "app:app", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{self.port}"],
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"gateway exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if requests.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:  # not listening yet, or too busy booting to answer
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gateway did not come up:\n{self.log()}")

    def log(self):
        try:
            return Path(self.log_path).read_text(errors="replace")
        except OSError:
            return ""

    def assert_no_secrets(self):
        """No recognisable test secret may ever reach the gateway's log."""
        log = self.log()
        leaked = [s for s in SECRETS if s in log]
        assert not leaked, f"a secret leaked into the gateway log: {leaked}"

    def stop(self, timeout=15):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "_log", None):
            self._log.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        if exc[0] is None:
            self.assert_no_secrets()
