"""OpenTelemetry tracing, configured once per process by the entry point; off unless an exporter is set.

Theory of operation. `configure_tracing` installs a tracer provider when `POCDOJO_OTEL_EXPORTER` is
`console` or `otlp` (the standard `OTEL_EXPORTER_OTLP_*` variables say where: in AWS the ADOT collector
sidecar, which forwards to X-Ray), and turns on OpenTelemetry's own instrumentations:

- HTTP server spans: `runtime.http.ServiceApp` wraps its requests in the ASGI instrumentation's middleware
  (which continues a caller's `traceparent`) while a provider is installed;
- PostgreSQL: every asyncpg query (the asyncpg instrumentation, process-wide);
- outgoing HTTP and Redis: the clients a service hands to `instrument_http_client` /
  `instrument_redis_client` (one client at a time, so nothing else in the process is touched);
- jobs: `job_trace_context` is stored with a job when it is queued and `job_span` continues that trace in
  the worker, so a request and the job it queued are one trace;
- messages: `trace_context` is what a sender carries with a message (the collab path's document log,
  `dojo.collab_tracing`; the POC change events) and `consumer_span` continues it where it is read.

Without a provider none of this is installed: spans are the API's no-ops, no middleware runs, no client is
wrapped, nothing is injected into jobs.

Sampling: a span with a parent follows its parent's decision; a root span is kept with probability
`POCDOJO_OTEL_SAMPLE_RATIO`, except a root *client* span (a query or Redis command that no request or job
started: pollers, listeners, heartbeats), which is dropped — those would otherwise be a trace each.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import httpx
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import (
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes
from redis.asyncio import Redis

from runtime.settings import SharedSettings

TRACE_CONTEXT_KEY = "trace_context"
"""The keyword argument a job's trace context travels in (`job_trace_context`, `job_span`)."""


class RootSampler(Sampler):
    """Root spans: drop client spans (work no request or job started), keep the others at `ratio`."""

    def __init__(self, ratio: float) -> None:
        self._ratio = TraceIdRatioBased(ratio)

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        if kind == SpanKind.CLIENT:
            return SamplingResult(Decision.DROP, None, None)
        return self._ratio.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        return f"RootSampler(drop client roots, {self._ratio.get_description()})"


_installed = False
"""Set by `configure_tracing` once a provider is installed (see `tracing_enabled`)."""


def configure_tracing(settings: SharedSettings, *, exporter: SpanExporter | None = None) -> TracerProvider | None:
    """Install a tracer provider for `settings.service_name` and the instrumentations; None when tracing
    is off (no exporter given and `otel_exporter` is `none`)."""
    if exporter is None:
        if settings.otel_exporter == "none":
            return None
        if settings.otel_exporter == "console":
            exporter = ConsoleSpanExporter()
        else:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter()
    provider = TracerProvider(
        resource=Resource.create({"service.name": settings.service_name}),
        sampler=ParentBased(root=RootSampler(settings.otel_sample_ratio)),
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    global _installed
    _installed = not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
    asyncpg = AsyncPGInstrumentor()  # type: ignore[no-untyped-call]  # the package has no annotations here
    if not asyncpg.is_instrumented_by_opentelemetry:
        asyncpg.instrument()
    return provider


def tracing_enabled() -> bool:
    """Whether `configure_tracing` installed a tracer provider (it is the only place that installs one, and
    OpenTelemetry keeps the first for the process's life). Without one, spans are no-ops, and skipping
    them saves the context switching they still cost. A flag, not a look at the global provider: hot
    paths ask it per message, and OpenTelemetry's lookup reads the environment each time."""
    return _installed


def instrument_http_client(client: httpx.AsyncClient) -> None:
    """Client spans for `client`'s requests, which carry the current trace (`traceparent`) to the service
    they call; nothing when tracing is off."""
    if tracing_enabled():
        HTTPXClientInstrumentor.instrument_client(client)


def instrument_redis_client(client: Redis) -> None:
    """Client spans for `client`'s commands; nothing when tracing is off."""
    if tracing_enabled():
        RedisInstrumentor.instrument_client(client)


def trace_context() -> dict[str, str]:
    """The current trace as the W3C headers (`traceparent`, `tracestate`, through the global propagator) to
    carry with a message or a job; empty when tracing is off or no span is current."""
    carrier: dict[str, str] = {}
    if tracing_enabled():
        propagate.inject(carrier)
    return carrier


def context_fields() -> frozenset[str]:
    """The names of the headers `trace_context` may fill (what a receiver reads back)."""
    return frozenset(propagate.get_global_textmap().fields)


def job_trace_context() -> dict[str, str]:
    """The current trace to store with a job being queued (`trace_context`)."""
    return trace_context()


@contextmanager
def consumer_span(
    tracer: trace.Tracer, name: str, stored: Mapping[str, str] | None, attributes: Mapping[str, Any]
) -> Iterator[trace.Span]:
    """A consumer span for one message (or one run of a job), the child of the span that sent it (`stored`:
    what `trace_context` gave the sender; None or empty: a new trace)."""
    parent = propagate.extract(dict(stored)) if stored else None
    with tracer.start_as_current_span(name, context=parent, kind=SpanKind.CONSUMER, attributes=attributes) as span:
        yield span


@contextmanager
def job_span(
    tracer: trace.Tracer, name: str, stored: Mapping[str, str] | None, attributes: Mapping[str, Any]
) -> Iterator[trace.Span]:
    """A consumer span for one run of a job, the child of the span that queued it (`consumer_span`)."""
    with consumer_span(tracer, name, stored, attributes) as span:
        yield span
