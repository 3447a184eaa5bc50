"""The night log's timeline as inline SVG, built here: small, every text escaped.

One lane per frame type; each frame is a bar from its start time (DATE-OBS) to the end of
its exposure (at least MIN_MARK_WIDTH wide, so that a bias shows), linking to its page; the
night runs from local noon to local noon, with the local time above the axis and UTC below,
and the dark hours (sunset to sunrise) shaded when they are known.

Bars are filled with their frame type's colour; each also carries its filter's colour as
the `--filter-colour` custom property, which the stylesheet uses instead when the page's
"colour by filter" switch is on (pages.css: no script, the page works without one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

WIDTH = 1000
LEFT, RIGHT, TOP = 80, 20, 34
LANE = 26
MIN_MARK_WIDTH = 2.0
# Lanes top to bottom, and their colours (distinct for the usual colour blindnesses).
KINDS = ("Light", "Flats", "Darks", "Biases", "Others")
COLOURS = {
    "Light": "#e6a100",
    "Flats": "#56b4e9",
    "Darks": "#7a5195",
    "Biases": "#009e73",
    "Others": "#8c8c8c",
}
# Filters in the order they first appear in the night take these colours (Paul Tol's
# "bright" scheme, safe for colour blindness); more filters than that share OTHER_FILTERS.
FILTER_PALETTE = ("#4477aa", "#ee6677", "#228833", "#ccbb44", "#66ccee", "#aa3377")
OTHER_FILTERS = "#6b6b6b"
NO_FILTER = "#d9d9d9"
NO_FILTER_LABEL = "no filter"
OTHER_FILTERS_LABEL = "other filters"
TICK_HOURS = 2
AXIS_CAPTION_GAP = 22  # the axes' captions end this far left of the first tick


@dataclass(frozen=True)
class Frame:
    """One frame on the timeline: when it started, its type (a key of COLOURS), its page,
    its filter and its exposure in seconds (when the header gave them)."""

    start: datetime
    kind: str
    name: str
    url: str
    filter: str | None = None
    exposure: float | None = None


def filter_colours(frames: Sequence[Frame]) -> dict[str | None, str]:
    """The colour of each filter of `frames` (None: frames without a filter)."""
    colours: dict[str | None, str] = {}
    for frame in sorted(frames, key=lambda f: f.start):
        if frame.filter in colours:
            continue
        if frame.filter is None:
            colours[None] = NO_FILTER
        else:
            named = sum(1 for key in colours if key is not None)
            colours[frame.filter] = (
                FILTER_PALETTE[named] if named < len(FILTER_PALETTE) else OTHER_FILTERS
            )
    return colours


def legends(frames: Sequence[Frame]) -> dict[str, list[tuple[str, str]]]:
    """(label, colour) pairs of the two colourings, for the page's legends: every frame type
    (the lanes), and the filters of `frames` in order of first use."""
    by_filter: list[tuple[str, str]] = []
    for name, colour in filter_colours(frames).items():
        if colour == OTHER_FILTERS:
            if (OTHER_FILTERS_LABEL, colour) not in by_filter:
                by_filter.append((OTHER_FILTERS_LABEL, colour))
            continue
        by_filter.append((NO_FILTER_LABEL if name is None else name, colour))
    return {"type": [(kind, COLOURS[kind]) for kind in KINDS], "filter": by_filter}


def timeline_svg(
    frames: Sequence[Frame],
    night_start: datetime,
    night_end: datetime,
    zone: ZoneInfo,
    sunset: datetime | None = None,
    sunrise: datetime | None = None,
) -> Markup:
    """The SVG element (as Markup: every value in it is escaped here)."""
    kinds = [k for k in KINDS if any(f.kind == k for f in frames)] or ["Light"]
    lanes = {kind: index for index, kind in enumerate(kinds)}
    height = TOP + LANE * len(kinds) + 34
    span = (night_end - night_start).total_seconds()
    inner = WIDTH - LEFT - RIGHT

    def x(instant: datetime) -> float:
        seconds = (instant - night_start).total_seconds()
        return round(LEFT + inner * min(max(seconds / span, 0.0), 1.0), 1)

    bottom = TOP + LANE * len(kinds)
    parts = [
        f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}"'
        f' width="100%" role="img" aria-label="Timeline of the night: {len(frames)} frames">',
        f'<rect class="day" x="{LEFT}" y="{TOP}" width="{inner}" height="{bottom - TOP}"/>',
    ]
    if sunset or sunrise:
        dark_from = x(sunset) if sunset else LEFT
        dark_to = x(sunrise) if sunrise else LEFT + inner
        parts.append(
            f'<rect class="dark" x="{dark_from}" y="{TOP}" width="{round(dark_to - dark_from, 1)}"'
            f' height="{bottom - TOP}"><title>Sun below the horizon</title></rect>'
        )
        for label, instant in (("sunset", sunset), ("sunrise", sunrise)):
            if instant:
                local = instant.astimezone(zone).strftime("%H:%M")
                parts.append(
                    f'<text class="sun" x="{x(instant)}" y="{bottom + 30}" text-anchor="middle">'
                    f"{label} {local}</text>"
                )
    for index, kind in enumerate(kinds):
        y = TOP + LANE * index
        parts.append(
            f'<text class="lane" x="{LEFT - 8}" y="{y + LANE / 2 + 4}" text-anchor="end">'
            f"{escape(kind)}</text>"
        )
    tick = night_start
    while tick <= night_end:
        tx = x(tick)
        parts.append(f'<line class="tick" x1="{tx}" y1="{TOP}" x2="{tx}" y2="{bottom}"/>')
        local, utc = tick.astimezone(zone).strftime("%H:%M"), tick.astimezone(UTC).strftime("%H:%M")
        parts.append(
            f'<text class="local" x="{tx}" y="{TOP - 8}" text-anchor="middle">{local}</text>'
        )
        parts.append(
            f'<text class="utc" x="{tx}" y="{bottom + 14}" text-anchor="middle">{utc}</text>'
        )
        tick += timedelta(hours=TICK_HOURS)
    # Clear of the first tick's label, which is centred on LEFT.
    caption = LEFT - AXIS_CAPTION_GAP
    parts.append(f'<text class="axis" x="{caption}" y="{TOP - 8}" text-anchor="end">local</text>')
    parts.append(f'<text class="axis" x="{caption}" y="{bottom + 14}" text-anchor="end">UTC</text>')
    by_filter = filter_colours(frames)
    for frame in frames:
        parts.append(_mark(frame, x, TOP + LANE * lanes.get(_kind(frame), 0) + 4, by_filter))
    parts.append("</svg>")
    return Markup("\n".join(parts))


def _kind(frame: Frame) -> str:
    return frame.kind if frame.kind in COLOURS else "Others"


def _mark(frame: Frame, x, y: float, by_filter: dict[str | None, str]) -> str:
    """A frame's bar: from its start to the end of its exposure, clamped to the night."""
    kind = _kind(frame)
    exposure = frame.exposure if frame.exposure and frame.exposure > 0 else 0.0
    left = x(frame.start)
    right = x(frame.start + timedelta(seconds=exposure))
    width = round(max(right - left, MIN_MARK_WIDTH), 1)
    left = min(left, WIDTH - RIGHT - width)  # a frame at the night's very end stays inside
    when = frame.start.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    filter_text = frame.filter if frame.filter is not None else NO_FILTER_LABEL
    details = f"{frame.name} · {kind} · {filter_text} · {when} · {exposure:g} s"
    return (
        f'<a href="{escape(frame.url)}"><rect class="frame" data-kind="{escape(kind)}"'
        f' data-filter="{escape(filter_text)}" x="{round(left, 1)}" y="{y}" width="{width}"'
        f' height="{LANE - 8}" fill="{COLOURS[kind]}"'
        f' style="--filter-colour:{by_filter[frame.filter]}">'
        f"<title>{escape(details)}</title></rect></a>"
    )
