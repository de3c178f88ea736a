"""Rerouting by a name typed in the console's box ("Kec. Gambir"), as its hint invites, not only by a queue id."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from nats.aio.client import Client as NATS

from admin.store import ItemStore
from kanal.wilayah import Names, Place
from tests.admin.conftest import csrf_of, open_item
from tests.admin.helpers import GAMBIR, KEBON_KELAPA, item

NAMES = Names(places={
    "3171": Place(code="3171", level="kota", name="Jakarta Pusat"),
    "317101": Place(code="317101", level="kecamatan", name="Gambir", parent="3171"),
    "3171011001": Place(code="3171011001", level="kelurahan", name="Gambir", parent="317101"),
    "3171011005": Place(code="3171011005", level="kelurahan", name="Kebon Kelapa", parent="317101"),
}, labels={"triage": "Triase Provinsi"})


def test_a_typed_name_finds_its_queue() -> None:
    assert NAMES.find("Kec. Gambir") == NAMES.find("kecamatan gambir") == ["kecamatan.317101"]
    assert NAMES.find("Kelurahan Kebon Kelapa") == NAMES.find("kel. kebon kelapa") == ["kelurahan.3171011005"]
    assert NAMES.find("triase provinsi") == ["triage"]
    assert sorted(NAMES.find("gambir")) == ["kecamatan.317101", "kelurahan.3171011001"]  # ambiguous: both
    assert NAMES.find("Kec. Menteng") == NAMES.find("") == []


async def test_console_reroutes_to_a_typed_name_and_refuses_one_it_cannot_find(
        provisioned: NATS, client_factory: Callable[[], httpx.AsyncClient]) -> None:
    client = client_factory()
    seq, page = await open_item(provisioned, client, "pusat", item("typed-1"))
    typed = next(label for queue, label in _targets(page) if queue == KEBON_KELAPA).split(",")[0]
    token = csrf_of(page)
    vague = await client.post(f"/item/{seq}/reroute", data={"csrf": token, "to_queue": typed.split(" ", 1)[1][:3],
                                                             "reason": "x"}, follow_redirects=True)
    assert "Ditolak" in vague.text
    moved = await client.post(f"/item/{seq}/reroute", data={"csrf": token, "to_queue": typed.upper(),
                                                             "reason": "wilayah tetangga"}, follow_redirects=True)
    assert "Dialihkan ke" in moved.text, moved.text
    store = await ItemStore.open(provisioned)
    [there] = await store.queue(KEBON_KELAPA)
    assert there.item.reroutes[-1].from_queue == GAMBIR


def _targets(page: str) -> list[tuple[str, str]]:
    """The (queue, label) options of the reroute box's list."""
    listing = page.split('<datalist id="reroute-targets">', 1)[1].split("</datalist>", 1)[0]
    return [(part.split('"', 1)[0], part.split(">", 1)[1].split("<", 1)[0])
            for part in listing.split('<option value="')[1:]]
