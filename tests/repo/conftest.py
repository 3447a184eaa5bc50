"""An archive built through the repo layer, as uploads leave it: a site with a time zone,
two telescopes, datasets of light frames over a few nights and one of darks, so that
night logs, observations and calibrations are all derived."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from arcsec_flask.headers import HeaderInfo, read_header
from arcsec_flask.repo import datafiles, datasets, sites, telescopes
from tests.support.factories import light_frame_cards, write_fits

FIRST_NIGHT = datetime(2024, 3, 1, 20, 0, tzinfo=UTC)


@dataclass
class Archive:
    conn: Any
    owner_id: int
    user: Any  # the owner's account, with its keys (tests/conftest.User)
    light: HeaderInfo
    dark: HeaderInfo
    site: dict[str, Any] = field(default_factory=dict)
    scopes: list[dict[str, Any]] = field(default_factory=list)
    sets: list[dict[str, Any]] = field(default_factory=list)
    made: int = 0

    def dataset(self, name: str, scope: int | None = 0) -> dict[str, Any]:
        data = {"name": name}
        if scope is not None:
            data["telescope"] = self.scopes[scope]["uuid"]
        made = datasets.create(self.conn, self.owner_id, data)
        self.sets.append(made)
        return made

    def add(self, dataset: dict[str, Any], count: int, kind: str = "light", night: int = 0):
        """`count` files filed into `dataset` by the call an upload ends with."""
        found = self.conn.execute(
            "SELECT id, uuid FROM datasets WHERE uuid = ?", (dataset["uuid"],)
        ).fetchone()
        added = []
        for i in range(count):
            self.made += 1
            taken = FIRST_NIGHT + timedelta(days=night, minutes=3 * i)
            header = self.light if kind == "light" else self.dark
            info = replace(header, date_obs=taken)
            stored = datafiles.StoredFile(
                f"{kind}_{self.made:05d}.fits", f"{dataset['uuid']}/{self.made}", 1000 + i, "c"
            )
            added.append(datafiles.create(self.conn, self.owner_id, dict(found), stored, info, {}))
        return added


def _header(folder: Path, name: str, cards: list[tuple]) -> HeaderInfo:
    return read_header(write_fits(folder / name, cards), name)


@pytest.fixture
def archive(db, tmp_path, make_user) -> Archive:
    user = make_user("owner")
    owner_id = user.account["owner_id"]
    light = _header(tmp_path, "light.fits", light_frame_cards())
    dark_cards = [c for c in light_frame_cards() if c[0] not in ("IMAGETYP", "OBJECT")]
    dark = _header(tmp_path, "dark.fits", [("IMAGETYP", "Dark Frame"), *dark_cards])
    made = Archive(db, owner_id, user, light, dark)
    made.site = sites.create(db, owner_id, {"name": "OHP", "time_zone": "Europe/Paris"})
    for name in ("RC8", "FSQ106"):
        made.scopes.append(
            telescopes.create(db, owner_id, {"name": name, "observing_site": made.site["uuid"]})
        )
    return made


@pytest.fixture
def other_owner(make_user) -> int:
    return make_user("someone").account["owner_id"]
