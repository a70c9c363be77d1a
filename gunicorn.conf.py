"""gunicorn settings for Plexus. Settings and hooks only: importing the app here would load it unpatched."""

import os

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


def worker_exit(server, worker):
    """Store the usage records this worker still holds before it goes. The master also calls this
    hook (for a worker that vanished); plexus is never imported there, so it does nothing."""
    import sys

    usage = sys.modules.get("plexus.usage")
    if usage is not None:
        usage.shutdown()
