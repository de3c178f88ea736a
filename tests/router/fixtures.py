"""Small boundaries and rules the router tests build themselves, so a clone without ../shared covers the logic."""

from __future__ import annotations

import json
from pathlib import Path

# Alpha and Beta overlap in a 55 m strip (lon 106.8095-106.8100); Pulau Uji is an island (code 3101...).
ALPHA = [[106.80, -6.20], [106.81, -6.20], [106.81, -6.19], [106.80, -6.19], [106.80, -6.20]]
BETA = [[106.8095, -6.20], [106.82, -6.20], [106.82, -6.19], [106.8095, -6.19], [106.8095, -6.20]]
ISLAND = [[106.60, -5.70], [106.605, -5.70], [106.605, -5.695], [106.60, -5.695], [106.60, -5.70]]


def feature(code: str, name: str, kec: str, kota: str, ring: list[list[float]]) -> dict[str, object]:
    """One GeoJSON kelurahan feature."""
    return {"type": "Feature", "properties": {"kode": code, "kelurahan": name, "kecamatan": kec, "kota": kota},
            "geometry": {"type": "Polygon", "coordinates": [ring]}}


def write_boundaries(path: Path, features: list[dict[str, object]] | None = None) -> Path:
    """The three test polygons (or `features`) as a FeatureCollection."""
    features = features if features is not None else [
        feature("3199011001", "Alpha", "Satu", "Kota Uji", ALPHA),
        feature("3199011002", "Beta", "Satu", "Kota Uji", BETA),
        feature("3101011001", "Pulau Uji", "Kepulauan Uji", "Kepulauan Seribu", ISLAND),
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


RULES = """
version = 1

[[rule]]
id = "automatic-mail"
type = "flags"
flags = ["auto_reply", "bounce", "bulk"]
queue = "automatic"

[[rule]]
id = "geo"
type = "geo"
boundaries = "boundaries.geojson"
cap_m = 1000
caps = {{ "3101" = 2000 }}

[[rule]]
id = "desk-satu"
type = "channel"
channel = "desk"
account = "kec-satu"
queue = "kecamatan.319901"

[[rule]]
id = "x-province"
type = "channel"
channel = "x"
account = "@DKIJakarta"
queue = "biro.pemerintahan"

[[rule]]
id = "gazetteer"
type = "gazetteer"
boundaries = "boundaries.geojson"

[[rule]]
id = "{fallback_id}"
type = "fallback"
queue = "triage"
"""


def write_rules(folder: Path, fallback_id: str = "fallback") -> Path:
    """A rules file and its boundaries in `folder`."""
    write_boundaries(folder / "boundaries.geojson")
    path = folder / "rules.toml"
    path.write_text(RULES.format(fallback_id=fallback_id))
    return path
