"""Envelope builders and hypothesis strategies shared by the tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from schemas import Attachment, Envelope, Location, Reporter, Thread, envelope_id

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)


def envelope(
    external_id: str = "m-1",
    *,
    channel: str = "twilio",
    instance: str = "twilio-sms-08111272206",
    account: str = "+628111272206",
    text: str = "Jalan berlubang di depan SDN 01 Gambir, mohon segera diperbaiki",
    **fields: Any,
) -> Envelope:
    """A valid envelope with an id derived the way connectors derive it."""
    defaults: dict[str, Any] = {
        "kind": "sms",
        "created_at": NOW,
        "received_at": NOW,
        "reporter": Reporter(contact="+6281234567890", user_id="+6281234567890"),
        "visibility": "private",
    }
    defaults.update(fields)
    return Envelope(
        id=envelope_id(channel, account, external_id),
        channel=channel,
        instance=instance,
        account=account,
        external_id=external_id,
        text=text,
        **defaults,
    )


_token = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,20}", fullmatch=True)
_aware = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
) | st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([UTC, datetime.now().astimezone().tzinfo, None]).filter(lambda z: z is not None),
)
_text = st.text(max_size=200)
_opt_text = st.none() | _text


@st.composite
def envelopes(draw: st.DrawFn) -> Envelope:
    """Any valid envelope."""
    channel = draw(st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True))
    account = draw(st.text(min_size=1, max_size=30))
    external = draw(st.text(min_size=1, max_size=40))
    reporter = Reporter(
        handle=draw(_opt_text),
        display_name=draw(_opt_text),
        contact=draw(_opt_text),
        user_id=draw(_opt_text),
        nik=draw(st.none() | st.from_regex(r"[0-9]{16}", fullmatch=True)),
        anonymous=draw(st.booleans()),
    )
    location = draw(
        st.none()
        | st.builds(
            Location,
            lat=st.floats(-90, 90, allow_nan=False),
            lon=st.floats(-180, 180, allow_nan=False),
            source=st.sampled_from(["gps", "exif", "provider", "text"]),
            accuracy_m=st.none() | st.floats(0, 1e5, allow_nan=False),
            address=_opt_text,
        )
    )
    attachments = draw(
        st.lists(
            st.builds(
                Attachment,
                kind=st.sampled_from(["image", "video", "audio", "document", "other"]),
                media_type=_opt_text,
                size=st.none() | st.integers(0, 2**40),
                sha256=st.none() | st.from_regex(r"[0-9a-f]{64}", fullmatch=True),
                name=_opt_text,
                object_key=_opt_text,
                source_url=_opt_text,
                error=_opt_text,
            ),
            max_size=3,
        )
    )
    return Envelope(
        id=envelope_id(channel, account, external),
        channel=channel,
        instance=draw(_token),
        account=account,
        external_id=external,
        kind=draw(st.sampled_from(["post", "comment", "direct_message", "email", "sms", "report", "walk_in",
                                   "article"])),
        created_at=draw(_aware),
        received_at=draw(_aware),
        reporter=reporter,
        visibility=draw(st.sampled_from(["public", "private"])),
        subject=draw(_opt_text),
        text=draw(_text),
        language=draw(st.none() | st.sampled_from(["id", "en"])),
        attachments=tuple(attachments),
        location=location,
        category=draw(_opt_text),
        thread=draw(st.none() | st.builds(Thread, reply_to=_opt_text, conversation=_opt_text)),
        flags=tuple(draw(st.lists(st.sampled_from(["auto_reply", "bulk"]), unique=True))),
    )


def later(minutes: float) -> datetime:
    """NOW plus some minutes."""
    return NOW + timedelta(minutes=minutes)


async def record_reference(js: Any, env: Envelope, queue: str = "kelurahan.3171011001") -> None:
    """Record `env`'s reference in the router's index as the router does once it has routed the report
    (router/references.py), for tests of the status API and page that run no router."""
    from kanal import bus
    from kanal.references import record_for
    from schemas import encode as encode_struct
    from schemas import subjects as subj

    kv = await bus.ensure_kv(js, subj.KV_REFS)
    record = record_for(env, item_id=env.id, kind="item", queue=queue, at=datetime.now(UTC), duplicate_of=None,
                        incident=None, reporters=[])
    await kv.put(env.ref, encode_struct(record))
