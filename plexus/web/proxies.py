"""Trusted proxies (`trusted_proxies` in the config): when a request comes from one of them, the
client's address is taken from `X-Forwarded-For` — the right-most address that is not itself a
trusted proxy — and `X-Forwarded-Proto` sets the scheme. From anyone else both headers are
ignored, so a client cannot pick the address that the admin-key throttle, the usage records and
the logs see. With no trusted proxies (the default) nothing is rewritten."""

import ipaddress


class TrustedProxies:
    """WSGI middleware; `config()` returns the running Config (it follows hot reloads)."""

    def __init__(self, app, config):
        self.app = app
        self.config = config

    def __call__(self, environ, start_response):
        trusted = self.config().trusted_proxies
        if trusted and _is_trusted(environ.get("REMOTE_ADDR"), trusted):
            forwarded = environ.get("HTTP_X_FORWARDED_FOR")
            if forwarded:
                environ["plexus.proxy_addr"] = environ["REMOTE_ADDR"]
                environ["REMOTE_ADDR"] = client_address(forwarded, trusted, environ["REMOTE_ADDR"])
            proto = environ.get("HTTP_X_FORWARDED_PROTO", "").split(",")[-1].strip().lower()
            if proto in ("http", "https"):
                environ["wsgi.url_scheme"] = proto
        return self.app(environ, start_response)


def client_address(forwarded: str, trusted: tuple, proxy: str) -> str:
    """The right-most address of an X-Forwarded-For list that is not a trusted proxy (entries
    left of it were written by the client and prove nothing); `proxy` when there is none."""
    found = proxy
    for entry in reversed(forwarded.split(",")):
        entry = entry.strip()
        if not _is_address(entry):
            break
        found = entry
        if not _is_trusted(entry, trusted):
            break
    return found


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def _is_trusted(addr, trusted) -> bool:
    try:
        ip = ipaddress.ip_address(addr)
    except (TypeError, ValueError):
        return False
    return any(ip in net for net in trusted)
