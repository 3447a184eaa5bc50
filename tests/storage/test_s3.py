"""The S3 backend's own behaviour against a real SeaweedFS: multipart streaming in constant
memory, nothing visible before place(), aborts, strays, presigned URLs."""

from __future__ import annotations

import hashlib
import os
import time
import tracemalloc

import httpx
import pytest

from arcsec_flask.storage import MIN_PART_SIZE, backend_from_config, new_relative_path
from arcsec_flask.storage.s3 import S3Backend

DATASET = "d5b0f6a4-0000-4000-8000-000000000000"
MiB = 1024 * 1024


@pytest.fixture
def s3(s3_bucket) -> S3Backend:
    backend = backend_from_config({**s3_bucket.settings, "S3_PART_SIZE": MIN_PART_SIZE})
    assert isinstance(backend, S3Backend)
    return backend


def multipart_uploads(backend: S3Backend) -> list[dict]:
    return backend.client.list_multipart_uploads(Bucket=backend.bucket).get("Uploads", [])


def test_50_mb_stream_through_in_constant_memory(s3):
    chunk = os.urandom(MiB)  # as werkzeug's parser hands them over, but larger
    expected = hashlib.sha256()
    relative = new_relative_path(DATASET)
    tracemalloc.start()
    try:
        with s3.writer(relative) as writer:
            for _ in range(50):
                writer.write(chunk)
                expected.update(chunk)
            _current, peak = tracemalloc.get_traced_memory()
            # A multipart upload under the final key, invisible until completed.
            assert [u["Key"] for u in multipart_uploads(s3)] == [relative]
            assert not s3.exists(relative) and s3.stored_paths() == set()
            writer.place(relative)
    finally:
        tracemalloc.stop()
    # One 5 MiB part buffered, one being sent (botocore's copies included): far below 50 MB.
    assert peak < 4 * MIN_PART_SIZE, f"peak {peak / MiB:.1f} MiB"
    assert writer.checksum == expected.hexdigest() and writer.size == 50 * MiB
    assert multipart_uploads(s3) == [] and s3.size(relative) == 50 * MiB
    stored = hashlib.sha256()
    with s3.open(relative) as reader:
        while block := reader.read(MiB):
            stored.update(block)
    assert stored.hexdigest() == expected.hexdigest()


def test_a_small_file_is_one_put_and_never_a_multipart_upload(s3):
    relative = new_relative_path(DATASET)
    writer = s3.writer(relative)
    writer.write(b"x" * (MIN_PART_SIZE - 1))
    assert writer.upload_id is None and multipart_uploads(s3) == []
    writer.place(relative)
    assert s3.size(relative) == MIN_PART_SIZE - 1


def test_discard_aborts_the_multipart_upload(s3):
    writer = s3.writer(new_relative_path(DATASET))
    writer.write(os.urandom(MIN_PART_SIZE + 1))
    assert writer.upload_id is not None and len(multipart_uploads(s3)) == 1
    writer.discard()
    assert multipart_uploads(s3) == [] and s3.stored_paths() == set()
    with pytest.raises(ValueError, match="already placed or discarded"):
        writer.write(b"more")


def test_a_placed_writer_refuses_more(s3):
    writer = s3.writer()
    writer.write(b"frame")
    writer.place(new_relative_path(DATASET))
    for call in (lambda: writer.write(b"x"), lambda: writer.place(new_relative_path(DATASET))):
        with pytest.raises(ValueError, match="already placed"):
            call()
    writer.discard()  # placed: kept
    assert len(s3.stored_paths()) == 1


def test_strays_are_told_by_age_and_aborted(s3):
    abandoned = s3.writer(new_relative_path(DATASET))
    abandoned.write(os.urandom(MIN_PART_SIZE))  # a worker killed here
    time.sleep(2.5)  # S3 tells the start to the second: the two starts a clear gap apart
    started = time.monotonic()
    running = s3.writer(new_relative_path(DATASET))
    running.write(os.urandom(MIN_PART_SIZE))
    # Older than the running upload however long its part took to send (a loaded machine),
    # plus the second S3 rounds to; younger than the abandoned one, 2.5 s before it.
    strays = s3.stray_uploads(older_than_s=time.monotonic() - started + 1.0)
    assert [s.upload_id for s in strays] == [abandoned.upload_id]
    assert s3.stray_uploads() == []  # the default age is a day
    assert s3.remove_strays(strays) == 1
    s3.remove_strays(strays)  # aborted already: not an error
    assert [u["UploadId"] for u in multipart_uploads(s3)] == [running.upload_id]
    running.discard()


def test_a_staging_object_left_by_a_crash_is_a_stray(s3):
    # A crash between completing under the staging key and the copy to the final key.
    s3.client.put_object(Bucket=s3.bucket, Key=".tmp/upload-crashed", Body=b"half-filed")
    time.sleep(1.1)
    assert s3.stored_paths() == set()
    strays = s3.stray_uploads(older_than_s=1)
    assert [(s.key, s.upload_id) for s in strays] == [(".tmp/upload-crashed", None)]
    assert s3.remove_strays(strays) == 1 and s3.stray_uploads(older_than_s=0) == []


def test_a_presigned_url_serves_the_bytes_with_their_name(s3):
    payload = os.urandom(100_000)
    relative = new_relative_path(DATASET)
    with s3.writer() as writer:
        writer.write(payload)
        writer.place(relative)
    disposition = "attachment; filename=\"m31.fits\"; filename*=UTF-8''m31.fits"
    url = s3.presigned_url(relative, disposition, "application/fits")
    assert url is not None and s3.bucket in url
    answer = httpx.get(url)
    assert answer.status_code == 200 and answer.content == payload
    assert answer.headers["content-disposition"] == disposition
    assert answer.headers["content-type"] == "application/fits"
    part = httpx.get(url, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == payload[10:20]
    # Signed for one object: another key with the same signature is refused.
    other = url.replace(relative.rsplit("/", 1)[1], "0" * 32)
    assert httpx.get(other).status_code == 403


def test_a_presigned_url_expires(s3):
    relative = new_relative_path(DATASET)
    with s3.writer() as writer:
        writer.write(b"frame")
        writer.place(relative)
    # X-Amz-Date has whole seconds: a URL signed at T.999 for 1 s is stale at T+1.0, a few
    # ms later (seen in CI). 3 s leaves the first fetch 2 s of margin.
    url = s3.presigned_url(relative, expires_s=3)
    assert url is not None and httpx.get(url).status_code == 200
    time.sleep(4.1)
    assert httpx.get(url).status_code == 403


def test_bad_backend_settings_are_refused(s3):
    with pytest.raises(ValueError, match="at least"):
        S3Backend(s3.client, s3.bucket, part_size=MIN_PART_SIZE - 1)
    with pytest.raises(ValueError, match="1 to"):
        S3Backend(s3.client, s3.bucket, presign_seconds=8 * 24 * 3600)


def test_a_part_that_fails_to_send_fails_the_upload_and_leaves_nothing(s3):
    """A failed part (here the multipart upload aborted behind the writer's back, as a
    bucket lifecycle rule would) fails the upload, which then leaves nothing."""
    relative = new_relative_path(DATASET)
    writer = s3.writer(relative)
    writer.write(os.urandom(MIN_PART_SIZE))  # part 1 sent
    s3.client.abort_multipart_upload(Bucket=s3.bucket, Key=relative, UploadId=writer.upload_id)
    with pytest.raises(Exception, match=r"NoSuchUpload|does not exist"):
        for _ in range(3):  # part 2 is refused
            writer.write(os.urandom(MIN_PART_SIZE))
        writer.place(relative)
    writer.discard()
    assert multipart_uploads(s3) == [] and s3.stored_paths() == set() and not s3.exists(relative)
