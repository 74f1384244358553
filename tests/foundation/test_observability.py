"""Metrics, traces, health and the OpenAPI document of the identity service."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from runtime.settings import Settings
from runtime.tracing import configure_tracing
from tests.foundation.conftest import IdentityHarness


@pytest.fixture(scope="session")
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = configure_tracing(Settings(service_name="pocdojo-test"), exporter=exporter)
    assert provider is not None
    yield exporter
    provider.shutdown()


async def test_requests_are_traced_with_their_route(identity: IdentityHarness, spans: InMemorySpanExporter) -> None:
    admin = await identity.create_tenant("traced")
    await identity.http.get("/v1/auth/me", headers=admin.auth)
    provider_spans = []
    for _ in range(50):
        import asyncio

        provider_spans = [s for s in spans.get_finished_spans() if s.name == "GET /v1/auth/me"]
        if provider_spans:
            break
        await asyncio.sleep(0.1)
    assert provider_spans, [s.name for s in spans.get_finished_spans()]
    attributes = provider_spans[-1].attributes or {}
    assert attributes["http.response.status_code"] == 200
    assert attributes["http.route"] == "/v1/auth/me"


async def test_metrics_and_health(identity: IdentityHarness) -> None:
    await identity.http.get("/v1/nothing")
    metrics = (await identity.http.get("/metrics")).text
    assert 'pocdojo_http_requests_total{method="GET",route="unmatched",service="identity",status="404"}' in metrics
    assert (await identity.http.get("/healthz")).json() == {"status": "ok"}
    ready = (await identity.http.get("/readyz")).json()
    assert ready == {"status": "ready", "checks": ["tasks", "postgres"]}


async def test_openapi_describes_every_route(identity: IdentityHarness) -> None:
    doc = (await identity.http.get("/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    for path, method in [
        ("/v1/tenants", "post"),
        ("/v1/auth/register", "post"),
        ("/v1/auth/token", "post"),
        ("/v1/auth/revoke", "post"),
        ("/v1/auth/me", "get"),
        ("/v1/users", "get"),
        ("/v1/users/{user_id}", "patch"),
        ("/.well-known/jwks.json", "get"),
        ("/.well-known/openid-configuration", "get"),
    ]:
        assert method in paths[path], (path, method)
    token_body = paths["/v1/auth/token"]["post"]["requestBody"]["content"]
    assert {"application/x-www-form-urlencoded", "application/json"} <= set(token_body)
    assert "HTTPBearer" in doc["components"]["securitySchemes"]
