"""Typed settings, read once from the environment (12-factor) and passed down.

Nothing below an app factory reads `os.environ`: `Settings.from_env()` is called by the CLI, and
tests build `Settings(...)` directly. Every variable is `POCDOJO_<FIELD>` except the conventional
`DATABASE_URL` and `REDIS_URL`. Secrets are `SecretStr`, so they never appear in reprs or logs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Environment = Literal["dev", "test", "production"]


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    """Settings shared by every service. See the README's configuration table."""

    model_config = SettingsConfigDict(env_prefix="POCDOJO_", extra="ignore", frozen=True)

    env: Environment = "production"
    service_name: str = "pocdojo"

    # -- database ---------------------------------------------------------------------------------
    database_url: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "POCDOJO_DATABASE_URL")
    )
    """The role the services connect as (owns nothing, NOSUPERUSER NOBYPASSRLS)."""
    migration_database_url: SecretStr | None = None
    """The schema owner's URL, used only by `pocdojo migrate`. Defaults to DATABASE_URL."""
    db_pool_min: int = Field(default=1, ge=0)
    db_pool_max: int = Field(default=10, ge=1)
    db_command_timeout: float = Field(default=10.0, gt=0)

    # -- redis ------------------------------------------------------------------------------------
    redis_url: SecretStr | None = Field(default=None, validation_alias=AliasChoices("REDIS_URL", "POCDOJO_REDIS_URL"))

    # -- HTTP ---------------------------------------------------------------------------------------
    public_url: str = "http://127.0.0.1:8000"
    """Where clients reach the API; the token issuer is derived from it unless auth_issuer is set."""
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    trusted_proxy_hops: int = Field(default=0, ge=0, le=5)
    """How many reverse proxies (ALB: 1) put the client address in X-Forwarded-For."""
    allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Browser origins allowed on the websockets (native clients send no Origin)."""

    # -- logging ----------------------------------------------------------------------------------
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = True

    # -- metrics ----------------------------------------------------------------------------------
    metrics_token: SecretStr | None = None
    """Bearer token that opens `/metrics` on the public port; production without it: no `/metrics` there."""
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    """`pocdojo serve`: also serve the metrics on this port (internal: no load-balancer rule reaches it)."""
    metrics_host: str = "127.0.0.1"
    """Address of the metrics port (loopback: a sidecar scraper in the same task; 0.0.0.0 for the VPC)."""

    # -- tracing ----------------------------------------------------------------------------------
    otel_exporter: Literal["none", "console", "otlp"] = "none"
    """`otlp` sends spans to OTEL_EXPORTER_OTLP_ENDPOINT (the ADOT collector forwarding to X-Ray)."""
    otel_sample_ratio: float = Field(default=1.0, ge=0.0, le=1.0)
    """Share of new traces kept (a request's or a job's); spans with a parent follow the parent's choice."""

    # -- token verification (every service) --------------------------------------------------------
    auth_mode: Literal["local", "cognito"] = "local"
    auth_issuer: str | None = None
    auth_jwks_url: str | None = None
    auth_client_ids: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["pocdojo-app"])
    auth_audience: str = "pocdojo-api"
    auth_leeway_seconds: int = Field(default=30, ge=0, le=60)
    auth_status_ttl_seconds: float = Field(default=5.0, gt=0, le=30)
    """Local mode: how long a node trusts what identity said about a token's user (exists, roles, sign-in
    not revoked) before asking PostgreSQL again — the longest a revocation takes to reach every node."""

    # -- identity service ---------------------------------------------------------------------------
    state_dir: Path = Path(".pocdojo")
    signing_keys: SecretStr | None = None
    """Production: PEM private keys (concatenated); the first signs, all are published in JWKS."""
    operator_token: SecretStr | None = None
    access_token_ttl: int = Field(default=900, ge=60, le=86_400)
    refresh_token_ttl: int = Field(default=30 * 86_400, ge=3600)
    password_min_length: int = Field(default=8, ge=8, le=64)
    login_max_failures_per_account_ip: int = Field(default=5, ge=1)
    register_max_per_ip: int = Field(default=10, ge=1)
    """Self-registration attempts per client address and window (429 above)."""
    register_window_seconds: int = Field(default=3600, ge=10)
    login_max_failures_per_ip: int = Field(default=50, ge=1)
    login_failure_window_seconds: int = Field(default=900, ge=10)

    # -- realtime collaboration (dojo service) ---------------------------------------------------------
    ticket_secret: SecretStr | None = None
    """HMAC secret (≥ 32 bytes) shared by every node for connection tickets; dev: generated."""
    ticket_ttl_seconds: int = Field(default=60, ge=5, le=600)
    collab_max_frame_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    """Largest WebSocket message accepted (close 1009 above it)."""
    collab_max_document_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    collab_messages_per_second: float = Field(default=500.0, gt=0)
    collab_message_burst: int = Field(default=2000, ge=1)
    collab_max_backlog_bytes: int = Field(default=4 * 1024 * 1024, ge=64 * 1024)
    """Unsent bytes a connection may accumulate before it is closed as too slow (1013)."""
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
    collab_read_inline_max_bytes: int = Field(default=256 * 1024, ge=0)
    """Documents up to this size are decoded on the event loop (a few ms), larger ones in a worker."""
    collab_idle_unload_seconds: float = Field(default=30.0, ge=0)
    collab_persist_debounce_seconds: float = Field(default=0.5, gt=0, le=1.0)
    collab_persist_max_delay_seconds: float = Field(default=3.0, gt=0, le=5.0)
    collab_stream_maxlen: int = Field(default=10_000, ge=100)
    """Entries kept per document stream in Redis (approximate trimming)."""
    collab_anti_entropy_seconds: float = Field(default=10.0, gt=0)
    collab_fence_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    """Cluster mode: how long a dojo's end waits for the other nodes' edits (then it is logged, not failed)."""
    collab_store_reconcile_seconds: float = Field(default=15.0, gt=0)
    """Cluster mode: how often each loaded room re-reads the store (edits only a dead node stored)."""
    node_id: str | None = None
    """This realtime node's name in the cluster (default: host:pid:random)."""

    # -- POC change events (outbox relay) -----------------------------------------------------------
    poc_events_stream: str = Field(default="pocdojo:poc-events", min_length=1, max_length=200)
    """The Redis Stream the POC service's outbox relay publishes change events to (with REDIS_URL)."""
    poc_events_stream_maxlen: int = Field(default=1_000_000, ge=1000)
    """Events kept in that stream (approximate trimming); the outbox keeps every event in PostgreSQL."""
    poc_events_batch: int = Field(default=200, ge=1, le=1000)
    poc_events_poll_seconds: float = Field(default=0.2, gt=0, le=10)
    """How often the relay looks for new events when the last look found none."""

    # -- POC exports (the frozen search a report is made from) ------------------------------------
    poc_export_ttl_seconds: int = Field(default=86_400, ge=60, le=7 * 86_400)
    """How long an export of a search lives (`POST /v1/pocs/exports`); expired ones are 404 and purged."""
    poc_export_max_rows: int = Field(default=200_000, ge=1, le=10_000_000)
    """POCs one export may hold; a search matching more is refused (422 on `filters`)."""
    poc_export_max_live_per_user: int = Field(default=10, ge=1, le=1000)
    """Unexpired exports one user may hold at once (429 with Retry-After above)."""
    poc_service_url: str | None = None
    """Where the media service reaches the POC service's API; unset: `public_url` (`pocdojo dev` serves both)."""

    # -- dojos (sessions, roles, chat, randori) ----------------------------------------------------
    dojo_max_participants: int = Field(default=50, ge=2, le=500)
    dojo_chat_max_chars: int = Field(default=2000, ge=1, le=20_000)
    dojo_chat_messages_per_minute: int = Field(default=30, ge=1)
    """Chat messages one user may send per dojo per minute (burst: the same number)."""
    dojo_randori_min_seconds: float = Field(default=30.0, gt=0)
    dojo_randori_max_seconds: float = Field(default=3600.0, gt=0)

    # -- dojo history (replay, docs/replay.md) -------------------------------------------------------
    dojo_history_max_queue: int = Field(default=10_000, ge=1, le=1_000_000)
    """Updates a node may hold unwritten to the history; past it edits to dojos are refused (1013) until it drains."""
    dojo_history_batch: int = Field(default=500, ge=1, le=10_000)
    """Most updates the history writer inserts in one transaction."""
    dojo_history_checkpoint_updates: int = Field(default=500, ge=1, le=100_000)
    """A checkpoint after this many updates of a dojo (written by one node)..."""
    dojo_history_checkpoint_seconds: float = Field(default=60.0, gt=0, le=3600)
    """...or this long after the last one, whichever comes first."""
    dojo_history_setting_refresh_seconds: float = Field(default=10.0, gt=0, le=600)
    """How soon other nodes see a tenant's history setting change."""
    dojo_history_max_frames: int = Field(default=20_000, ge=1, le=100_000)
    """Most instants one `POST /v1/dojos/{id}/history/frames` may ask for."""

    # -- WebRTC signaling ------------------------------------------------------------------------
    turn_secret: SecretStr | None = None
    """Shared secret of the TURN server's REST-credential scheme (coturn `use-auth-secret`); dev: generated."""
    turn_ttl_seconds: int = Field(default=3600, ge=60, le=86_400)
    turn_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """TURN URLs handed to clients with the credentials (e.g. `turn:turn.example.com:3478?transport=udp`)."""
    stun_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
    signal_max_peers: int = Field(default=6, ge=2, le=16)
    """Peers per room in a mesh call; one more is refused with a clear reason."""
    signal_max_message_bytes: int = Field(default=64 * 1024, ge=4096, le=1024 * 1024)
    signal_messages_per_second: float = Field(default=50.0, gt=0)
    signal_message_burst: int = Field(default=200, ge=1)

    # -- media service: report jobs ----------------------------------------------------------------
    media_worker_concurrency: int = Field(default=2, ge=1, le=64)
    """Jobs one `pocdojo worker media` process runs at once."""
    media_job_time_limit_seconds: float = Field(default=900.0, gt=0, le=86_400)
    """A report job running longer is stopped and fails with a reason the user can read."""
    media_job_max_attempts: int = Field(default=5, ge=1, le=50)
    """Runs of a job whose failures are retryable (store or POC service unreachable) before it fails."""
    media_job_retry_base_seconds: int = Field(default=2, ge=1, le=3600)
    """Exponential backoff of those retries: attempt n waits base**n seconds."""
    media_worker_heartbeat_seconds: float = Field(default=10.0, gt=0, le=300)
    """How often a worker records that it is alive."""
    media_worker_stalled_seconds: float = Field(default=30.0, gt=0, le=3600)
    """A running job whose worker sent no heartbeat for this long is given to another worker."""
    media_worker_poll_seconds: float = Field(default=5.0, gt=0, le=3600)
    """A worker looks for jobs this often besides LISTEN/NOTIFY (which starts new jobs at once)."""
    media_worker_shutdown_seconds: float = Field(default=30.0, ge=0, le=3600)
    """SIGTERM: how long a worker lets its running jobs finish before it releases them to other workers."""
    media_max_active_reports_per_user: int = Field(default=3, ge=1, le=1000)
    """Queued plus running reports one user may have (429 with Retry-After above)."""
    media_video_time_limit_seconds: float = Field(default=180.0, gt=0, le=3600)
    """A video job (reading, drawing, encoding, storing) running longer is stopped (ffmpeg killed) and fails."""
    media_max_active_videos_per_user: int = Field(default=2, ge=1, le=1000)
    """Queued plus running videos one user may have (429 with Retry-After above)."""
    identity_service_url: str | None = None
    """Where the media service asks identity for the caller's names (`GET /v1/auth/me`); default: public_url."""
    media_download_url_seconds: int = Field(default=300, ge=10, le=900)
    """Lifetime of the signed URL `GET /v1/reports/{id}/download` redirects to."""

    # -- media object store (finished reports) --------------------------------------------------------
    media_store: Literal["local", "s3"] = "local"
    """Where finished reports are kept: files under `media_local_root`, or an S3 bucket."""
    media_local_root: Path | None = None
    """Local store: the directory of the objects (default `<state_dir>/objects`)."""
    media_url_secret: SecretStr | None = None
    """Local store: HMAC secret (≥ 32 bytes) of the download links, shared by every media node; dev: generated."""
    media_s3_bucket: str | None = Field(default=None, min_length=3, max_length=63)
    media_s3_region: str | None = None
    media_s3_endpoint_url: str | None = None
    """Another S3-compatible endpoint (MinIO; the tests: moto); unset: AWS."""
    media_s3_kms_key_id: str | None = None
    """Encrypt objects with this KMS key (`aws:kms`); unset: S3-managed keys (`AES256`)."""
    media_s3_multipart_threshold_bytes: int = Field(default=64 * 1024 * 1024, ge=5 * 1024 * 1024)
    """Files above this size are uploaded in parts (S3's smallest part: 5 MiB)."""

    @field_validator("allowed_origins", "auth_client_ids", "turn_urls", "stun_urls", mode="before")
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Read the process environment once; explicit overrides win (CLI flags)."""
        return cls(**overrides)  # type: ignore[arg-type]

    @property
    def issuer(self) -> str:
        return self.auth_issuer or self.public_url.rstrip("/")

    @property
    def poc_service_base(self) -> str:
        """The POC service's base URL: `poc_service_url`, else `public_url` (one process serves all in dev)."""
        return (self.poc_service_url or self.public_url).rstrip("/")

    @property
    def jwks_url(self) -> str:
        return self.auth_jwks_url or f"{self.issuer}/.well-known/jwks.json"

    def require_database_url(self) -> str:
        if self.database_url is None:
            raise ValueError("DATABASE_URL is not set (or run `pocdojo dev` for the embedded default)")
        return self.database_url.get_secret_value()
