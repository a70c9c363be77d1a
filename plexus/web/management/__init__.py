"""The management API under /v0/management: JSON only, for holders of the config's `admin_key`.
`usage.py` owns the usage records, `runtime.py` the gateway's running state, `keys.py` the client
keys' policy and standing, `access.py` the admin-key check and the answers' shape."""

from . import keys, runtime, usage

BLUEPRINTS = (usage.bp, runtime.bp, keys.bp)
