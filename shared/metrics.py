"""Prometheus metrics, declared once. No job ids as labels: cardinality stays bounded."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

STEP_SECONDS = Histogram(
    "vfo_step_duration_seconds",
    "Wall time of one step attempt.",
    ["step", "outcome"],
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)
STEPS = Counter("vfo_steps_total", "Step attempts by outcome.", ["step", "outcome"])
EVENTS_APPENDED = Counter("vfo_events_appended_total", "Events appended to JOB_EVENTS.", ["type"])
APPEND_CONFLICTS = Counter("vfo_append_conflicts_total", "Appends refused by the expected-sequence check.")
WORK_PUBLISHED = Counter("vfo_work_published_total", "Work items published.", ["step"])
CONSUMED = Counter(
    "vfo_consumer_messages_total",
    "Messages handled by a durable consumer, by outcome (acked, redelivered, terminated).",
    ["consumer", "outcome"],
)
UNREADABLE = Counter(
    "vfo_unreadable_events_total",
    "Messages on JOB_EVENTS a reader could not read as an event, recorded and skipped.",
    ["reader"],
)
REDELIVERIES = Counter("vfo_work_redeliveries_total", "Work items received more than once.", ["step"])
PROJECTION_LAG = Gauge("vfo_projection_lag_events", "Events in JOB_EVENTS not yet in the board tables.")
PROJECTED = Counter("vfo_projected_events_total", "Events applied to the board tables.")
RENDER_RTF = Histogram(
    "vfo_render_realtime_factor",
    "Seconds of video rendered per wall second.",
    buckets=(0.5, 1, 2, 5, 10, 20, 35, 50, 75, 100, 200),
)
HTTP_REQUESTS = Counter("vfo_http_requests_total", "HTTP requests served.", ["method", "route", "status"])


def serve(port: int | None, host: str = "127.0.0.1") -> None:
    """Expose /metrics on `port` for a service that has no HTTP API of its own."""
    if port is not None:
        start_http_server(port, addr=host)


WEBHOOKS = Counter(
    "vfo_webhook_deliveries_total", "Webhook delivery attempts by what became of the delivery.", ["status"]
)
