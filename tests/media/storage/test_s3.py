"""What only the S3 store does: encryption at rest, multipart uploads, failures translated — against
moto's standalone server (tests/media/conftest.py), never a mocked client."""

from __future__ import annotations

import boto3
import pytest

from media.errors import StorageError, StorageUnavailable
from media.storage.s3 import MIN_PART_BYTES, S3Config, S3Store
from runtime.ports import free_port
from tests.media.conftest import MotoS3, start_moto
from tests.media.storage.conftest import MakeFile, moto_store

KEY = "reports/t-1/u-1/r-1.pdf"


async def test_objects_are_encrypted_with_s3_managed_keys(moto_s3: MotoS3, make_file: MakeFile) -> None:
    async with moto_store(moto_s3) as store:
        await store.put_file(KEY, make_file(b"%PDF-1.7"), content_type="application/pdf")
        head = moto_s3.client().head_object(Bucket=store.config.bucket, Key=KEY)
    assert head["ServerSideEncryption"] == "AES256"
    assert head["ContentType"] == "application/pdf"
    assert head["ContentLength"] == 8


async def test_objects_are_encrypted_with_the_kms_key_when_set(moto_s3: MotoS3, make_file: MakeFile) -> None:
    key_id = moto_s3.client("kms").create_key(Description="media reports")["KeyMetadata"]["KeyId"]
    async with moto_store(moto_s3, kms_key_id=key_id) as store:
        await store.put_file(KEY, make_file(b"%PDF-1.7"), content_type="application/pdf")
        head = moto_s3.client().head_object(Bucket=store.config.bucket, Key=KEY)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"].endswith(key_id)


async def test_big_files_go_up_in_parts_and_stay_encrypted(moto_s3: MotoS3, make_file: MakeFile) -> None:
    content = b"0123456789abcdef" * (MIN_PART_BYTES * 2 // 16 + 1000)  # a little over two parts
    async with moto_store(moto_s3, multipart_threshold=MIN_PART_BYTES) as store:
        size = await store.put_file(KEY, make_file(content), content_type="text/csv")
        head = moto_s3.client().head_object(Bucket=store.config.bucket, Key=KEY)
        body = moto_s3.client().get_object(Bucket=store.config.bucket, Key=KEY)["Body"].read()
    assert size == len(content)
    assert head["ETag"].rstrip('"').endswith("-3")  # a multipart upload's ETag counts its parts
    assert head["ServerSideEncryption"] == "AES256"
    assert body == content


async def test_an_unreachable_endpoint_is_unavailable(moto_s3: MotoS3, make_file: MakeFile) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    store = S3Store(S3Config(bucket="media-reports", endpoint_url=nobody, max_attempts=1), session=moto_s3.session())
    try:
        with pytest.raises(StorageUnavailable, match="cannot be reached"):
            await store.put_file(KEY, make_file(b"x"), content_type="application/pdf")
        with pytest.raises(StorageUnavailable):
            await store.exists(KEY)
        with pytest.raises(StorageUnavailable):
            await store.delete(KEY)
        with pytest.raises(StorageUnavailable):
            await store.check()
    finally:
        await store.close()


async def test_a_missing_bucket_is_a_storage_error(moto_s3: MotoS3, make_file: MakeFile) -> None:
    config = S3Config(bucket="media-no-such-bucket", endpoint_url=moto_s3.endpoint_url)
    store = S3Store(config, session=moto_s3.session())
    try:
        with pytest.raises(StorageError, match="does not exist") as raised:
            await store.put_file(KEY, make_file(b"x"), content_type="application/pdf")
        assert not isinstance(raised.value, StorageUnavailable)
        with pytest.raises(StorageError, match="does not exist") as raised:
            await store.check()
        assert not isinstance(raised.value, StorageUnavailable)
    finally:
        await store.close()


async def test_check_passes_on_an_existing_bucket(moto_s3: MotoS3) -> None:
    async with moto_store(moto_s3) as store:
        await store.check()


def test_a_multipart_threshold_below_s3s_smallest_part_is_refused(moto_s3: MotoS3) -> None:
    with pytest.raises(ValueError, match="multipart threshold"):
        S3Store(S3Config(bucket="b", multipart_threshold=1024), session=moto_s3.session())


async def test_denied_access_is_a_readable_storage_error(make_file: MakeFile) -> None:
    """A moto that checks credentials and IAM policies: a user without any S3 permission is refused."""
    async with start_moto(INITIAL_NO_AUTH_ACTION_COUNT="3") as moto:
        bucket = moto.new_bucket()  # the unauthenticated requests: this one,
        iam = moto.client("iam")
        iam.create_user(UserName="reports-worker")  # this one
        access = iam.create_access_key(UserName="reports-worker")["AccessKey"]  # and this one
        session = boto3.session.Session(
            aws_access_key_id=access["AccessKeyId"],
            aws_secret_access_key=access["SecretAccessKey"],
            region_name="us-east-1",
        )
        store = S3Store(S3Config(bucket=bucket, endpoint_url=moto.endpoint_url), session=session)
        try:
            with pytest.raises(StorageError, match="denied") as raised:
                await store.put_file(KEY, make_file(b"x"), content_type="application/pdf")
            assert not isinstance(raised.value, StorageUnavailable)
            assert access["SecretAccessKey"] not in str(raised.value)
            with pytest.raises(StorageError, match="denied"):
                await store.delete(KEY)
        finally:
            await store.close()
