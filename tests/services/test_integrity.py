"""repo/integrity.derived_drift: derived links recomputed, reported, rolled back unless repair."""

from __future__ import annotations

from arcsec_flask.repo.integrity import derived_drift
from tests.support.factories import write_fits


def test_lost_night_log_and_empty_group_found_then_repaired(app, client, db, alice, tmp_path):
    site = client.post(
        "/observingsites/", json={"name": "OHP", "time_zone": "Europe/Paris"}, headers=alice.api
    ).json
    scope = client.post(
        "/telescopes/", json={"name": "T", "observing_site": site["uuid"]}, headers=alice.api
    ).json
    folder = tmp_path / "n"
    folder.mkdir()
    for i in range(2):
        write_fits(folder / f"m{i}.fits", {"IMAGETYP": "LIGHT", "OBJECT": "M31",
                                           "DATE-OBS": f"2024-03-01T21:0{i}:00"})  # fmt: skip
    args = [
        "ingest",
        str(folder),
        "--dataset",
        "D",
        "--telescope",
        scope["uuid"],
        "--user",
        "alice",
    ]
    assert app.test_cli_runner().invoke(args=args).exit_code == 0
    assert derived_drift(db) == {"files": [], "empty": {}}
    db.execute("DELETE FROM night_logs")  # files' night_log_id becomes NULL
    found = derived_drift(db)
    assert sorted(f["name"] for f in found["files"]) == ["m0.fits", "m1.fits"]
    assert "night log" in found["files"][0]["fields"]
    assert db.execute("SELECT COUNT(*) FROM night_logs").fetchone()[0] == 0  # rolled back
    derived_drift(db, repair=True)
    assert db.execute("SELECT COUNT(*) FROM night_logs").fetchone()[0] == 1
    assert derived_drift(db) == {"files": [], "empty": {}}
