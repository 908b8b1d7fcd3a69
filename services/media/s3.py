"""Blobs on any S3-compatible store (AWS S3, MinIO, Ceph, moto): each blob is
the object named by its key, in one bucket.

A write is conditional (`If-None-Match: *`): it creates the object or finds
it there. A blob's key is the hash of its bytes, so an object already
there (412 Precondition Failed) holds the same bytes: the write succeeded.
Concurrent uploads of the same bytes are therefore safe, and no write ever
replaces a stored blob. A store that is unreachable, or answers 5xx, is an
`Outage` (503; a handler retries it without counting the attempt).
"""
from contextlib import contextmanager

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as StoreUnreachable

from services.media.storage import BLOB_KEY, blob_key
from shared.errors import Outage

PAGE = 1000  # the most keys ListObjectsV2 returns, and DeleteObjects takes, at once
WRITTEN_ALREADY = "PreconditionFailed"  # 412: the object exists
WRITE_CONFLICT = "ConditionalRequestConflict"  # 409: another conditional write of it under way
MISSING = {"NoSuchKey", "404"}


class S3BlobStore:
    """The `BlobStore` interface on an S3 bucket; `page` keys at most per
    listing request and per batch delete."""

    blocking = False  # network I/O, which eventlet's sockets make cooperative

    def __init__(self, client, bucket, page=PAGE):
        self.client, self.bucket, self.page = client, bucket, page

    def put(self, data):
        key = blob_key(data)
        for _ in range(3):  # a conflict is a concurrent write of the same bytes: ask again
            try:
                with _outages():
                    self.client.put_object(Bucket=self.bucket, Key=key, Body=data,
                                           IfNoneMatch="*")
                return key
            except ClientError as error:
                if _code(error) == WRITTEN_ALREADY:
                    return key
                if _code(error) != WRITE_CONFLICT:
                    raise
        raise Outage(f"blob {key}: conditional writes kept conflicting")

    def open(self, key):
        try:
            with _outages():
                return self.client.get_object(Bucket=self.bucket, Key=_checked(key))["Body"].read()
        except ClientError as error:
            if _code(error) in MISSING:
                raise FileNotFoundError(key) from None
            raise

    def delete(self, *keys):
        for start in range(0, len(keys), self.page):
            batch = [{"Key": _checked(key)} for key in keys[start:start + self.page]]
            with _outages():
                answer = self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
            if answer.get("Errors"):
                raise Outage(f"the store kept {len(answer['Errors'])} blob(s): "
                             f"{answer['Errors'][0].get('Message')}")

    def keys(self):
        for page in self._pages("list_objects_v2", "Contents"):
            yield from (item["Key"] for item in page if BLOB_KEY.fullmatch(item["Key"]))

    def modified_at(self, key):
        try:
            with _outages():
                head = self.client.head_object(Bucket=self.bucket, Key=_checked(key))
        except ClientError as error:
            if _code(error) in MISSING:
                raise FileNotFoundError(key) from None
            raise
        return head["LastModified"].timestamp()

    def sweep_incomplete(self, before):
        """Abort multipart uploads begun before `before` (a bucket lifecycle
        rule that aborts them does the same); `put` itself never leaves one."""
        stale = [upload for page in self._pages("list_multipart_uploads", "Uploads")
                 for upload in page if upload["Initiated"].timestamp() < before]
        for upload in stale:
            with _outages():
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=upload["Key"],
                                                   UploadId=upload["UploadId"])
        return len(stale)

    def _pages(self, operation, field):
        pages = self.client.get_paginator(operation).paginate(
            Bucket=self.bucket, PaginationConfig={"PageSize": self.page})
        with _outages():
            yield from (page.get(field, []) for page in pages)


def s3_client(settings):
    """A boto3 client for the store `settings` (MediaSettings) describe;
    empty credentials leave boto3 to find its own (its environment
    variables, an instance or pod role)."""
    addressing = "path" if settings.MEDIA_S3_PATH_STYLE else "virtual"
    credentials = {"aws_access_key_id": settings.MEDIA_S3_ACCESS_KEY_ID,
                   "aws_secret_access_key": settings.MEDIA_S3_SECRET_ACCESS_KEY}
    return boto3.session.Session().client(
        "s3", endpoint_url=settings.MEDIA_S3_ENDPOINT or None,
        region_name=settings.MEDIA_S3_REGION,
        **{name: value for name, value in credentials.items() if value},
        config=Config(s3={"addressing_style": addressing}, connect_timeout=5, read_timeout=30,
                      retries={"mode": "standard", "max_attempts": 3}))


@contextmanager
def _outages():
    try:
        yield
    except (StoreUnreachable, HTTPClientError) as error:  # unreachable, timed out, cut off
        raise Outage(f"the blob store is unavailable: {error}") from error
    except ClientError as error:
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if status >= 500:
            raise Outage(f"the blob store is unavailable: {_code(error)}") from error
        raise


def _code(error):
    return error.response.get("Error", {}).get("Code")


def _checked(key):
    if not BLOB_KEY.fullmatch(key):
        raise ValueError(f"not a blob key: {key!r}")
    return key
