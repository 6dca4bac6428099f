"""What `GET /metrics` reports, in Prometheus' text format (prometheus-client), one registry per service."""
from __future__ import annotations

import re
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# Each refusal's reason, from the loader's own message (first match wins).
REASONS = [("missing_column", r"not found|no 'timestamp' column"), ("not_a_number", r"is not a number"),
           ("outside_float32", r"outside float32"), ("time_order", r"is not after|comes before|repeats"),
           ("missing_value", r"missing \(NaN or inf\)"), ("bad_timestamp", r"ISO 8601 time|times pandas can hold"),
           ("cadence", r"apart \(the median step\)"), ("trace_id", r"trace_id")]   # cadence's message names trace_id
LATENCY_BUCKETS_SECONDS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


def reason(message: str) -> str:
    """A refusal's reason label, from its message."""
    return next((name for name, pattern in REASONS if re.search(pattern, message)), "invalid_rows")


class Meters:
    def __init__(self, links_held, model_written_unix: float):
        self.registry = registry = CollectorRegistry()
        self.requests = Counter("bwkit_requests", "HTTP requests answered", ["endpoint", "method", "status"],
                                registry=registry)
        self.latency = Histogram("bwkit_request_seconds", "time to answer a request", ["endpoint"],
                                 buckets=LATENCY_BUCKETS_SECONDS, registry=registry)
        self.rows = Counter("bwkit_rows_accepted", "telemetry rows taken into a link's window", registry=registry)
        self.refused = Counter("bwkit_rows_refused", "telemetry rows refused, by reason", ["reason"], registry=registry)
        self.evicted = Counter("bwkit_links_evicted", "links dropped as least recently used", registry=registry)
        Gauge("bwkit_links", "links held", registry=registry).set_function(links_held)
        self.model_written_unix = model_written_unix
        Gauge("bwkit_model_age_seconds", "seconds since the served model was exported",
              registry=registry).set_function(lambda: time.time() - self.model_written_unix)
        self.snapshot_unix = Gauge("bwkit_snapshot_unixtime", "when the links were last snapshotted (0: never)",
                                   registry=registry)
        self._children = {}

    def answered(self, endpoint: str, method: str, status: int, *, seconds: float) -> None:
        key = (endpoint, method, status)
        children = self._children.get(key)
        if children is None:   # labels() looks the child up each time: keep them
            children = self._children[key] = (self.requests.labels(endpoint, method, str(status)),
                                              self.latency.labels(endpoint))
        children[0].inc()
        children[1].observe(seconds)

    def text(self) -> bytes:
        return generate_latest(self.registry)
