"""`arcsec-flask check` over an S3 store (a real SeaweedFS): the same findings and repairs
through the Backend interface, lost+found as a key prefix of the bucket."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from arcsec_flask import create_app
from arcsec_flask.storage import LOST_FOUND, backend_from_config
from tests.support.servers import free_port

from .helpers import small_frame

TOKEN = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def s3_app(app, db, alice, s3_bucket, tmp_path):
    """Three frames filed, then their stored files put in a bucket under the same keys (a
    store moved to S3), and the app of that store with ARCSEC_STORAGE=s3."""
    night = tmp_path / "night"
    for i in range(3):
        small_frame(night / f"s{i}.fits", i)
    done = app.test_cli_runner().invoke(
        args=["ingest", str(night), "--dataset", "Night", "--user", "alice"]
    )
    assert done.exit_code == 0, done.output
    rows = {r[0]: r[1] for r in db.execute("SELECT name, storage_path FROM datafiles")}
    for relative in rows.values():
        body = (Path(app.config["FILES_DIR"]) / relative).read_bytes()
        s3_bucket.client.put_object(Bucket=s3_bucket.name, Key=relative, Body=body)
    on_s3 = create_app({"DATA_DIR": app.config["DATA_DIR"], "TESTING": True, **s3_bucket.settings})
    on_s3.rows = rows
    return on_s3


def check(app, *args: str) -> tuple[int, dict]:
    result = app.test_cli_runner().invoke(args=["check", "--json", *args])
    return result.exit_code, json.loads(result.stdout)


def counts(report: dict) -> dict[str, int]:
    return {kind: found["count"] for kind, found in report["findings"].items() if found["count"]}


def test_a_clean_bucket_reports_nothing(s3_app):
    status, report = check(s3_app, "--verify-checksums")
    assert (status, report["storage"], counts(report)) == (0, "s3", {})
    assert report["stored_files"] == 3


def test_damage_in_the_bucket_is_found_and_repaired(s3_app, s3_bucket):
    client, bucket, rows = s3_bucket.client, s3_bucket.name, s3_app.rows
    client.delete_object(Bucket=bucket, Key=rows["s0.fits"])  # a row without its object
    short = client.get_object(Bucket=bucket, Key=rows["s1.fits"])["Body"].read()[:100]
    client.put_object(Bucket=bucket, Key=rows["s1.fits"], Body=short)
    flipped = bytearray(client.get_object(Bucket=bucket, Key=rows["s2.fits"])["Body"].read())
    flipped[-1] ^= 0xFF
    client.put_object(Bucket=bucket, Key=rows["s2.fits"], Body=bytes(flipped))
    orphan = f"{rows['s2.fits'].split('/')[0]}/{TOKEN}"
    client.put_object(Bucket=bucket, Key=orphan, Body=b"never committed")
    started = client.create_multipart_upload(Bucket=bucket, Key=f"{orphan}-cut")  # a crash's
    status, report = check(s3_app, "--verify-checksums", "--grace-hours", "0", "--stale-hours", "0")
    assert status == 1
    assert counts(report) == {
        "missing": 1, "size_mismatch": 1, "checksum_mismatch": 1, "unreferenced": 1,
        "stale_parts": 1,
    }  # fmt: skip
    (stale,) = report["findings"]["stale_parts"]["items"]
    assert stale["upload_id"] == started["UploadId"]
    assert report["findings"]["checksum_mismatch"]["items"][0]["actual"] == (
        hashlib.sha256(bytes(flipped)).hexdigest()
    )

    status, repaired = check(s3_app, "--repair", "--grace-hours", "0", "--stale-hours", "0")
    assert (repaired["repaired"]["unreferenced"], repaired["repaired"]["stale_parts"]) == (1, 1)
    (moved,) = repaired["findings"]["unreferenced"]["items"]
    assert moved["moved_to"] == f"{LOST_FOUND}/{repaired['lost_found']}/{orphan}"
    kept = client.get_object(Bucket=bucket, Key=moved["moved_to"])["Body"].read()
    assert kept == b"never committed"
    assert backend_from_config(s3_app.config).exists(orphan) is False
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    status, again = check(s3_app, "--grace-hours", "0", "--stale-hours", "0")
    assert counts(again) == {"missing": 1, "size_mismatch": 1}  # a person's to settle


@pytest.mark.parametrize("args", [[], ["--json"], ["--repair"], ["--verify-checksums"]])
def test_an_unreachable_bucket_is_one_line_not_a_traceback(s3_app, s3_bucket, args):
    """A closed port: one line on stderr naming the bucket and the cause, exit 1, and no
    report at all (none that could pass for a clean or a partial check)."""
    closed = f"http://127.0.0.1:{free_port()}"
    settings = {"DATA_DIR": s3_app.config["DATA_DIR"], "TESTING": True, **s3_bucket.settings}
    away = create_app({**settings, "S3_ENDPOINT_URL": closed})
    result = away.test_cli_runner().invoke(args=["check", *args])
    assert result.exit_code == 1 and result.stdout == "", result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"Error: The file storage (S3 bucket '{s3_bucket.name}') cannot be")
    assert f'Could not connect to the endpoint URL: "{closed}/' in line
    assert line.endswith("The check could not finish: run it again once the bucket answers.")
