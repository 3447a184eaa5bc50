"""An S3 read that fails mid-stream (docs/API.md, downloads; web/downloads.py): a real
gunicorn streams an object of a private SeaweedFS (presigned redirects off), and the
SeaweedFS is killed while the client is part-way through the body. The client sees the
200 with the object's Content-Length and a body cut short of it, every byte it got being
the object's own: never a 200 whose bytes look complete but are not; and the worker
answers the next download with a 503 saying why, before any byte."""

from __future__ import annotations

import hashlib
import signal

import httpx
import numpy as np
import pytest

from arcsec_flask.storage import MIN_PART_SIZE
from tests.support.s3 import start_seaweedfs
from tests.support.servers import start_gunicorn

HEADER = "X-Arcsecond-API-Authorization"
MiB = 1024 * 1024
SIZE = 96 * MiB  # far more than the loopback sockets between the three processes hold


@pytest.mark.slow
def test_a_bucket_lost_mid_download_cuts_the_body_short_never_a_wrong_whole(tmp_path):
    try:
        weed = start_seaweedfs(tmp_path / "weed")
    except (FileNotFoundError, RuntimeError) as error:
        pytest.skip(f"SeaweedFS (S3) cannot start: {error}")
    server = None
    try:
        weed.client().create_bucket(Bucket="frames")
        env = {
            **weed.env,
            "ARCSEC_STORAGE": "s3",
            "ARCSEC_S3_ENDPOINT_URL": weed.endpoint,
            "ARCSEC_S3_BUCKET": "frames",
            "ARCSEC_S3_PART_SIZE": str(MIN_PART_SIZE),
            "ARCSEC_S3_PRESIGN_SECONDS": "0",
        }
        server = start_gunicorn(tmp_path / "live", workers=1, extra_env=env)
        keys = server.new_user("obs")
        api = {HEADER: f"Key {keys['api_key']}"}
        dataset = httpx.post(server.url + "datasets/", headers=api, json={"name": "N"}).json()
        body = np.random.default_rng(5).bytes(SIZE)
        made = httpx.post(
            server.url + "datafiles/",
            headers={HEADER: f"Key {keys['upload_key']}"},
            data={"dataset": dataset["uuid"]},
            files={"file": ("big.bin", body)},
            timeout=300,
        )
        assert made.status_code == 201, made.text
        url = f"{server.url}datafiles/{made.json()['id']}/file/"

        got = bytearray()
        with httpx.stream("GET", url, headers=api, timeout=60) as response:
            assert response.status_code == 200
            assert int(response.headers["Content-Length"]) == SIZE
            pieces = response.iter_raw(MiB)
            got += next(pieces)
            weed.process.send_signal(signal.SIGKILL)  # the bucket gone mid-stream
            weed.process.wait(timeout=30)
            with pytest.raises(httpx.RemoteProtocolError, match=r"incomplete|without sending"):
                for piece in pieces:
                    got += piece
        assert 0 < len(got) < SIZE
        assert bytes(got) == body[: len(got)]  # what came is the object's, in order

        # The worker is fine: the next download is a 503 saying why, before any byte.
        after = httpx.get(url, headers=api, timeout=60)
        assert after.status_code == 503
        assert "cannot be reached" in after.json()["detail"]
    finally:
        if server is not None:
            server.stop()
        weed.stop()
    assert hashlib.sha256(body).hexdigest() == made.json()["checksum"]
