"""Stored files as objects of one S3 bucket (AWS, SeaweedFS, MinIO, Garage...), via boto3.

An upload streams into a multipart upload, one part of `part_size` bytes at a time (the
memory an upload holds is one part, whatever its size), hashed as the bytes go by; the
multipart upload is opened only once a first part is full, so a small file is one PUT at
`place()`. Nothing is visible under the final key before `place()`, and `discard()` aborts
the multipart upload. S3 cannot tell a running upload from an abandoned one: strays are
multipart uploads (and staging objects) older than an age.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Iterable, Iterator
from typing import Any

from ..domain.errors import ArcsecError
from .backend import (
    LOST_FOUND,
    MIN_PART_SIZE,
    Backend,
    LimitedReader,
    Readable,
    StoredEntry,
    Stray,
)
from .local import TMP

log = logging.getLogger(__name__)

# When no age is given, a multipart upload older than this is abandoned: far longer than
# any real upload, even of a night's largest frame over a slow link.
DEFAULT_STRAY_AGE_S = 24 * 3600
MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # SigV4's limit
DELETE_BATCH = 1000  # DeleteObjects' limit
MISSING = {"404", "NoSuchKey", "NotFound"}
CHECKSUM_KEY = "sha256"  # the object metadata (x-amz-meta-sha256) migrate-storage sets


class StorageUnavailable(ArcsecError):
    """The bucket could not be written or read (unreachable, refused, no credentials): a
    503. An upload keeps nothing; a read (download, preview, package) sends nothing."""

    status = 503

    def __init__(self, error: Exception, reading: bool = False) -> None:
        if reading:
            # The error itself (endpoint, bucket, key) is logged, not shown: anyone with
            # read access, even to a public package, would otherwise learn them.
            log.warning("Reading from the S3 bucket failed: %s", error)
            detail = (
                "The server's file storage (S3) cannot be reached: the file cannot be read "
                "now. Try again later."
            )
        else:
            detail = f"The server's file storage (S3) failed: the file was not stored ({error})."
        super().__init__(detail)


def _unavailable(error: Exception) -> Exception:
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(error, (BotoCoreError, ClientError)):
        return StorageUnavailable(error)
    return error


def _read_failures() -> tuple[type[Exception], ...]:
    """What a read of the bucket raises when the bucket, not the object, is the problem:
    botocore's errors (a missing object is sorted out before), and those urllib3 or the
    socket raise while a body streams."""
    from botocore.exceptions import BotoCoreError, ClientError
    from urllib3.exceptions import HTTPError

    return (BotoCoreError, ClientError, HTTPError, ConnectionError, TimeoutError)


class _Body:
    """An object's streaming body whose read errors are StorageUnavailable."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def read(self, size: int = -1, /) -> bytes:
        try:
            return bytes(self._body.read(None if size < 0 else size))
        except _read_failures() as error:
            raise StorageUnavailable(error, reading=True) from error

    def close(self) -> None:
        self._body.close()

    def __enter__(self) -> _Body:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


_NOT_STORED = (f"{TMP}/", f"{LOST_FOUND}/")


def s3_client(endpoint_url: str | None, region: str | None) -> Any:
    """A boto3 client signing with SigV4 (presigned URLs included); path-style addressing
    for a custom endpoint, whose buckets are rarely DNS names of their own."""
    import boto3
    from botocore.config import Config

    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": "path" if endpoint_url else "auto"},
        retries={"max_attempts": 4, "mode": "standard"},
    )
    return boto3.client("s3", endpoint_url=endpoint_url, region_name=region, config=config)


def _code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _client_error() -> type[Exception]:
    from botocore.exceptions import ClientError

    return ClientError


class S3Writer:
    """An upload streamed into a multipart upload; see the module's docstring."""

    def __init__(self, backend: S3Backend, relative: str | None) -> None:
        self._backend = backend
        self._client = backend.client
        self._part_size = backend.part_size
        # Where a multipart upload is opened: the final key when known, else a staging key.
        self._key = relative or f"{TMP}/upload-{secrets.token_hex(16)}"
        self.destination = relative
        # User metadata the object gets (x-amz-meta-*): set before the first write.
        self.metadata: dict[str, str] = {}
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._buffer = bytearray()
        self._sha256 = hashlib.sha256()
        self._closed = False
        self.size = 0
        self.placed = False
        self.relative: str | None = None

    @property
    def checksum(self) -> str:
        return self._sha256.hexdigest()

    @property
    def upload_id(self) -> str | None:
        return self._upload_id

    def write(self, data: bytes, /) -> int:
        if self._closed:
            raise ValueError("This upload was already placed or discarded.")
        self._sha256.update(data)
        self.size += len(data)
        view = memoryview(data)
        while view:
            room = self._part_size - len(self._buffer)
            self._buffer += view[:room]
            view = view[room:]
            if len(self._buffer) == self._part_size:
                try:
                    self._send_part()
                except Exception as error:
                    raise _unavailable(error) from error
        return len(data)

    def _send_part(self) -> None:
        if self._upload_id is None:
            started = self._client.create_multipart_upload(
                Bucket=self._backend.bucket, Key=self._key, Metadata=self.metadata
            )
            self._upload_id = started["UploadId"]
        number = len(self._parts) + 1
        # The buffer itself goes out (no copy of the part), then a fresh one is started.
        body, self._buffer = self._buffer, bytearray()
        sent = self._client.upload_part(
            Bucket=self._backend.bucket,
            Key=self._key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=body,
        )
        del body
        self._parts.append({"ETag": sent["ETag"], "PartNumber": number})

    def finish(self) -> None:
        """Nothing to flush: the bytes are durable once `place()` has completed them."""

    def place(self, relative: str) -> None:
        """Make the object visible under `relative`: one PUT for a file smaller than a
        part, else the last part and CompleteMultipartUpload (plus a server-side copy if the
        upload had to start under a staging key). S3's errors are StorageUnavailable."""
        if self._closed:
            raise ValueError("This upload was already placed or discarded.")
        try:
            self._place(relative)
        except Exception as error:
            raise _unavailable(error) from error

    def _place(self, relative: str) -> None:
        bucket = self._backend.bucket
        if self._upload_id is None:
            body, self._buffer = self._buffer, bytearray()
            self._client.put_object(Bucket=bucket, Key=relative, Body=body, Metadata=self.metadata)
        else:
            if self._buffer or not self._parts:
                self._send_part()
            self._client.complete_multipart_upload(
                Bucket=bucket,
                Key=self._key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
            )
            if self._key != relative:
                self._client.copy({"Bucket": bucket, "Key": self._key}, bucket, relative)
                self._client.delete_object(Bucket=bucket, Key=self._key)
        self._closed = self.placed = True
        self.relative = relative

    def discard(self) -> None:
        """Unless placed: abort the multipart upload. A failed abort is logged and left to
        `stray_uploads` (the object never became visible)."""
        if self._closed:
            return
        self._closed = True
        self._buffer = bytearray()
        if self._upload_id is None:
            return
        try:
            self._client.abort_multipart_upload(
                Bucket=self._backend.bucket, Key=self._key, UploadId=self._upload_id
            )
        except Exception:
            log.warning("Aborting multipart upload of %s failed", self._key, exc_info=True)

    def __enter__(self) -> S3Writer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.discard()


class S3Backend(Backend):
    """Stored files as objects named by their storage paths in `bucket`."""

    kind = "s3"

    def __init__(
        self, client: Any, bucket: str, part_size: int = 8 * 1024 * 1024, presign_seconds: int = 300
    ) -> None:
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"S3 parts are at least {MIN_PART_SIZE} bytes, not {part_size}.")
        if not 0 <= presign_seconds <= MAX_PRESIGN_SECONDS:
            raise ValueError(
                f"Presigned URLs last 1 to {MAX_PRESIGN_SECONDS} seconds (0: none, the app "
                "streams the bytes)."
            )
        self.client = client
        self.bucket = bucket
        self.part_size = part_size
        self.presign_seconds = presign_seconds

    def writer(self, relative: str | None = None) -> S3Writer:
        return S3Writer(self, relative)

    def _get(self, relative: str, **extra: Any) -> Any:
        """GetObject; FileNotFoundError when missing, None when a Range starts past the
        end, StorageUnavailable when the bucket cannot be read."""
        try:
            return self.client.get_object(Bucket=self.bucket, Key=relative, **extra)
        except _client_error() as error:
            if _code(error) in MISSING:
                raise FileNotFoundError(relative) from error
            if "Range" in extra and _code(error) == "InvalidRange":
                return None
            raise StorageUnavailable(error, reading=True) from error
        except _read_failures() as error:
            raise StorageUnavailable(error, reading=True) from error

    def open(self, relative: str) -> Readable:
        found = self._get(relative)
        return LimitedReader(_Body(found["Body"]), found["ContentLength"])

    def open_range(self, relative: str, start: int, length: int) -> Readable:
        if start < 0 or length < 0:
            raise ValueError(f"A range starts and lasts at least 0 bytes, not {start}+{length}.")
        if length == 0:
            self.size(relative)  # a missing object is still an error
            return LimitedReader(None, 0)
        found = self._get(relative, Range=f"bytes={start}-{start + length - 1}")
        if found is None:  # starts at or past the end
            return LimitedReader(None, 0)
        return LimitedReader(_Body(found["Body"]), found["ContentLength"])

    def _head(self, relative: str) -> dict[str, Any]:
        try:
            return self.client.head_object(Bucket=self.bucket, Key=relative)
        except _client_error() as error:
            if _code(error) in MISSING:
                raise FileNotFoundError(relative) from error
            raise StorageUnavailable(error, reading=True) from error
        except _read_failures() as error:
            raise StorageUnavailable(error, reading=True) from error

    def size(self, relative: str) -> int:
        return int(self._head(relative)["ContentLength"])

    def recorded_checksum(self, relative: str) -> str | None:
        head = self._head(relative)
        return head.get("Metadata", {}).get(CHECKSUM_KEY)

    def exists(self, relative: str) -> bool:
        try:
            self._head(relative)
        except FileNotFoundError:
            return False
        return True

    def remove(self, relatives: Iterable[str]) -> None:
        keys = [{"Key": key} for key in relatives]
        for at in range(0, len(keys), DELETE_BATCH):
            batch = keys[at : at + DELETE_BATCH]
            try:
                done = self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
                )
            except Exception:
                log.exception("Could not remove %d stored objects", len(batch))
                continue
            for error in done.get("Errors", []):
                log.error("Could not remove stored object %s: %s", error["Key"], error["Code"])

    def _keys(self, prefix: str = "") -> Iterator[dict[str, Any]]:
        yield from self._listed("list_objects_v2", "Contents", Prefix=prefix)

    def _listed(self, operation: str, field: str, **params: Any) -> Iterator[dict[str, Any]]:
        """The items of a listing, page by page; StorageUnavailable when the bucket
        cannot be listed (check, backup and restore list it: they say so in one line)."""
        pages = self.client.get_paginator(operation).paginate(Bucket=self.bucket, **params)
        try:
            for page in pages:
                yield from page.get(field, [])
        except _read_failures() as error:
            raise StorageUnavailable(error, reading=True) from error

    def _placed(self) -> Iterator[dict[str, Any]]:
        """The objects of placed files: not staging objects, not lost+found."""
        for found in self._keys():
            if not found["Key"].startswith(_NOT_STORED):
                yield found

    def stored_paths(self) -> set[str]:
        return {o["Key"] for o in self._placed()}

    def inventory(self) -> dict[str, StoredEntry]:
        return {
            o["Key"]: StoredEntry(int(o["Size"]), o["LastModified"].timestamp())
            for o in self._placed()
        }

    def move_aside(self, relative: str, folder: str) -> str:
        """A server-side copy under lost+found/, then the original deleted."""
        target = candidate = f"{LOST_FOUND}/{folder}/{relative}"
        n = 0
        while self.exists(candidate):
            n += 1
            candidate = f"{target}.{n}"
        try:
            self.client.copy({"Bucket": self.bucket, "Key": relative}, self.bucket, candidate)
        except _client_error() as error:
            if _code(error) in MISSING:
                raise FileNotFoundError(relative) from error
            raise
        self.client.delete_object(Bucket=self.bucket, Key=relative)
        return candidate

    def presigned_url(
        self,
        relative: str,
        disposition: str | None = None,
        content_type: str | None = None,
        expires_s: int | None = None,
    ) -> str | None:
        """None when presign_seconds is 0 and no `expires_s` is given: downloads are then
        streamed through the app."""
        if not (expires_s or self.presign_seconds):
            return None
        params = {"Bucket": self.bucket, "Key": relative}
        if disposition:
            params["ResponseContentDisposition"] = disposition
        if content_type:
            params["ResponseContentType"] = content_type
        try:  # no request is made: only signing fails (no credentials found)
            return str(
                self.client.generate_presigned_url(
                    "get_object", Params=params, ExpiresIn=expires_s or self.presign_seconds
                )
            )
        except _read_failures() as error:
            raise StorageUnavailable(error, reading=True) from error

    def stray_uploads(self, older_than_s: float | None = None) -> list[Stray]:
        """Multipart uploads, and staging objects under .tmp/, started at least
        `older_than_s` ago (default DEFAULT_STRAY_AGE_S: S3 cannot tell a live upload)."""
        age = DEFAULT_STRAY_AGE_S if older_than_s is None else older_than_s
        cutoff = time.time() - age
        found = []
        for upload in self._listed("list_multipart_uploads", "Uploads"):
            started = upload["Initiated"].timestamp()
            if started <= cutoff:
                found.append(Stray(upload["Key"], started, upload["UploadId"]))
        for staged in self._keys(f"{TMP}/"):
            started = staged["LastModified"].timestamp()
            if started <= cutoff:
                found.append(Stray(staged["Key"], started))
        return sorted(found, key=lambda s: s.started)

    def remove_strays(self, strays: Iterable[Stray]) -> int:
        removed = 0
        for stray in strays:
            if stray.upload_id is None:
                if not stray.key.startswith(f"{TMP}/"):
                    raise ValueError(f"{stray.key} is not a staging object.")
                self.client.delete_object(Bucket=self.bucket, Key=stray.key)
            else:
                try:
                    self.client.abort_multipart_upload(
                        Bucket=self.bucket, Key=stray.key, UploadId=stray.upload_id
                    )
                except _client_error() as error:
                    if _code(error) != "NoSuchUpload":  # completed or aborted meanwhile
                        raise
                    continue
            removed += 1
        return removed
