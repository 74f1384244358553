"""OpenTelemetry tracing, configured once per process by the entry point.

Spans are created by the HTTP middleware (one per request, named by route) and by services for
work worth seeing. With `POCDOJO_OTEL_EXPORTER=otlp` they go to the OTLP endpoint of the standard
`OTEL_EXPORTER_OTLP_*` variables — in AWS the ADOT collector sidecar, which forwards to X-Ray.
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

from runtime.settings import Settings


def configure_tracing(settings: Settings, *, exporter: SpanExporter | None = None) -> TracerProvider | None:
    """Install a tracer provider for `settings.service_name`; None when tracing is off."""
    if exporter is None:
        if settings.otel_exporter == "none":
            return None
        if settings.otel_exporter == "console":
            exporter = ConsoleSpanExporter()
        else:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": settings.service_name}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return provider
