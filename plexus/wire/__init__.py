"""Wire formats: one package per format the gateway speaks, each holding both directions (the client
side in `client.py`, the upstream side in `upstream.py`) and the tables both share. They meet only
in `plexus.unified`; `registry.py` names them and checks each against `protocols.py`."""
