"""The Flask-free core: a `Call` goes through one pipeline (resolve -> choose target -> exchange ->
relay -> record); routing, the upstream client, the gateway's live state, errors, observers."""
