"""The settings every service shares: database, Redis, HTTP, logging, metrics, tracing, token verification.

Typed, read once from the environment (12-factor) and passed down: nothing below an app factory reads
`os.environ`. Every variable is `POCDOJO_<FIELD>` except the conventional `DATABASE_URL` and `REDIS_URL`.
Secrets are `SecretStr`, so they never appear in reprs or logs. Each field's docstring is its description
in the generated configuration table (`make settings-table`, docs/configuration.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["Environment", "SharedSettings", "split_csv"]

Environment = Literal["dev", "test", "production"]


def split_csv(value: object) -> object:
    """A comma-separated variable as a list (blank items dropped); other values as they are."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class SharedSettings(BaseSettings):
    """Settings every service reads: database, Redis, HTTP, logging, metrics, tracing, token verification."""

    model_config = SettingsConfigDict(env_prefix="POCDOJO_", extra="ignore", frozen=True, use_attribute_docstrings=True)

    env: Environment = "production"
    """`dev`, `test` or `production`."""
    service_name: str = "pocdojo"
    """The service's name in logs, metrics and traces (`pocdojo serve` sets it)."""
    state_dir: Path = Path(".pocdojo")
    """Dev state: embedded database, generated keys and secrets."""
    node_id: str | None = None
    """This node's name in the cluster (default: host:pid:random)."""

    # -- database ---------------------------------------------------------------------------------
    database_url: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "POCDOJO_DATABASE_URL")
    )
    """PostgreSQL URL of the role the services connect as (`pocdojo_service`: owns nothing, NOSUPERUSER
    NOBYPASSRLS); dev: the embedded server."""
    migration_database_url: SecretStr | None = None
    """The schema owner's URL, used only by `pocdojo migrate`. Defaults to DATABASE_URL."""
    db_pool_min: int = Field(default=1, ge=0)
    """Smallest asyncpg pool size."""
    db_pool_max: int = Field(default=10, ge=1)
    """Largest asyncpg pool size."""
    db_command_timeout: float = Field(default=10.0, gt=0)
    """Seconds a PostgreSQL command may take."""

    # -- redis ------------------------------------------------------------------------------------
    redis_url: SecretStr | None = Field(default=None, validation_alias=AliasChoices("REDIS_URL", "POCDOJO_REDIS_URL"))
    """Redis for multi-node realtime (a single node needs none) and for the POC change-event stream."""

    # -- HTTP ---------------------------------------------------------------------------------------
    public_url: str = "http://127.0.0.1:8000"
    """Where clients reach the API; the token issuer is derived from it unless auth_issuer is set."""
    identity_service_url: str | None = None
    """Where a service asks identity for people's names (media: `GET /v1/auth/me`; dojo: the member directory)
    with the caller's token; unset: `public_url`."""
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    """Request bodies above this get 413."""
    trusted_proxy_hops: int = Field(default=0, ge=0, le=5)
    """How many reverse proxies (ALB: 1) put the client address in X-Forwarded-For."""
    allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Browser origins allowed on the websockets, comma-separated (native clients send no Origin)."""

    # -- logging ----------------------------------------------------------------------------------
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """Lowest level logged."""
    log_json: bool = True
    """One JSON object per log line (`false`: text)."""

    # -- garbage collector ------------------------------------------------------------------------
    gc_young_threshold: int = Field(default=20_000, ge=0)
    """`pocdojo serve`, `worker`, `dev`: container allocations between two young-generation collections
    (CPython's default: 700; 0 keeps the defaults). See `runtime/gc_policy.py`."""
    gc_freeze_at_start: bool = True
    """`pocdojo serve`, `worker`, `dev`: move what start-up made to the collector's permanent generation
    (`gc.freeze()`)."""

    # -- metrics ----------------------------------------------------------------------------------
    metrics_token: SecretStr | None = None
    """Bearer token that opens `/metrics` on the public port; production without it: no `/metrics` there."""
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    """`pocdojo serve`: also serve the metrics on this port (internal: no load-balancer rule reaches it)."""
    metrics_host: str = "127.0.0.1"
    """Address of the metrics port (loopback: a sidecar scraper in the same task; 0.0.0.0 for the VPC)."""

    # -- tracing ----------------------------------------------------------------------------------
    otel_exporter: Literal["none", "console", "otlp"] = "none"
    """`otlp` sends spans to OTEL_EXPORTER_OTLP_ENDPOINT (the ADOT collector forwarding to X-Ray); see
    docs/operations.md."""
    otel_sample_ratio: float = Field(default=1.0, ge=0.0, le=1.0)
    """Share of new traces kept (a request's or a job's); spans with a parent follow the parent's choice."""

    # -- token verification (every service) --------------------------------------------------------
    auth_mode: Literal["local", "cognito"] = "local"
    """`local` (our identity service issues tokens) or `cognito`."""
    auth_issuer: str | None = None
    """Expected `iss` (default: public_url); for Cognito `https://cognito-idp.{region}.amazonaws.com/{poolId}`."""
    auth_jwks_url: str | None = None
    """Where the issuer's keys are fetched (default: `{issuer}/.well-known/jwks.json`)."""
    auth_client_ids: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["pocdojo-app"])
    """Accepted `client_id`s, comma-separated; the first is ours."""
    auth_audience: str = "pocdojo-api"
    """`aud` of our access tokens (local mode)."""
    auth_leeway_seconds: int = Field(default=30, ge=0, le=60)
    """Clock leeway of token time checks, at most 60."""
    auth_status_ttl_seconds: float = Field(default=5.0, gt=0, le=30)
    """Local mode: how long a node trusts what identity said about a token's user (exists, roles, sign-in
    not revoked) before asking PostgreSQL again — the longest a revocation takes to reach every node."""

    @field_validator("allowed_origins", "auth_client_ids", mode="before")
    @classmethod
    def _shared_csv(cls, value: object) -> object:
        return split_csv(value)

    @classmethod
    def from_env(cls, **overrides: object) -> Self:
        """Read the process environment once; explicit overrides win (CLI flags)."""
        return cls(**overrides)  # type: ignore[arg-type]

    @property
    def issuer(self) -> str:
        return self.auth_issuer or self.public_url.rstrip("/")

    @property
    def jwks_url(self) -> str:
        return self.auth_jwks_url or f"{self.issuer}/.well-known/jwks.json"

    def require_database_url(self) -> str:
        if self.database_url is None:
            raise ValueError("DATABASE_URL is not set (or run `pocdojo dev` for the embedded default)")
        return self.database_url.get_secret_value()
