"""The S3 fixtures (a real SeaweedFS, a bucket per test) for `check` over an S3 store."""

from tests.support.s3 import s3_bucket, seaweedfs

__all__ = ["s3_bucket", "seaweedfs"]
