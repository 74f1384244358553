"""The POC service's ASGI app: `create_app(settings)`."""

from __future__ import annotations

from contextlib import AsyncExitStack

from fastapi import FastAPI

from poc_api.api import facets_router, router, search_pocs
from poc_api.catalogue_sizes import CatalogueSizes
from poc_api.export_api import export_router
from poc_api.exports import ExportLimits, ExportService
from poc_api.outbox_relay import relay_startup
from poc_api.schemas import Problem
from poc_api.search import SERVER_SETTINGS
from poc_api.service import PocService
from poc_api.services import PocServices
from runtime.auth import verifier_startup
from runtime.db import Database
from runtime.http import create_service_app
from runtime.root import ServiceRoot
from runtime.settings import PocSettings


async def database_startup(root: ServiceRoot, stack: AsyncExitStack) -> None:
    """`runtime.resources.database_startup` with the POC service's session defaults (`SERVER_SETTINGS`):
    the asyncpg pool as the root's `db` (closed at shutdown), reported in /readyz."""
    settings = root.settings
    db = Database(
        settings.require_database_url(),
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        command_timeout=settings.db_command_timeout,
        server_settings=SERVER_SETTINGS,
    )
    await stack.enter_async_context(db)
    root.set_db(db)
    root.readiness.append(("postgres", db.ping))


def create_app(settings: PocSettings) -> FastAPI:
    """The POC catalogue service: database pool, token verifier (issuer's JWKS over HTTP, verified tokens
    memoized briefly: `runtime.auth.VerifiedTokens`), routes, and the outbox relay when Redis is configured
    (`poc_api.outbox_relay`)."""

    async def poc_startup(root: ServiceRoot, stack: AsyncExitStack) -> None:
        sizes = CatalogueSizes(root.db)
        stack.push_async_callback(sizes.aclose)
        root.provide(
            PocServices(
                settings=settings,
                pocs=PocService(root.db, sizes),
                exports=ExportService(root.db, ExportLimits.from_settings(settings)),
            )
        )

    app = create_service_app(
        service="poc",
        title="POC Dojo catalogue",
        description="Register, change, delete and search the tenant's proofs of concept (API.md §POCs).",
        settings=settings,
        docs_prefix="/v1/pocs",
        startup=[database_startup, verifier_startup(memoize=True), poc_startup, relay_startup(settings)],
    )
    app.include_router(facets_router)
    app.include_router(export_router)
    app.include_router(router)
    # The search is the catalogue's hot endpoint: served without FastAPI's per-request layers.
    app.add_hot_route("GET", "/v1/pocs", search_pocs)
    _publish_problem_schema(app)
    return app


def _publish_problem_schema(app: FastAPI) -> None:
    """Put the problem+json schema the error responses refer to into the OpenAPI components."""
    build = app.openapi

    def openapi() -> dict[str, object]:
        if app.openapi_schema is None:
            schema = build()
            components = schema.setdefault("components", {})
            components.setdefault("schemas", {}).update(
                Problem.model_json_schema(ref_template="#/components/schemas/{model}")["$defs"]
            )
            components["schemas"]["Problem"] = {
                k: v
                for k, v in Problem.model_json_schema(ref_template="#/components/schemas/{model}").items()
                if k != "$defs"
            }
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
