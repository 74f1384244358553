"""The dojo service's settings: connection tickets, realtime collaboration, dojos (chat, randori), signaling
and TURN."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from runtime.settings.base import SharedSettings, split_csv

__all__ = ["DojoSettings"]


class DojoSettings(SharedSettings):
    """The dojo service: tickets, realtime collaboration, dojos (chat, randori), WebRTC signaling and TURN."""

    # -- connection tickets ---------------------------------------------------------------------------
    ticket_secret: SecretStr | None = None
    """HMAC secret (≥ 32 bytes) shared by every node for connection tickets; dev: generated."""
    ticket_ttl_seconds: int = Field(default=60, ge=5, le=600)
    """Connection ticket lifetime (seconds)."""

    # -- realtime collaboration -------------------------------------------------------------------------
    collab_max_frame_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    """Largest WebSocket message accepted (close 1009 above it)."""
    collab_max_document_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    """Largest document; an update growing it past this is refused (4413)."""
    collab_messages_per_second: float = Field(default=500.0, gt=0)
    """Per-connection message rate (1013 above)."""
    collab_message_burst: int = Field(default=2000, ge=1)
    """Per-connection message burst."""
    collab_max_backlog_bytes: int = Field(default=4 * 1024 * 1024, ge=64 * 1024)
    """Unsent bytes a connection may accumulate before it is closed as too slow (1013)."""
    collab_max_held_changes: int = Field(default=64, ge=1, le=100_000)
    """Cluster mode: a room stops reading its connections while more of its changes than this wait for
    Redis to acknowledge them, and reads again at half (backpressure)."""
    ws_max_connections_per_user: int = Field(default=20, ge=1, le=10_000)
    """Collab plus signaling websockets one user may hold open on one node (4429 above)."""
    collab_tenant_storage_quota_bytes: int = Field(default=1024**3, ge=1024)
    """Stored bytes of all of a tenant's collab documents; a change past it is refused (4402 / HTTP 413)."""
    collab_quota_refresh_seconds: float = Field(default=10.0, gt=0, le=300)
    """How often a node re-reads a tenant's stored bytes (the quota's slack: writes in between)."""
    collab_content_max_roots: int = Field(default=32, ge=1, le=1000)
    """Root names one `GET /v1/collab/{room}/content` may ask for (422 above)."""
    collab_read_workers: int = Field(default=1, ge=1, le=16)
    """Processes that decode large documents for the content API (pycrdt holds the GIL while decoding)."""
    collab_read_concurrency: int = Field(default=2, ge=1, le=64)
    """Large-document content reads in flight per node; more wait, then get 503."""
    collab_read_wait_seconds: float = Field(default=10.0, gt=0, le=120)
    """How long a content read waits for its turn before 503."""
    collab_read_inline_max_bytes: int = Field(default=256 * 1024, ge=0)
    """Documents up to this size are decoded on the event loop (a few ms), larger ones in a worker."""
    collab_idle_unload_seconds: float = Field(default=30.0, ge=0)
    """An empty room is unloaded (after storing) this long after its last client left."""
    collab_persist_debounce_seconds: float = Field(default=0.5, gt=0, le=1.0)
    """Storage delay after the last unsaved change."""
    collab_persist_max_delay_seconds: float = Field(default=3.0, gt=0, le=5.0)
    """Storage delay after the first unsaved change."""
    collab_stream_maxlen: int = Field(default=10_000, ge=100)
    """Entries kept per document stream in Redis (approximate trimming)."""
    collab_anti_entropy_seconds: float = Field(default=10.0, gt=0)
    """Cluster mode: how often nodes compare state vectors."""
    collab_fence_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    """Cluster mode: how long a dojo's end waits for the other nodes' edits (then it is logged, not failed)."""
    collab_store_reconcile_seconds: float = Field(default=15.0, gt=0)
    """Cluster mode: how often each loaded room re-reads the store (edits only a dead node stored)."""

    # -- dojos (sessions, roles, chat, randori) ----------------------------------------------------
    dojo_max_participants: int = Field(default=50, ge=2, le=500)
    """Admitted participants per dojo."""
    dojo_chat_max_chars: int = Field(default=2000, ge=1, le=20_000)
    """Longest chat message (characters)."""
    dojo_chat_messages_per_minute: int = Field(default=30, ge=1)
    """Chat messages one user may send per dojo per minute (burst: the same number; 429 above)."""
    dojo_randori_min_seconds: float = Field(default=30.0, gt=0)
    """Shortest randori interval allowed."""
    dojo_randori_max_seconds: float = Field(default=3600.0, gt=0)
    """Longest randori interval allowed."""

    # -- dojo history (replay, docs/replay.md) -------------------------------------------------------
    dojo_history_max_queue: int = Field(default=10_000, ge=1, le=1_000_000)
    """Updates a node may hold unwritten to the history; past it edits to dojos are refused (1013) until it drains."""
    dojo_history_batch: int = Field(default=500, ge=1, le=10_000)
    """Most updates the history writer inserts in one transaction."""
    dojo_history_checkpoint_updates: int = Field(default=1000, ge=1, le=100_000)
    """A checkpoint after this many updates of a dojo (written by one node), or after
    `dojo_history_checkpoint_seconds`, whichever comes first."""
    dojo_history_checkpoint_seconds: float = Field(default=300.0, gt=0, le=3600)
    """A checkpoint this long after a dojo's last one, or after `dojo_history_checkpoint_updates` updates."""
    dojo_history_setting_refresh_seconds: float = Field(default=10.0, gt=0, le=600)
    """How soon other nodes see a tenant's history setting change."""
    dojo_history_max_frames: int = Field(default=20_000, ge=1, le=100_000)
    """Most instants one `POST /v1/dojos/{id}/history/frames` may ask for."""
    dojo_history_grant_ttl_seconds: int = Field(default=7200, ge=60, le=86_400)
    """How long a history grant (`POST /v1/dojos/{id}/history/grants`: read one dojo's history without an
    access token, e.g. the replay video worker) stays valid."""

    # -- WebRTC signaling ------------------------------------------------------------------------
    turn_secret: SecretStr | None = None
    """Shared secret of the TURN server's REST-credential scheme (coturn `use-auth-secret`); dev: generated."""
    turn_ttl_seconds: int = Field(default=3600, ge=60, le=86_400)
    """Lifetime of TURN credentials (seconds)."""
    turn_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """TURN URLs handed to clients with the credentials, comma-separated (e.g.
    `turn:turn.example.com:3478?transport=udp`)."""
    stun_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """STUN URLs handed to clients, comma-separated."""
    signal_max_peers: int = Field(default=6, ge=2, le=16)
    """Peers per room in a mesh call; one more is refused with a clear reason."""
    signal_max_message_bytes: int = Field(default=64 * 1024, ge=4096, le=1024 * 1024)
    """Largest signaling message."""
    signal_messages_per_second: float = Field(default=50.0, gt=0)
    """Per-connection signaling message rate."""
    signal_message_burst: int = Field(default=200, ge=1)
    """Per-connection signaling message burst."""

    @field_validator("turn_urls", "stun_urls", mode="before")
    @classmethod
    def _dojo_csv(cls, value: object) -> object:
        return split_csv(value)
