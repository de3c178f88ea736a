"""The overview of an admin's scope: open items by stage and channel, reports per day (30 days, a chart),
median time to Selesai, late items per queue, and a map of open reports clustered when dense.

Everything is counted from the console's index in one pass (no item is read in full), and the chart and
the map are inline SVG drawn here, so the page needs no script, no tile server and stays fast at 100,000
items. Pure: the console hands in entries, deadlines and the time.
"""

from __future__ import annotations

import functools
import math
import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from markupsafe import Markup, escape

from admin.finder import Deadlines
from admin.geomap import GeoMap
from admin.index import Entry
from kanal.localtime import WIB

DAYS = 30
CHART_W, CHART_H = 640, 180
MAP_W, MAP_H = 640, 420
CELL = 28  # map pixels per cluster cell: points closer than this are drawn as one circle with a count


@dataclass
class Overview:
    """The figures of one scope."""

    by_stage: Counter[str] = field(default_factory=Counter)
    by_channel: Counter[str] = field(default_factory=Counter)
    late_by_queue: Counter[str] = field(default_factory=Counter)
    per_day: list[tuple[date, int]] = field(default_factory=list)
    open_total: int = 0
    late_total: int = 0
    median_to_done: float | None = None  # seconds from routing to Selesai
    done_count: int = 0
    points: list[tuple[float, float]] = field(default_factory=list)


def compute(entries: Iterable[Entry], deadlines: Deadlines, now: datetime) -> Overview:
    """One pass over the scope's entries (open = neither handled nor Selesai)."""
    out = Overview()
    today = now.astimezone(WIB).date()
    first = today - timedelta(days=DAYS - 1)
    start = datetime.combine(first, datetime.min.time(), WIB).timestamp()
    day_counts: Counter[int] = Counter()
    to_done: list[float] = []
    stamp = now.timestamp()
    for e in entries:
        if e.routed >= start:
            day_counts[int((e.routed - start) // 86400)] += 1
        if e.stage == "selesai":
            to_done.append(e.stage_since - e.routed)
            continue
        if e.handled:
            continue
        out.open_total += 1
        out.by_stage[e.stage] += 1
        out.by_channel[e.channel] += 1
        if deadlines.overdue(e, stamp):
            out.late_total += 1
            out.late_by_queue[e.queue] += 1
        if e.lat is not None and e.lon is not None:
            out.points.append((e.lat, e.lon))
    out.per_day = [(first + timedelta(days=i), day_counts.get(i, 0)) for i in range(DAYS)]
    out.done_count = len(to_done)
    out.median_to_done = statistics.median(to_done) if to_done else None
    return out


def chart(per_day: list[tuple[date, int]], label: str) -> Markup:
    """Reports per day as an SVG bar chart (one bar per WIB day, the day's count in its tooltip)."""
    top = max((n for _, n in per_day), default=0) or 1
    left, bottom = 34, 22
    bar = (CHART_W - left) / max(len(per_day), 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {CHART_W} {CHART_H}" '
             f'role="img" aria-label="{escape(label)}">',
             f'<line x1="{left}" y1="{CHART_H - bottom}" x2="{CHART_W}" y2="{CHART_H - bottom}" stroke="#9aa5b1"/>',
             f'<text x="0" y="12" font-size="11" fill="#52606d">{top}</text>',
             f'<text x="0" y="{CHART_H - bottom}" font-size="11" fill="#52606d">0</text>']
    usable = CHART_H - bottom - 16
    for i, (day, n) in enumerate(per_day):
        h = usable * n / top
        x = left + i * bar
        parts.append(f'<rect class="day" data-day="{day.isoformat()}" data-count="{n}" x="{x + 1:.1f}" '
                     f'y="{CHART_H - bottom - h:.1f}" width="{max(bar - 2, 1):.1f}" height="{h:.1f}" '
                     f'fill="#1976d2"><title>{day:%d-%m}: {n}</title></rect>')
        if i % 5 == 0 or i == len(per_day) - 1:
            anchor = "end" if i == len(per_day) - 1 else "start"
            tx = CHART_W if anchor == "end" else x
            parts.append(f'<text x="{tx:.1f}" y="{CHART_H - 6}" font-size="11" fill="#52606d" '
                         f'text-anchor="{anchor}">{day:%d/%m}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - numbers and escaped text only


@functools.lru_cache(maxsize=32)
def _outlines(geo: GeoMap, frame: tuple[float, float, float, float]) -> tuple[str, ...]:
    """SVG paths of the polygons inside the frame (cached: the polygons do not change while running)."""
    from shapely.geometry import box

    minx, miny, maxx, maxy = frame
    kx, scale = _projection(frame)
    window = box(minx, miny, maxx, maxy)
    out = []
    for area in geo.areas:
        if not area.geom.intersects(window):
            continue
        polys = area.geom.geoms if area.geom.geom_type == "MultiPolygon" else [area.geom]
        d = " ".join("M" + " L".join(f"{(x - minx) * kx * scale:.1f},{(maxy - y) * scale:.1f}"
                                     for x, y in p.simplify(0.00005).exterior.coords) + " Z"
                     for p in polys)
        out.append(f'<path d="{d}" fill="#fafafa" stroke="#b0b8c0" stroke-width="0.6">'
                   f'<title>{escape(area.name)} ({area.code})</title></path>')
    return tuple(out)


def _projection(frame: tuple[float, float, float, float]) -> tuple[float, float]:
    minx, miny, maxx, maxy = frame
    kx = math.cos(math.radians((miny + maxy) / 2))
    return kx, min(MAP_W / ((maxx - minx) * kx), MAP_H / (maxy - miny))


def frame_of(geo: GeoMap | None, codes: Iterable[str], points: list[tuple[float, float]]) -> tuple[float, ...] | None:
    """Longitude/latitude bounds of the scope: its kelurahan polygons, else its points, padded."""
    xs: list[float] = []
    ys: list[float] = []
    if geo is not None:
        for code in codes:
            area = geo.by_code.get(code)
            if area is not None:
                minx, miny, maxx, maxy = area.geom.bounds
                xs += [minx, maxx]
                ys += [miny, maxy]
        if not xs and not points and geo.areas:  # a superadmin: the whole boundaries file
            for area in geo.areas:
                minx, miny, maxx, maxy = area.geom.bounds
                xs += [minx, maxx]
                ys += [miny, maxy]
    if not xs:
        xs = [lon for _, lon in points]
        ys = [lat for lat, _ in points]
    if not xs:
        return None
    pad = max(max(xs) - min(xs), max(ys) - min(ys), 0.004) * 0.08
    return (round(min(xs) - pad, 5), round(min(ys) - pad, 5), round(max(xs) + pad, 5), round(max(ys) + pad, 5))


def map_svg(geo: GeoMap | None, frame: tuple[float, ...] | None, points: list[tuple[float, float]],
            label: str) -> Markup | None:
    """Open reports over the polygons; points in the same cell are one circle with their count."""
    if frame is None:
        return None
    f = (frame[0], frame[1], frame[2], frame[3])
    minx, _miny, _maxx, maxy = f
    kx, scale = _projection(f)
    cells: dict[tuple[int, int], list[Any]] = {}
    for lat, lon in points:
        x, y = (lon - minx) * kx * scale, (maxy - lat) * scale
        if 0 <= x <= MAP_W and 0 <= y <= MAP_H:
            cell = cells.setdefault((int(x // CELL), int(y // CELL)), [0, 0.0, 0.0])
            cell[0] += 1
            cell[1] += x
            cell[2] += y
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="map overview-map" viewBox="0 0 {MAP_W} {MAP_H}" '
             f'role="img" aria-label="{escape(label)}">', f'<rect width="{MAP_W}" height="{MAP_H}" fill="#eef3f7"/>']
    if geo is not None:
        parts += _outlines(geo, f)
    for n, sx, sy in cells.values():
        cx, cy = sx / n, sy / n
        if n == 1:
            parts.append(f'<circle class="pin" cx="{cx:.1f}" cy="{cy:.1f}" r="5" fill="#d32f2f" stroke="#fff" '
                         f'stroke-width="1.5"/>')
        else:
            r = min(8 + 3 * math.log2(n), 22)
            parts.append(f'<g class="cluster" data-count="{n}"><circle cx="{cx:.1f}" cy="{cy:.1f}" r="{r:.1f}" '
                         f'fill="#d32f2f" fill-opacity=".85" stroke="#fff" stroke-width="1.5"/>'
                         f'<text x="{cx:.1f}" y="{cy + 4:.1f}" text-anchor="middle" font-size="11" '
                         f'font-family="sans-serif" fill="#fff">{n}</text></g>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - numbers and escaped text only
