"""Fixtures for the console tests: an item with a photo and a location, a small boundaries file, a client."""

from __future__ import annotations

import io
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from nats.aio.client import Client as NATS

from admin.console import Console, build
from admin.settings import AdminSettings
from connectors.media import MediaStore
from kanal.config import Config
from schemas import Attachment, Location
from schemas.routed import RoutedItem
from tests.admin.helpers import PASSWORD, publish, settings

POINT = (-6.1754, 106.8272)  # Monas, in Gambir


def photo_png() -> bytes:
    """A small PNG 'photo' drawn with Pillow: a grey road with a dark pothole."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (320, 200), (120, 160, 200))
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 110, 320, 200), fill=(90, 90, 95))
    draw.ellipse((120, 135, 210, 175), fill=(35, 30, 30))
    draw.line((0, 155, 320, 155), fill=(230, 230, 230), width=3)
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def write_boundaries(path: Path) -> Path:
    """Two kelurahan squares side by side (Gambir around Monas, a neighbour east of it)."""
    lat, lon = POINT
    def square(x0: float, y0: float, x1: float, y1: float) -> list[list[list[float]]]:
        return [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]
    features = [
        {"type": "Feature", "properties": {"kode": "3171011001", "kelurahan": "Gambir"},
         "geometry": {"type": "Polygon", "coordinates": square(lon - 0.012, lat - 0.01, lon + 0.006, lat + 0.012)}},
        {"type": "Feature", "properties": {"kode": "3171011002", "kelurahan": "Kebon Kelapa"},
         "geometry": {"type": "Polygon", "coordinates": square(lon + 0.006, lat - 0.01, lon + 0.02, lat + 0.012)}},
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


async def stored_photo(nc: NATS) -> Attachment:
    """The photo put into the `kanal_media` object store the way connectors do."""
    media = MediaStore(nc.jetstream(), 5_000_000)
    try:
        return await media.put(photo_png(), "image/png", "lubang.png")
    finally:
        await media.close()


def geotagged(**extra: object) -> dict[str, object]:
    """Envelope fields for a geotagged report."""
    return {"location": Location(lat=POINT[0], lon=POINT[1], source="gps", accuracy_m=12,
                                 address="Jl. Medan Merdeka Barat"), **extra}


@pytest.fixture
def admin_settings(tmp_path: Path) -> AdminSettings:
    return settings(boundaries=str(write_boundaries(tmp_path / "kelurahan.geojson")))


@pytest.fixture
async def console(provisioned: NATS, config: Config, admin_settings: AdminSettings) -> Console:
    return await build(config, admin_settings, provisioned)


async def login(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> httpx.Response:
    """Sign in through the form, CSRF token included."""
    page = await client.get("/login")
    token = csrf_of(page.text)
    return await client.post("/login", data={"username": username, "password": password, "csrf": token})


async def open_item(nc: NATS, client: httpx.AsyncClient, username: str, routed: RoutedItem) -> tuple[int, str]:
    """Publish `routed` to its queue, sign in as `username` and open its page: its sequence and the page."""
    [seq] = await publish(nc, routed)
    assert (await login(client, username)).status_code == 303
    return seq, (await client.get(f"/item/{seq}")).text


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


@pytest.fixture
async def client_factory(console: Console) -> AsyncIterator[object]:
    clients: list[httpx.AsyncClient] = []

    def make() -> httpx.AsyncClient:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=console.app()), base_url="http://testserver")
        clients.append(client)
        return client

    yield make
    for c in clients:
        await c.aclose()
