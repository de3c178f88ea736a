"""`kanal doctor` on WhatsApp templates: what the config names, the SMS fallback, and the latest template a
sender had refused (recorded by the sender loop in `kanal_outbound`)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
from nats.aio.client import Client as NATS

from kanal import bus, sends
from kanal.ops import doctor, whatsapp
from kanal.testing import make_config
from schemas import subjects

META = {"channel": "meta", "app_secret": "meta-app-secret-0123456789", "verify_token": "kanal-verify-token",
        "access_token": "EAAG-graph-token-0123456789", "phone_number_ids": ["106540352242922"],
        "public_url": "https://intake.example.go.id/meta"}
GOOD = {"ack": {"id": {"name": "kanal_laporan_diterima", "language": "id", "parameters": ["ref", "status_url"]}},
        "status": {"id": {"name": "kanal_status_laporan", "language": "id", "parameters": ["ref", "stage"]}},
        "final": {"id": {"name": "kanal_laporan_selesai", "language": "id", "parameters": ["ref"]}}}
KANNEL = {"channel": "kannel", "secret": "kannel-secret-0123456789", "account": "+628111272206"}
TWILIO = {"channel": "twilio", "auth_token": "twilio-token-0123456789", "public_url": "https://x.id/t"}


def _findings(tmp_path: Path, connectors: dict[str, dict[str, Any]]) -> dict[str, list[doctor.Finding]]:
    config = msgspec.structs.replace(make_config("nats://127.0.0.1:4222", tmp_path), connectors=connectors)
    _, resolved = doctor.check_connectors(config)
    out: dict[str, list[doctor.Finding]] = {}
    for f in whatsapp.check_config(config, resolved):
        out.setdefault(f[1], []).append(doctor.Finding(*f))
    return out


def test_templates_and_fallback_are_checked(tmp_path: Path) -> None:
    found = _findings(tmp_path, {
        "wa-none": META,
        "wa-good": {**META, "whatsapp_templates": GOOD, "whatsapp_fallback": "sms"},
        "wa-bad": {**META, "whatsapp_templates": {"final": {"id": {"name": "kanal_laporan_selesai"}}},
                   "whatsapp_fallback": "nowhere"},
        "tw-bad": {**TWILIO, "whatsapp_templates": {"final": {"id": {"content_sid": "kanal_laporan_selesai"}}}},
        "tw-self": {**TWILIO, "account": "+628111272206", "whatsapp_fallback": "tw-self"},
        "wa-nonumber": {**META, "whatsapp_templates": GOOD, "whatsapp_fallback": "sms-nonumber"},
        "sms": KANNEL,
        "sms-nonumber": {**KANNEL, "account": ""},
    })
    assert [f.level for f in found["whatsapp wa-none"]] == ["warn"]
    assert "no stage updates or final word" in found["whatsapp wa-none"][0].message
    assert [f.level for f in found["whatsapp wa-good"]] == ["ok", "ok"]
    assert "through sms (kannel)" in found["whatsapp wa-good"][1].message
    bad = found["whatsapp wa-bad"]
    assert [f.level for f in bad] == ["fail", "fail"]
    assert "name and language code" in bad[0].message and "'nowhere'" in bad[1].message
    assert "content_sid (HX" in found["whatsapp tw-bad"][0].message
    assert "whatsapp sms" not in found, "an SMS instance has no WhatsApp checks"
    assert "SMS through tw-self (twilio)" in found["whatsapp tw-self"][-1].message, "one Twilio number does both"
    nonumber = found["whatsapp wa-nonumber"][-1]
    assert nonumber.level == "fail" and "connectors.sms-nonumber.account" in nonumber.message


async def test_the_latest_refused_template_is_a_failure_until_one_goes(nc: NATS, nats_url: str,
                                                                       tmp_path: Path) -> None:
    config = msgspec.structs.replace(make_config(nats_url, tmp_path),
                                     connectors={"wa": {**META, "whatsapp_templates": GOOD}})
    await bus.provision(nc.jetstream(), config)
    _, resolved = doctor.check_connectors(config)

    async def outcome() -> doctor.Finding:
        [found] = [f for f in await doctor.check_nats(config, "router", resolved) if f.check == "whatsapp wa"]
        return found

    assert (await outcome()).message == "no template sent yet"
    kv = await bus.ensure_kv(nc.jetstream(), subjects.KV_OUTBOUND)
    at = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
    await sends.note_template(kv, "wa", sends.TemplateNote(
        at=at, ok=False, reason="whatsapp_template_paused: Meta paused the template for low quality"))
    refused = await outcome()
    assert refused.level == "fail" and "whatsapp_template_paused" in refused.message and "10:00" in refused.message
    assert "whatsapp_templates" in refused.fix
    await sends.note_template(kv, "wa", sends.TemplateNote(at=at, ok=True, template="final/id"))
    assert (await outcome()).level == "ok"
