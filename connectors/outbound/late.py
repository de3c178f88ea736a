"""Outcomes a provider reports after it accepted a send: WhatsApp Cloud API `statuses[]`, Twilio status callbacks.

Each lands on the send record of the message it names (found by the provider's message id, `sends.sent_message`)
as a delivery report, like Kannel's DLRs (`sends.record_delivery`). A late failure the template rules would have
handed to the fallback had it come at once (window closed, template refused) is handed over now: the SMS twin
(`fallback.by_sms`, whose id is derived from the original's) is queued, then the record names the fallback. A
provider's retried webhook finds the fallback named and queues nothing; a crash between the two queues the same
twin id again, which the stream's duplicate window and the SMS instance's own send record both drop.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from nats.js.client import JetStreamContext
from nats.js.kv import KeyValue

from connectors.base import Context
from connectors.outbound.fallback import by_sms
from kanal import bus, sends
from schemas import encode, subjects
from schemas.outbound import DeliveryState


class Late(msgspec.Struct, frozen=True, kw_only=True):
    """One status report as the connector read it (pure), before it touches any record."""

    provider_id: str
    state: DeliveryState
    at: datetime
    detail: str | None = None  # the provider's code and the readable reason from its sender's table
    fallback_ok: bool = False  # a failure the fallback takes (window closed, template refused)


async def apply(kv: KeyValue, js: JetStreamContext, channel: str, instance: str, target: tuple[str, str] | None,
                late: Late, log: Any) -> str:
    """Record `late` on its message's send record; returns what happened (for logs and tests):
    `unknown`, `recorded`, `fallback` (the SMS twin was queued now) or `fallback_done` (it was already)."""
    message = await sends.sent_message(kv, channel, instance, late.provider_id)
    record = None
    if message is not None:
        record = await sends.record_delivery(kv, message.item_id, message.id, late.state, late.at, late.detail)
    if message is None or record is None:
        log.info("late_status_unknown", delivery=late.state,
                 reason="no message sent by this instance has this provider id (sent before Kanal kept them, "
                        "or by another system on the same number)")
        return "unknown"
    log.info("late_status", item_id=message.item_id, purpose=message.purpose, delivery=late.state)
    if late.state != "failed" or not late.fallback_ok or target is None or message.reply_to.kind == "sms":
        return "recorded"
    if record.fallback is not None:
        return "fallback_done"
    channel_to, instance_to = target
    twin = by_sms(message, channel_to, instance_to)
    if twin is None:
        log.info("late_failure_no_fallback", item_id=message.item_id, reason="the reporter's WhatsApp address is "
                 "not a phone number")
        return "recorded"
    await js.publish(subjects.outbound(channel_to, instance_to), encode(twin), headers={"Nats-Msg-Id": twin.id})
    reason = f"{late.detail or 'failed after it was sent'}; sent by SMS through {instance_to} instead"
    if not await sends.mark_fallback(kv, message.item_id, message.id, instance_to, reason):
        return "fallback_done"
    log.info("reporter_message_fallback", item_id=message.item_id, purpose=message.purpose,
             fallback=f"{channel_to}.{instance_to}", late=True)
    return "fallback"


async def record(ctx: Context[Any], reports: list[Late]) -> list[str]:
    """Apply a verified webhook's status reports through the connector's own bus connection (`apply` each)."""
    if not reports:
        return []
    js = ctx.publisher.jetstream()
    kv = await bus.ensure_kv(js, subjects.KV_OUTBOUND, history=5)
    return [await apply(kv, js, ctx.channel, ctx.instance, ctx.fallback, late, ctx.log) for late in reports]
