"""OpenTelemetry set-up and trace propagation through NATS headers.

One trace per job: every publish injects the current context into the message headers (PRODUCER
span), every receive continues it (CONSUMER span), so a job's spans across board, script, tts and
render share one trace id. Spans go nowhere by default; `VFO_TRACES` picks "console", "otlp"
(the standard `OTEL_EXPORTER_OTLP_*` variables) or a file path (one JSON span per line).
"""

from __future__ import annotations

import atexit
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.trace import Span, SpanKind

log = logging.getLogger(__name__)
_tracer = trace.get_tracer("video_factory")
_configured = False


def setup_tracing(service_name: str, traces: str) -> None:
    """Install the process's tracer provider once; later calls (all-in-one mode) keep the first."""
    global _configured
    if _configured or traces == "none":
        return
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    exporter: SpanExporter
    if traces == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    elif traces == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    else:
        out = open(traces, "a", encoding="utf-8")  # noqa: SIM115 - lives as long as the process
        exporter = ConsoleSpanExporter(out=out, formatter=lambda span: span.to_json(indent=None) + "\n")
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    atexit.register(provider.shutdown)
    _configured = True


def inject(headers: dict[str, str]) -> dict[str, str]:
    """Put the current trace context (`traceparent`) into NATS headers."""
    propagate.inject(headers)
    return headers


def extract(headers: Mapping[str, str] | None) -> otel_context.Context:
    return propagate.extract(dict(headers or {}))


def _messaging(span: Span, service: str, subject: str, operation: str) -> None:
    span.set_attribute("messaging.system", "nats")
    span.set_attribute("messaging.destination.name", subject)
    span.set_attribute("messaging.operation.type", operation)
    span.set_attribute("vfo.service", service)


@contextmanager
def producer_span(service: str, subject: str, job_id: str | None = None) -> Iterator[Span]:
    with _tracer.start_as_current_span(f"send {subject.split('.')[0]}", kind=SpanKind.PRODUCER) as span:
        _messaging(span, service, subject, "send")
        if job_id:
            span.set_attribute("vfo.job_id", job_id)
        yield span


@contextmanager
def consumer_span(
    service: str, subject: str, headers: Mapping[str, str] | None, job_id: str | None = None
) -> Iterator[Span]:
    """Continue the trace carried by a received message."""
    parent = extract(headers)
    with _tracer.start_as_current_span(
        f"process {subject.split('.')[0]}", context=parent, kind=SpanKind.CONSUMER
    ) as span:
        _messaging(span, service, subject, "process")
        if job_id:
            span.set_attribute("vfo.job_id", job_id)
        yield span


@contextmanager
def span(
    name: str, service: str, parent_headers: Mapping[str, str] | None = None, **attrs: Any
) -> Iterator[Span]:
    """An internal span; with `parent_headers` it joins the trace those headers carry."""
    ctx = extract(parent_headers) if parent_headers is not None else None
    with _tracer.start_as_current_span(name, context=ctx) as current:
        current.set_attribute("vfo.service", service)
        for key, value in attrs.items():
            current.set_attribute(f"vfo.{key}", value)
        yield current
