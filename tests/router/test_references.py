"""The one reference index: the router records every routed report's reference; the public view reads it."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
from nats.aio.client import Client as NATS

from kanal.references import References, mask_text, normalise_ref
from router.service import Router
from router.similarity import reporter_keys
from schemas import Reporter, encode, subjects
from schemas.status import StatusUpdate
from tests.factories import envelope, later
from tests.router.helpers import drain, publish, routed

PUBLIC = "Trotoar rusak di Jl. Kebon Sirih, hubungi saya 0812-3456-7890 atau budi.s@contoh.id, NIK 3171010101010001"


def test_mask_text_hides_phone_nik_and_email_but_keeps_the_words() -> None:
    masked = mask_text(PUBLIC)
    for secret in ("0812-3456-7890", "81234567890", "budi.s@contoh.id", "3171010101010001"):
        assert secret not in masked
    assert masked.startswith("Trotoar rusak di Jl. Kebon Sirih, hubungi saya ")
    assert "b***@contoh.id" in masked and "****************" in masked
    assert mask_text("RT 05 RW 03, no. 12") == "RT 05 RW 03, no. 12"  # short numbers are addresses, not phones


def test_normalise_ref() -> None:
    assert normalise_ref(" knl-7q1z-be3a-0mtp ") == "KNL-7Q1Z-BE3A-0MTP"
    assert normalise_ref("KNL-7Q1Z-BE3A-0MTU") is None  # U is not a Crockford digit
    assert normalise_ref("nonsense") is None


async def test_every_channel_reference_is_recorded_once_and_read_publicly(provisioned: NATS, router: Router) -> None:
    telegram = envelope("t1", channel="telegram", instance="tg-1", account="bot", kind="direct_message",
                        text=PUBLIC, visibility="public", reporter=Reporter(user_id="555", handle="budi_s"))
    sms = envelope("s1", text="Saluran air mampet di RT 05, rumah saya 0813 9999 0000",
                   reporter=Reporter(contact="0813-9999-0000"))
    anonymous = envelope("x1", channel="x", instance="x-dki", account="@dkijakarta", kind="post",
                         text="Pungli di loket kelurahan, jangan sebut nama saya", visibility="public",
                         reporter=Reporter(handle="@anon", anonymous=True), received_at=later(1))
    repeat = envelope("s2", text="Saluran air mampet di RT 05, rumah saya 0813 9999 0000 tolong",
                      reporter=Reporter(contact="+62 813 9999 0000"), received_at=later(2))
    await publish(provisioned, telegram, sms, anonymous, repeat)
    await drain(router)
    items = {i.item_id: i for i in await routed(provisioned)}
    assert items[repeat.id].kind == "duplicate" and items[repeat.id].dedup.duplicate_of == sms.id

    refs = References()
    js = provisioned.jetstream()
    for env in (telegram, sms, anonymous, repeat):
        record = await refs.lookup(js, env.ref)
        assert record is not None, env.channel
        assert (record.id, record.channel, record.queue) == (env.id, env.channel, items[env.id].decision.queue)
        assert list(record.reporters) == reporter_keys(env)
    kv = await js.key_value(subjects.KV_REFS)
    # one record per reference, written by the router alone (besides it: `loc.` keys of chat reports asked for
    # their location, router/prompts.py)
    assert len([k for k in await kv.keys() if k.startswith("KNL-")]) == 4

    public = await refs.report_status(js, telegram.ref.lower())
    assert public is not None and public.ref == telegram.ref and public.stage == "menunggu"
    assert public.text == mask_text(PUBLIC) and "3171010101010001" not in (public.text or "")
    shown = msgspec.json.decode(msgspec.json.encode(public))
    assert set(shown) == {"ref", "stage", "label", "colour", "updated_at", "routed_at", "channel", "text", "history"}
    for env in (sms, anonymous):  # private, anonymous: no text at all
        view = await refs.report_status(js, env.ref)
        assert view is not None and view.text is None

    at = datetime(2026, 11, 25, 2, 30, tzinfo=UTC)
    for n, stage in enumerate(("koordinasi", "disposisi")):
        update = StatusUpdate(item_id=sms.id, ref=sms.ref, stage=stage, queue=items[sms.id].decision.queue,  # type: ignore[arg-type]
                              by="admin-gambir", at=at.replace(minute=n))
        await js.publish(subjects.status(sms.id), encode(update))
    moved = await refs.report_status(js, sms.ref)
    assert moved is not None and moved.stage == "disposisi" and moved.updated_at == at.replace(minute=1)
    assert [(s.stage, s.label) for s in moved.history] == [("koordinasi", "Koordinasi"), ("disposisi", "Disposisi")]
    follows = await refs.report_status(js, repeat.ref)  # the duplicate's reporter sees the first report's stage
    assert follows is not None and follows.stage == "disposisi" and len(follows.history) == 2

    assert await refs.report_status(js, "KNL-0000-0000-0000") is None
    assert await refs.report_status(js, "nonsense") is None
