"""The dojo service's ASGI app: `create_app(settings)`.

It serves the realtime collaboration endpoint (`/v1/collab/...`) on the document engine in
`crdt/`, with documents stored in PostgreSQL. Run it under `CollabWebSocketProtocol`
(`pocdojo serve dojo` and `pocdojo dev` do) for the fast path.
"""

from __future__ import annotations

from contextlib import AsyncExitStack

from fastapi import FastAPI
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from crdt.manager import RoomManager
from crdt.persistence import PersistenceExtension
from dojo.access import TenantMembers
from dojo.collab_api import router as collab_router
from dojo.collab_ws import CollabEndpoint
from dojo.docstore import PostgresDocumentStore
from dojo.tickets import TicketSigner
from runtime.auth import verifier_startup
from runtime.http import create_service_app
from runtime.resources import database_startup
from runtime.settings import Settings


def ticket_signer(settings: Settings) -> TicketSigner:
    if settings.ticket_secret is None:
        raise ValueError("POCDOJO_TICKET_SECRET (at least 32 bytes, shared by every node) is not set")
    return TicketSigner(settings.ticket_secret.get_secret_value().encode(), settings.ticket_ttl_seconds)


def create_app(settings: Settings) -> FastAPI:
    tickets = ticket_signer(settings)
    endpoint_holder: dict[str, CollabEndpoint] = {}

    async def collab_startup(app: FastAPI, stack: AsyncExitStack) -> None:
        store = PostgresDocumentStore(app.state.db)
        manager = RoomManager(
            [
                PersistenceExtension(
                    store,
                    debounce=settings.collab_persist_debounce_seconds,
                    max_delay=settings.collab_persist_max_delay_seconds,
                )
            ],
            idle_unload_seconds=settings.collab_idle_unload_seconds,
            max_document_bytes=settings.collab_max_document_bytes,
        )
        await stack.enter_async_context(manager)
        app.state.manager = manager
        app.state.store = store
        endpoint_holder["endpoint"] = CollabEndpoint(
            settings=settings,
            verifier=app.state.verifier,
            tickets=tickets,
            manager=manager,
            authorizer=app.state.authorizer,
        )

    app = create_service_app(
        service="dojo",
        title="POC Dojo realtime",
        description="Realtime collaboration (y-websocket compatible) and dojos.",
        settings=settings,
        startup=[database_startup, verifier_startup(), collab_startup],
    )
    app.state.tickets = tickets
    app.state.authorizer = TenantMembers()

    async def collab_ws(websocket: WebSocket) -> None:
        await endpoint_holder["endpoint"](websocket)

    app.router.routes.append(WebSocketRoute("/v1/collab/{room}", collab_ws))
    app.include_router(collab_router)
    return app
