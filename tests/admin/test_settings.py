"""The example config's [admin] and [forwarder] sections decode, and passwords hash and verify."""

from __future__ import annotations

from pathlib import Path

from admin.settings import AdminSettings, ForwarderSettings
from kanal.config import load
from kanal.passwords import hash_password, verify_password


def test_example_sections_decode() -> None:
    config = load(Path(__file__).resolve().parents[2] / "kanal.example.toml", env={})
    admin = config.section("admin", AdminSettings)
    lurah = admin.users["lurah-gambir"]
    assert lurah.allowed("kelurahan.3171011001") and not lurah.allowed("kelurahan.3171011002")
    assert verify_password("demo-lurah-gambir", lurah.password_hash.reveal())
    assert config.section("forwarder", ForwarderSettings).timeout.total_seconds() == 10


def test_password_hashes() -> None:
    encoded = hash_password("kata-sandi")
    assert encoded.startswith("scrypt$") and encoded != hash_password("kata-sandi")  # salted
    assert verify_password("kata-sandi", encoded)
    assert not verify_password("kata-sandi!", encoded)
    assert not verify_password("kata-sandi", "not-a-hash")


def test_deadlines_and_place_names_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "kanal.toml"
    path.write_text('[admin]\nwilayah = "wilayah.csv"\nqueue_labels = { triage = "Triase Provinsi" }\n'
                    '[admin.deadlines]\nmenunggu = "12h"\nproses = "4d"\n', encoding="utf-8")
    admin = load(path, env={}).section("admin", AdminSettings)
    assert admin.deadlines["menunggu"].total_seconds() == 12 * 3600
    assert admin.deadlines["proses"].total_seconds() == 4 * 86400
    assert admin.queue_labels == {"triage": "Triase Provinsi"} and admin.wilayah == "wilayah.csv"
    assert AdminSettings().deadlines["menunggu"].total_seconds() == 24 * 3600  # the default
