"""A tile-free map for the console: the kelurahan outline and its neighbours as inline SVG, with the report's pin.

No tile server is reachable from a city's admin network, so the boundaries GeoJSON the router uses is drawn
directly. Without a boundaries file the console shows the coordinates alone.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from markupsafe import Markup, escape
from shapely.geometry import Point, shape

from kanal import log
from kanal.config import Config

WIDTH = 520
HEIGHT = 360


@dataclass(frozen=True)
class Area:
    """One polygon from the boundaries file."""

    code: str
    name: str
    geom: Any


class GeoMap:
    """Boundaries loaded once; `svg()` draws one report's surroundings."""

    def __init__(self, areas: list[Area], source: str) -> None:
        self.areas = areas
        self.by_code = {a.code: a for a in areas}
        self.source = source

    @classmethod
    def load(cls, path: Path, code_property: str = "kode", name_property: str = "kelurahan") -> GeoMap:
        """Read a GeoJSON FeatureCollection of (Multi)Polygons with a code property."""
        import json

        data = json.loads(path.read_text(encoding="utf-8"))
        areas = []
        for feature in data.get("features", []):
            props = feature.get("properties") or {}
            code = props.get(code_property)
            if code is None or not feature.get("geometry"):
                continue
            areas.append(Area(code=str(code), name=str(props.get(name_property) or code),
                              geom=shape(feature["geometry"])))
        return cls(areas, str(path))

    def area_for(self, lat: float, lon: float, code: str | None) -> Area | None:
        """The queue's kelurahan when the queue names one, else the polygon holding the point, else None."""
        if code and code in self.by_code:
            return self.by_code[code]
        point = Point(lon, lat)
        return next((a for a in self.areas if a.geom.covers(point)), None)

    def svg(self, lat: float, lon: float, code: str | None = None) -> Markup:
        """An inline SVG: the outline, its neighbours in grey, and a pin at (lat, lon)."""
        area = self.area_for(lat, lon, code)
        point = Point(lon, lat)
        if area is not None:
            minx, miny, maxx, maxy = area.geom.union(point).bounds
        else:
            minx, miny, maxx, maxy = lon - 0.01, lat - 0.01, lon + 0.01, lat + 0.01
        pad = max(maxx - minx, maxy - miny, 0.002) * 0.15
        minx, miny, maxx, maxy = minx - pad, miny - pad, maxx + pad, maxy + pad
        kx = math.cos(math.radians((miny + maxy) / 2))
        scale = min(WIDTH / ((maxx - minx) * kx), HEIGHT / (maxy - miny))

        def xy(x: float, y: float) -> str:
            return f"{(x - minx) * kx * scale:.1f},{(maxy - y) * scale:.1f}"

        def path(geom: Any) -> str:
            polys = geom.geoms if geom.geom_type == "MultiPolygon" else [geom]
            rings = [ring for p in polys for ring in (p.exterior, *p.interiors)]
            return " ".join("M" + " L".join(xy(x, y) for x, y in ring.coords) + " Z" for ring in rings)

        from shapely.geometry import box

        frame = box(minx, miny, maxx, maxy)
        parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="map" viewBox="0 0 {WIDTH} {HEIGHT}" '
                 f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="map">',
                 f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#eef3f7"/>']
        for other in self.areas:
            if other is not area and other.geom.intersects(frame):
                parts.append(f'<path d="{path(other.geom)}" fill="#fafafa" stroke="#b0b8c0" stroke-width="0.8" '
                             f'fill-rule="evenodd"><title>{escape(other.name)} ({other.code})</title></path>')
        if area is not None:
            parts.append(f'<path d="{path(area.geom)}" fill="#dbe9f6" stroke="#1565c0" stroke-width="2" '
                         f'fill-rule="evenodd" class="outline"><title>{escape(area.name)} ({area.code})</title></path>')
            parts.append(f'<text x="8" y="20" font-size="14" font-family="sans-serif" fill="#0d47a1">'
                         f'{escape(area.name)} ({area.code})</text>')
        px, py = xy(lon, lat).split(",")
        parts.append(f'<circle class="pin" cx="{px}" cy="{py}" r="7" fill="#d32f2f" stroke="#fff" stroke-width="2.5"/>')
        parts.append(f'<text x="8" y="{HEIGHT - 8}" font-size="12" font-family="monospace" fill="#333">'
                     f'{lat:.5f}, {lon:.5f}</text></svg>')
        return Markup("".join(parts))  # noqa: S704 - every dynamic text above is escaped or numeric


def boundaries_path(config: Config, configured: str | None) -> Path | None:
    """`[admin] boundaries`, else the first geo rule's boundaries in the router's rules file, else None."""
    if configured:
        return config.path(configured)
    rules = config.router.get("rules", "deploy/rules/jakarta.toml")
    rules_path = config.path(str(rules))
    try:
        data = tomllib.loads(rules_path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None
    for rule in data.get("rule", []):
        if rule.get("type") == "geo" and rule.get("boundaries"):
            return (rules_path.parent / str(rule["boundaries"])).resolve()
    return None


def load_map(config: Config, configured: str | None, code_property: str, name_property: str) -> GeoMap | None:
    """The console's map, or None (coordinates only) when no boundaries file can be read."""
    path = boundaries_path(config, configured)
    if path is None or not path.exists():
        log.get("admin").warning("map_without_boundaries", path=str(path) if path else None,
                                 hint="set [admin] boundaries to a kelurahan GeoJSON to draw outlines")
        return None
    try:
        return GeoMap.load(path, code_property, name_property)
    except (OSError, ValueError) as err:
        log.get("admin").warning("boundaries_unreadable", path=str(path), error=str(err))
        return None
