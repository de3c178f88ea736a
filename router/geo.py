"""Which kelurahan a point lies in: boundaries GeoJSON -> STRtree, with a capped nearest-polygon fallback.

Jakarta's kelurahan polygons are simplified upstream: neighbours overlap or leave slivers, and wharves and
island shores fall just outside. So a point in two polygons goes to the one that covers more of a small disc
around it, and a point in none goes to the nearest polygon within a cap (larger for the islands).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import msgspec
import numpy as np
import shapely
from msgspec import Struct
from shapely.geometry import Point, Polygon, shape
from shapely.strtree import STRtree

# Local equirectangular projection around Jakarta's latitude: metres are exact to ~0.1% over DKI.
LAT0 = -6.2
KX = 111_320.0 * math.cos(math.radians(LAT0))
KY = 110_574.0
TIE_RADIUS_M = 25.0
CODE_PATTERN = r"^[0-9]{10}$"


class BoundaryError(ValueError):
    """The boundaries file cannot be used; the message names the feature and the problem."""


class _Feature(Struct, kw_only=True):
    type: str
    properties: dict[str, Any] | None = None
    geometry: dict[str, Any] | None = None


class _Collection(Struct, kw_only=True):
    type: str
    features: list[_Feature]


class Area(Struct, frozen=True, kw_only=True):
    """One polygon's identity: its code and the names it carries."""

    code: str
    name: str
    kecamatan: str | None = None
    kota: str | None = None


class GeoMatch(Struct, frozen=True, kw_only=True):
    """The polygon a point was placed in, and how: inside one, inside several (overlap), or nearest."""

    area: Area
    how: Literal["inside", "overlap", "nearest"]
    distance_m: float = 0.0
    candidates: int = 1


def project(geom: Any) -> Any:
    """WGS84 lon/lat -> local metres (x east, y north)."""
    return shapely.transform(geom, lambda xy: xy * (KX, KY))


def read_features(path: Path) -> list[_Feature]:
    """The features of a GeoJSON FeatureCollection, or BoundaryError saying why not."""
    try:
        data = msgspec.json.decode(path.read_bytes(), type=_Collection)
    except OSError as err:
        raise BoundaryError(f"cannot read boundaries file {path}: {err.strerror}") from err
    except msgspec.DecodeError as err:
        raise BoundaryError(f"{path} is not a GeoJSON FeatureCollection: {err}") from err
    if data.type != "FeatureCollection":
        raise BoundaryError(f"{path}: type is {data.type!r}, expected 'FeatureCollection'")
    return data.features


def _area_of(feature: _Feature, index: int, code_property: str, name_property: str) -> Area:
    props = feature.properties or {}
    code = props.get(code_property)
    if not isinstance(code, str | int) or str(code) == "":
        raise BoundaryError(f"feature #{index}: no '{code_property}' property")
    name = props.get(name_property)
    kec, kota = props.get("kecamatan"), props.get("kota")
    return Area(
        code=str(code),
        name=str(name) if name else str(code),
        kecamatan=str(kec) if kec else None,
        kota=str(kota) if kota else None,
    )


def _geometry_of(feature: _Feature, index: int, code: str) -> Any:
    if feature.geometry is None:
        raise BoundaryError(f"feature #{index} ({code}): no geometry")
    try:
        geom = shape(feature.geometry)
    except (ValueError, TypeError, AttributeError, KeyError) as err:
        raise BoundaryError(f"feature #{index} ({code}): unreadable geometry: {err}") from err
    if geom.geom_type not in {"Polygon", "MultiPolygon"}:
        raise BoundaryError(f"feature #{index} ({code}): geometry is {geom.geom_type}, expected a polygon")
    return geom


class Boundaries:
    """A spatial index over polygons; `locate(lon, lat)` answers in microseconds for hundreds of polygons."""

    def __init__(self, areas: list[Area], geoms: list[Any], caps: Mapping[str, float] | None = None,
                 default_cap_m: float = 1000.0, source: str = "<memory>") -> None:
        self.areas = areas
        self.geoms = geoms
        self.tree = STRtree(geoms)
        self.caps = dict(caps or {})
        self.default_cap_m = default_cap_m
        self.max_cap_m = max([default_cap_m, *self.caps.values()])
        self.source = source
        self._inside = [GeoMatch(area=area, how="inside") for area in areas]

    @classmethod
    def load(cls, path: Path, *, code_property: str = "kode", name_property: str = "kelurahan",
             caps: Mapping[str, float] | None = None, default_cap_m: float = 1000.0) -> Boundaries:
        """Read a GeoJSON file; refuses invalid or duplicate polygons (run `kanal geo check` for details)."""
        areas: list[Area] = []
        geoms: list[Any] = []
        seen: set[str] = set()
        for index, feature in enumerate(read_features(path)):
            area = _area_of(feature, index, code_property, name_property)
            geom = _geometry_of(feature, index, area.code)
            if not geom.is_valid:
                raise BoundaryError(f"feature #{index} ({area.code}): invalid polygon: "
                                    f"{shapely.is_valid_reason(geom)}")
            if area.code in seen:
                raise BoundaryError(f"feature #{index}: code {area.code} appears twice")
            seen.add(area.code)
            areas.append(area)
            geoms.append(project(geom))
        if not areas:
            raise BoundaryError(f"{path}: no features")
        return cls(areas, geoms, caps, default_cap_m, str(path))

    def cap_for(self, code: str) -> float:
        """The nearest-polygon distance cap for a code: the longest matching prefix in `caps`, else default."""
        best, best_len = self.default_cap_m, -1
        for prefix, cap in self.caps.items():
            if code.startswith(prefix) and len(prefix) > best_len:
                best, best_len = cap, len(prefix)
        return best

    def _by_overlap(self, point: Any, indices: list[int], radius: float) -> int:
        disc = point.buffer(radius)
        return max(indices, key=lambda i: (self.geoms[i].intersection(disc).area, self.areas[i].code))

    def locate(self, lon: float, lat: float) -> GeoMatch | None:
        """The polygon containing (lon, lat); else the nearest within its cap; else None (outside)."""
        point = Point(lon * KX, lat * KY)
        hits = [int(i) for i in self.tree.query(point, predicate="intersects")]
        if len(hits) == 1:
            return self._inside[hits[0]]
        if hits:
            best = self._by_overlap(point, hits, TIE_RADIUS_M)
            return GeoMatch(area=self.areas[best], how="overlap", candidates=len(hits))
        found, dists = self.tree.query_nearest(point, max_distance=self.max_cap_m, return_distance=True,
                                               all_matches=True)
        return self._nearest(point, [(float(d), int(i)) for i, d in zip(found, dists, strict=True)])

    def locate_many(self, lons: Sequence[float], lats: Sequence[float]) -> list[GeoMatch | None]:
        """`locate` for many points with one vectorised tree query (the router's batches); same answers."""
        if not lons:
            return []
        points = shapely.points(np.asarray(lons, dtype=float) * KX, np.asarray(lats, dtype=float) * KY)
        hits: list[list[int]] = [[] for _ in lons]
        for p, i in zip(*self.tree.query(points, predicate="intersects").tolist(), strict=True):
            hits[p].append(i)
        out: list[GeoMatch | None] = [None] * len(hits)
        outside: list[int] = []
        for p, found in enumerate(hits):
            if len(found) == 1:
                out[p] = self._inside[found[0]]
            elif found:
                best = self._by_overlap(points[p], sorted(found), TIE_RADIUS_M)
                out[p] = GeoMatch(area=self.areas[best], how="overlap", candidates=len(found))
            else:
                outside.append(p)
        if outside:
            (which, found_i), dists = self.tree.query_nearest(points[outside], max_distance=self.max_cap_m,
                                                              return_distance=True, all_matches=True)
            near: list[list[tuple[float, int]]] = [[] for _ in outside]
            for w, i, d in zip(which.tolist(), found_i.tolist(), dists.tolist(), strict=True):
                near[w].append((d, i))
            for w, p in enumerate(outside):
                out[p] = self._nearest(points[p], near[w])
        return out

    def _nearest(self, point: Any, found: list[tuple[float, int]]) -> GeoMatch | None:
        near = [(d, i) for d, i in found if d <= self.cap_for(self.areas[i].code)]
        if not near:
            return None
        nearest = min(d for d, _ in near)
        tied = [i for d, i in near if d - nearest < 1.0]
        best = tied[0] if len(tied) == 1 else self._by_overlap(point, tied, nearest + TIE_RADIUS_M)
        return GeoMatch(area=self.areas[best], how="nearest", distance_m=round(nearest, 1), candidates=len(near))


class CheckReport(Struct, kw_only=True):
    """What `kanal geo check` found: errors make the file unusable, the rest is for information."""

    file: str
    features: int = 0
    errors: list[str] = []
    warnings: list[str] = []
    overlap_pairs: int = 0
    overlap_m2: float = 0.0
    largest_overlap_m2: float = 0.0
    gaps: int = 0
    gap_m2: float = 0.0
    largest_gap_m2: float = 0.0
    bounds: tuple[float, float, float, float] | None = None


def check(path: Path, *, code_property: str = "kode", name_property: str = "kelurahan",
          code_pattern: str = CODE_PATTERN) -> CheckReport:
    """Validate a boundaries file: readable, valid polygons, well-formed unique codes, overlaps and gaps."""
    report = CheckReport(file=str(path))
    try:
        features = read_features(path)
    except BoundaryError as err:
        report.errors.append(str(err))
        return report
    report.features = len(features)
    pattern = re.compile(code_pattern)
    seen: dict[str, int] = {}
    geoms: list[Any] = []
    wgs: list[Any] = []
    for index, feature in enumerate(features):
        try:
            area = _area_of(feature, index, code_property, name_property)
            geom = _geometry_of(feature, index, area.code)
        except BoundaryError as err:
            report.errors.append(str(err))
            continue
        label = f"feature #{index} ({area.code})"
        if not pattern.match(area.code):
            report.errors.append(f"{label}: code does not match {code_pattern}")
        if area.code in seen:
            report.errors.append(f"{label}: code also used by feature #{seen[area.code]}")
        seen.setdefault(area.code, index)
        if area.name == area.code:
            report.warnings.append(f"{label}: no '{name_property}' name")
        if geom.is_empty:
            report.errors.append(f"{label}: empty geometry")
            continue
        minx, miny, maxx, maxy = geom.bounds
        if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
            report.errors.append(f"{label}: coordinates out of range; GeoJSON is [lon, lat]")
            continue
        if not geom.is_valid:
            report.errors.append(f"{label}: invalid polygon: {shapely.is_valid_reason(geom)}")
            continue
        wgs.append(geom)
        geoms.append(project(geom))
    if wgs:
        report.bounds = tuple(round(v, 6) for v in shapely.union_all(wgs).bounds)
        _overlaps_and_gaps(report, geoms)
    return report


def _overlaps_and_gaps(report: CheckReport, geoms: list[Any]) -> None:
    tree = STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    for i, j in zip(left, right, strict=True):
        if i < j:
            area = float(geoms[i].intersection(geoms[j]).area)
            if area > 0.01:
                report.overlap_pairs += 1
                report.overlap_m2 += area
                report.largest_overlap_m2 = max(report.largest_overlap_m2, area)
    union = shapely.union_all(geoms)
    parts = getattr(union, "geoms", [union])
    for part in parts:
        for ring in part.interiors:
            area = float(Polygon(ring).area)
            report.gaps += 1
            report.gap_m2 += area
            report.largest_gap_m2 = max(report.largest_gap_m2, area)
