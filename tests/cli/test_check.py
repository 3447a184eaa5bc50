"""`arcsec-flask check`: every kind of damage made for real on a real store (files written by
astropy, filed by `ingest` through the app's CLI), found, and repaired where it can be
without losing data; a clean store reports nothing."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from arcsec_flask.services.store_check import KINDS, REPAIRABLE
from arcsec_flask.storage import LOST_FOUND, StreamingFile

from .helpers import small_frame

TOKEN = "0123456789abcdef0123456789abcdef"


@dataclass
class Store:
    data_dir: Path
    files_dir: Path
    rows: dict[str, dict]  # name -> {"id", "storage_path", "external_path", "night_log_id"}
    originals: Path  # the in-place files' folder


def _rows(db) -> dict[str, dict]:
    query = "SELECT id, name, storage_path, external_path, night_log_id FROM datafiles"
    return {r["name"]: dict(r) for r in db.execute(query)}


@pytest.fixture
def store(app, client, db, alice, tmp_path) -> Store:
    """Four frames copied into the storage folder (one night of a telescope with a site: a
    night log and an observation), three registered in place."""
    site = client.post(
        "/observingsites/", json={"name": "OHP", "time_zone": "Europe/Paris"}, headers=alice.api
    ).json
    scope = client.post(
        "/telescopes/", json={"name": "T", "observing_site": site["uuid"]}, headers=alice.api
    ).json
    copied, originals = tmp_path / "night", tmp_path / "archive"
    for i in range(4):
        small_frame(copied / f"c{i}.fits", i)
    for i in range(3):
        small_frame(originals / f"p{i}.fits", 10 + i, night="2023-01-05")
    runner = app.test_cli_runner()
    for args in (
        [copied, "--dataset", "Night", "--telescope", scope["uuid"]],
        [originals, "--dataset", "Archive", "--in-place"],
    ):
        done = runner.invoke(args=["ingest", *map(str, args), "--user", "alice"])
        assert done.exit_code == 0, done.output
    rows = _rows(db)
    assert len(rows) == 7 and rows["c0.fits"]["night_log_id"] is not None
    return Store(Path(app.config["DATA_DIR"]), Path(app.config["FILES_DIR"]), rows, originals)


def check(app, *args: str) -> tuple[int, dict]:
    result = app.test_cli_runner().invoke(args=["check", "--json", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.stdout)


def counts(report: dict) -> dict[str, int]:
    return {kind: found["count"] for kind, found in report["findings"].items() if found["count"]}


def flip_byte(path: Path, at: int = -10) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_clean_store_reports_nothing(app, store):
    for args in ([], ["--verify-checksums"], ["--repair", "--verify-checksums"]):
        status, report = check(app, *args)
        assert (status, report["problems"], counts(report)) == (0, 0, {}), args
        assert report["rows"] == 7 and report["stored_files"] == 4
        assert report["recent_unreferenced"] == []
    text = app.test_cli_runner().invoke(args=["check"])
    assert text.exit_code == 0 and text.output.splitlines()[-1] == "clean"
    assert f"{KINDS['missing']}: 0" in text.output


@dataclass
class Damage:
    missing: dict
    truncated: dict
    flipped: dict
    stray: Path
    part: Path
    running: StreamingFile
    preview: Path
    relinked: dict
    night_log_ids: set


def damage(app, db, store: Store) -> Damage:
    """One of every kind of damage `check` claims to find."""
    rows, files = store.rows, store.files_dir
    (files / rows["c0.fits"]["storage_path"]).unlink()  # a row without its file
    truncated = files / rows["c1.fits"]["storage_path"]
    with truncated.open("r+b") as handle:
        handle.truncate(100)
    flip_byte(files / rows["c2.fits"]["storage_path"])  # same size, other bytes
    dataset_folder = (files / rows["c3.fits"]["storage_path"]).parent
    stray = dataset_folder / TOKEN  # a file renamed into place whose row never committed
    stray.write_bytes(b"placed, never committed")
    (store.originals / "p0.fits").unlink()  # in place: gone
    with (store.originals / "p1.fits").open("ab") as handle:  # in place: grown
        handle.write(b"\0" * 2880)
    flip_byte(store.originals / "p2.fits")  # in place: changed, same size
    part = files / ".tmp" / "upload-killed.part"  # a killed worker's part: nobody holds it
    part.write_bytes(b"x" * 1000)
    running = StreamingFile(files)  # an upload in progress holds its part
    running.write(b"still coming")
    # A cached preview whose row went (a crash between the row's removal and the preview's).
    preview = store.data_dir / "previews" / dataset_folder.name / f"{'f' * 32}.v1.png"
    preview.parent.mkdir(parents=True, exist_ok=True)
    preview.write_bytes(b"\x89PNG not really")
    # Derived data out of date: a file lost its night log; a night log no file uses.
    db.execute("UPDATE datafiles SET night_log_id = NULL WHERE id = ?", (rows["c3.fits"]["id"],))
    db.execute(
        "INSERT INTO night_logs (uuid, owner_id, telescope_id, date, creation_date)"
        " SELECT 'c0ffee00-0000-4000-8000-000000000000', owner_id, telescope_id, '2020-01-01',"
        " creation_date FROM night_logs LIMIT 1"
    )
    night_log_ids = {r[0] for r in db.execute("SELECT id FROM night_logs")}
    return Damage(
        rows["c0.fits"], rows["c1.fits"], rows["c2.fits"], stray, part, running, preview,
        rows["c3.fits"], night_log_ids,
    )  # fmt: skip


def items(report: dict, kind: str) -> list[dict]:
    return report["findings"][kind]["items"]


def test_every_kind_of_damage_is_found_and_nothing_is_changed(app, db, store):
    hurt = damage(app, db, store)
    before = sorted(p for p in store.data_dir.rglob("*") if p.is_file())
    status, report = check(app, "--verify-checksums", "--grace-hours", "0")
    assert status == 1
    assert counts(report) == {kind: 1 for kind in KINDS if kind != "counts"}
    assert report["problems"] == len(KINDS) - 1
    assert items(report, "missing") == [
        {"id": hurt.missing["id"], "dataset": items(report, "missing")[0]["dataset"],
         "name": "c0.fits", "path": hurt.missing["storage_path"]}
    ]  # fmt: skip
    stray_path = str(hurt.stray.relative_to(store.files_dir))
    assert [(i["path"], i["size"]) for i in items(report, "unreferenced")] == [(stray_path, 23)]
    (short,) = items(report, "size_mismatch")
    assert (short["name"], short["actual"]) == ("c1.fits", 100) and short["expected"] > 100
    (flipped,) = items(report, "checksum_mismatch")
    assert flipped["name"] == "c2.fits"
    assert (
        flipped["actual"]
        == hashlib.sha256((store.files_dir / hurt.flipped["storage_path"]).read_bytes()).hexdigest()
    )
    assert [i["name"] for i in items(report, "in_place_missing")] == ["p0.fits"]
    (grown,) = items(report, "in_place_size_mismatch")
    assert (grown["name"], grown["actual"] - grown["expected"]) == ("p1.fits", 2880)
    assert [i["name"] for i in items(report, "in_place_checksum_mismatch")] == ["p2.fits"]
    # The killed upload's part at once (no age needed), not the running one's.
    assert [i["key"] for i in items(report, "stale_parts")] == [".tmp/upload-killed.part"]
    assert [i["path"] for i in items(report, "orphan_previews")] == [
        str(hurt.preview.relative_to(store.data_dir / "previews"))
    ]
    (relinked,) = items(report, "derived_links")
    assert (relinked["name"], relinked["fields"]) == ("c3.fits", ["night log"])
    assert items(report, "derived_empty") == [{"table": "night_logs", "count": 1}]
    # A check changes nothing: not a file, not a row.
    assert sorted(p for p in store.data_dir.rglob("*") if p.is_file()) == before
    assert _rows(db)["c3.fits"]["night_log_id"] is None
    assert {r[0] for r in db.execute("SELECT id FROM night_logs")} == hurt.night_log_ids
    hurt.running.discard()


def test_checksums_are_compared_only_when_asked(app, db, store):
    flip_byte(store.files_dir / store.rows["c2.fits"]["storage_path"])
    status, report = check(app)
    assert (status, counts(report)) == (0, {})
    status, report = check(app, "--verify-checksums")
    assert (status, counts(report)) == (1, {"checksum_mismatch": 1})


def test_repair_fixes_what_it_can_loses_nothing_and_a_second_repair_finds_nothing(app, db, store):
    hurt = damage(app, db, store)
    stray_bytes = hurt.stray.read_bytes()
    status, report = check(app, "--repair", "--verify-checksums", "--grace-hours", "0")
    assert status == 1  # something was found (and repaired)
    assert report["repaired"] == {
        "unreferenced": 1, "stale_parts": 1, "orphan_previews": 1,
        "derived_links": 1, "derived_empty": 1, "counts": 0,
    }  # fmt: skip
    # The orphan moved aside whole, never deleted.
    day = datetime.now(UTC).date().isoformat()
    relative = hurt.stray.relative_to(store.files_dir)
    aside = store.data_dir / LOST_FOUND / day / relative
    assert not hurt.stray.exists() and aside.read_bytes() == stray_bytes
    assert items(report, "unreferenced")[0]["moved_to"] == str(aside)
    # The dead part and the orphan preview removed; the running upload's part kept.
    assert not hurt.part.exists() and hurt.running.path.exists()
    assert not hurt.preview.exists()
    # Derived links recomputed; the night log no file used is gone.
    rows = _rows(db)
    assert rows["c3.fits"]["night_log_id"] == rows["c2.fits"]["night_log_id"] is not None
    assert db.execute("SELECT COUNT(*) FROM night_logs").fetchone()[0] == 1
    # Rows are never deleted: not the one whose file is gone, not the in-place ones.
    assert set(rows) == set(store.rows)
    assert not (store.originals / "p0.fits").exists()  # reported only, nothing recreated

    status, again = check(app, "--repair", "--verify-checksums", "--grace-hours", "0")
    assert all(again["findings"][kind]["count"] == 0 for kind in REPAIRABLE)
    assert set(again["repaired"].values()) == {0}
    # What only a person can settle is still reported, exactly as before.
    assert counts(again) == {
        "missing": 1, "size_mismatch": 1, "checksum_mismatch": 1, "in_place_missing": 1,
        "in_place_size_mismatch": 1, "in_place_checksum_mismatch": 1,
    }  # fmt: skip
    assert status == 1
    hurt.running.discard()


def test_a_file_being_filed_is_not_moved_within_the_grace_period(app, db, store):
    """An upload's file is in place a moment before its row commits: a fresh file without a
    row is reported apart (not a problem yet) and left where it is."""
    fresh = (store.files_dir / store.rows["c1.fits"]["storage_path"]).parent / TOKEN
    fresh.write_bytes(b"being filed")
    status, report = check(app, "--repair")
    assert (status, counts(report)) == (0, {})
    assert [i["path"] for i in report["recent_unreferenced"]] == [
        str(fresh.relative_to(store.files_dir))
    ]
    assert fresh.exists() and not (store.data_dir / LOST_FOUND).exists()
    text = app.test_cli_runner().invoke(args=["check"])
    assert "maybe being filed; not a problem yet): 1" in text.output


def test_a_hard_link_keeps_its_old_mtime_but_counts_as_new(app, db, store, tmp_path):
    """ingest --link places files whose mtime is the night's: the change time decides."""
    old = small_frame(tmp_path / "old.fits", 99)
    os.utime(old, (0, 0))  # from 1970
    linked = (store.files_dir / store.rows["c1.fits"]["storage_path"]).parent / TOKEN
    os.link(old, linked)
    status, report = check(app, "--repair")
    assert status == 0 and linked.exists()
    assert [i["path"] for i in report["recent_unreferenced"]] == [
        str(linked.relative_to(store.files_dir))
    ]


def test_a_row_committed_after_the_listing_keeps_its_file(app, db, store):
    """The repair asks again, just before moving a file, whether a row refers to it: a
    listing taken before an upload's row committed must not move that upload's file."""
    import time

    from arcsec_flask.services.store_check import Report, _repair_files
    from arcsec_flask.storage import backend_from_config

    filed = store.rows["c1.fits"]["storage_path"]  # its row is committed by now
    stale = Report("file", 7, 4)
    stale.findings["unreferenced"] = [{"path": filed, "size": 1, "age_s": 7200}]
    _repair_files(db, backend_from_config(app.config), stale, [], [], time.time())
    assert stale.repaired["unreferenced"] == 0
    assert (store.files_dir / filed).is_file() and not (store.data_dir / LOST_FOUND).exists()


def test_text_report_lists_every_finding(app, db, store):
    hurt = damage(app, db, store)
    result = app.test_cli_runner().invoke(args=["check", "--grace-hours", "0"])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == "7 rows, 4 stored files (file storage)"
    assert f"{KINDS['missing']}: 1" in lines
    assert any(
        line.startswith("  missing: ") and "name=c0.fits" in line and hurt.missing["storage_path"]
        in line for line in lines
    )  # fmt: skip
    assert f"{KINDS['checksum_mismatch']}: 1" not in lines  # not asked for
    assert lines[-1] == f"{len(KINDS) - 3} problems found"
    hurt.running.discard()


@pytest.mark.parametrize("args", [["--grace-hours", "-1"], ["--stale-hours", "x"], ["--nope"]])
def test_usage_errors_exit_2(app, store, args):
    result = app.test_cli_runner().invoke(args=["check", *args])
    assert result.exit_code == 2


def test_storage_check_still_answers_as_before(app, db, store):
    (store.files_dir / store.rows["c0.fits"]["storage_path"]).unlink()
    result = app.test_cli_runner().invoke(args=["storage", "check"])
    assert result.exit_code == 1
    assert f"missing: {store.rows['c0.fits']['storage_path']}" in result.output


def test_a_lost_found_of_an_earlier_repair_is_never_listed_as_stored(app, db, store):
    stray = (store.files_dir / store.rows["c1.fits"]["storage_path"]).parent / TOKEN
    stray.write_bytes(b"orphan")
    assert check(app, "--repair", "--grace-hours", "0")[1]["repaired"]["unreferenced"] == 1
    # Put back by hand under another token: found again, moved beside the first.
    shutil.copy(next((store.data_dir / LOST_FOUND).rglob(TOKEN)), stray.with_name("f" * 32))
    _status, report = check(app, "--repair", "--grace-hours", "0")
    assert report["repaired"]["unreferenced"] == 1 and report["stored_files"] == 5
    assert len([p for p in (store.data_dir / LOST_FOUND).rglob("*") if p.is_file()]) == 2
    assert check(app, "--grace-hours", "0") == (0, check(app)[1])
    assert check(app)[1]["stored_files"] == 4


@pytest.mark.parametrize("batch", [1, 3, 1000])
def test_a_checks_batches_find_what_one_whole_recomputation_repairs(app, db, store, batch):
    """A check recomputes derived data in rolled-back batches (uploads beside it wait for
    one batch only); whatever the batch size, it finds exactly what the repair, done in
    one transaction over every file, then changes."""
    from arcsec_flask.repo.integrity import derived_drift

    rows = store.rows
    db.execute("DELETE FROM night_logs")  # every copied file loses its night log
    db.execute(
        "INSERT INTO observations (uuid, owner_id, dataset_id, name, target_name, creation_date)"
        " SELECT 'abad1dea-0000-4000-8000-000000000000', owner_id, dataset_id, 'M1', 'M1',"
        " creation_date FROM observations LIMIT 1"
    )
    wrong = db.execute("SELECT max(id) FROM observations").fetchone()[0]
    db.execute(
        "UPDATE datafiles SET observation_id = ? WHERE id = ?", (wrong, rows["p0.fits"]["id"])
    )
    snapshot = list(db.iterdump())
    found = derived_drift(db, batch=batch)
    assert list(db.iterdump()) == snapshot  # nothing changed
    fixed = derived_drift(db, repair=True)
    assert found == fixed and found["empty"] == {"observations": 1}  # the wrong one
    assert sorted(f["name"] for f in found["files"]) == [
        "c0.fits",
        "c1.fits",
        "c2.fits",
        "c3.fits",
        "p0.fits",
    ]
    assert derived_drift(db, batch=batch) == {"files": [], "empty": {}}


def test_what_changes_while_a_check_runs_is_no_finding_and_no_crash(app, db, store):
    """A listing taken a moment ago goes stale under a running server: a file listed as
    missing is there after all, an orphan is removed before the repair moves it, a file
    vanishes while it is hashed, a row is deleted before its finding is described."""
    import time

    from arcsec_flask.repo.integrity import FileRow, file_rows
    from arcsec_flask.services import store_check
    from arcsec_flask.storage import backend_from_config

    backend = backend_from_config(app.config)
    rows = {r.storage_path: r for r in file_rows(db) if not r.external_path}
    present = backend.inventory()
    listed_early = {k: v for k, v in present.items() if k != store.rows["c0.fits"]["storage_path"]}
    # Listed before c0's file was renamed into place: it is there when asked again.
    assert store_check._missing(db, backend, rows, listed_early) == []
    # An orphan removed (by hand, or a second check) before this repair reaches it.
    stale = store_check.Report("file", 7, 4)
    gone = f"{store.rows['c0.fits']['storage_path'].split('/')[0]}/{TOKEN}"
    stale.findings["unreferenced"] = [{"path": gone, "size": 1, "age_s": 7200}]
    store_check._repair_files(db, backend, stale, [], [], time.time())
    assert stale.repaired["unreferenced"] == 0
    # A file that vanishes while hashed: a mismatch whose actual checksum is unknown.
    row = rows[store.rows["c1.fits"]["storage_path"]]
    (store.files_dir / row.storage_path).unlink()
    ghost = FileRow(row.id, row.storage_path, None, row.size, row.checksum)
    bad, _ = store_check._checksums(backend, [ghost], [], None)
    assert [(b["id"], b["actual"]) for b in bad] == [(row.id, None)]
    # A finding about a row deleted meanwhile is dropped (its file went with it).
    assert store_check._described(db, [{"id": 10**9, "path": "x"}]) == []


def test_a_kept_count_out_of_date_is_found_and_recounted(app, db, store):
    """The lists read the counts kept in the parent rows: one edited by SQL (no trigger
    fires for it) is a finding, and --repair recounts it from the files."""
    (dataset_id,) = db.execute(
        "SELECT dataset_id FROM datafiles WHERE id = ?", (store.rows["c0.fits"]["id"],)
    ).fetchone()
    count, size = db.execute(
        "SELECT COUNT(*), SUM(size) FROM datafiles WHERE dataset_id = ?", (dataset_id,)
    ).fetchone()
    night_log = db.execute("SELECT id FROM night_logs ORDER BY id").fetchone()[0]
    (in_log,) = db.execute(
        "SELECT COUNT(*) FROM datafiles WHERE night_log_id = ?", (night_log,)
    ).fetchone()
    kept = "SELECT data_files_count, data_files_size FROM datasets WHERE id = ?"
    assert tuple(db.execute(kept, (dataset_id,)).fetchone()) == (count, size)  # the triggers' work
    db.execute(
        "UPDATE datasets SET data_files_count = 999, data_files_size = 1 WHERE id = ?",
        (dataset_id,),
    )
    db.execute("UPDATE night_logs SET data_files_count = 0 WHERE id = ?", (night_log,))
    status, report = check(app)
    assert status == 1
    assert sorted(
        (i["table"], i["id"], i["column"], i["stored"], i["actual"])
        for i in items(report, "counts")
    ) == [
        ("datasets", dataset_id, "data_files_count", 999, count),
        ("datasets", dataset_id, "data_files_size", 1, size),
        ("night_logs", night_log, "data_files_count", 0, in_log),
    ]
    assert tuple(db.execute(kept, (dataset_id,)).fetchone()) == (999, 1)  # a check changes nothing
    status, report = check(app, "--repair")
    assert report["repaired"]["counts"] == 3
    assert tuple(db.execute(kept, (dataset_id,)).fetchone()) == (count, size)
    assert (
        db.execute("SELECT data_files_count FROM night_logs WHERE id = ?", (night_log,)).fetchone()[
            0
        ]
        == in_log
    )
    status, again = check(app)
    assert (status, again["findings"]["counts"]["count"]) == (0, 0)
