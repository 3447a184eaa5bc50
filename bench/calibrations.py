"""Calibration matching: `GET /datafiles/<id>/calibrations/` on two months of one telescope.

An app on a temporary data folder (Flask's test client, in process: what is measured is the
server's work, not loopback HTTP) holds 60 nights of one telescope, as an observatory
files them: per night 100 lights (2 filters, 2 exposures), 20 biases, 20 darks of each
exposure at one of two temperatures, and 20 flats per filter: 12,000 rows, each with the
JSON of a real header, inserted through `repo.datafiles.create` (the call an upload ends
with) in one transaction. A light in the middle of the two months has about 6,000
candidate calibration frames in its 30-day window, of which the answer holds up to 100 per
kind (the default `limit`).

Measured: the calibrations of 20 lights in turn (best of a few rounds). Baseline, in the
same run: listing as many data files as the answers held, `GET /datafiles/?page_size=N`
(the same JSON per file, from a plain indexed list). Target: matching / listing <= 2: the
rules read the window's candidates, the answer is no more than the list of what it holds.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from arcsec_flask import create_app
from arcsec_flask.headers import HeaderInfo, read_header
from arcsec_flask.repo import accounts, datafiles
from arcsec_flask.repo.sqlite import connect, transaction
from tests.support.factories import light_frame_cards, write_fits

NIGHTS = 60
LIGHTS_PER_NIGHT = 100
CALIBRATIONS_PER_KIND = 20
EXPOSURES = (60.0, 300.0)
FILTERS = ("Ha", "OIII")
TEMPERATURES = (-10.0, -5.0)
LIGHTS_MEASURED = 20
ROUNDS = 3
KEY_HEADER = "X-Arcsecond-API-Authorization"
TARGET_RATIO = 2.0


def headers(folder: Path) -> dict[str, HeaderInfo]:
    """A ~30-card header per frame type, as an upload reads it."""
    found = {}
    for kind in ("LIGHT", "BIAS", "DARK", "FLAT"):
        cards = [(k, *rest) for k, *rest in light_frame_cards() if k != "IMAGETYP"]
        path = write_fits(folder / f"{kind}.fits", [("IMAGETYP", kind), *cards])
        found[kind] = read_header(path, path.name)
    return found


def frames(night: int) -> list[tuple[str, str, dict]]:
    """(name, kind, values) of one night's frames."""
    evening = datetime(2024, 3, 1, 19, 0, tzinfo=UTC) + timedelta(days=night)
    made = []
    for i in range(LIGHTS_PER_NIGHT):
        exposure, band = EXPOSURES[i % 2], FILTERS[(i // 2) % 2]
        values = {"exposure_time": exposure, "filter_name": band, "ccd_temperature": -10.1}
        made.append((f"n{night}_light_{i}.fits", "LIGHT", {**values, "minutes": 2 + 5 * i}))
    for i in range(CALIBRATIONS_PER_KIND):
        made.append((f"n{night}_bias_{i}.fits", "BIAS", {"exposure_time": 0.0, "minutes": -60 + i}))
        for exposure in EXPOSURES:
            temperature = TEMPERATURES[night % 2]
            values = {"exposure_time": exposure, "ccd_temperature": temperature}
            made.append(
                (f"n{night}_dark_{exposure:g}_{i}.fits", "DARK", {**values, "minutes": -30 + i})
            )
        for band in FILTERS:
            values = {"exposure_time": 2.0, "filter_name": band, "minutes": 720 + i}
            made.append((f"n{night}_flat_{band}_{i}.fits", "FLAT", values))
    return [(name, kind, {**v, "date_obs": evening}) for name, kind, v in made]


def fill(database: str, owner_id: int, dataset: dict, infos: dict[str, HeaderInfo]) -> list[int]:
    """Insert every night's frames; the ids of the lights of the middle night."""
    conn = connect(database)
    middle = []
    try:
        with transaction(conn):
            for night in range(NIGHTS):
                for name, kind, values in frames(night):
                    minutes = values.pop("minutes")
                    values["date_obs"] = values["date_obs"] + timedelta(minutes=minutes)
                    info = replace(infos[kind], **values)
                    stored = datafiles.StoredFile(name, f"{dataset['uuid']}/{name}", 1, "0" * 64)
                    row = datafiles.create(conn, owner_id, dataset, stored, info, {})
                    if night == NIGHTS // 2 and kind == "LIGHT":
                        middle.append(row["id"])
        return middle
    finally:
        conn.close()


def best(runs: list[float]) -> float:
    return min(runs)


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="bench-calibrations-"))
    try:
        app = create_app({"DATA_DIR": str(folder / "data")})
        client = app.test_client()
        conn = connect(app.config["DATABASE"])
        user = accounts.create(conn, "bench", "bench@example.org", None)
        conn.close()
        api = {KEY_HEADER: f"Key {user['api_key']}"}
        scope = client.post("/telescopes/", json={"name": "RC8"}, headers=api).json
        dataset = client.post(
            "/datasets/", json={"name": "RC8", "telescope": scope["uuid"]}, headers=api
        ).json
        owner = connect(app.config["DATABASE"])
        found = owner.execute(
            "SELECT id, owner_id FROM datasets WHERE uuid = ?", (dataset["uuid"],)
        )
        dataset_id, owner_id = found.fetchone()
        owner.close()
        start = time.perf_counter()
        lights = fill(
            app.config["DATABASE"],
            owner_id,
            {"id": dataset_id, "uuid": dataset["uuid"]},
            headers(folder),
        )[:LIGHTS_MEASURED]
        filled = time.perf_counter() - start

        held = 0
        for light in lights:
            answer = client.get(f"/datafiles/{light}/calibrations/", headers=api).json
            held += sum(len(answer[k]) for k in ("bias", "dark", "flat", "dark_flat"))
        per_answer = held // len(lights)
        assert per_answer > 100, per_answer
        match_runs, list_runs = [], []
        for _ in range(ROUNDS):  # alternate, so that both see the same machine
            begin = time.perf_counter()
            for light in lights:
                response = client.get(f"/datafiles/{light}/calibrations/", headers=api)
                assert response.status_code == 200
            match_runs.append(time.perf_counter() - begin)
            begin = time.perf_counter()
            for _light in lights:
                response = client.get(f"/datafiles/?page_size={per_answer}", headers=api)
                assert len(response.json["results"]) == per_answer
            list_runs.append(time.perf_counter() - begin)
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    rows = NIGHTS * len(frames(0))
    matching, listing = best(match_runs), best(list_runs)
    print(f"{rows} rows inserted in {filled:.1f} s; {per_answer} files per answer")
    print(f"{'request':<44} {'ms':>7}")
    print(f"{'GET /datafiles/<id>/calibrations/':<44} {matching / len(lights) * 1000:7.1f}")
    print(f"{f'GET /datafiles/?page_size={per_answer}':<44} {listing / len(lights) * 1000:7.1f}")
    print(f"(best of {ROUNDS} rounds of {len(lights)} lights)")
    ratio = matching / listing
    ok = ratio <= TARGET_RATIO
    print(
        f"RATIO calibrations_vs_list_of_as_many {ratio:.2f} (target <= {TARGET_RATIO:.0f})"
        f" {'OK' if ok else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
