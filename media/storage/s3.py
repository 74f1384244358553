"""The S3 object store: a private bucket, server-side encryption, presigned downloads.

boto3 is synchronous: every call runs in a worker thread. `put_file` goes through boto3's transfer
manager, which switches to a multipart upload above `multipart_threshold`; either way the object
appears only when the upload completes (S3 has no partial objects), and a failed multipart upload is
aborted. Every object is encrypted at rest: `AES256` (S3-managed keys), or `aws:kms` with `kms_key_id`.
Credentials come from boto3's default chain (environment, profile, the task role) and are never logged.
The role needs s3:PutObject, GetObject, DeleteObject and ListBucket on the bucket (without ListBucket S3
answers a missing object with 403, which `exists` reports as a refusal), and kms:GenerateDataKey and
kms:Decrypt on the key when one is set.

Failures are translated at this boundary: no answer (connection refused, timeout, 5xx) is
`StorageUnavailable` (a job retries later); a refusal (access denied, missing bucket) is `StorageError`
with a sentence an operator can act on.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from boto3.s3.transfer import TransferConfig, create_transfer_manager
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
)

from media.errors import StorageError, StorageUnavailable
from media.storage.download import content_disposition
from media.storage.keys import check_key
from media.storage.signing import check_expires_in, check_header_text

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

MIN_PART_BYTES = 5 * 1024 * 1024
"""S3's smallest multipart part (every part but the last)."""
_DENIED = {"AccessDenied", "403", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled"}
_NO_BUCKET = {"NoSuchBucket"}
_KMS = {"KMS.NotFoundException", "KMS.DisabledException", "KMSAccessDenied", "KMS.AccessDeniedException"}


@dataclass(frozen=True)
class S3Config:
    bucket: str
    region: str | None = None
    endpoint_url: str | None = None
    """Another S3 endpoint (MinIO, moto); None: AWS."""
    kms_key_id: str | None = None
    """Encrypt with this KMS key (`aws:kms`); None: S3-managed keys (`AES256`)."""
    multipart_threshold: int = 64 * 1024 * 1024
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    max_attempts: int = 3


class S3Store:
    """`ObjectStore` over one private S3 bucket."""

    def __init__(self, config: S3Config, *, session: boto3.session.Session | None = None) -> None:
        if config.multipart_threshold < MIN_PART_BYTES:
            raise ValueError(f"the multipart threshold is at least {MIN_PART_BYTES} bytes (S3's smallest part)")
        self.config = config
        client_config = Config(
            signature_version="s3v4",
            connect_timeout=config.connect_timeout,
            read_timeout=config.read_timeout,
            retries={"max_attempts": config.max_attempts, "mode": "standard"},
            s3={"addressing_style": "path" if config.endpoint_url else "auto"},
        )
        self._client: S3Client = (session or boto3.session.Session()).client(
            "s3", region_name=config.region, endpoint_url=config.endpoint_url, config=client_config
        )
        self._transfer = create_transfer_manager(
            self._client,
            TransferConfig(
                multipart_threshold=config.multipart_threshold,
                multipart_chunksize=max(MIN_PART_BYTES, config.multipart_threshold // 4),
                max_concurrency=4,
            ),
        )

    def _encryption(self) -> dict[str, str]:
        if self.config.kms_key_id:
            return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.config.kms_key_id}
        return {"ServerSideEncryption": "AES256"}

    async def put_file(self, key: str, path: Path, *, content_type: str) -> int:
        check_key(key)
        return await asyncio.to_thread(self._put, key, path, content_type)

    def _put(self, key: str, path: Path, content_type: str) -> int:
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise StorageError(f"the file to store cannot be read: {exc.strerror}") from exc
        extra = {"ContentType": content_type, **self._encryption()}
        try:
            # By name: the transfer manager reads the parts itself, from several threads for a big file.
            self._call("store", key, lambda: self._transfer.upload(str(path), self.config.bucket, key, extra).result())
        except OSError as exc:
            raise StorageError(f"the file to store cannot be read: {exc.strerror}") from exc
        return size

    async def delete(self, key: str) -> None:
        check_key(key)
        bucket = self.config.bucket
        await asyncio.to_thread(self._call, "delete", key, lambda: self._client.delete_object(Bucket=bucket, Key=key))

    async def exists(self, key: str) -> bool:
        check_key(key)
        return await asyncio.to_thread(self._exists, key)

    def _exists(self, key: str) -> bool:
        try:
            self._client.head_object(Bucket=self.config.bucket, Key=key)
        except ClientError as exc:
            if _code(exc) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise self._translate(exc, "look up", key) from exc
        except BotoCoreError as exc:
            raise self._translate(exc, "look up", key) from exc
        return True

    async def signed_url(self, key: str, *, filename: str, content_type: str, expires_in: int) -> str:
        check_key(key)
        check_expires_in(expires_in)
        check_header_text(filename, content_type)
        params = {
            "Bucket": self.config.bucket,
            "Key": key,
            "ResponseContentDisposition": content_disposition(filename),
            "ResponseContentType": content_type,
        }
        url: str = await asyncio.to_thread(
            self._call,
            "sign a link to",
            key,
            lambda: self._client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in),
        )
        return url

    async def check(self) -> None:
        await asyncio.to_thread(self._call, "reach", None, lambda: self._client.head_bucket(Bucket=self.config.bucket))

    async def close(self) -> None:
        await asyncio.to_thread(self._transfer.shutdown)
        await asyncio.to_thread(self._client.close)

    def _call(self, action: str, key: str | None, operation: Any) -> Any:
        try:
            return operation()
        except (ClientError, BotoCoreError) as exc:
            raise self._translate(exc, action, key) from exc

    def _translate(self, exc: ClientError | BotoCoreError, action: str, key: str | None) -> StorageError:
        bucket = self.config.bucket
        what = f"object {key!r} in bucket {bucket!r}" if key else f"bucket {bucket!r}"
        if isinstance(exc, ConnectionError | HTTPClientError):
            where = self.config.endpoint_url or "S3"
            return StorageUnavailable(f"S3 cannot be reached ({where}): could not {action} the {what}")
        if isinstance(exc, NoCredentialsError | PartialCredentialsError):
            return StorageError(f"no AWS credentials were found to {action} the {what}")
        if isinstance(exc, BotoCoreError):
            return StorageError(f"could not {action} the {what}: {type(exc).__name__}")
        code = _code(exc)
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in _NO_BUCKET or (code == "404" and key is None):
            return StorageError(f"the bucket {bucket!r} does not exist (POCDOJO_MEDIA_S3_BUCKET)")
        if code in _DENIED:
            return StorageError(f"access to the {what} was denied: the credentials lack the permission to {action} it")
        if code in _KMS:
            return StorageError(f"the KMS key {self.config.kms_key_id!r} cannot encrypt the {what} ({code})")
        if status >= 500 or code in ("SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout"):
            return StorageUnavailable(f"S3 is unavailable ({code}): could not {action} the {what}")
        return StorageError(f"S3 refused to {action} the {what} ({code})")


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
