"""The management API under /v0/management: JSON only, for holders of the config's `admin_key`.
`usage.py` owns the usage records, `runtime.py` the gateway's running state, `access.py` the
admin-key check and the answers' shape."""

from . import runtime, usage

BLUEPRINTS = (usage.bp, runtime.bp)
