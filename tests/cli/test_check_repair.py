"""`check --repair` at an archive's size: the derived recompute goes in batches, each its
own write transaction, so an upload beside a long repair is filed while the repair runs
(not refused, not held until it ends); a repair killed mid-way and run again ends clean,
with the same night logs and observations as one left to finish."""

from __future__ import annotations

import io
import json
import signal
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from arcsec_flask.headers import read_header
from arcsec_flask.repo import datafiles
from arcsec_flask.repo.integrity import CHUNK, derived_drift
from arcsec_flask.repo.sqlite import connect, transaction

from .helpers import run, small_frame, start

ROWS = 3000
TARGETS = ("M31", "M42", "NGC 7000")


@pytest.fixture
def archive(app, client, db, alice, tmp_path) -> dict:
    """ROWS files of a telescope with a site, over 100 nights (night logs, observations),
    seeded as a bulk load; then every night log deleted, so each file's links are wrong."""
    site = client.post(
        "/observingsites/", json={"name": "OHP", "time_zone": "Europe/Paris"}, headers=alice.api
    ).json
    scope = client.post(
        "/telescopes/", json={"name": "T", "observing_site": site["uuid"]}, headers=alice.api
    ).json
    made = client.post(
        "/datasets/", json={"name": "Survey", "telescope": scope["uuid"]}, headers=alice.api
    ).json
    dataset = dict(
        db.execute("SELECT id, uuid FROM datasets WHERE uuid = ?", (made["uuid"],)).fetchone()
    )
    header = read_header(small_frame(tmp_path / "h.fits", 1), "h.fits")
    first = datetime(2024, 1, 1, 21, 0, tzinfo=UTC)

    def files():
        for i in range(ROWS):
            night, frame = divmod(i, ROWS // 100)
            info = replace(
                header,
                date_obs=first + timedelta(days=night, minutes=frame),
                target_name=TARGETS[frame % len(TARGETS)],
            )
            stored = datafiles.StoredFile(f"f{i:05d}.fits", f"{made['uuid']}/f{i:05d}", 1, "0" * 64)
            yield stored, info, {}

    with transaction(db):
        datafiles.create_many(db, alice.account["owner_id"], dataset, files())
    wanted = derived_shape(db)
    assert len({n for n, _ in wanted.values()}) == 100
    db.execute("DELETE FROM night_logs")  # their observations go with them (cascade)
    assert (
        db.execute("SELECT COUNT(*) FROM datafiles WHERE night_log_id IS NULL").fetchone()[0]
        == ROWS
    )
    return {"dataset": made, "wanted": wanted}


def derived_shape(db) -> dict[str, tuple]:
    """Each file's night (date) and observation (target), whatever the groups' ids."""
    query = (
        "SELECT f.name, n.date, o.target_name FROM datafiles f"
        " LEFT JOIN night_logs n ON n.id = f.night_log_id"
        " LEFT JOIN observations o ON o.id = f.observation_id"
    )
    return {r[0]: (r[1], r[2]) for r in db.execute(query)}


def relinked(db) -> int:
    return db.execute("SELECT COUNT(*) FROM datafiles WHERE night_log_id IS NOT NULL").fetchone()[0]


def wait_until(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def upload(client, alice, dataset: dict, path) -> int:
    fields = {
        "dataset": dataset["uuid"],
        "file": FileStorage(io.BytesIO(path.read_bytes()), path.name),
    }
    boundary, body = encode_multipart(fields)
    response = client.post(
        "/datafiles/",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers=alice.upload,
    )
    return response.status_code


def test_an_upload_during_a_long_repair_is_filed_while_it_runs(
    app, client, db, alice, archive, tmp_path
):
    done: dict = {}

    def repair() -> None:
        conn = connect(app.config["DATABASE"])
        try:
            done["drift"] = derived_drift(conn, repair=True, batch=100)
        finally:
            conn.close()
        done["at"] = time.monotonic()

    repairing = threading.Thread(target=repair)
    repairing.start()
    try:
        wait_until(lambda: relinked(db) > 0)  # its first batch is committed
        status = upload(client, alice, archive["dataset"], small_frame(tmp_path / "new.fits", 7))
        uploaded = time.monotonic()
        still_running = repairing.is_alive()
        left = ROWS - relinked(db)
    finally:
        repairing.join()
    assert status == 201
    assert still_running and left > 0, "the upload should have been filed while the repair ran"
    assert uploaded < done["at"]
    assert len(done["drift"]["files"]) == ROWS
    assert derived_drift(db) == {"files": [], "empty": {}}
    shape = derived_shape(db)
    assert {k: v for k, v in shape.items() if k != "new.fits"} == archive["wanted"]
    assert shape["new.fits"][0] is not None  # the upload got its night log as usual


def test_a_repair_killed_mid_way_then_run_again_ends_clean(app, db, archive, tmp_path):
    data_dir = app.config["DATA_DIR"]
    killed = start(
        data_dir, "check", "--repair", "--batch", "5", "--json", log=tmp_path / "killed.log"
    )
    try:
        wait_until(lambda: relinked(db) >= 50 or killed.poll() is not None)
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=30)
    finally:
        if killed.poll() is None:
            killed.kill()
    assert killed.returncode == -signal.SIGKILL, (tmp_path / "killed.log").read_text()
    assert 0 < relinked(db) < ROWS, "it should have been killed part-way"
    again = run(data_dir, "check", "--repair", "--json")
    assert again.returncode == 1, again.stderr  # it repaired (and the rows have no files)
    repaired = json.loads(again.stdout)["repaired"]
    assert 0 < repaired["derived_links"] < ROWS
    after = run(data_dir, "check", "--json")
    findings = json.loads(after.stdout)["findings"]
    assert {k: findings[k]["count"] for k in ("derived_links", "derived_empty", "counts")} == {
        "derived_links": 0,
        "derived_empty": 0,
        "counts": 0,
    }
    assert derived_shape(db) == archive["wanted"]


def _transactions(app, repair: bool, **options) -> tuple[int, dict]:
    """How many write transactions a check or repair of the archive takes, and its drift."""
    conn = connect(app.config["DATABASE"])
    began: list[str] = []
    conn.set_trace_callback(lambda sql: began.append(sql) if sql == "BEGIN IMMEDIATE" else None)
    try:
        drift = derived_drift(conn, repair=repair, pause_s=0, **options)
    finally:
        conn.close()
    return len(began), drift


@pytest.mark.parametrize("repair", [False, True])
def test_a_batch_is_held_for_a_time_and_capped_in_files(app, db, archive, repair):
    """A transaction takes chunks of CHUNK files until it has held the lock HOLD_S or has
    `batch` files: a fast store goes in few transactions (few 0.12 s pauses), and an upload
    beside it never waits for more than one. Every way gives the same drift."""
    pruning = 1 if repair else 0  # a repair prunes in one last transaction
    # A repair reads the ids as it goes: after a full last batch, one more finds the end.
    end = 1 if repair else 0
    whole, drift = _transactions(app, repair, batch=10 * ROWS, hold_s=float("inf"))
    assert whole == 1 + pruning
    assert len(drift["files"]) == ROWS
    if repair:
        db.execute("DELETE FROM night_logs")  # wrong again, for the next ways
    chunked, again = _transactions(app, repair, batch=10 * ROWS, hold_s=0)
    assert ROWS % CHUNK == 0 and ROWS % 100 == 0
    assert chunked == ROWS // CHUNK + end + pruning  # one chunk each: the lock held too long
    assert again == drift
    if repair:
        db.execute("DELETE FROM night_logs")
    capped, third = _transactions(app, repair, batch=100, hold_s=float("inf"))
    assert capped == ROWS // 100 + end + pruning
    assert third == drift
    if repair:
        assert derived_shape(db) == archive["wanted"]
