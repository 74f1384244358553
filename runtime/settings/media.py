"""The media service's settings: report and video jobs, workers, the object store, the services it calls."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr

from runtime.settings.base import SharedSettings

__all__ = ["MediaSettings"]


class MediaSettings(SharedSettings):
    """The media service (API and workers): report and video jobs, the object store, the services it calls."""

    # -- the services media calls -------------------------------------------------------------------
    poc_service_url: str | None = None
    """Where the media service reaches the POC service's API; unset: `public_url` (`pocdojo dev` serves both)."""
    dojo_service_url: str | None = None
    """Where the media service reads a dojo's history (replay videos); unset: `public_url` (`pocdojo dev`)."""

    # -- jobs and workers ------------------------------------------------------------------------------
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
    media_replay_time_limit_seconds: float = Field(default=900.0, gt=0, le=3600)
    """A dojo replay video job (reading the frames, drawing, encoding up to 3 minutes, storing) running longer
    is stopped (ffmpeg killed) and fails."""
    media_max_active_videos_per_user: int = Field(default=2, ge=1, le=1000)
    """Queued plus running videos one user may have (429 with Retry-After above)."""
    media_download_url_seconds: int = Field(default=300, ge=10, le=900)
    """Lifetime of the signed URL `GET /v1/reports/{id}/download` redirects to."""

    # -- media object store (finished reports) --------------------------------------------------------
    media_store: Literal["local", "s3"] = "local"
    """Where finished reports are kept: files under `media_local_root` (downloaded through
    `GET /v1/media/files/{token}`), or an S3 bucket."""
    media_local_root: Path | None = None
    """Local store: the directory of the objects (default `<state_dir>/objects`)."""
    media_url_secret: SecretStr | None = None
    """Local store: HMAC secret (≥ 32 bytes) of the download links, shared by every media node; dev: generated."""
    media_s3_bucket: str | None = Field(default=None, min_length=3, max_length=63)
    """S3 store: the private bucket; credentials from boto3's default chain (the task role)."""
    media_s3_region: str | None = None
    """S3 store: the bucket's region."""
    media_s3_endpoint_url: str | None = None
    """Another S3-compatible endpoint (MinIO; the tests: moto); unset: AWS."""
    media_s3_kms_key_id: str | None = None
    """Encrypt objects with this KMS key (`aws:kms`); unset: S3-managed keys (`AES256`)."""
    media_s3_multipart_threshold_bytes: int = Field(default=64 * 1024 * 1024, ge=5 * 1024 * 1024)
    """Files above this size are uploaded in parts (S3's smallest part: 5 MiB)."""

    @property
    def poc_service_base(self) -> str:
        """The POC service's base URL: `poc_service_url`, else `public_url` (one process serves all in dev)."""
        return (self.poc_service_url or self.public_url).rstrip("/")

    @property
    def dojo_service_base(self) -> str:
        """The dojo service's base URL: `dojo_service_url`, else `public_url` (one process serves all in dev)."""
        return (self.dojo_service_url or self.public_url).rstrip("/")
