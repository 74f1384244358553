"""The media service's ASGI app: `create_app(settings)` (the reports API; the workers are `media.worker`)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AsyncExitStack

from fastapi import FastAPI

from media.api import Services, router
from media.changes import ReportChanges
from media.identity_client import IdentityClient
from media.queue import build_app
from media.repository import ReportRepository
from media.schemas import Problem
from media.services import MediaServices
from media.sources import Directory, DojoHistories, PocExports
from media.storage.base import ObjectStore
from media.storage.factory import download_router_for
from media.video_api import VideoServices
from media.video_api import router as video_router
from media.video_repository import VideoRepository
from media.worker import build_dojos, build_exports, build_store
from runtime.auth import verifier_startup
from runtime.http import create_service_app
from runtime.resources import database_startup
from runtime.root import ServiceRoot
from runtime.settings import MediaSettings


def build_directory(settings: MediaSettings) -> Directory:
    return IdentityClient(settings.identity_service_url or settings.public_url)


def create_app(
    settings: MediaSettings,
    *,
    store: Callable[[MediaSettings], ObjectStore] = build_store,
    exports: Callable[[MediaSettings], PocExports] = build_exports,
    directory: Callable[[MediaSettings], Directory] = build_directory,
    dojos: Callable[[MediaSettings], DojoHistories] = build_dojos,
) -> FastAPI:
    """The reports API: database pool, token verifier, object store, the POC service's export client, the
    identity client (the caller's names), the dojo service's client (replay videos), the job queue (to defer
    and cancel jobs) and the report-change listener behind the long-polls."""

    object_store = store(settings)

    async def media_startup(root: ServiceRoot, stack: AsyncExitStack) -> None:
        stack.push_async_callback(object_store.close)
        root.readiness.append(("store", object_store.check))
        poc_exports = exports(settings)
        people = directory(settings)
        histories = dojos(settings)
        for client in (poc_exports, people, histories):
            closer = getattr(client, "aclose", None)
            if closer is not None:
                stack.push_async_callback(closer)
        queue = build_app(settings, max_size=2)
        await stack.enter_async_context(queue.open_async())
        changes = ReportChanges(settings.require_database_url())
        await changes.start(root.supervisor)
        stack.push_async_callback(changes.close)
        reports = Services(settings, ReportRepository(root.db), queue, poc_exports, people, object_store, changes)
        root.provide(MediaServices(reports, VideoServices(reports, VideoRepository(root.db), histories)))

    app = create_service_app(
        service="media",
        title="POC Dojo media",
        description="PDF and CSV reports of the tenant's POCs, year-in-review videos and dojo replay videos, made "
        "by background jobs (issues 13, 14 and 18).",
        settings=settings,
        docs_prefix="/v1/reports",
        startup=[database_startup, verifier_startup(memoize=True), media_startup],
    )
    app.include_router(router)
    app.include_router(video_router)
    downloads = download_router_for(object_store)
    if downloads is not None:
        # Local files are downloaded from this service (`GET /v1/media/files/{token}`); S3 serves its own.
        app.include_router(downloads)
    _publish_problem_schema(app)
    return app


def _publish_problem_schema(app: FastAPI) -> None:
    """Put the problem+json schema the error responses refer to into the OpenAPI components."""
    build = app.openapi

    def openapi() -> dict[str, object]:
        if app.openapi_schema is None:
            schema = build()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(problem.pop("$defs", {}))
            components["Problem"] = problem
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
