"""Which calibration frames suit a light frame, and why (docs/API.md, datafile calibrations).

Pure rules over the values read from headers: rows in, choices out. Per kind:

* bias: same binning;
* dark: same binning, exposure within 1 % of the light's, CCD temperature within 2 °C of
  the light's (when the light records one);
* flat: same filter and binning;
* dark-flat: matched to the best flat, as a dark is to a light (binning, exposure within
  1 %, temperature within 2 °C of the flat's).

Every kind also needs the same camera when both frames name it, and an observation time
within the window around the light. A master (`master-dark`...) comes before single
frames; then the closest in time (to the light; to the flat for dark-flats); then the
lower id, so that the order never depends on the order rows were read in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from .errors import Invalid

# The answer's keys, and the frame types (master first) each is chosen from.
KINDS: dict[str, tuple[str, str]] = {
    "bias": ("master-bias", "bias"),
    "dark": ("master-dark", "dark"),
    "flat": ("master-flat", "flat"),
    "dark_flat": ("master-dark-flat", "dark-flat"),
}
CANDIDATE_FRAME_TYPES: tuple[str, ...] = tuple(t for types in KINDS.values() for t in types)
EXPOSURE_TOLERANCE = 0.01  # relative: within 1 % of the reference's exposure
TEMPERATURE_TOLERANCE = 2.0  # degrees Celsius
# Exposures and temperatures come as decimals: 303 s is within 1 % of 300 s, exactly.
_SLACK = 1e-9


@dataclass(frozen=True)
class Frame:
    """What the rules need of one data file's row."""

    id: int
    frame_type: str | None
    date_obs: datetime | None
    exposure_time: float | None = None
    filter_name: str | None = None
    binning: str | None = None
    ccd_temperature: float | None = None
    instrument_name: str | None = None
    telescope_name: str | None = None
    # Found in a dataset without a telescope while the light's has one: a weaker candidate,
    # chosen after every frame of the light's telescope (docs/API.md §8a).
    fallback: bool = False

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Frame:
        """From a data file dict as the repo returns it (date_obs as ISO 8601 UTC text)."""
        return cls(
            id=row["id"],
            frame_type=row.get("frame_type"),
            date_obs=_instant(row.get("date_obs")),
            exposure_time=row.get("exposure_time"),
            filter_name=row.get("filter_name"),
            binning=row.get("binning"),
            ccd_temperature=row.get("ccd_temperature"),
            instrument_name=row.get("instrument_name"),
            telescope_name=row.get("telescope_name"),
            fallback=bool(row.get("fallback")),
        )

    @property
    def is_master(self) -> bool:
        return bool(self.frame_type and self.frame_type.startswith("master-"))


@dataclass(frozen=True)
class Match:
    """One chosen frame: how far it is from the light (and from its reference frame: the
    light, or the flat for a dark-flat), and the reason it was chosen, in words."""

    frame_id: int
    kind: str
    master: bool
    delta_time: float  # seconds, the frame's time minus the light's
    delta_exposure: float | None  # seconds, the frame's minus the reference's
    delta_temperature: float | None  # degrees Celsius, the frame's minus the reference's
    reason: str
    for_flat: int | None = None  # the flat a dark-flat was matched to
    fallback: bool = False  # from a dataset without telescope (Frame.fallback)

    def details(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "kind": self.kind,
            "master": self.master,
            "delta_time": self.delta_time,
            "delta_exposure": self.delta_exposure,
            "delta_temperature": self.delta_temperature,
            "reason": self.reason,
            "fallback": self.fallback,
        }
        if self.kind == "dark_flat":
            shown["for_flat"] = self.for_flat
        return shown


def check_light(row: Mapping[str, Any]) -> Frame:
    """The light frame calibrations are matched to, or Invalid saying why this file is not
    one (a calibration frame, a file whose header could not be read, no observation time)."""
    if row.get("header_status") == "unreadable":
        raise Invalid(
            f"Data file {row['id']}'s header could not be read: it has no values to match"
            " calibration frames on."
        )
    if row.get("header_status") == "none":
        raise Invalid(f"Data file {row['id']} is not a FITS or XISF file: it has no header.")
    if row.get("frame_type") != "light":
        raise Invalid(
            f"Data file {row['id']} is a {row.get('frame_type')} frame, not a light:"
            " calibration frames are matched to light frames only."
        )
    light = Frame.from_row(row)
    if light.date_obs is None:
        raise Invalid(
            f"Data file {row['id']} has no observation time in its header: calibration"
            " frames are matched within a time window around it."
        )
    return light


def _instant(text: str | None) -> datetime | None:
    """A stored date_obs; None for none, or for text an older version wrote for a year
    below 1000 ("1-01-10T..."), which is no ISO 8601."""
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def window_bounds(instant: datetime, window: timedelta) -> tuple[datetime, datetime]:
    """The window either side of `instant`, kept within the years datetime can hold (a
    header may well say year 1 or 9999)."""
    earliest, latest = datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)
    try:
        start = instant - window
    except OverflowError:
        start = earliest
    try:
        end = instant + window
    except OverflowError:
        end = latest
    return start, end


def match_calibrations(
    light: Frame, candidates: Iterable[Frame], window: timedelta, limit: int
) -> dict[str, list[Match]]:
    """The frames that suit `light`, per kind (KINDS), best first, at most `limit` each."""
    pool = list(candidates)
    chosen = {kind: choose(light, light, kind, pool, window, limit) for kind in KINDS}
    flats = {f.id: f for f in pool}
    best_flat = flats[chosen["flat"][0].frame_id] if chosen["flat"] else None
    chosen["dark_flat"] = (
        choose(light, best_flat, "dark_flat", pool, window, limit) if best_flat else []
    )
    return chosen


def choose(
    light: Frame,
    reference: Frame,
    kind: str,
    frames: Iterable[Frame],
    window: timedelta,
    limit: int,
) -> list[Match]:
    """The frames of `kind` that pass the rules, best first, at most `limit`."""
    return _best(light, reference, kind, _passing(light, reference, kind, frames, window), limit)


def _passing(
    light: Frame, reference: Frame, kind: str, frames: Iterable[Frame], window: timedelta
) -> list[Frame]:
    """The frames the rules of `kind` let calibrate the light, in no order."""
    if light.date_obs is None:
        raise ValueError("the light frame has no observation time")
    return [
        f
        for f in frames
        if f.frame_type in KINDS[kind]
        and f.id != light.id
        and _in_window(light, f, window)
        and _passes(light, reference, kind, f)
    ]


def _best(
    light: Frame, reference: Frame, kind: str, passing: Iterable[Frame], limit: int
) -> list[Match]:
    """The best `limit` of frames that pass, in order; their reasons are written for the
    chosen only (thousands may pass)."""
    ordered = sorted(passing, key=lambda frame: _order(frame, reference))
    return [_match(light, reference, kind, f) for f in ordered[:limit]]


def _order(frame: Frame, reference: Frame) -> tuple[bool, bool, float, int]:
    """The light's telescope's frames first (not fallback); masters first, then the nearest
    in time to the reference, then the lower id."""
    return (frame.fallback, not frame.is_master, abs(_seconds(frame, reference)), frame.id)


# Nearest first, from a store (repo/calibration_match.py) that pre-filters.


@dataclass(frozen=True)
class Bounds:
    """What a store may leave out before the rules run: frames of other types, of another
    binning, of exposures or temperatures outside these (widened) ranges, of another
    filter. Never narrower than the rules: `choose` still decides."""

    frame_types: tuple[str, str]
    binning: str | None
    exposure: tuple[float, float] | None = None  # None: any exposure may do
    temperature: tuple[float, float] | None = None  # None: any temperature may do
    filter_folded: str | None = None  # flats: the light's filter, folded (_folded)


# The ranges are widened by far more than the rules' slack (and a store's float error),
# so that the store never leaves out a frame the rules accept.
_WIDEN = 1e-6


def bounds(light: Frame, reference: Frame, kind: str) -> Bounds | None:
    """The pre-filter for the frames of `kind` that may suit `light` (via `reference`: the
    light, or the flat for a dark-flat); None when no frame can (a dark for a light
    without an exposure)."""
    found = Bounds(KINDS[kind], reference.binning)
    if kind == "flat":
        return replace(found, filter_folded=_folded(light.filter_name))
    if kind in ("dark", "dark_flat"):
        if reference.exposure_time is None:
            return None
        bound = EXPOSURE_TOLERANCE * abs(reference.exposure_time) * (1 + _WIDEN) + _WIDEN
        exposure = (reference.exposure_time - bound, reference.exposure_time + bound)
        found = replace(found, exposure=exposure)
        if reference.ccd_temperature is not None:
            bound = TEMPERATURE_TOLERANCE + _WIDEN
            temperature = (reference.ccd_temperature - bound, reference.ccd_temperature + bound)
            found = replace(found, temperature=temperature)
    return found


class Reader(Protocol):
    """read(frame_type, start, end, fallback, limit): the frames of that type within the
    bounds observed from `start` to `end`, bounds included, in any order; with
    `fallback`, those of the weaker candidates instead (Frame.fallback); with `limit`,
    at most that many of them (any)."""

    def __call__(
        self,
        frame_type: str,
        start: datetime,
        end: datetime,
        fallback: bool,
        limit: int | None = None,
        /,
    ) -> list[Frame]: ...


FIRST_SPAN = timedelta(days=1)


def choose_nearest(
    light: Frame,
    reference: Frame,
    kind: str,
    window: timedelta,
    limit: int,
    read: Reader,
    first: timedelta = FIRST_SPAN,
    fallback: bool = False,
) -> list[Match]:
    """What `choose` gives on all the frames a store holds, reading only the nearest: the
    masters of the whole window (they come first, however far), then the single frames
    within `first` of the reference, then those up to twice as far, and so on to the
    window's ends, until `limit` pass (a frame not read is further than any read); then,
    with `fallback` and fewer than `limit` chosen, the weaker candidates the same way."""
    passing: dict[int, Frame] = {}
    for tier in (False, True) if fallback else (False,):
        if len(passing) >= limit:
            break
        _read_nearest(light, reference, kind, window, limit, read, first, tier, passing)
    return _best(light, reference, kind, passing.values(), limit)


def _read_nearest(
    light: Frame,
    reference: Frame,
    kind: str,
    window: timedelta,
    limit: int,
    read: Reader,
    first: timedelta,
    tier: bool,
    passing: dict[int, Frame],
) -> None:
    """Add to `passing` the frames of one tier that pass, nearest first, until `limit`."""
    assert light.date_obs is not None and reference.date_obs is not None
    master_type, single_type = KINDS[kind]
    start, end = window_bounds(light.date_obs, window)
    frames = read(master_type, start, end, tier)
    passing.update((f.id, f) for f in _passing(light, reference, kind, frames, window))
    if len(passing) < limit and not read(single_type, start, end, tier, 1):
        return  # no single frame in the whole window: no span is worth a read (dark-flats
        # an observatory never takes, a tier with no weaker candidates)
    low = high = reference.date_obs  # within the window: the light, or a flat chosen in it
    parts = [(low, high)]
    span = first
    while len(passing) < limit and parts:
        near_start, near_end = window_bounds(reference.date_obs, span)
        near_start, near_end = max(start, near_start), min(end, near_end)
        # The two shells not read yet (a frame on a boundary is read twice: once kept).
        parts = [(near_start, low)] if near_start < low else []
        parts += [(high, near_end)] if high < near_end else []
        for part_start, part_end in parts:
            frames = read(single_type, part_start, part_end, tier)
            passing.update((f.id, f) for f in _passing(light, reference, kind, frames, window))
        low, high, span = near_start, near_end, span * 2


def _passes(light: Frame, reference: Frame, kind: str, frame: Frame) -> bool:
    """Whether the rules of `kind` let the frame calibrate the light (via `reference`: the
    light, or the flat for a dark-flat)."""
    if frame.binning != reference.binning or not _same_camera(light, frame):
        return False
    if kind == "flat":
        return _folded(frame.filter_name) == _folded(light.filter_name)
    if kind in ("dark", "dark_flat"):
        if _exposure_delta(reference, frame) is None:
            return False
        if reference.ccd_temperature is not None:
            if frame.ccd_temperature is None:
                return False
            delta = frame.ccd_temperature - reference.ccd_temperature
            return abs(delta) <= TEMPERATURE_TOLERANCE + _SLACK
    return True


def _match(light: Frame, reference: Frame, kind: str, frame: Frame) -> Match:
    """The match of a frame that passes the rules, with its deltas and reason."""
    reasons = [
        f"binning {frame.binning}" if frame.binning else "no binning recorded (nor on the light)"
    ]
    delta_exposure = delta_temperature = None
    if kind in ("dark", "dark_flat"):
        delta_exposure = _exposure_delta(reference, frame)
        reasons.append(
            f"exposure {frame.exposure_time:g} s within 1 % of {reference.exposure_time:g} s"
        )
        if reference.ccd_temperature is not None and frame.ccd_temperature is not None:
            delta_temperature = frame.ccd_temperature - reference.ccd_temperature
            reasons.append(
                f"temperature {frame.ccd_temperature:g} °C within 2 °C of"
                f" {reference.ccd_temperature:g} °C"
            )
    if kind == "flat":
        reasons.insert(0, f"filter {frame.filter_name or 'none (as the light)'}")
    reasons.append(_when(frame, reference, "the flat" if kind == "dark_flat" else "the light"))
    return Match(
        frame_id=frame.id,
        kind=kind,
        master=frame.is_master,
        delta_time=_seconds(frame, light),
        delta_exposure=delta_exposure,
        delta_temperature=delta_temperature,
        reason=("master, " if frame.is_master else "") + ", ".join(reasons) + _fallback(frame),
        fallback=frame.fallback,
        for_flat=reference.id if kind == "dark_flat" else None,
    )


def _fallback(frame: Frame) -> str:
    if not frame.fallback:
        return ""
    named = f"header telescope {frame.telescope_name}" if frame.telescope_name else "none named"
    return f"; from a dataset without telescope ({named}), after the telescope's own frames"


def _exposure_delta(reference: Frame, frame: Frame) -> float | None:
    """The exposure difference when within the tolerance, else None (unknown counts as out)."""
    if reference.exposure_time is None or frame.exposure_time is None:
        return None
    delta = frame.exposure_time - reference.exposure_time
    bound = EXPOSURE_TOLERANCE * abs(reference.exposure_time)
    return delta if abs(delta) <= bound * (1 + _SLACK) + _SLACK else None


def _same_camera(light: Frame, frame: Frame) -> bool:
    """Different cameras named on both frames never match; an unnamed camera may."""
    if light.instrument_name and frame.instrument_name:
        return _folded(light.instrument_name) == _folded(frame.instrument_name)
    return True


def _folded(text: str | None) -> str:
    return " ".join((text or "").split()).casefold()


def _in_window(light: Frame, frame: Frame, window: timedelta) -> bool:
    return frame.date_obs is not None and abs(_seconds(frame, light)) <= window.total_seconds()


def _seconds(frame: Frame, reference: Frame) -> float:
    assert frame.date_obs is not None and reference.date_obs is not None
    return (frame.date_obs - reference.date_obs).total_seconds()


def _when(frame: Frame, reference: Frame, name: str) -> str:
    seconds = _seconds(frame, reference)
    size = abs(seconds)
    if size < 3600:
        amount = f"{size / 60:.0f} min"
    elif size < 2 * 86400:
        amount = f"{size / 3600:.1f} h"
    else:
        amount = f"{size / 86400:.1f} days"
    return f"{amount} {'before' if seconds < 0 else 'after'} {name}"
