"""The object store the settings name (`POCDOJO_MEDIA_STORE=local|s3`), and its download route.

The local store's downloads are served by the media service itself, so the media app includes
`download_router_for(store)` when it is not None; S3 serves its presigned URLs itself.
"""

from __future__ import annotations

from fastapi import APIRouter

from media.storage.base import ObjectStore
from media.storage.download import download_router
from media.storage.local import LocalStore
from media.storage.s3 import S3Config, S3Store
from media.storage.signing import MIN_SECRET_BYTES, UrlSigner
from runtime.settings import MediaSettings


def create_store(settings: MediaSettings) -> ObjectStore:
    """The configured store; `ValueError` naming the missing setting when it cannot be built."""
    if settings.media_store == "s3":
        if not settings.media_s3_bucket:
            raise ValueError("POCDOJO_MEDIA_STORE=s3 needs POCDOJO_MEDIA_S3_BUCKET")
        return S3Store(
            S3Config(
                bucket=settings.media_s3_bucket,
                region=settings.media_s3_region,
                endpoint_url=settings.media_s3_endpoint_url,
                kms_key_id=settings.media_s3_kms_key_id,
                multipart_threshold=settings.media_s3_multipart_threshold_bytes,
            )
        )
    if settings.media_url_secret is None:
        raise ValueError(
            f"POCDOJO_MEDIA_URL_SECRET (at least {MIN_SECRET_BYTES} bytes, shared by every media node) is not set"
        )
    signer = UrlSigner(settings.media_url_secret.get_secret_value().encode(), settings.public_url)
    return LocalStore(settings.media_local_root or settings.state_dir / "objects", signer)


def download_router_for(store: ObjectStore) -> APIRouter | None:
    """`GET`/`HEAD /v1/media/files/{token}` for a local store; None for a store that serves its own links."""
    return download_router(store) if isinstance(store, LocalStore) else None
