"""Prometheus metrics: what every finished request did, and the gateway's gauges, at `GET /metrics`.

Counters and histograms are fed by one sink on `Gateway.sinks` (one call per finished request, no
per-chunk work) that only adds to dicts in memory; the sums reach prometheus_client's values at
each scrape in the answering worker, and each second in every worker when there are several.
Gauges (streams in flight, cooldowns, usage-queue depth) are sampled at the same moments.

Under gunicorn, `gunicorn.conf.py` points PROMETHEUS_MULTIPROC_DIR at a folder shared by the
workers before they start; prometheus_client then keeps every value in a memory-mapped file per
worker and a scrape adds them all up, so the numbers are the instance's whatever worker answers.
Without that variable (plain pytest, `flask run`) each app has its own in-memory registry.
"""

import logging
import os
import threading
from bisect import bisect_left

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import disable_created_metrics, multiprocess

from .core.errors import kind_for_status
from .usage.row import billed

log = logging.getLogger("plexus.metrics")
disable_created_metrics()  # no `_created` series: multiprocess mode has none, so neither does one process

SAMPLE_S = 1.0
TOKEN_KINDS = (("input", "input_tokens"), ("output", "output_tokens"), ("cached", "cached_tokens"),
               ("cache_write", "cache_write_tokens"), ("reasoning", "reasoning_tokens"))
# LLM calls take from a fraction of a second to many minutes
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300, 600)
TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60)
OVERHEAD_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)
UNKNOWN_ALIAS = "(unknown)"  # a model name no alias has: not a label value of its own, or a client could add series


def multiprocess_dir():
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class Metrics:
    def __init__(self, gateway, queue_depth=lambda: 0):
        """`queue_depth()` gives the number of usage records this worker has not stored yet."""
        self.gateway = gateway
        self.queue_depth = queue_depth
        self.shared_dir = multiprocess_dir()
        r = self.registry = CollectorRegistry()
        self.requests = Counter("plexus_requests", "Requests through /v1, by alias, provider, client API style and "
                                "final status (an HTTP code or 'cancelled')", ("alias", "provider", "api_style", "status"),
                                registry=r)
        self.tokens = Counter("plexus_tokens", "Tokens by kind (input excludes cached and cache-write tokens; output "
                              "includes reasoning), estimated ones included", ("alias", "provider", "kind"), registry=r)
        self.cost = Counter("plexus_cost_usd", "Cost in USD of the priced requests", ("alias", "provider"), registry=r)
        self.unpriced = Counter("plexus_unpriced_requests", "Requests whose cost is unknown (no price configured)",
                                ("alias", "provider"), registry=r)
        self._bounds = {}  # histogram -> its buckets' upper bounds, +Inf last (as prometheus_client has them)
        self.duration = self._histogram("plexus_request_duration_seconds", "Whole request, from arrival to the last byte",
                                  ("alias", "provider"), buckets=LATENCY_BUCKETS, registry=r)
        self.ttft = self._histogram("plexus_time_to_first_token_seconds", "Streams: from arrival to the first byte sent "
                              "to the client", ("alias", "provider"), buckets=TTFT_BUCKETS, registry=r)
        self.overhead = self._histogram("plexus_gateway_overhead_seconds", "Request duration minus the time spent waiting "
                                  "on the upstream, for requests that reached one", ("fast_path",),
                                  buckets=OVERHEAD_BUCKETS, registry=r)
        self.upstream_errors = Counter("plexus_upstream_errors", "Failed upstream attempts (and streams that broke "
                                       "after their first byte), by provider and kind", ("provider", "kind"), registry=r)
        self.failovers = Counter("plexus_failovers", "Requests that needed more than one attempt", ("alias",), registry=r)
        self.streams = Gauge("plexus_streams_in_flight", "Streams being relayed now", registry=r,
                             multiprocess_mode="livesum")
        self.cooldowns = Gauge("plexus_cooldowns_active", "Targets cooling down now (shared by every worker)",
                               registry=r, multiprocess_mode="livemax")
        self.queue = Gauge("plexus_usage_queue_depth", "Usage records waiting to be stored", registry=r,
                           multiprocess_mode="livesum")
        self._children = {}
        self._lock = threading.Lock()
        self._counts = {}  # (metric, labels) -> amount, not yet flushed
        self._observed = {}  # (histogram, labels) -> [sum, count per bucket], not yet flushed

    def _histogram(self, name, documentation, labels, buckets, registry):
        metric = Histogram(name, documentation, labels, buckets=buckets, registry=registry)
        self._bounds[metric] = (*buckets, float("inf"))
        return metric

    # ---- the sink: once per finished request ------------------------------------------------------

    def observe(self, rec):
        """Count one finished request. Never raises: metrics must not break a request."""
        try:
            self._observe(rec)
        except Exception:
            log.exception("metrics: request %s not counted", rec.request_id)

    def _observe(self, rec):
        config = self.gateway.config
        alias = rec.alias if rec.alias is None or rec.alias in config.names else UNKNOWN_ALIAS
        alias, provider = alias or "", rec.provider or ""
        usage, cost = billed(rec, config)  # the same tokens (estimates too) and cost as the stored record
        with self._lock:
            add, put = self._add, self._put
            add(self.requests, (alias, provider, rec.api_style or "", str(rec.status)))
            for kind, name in TOKEN_KINDS:
                n = getattr(usage, name)
                if n:
                    add(self.tokens, (alias, provider, kind), n)
            total = cost.total if cost is not None else None
            if total:
                add(self.cost, (alias, provider), total)
            elif total is None and rec.upstream_started is not None:
                add(self.unpriced, (alias, provider))
            if rec.duration_s is not None:
                put(self.duration, (alias, provider), rec.duration_s)
                if rec.upstream_started is not None:  # failed attempts' waits are upstream time too
                    put(self.overhead, ("true" if rec.fast_path else "false",), max(rec.duration_s - rec.upstream_s, 0.0))
            if rec.streamed and rec.first_byte is not None:
                put(self.ttft, (alias, provider), rec.first_byte - rec.started)
            for attempt in rec.attempts:
                if "error" in attempt:
                    add(self.upstream_errors, (attempt.get("provider", ""), _kind(attempt.get("status"))))
            if rec.attempts:
                last = rec.attempts[-1]
                # the chosen upstream answered, then failed (a stream cut, a body that is not JSON)
                if "error" not in last and isinstance(rec.status, int) and rec.status >= 500:
                    add(self.upstream_errors, (last.get("provider", ""), _kind(rec.status)))
                if len(rec.attempts) > 1:
                    add(self.failovers, (alias,))

    # Under gunicorn every increment of a prometheus_client value is a locked write to a memory-mapped
    # file (and a getpid): some 3-6 µs each, ~15 of them a request. So the sink only adds to plain
    # dicts, and flush() hands the sums over once a second and before each scrape.

    def _add(self, metric, labels, amount=1):
        key = (metric, labels)
        self._counts[key] = self._counts.get(key, 0) + amount

    def _put(self, metric, labels, value):
        key = (metric, labels)
        bounds = self._bounds[metric]
        found = self._observed.get(key)
        if found is None:
            found = self._observed[key] = [0.0] + [0] * len(bounds)
        found[0] += value
        found[1 + bisect_left(bounds, value)] += 1  # buckets count `value <= bound`

    def flush(self):
        """Move what the sink gathered into the Prometheus values (shared files under gunicorn)."""
        with self._lock:
            counts, self._counts = self._counts, {}
            observed, self._observed = self._observed, {}
        for (metric, labels), amount in counts.items():
            self._child(metric, labels).inc(amount)
        for (metric, labels), (total, *buckets) in observed.items():
            _observe_many(self._child(metric, labels), total, buckets)

    def _child(self, metric, labels):
        """metric.labels(*labels), remembered: labels() validates on every call. As bounded as the
        label values (names from the config)."""
        key = (metric, labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    # ---- gauges -----------------------------------------------------------------------------------

    def sample(self):
        gw = self.gateway
        self.streams.set(gw.streams_in_flight)
        self.cooldowns.set(len(gw.cooldowns.active()))
        self.queue.set(self.queue_depth())

    def publish(self):
        """Flush the counts and sample the gauges. With several workers each must do this every
        `SAMPLE_S` (the scheduler's job) for a scrape of any worker to see its numbers; alone, a
        process does it at each scrape."""
        self.flush()
        self.sample()

    # ---- exposition -------------------------------------------------------------------------------

    def render(self):
        """(body, content type) in Prometheus' text format: every worker's numbers added up."""
        self.publish()
        if self.shared_dir:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=self.shared_dir)
        else:
            registry = self.registry
        return generate_latest(registry), CONTENT_TYPE_LATEST


def _observe_many(child, total, bucket_counts):
    """What Histogram.observe() does, for many observations at once. prometheus_client has no public
    call for that, and observing one by one costs a locked write to a shared file each under
    gunicorn, so this reaches into its private per-child values (`_sum`, and `_buckets`: one value
    per bucket, made cumulative when collected). Checked against observe() in tests/test_operations.py;
    if a prometheus_client release changes them, that test fails."""
    child._sum.inc(total)
    for value, n in zip(child._buckets, bucket_counts):
        if n:
            value.inc(n)


def _kind(status):
    return kind_for_status(status) if isinstance(status, int) else "unknown"
