"""The only module that talks to upstreams: pooled sessions, timeouts, error mapping, stream reading.

Every response it hands out must be closed by the caller (`close()` is safe to call twice).
"""

import logging
import os
import time
from email.utils import parsedate_to_datetime
from typing import Any, Callable, Iterator

import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.utils import get_auth_from_url, get_environ_proxies

from .errors import GatewayError, UpstreamError, UpstreamTimeout, UpstreamUnavailable
from ..redaction import redact_and_clip, spellings
from ..wire.error_body import parse_error_body

log = logging.getLogger("plexus.proxy")

MAX_ERROR_BODY = 64 * 1024
HEAD_LIMIT = 1 << 20  # bytes of a stream held back while looking for its first output


class Upstreams:
    """One pooled `requests.Session` per provider (keyed by id and base URL, so an edited provider
    gets a fresh pool). `configure` follows the config: the secrets to blank out of upstream error
    messages, the largest non-streamed answer to read.

    An upstream call is prepared here and handed to the session's adapter directly: Session.send
    would resolve proxies, time the call and run hooks, and keep every cookie an upstream sets, for
    nothing an upstream call uses. What it does that matters is kept: TLS verified, redirects
    followed (through the session, so as requests follows them). No cookie outlives its request:
    the sessions' jars keep none. From the environment, read once per URL (and again after a
    config reload): the standard proxy variables (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY)
    and a CA bundle (REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE) for a gateway behind an egress proxy;
    never .netrc credentials."""

    def __init__(self, pool_size: int = 256) -> None:
        self.pool_size = pool_size
        self._sessions = {}
        self._urls: dict[str, tuple[str, bool, dict]] = {}  # url -> (as requests prepares it, has user:password@, proxies)
        self.verify: bool | str = True
        self.secrets: list[str] = []  # redaction.spellings of every secret the config holds
        self.max_body = 32 * 1024 * 1024

    def configure(self, config: Any) -> None:
        self.secrets = spellings(config.secrets())
        self.max_body = config.limits.upstream_body_bytes
        self.verify = environ_ca_bundle()
        self._urls = {}  # the environment's proxies are looked up again

    def session(self, provider: Any) -> requests.Session:
        return self._pool(provider)[0]

    def _pool(self, provider):
        key = (provider.id, provider.api_base_url)
        pool = self._sessions.get(key)
        if pool is None:
            s = requests.Session()
            s.trust_env = False  # never .netrc credentials; proxies are resolved here (prepare)
            s.cookies = NoCookies()
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=self.pool_size, max_retries=0)
            s.mount("http://", adapter)
            s.mount("https://", adapter)
            pool = self._sessions[key] = (s, adapter)
        return pool

    def send(self, provider: Any, url: str, headers: dict, body: bytes, stream: bool = False) -> requests.Response:
        """POST `body` (bytes) upstream. Returns a 2xx `requests.Response`; raises a GatewayError for
        a connection failure, a timeout, or an upstream error status (with the upstream's message)."""
        known = self._known(url)
        prepared = self._prepared(known, url, headers, body)
        session, adapter = self._pool(provider)
        # always streamed here: a body is then read in pieces, never more than a cap of it
        sending = {"stream": True, "timeout": (provider.connect_timeout, first_byte_timeout(provider)),
                   "verify": self.verify, "cert": None, "proxies": known[2]}
        try:
            resp = adapter.send(prepared, **sending)
            if resp.is_redirect:
                resp = follow_redirects(session, resp, prepared, sending)
        except requests.exceptions.ConnectTimeout:
            raise UpstreamTimeout(f"Timed out connecting to provider '{provider.id}'") from None
        except requests.exceptions.ReadTimeout:
            raise UpstreamTimeout(f"Provider '{provider.id}' did not answer in time") from None
        except requests.exceptions.RequestException as e:
            log.warning("provider %s unreachable: %s", provider.id, type(e).__name__)
            raise UpstreamUnavailable(f"Could not reach provider '{provider.id}'") from None
        if resp.status_code >= 400:
            raise upstream_error(resp, provider, self.secrets)
        if not stream:
            read_whole(resp, provider, self.max_body)
        return resp

    def prepare(self, url: str, headers: dict, body: bytes) -> requests.PreparedRequest:
        """The POST as `PreparedRequest.prepare(method="POST", url=url, headers=headers, data=body)`
        makes it, the URL's preparation done once per URL, no cookie jar made for it."""
        return self._prepared(self._known(url), url, headers, body)

    def _known(self, url: str) -> tuple[str, bool, dict]:
        """What a URL's calls share: the URL as requests prepares it, whether it holds user:password@,
        and the proxies the environment names for it."""
        known = self._urls.get(url)
        if known is None:
            probe = requests.PreparedRequest()
            probe.prepare_url(url, None)
            if len(self._urls) >= 1024:  # URLs carry model names: keep the cache bounded
                self._urls.clear()
            known = self._urls[url] = (probe.url, any(get_auth_from_url(probe.url)), get_environ_proxies(probe.url))
        return known

    @staticmethod
    def _prepared(known: tuple, url: str, headers: dict, body: bytes) -> requests.PreparedRequest:
        prepared = requests.PreparedRequest()
        prepared.method = "POST"
        prepared.url = known[0]
        prepared.prepare_headers(headers)  # which also refuses a header holding a newline
        if type(body) is bytes and body:
            prepared.body = body
            prepared.headers["Content-Length"] = str(len(body))
        else:
            prepared.prepare_body(body, None)
        if known[1]:
            prepared.prepare_auth(None, url)  # user:password@ in the URL: Basic auth, as requests does
        return prepared

    def close(self) -> None:
        for s, _ in self._sessions.values():
            s.close()
        self._sessions.clear()


def environ_ca_bundle() -> str | bool:
    """The CA bundle the environment names for TLS (`verify` in requests' terms), else True: the
    bundle requests ships."""
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True


class NoCookies(requests.cookies.RequestsCookieJar):
    """A jar that keeps nothing: cookies one client's upstream answer set never go out with
    another client's request (a redirect's follow-up would otherwise carry them)."""

    def set_cookie(self, cookie, *args, **kwargs):
        pass


def follow_redirects(session: requests.Session, resp: requests.Response, prepared: requests.PreparedRequest,
                     sending: dict) -> requests.Response:
    """The answer at the end of `resp`'s redirects, followed as Session.send follows them."""
    prepared._cookies = requests.cookies.RequestsCookieJar()  # this request's own, as prepare() gives it
    history = list(session.resolve_redirects(resp, prepared, **sending))
    if not history:
        return resp
    final = history.pop()
    final.history = [resp, *history]
    return final


def read_whole(resp: requests.Response, provider: Any, limit: int) -> None:
    """Read a non-streamed answer into `resp.content`, in pieces, failing (502) past `limit` bytes."""
    pieces, size = [], 0
    try:
        while True:
            piece = resp.raw.read(65536, decode_content=True)
            if not piece:
                break
            size += len(piece)
            if size > limit:
                resp.close()
                raise UpstreamError(f"Provider '{provider.id}' answered with more than {limit} bytes", status=502)
            pieces.append(piece)
    except GatewayError:
        raise
    except Exception as e:
        resp.close()
        raise stream_error(e, provider, started=False) from None
    resp._content = b"".join(pieces)  # what requests itself keeps once it has read a body
    resp._content_consumed = True


MAX_ERROR_MESSAGE = 500  # characters of an upstream's error message passed on (after redaction)


def upstream_error(resp: requests.Response, provider: Any, secrets: list[str] = ()) -> UpstreamError:
    """The upstream's error (at most MAX_ERROR_BODY bytes of it read) with every secret the config
    holds blanked out of its message before the message is cut."""
    try:
        body = resp.raw.read(MAX_ERROR_BODY, decode_content=True)
    except Exception:
        body = b""
    finally:
        resp.close()
    message, upstream_type, code = parse_error_body(body, limit=None)
    message = message or f"Provider '{provider.id}' answered HTTP {resp.status_code}"
    message = redact_and_clip(message, secrets or spellings([provider.api_key]), MAX_ERROR_MESSAGE, mark="***")
    headers = {k: v for k, v in resp.headers.items() if k.lower() in ("retry-after", "retry-after-ms")}
    error = UpstreamError(message, status=resp.status_code, upstream_type=upstream_type, code=code, headers=headers)
    error.upstream_body = body  # the upstream's own words, for debug capture (plexus/capture.py redacts them)
    return error


def first_byte_timeout(provider: Any) -> float:
    if provider.total_timeout:
        return min(provider.first_byte_timeout, provider.total_timeout)
    return provider.first_byte_timeout


class UpstreamStream:
    """A streamed answer whose first chunk has already arrived (so a failure before it can still
    fail over), read from then on with the provider's idle timeout between chunks."""

    def __init__(self, resp: requests.Response, provider: Any, useful: Callable[[bytes], Any] | None = None) -> None:
        """With `useful` (a predicate on the bytes so far), the chunks are held back until one
        carries output: a stream that sends none within the first-byte timeout, or ends first,
        fails here, so it can still fail over."""
        self.resp = resp
        self.provider = provider
        self._chunks = iter_body(resp)
        try:
            self.head = self._first(useful)
        except StopIteration:
            resp.close()
            raise UpstreamUnavailable(f"Provider '{provider.id}' sent an empty stream") from None
        except GatewayError:
            resp.close()
            raise
        except Exception as e:
            resp.close()
            raise stream_error(e, provider, started=False) from None
        sock = getattr(resp.raw.connection, "sock", None) if resp.raw.connection else None
        if sock is not None:
            sock.settimeout(provider.idle_timeout)

    def _first(self, useful):
        head = [next(self._chunks)]
        if useful is None or head[0].lstrip()[:1] in (b"{", b"["):  # not an event stream: the relay judges it
            return head
        deadline = time.monotonic() + first_byte_timeout(self.provider)
        seen, total = head[0], len(head[0])
        while not useful(seen) and total < HEAD_LIMIT:
            if time.monotonic() > deadline:
                raise UpstreamTimeout(f"Provider '{self.provider.id}' stalled: no output for {first_byte_timeout(self.provider):g}s")
            try:
                head.append(next(self._chunks))
            except StopIteration:
                raise UpstreamUnavailable(f"Provider '{self.provider.id}' sent a stream with no output") from None
            seen = seen[-64:] + head[-1]  # a marker may straddle two chunks
            total += len(head[-1])
        return head

    def __iter__(self) -> Iterator[bytes]:
        yield from self.head
        try:
            yield from self._chunks
        except Exception as e:
            raise stream_error(e, self.provider, started=True) from None

    def close(self) -> None:
        self.resp.close()

    def abort(self) -> None:
        """Stop a read another greenlet is blocked in (closing from here could deadlock on the
        reader's buffer); the reader then sees the end and closes as usual."""
        try:
            self.resp.raw.shutdown()
        except (ValueError, RuntimeError, OSError):
            pass


def stream_error(exc: BaseException, provider: Any, started: bool) -> GatewayError:
    """A stream read failure as a GatewayError that says what happened."""
    if _is_timeout(exc):
        limit = provider.idle_timeout if started else provider.first_byte_timeout
        return UpstreamTimeout(f"Provider '{provider.id}' stalled: no data for {limit:g}s")
    return UpstreamUnavailable(f"The connection to provider '{provider.id}' broke ({type(exc).__name__})")


def _is_timeout(exc):
    for _ in range(6):  # the timeout may sit a few causes deep
        if exc is None:
            return False
        if isinstance(exc, (TimeoutError, urllib3.exceptions.TimeoutError, requests.exceptions.Timeout)):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def retry_after(err: Exception) -> float | None:
    """Seconds from a Retry-After (or retry-after-ms) header on an upstream error, if any."""
    headers = {k.lower(): v for k, v in getattr(err, "headers", {}).items()}
    try:
        if "retry-after-ms" in headers:
            return float(headers["retry-after-ms"]) / 1000
        if "retry-after" in headers:
            value = headers["retry-after"]
            try:
                return float(value)
            except ValueError:
                return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
    except (TypeError, ValueError):
        return None
    return None


def iter_body(resp: requests.Response) -> Iterator[bytes]:
    """Yield the body's bytes as they arrive, never waiting to fill a buffer. Chunked bodies come a
    chunk at a time; others as whatever one socket read returns."""
    raw = resp.raw
    if raw.chunked and raw.supports_chunked_reads():
        # at most 64 KiB at a time, however large the HTTP chunk (a small one still comes whole)
        yield from raw.read_chunked(65536, decode_content=True)
        return
    while True:
        data = raw.read1(65536, decode_content=True)
        if not data:
            return
        yield data
