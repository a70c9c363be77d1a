"""The management API's client keys: every key's policy and standing (/v0/management/keys), as each
key sees its own at GET /v1/key, with how many of its budget period's requests had no price."""

import time

from flask import Blueprint, current_app

from .access import json_response, require_admin_key

bp = Blueprint("management_keys", __name__, url_prefix="/v0/management")
bp.before_request(require_admin_key)


@bp.get("/keys")
def list_keys():
    gw = current_app.extensions["plexus"]
    now = time.time()
    return json_response({"data": [gw.policy.standing(key, now) for key in gw.config.keys.values()]})
