"""Geo lookup: the tests' own polygons (always run) and real Jakarta points (when ../shared is present)."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.geo import Boundaries, BoundaryError, check
from tests.conftest import shared_path
from tests.router.fixtures import ALPHA, feature, write_boundaries

M = 1 / 111_320  # about one metre of longitude or latitude here, in degrees


@pytest.fixture
def small(tmp_path: Path) -> Boundaries:
    return Boundaries.load(write_boundaries(tmp_path / "b.geojson"), caps={"3101": 2000}, default_cap_m=1000)


@pytest.fixture(scope="module")
def jakarta() -> Boundaries:
    return Boundaries.load(shared_path("data", "jakarta", "kelurahan.geojson"), caps={"3101": 2000})


def code(b: Boundaries, lon: float, lat: float) -> str | None:
    found = b.locate(lon, lat)
    return None if found is None else found.area.code


def test_inside_one_polygon(small: Boundaries) -> None:
    found = small.locate(106.805, -6.195)
    assert found is not None and found.area.code == "3199011001" and found.how == "inside"


def test_overlap_goes_to_the_polygon_covering_more_of_the_disc(small: Boundaries) -> None:
    left, right = small.locate(106.8096, -6.195), small.locate(106.8099, -6.195)
    assert left is not None and left.how == "overlap" and left.area.code == "3199011001"
    assert right is not None and right.how == "overlap" and right.area.code == "3199011002"


def test_nearest_polygon_within_the_mainland_cap(small: Boundaries) -> None:
    found = small.locate(106.82 + 990 * M, -6.195)
    assert found is not None and found.how == "nearest" and found.area.code == "3199011002"
    assert 980 < found.distance_m <= 1000
    assert small.locate(106.82 + 1010 * M, -6.195) is None


def test_islands_have_a_larger_cap(small: Boundaries) -> None:
    assert code(small, 106.6025, -5.695 + 1900 * M) == "3101011001"
    assert code(small, 106.6025, -5.695 + 2100 * M) is None


def test_invalid_polygon_is_refused(tmp_path: Path) -> None:
    bowtie = [[106.0, -6.0], [106.1, -6.1], [106.1, -6.0], [106.0, -6.1], [106.0, -6.0]]
    path = write_boundaries(tmp_path / "bad.geojson", [feature("3199011001", "Bow", "K", "K", bowtie)])
    with pytest.raises(BoundaryError, match=r"3199011001.*invalid polygon"):
        Boundaries.load(path)


def test_check_reports_codes_overlaps_gaps_and_invalid(tmp_path: Path) -> None:
    ring = [[106.80, -6.20], [106.83, -6.20], [106.83, -6.17], [106.80, -6.17], [106.80, -6.20]]
    hole = [[106.81, -6.19], [106.82, -6.19], [106.82, -6.18], [106.81, -6.18], [106.81, -6.19]]
    swapped = [[-6.2, 106.8], [-6.2, 106.9], [-6.1, 106.9], [-6.2, 106.8]]
    features = [
        {"type": "Feature", "properties": {"kode": "3199011001", "kelurahan": "Ring"},
         "geometry": {"type": "Polygon", "coordinates": [ring, hole]}},
        feature("3199011002", "Alpha", "K", "K", ALPHA),
        feature("31.99.01.1003", "Dotted", "K", "K", ALPHA),
        feature("3199011002", "Again", "K", "K", swapped),
    ]
    report = check(write_boundaries(tmp_path / "user.geojson", features))
    text = "\n".join(report.errors)
    assert "31.99.01.1003" in text and "code does not match" in text
    assert "code also used by feature #1" in text
    assert "coordinates out of range" in text
    assert report.overlap_pairs >= 2 and report.overlap_m2 > 0
    assert report.gaps == 1 and 1_000_000 < report.gap_m2 < 1_500_000


# Real Jakarta points, from ../shared/data/jakarta/SOURCE.md.
@pytest.mark.parametrize(("lon", "lat", "expected"), [
    (106.8272, -6.1754, "3171011001"),  # Monas, Gambir
    (106.7906, -6.1766, "3173021005"),  # Tanjung Duren Selatan
    (106.8456, -6.2297, "3174011003"),  # Menteng Dalam, Tebet
    (106.8000, -6.1745, "3173021003"),  # Tomang
])
def test_real_jakarta_points(jakarta: Boundaries, lon: float, lat: float, expected: str) -> None:
    assert code(jakarta, lon, lat) == expected


@pytest.mark.parametrize(("lon", "lat"), [
    (106.9896, -6.2383),  # Bekasi
    (106.8186, -6.4025),  # Depok
    (106.6551, -6.1256),  # Soekarno-Hatta airport
    (106.8800, -6.0500),  # Java Sea, 3 km off Tanjung Priok
])
def test_outside_dki_falls_through(jakarta: Boundaries, lon: float, lat: float) -> None:
    assert jakarta.locate(lon, lat) is None


def test_port_point_just_outside_goes_to_the_nearest_kelurahan(jakarta: Boundaries) -> None:
    found = jakarta.locate(106.93, -6.095)  # Kalibaru terminal, outside the simplified coast
    assert found is not None and found.how == "nearest" and found.area.name == "Kalibaru"
    assert 0 < found.distance_m <= 1000


def test_real_file_checks_clean() -> None:
    report = check(shared_path("data", "jakarta", "kelurahan.geojson"))
    assert report.features == 267 and report.errors == []
    assert 400 < report.overlap_pairs < 500 and 800 < report.gaps < 1000


def test_locate_many_answers_like_locate(small: Boundaries) -> None:
    """The router's batch lookup: inside, overlap, nearest within each cap and outside, in one query."""
    points = [(106.805, -6.195), (106.8096, -6.195), (106.8099, -6.195), (106.82 + 990 * M, -6.195),
              (106.82 + 1010 * M, -6.195), (106.6025, -5.695 + 1900 * M), (106.6025, -5.695 + 2100 * M),
              (100.0, 0.0)]
    many = small.locate_many([p[0] for p in points], [p[1] for p in points])
    assert many == [small.locate(*p) for p in points]
    assert {m.how if m else None for m in many} == {"inside", "overlap", "nearest", None}
    assert small.locate_many([], []) == []


def test_locate_many_on_a_grid_over_jakarta(jakarta: Boundaries) -> None:
    lons = [106.35 + i * 0.0137 for i in range(60) for _ in range(60)]
    lats = [-6.40 + j * 0.0203 for _ in range(60) for j in range(60)]
    many = jakarta.locate_many(lons, lats)
    assert many == [jakarta.locate(lon, lat) for lon, lat in zip(lons, lats, strict=True)]
    assert {m.how if m else None for m in many} >= {"inside", "nearest", None}
