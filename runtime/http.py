"""The app factory every REST service uses: problem+json errors, request ids, access logs,
metrics, security headers, health endpoints, body limits and an ordered lifespan.

A service builds its routers and calls `create_service_app(...)`. Resources (pools, clients) are
async context managers entered in order at startup and closed in reverse order at shutdown.
"""

from __future__ import annotations

import inspect
import logging
import random
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import asyncpg
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from opentelemetry import trace
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runtime import problem_pages
from runtime.body_checks import more_body_errors
from runtime.context import RequestInfo, request_id_var, request_info_var
from runtime.errors import (
    BadRequest,
    Conflict,
    FieldError,
    Forbidden,
    MalformedJson,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    ServiceError,
    ServiceUnavailable,
    UnsupportedMediaType,
    ValidationFailed,
)
from runtime.field_errors import from_framework_errors
from runtime.metrics import HTTP_LATENCY, HTTP_REQUESTS
from runtime.metrics_access import MetricsAccess
from runtime.openapi_problems import describe_problems
from runtime.query_params import DeclaredQueries, refuse_unknown_query
from runtime.root import ReadinessCheck, ServiceRoot, install_root, root_of
from runtime.security_headers import came_over_tls, security_headers
from runtime.settings import SharedSettings
from runtime.supervisor import Supervisor
from runtime.tracing import tracing_enabled

log = logging.getLogger("pocdojo.http")

PROBLEM_JSON = "application/problem+json"
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,128}$")

Startup = Callable[[ServiceRoot, AsyncExitStack], Awaitable[None]]
"""A step of a service's lifespan: it starts a component, enters it into the exit stack (so components stop
in the reverse order) and records it on the service's composition root."""
HotHandler = Callable[[Request], Awaitable[Response]]


def problem_response(error: ServiceError, base_url: str, instance: str | None = None) -> JSONResponse:
    """`error` as problem+json; its `type` is `{base_url}/problems/{slug}` (served by `runtime.problem_pages`)."""
    return JSONResponse(
        error.problem(base_url, instance),
        status_code=error.status,
        headers=error.headers,
        media_type=PROBLEM_JSON,
    )


def public_url(request: Request) -> str:
    """The deployment's public URL (the base of problem types), from the app's settings."""
    return root_of(request.app).settings.public_url


def _answer(error: ServiceError, request: Request) -> JSONResponse:
    return problem_response(error, public_url(request), request.url.path)


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    """FastAPI's and pydantic's validation errors answered as our own 422 (`validation`), with our messages;
    a route's body check (`runtime.body_checks`) adds the errors of the fields pydantic let through, so
    every field's error is reported at once."""
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    invalid_json = next((e for e in errors if e.get("type") == "json_invalid"), None)
    if invalid_json is not None:
        reason = (invalid_json.get("ctx") or {}).get("error", "invalid JSON")
        pos = invalid_json.get("loc", ("body", "?"))[-1]
        return _answer(MalformedJson(f"The body is not valid JSON: {reason} at position {pos}."), request)
    has_body_error = any(e.get("loc", ("",))[0] == "body" for e in errors)
    sent_body = request.headers.get("content-length", "0") not in ("", "0") or "transfer-encoding" in request.headers
    if has_body_error and sent_body and not _is_json(request.headers.get("content-type")):
        return _answer(UnsupportedMediaType("The body must be JSON: send Content-Type: application/json."), request)
    field_errors = from_framework_errors(errors)
    field_errors += more_body_errors(request.scope.get("route"), exc.body, field_errors)
    return _answer(ValidationFailed(field_errors), request)


async def _on_service_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    if exc.status >= 500:
        log.error("service error", exc_info=exc, extra={"path": request.url.path})
    return _answer(exc, request)


def _http_error(status: int, detail: str) -> ServiceError:
    """A framework HTTP error as ours (the registered problem type of its status)."""
    kinds: dict[int, type[ServiceError]] = {
        400: BadRequest,
        403: Forbidden,
        404: NotFound,
        405: MethodNotAllowed,
        409: Conflict,
        413: PayloadTooLarge,
        415: UnsupportedMediaType,
        503: ServiceUnavailable,
    }
    kind = kinds.get(status)
    if kind is not None:
        return kind(detail)
    if status == 422:
        return ValidationFailed([FieldError("body", "invalid", detail)], detail)
    return ServiceError(detail) if status >= 500 else BadRequest(detail)


async def _on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = str(exc.detail)
    if exc.status_code == 404:
        detail = f"No route for {request.method} {request.url.path}."
    elif exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}."
    elif exc.status_code == 413:
        detail = "The request body exceeds the size limit."
    response = _answer(_http_error(exc.status_code, detail), request)
    for key, value in (exc.headers or {}).items():
        response.headers[key] = value
    return response


async def _on_data_error(request: Request, exc: Exception) -> Response:
    """PostgreSQL could not take a value (SQLSTATE class 22: a NUL or invalid byte in text, a number out of
    range, an invalid literal) or asyncpg could not encode a parameter: the client sent it, so it is a 422,
    whatever route let it through — the routes' own validation names the field where it can."""
    assert isinstance(exc, asyncpg.DataError)
    log.warning("value refused by the database", extra={"path": request.url.path, "error": type(exc).__name__})
    error = ValidationFailed(
        [FieldError("body", "unstorable_value", "a value holds a NUL character or is out of range")],
        "A value in the request cannot be stored: it holds a character or a number out of the accepted range.",
    )
    return _answer(error, request)


def _query_has_nul(scope: Scope) -> bool:
    """Whether the query string or the path carries a NUL (no text input accepts one)."""
    query: bytes = scope.get("query_string", b"")
    return b"%00" in query.lower() or b"\x00" in query or "\x00" in scope.get("path", "")


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    log.error("unhandled error", exc_info=exc, extra={"path": request.url.path})
    return _answer(ServiceError("An unexpected error occurred; it has been logged."), request)


METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"})
"""The methods a metric label or span name shows as they are; any other (a client may send any token) is
`_OTHER`, so no client can add series."""

_UNTRACED_PATHS = r"/(healthz|readyz|metrics)$"
"""Load-balancer probes and scrapes: no trace each (they would outnumber the requests)."""


def method_label(method: str) -> str:
    return method if method in METHODS else "_OTHER"


def _span_details(scope: Scope) -> tuple[str, dict[str, Any]]:
    """A request span's first name: the method alone (the raw path holds ids and capability tokens);
    `RequestContextMiddleware` renames it after the route once the router matched one."""
    return method_label(scope.get("method", "")), {}


_URL_ATTRIBUTES = ("http.target", "http.url", "url.path", "url.full", "url.query")


def _route(scope: Scope) -> str:
    """The matched route's template. FastAPI's router records its own routes in the scope; Starlette routes
    (the docs page, the OpenAPI document) it answers without that, so they are looked up among the app's
    routes (`BaseRoute.matches`) — only for requests the router did not record, and by template only."""
    route = scope.get("route")
    if route is None:
        router = scope.get("router")
        for candidate in getattr(router, "routes", ()):
            if not isinstance(candidate, APIRoute) and candidate.matches(scope)[0] is Match.FULL:
                route = candidate
                break
    return str(getattr(route, "path", "unmatched"))


def _name_span(span: trace.Span, method: str, route: str, status: int, request_id: str) -> None:
    """Name the server span after the route and replace the URL attributes the ASGI instrumentation took
    from the raw request with the route: paths carry ids and capability tokens (signed download links),
    query strings carry searches."""
    span.update_name(f"{method} {route}")
    span.set_attribute("http.route", route)
    span.set_attribute("http.response.status_code", status)
    span.set_attribute("pocdojo.request_id", request_id)
    attributes = getattr(span, "attributes", None) or {}
    for key in _URL_ATTRIBUTES:
        if key in attributes:
            span.set_attribute(key, route)


def client_address(scope: Scope, trusted_proxy_hops: int) -> str:
    """The caller's address, trusting exactly `trusted_proxy_hops` proxies' X-Forwarded-For."""
    client = scope.get("client")
    peer = client[0] if client else "unknown"
    if trusted_proxy_hops <= 0:
        return str(peer)
    for name, value in scope.get("headers", []):
        if name == b"x-forwarded-for":
            hops: list[str] = [h.strip() for h in value.decode("latin-1").split(",") if h.strip()]
            if len(hops) >= trusted_proxy_hops:
                return hops[-trusted_proxy_hops]
            return hops[0] if hops else str(peer)
    return str(peer)


_SERIES_REMEMBERED = 1024
"""Labelled metric series a middleware keeps at hand (methods are client-chosen: the rest are looked up)."""


class RequestContextMiddleware:
    """Request id, access log, metrics, a trace span and the security headers (`runtime.security_headers`)
    for every HTTP request (pure ASGI). `page_paths` are HTML pages that load their own assets (the docs)."""

    def __init__(
        self,
        app: ASGIApp,
        service: str,
        max_body_bytes: int,
        *,
        trusted_proxy_hops: int = 0,
        page_paths: frozenset[str] = frozenset(),
        public_url: str = "",
    ) -> None:
        self.app = app
        self.public_url = public_url
        self.service = service
        self.max_body_bytes = max_body_bytes
        self.trusted_proxy_hops = trusted_proxy_hops
        self.page_paths = page_paths
        # Request ids: 128 random bits (32 hex digits, like a uuid4's hex) from a generator seeded once per
        # middleware from the OS, not a system call per request. Correlation ids, not secrets; and unlike a
        # counter they do not tell a client how many requests a process has served.
        self._ids = random.Random(secrets.randbits(128))  # noqa: S311 - see above
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def _new_request_id(self) -> str:
        return f"{self._ids.getrandbits(128):032x}"

    def _observe(self, method: str, route: str, status: int, elapsed: float) -> None:
        """Count and time a request; the labelled series are looked up once per (method, route, status)."""
        key = (method, route, status)
        series = self._series.get(key)
        if series is None:
            series = (
                HTTP_REQUESTS.labels(self.service, method, route, str(status)),
                HTTP_LATENCY.labels(self.service, method, route),
            )
            if len(self._series) < _SERIES_REMEMBERED:
                self._series[key] = series
        series[0].inc()
        series[1].observe(elapsed)

    def _limit_body(self, scope: Scope, receive: Receive) -> Receive:
        """Refuse bodies over the limit: at once from Content-Length, else while streaming."""
        limit = self.max_body_bytes
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                raise StarletteHTTPException(413)
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise StarletteHTTPException(413)
            return message

        return limited

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        forwarded_proto = None
        for name, value in scope.get("headers", []):
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
            elif name == b"x-forwarded-proto":
                forwarded_proto = value
        request_id = incoming if incoming and _REQUEST_ID_RE.match(incoming) else self._new_request_id()
        secure = security_headers(
            page=scope["path"] in self.page_paths,
            tls=came_over_tls(scope.get("scheme", "http"), forwarded_proto, self.trusted_proxy_hops),
        )
        token = request_id_var.set(request_id)
        info = RequestInfo()
        info_token = request_info_var.set(info)
        status = 500
        started = time.perf_counter()
        method = method_label(scope.get("method", "?"))
        span = trace.get_current_span()  # the ASGI instrumentation's server span; a no-op when not tracing

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", request_id.encode()), *secure]
                if span.is_recording():  # now: the instrumentation ends the span with the response's last byte
                    _name_span(span, method, _route(scope), status, request_id)
            await send(message)

        try:
            try:
                receive = self._limit_body(scope, receive)
            except StarletteHTTPException:
                too_large = PayloadTooLarge("The request body exceeds the size limit.")
                await problem_response(too_large, self.public_url, scope["path"])(scope, receive, send_wrapper)
                return
            if _query_has_nul(scope):
                nul = ValidationFailed(
                    [FieldError("query", "invalid_text", "must not contain the NUL character")],
                    "The query string or path holds a NUL character (%00); no parameter accepts one.",
                )
                await problem_response(nul, self.public_url, scope["path"])(scope, receive, send_wrapper)
                return
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route = _route(scope)
            if span.is_recording():  # no response was sent
                _name_span(span, method, route, status, request_id)
            self._observe(method, route, status, elapsed)
            if route not in ("/healthz", "/metrics"):
                log.info(
                    "request",
                    extra={
                        "service": self.service,
                        "request_id": request_id,
                        "method": method,
                        "route": route,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                        **({"tenant_id": info.tenant_id} if info.tenant_id else {}),
                    },
                )
            request_info_var.reset(info_token)
            request_id_var.reset(token)


class _HotEndpoint:
    """One hot route's handler as a bare ASGI app: the documented route's object in the scope (so the access
    log, metrics and span name it as usual), the app's own exception handlers applied to what it raises."""

    def __init__(self, app: ServiceApp, route: APIRoute, handler: HotHandler) -> None:
        self.app = app
        self.route = route
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = self.route
        request = Request(scope, receive)
        try:
            self.app.declared_queries.check(scope)
            response = await self.handler(request)
        except Exception as exc:  # noqa: BLE001 - mapped by the app's handlers, as Starlette maps them
            response = await self._handle(request, exc)
        await response(scope, receive, send)

    async def _handle(self, request: Request, exc: Exception) -> Response:
        handlers = self.app.exception_handlers
        for kind in type(exc).__mro__:
            handler = handlers.get(kind)
            if handler is not None:
                answer = handler(request, exc)
                response = await answer if inspect.isawaitable(answer) else answer
                assert isinstance(response, Response)
                return response
        raise exc  # unreachable: `create_service_app` registers a handler for Exception


def _api_routes(routes: Sequence[BaseRoute]) -> Iterator[APIRoute]:
    """Every APIRoute, including those of included routers (FastAPI keeps those behind a wrapper)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _api_routes(included.routes)


class ServiceApp(FastAPI):
    """FastAPI with *hot routes*: a documented route whose requests skip FastAPI's own layers (server-error
    and exception middleware, telemetry and body-limit wrappers, the router's matching, the dependency
    machinery) and go straight from `RequestContextMiddleware` to a handler that reads the `Request` itself.

    On the POC search these layers cost about a quarter of the service's CPU per request. What a hot route
    keeps: the request id, access log, metrics, trace span and security headers (`RequestContextMiddleware`,
    which wraps every HTTP request of the app, hot or not, outside Starlette's error middleware so that a
    500 carries them too), the body limit, and the same exception handlers (problem+json answers). What it
    gives up is what its handler does not need: path parameters, dependencies, response models, redirects —
    the handler is a plain `async (Request) -> Response`, and the route stays declared in FastAPI for the
    OpenAPI document (and for methods and paths the hot table does not hold, such as HEAD or a trailing
    slash).
    """

    def __init__(self, *args: Any, root: ServiceRoot, **kwargs: Any) -> None:
        # FastAPI's own telemetry off: OpenTelemetry's ASGI middleware (below) makes the one server span of a
        # request, hot routes and early refusals included; FastAPI's would be a second one inside it.
        kwargs.setdefault("telemetry", {"tracing": False, "metrics": False, "logs": False, "operation_spans": False})
        super().__init__(*args, **kwargs)
        install_root(self, root)
        self.declared_queries = DeclaredQueries(self.openapi)
        """What each documented route accepts as query parameters (`runtime.query_params`)."""
        service, settings = root.service, root.settings
        self._hot: dict[tuple[str, str], ASGIApp] = {}
        pages = frozenset(p for p in (self.docs_url, self.swagger_ui_oauth2_redirect_url, self.redoc_url) if p)
        self._http = RequestContextMiddleware(
            self._dispatch_http,
            service=service,
            max_body_bytes=settings.max_body_bytes,
            trusted_proxy_hops=settings.trusted_proxy_hops,
            page_paths=pages,
            public_url=settings.public_url,
        )
        # While a tracer provider is installed, requests go through OpenTelemetry's ASGI middleware first: a
        # server span per request, continuing the caller's `traceparent`. Decided per request, so a provider
        # installed after the app was built counts, and without one the middleware costs nothing.
        self._traced_http = OpenTelemetryMiddleware(
            self._http,
            excluded_urls=_UNTRACED_PATHS,
            default_span_details=_span_details,
            exclude_spans=["receive", "send"],
        )

    def openapi(self) -> dict[str, Any]:
        """FastAPI's document, with errors described as the problems they are (`runtime.openapi_problems`)."""
        if self.openapi_schema is None:
            self.openapi_schema = describe_problems(super().openapi())
        return self.openapi_schema

    def add_hot_route(self, method: str, path: str, handler: HotHandler) -> None:
        """Serve `method path` (exactly) with `handler`; the route must already be declared, with the same
        handler, so the document describes what the hot path does."""
        route = next(
            (
                r
                for r in _api_routes(self.routes)
                if r.path == path and method in (r.methods or ()) and r.endpoint is handler
            ),
            None,
        )
        if route is None:
            raise ValueError(f"{method} {path} must be declared with the same handler before it is made hot")
        if "{" in path:
            raise ValueError("hot routes have no path parameters")
        self._hot[(method, path)] = _HotEndpoint(self, route, handler)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await (self._traced_http if tracing_enabled() else self._http)(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    async def _dispatch_http(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Inside `RequestContextMiddleware`: a hot route's handler, else FastAPI's whole stack."""
        hot = self._hot.get((scope["method"], scope["path"])) if self._hot else None
        if hot is not None:
            scope["app"] = self
            await hot(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


def create_service_app(
    *,
    service: str,
    title: str,
    settings: SharedSettings,
    startup: Sequence[Startup] = (),
    readiness: Sequence[tuple[str, ReadinessCheck]] = (),
    description: str = "",
    version: str = "1.0.0",
    docs_prefix: str = "",
) -> ServiceApp:
    """A FastAPI app with the shared behaviour; the service then includes its routers.

    Its OpenAPI document is served at `{docs_prefix}/openapi.json` and its docs page at `{docs_prefix}/docs`:
    a prefix the service owns (`deploy.services`), so the load balancer routes them to it. Every service
    also serves the problem types' pages (`/problems/{slug}`, `runtime.problem_pages`)."""

    supervisor = Supervisor(service)
    root = ServiceRoot(service, settings, supervisor, [*readiness, ("tasks", supervisor.check)])

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            # The service's background tasks stop last, after everything started below; the steps start in
            # their order and stop in the reverse one.
            await stack.enter_async_context(supervisor)
            for step in startup:
                await step(root, stack)
            log.info("service started", extra={"service": service})
            yield
            log.info("service stopping", extra={"service": service})

    app = ServiceApp(
        root=root,
        title=title,
        description=description,
        version=version,
        lifespan=lifespan,
        dependencies=[Depends(refuse_unknown_query)],
        openapi_url=f"{docs_prefix}/openapi.json",
        docs_url=f"{docs_prefix}/docs",
        redoc_url=None,
    )
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(ServiceError, _on_service_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(asyncpg.DataError, _on_data_error)
    app.add_exception_handler(Exception, _on_unexpected)
    app.include_router(problem_pages.router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> Response:
        failures: dict[str, str] = {}
        for name, check in root.readiness:
            try:
                await check()
            except Exception as exc:  # noqa: BLE001 - a readiness probe reports every failure
                failures[name] = type(exc).__name__
        if failures:
            return JSONResponse({"status": "unavailable", "failing": failures}, status_code=503)
        return JSONResponse({"status": "ready", "checks": [n for n, _ in root.readiness]})

    metrics_access = MetricsAccess(settings)

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        metrics_access.check(request.headers.get("authorization"))
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
