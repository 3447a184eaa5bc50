"""`arcsec-flask backup`, `backup --verify` and `restore`, through the app's CLI."""

from __future__ import annotations

import hashlib
import io
import json

from arcsec_flask import create_app


def test_backup_verify_restore(app, client, alice, tmp_path):
    dataset = client.post("/datasets/", json={"name": "d"}, headers=alice.api).json
    content = b"frame bytes" * 100
    data = {"dataset": dataset["uuid"], "file": (io.BytesIO(content), "f.fits.txt")}
    stored = client.post("/datafiles/", data=data, headers=alice.upload).json
    runner = app.test_cli_runner()
    dest = tmp_path / "backup-1"
    made = runner.invoke(args=["backup", str(dest), "--with-files"])
    assert made.exit_code == 0, made.output
    assert json.loads(made.output)["ok"] is True
    checked = runner.invoke(args=["backup", str(dest), "--verify"])
    assert checked.exit_code == 0 and json.loads(checked.output)["ok"] is True
    again = runner.invoke(args=["backup", str(dest)])
    assert again.exit_code != 0 and "Error" in again.output  # DEST exists: nothing changed

    restored_app = create_app({"DATA_DIR": str(tmp_path / "restored"), "TESTING": True})
    # create_app made an empty database: restore wants a truly empty folder.
    empty = tmp_path / "fresh"
    restored_app.config.update(
        DATA_DIR=str(empty), DATABASE=str(empty / "arcsec.sqlite3"), FILES_DIR=str(empty / "files")
    )
    back = restored_app.test_cli_runner().invoke(args=["restore", str(dest)])
    assert back.exit_code == 0, back.output
    served = create_app({"DATA_DIR": str(empty), "TESTING": True}).test_client()
    with served.get(f"/datafiles/{stored['id']}/file/", headers=alice.api) as response:
        assert hashlib.sha256(response.data).hexdigest() == stored["checksum"]
    refused = restored_app.test_cli_runner().invoke(args=["restore", str(dest)])
    assert refused.exit_code != 0  # not empty any more
