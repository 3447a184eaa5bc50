"""Pages an observer would rather look at: a data file, a night log, a dataset, a package.

`rich_page(view, data)` gives the page of a JSON answer of one of those views (None for
the rest, which keep the generic browseable page). The JSON answer is the starting point;
what the page adds (header cards, the night's frames, thumbnails) is read here through the
repo, within the caller's owner, as the API would read it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from flask import g, render_template, request, url_for

from ..domain.errors import NotFound
from ..domain.nights import night_bounds, site_zone
from ..repo import datafiles, datasets, nightlogs, sites, telescopes
from ..services.previews import can_have_preview
from ..web.db import get_db
from .sky import sun_events
from .timeline import Frame, legends, timeline_svg

TIMELINE_CAP = 5000  # frames drawn on one night's timeline
THUMBNAILS_CAP = 60  # preview thumbnails on one page
THUMBNAILS_PER_GROUP = 12  # per observation or calibration on a night log page
HEADER_KEYS = ("IMAGETYP", "OBJECT", "DATE-OBS", "EXPTIME", "FILTER", "TELESCOP", "INSTRUME")


def rich_page(view: str, data: dict[str, Any], context: dict[str, Any]) -> str | None:
    """The HTML page of `view`'s 200 answer `data`, or None when it has no page of its own."""
    builder = PAGES.get(view)
    if builder is None or not isinstance(data, dict):
        return None
    template, extra = builder(data)
    return render_template(template, **{**context, **extra, "data": data})


# --- URLs of this server, in the form (personal or portal) of the current request ---------


def _url(resource: str, view: str, **values: Any) -> str:
    prefix = "portal_" if g.get("subdomain") else ""
    if g.get("subdomain"):
        values["subdomain"] = g.subdomain
    return url_for(f"{prefix}{resource}.{view}", **values)


def file_page(file_id: int) -> str:
    return _url("datafiles", "DataFile", file_id=file_id)


def preview_url(file_id: int) -> str:
    return _url("datafiles", "DataFilePreview", file_id=file_id)


def _list_url(resource: str, view: str, **filters: str) -> str:
    return _url(resource, view, **filters)


# --- the pages ----------------------------------------------------------------------------


def _datafile(data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    cards = datafiles.header(get_db(), g.owner_id, data["id"])
    known = {c["key"]: c["value"] for c in cards if c["key"] in HEADER_KEYS}
    return "datafile.html", {
        "title": data["name"],
        "cards": cards,
        "key_fields": [(k, known[k]) for k in HEADER_KEYS if k in known],
        "dataset_url": _url("datasets", "Dataset", uuid=data["dataset"]),
        "night_log_url": data["night_log"]
        and _url("nightlogs", "NightLog", uuid=data["night_log"]),
        "calibrations_url": _calibrations_url(data),
    }


def _calibrations_url(data: dict[str, Any]) -> str | None:
    """The light's calibration frames (docs/API.md §8a), for a dated, readable light."""
    light = data["frame_type"] == "light" and data["header_status"] == "read"
    if not (light and data["date_obs"]):
        return None
    return _url("datafiles", "DataFileCalibrations", file_id=data["id"])


def _calibration_links(lights: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Per frame group of an observation (filter, exposure, binning), a link to the
    calibration frames of its first light, which stand for the group's (its other lights
    were taken at other times, perhaps a little warmer or colder)."""
    links: dict[tuple, tuple[str, str]] = {}
    for f in lights:
        url = _calibrations_url(f)
        group = (f["filter_name"], f["exposure_time"], f["binning"])
        if url is None or group in links:
            continue
        exposure = f"{f['exposure_time']:g} s" if f["exposure_time"] is not None else "no exposure"
        label = f"{f['filter_name'] or 'no filter'}, {exposure}, {f['binning'] or 'binning ?'}"
        links[group] = (label, url)
    return list(links.values())


CALIBRATION_KINDS = (("bias", "Biases"), ("dark", "Darks"), ("flat", "Flats"))
CALIBRATION_KINDS += (("dark_flat", "Dark flats"),)


def _calibrations(data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    light = datafiles.get(get_db(), g.owner_id, data["light"])
    kinds = [
        {
            "title": title,
            "frames": [
                {**_thumbnail(f), "frame_type": f["frame_type"], "reason": f["match"]["reason"]}
                for f in data.get(kind) or []
            ],
        }
        for kind, title in CALIBRATION_KINDS
    ]
    return "calibrations.html", {
        "title": f"Calibration frames for {light['name']}",
        "light_url": file_page(light["id"]),
        "kinds": kinds,
    }


def _thumbnail(f: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": f["name"],
        "page": file_page(f["id"]),
        "preview": preview_url(f["id"]) if can_have_preview(f) else None,
        "date_obs": f["date_obs"],
    }


def _night_log(data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    conn, owner = get_db(), g.owner_id
    total, files = datafiles.list_(conn, owner, {"night_log": data["uuid"]}, TIMELINE_CAP, 0)
    calibrations = nightlogs.calibrations.list_(conn, owner, {"night_log": data["uuid"]}, 1000, 0)
    observations = nightlogs.observations.list_(conn, owner, {"night_log": data["uuid"]}, 1000, 0)
    cal_types = {c["uuid"]: c["type"] for c in calibrations[1]}
    site = _site_of(data["telescope"])
    zone = site_zone(site["time_zone"]) if site and site["time_zone"] else site_zone("UTC")
    start, end = night_bounds(date.fromisoformat(data["date"]), zone.key)
    coordinates = (site or {}).get("coordinates") or {}
    sunset, sunrise = sun_events(
        start, end, coordinates.get("latitude"), coordinates.get("longitude")
    )
    frames = [
        Frame(
            start=datetime.fromisoformat(f["date_obs"].replace("Z", "+00:00")).astimezone(UTC),
            kind=cal_types.get(f["calibration"], "Others") if f["calibration"] else "Light",
            name=f["name"],
            url=file_page(f["id"]),
            filter=f["filter_name"],
            exposure=f["exposure_time"],
        )
        for f in files
        if f["date_obs"]
    ]
    groups, shown = [], 0
    for kind, found, key in (
        ("Observation", observations[1], "observation"),
        ("Calibration", calibrations[1], "calibration"),
    ):
        for group in found:
            members = [f for f in files if f[key] == group["uuid"]]
            room = max(0, min(THUMBNAILS_PER_GROUP, THUMBNAILS_CAP - shown))
            thumbs = [_thumbnail(f) for f in members[:room]]
            shown += len(thumbs)
            groups.append(
                {
                    "kind": kind,
                    "name": group["name"],
                    "count": group["data_files_count"],
                    "thumbnails": thumbs,
                    "all_url": _list_url("datafiles", "DataFiles", **{key: group["uuid"]}),
                    "page": _url(f"{key}s", key.title(), uuid=group["uuid"]),
                    "calibration_links": _calibration_links(members)
                    if kind == "Observation"
                    else [],
                }
            )
    return "nightlog.html", {
        "title": f"Night of {data['date']}",
        "timeline": timeline_svg(frames, start, end, zone, sunset, sunrise),
        "legends": legends(frames),
        "frames_count": len(frames),
        "files_total": total,
        "undated": sum(1 for f in files if not f["date_obs"]),
        "zone": zone.key,
        "night_start": start.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
        "night_end": end.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
        "sunset": sunset and sunset.astimezone(zone).strftime("%H:%M"),
        "sunrise": sunrise and sunrise.astimezone(zone).strftime("%H:%M"),
        "site": site,
        "groups": groups,
        "files_url": _list_url("datafiles", "DataFiles", night_log=data["uuid"]),
    }


def _site_of(telescope_uuid: str | None) -> dict[str, Any] | None:
    if not telescope_uuid:
        return None
    try:
        telescope = telescopes.get(get_db(), g.owner_id, telescope_uuid)
        if not telescope["observing_site"]:
            return None
        return sites.get(get_db(), g.owner_id, telescope["observing_site"])
    except NotFound:
        return None


def _dataset(data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    total, files = datafiles.list_(
        get_db(), g.owner_id, {"dataset": data["uuid"]}, THUMBNAILS_CAP, 0
    )
    return "dataset.html", {
        "title": data["name"],
        "thumbnails": [_thumbnail(f) for f in files],
        "files_total": total,
        "files_url": _list_url("datafiles", "DataFiles", dataset=data["uuid"]),
    }


def _datapackage(data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    members = []
    for uuid in data.get("datasets") or []:
        name = None
        if g.owner_id is not None:  # a caller with a key or a session: names of theirs
            try:
                name = datasets.get(get_db(), g.owner_id, uuid)["name"]
            except NotFound:
                name = None
        link = _url("datasets", "Dataset", uuid=uuid) if name else None
        members.append({"uuid": uuid, "name": name, "url": link})
    return "datapackage.html", {"title": data["name"], "members": members}


PAGES: dict[str, Callable[[dict[str, Any]], tuple[str, dict[str, Any]]]] = {
    "datafiles.DataFile": _datafile,
    "datafiles.DataFileCalibrations": _calibrations,
    "nightlogs.NightLog": _night_log,
    "datasets.Dataset": _dataset,
    "datapackages.DataPackage": _datapackage,
}


def view_name() -> str:
    """The request's view as PAGES names it (portal copies share their resource's page)."""
    return (request.endpoint or "").removeprefix("portal_")
