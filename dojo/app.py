"""The dojo service's ASGI app: `create_app(settings)`.

It serves the realtime collaboration endpoint (`/v1/collab/...`) on the document engine in
`crdt/`, with documents stored in PostgreSQL. Run it under `CollabWebSocketProtocol`
(`pocdojo serve dojo` and `pocdojo dev` do) for the fast path.
"""

from __future__ import annotations

import os
import secrets
import socket
from contextlib import AsyncExitStack

from fastapi import FastAPI
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from crdt import FanoutExtension, RoomExtension, StoreReconciler
from crdt.manager import RoomManager
from crdt.persistence import PersistenceExtension
from dojo.chat import DojoChat
from dojo.collab_api import router as collab_router
from dojo.collab_metrics import BUS_CATCH_UPS, CollabMetrics
from dojo.collab_ws import CollabEndpoint
from dojo.directory import MemberDirectory
from dojo.doc_reader import ContentReader
from dojo.docstore import PostgresDocumentStore
from dojo.dojos_api import router as dojos_router
from dojo.edit_refusals import EditRefusals
from dojo.live import DojoLive
from dojo.quota import StorageQuota
from dojo.redis_bus import RedisBus
from dojo.redis_events import RedisDojoEvents
from dojo.replay.api import router as replay_router
from dojo.replay.grant_api import router as grant_router
from dojo.replay.grants import HistoryGrants
from dojo.replay.recorder import HistoryRecorder
from dojo.replay.store import HistoryStore
from dojo.services import DojoServices, services
from dojo.sessions import DojoSessions
from dojo.signal_ws import install_signal_routes, signal_hub
from dojo.tickets import TicketSigner
from dojo.user_connections import UserConnections
from runtime.auth import CurrentPrincipals, verifier_startup
from runtime.http import create_service_app
from runtime.redis_link import RedisLink
from runtime.resources import database_startup
from runtime.root import ServiceRoot
from runtime.settings import DojoSettings


def ticket_signer(settings: DojoSettings) -> TicketSigner:
    if settings.ticket_secret is None:
        raise ValueError("POCDOJO_TICKET_SECRET (at least 32 bytes, shared by every node) is not set")
    return TicketSigner(settings.ticket_secret.get_secret_value().encode(), settings.ticket_ttl_seconds)


def default_node_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def create_app(settings: DojoSettings) -> FastAPI:
    """The dojo service. Its lifespan starts, in this order (and stops in the reverse one): the database,
    the token verifier, the Redis link (when configured), then `dojo_startup`: the document bus, the dojo
    rules (`DojoLive`), the room manager, the content reader and the signaling hub, handed to the handlers
    as one `DojoServices`."""
    tickets = ticket_signer(settings)
    user_connections = UserConnections(settings.ws_max_connections_per_user)

    node_id = settings.node_id or default_node_id()
    link: RedisLink | None = None
    if settings.redis_url is not None:
        # One connection to Redis for the whole service: the document bus, the dojo events and the
        # signaling backplane are its clients. Started before them, closed after them.
        link = RedisLink(settings.redis_url.get_secret_value(), name="redis")

    async def redis_startup(root: ServiceRoot, stack: AsyncExitStack) -> None:
        if link is not None:
            await stack.enter_async_context(link)
            root.readiness.append(("redis", link.ping))

    async def dojo_startup(root: ServiceRoot, stack: AsyncExitStack) -> None:
        db, verifier = root.db, root.verifier
        # Built now (the dojo rules ask it for a room's call peers), started last: it stops first.
        hub = signal_hub(settings, link, node_id)
        store = PostgresDocumentStore(db)
        metrics = CollabMetrics()
        # With the shared log, each change is stored once, by the node that accepted it (the fan-out
        # extension stores what a dead node may not have).
        persistence = PersistenceExtension(
            store,
            debounce=settings.collab_persist_debounce_seconds,
            max_delay=settings.collab_persist_max_delay_seconds,
            observer=metrics,
            store_remote=link is None,
        )
        extensions: list[RoomExtension] = [
            metrics,
            StorageQuota(
                store.tenant_usage,
                quota_bytes=settings.collab_tenant_storage_quota_bytes,
                refresh_seconds=settings.collab_quota_refresh_seconds,
            ),
            persistence,
        ]
        events: RedisDojoEvents | None = None
        bus: RedisBus | None = None
        if link is not None:
            bus = RedisBus(link, node_id=node_id, maxlen=settings.collab_stream_maxlen, on_catch_up=BUS_CATCH_UPS.inc)
            await bus.start()
            events = RedisDojoEvents(link, node_id=node_id)
            extensions.append(
                FanoutExtension(
                    bus,
                    anti_entropy_seconds=settings.collab_anti_entropy_seconds,
                    fence_timeout=settings.collab_fence_timeout_seconds,
                    observer=metrics,
                    keeper=persistence,
                    max_held=settings.collab_max_held_changes,
                    tasks=root.supervisor,
                )
            )
            extensions.append(
                StoreReconciler(store, interval=settings.collab_store_reconcile_seconds, tasks=root.supervisor)
            )
        sessions = DojoSessions(db, max_participants=settings.dojo_max_participants)
        live = DojoLive(
            sessions,
            bus=events,
            peers_of=hub.local_peers,
            # The manager is made below (it takes the rules' refusal extension); rooms are asked for later.
            room_of=lambda key: manager.get(key),
            accounts=verifier if isinstance(verifier, CurrentPrincipals) else None,
        )
        await stack.enter_async_context(live)
        extensions.append(EditRefusals(live.write_refused))
        history = HistoryStore(db)
        recorder = HistoryRecorder(
            history,
            live.author_of,
            max_queue=settings.dojo_history_max_queue,
            batch=settings.dojo_history_batch,
            checkpoint_updates=settings.dojo_history_checkpoint_updates,
            checkpoint_seconds=settings.dojo_history_checkpoint_seconds,
            refresh_seconds=settings.dojo_history_setting_refresh_seconds,
        )
        extensions.append(recorder)
        directory = MemberDirectory(settings.identity_service_url or str(settings.public_url))
        stack.push_async_callback(directory.aclose)
        manager = RoomManager(
            extensions,
            idle_unload_seconds=settings.collab_idle_unload_seconds,
            max_document_bytes=settings.collab_max_document_bytes,
            tasks=root.supervisor,  # the engine's loops are named tasks of the service, restarted if they crash
        )
        await stack.enter_async_context(manager)
        content_reader = await stack.enter_async_context(
            ContentReader(
                workers=settings.collab_read_workers,
                concurrency=settings.collab_read_concurrency,
                wait_seconds=settings.collab_read_wait_seconds,
                inline_max_bytes=settings.collab_read_inline_max_bytes,
            )
        )
        await stack.enter_async_context(hub)
        if link is not None:
            root.readiness.append(("signaling", hub.ping))
        root.provide(
            DojoServices(
                settings=settings,
                verifier=verifier,
                tickets=tickets,
                user_connections=user_connections,
                store=store,
                manager=manager,
                content_reader=content_reader,
                sessions=sessions,
                live=live,
                chat=DojoChat(
                    db, max_chars=settings.dojo_chat_max_chars, per_minute=settings.dojo_chat_messages_per_minute
                ),
                authorizer=live,
                collab=CollabEndpoint(
                    settings=settings,
                    verifier=verifier,
                    tickets=tickets,
                    manager=manager,
                    authorizer=live,
                    connections=user_connections,
                    watcher=live,
                    node_id=node_id,
                ),
                signal_hub=hub,
                bus=bus,
                history=history,
                history_recorder=recorder,
                history_grants=HistoryGrants(db, ttl_seconds=settings.dojo_history_grant_ttl_seconds),
                member_directory=directory,
            )
        )

    app = create_service_app(
        service="dojo",
        title="POC Dojo realtime",
        description="Realtime collaboration (y-websocket compatible) and dojos.",
        settings=settings,
        docs_prefix="/v1/dojos",
        startup=[database_startup, verifier_startup(), redis_startup, dojo_startup],
    )

    async def collab_ws(websocket: WebSocket) -> None:
        await services(websocket).collab(websocket)

    app.router.routes.append(WebSocketRoute("/v1/collab/{room}", collab_ws))
    app.include_router(collab_router)
    app.include_router(grant_router)
    app.include_router(replay_router)  # before dojos_router: its `/v1/dojos/settings/...` precede `{dojo_id}` routes
    app.include_router(dojos_router)
    install_signal_routes(app)
    return app
