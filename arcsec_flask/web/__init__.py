"""HTTP plumbing shared by the API and the pages: the per-request database connection,
who is calling (the access table), the one error shape, streamed multipart uploads."""
