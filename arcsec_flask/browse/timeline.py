"""The night log's timeline as inline SVG, built here: small, every text escaped.

One lane per frame type; each frame is a mark at its start time (DATE-OBS) linking to its
page; the night runs from local noon to local noon, with the local time above the axis and
UTC below, and the dark hours (sunset to sunrise) shaded when they are known.
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
MARK_WIDTH = 3
# Lanes top to bottom, and their colours (distinct for the usual colour blindnesses).
KINDS = ("Light", "Flats", "Darks", "Biases", "Others")
COLOURS = {
    "Light": "#e6a100",
    "Flats": "#56b4e9",
    "Darks": "#7a5195",
    "Biases": "#009e73",
    "Others": "#8c8c8c",
}
TICK_HOURS = 2


@dataclass(frozen=True)
class Frame:
    """One frame on the timeline: when it started, its type (a key of COLOURS), its page."""

    start: datetime
    kind: str
    name: str
    url: str


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
    parts.append(f'<text class="axis" x="{LEFT - 8}" y="{TOP - 8}" text-anchor="end">local</text>')
    parts.append(
        f'<text class="axis" x="{LEFT - 8}" y="{bottom + 14}" text-anchor="end">UTC</text>'
    )
    for frame in frames:
        kind = frame.kind if frame.kind in COLOURS else "Others"
        y = TOP + LANE * lanes.get(kind, 0) + 4
        when = frame.start.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        parts.append(
            f'<a href="{escape(frame.url)}"><rect class="frame" data-kind="{escape(kind)}"'
            f' x="{round(x(frame.start) - MARK_WIDTH / 2, 1)}" y="{y}" width="{MARK_WIDTH}"'
            f' height="{LANE - 8}" fill="{COLOURS[kind]}">'
            f"<title>{escape(frame.name)} · {escape(kind)} · {when}</title></rect></a>"
        )
    parts.append("</svg>")
    return Markup("\n".join(parts))
