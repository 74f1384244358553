"""Metrics, traces, health and the OpenAPI document of the identity service."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys

import asyncpg
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from deploy.local import DatabaseUrls
from runtime.logs import JsonFormatter
from tests.conftest import Traces, wait_until
from tests.identity.harness import IdentityHarness


async def test_requests_are_traced_with_their_route(identity: IdentityHarness, traces: Traces) -> None:
    admin = await identity.create_tenant("traced")
    await identity.http.get("/v1/auth/me", headers=admin.auth)

    async def traced() -> bool:
        return any(s.name == "GET /v1/auth/me" for s in traces.finished())

    await wait_until(traced)
    span = [s for s in traces.finished() if s.name == "GET /v1/auth/me"][-1]
    attributes = span.attributes or {}
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
    doc = (await identity.http.get("/v1/auth/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    for path, method in [
        ("/v1/tenants", "post"),
        ("/v1/auth/register", "post"),
        ("/v1/auth/token", "post"),
        ("/v1/auth/revoke", "post"),
        ("/v1/auth/me", "get"),
        ("/v1/tenant", "get"),
        ("/v1/users", "get"),
        ("/v1/users/{user_id}", "patch"),
        ("/.well-known/jwks.json", "get"),
        ("/.well-known/openid-configuration", "get"),
    ]:
        assert method in paths[path], (path, method)
    token_body = paths["/v1/auth/token"]["post"]["requestBody"]["content"]
    assert {"application/x-www-form-urlencoded", "application/json"} <= set(token_body)
    assert "HTTPBearer" in doc["components"]["securitySchemes"]


async def test_queries_are_traced_under_a_request_or_job_not_on_their_own(
    traces: Traces, database: DatabaseUrls
) -> None:
    """A query no request or job started (a poller, a listener, a heartbeat) would be a trace of its own every
    few seconds: the sampler drops root client spans and keeps those with a parent."""
    tracer = trace.get_tracer("tests")
    conn = await asyncpg.connect(database.service)
    try:
        await conn.fetchval("SELECT 'a query on its own'")
        with tracer.start_as_current_span("a job's run", kind=SpanKind.CONSUMER) as run:
            await conn.fetchval("SELECT 'a query of a job'")
    finally:
        await conn.close()

    def statements() -> dict[str, ReadableSpan]:
        return {
            str((s.attributes or {}).get("db.statement")): s
            for s in traces.finished()
            if "db.statement" in (s.attributes or {})
        }

    async def exported() -> bool:
        return "SELECT 'a query of a job'" in statements()

    await wait_until(exported)
    child = statements()["SELECT 'a query of a job'"]
    assert child.parent is not None and child.parent.span_id == run.get_span_context().span_id
    assert "SELECT 'a query on its own'" not in statements()


async def test_log_lines_name_their_trace(identity: IdentityHarness, traces: Traces) -> None:
    """A request's log lines carry its trace id (X-Ray's id is the same 32 hex digits, `1-8-24`)."""
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("pocdojo.http")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        admin = await identity.create_tenant("logged")
        response = await identity.http.get("/v1/auth/me", headers=admin.auth)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    request_id = response.headers["x-request-id"]
    (line,) = [e for e in map(json.loads, lines.getvalue().splitlines()) if e.get("request_id") == request_id]

    def spans() -> list[ReadableSpan]:
        return [s for s in traces.finished() if (s.attributes or {}).get("pocdojo.request_id") == request_id]

    async def ended() -> bool:
        return bool(spans())

    await wait_until(ended)
    (span,) = spans()
    assert line["trace_id"] == f"{span.context.trace_id:032x}"


TRACING_OFF = """
import asyncpg, httpx
from media.pocs_client import PocsClient
from runtime.settings import Settings
from runtime.tracing import configure_tracing, job_trace_context, tracing_enabled
from runtime.http import create_service_app

settings = Settings(otel_exporter="none")
assert configure_tracing(settings) is None
app = create_service_app(service="x", title="x", settings=settings)
client = PocsClient("http://127.0.0.1:1")
print(tracing_enabled(), hasattr(asyncpg.Connection.execute, "__wrapped__"),
      getattr(client._http, "_is_instrumented_by_opentelemetry", False), job_trace_context())
"""


def test_tracing_off_installs_nothing() -> None:
    """`POCDOJO_OTEL_EXPORTER=none` (the default): no provider, no wrapped query or client, nothing carried into
    jobs — in a fresh process, since this session's provider stays installed once a test turns it on."""
    out = subprocess.run([sys.executable, "-c", TRACING_OFF], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.split("\n")[0] == "False False False {}", out.stderr
