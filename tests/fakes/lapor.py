"""A local LAPOR! integration API speaking connectors/lapor/mapping.py (keyset pages by update time + id).

Reports are created three per second on purpose, so several share `tanggal_diperbarui` to the second.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.lapor import mapping
from tests.fakes.serve import FakeProvider, serving

BASE = datetime.now(mapping.WIB).replace(microsecond=0) - timedelta(hours=2)
JPEG = b"\xff\xd8\xff\xe0lapor-lampiran\xff\xd9"
CATEGORIES = ["Lingkungan Hidup dan Kehutanan", "Pekerjaan Umum dan Penataan Ruang", "Perhubungan"]


@dataclass
class LaporProvider(FakeProvider):
    token: str = "lapor-token-5f1c2d"
    reports: dict[str, dict[str, Any]] = field(default_factory=dict)
    delay: float = 0.0
    requests: list[dict[str, str]] = field(default_factory=list)
    attachment_auth: list[str | None] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1"

    @property
    def settings(self) -> dict[str, Any]:
        return {"account": "pemprov-dki", "base_url": self.base_url, "token": self.token, "page_size": 4}

    def add(self, count: int) -> list[str]:
        """New reports, three per second; every third anonymous, every fourth with a photo."""
        ids = []
        for _ in range(count):
            n = len(self.reports) + 1
            tracking_id = str(1916400 + n)
            when = (BASE + timedelta(seconds=n // 3)).isoformat()
            report: dict[str, Any] = {
                "tracking_id": int(tracking_id) if n % 2 else tracking_id,  # ids come as numbers or strings
                "judul": f"Saluran air tersumbat nomor {n}",
                "isi": f"Saluran air di depan rumah tersumbat sampah sejak seminggu (laporan {n}).",
                "kategori": {"id": str(10 + n % 3), "nama": CATEGORIES[n % 3]},
                "lokasi": {"alamat": f"Jl. Kemang Raya No. {n}", "kelurahan": "Bangka",
                           "kecamatan": "Mampang Prapatan", "kota": "Jakarta Selatan",
                           "lat": -6.2615 if n % 2 else None, "lng": 106.8166 if n % 2 else None},
                "lampiran": ([{"nama": f"foto-{n}.jpg", "url": f"http://127.0.0.1:{self.port}/storage/{n}.jpg",
                               "tipe": "image/jpeg"}] if n % 4 == 0 else []),
                "tanggal_dibuat": when, "tanggal_diperbarui": when, "status": "Diteruskan ke instansi",
                "anonim": n % 3 == 0, "rahasia": n % 5 == 0, "sumber": "sms" if n % 2 else "web",
                "pelapor": None if n % 3 == 0 else {"nama": f"Pelapor {n}", "email": f"pelapor{n}@example.id",
                                                    "telepon": "+6281234567890", "nik": "3174012345678901"},
            }
            self.reports[tracking_id] = report
            ids.append(tracking_id)
        return ids

    def update(self, tracking_id: str, status: str, seconds: int = 3600) -> None:
        """The city (or LAPOR!) changed the report: newer update time, same tracking id."""
        report = self.reports[tracking_id]
        report["status"] = status
        report["tanggal_diperbarui"] = (mapping.parse_time(report["tanggal_diperbarui"])
                                        + timedelta(seconds=seconds)).isoformat()

    def order(self) -> list[dict[str, Any]]:
        return sorted(self.reports.values(), key=lambda r: mapping.key(
            mapping.parse_time(r["tanggal_diperbarui"]), str(r["tracking_id"])))

    def expected_ids(self) -> list[str]:
        return [str(r["tracking_id"]) for r in self.order()]

    def app(self) -> Starlette:
        async def laporan(request: Request) -> Response:
            params = dict(request.query_params)
            self.requests.append(params)
            if self.delay:
                await asyncio.sleep(self.delay)
            if request.headers.get("authorization") != f"Bearer {self.token}":
                return JSONResponse({"status": False, "pesan": "Token tidak valid"}, status_code=401)
            if self.status is not None:
                return JSONResponse({"status": False, "pesan": "gagal"}, status_code=self.status,
                                    headers={"retry-after": "1"} if self.status == 429 else {})
            after = mapping.key(mapping.parse_time(params[mapping.PARAM_UPDATED_AFTER]),
                                params.get(mapping.PARAM_AFTER_ID, ""))
            limit = int(params[mapping.PARAM_LIMIT])
            found = [r for r in self.order()
                     if mapping.key(mapping.parse_time(r["tanggal_diperbarui"]), str(r["tracking_id"])) > after]
            page = found[:limit]
            return JSONResponse({mapping.LIST_KEY: page, "meta": {"jumlah": len(page)}})

        async def storage(request: Request) -> Response:
            self.attachment_auth.append(request.headers.get("authorization"))
            return Response(JPEG, media_type="image/jpeg")

        return Starlette(routes=[Route("/api/v1" + mapping.LIST_PATH, laporan),
                                 Route("/storage/{name}", storage)])


@asynccontextmanager
async def lapor_provider(reports: int = 0) -> AsyncIterator[LaporProvider]:
    """Serve a LaporProvider on a free loopback port."""
    async with serving(LaporProvider()) as provider:
        provider.add(reports)
        yield provider
