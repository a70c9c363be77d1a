"""WSGI entry: `gunicorn app:app`. gevent patches before anything else is imported."""

from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402

from plexus import create_app  # noqa: E402
from plexus.config import ConfigError  # noqa: E402

try:
    app = create_app()
except ConfigError as e:
    print(f"plexus: the config cannot be used:\n{e}", file=sys.stderr)
    sys.exit(4)  # gunicorn's "App failed to load": the master stops instead of respawning workers
