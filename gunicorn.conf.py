"""gunicorn settings for Plexus. Settings and hooks only: importing the app here would load it unpatched."""

import os
import re

from gunicorn.glogging import Logger  # gunicorn's own module: nothing of the app

bind = [f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '4000')}"]
worker_class = "gevent"
workers = int(os.environ.get("WEB_CONCURRENCY", "1"))
worker_connections = int(os.environ.get("WORKER_CONNECTIONS", "1000"))
# With gevent workers this is a heartbeat, not a request limit: long streams are fine.
timeout = 30
graceful_timeout = int(os.environ.get("GRACEFUL_TIMEOUT", "30"))
keepalive = 5
preload_app = False  # the app must load in the (gevent-patched) workers, never in the master
control_socket_disable = True  # no shared control socket: several instances may run on one host
accesslog = os.environ.get("ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")


# ---- the access log never shows a client key ---------------------------------------------------------
# Gemini-style clients may send their key as `?key=`; the request line and query string atoms are
# logged with it removed, and credential headers are blanked should a custom format name them.

_KEY_PARAM = re.compile(r"(?i)((?:^|[?&;])(?:key|api_key|api-key|access_token)=)[^&;#\s]*")
_CREDENTIAL_HEADERS = ("{authorization}i", "{x-api-key}i", "{x-goog-api-key}i", "{x-admin-key}i", "{cookie}i")


class KeylessAccessLog(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for name in ("r", "q"):
            if atoms.get(name):
                atoms[name] = _KEY_PARAM.sub(r"\1[REDACTED]", atoms[name])
        for name in _CREDENTIAL_HEADERS:
            if atoms.get(name):
                atoms[name] = "[REDACTED]"
        return atoms


logger_class = KeylessAccessLog


def worker_exit(server, worker):
    """Store the usage records this worker still holds, and its last second's metrics, before it
    goes. The master also calls this hook (for a worker that vanished); plexus is never imported
    there, so it does nothing."""
    import sys

    services = sys.modules.get("plexus.services")
    if services is not None:
        services.close_all()


def post_worker_init(worker):
    """Long-lived WebSocket connections (plexus/web/responses_ws.py) see the worker stopping and close
    between turns, so a graceful stop does not wait out GRACEFUL_TIMEOUT on idle connections."""
    import sys

    sockets = sys.modules.get("plexus.web.responses_ws")
    if sockets is not None:
        sockets.worker_alive = lambda: worker.alive


# ---- Prometheus multiprocess mode (plexus/metrics.py) ---------------------------------------------
# Every worker writes its metric values to memory-mapped files in one folder, and a scrape of any
# worker adds them all up. The master sets the folder before the workers are forked, so they inherit
# it; it must be empty at start, or the last run's counts would be added in.

_metrics_dir_made = None

METRIC_FILES = ("counter_*.db", "gauge_*.db", "histogram_*.db", "summary_*.db")


def on_starting(server):
    """PROMETHEUS_MULTIPROC_DIR as given (emptied of a previous run's files), or a new temp folder."""
    import glob
    import tempfile

    global _metrics_dir_made
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        os.makedirs(path, exist_ok=True)
        for pattern in METRIC_FILES:
            for stale in glob.glob(os.path.join(path, pattern)):
                os.remove(stale)
    else:
        path = _metrics_dir_made = tempfile.mkdtemp(prefix="plexus-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = path


def child_exit(server, worker):
    """A worker's live gauges (streams in flight, queue depth) go with it; its counters stay counted."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid, path)


def on_exit(server):
    if _metrics_dir_made:
        import shutil

        shutil.rmtree(_metrics_dir_made, ignore_errors=True)
