"""The dojo service's composition root: what its handlers and websockets use, built once by its lifespan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import HTTPConnection

from runtime.root import request_root, root_of

if TYPE_CHECKING:
    from crdt.manager import RoomManager
    from dojo.access import Authorizer
    from dojo.chat import DojoChat
    from dojo.collab_ws import CollabEndpoint
    from dojo.directory import MemberDirectory
    from dojo.doc_reader import ContentReader
    from dojo.docstore import PostgresDocumentStore
    from dojo.live import DojoLive
    from dojo.redis_bus import RedisBus
    from dojo.replay.grants import HistoryGrants
    from dojo.replay.recorder import HistoryRecorder
    from dojo.replay.store import HistoryStore
    from dojo.sessions import DojoSessions
    from dojo.tickets import TicketSigner
    from dojo.user_connections import UserConnections
    from runtime.auth import Verifier
    from runtime.settings import DojoSettings
    from signaling import SignalHub

__all__ = ["DojoServices", "services", "services_of"]


@dataclass(eq=False)
class DojoServices:
    """Built by `dojo.app`'s last startup step (after the database, the token verifier and the Redis link);
    its components start in the order `dojo.app.create_app` documents and stop in the reverse one."""

    settings: DojoSettings
    verifier: Verifier
    tickets: TicketSigner
    user_connections: UserConnections
    """The per-user websocket cap, shared by the collab and signaling endpoints."""
    store: PostgresDocumentStore
    manager: RoomManager
    content_reader: ContentReader
    sessions: DojoSessions
    live: DojoLive
    chat: DojoChat
    authorizer: Authorizer
    """Who may open a room: the dojo rules (`live`), for both websockets and the document API."""
    collab: CollabEndpoint
    signal_hub: SignalHub
    bus: RedisBus | None
    """The cross-node document bus (None on a single node without Redis)."""
    history: HistoryStore
    """Dojo history for replay (docs/replay.md)."""
    history_recorder: HistoryRecorder
    history_grants: HistoryGrants
    """Grants to read one dojo's history without an access token (the replay video worker)."""
    member_directory: MemberDirectory
    """Display names from identity's member directory, read with the caller's token."""


def services_of(app: Starlette) -> DojoServices:
    return root_of(app).services(DojoServices)


def services(connection: HTTPConnection) -> DojoServices:
    """The dojo service's components, for a handler or a websocket."""
    return request_root(connection).services(DojoServices)
