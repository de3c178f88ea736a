"""Pure composition: which message a routed item or status change gives, in which words, and when."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from notifier.settings import DEFAULT_TEMPLATES, OutboundSettings
from schemas import Envelope, RoutedItem, StatusUpdate
from schemas.outbound import OutboundMessage, Purpose, ReplyAddress, outbound_id, reply_address
from schemas.status import STAGES

NOT_COMPLAINTS = frozenset({"auto_reply", "bounce", "bulk"})
ROUTER = "router"  # Reroute.by of a report the router moved where the reporter's answer placed it (router/prompts.py)
_LABELS: dict[str, str] = {info.stage: info.label for info in STAGES}


class Skip(Exception):
    """No message for this reporter, and why (recorded, never silent)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def reporter_key(address: Envelope | ReplyAddress) -> str:
    """A stable, non-reversible key for one reporter on one channel account (no phone numbers in KV keys)."""
    who = address.reporter.user_id or address.reporter.contact or address.reporter.handle or ""
    raw = "\x1f".join((address.channel, address.account, who)).encode()
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


def answerable(address: ReplyAddress, settings: OutboundSettings) -> None:
    """Raise Skip when this address's reporter cannot or must not be answered."""
    if address.channel not in settings.channels:
        raise Skip(f"channel {address.channel} has no outbound sender configured")
    if NOT_COMPLAINTS & set(address.flags):
        raise Skip("automatic mail (auto-reply, bounce or bulk) is never answered")
    if address.kind == "article":
        raise Skip("news articles are not answered")
    who = address.reporter.user_id or address.reporter.contact or address.reporter.handle
    if not who:
        raise Skip("the reporter left no address to answer")


def template(settings: OutboundSettings, channel: str, language: str, purpose: str) -> str:
    """Channel override, then language override, then the built-in text (Indonesian by default)."""
    for source in (settings.channel_templates.get(channel, {}), settings.templates.get(language, {}),
                   DEFAULT_TEMPLATES.get(language, {}), DEFAULT_TEMPLATES[settings.language]):
        if purpose in source:
            return source[purpose]
    return DEFAULT_TEMPLATES["id"][purpose]


def _language(address: ReplyAddress, settings: OutboundSettings) -> str:
    lang = (address.language or settings.language).split("-")[0]
    return lang if lang in DEFAULT_TEMPLATES or lang in settings.templates else settings.language


def render(settings: OutboundSettings, address: ReplyAddress, purpose: Purpose, ref: str, stage: str | None = None,
           note: str | None = None) -> str:
    """The text of one message."""
    text = template(settings, address.channel, _language(address, settings), purpose)
    return text.format(ref=ref, status_url=settings.status_url.format(ref=ref),
                       stage_label=_LABELS.get(stage or "", stage or ""), note=f" {note}" if note else "")


def quiet_until(settings: OutboundSettings, now: datetime) -> datetime | None:
    """The end of the quiet hours if `now` falls inside them, else None."""
    if not settings.quiet_hours:
        return None
    start_text, _, end_text = settings.quiet_hours.partition("-")
    start, end = time.fromisoformat(start_text.strip()), time.fromisoformat(end_text.strip())
    local = now.astimezone(ZoneInfo(settings.timezone))
    clock = local.time()
    inside = (start <= clock or clock < end) if start > end else (start <= clock < end)
    if not inside:
        return None
    end_day = local.date() if clock < end else local.date() + timedelta(days=1)
    return datetime.combine(end_day, end, tzinfo=local.tzinfo).astimezone(UTC)


def public_allowed(address: ReplyAddress) -> bool:
    """A public reply only for a public, non-anonymous report; otherwise DM or nothing."""
    return address.visibility == "public" and not address.reporter.anonymous


def for_routed(item: RoutedItem, settings: OutboundSettings, now: datetime) -> OutboundMessage:
    """The acknowledgement for a newly routed item (or a duplicate notice or follow-up of the first item)."""
    address = reply_address(item.envelope)
    answerable(address, settings)
    purpose: Purpose = "duplicate" if item.kind == "duplicate" else "ack"
    ref = item.ref
    if item.kind == "duplicate" and item.dedup.duplicate_of:
        from schemas import report_ref

        ref = report_ref(item.dedup.duplicate_of)
    text = render(settings, address, purpose, ref)
    lang = _language(address, settings)
    if item.follow_up_of is not None:  # "Tambahan untuk laporan KNL-... diterima" (sent as a duplicate notice's)
        text = _words(settings, address, lang, "follow_up", ref)
    ask = None
    variant = None
    if "location" in item.missing and item.kind == "item":  # "Di mana lokasinya?" with the channel's button
        text += " " + template(settings, address.channel, lang,
                               "ask_location_sms" if address.kind == "sms" else "ask_location")
        ask = template(settings, address.channel, lang, "location_button")
    elif item.kind == "item" and item.reroutes and item.reroutes[-1].by == ROUTER:  # the answer placed it
        text, variant = _words(settings, address, lang, "located", ref), "located"
    return OutboundMessage(
        id=outbound_id(item.item_id, purpose, variant), item_id=item.item_id, ref=ref, purpose=purpose,
        text=text, reply_to=address,
        subject=f"Re: {address.subject}" if address.subject else f"Laporan {ref}",
        public_allowed=public_allowed(address), created_at=now, status_url=settings.status_url.format(ref=ref),
        ask_location=ask,
    )


def _words(settings: OutboundSettings, address: ReplyAddress, lang: str, kind: str, ref: str) -> str:
    return template(settings, address.channel, lang, kind).format(
        ref=ref, status_url=settings.status_url.format(ref=ref), stage_label="", note="")


def for_status(update: StatusUpdate, address: ReplyAddress, settings: OutboundSettings,
               now: datetime) -> OutboundMessage:
    """A short update in the reporter's thread; the final stage says so; quiet hours delay it."""
    answerable(address, settings)
    purpose: Purpose = "final" if update.stage == "selesai" else "status"
    return OutboundMessage(
        id=outbound_id(update.item_id, purpose, update.stage), item_id=update.item_id, ref=update.ref,
        purpose=purpose, stage=update.stage,
        text=render(settings, address, purpose, update.ref, update.stage, update.note), reply_to=address,
        subject=f"Re: {address.subject}" if address.subject else f"Laporan {update.ref}",
        public_allowed=public_allowed(address), not_before=quiet_until(settings, now), created_at=now,
        status_url=settings.status_url.format(ref=update.ref),
    )


def for_status_question(question: Envelope, ref: str, item_id: str | None, stage: str | None,
                        settings: OutboundSettings, now: datetime) -> OutboundMessage:
    """The answer to "status KNL-..." (kanal/control.py): the report's current stage and its status link, or
    that no report has this reference (`item_id` None). Answered at once, in the thread of the question."""
    address = reply_address(question)
    answerable(address, settings)
    kind = "status_answer" if item_id is not None else "unknown_ref"
    text = template(settings, address.channel, _language(address, settings), kind).format(
        ref=ref, status_url=settings.status_url.format(ref=ref), stage_label=_LABELS.get(stage or "", stage or ""),
        note="")
    return OutboundMessage(
        id=outbound_id(question.id, "status", stage), item_id=item_id or question.id, ref=ref, purpose="status",
        stage=stage, text=text, reply_to=address,
        subject=f"Re: {address.subject}" if address.subject else f"Laporan {ref}",
        public_allowed=public_allowed(address), created_at=now, status_url=settings.status_url.format(ref=ref),
    )
